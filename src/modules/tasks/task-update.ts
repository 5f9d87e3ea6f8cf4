// What an update of a task's fields and status writes, and the journal rows and notices
// that say so. Pure: the service reads, checks and writes around it.
import type { Prisma, Task } from "../../generated/prisma/client.js";
import { claimAfterStatus } from "./lease.js";
import { notice, taskEvent, type Change } from "./task-events.js";
import { FINAL_STATUSES, priorityRank, type Priority, type TaskStatus } from "./task-rules.js";

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
  const data: Prisma.TaskUncheckedUpdateInput = {};
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

/** The journal rows and notices of an update from `before` to `task`. */
export function updateChanges(actorId: string, before: Task, task: Task, changed: Record<string, unknown>): Change[] {
  const entries: Change[] = [];
  const otherChanges = Object.keys(changed).filter((k) => k !== "status" && k !== "assigneeId");
  if (otherChanges.length) entries.push(taskEvent(actorId, task, "task.updated", Object.fromEntries(otherChanges.map((k) => [k, changed[k]])) as Prisma.InputJsonObject));
  if (task.status !== before.status) entries.push(taskEvent(actorId, task, `task.${task.status}`, { from: before.status }));
  if (task.assigneeId !== before.assigneeId) {
    entries.push(taskEvent(actorId, task, "task.assigned", { from: before.assigneeId }));
    if (task.assigneeId && task.assigneeId !== actorId) entries.push(notice(actorId, task.assigneeId, task, "task_assigned"));
  }
  return entries;
}
