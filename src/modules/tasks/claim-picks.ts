// How a claim-next batch picks: which ready task each request gets. Pure, so the rule
// reads and tests apart from the group commit that runs it (claim-next.ts).
//
// Requests go in arrival order. Each takes the first task left, in claim order (highest
// priority first, then the oldest: the lowest number), that its agent may take. Who may
// take a task: with a role asked for, only an agent with that role on it; otherwise
// anyone when it is unassigned, its assignee, or an agent with any role on it.
import { Prisma } from "../../generated/prisma/client.js";

/** Claim order, for the candidate reads (SQL); `inClaimOrder` is the same order in JavaScript. */
export const CLAIM_ORDER_SQL = Prisma.sql`"priorityRank" DESC, "number" ASC`;

/** What picking needs to know of a ready task. */
export interface Candidate {
  id: string;
  number: number;
  priorityRank: number;
  assigneeId: string | null;
}

/** Claim order, for candidates read in parts (one read per form of "ready"). */
export function inClaimOrder<T extends Candidate>(tasks: T[]): T[] {
  return [...tasks].sort((a, b) => b.priorityRank - a.priorityRank || a.number - b.number);
}

/** Tasks at least one of these agents may take (with `role`: has that role on), as a Prisma where. */
export function takeableBy(agentIds: string[], role: string | null = null): Prisma.TaskWhereInput {
  if (role !== null) return { roles: { some: { agentId: { in: agentIds }, role } } };
  return { OR: [{ assigneeId: null }, { assigneeId: { in: agentIds } }, { roles: { some: { agentId: { in: agentIds } } } }] };
}

/** `takeableBy` as SQL on a "Task" row; `agents` is a subquery of the agents' IDs (Dialect.strings). */
export function takeableBySql(agents: Prisma.Sql, role: string | null = null): Prisma.Sql {
  const hasRole = Prisma.sql`EXISTS (SELECT 1 FROM "TaskRoleAssignment" WHERE "TaskRoleAssignment"."taskId" = "Task"."id" AND "TaskRoleAssignment"."agentId" IN (${agents})${
    role !== null ? Prisma.sql` AND "TaskRoleAssignment"."role" = ${role}` : Prisma.empty
  })`;
  if (role !== null) return hasRole;
  return Prisma.sql`("Task"."assigneeId" IS NULL OR "Task"."assigneeId" IN (${agents}) OR ${hasRole})`;
}

/** The "task agent" key of `roleHolders`. */
export const roleKey = (taskId: string, agentId: string) => `${taskId} ${agentId}`;

/**
 * `takeableBy` as a predicate. `roleHolders` has the roleKey of every candidate and agent
 * with a role (the role asked for, if any) on it.
 */
export function mayTake(role: string | null, roleHolders: ReadonlySet<string>): (agentId: string, task: Candidate) => boolean {
  return (agentId, task) => roleHolders.has(roleKey(task.id, agentId)) || (role === null && (task.assigneeId === null || task.assigneeId === agentId));
}

export interface ChoiceRequest {
  viewer: { id: string };
}

/** A ready task chosen for a request. */
export interface Choice<R, T> {
  request: R;
  task: T;
}

export interface Picks<R, T> {
  chosen: Choice<R, T>[];
  /** Requests for which nothing is ready. */
  none: R[];
  /** Requests that found nothing among the candidates, though more ready tasks lie beyond them. */
  retry: R[];
  /** The candidates nobody took, in claim order. */
  left: T[];
}

/**
 * Each request in arrival order takes the first candidate left (in claim order) that it
 * may take. `complete`: the candidates are every ready task there is, so a request that
 * finds none gets nothing; otherwise it must read again.
 */
export function pickTasks<R extends ChoiceRequest, T extends Candidate>(
  requests: readonly R[],
  candidates: readonly T[],
  may: (agentId: string, task: T) => boolean,
  complete: boolean,
): Picks<R, T> {
  const left = [...candidates];
  const picks: Picks<R, T> = { chosen: [], none: [], retry: [], left };
  for (const request of requests) {
    const index = left.findIndex((task) => may(request.viewer.id, task));
    if (index >= 0) picks.chosen.push({ request, task: left.splice(index, 1)[0]! });
    else (complete ? picks.none : picks.retry).push(request);
  }
  return picks;
}
