// What an update of a task's fields and status writes, and the journal rows and notices
// that say so. Pure: the service reads, checks and writes around it.
import type { Prisma, Task } from "../../generated/prisma/client.js";
import { eventText } from "../journal/journal.service.js";
import { claimAfterStatus } from "./lease.js";
import { notice, taskEvent, type Change } from "./task-events.js";
import { FINAL_STATUSES, priorityRank, type Priority, type TaskStatus } from "./task-rules.js";

/** Columns of a task to write, with their plain values (no Prisma update operations). */
export type TaskColumns = Partial<Omit<Task, "id" | "teamId" | "number" | "createdAt" | "createdById">>;

export interface TaskFields {
  title?: string | null;
  description?: string | null;
  priority?: Priority | null;
  activeForm?: string | null;
  progress?: number | null;
  notes?: string | null;
  metadata?: unknown;
  verification?: boolean | null;
  status?: TaskStatus | null;
}

/**
 * The columns to write (`data`) and the fields that changed with their new values
 * (`changed`). `assigneeId` is undefined when the update leaves the assignee alone.
 */
export function updateData(before: Task, input: TaskFields, assigneeId: string | null | undefined) {
  const data: TaskColumns = {};
  const changed: Record<string, unknown> = {};
  const set = <K extends keyof Task>(key: K, value: Task[K] | undefined | null, nullable = true) => {
    if (value === undefined || (value === null && !nullable)) return;
    if (JSON.stringify(value) === JSON.stringify(before[key])) return;
    (data as Record<string, unknown>)[key] = value;
    changed[key] = value;
  };
  set("title", input.title, false);
  set("description", input.description);
  set("activeForm", input.activeForm);
  set("progress", input.progress, false);
  set("notes", input.notes);
  set("verification", input.verification, false);
  if (input.metadata != null) set("metadata", input.metadata as Task["metadata"]);
  if (input.priority != null) {
    set("priority", input.priority, false);
    data.priorityRank = priorityRank(input.priority);
  }
  set("assigneeId", assigneeId);
  const status = input.status ?? before.status;
  if (status !== before.status) {
    set("status", status, false);
    Object.assign(data, claimAfterStatus(before, status));
    data.closedAt = FINAL_STATUSES.includes(status as TaskStatus) ? new Date() : null;
  }
  return { data, changed };
}

/**
 * What an update from `before` to `task` records: one row, whose kind says the most
 * precise thing that happened (`task.<status>` when the status changed, else
 * `task.assigned` when the assignee did, else `task.updated`), carrying every change:
 * the status it left (`from`), the assignee it replaced, the other fields' new values
 * (`changed`, texts bounded). A new assignee other than the actor is also told.
 */
export function updateChanges(actorId: string, before: Task, task: Task, changed: Record<string, unknown>): Change[] {
  const statusChanged = task.status !== before.status;
  const assigned = task.assigneeId !== before.assigneeId;
  const fields: Record<string, Prisma.InputJsonValue> = {};
  for (const [key, value] of Object.entries(changed)) {
    if (key === "status" || key === "assigneeId") continue;
    Object.assign(fields, typeof value === "string" ? eventText(key, value) : { [key]: value });
  }
  const kind = statusChanged ? `task.${task.status}` : assigned ? "task.assigned" : "task.updated";
  const entries: Change[] = [
    taskEvent(actorId, task, kind, {
      ...(statusChanged ? { from: before.status } : {}),
      ...(assigned ? { previousAssigneeId: before.assigneeId } : {}),
      ...(Object.keys(fields).length ? { changed: fields } : {}),
    }),
  ];
  if (assigned && task.assigneeId && task.assigneeId !== actorId) entries.push(notice(actorId, task.assigneeId, task, "task_assigned"));
  return entries;
}
