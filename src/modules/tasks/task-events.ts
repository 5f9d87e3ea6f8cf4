// What task changes record: journal rows every subscriber can filter without reading the
// task, and notices that land in an agent's inbox as messages.
import type { Prisma, Task } from "../../generated/prisma/client.js";
import type { JournalEntry, JournalWrite } from "../journal/journal.service.js";
import type { MessageService, Notice } from "../messages/messages.service.js";

/** The journal payload every task event carries, so subscribers can filter without reading. */
export const taskPayload = (t: Pick<Task, "number" | "title" | "status" | "assigneeId">) => ({
  number: t.number,
  title: t.title,
  status: t.status,
  assigneeId: t.assigneeId,
});

export function taskEvent(actorId: string | null, task: Task, kind: string, payload: Prisma.InputJsonObject = {}): JournalEntry {
  return { teamId: task.teamId, actorId, kind, subjectType: "Task", subjectId: task.id, payload: { ...taskPayload(task), ...payload } };
}

const noticeText: Record<string, (t: Task, extra: Prisma.InputJsonObject) => string> = {
  task_assigned: (t) => `Task #${t.number} "${t.title}" is assigned to you.`,
  task_ready: (t) => `Task #${t.number} "${t.title}" is ready: everything blocking it is done.`,
  role_assigned: (t, extra) => `You are ${String(extra.role)} on task #${t.number} "${t.title}".${extra.instructions ? ` ${String(extra.instructions)}` : ""}`,
};

/** A notice to one agent about a task; it lands in their inbox as a message. */
export function notice(actorId: string | null, recipientId: string, task: Task, name: keyof typeof noticeText, extra: Prisma.InputJsonObject = {}): Notice {
  return { recipientId, teamId: task.teamId, actorId, notice: name, body: noticeText[name]!(task, extra), payload: { taskId: task.id, ...taskPayload(task), ...extra } };
}

/** What a task change records: journal rows, and notices that become messages. */
export type Change = JournalEntry | Notice;

/** Appends the journal rows and sends the notices of one change, in its transaction. */
export async function recordChanges(w: JournalWrite, messages: MessageService, changes: Change[]): Promise<void> {
  await w.append(...changes.filter((c): c is JournalEntry => !("notice" in c)));
  await messages.notify(w, changes.filter((c): c is Notice => "notice" in c));
}

/**
 * The events of a claim: "claimed" with its token and lease end (and whose lease it
 * took over), and "assigned" when the claim made its holder the assignee.
 */
export function claimEvents(agentId: string, before: Pick<Task, "holderId" | "assigneeId">, claim: { task: Task; token: number; expiresAt: Date }): JournalEntry[] {
  const { task, token, expiresAt } = claim;
  const events = [taskEvent(agentId, task, "task.claimed", { token, expiresAt: expiresAt.toISOString(), ...(before.holderId ? { previousHolderId: before.holderId } : {}) })];
  if (before.assigneeId !== agentId) events.push(taskEvent(agentId, task, "task.assigned", { from: before.assigneeId }));
  return events;
}
