// Leases: what a claim is, when it has ended, and what its end does.
//
// A claim is a holder and a lease end on an in-progress task. A claim sets both
// (claims.service.ts), and they are cleared together: by a release, by expiry, or by any
// status change away from in progress. So a task has a holder only while in progress,
// and only with a lease end: the tests that generate tasks keep to this.
//
// A claim is live until its lease end. After it the claim has ended though the task
// still names its holder ("lapsed"): anyone who may take the task can claim it again
// (readiness.ts), the old holder's writes are refused, and the sweeper (ClaimService.
// sweepExpired) puts the task back to pending with the journal row `expiry` builds.
import { Prisma, type Task } from "../../generated/prisma/client.js";
import { leaseLost, taskEvent, type Change } from "./task-events.js";
import type { TaskStatus } from "./task-rules.js";

export const LEASE_SECONDS = { min: 5, max: 24 * 3600, default: 300 } as const;

export function leaseOf(seconds: number | null | undefined): number {
  return seconds ?? LEASE_SECONDS.default;
}

/** The status a claim puts a task in, and the only one a claim lives in. */
export const HELD_STATUS: TaskStatus = "in_progress";

export interface ClaimState {
  holderId: string | null;
  leaseExpiresAt: Date | null;
}

/** A claim is live while it has a holder and its lease has not run out. */
export function liveHolder(task: ClaimState, now = new Date()): string | null {
  return task.holderId && task.leaseExpiresAt && task.leaseExpiresAt > now ? task.holderId : null;
}

/** A claim whose lease ran out and that nobody has taken or swept yet. */
export function lapsed(task: ClaimState & { status: string }, now: Date): boolean {
  return task.status === HELD_STATUS && task.holderId !== null && task.leaseExpiresAt !== null && task.leaseExpiresAt <= now;
}

/** `lapsed` as a Prisma where. */
export function lapsedWhere(now: Date): Prisma.TaskWhereInput {
  return { status: HELD_STATUS, holderId: { not: null }, leaseExpiresAt: { lte: now } };
}

/** `lapsed` as SQL on a "Task" row. */
export function lapsedSql(now: Date): Prisma.Sql {
  return Prisma.sql`("status" = ${Prisma.raw(`'${HELD_STATUS}'`)} AND "holderId" IS NOT NULL AND "leaseExpiresAt" <= ${now})`;
}

/**
 * The earliest lease end on the board, as SQL (it may have passed). Until then only
 * commits change what a read of tasks shows; at a lease end the clock alone does (the
 * task turns ready). The response cache reads it with the commit version.
 */
export const EARLIEST_LEASE_END_SQL = `(SELECT MIN("leaseExpiresAt") FROM "Task" WHERE "status" = '${HELD_STATUS}')`;

/**
 * What ends a claim without finishing the task (release, expiry): no holder, and the
 * task goes back to whoever may take it: the claim had made the holder its assignee.
 */
export function claimEnded(task: Pick<Task, "holderId" | "assigneeId">) {
  return { holderId: null, leaseExpiresAt: null, ...(task.assigneeId === task.holderId ? { assigneeId: null } : {}) };
}

/** A task that leaves in progress (finished, or put back to pending) loses its claim and keeps its assignee. */
export function claimAfterStatus(before: ClaimState, status: string): Partial<ClaimState> {
  return before.holderId !== null && status !== HELD_STATUS ? { holderId: null, leaseExpiresAt: null } : {};
}

/**
 * What expiry writes to a lapsed task, the task it leaves, and what it records: the team's
 * row that says so and the notice that tells the holder.
 */
export function expiry(task: Task): { data: ReturnType<typeof claimEnded> & { status: TaskStatus }; back: Task; changes: Change[] } {
  const data = { status: "pending" as TaskStatus, ...claimEnded(task) };
  const back = { ...task, ...data };
  const event = taskEvent(null, back, "task.lease_expired", { holderId: task.holderId, token: task.claimEpoch, expiredAt: task.leaseExpiresAt!.toISOString() });
  return { data, back, changes: [event, leaseLost(null, task.holderId!, back, "expired")] };
}

/**
 * What a team's lead taking back a live claim writes (its holder went silent): the task is
 * pending and free again, the team's row names the lead, and the holder is told.
 */
export function takenBack(task: Task, lead: { id: string; name: string }): { data: ReturnType<typeof claimEnded> & { status: TaskStatus }; changes: Change[] } {
  const data = { status: "pending" as TaskStatus, ...claimEnded(task) };
  const back = { ...task, ...data };
  const event = taskEvent(lead.id, back, "task.claim_taken_back", { holderId: task.holderId, token: task.claimEpoch });
  return { data, changes: [event, leaseLost(lead, task.holderId!, back, "taken_back")] };
}
