// When a task is ready, written once. A task is ready when nothing open blocks it and it
// is in one of two forms: waiting (pending), or held under a lease that ran out
// (`lapsed`, lease.ts). Three readers need it, each in its own language, all built here
// from the same constants: the predicate `readinessOf` (the readiness field, MCP), the
// Prisma where `readyWhere` (`ready:` list filters), and the SQL `readyFormSql` (the
// claim's conditional update) and `readyFormsSql` (the claim's candidate reads, the
// "task.ready" events).
// test/unit/readiness.test.ts holds them equal on generated tasks on a real database.
import { Prisma, type Task } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { lapsed, lapsedSql, lapsedWhere, liveHolder, type ClaimState } from "./lease.js";
import { notice, taskEvent, type Change } from "./task-events.js";
import { CLOSED_STATUSES, type TaskStatus } from "./task-rules.js";

/** The status of a task nobody has claimed, or whose claim was given back or swept. */
export const WAITING_STATUS: TaskStatus = "pending";

export type ReadyForm = "waiting" | "lapsed";

/** Which form of "ready" the task's own fields are in, blockers aside; null for neither. */
export function readyForm(task: ClaimState & { status: string }, now: Date): ReadyForm | null {
  if (task.status === WAITING_STATUS) return "waiting";
  return lapsed(task, now) ? "lapsed" : null;
}

export interface BlockerView {
  id: string;
  number: number;
  title: string;
  status: string;
  kind: string;
}

export const isOpenBlocker = (b: { status: string }) => !CLOSED_STATUSES.includes(b.status as TaskStatus);

export type ReadinessState = "READY" | "NOT_PENDING" | "BLOCKED" | "CLAIMED";

export interface Readiness {
  ready: boolean;
  state: ReadinessState;
  openBlockers: BlockerView[];
  holderId: string | null;
  leaseExpiresAt: Date | null;
  /** One line an agent can read: "ready", "blocked by #2 (track main), #5", ... */
  reason: string;
}

/** Whether the task is ready, and if not, why: a live claim, its status, or what blocks it. */
export function readinessOf(task: ClaimState & { status: string; track?: string | null }, blockers: BlockerView[], holderName: string | null, now = new Date()): Readiness {
  const openBlockers = blockers.filter(isOpenBlocker).sort((a, b) => a.number - b.number);
  const holder = liveHolder(task, now);
  const base = { openBlockers, holderId: holder, leaseExpiresAt: holder ? task.leaseExpiresAt : null };
  if (holder) return { ...base, ready: false, state: "CLAIMED", reason: `claimed by ${holderName ?? "another agent"} until ${task.leaseExpiresAt!.toISOString()}` };
  const form = readyForm(task, now);
  if (form === null) return { ...base, ready: false, state: "NOT_PENDING", reason: `status is ${task.status}` };
  if (openBlockers.length > 0) {
    const list = openBlockers.map((b) => `#${b.number}${b.kind === "track" && task.track ? ` (track ${task.track})` : ""}`).join(", ");
    return { ...base, ready: false, state: "BLOCKED", reason: `blocked by ${list}` };
  }
  return { ...base, ready: true, state: "READY", reason: form === "lapsed" ? "ready (the last claim's lease ran out)" : "ready" };
}

// ---- as Prisma and SQL ----------------------------------------------------------

/** `isOpenBlocker` for a task's blockedBy links. */
export const openBlockerLink: Prisma.TaskDependencyWhereInput = { blocker: { status: { notIn: [...CLOSED_STATUSES] } } };
const noOpenBlocker: Prisma.TaskWhereInput = { blockedBy: { none: openBlockerLink } };

/**
 * "Ready now" in its two forms (waiting, lapsed), each with "no open blocker". Kept
 * apart so each can use an index in claim order.
 */
export function readyForms(now: Date): [waiting: Prisma.TaskWhereInput, lapsed: Prisma.TaskWhereInput] {
  return [{ AND: [{ status: WAITING_STATUS }, noOpenBlocker] }, { AND: [lapsedWhere(now), noOpenBlocker] }];
}

