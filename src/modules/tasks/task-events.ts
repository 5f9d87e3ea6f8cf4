// What task changes record: journal rows every subscriber can filter without reading the
// task, and notices that land in an agent's inbox as messages.
import type { Prisma, Task } from "../../generated/prisma/client.js";
import type { JournalEntry, JournalWrite } from "../journal/journal.service.js";
import type { MessageService, Notice } from "../messages/messages.service.js";
import { TASK_STATUSES } from "./task-rules.js";

/**
 * The journal payload every task event carries, so subscribers can filter without reading.
 * `recordChanges` writes each agent's name beside its ID.
 */
export const taskPayload = (t: Pick<Task, "number" | "title" | "status" | "assigneeId">) => ({
  number: t.number,
  title: t.title,
  status: t.status,
  assigneeId: t.assigneeId,
});

/**
 * The kinds of task rows whose transaction changes, of tasks, their dependencies and the
 * team, only the subject task's own row (or nothing: `task.ready`, a role). A kept task page
 * that did not read the subject outlives such a row (graphql/kept-reads.ts). Any other kind,
 * and a kind added later until it is listed here, retires every kept page of its team, so
 * a change that also touches another task, a link or the membership must not use these.
 */
export const SUBJECT_ONLY_KINDS: ReadonlySet<string> = new Set([
  ...TASK_STATUSES.map((status) => `task.${status}`),
  "task.updated",
  "task.assigned",
  "task.claimed",
  "task.renewed",
  "task.released",
  "task.lease_expired",
  "task.claim_taken_back",
  "task.dashboard_written",
  "task.dashboard_appended",
  "task.finding_added",
  "task.role_assigned",
  "task.ready",
]);

export function taskEvent(actorId: string | null, task: Task, kind: string, payload: Prisma.InputJsonObject = {}): JournalEntry {
  return { teamId: task.teamId, actorId, kind, subjectType: "Task", subjectId: task.id, payload: { ...taskPayload(task), ...payload } };
}

/** An agent as events name it; null for the server. */
export type Actor = { id: string; name: string } | null;

export type LeaseLostReason = "expired" | "taken_back";

const noticeText: Record<string, (t: Task, extra: Prisma.InputJsonObject, actor: Actor) => string> = {
  task_assigned: (t) => `Task #${t.number} "${t.title}" is assigned to you.`,
  task_ready: (t) => `Task #${t.number} "${t.title}" is ready: everything blocking it is done.`,
  role_assigned: (t, extra) => `You are ${String(extra.role)} on task #${t.number} "${t.title}".${extra.instructions ? ` ${String(extra.instructions)}` : ""}`,
  lease_lost: (t, extra, actor) =>
    extra.reason === "taken_back"
      ? `Task #${t.number} "${t.title}" was taken back from you${actor ? ` by ${actor.name}` : ""}: stop working on it; your claim token no longer writes.`
      : `Your claim on task #${t.number} "${t.title}" ran out${actor ? ` and ${actor.name} claimed it` : ""}: stop working on it, or claim it again if it is still ready.`,
};

/** A notice to one agent about a task; it lands in their inbox as a message. */
export function notice(actorId: string | null, recipientId: string, task: Task, name: keyof typeof noticeText, extra: Prisma.InputJsonObject = {}, actor: Actor = null): Notice {
  return { recipientId, teamId: task.teamId, actorId, notice: name, body: noticeText[name]!(task, extra, actor), payload: { taskId: task.id, ...taskPayload(task), ...extra } };
}

/**
 * The notice that tells a holder its claim is gone: its lease ran out (and the sweeper
 * returned the task, or `actor` claimed it), or `actor` took the task back. Written in the
 * transaction that ends the claim, beside the team's row that says so.
 */
export function leaseLost(actor: Actor, holderId: string, task: Task, reason: LeaseLostReason): Notice {
  return notice(actor?.id ?? null, holderId, task, "lease_lost", { reason }, actor);
}

/** What a task change records: journal rows, and notices that become messages. */
export type Change = JournalEntry | Notice;

/** Payload fields holding an agent's ID, and the field of its name, written just before it. */
const NAMED: Record<string, string> = { assigneeId: "assignee", holderId: "holder", previousHolderId: "previousHolder", previousAssigneeId: "previousAssignee", agentId: "agent" };

/** Reads agents' names by ID (in the caller's transaction). */
export type NamesByIds = (ids: string[]) => Promise<Map<string, string>>;

/**
 * Names every agent a payload holds beside its ID, and the actor as `by`: events are read
 * by agents, who use names. An agent field with nobody in it is left out. Reads only the
 * names not `known` (usually none: the actor is the viewer, often the assignee too).
 */
async function withNames(changes: Change[], names: NamesByIds, known: readonly { id: string; name: string }[]): Promise<Change[]> {
  const byId = new Map(known.map((a) => [a.id, a.name]));
  const ids = (c: Change) => [c.actorId, ...Object.keys(NAMED).map((k) => c.payload?.[k])];
  const unknown = [...new Set(changes.flatMap(ids))].filter((id): id is string => typeof id === "string" && !byId.has(id));
  if (unknown.length) for (const [id, name] of await names(unknown)) byId.set(id, name);
  return changes.map((c) => {
    const payload: Record<string, Prisma.InputJsonValue | null> = {};
    for (const [key, value] of Object.entries(c.payload ?? {})) {
      if (!(key in NAMED)) payload[key] = value as Prisma.InputJsonValue;
      else if (typeof value === "string") Object.assign(payload, { [NAMED[key]!]: byId.get(value) ?? null, [key]: value });
    }
    if (c.actorId) payload.by = byId.get(c.actorId) ?? null;
    return { ...c, payload: payload as Prisma.InputJsonObject };
  });
}

/** Appends the journal rows and sends the notices of one change, in its transaction, agents named. */
export async function recordChanges(w: JournalWrite, messages: MessageService, names: NamesByIds, changes: Change[], known: readonly { id: string; name: string }[] = []): Promise<void> {
  if (changes.length === 0) return;
  const named = await withNames(changes, names, known);
  await w.append(...named.filter((c): c is JournalEntry => !("notice" in c)));
  await messages.notify(w, named.filter((c): c is Notice => "notice" in c));
}

/**
 * What a claim records: one "task.claimed" row with its token and lease end (the claim
 * makes its holder the assignee: no separate "task.assigned"), whose lapsed claim it took
 * over and whose assignment it replaced; and the lease-lost notice to a holder it took over.
 */
export function claimEvents(agent: { id: string; name: string }, before: Pick<Task, "holderId" | "assigneeId">, claim: { task: Task; token: number; expiresAt: Date }): Change[] {
  const { task, token, expiresAt } = claim;
  const tookOver = before.holderId !== null && before.holderId !== agent.id ? before.holderId : null;
  const changes: Change[] = [
    taskEvent(agent.id, task, "task.claimed", {
      token,
      expiresAt: expiresAt.toISOString(),
      ...(tookOver ? { previousHolderId: tookOver } : {}),
      ...(before.assigneeId !== null && before.assigneeId !== agent.id ? { previousAssigneeId: before.assigneeId } : {}),
    }),
  ];
  if (tookOver) changes.push(leaseLost(agent, tookOver, task, "expired"));
  return changes;
}