/** The where-clause of "ready now". */
export function readyWhere(now: Date): Prisma.TaskWhereInput {
  return { OR: readyForms(now) };
}

/**
 * `readyForm(task) !== null` as SQL on a "Task" row: blockers aside, which the claim's
 * candidate read has checked in the same transaction.
 */
export function readyFormSql(now: Date): Prisma.Sql {
  return Prisma.sql`(${waitingSql} OR ${lapsedSql(now)})`;
}

const waitingSql = Prisma.sql`"status" = ${Prisma.raw(`'${WAITING_STATUS}'`)}`;
const noOpenBlockerSql = Prisma.sql`NOT EXISTS (SELECT 1 FROM "TaskDependency" JOIN "Task" AS "blocker" ON "blocker"."id" = "TaskDependency"."blockerId"
  WHERE "TaskDependency"."blockedId" = "Task"."id" AND "blocker"."status" NOT IN (${Prisma.join(CLOSED_STATUSES)}))`;

/** `readyForms` as SQL on a "Task" row (the claim's candidate reads). */
export function readyFormsSql(now: Date): [waiting: Prisma.Sql, lapsed: Prisma.Sql] {
  return [Prisma.sql`(${waitingSql} AND ${noOpenBlockerSql})`, Prisma.sql`(${lapsedSql(now)} AND ${noOpenBlockerSql})`];
}

/**
 * The order of a task's blockers. Prisma gives a relation no order of its own (it is
 * whatever the database returns, and SQLite and PostgreSQL differ): by the blocker's ID,
 * which is time-ordered.
 */
export const BLOCKED_BY_ORDER = { blockerId: "asc" } as const;

/** What readiness needs to know of a task, for Prisma selections. */
export const readinessSelect = {
  status: true,
  track: true,
  holderId: true,
  leaseExpiresAt: true,
  holder: { select: { name: true } },
  blockedBy: { orderBy: BLOCKED_BY_ORDER, select: { kind: true, blocker: { select: { id: true, number: true, title: true, status: true } } } },
} satisfies Prisma.TaskSelect;

type ReadinessRow = Prisma.TaskGetPayload<{ select: typeof readinessSelect }>;

export function blockerViews(task: Pick<ReadinessRow, "blockedBy">): BlockerView[] {
  return task.blockedBy.map((d) => ({ ...d.blocker, kind: d.kind }));
}

export function readinessOfRow(task: ReadinessRow, now = new Date()): Readiness {
  return readinessOf(task, blockerViews(task), task.holder?.name ?? null, now);
}

/**
 * Journal rows for the waiting tasks among `ids` that are ready now, and notices to
 * whoever the work is for: its assignee and every role holder, each told once. Every
 * completion that unblocks something asks: run straight (Database.rows).
 */
export async function readyEvents(db: Database, tx: Tx, actorId: string | null, ids: string[]): Promise<Change[]> {
  if (ids.length === 0) return [];
  const [waiting] = readyFormsSql(new Date());
  const ready = await db.rows<Task>(tx, Prisma.sql`SELECT * FROM "Task" WHERE "id" IN (${db.dialect.strings(ids)}) AND ${waiting} ORDER BY "number"`);
  if (ready.length === 0) return [];
  const roles = await db.rows<{ taskId: string; agentId: string }>(
    tx,
    Prisma.sql`SELECT "taskId", "agentId" FROM "TaskRoleAssignment" WHERE "taskId" IN (${db.dialect.strings(ready.map((t) => t.id))})`,
  );
  return ready.flatMap((t) => {
    const told = new Set([...(t.assigneeId ? [t.assigneeId] : []), ...roles.filter((r) => r.taskId === t.id).map((r) => r.agentId)]);
    return [taskEvent(actorId, t, "task.ready"), ...[...told].map((agentId) => notice(actorId, agentId, t, "task_ready"))];
  });
}
