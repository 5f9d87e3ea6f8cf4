// Claims with leases and fencing tokens. A claim is a conditional update of the task's
// own row (ready, unheld or lease run out, claim epoch unchanged): two agents never
// hold the same task, on one server or many. Each claim bumps the claim epoch, which
// is the fencing token a holder's writes may carry. What a lease is and what its end
// does is lease.ts; claim-next's group commit is claim-next.ts.
import { z } from "zod";
import { ConflictError, ForbiddenError } from "../../errors.js";
import { Prisma, type Task } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { parseInput, shortName } from "../../validation.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { JournalService } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { takeableBy } from "./claim-picks.js";
import { ClaimNext } from "./claim-next.js";
import { claimEnded, expiry, HELD_STATUS, lapsed, lapsedWhere, leaseOf, LEASE_SECONDS, liveHolder, takenBack } from "./lease.js";
import { readinessOfRow, readinessSelect, readyEvents, readyFormSql } from "./readiness.js";
import { claimEvents, taskEvent } from "./task-events.js";
import { visibleInTx, type TaskService } from "./tasks.service.js";

export interface Claim {
  task: Task;
  /** The fencing token: the task's claim epoch for this claim. */
  token: number;
  expiresAt: Date;
}

/** A task to take for an agent, as read (its claim epoch is checked again as it is taken). */
export interface ClaimAttempt {
  task: { id: string; claimEpoch: number };
  agentId: string;
  lease: number;
}

const leaseInput = z.object({
  leaseSeconds: z
    .number()
    .int("must be a whole number")
    .min(LEASE_SECONDS.min, `must be between ${LEASE_SECONDS.min} and ${LEASE_SECONDS.max}`)
    .max(LEASE_SECONDS.max, `must be between ${LEASE_SECONDS.min} and ${LEASE_SECONDS.max}`)
    .nullish(),
});

const nextInput = leaseInput.extend({ role: shortName.nullish(), track: shortName.nullish(), milestoneId: z.string().min(1).max(64).nullish() });

const SWEEP_BATCH = 200;

export class ClaimService {
  private readonly next: ClaimNext;

  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly tasks: TaskService,
    private readonly agents: AgentService,
  ) {
    this.next = new ClaimNext(db, journal, teams, tasks, (tx, attempts, now) => this.take(tx, attempts, now));
  }

  /** Claims a task that is ready and that the viewer may take. */
  async claim(viewer: Viewer, taskId: string, options: { leaseSeconds?: number | null }): Promise<Claim> {
    const lease = leaseOf(parseInput(leaseInput, options).leaseSeconds);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await visibleInTx(tx, viewer, taskId);
      const now = new Date();
      // Readiness first: a task someone holds is a CONFLICT for everyone else.
      const readiness = readinessOfRow(await tx.task.findUniqueOrThrow({ where: { id: taskId }, select: readinessSelect }), now);
      if (!readiness.ready) {
        throw new ConflictError(`task #${task.number} is not ready: ${readiness.reason}`, { state: readiness.state });
      }
      const eligible = await tx.task.count({ where: { id: taskId, ...takeableBy([viewer.id]) } });
      if (!eligible) {
        // Read again: a claim that committed since the readiness read made its winner the
        // assignee (on PostgreSQL), and `task` was read before it.
        const fresh = await tx.task.findUniqueOrThrow({ where: { id: taskId }, select: { ...readinessSelect, assigneeId: true } });
        const again = readinessOfRow(fresh, now);
        if (!again.ready) throw new ConflictError(`task #${task.number} is not ready: ${again.reason}`, { state: again.state });
        const assignee = (await this.agents.namesByIds([fresh.assigneeId], tx)).get(fresh.assigneeId!);
        throw new ForbiddenError(`task #${task.number} is assigned to ${assignee}; only they, or an agent with a role on it, may claim it`);
      }
      const claim = (await this.take(tx, [{ task, agentId: viewer.id, lease }], now)).get(task.id);
      if (!claim) throw new ConflictError(`task #${task.number} was claimed by another agent just now`);
      await this.tasks.record(w, claimEvents(viewer, task, claim), [viewer]);
      return claim;
    });
  }

  /**
   * Claims the best ready task for the viewer in a team (claim-picks.ts says which). Only
   * tasks the viewer may take; with `role`, only tasks where the viewer has that role.
   * Null when nothing is ready. Concurrent calls are answered together (claim-next.ts).
   */
  async claimNext(viewer: Viewer, teamId: string, options: z.input<typeof nextInput>): Promise<Claim | null> {
    const input = parseInput(nextInput, options);
    return this.next.request(viewer, teamId, { role: input.role ?? null, track: input.track ?? null, milestoneId: input.milestoneId ?? null }, leaseOf(input.leaseSeconds));
  }

  /** Extends a live claim. A claim whose lease ran out is gone: claim the task again. */
  async renew(viewer: Viewer, taskId: string, options: { leaseSeconds?: number | null; claimToken?: number | null }): Promise<Claim> {
    const lease = leaseOf(parseInput(leaseInput, options).leaseSeconds);
    return this.journal.write(async (w) => {
      const task = await this.held(w.tx, viewer, taskId, options.claimToken);
      const expiresAt = new Date(Date.now() + lease * 1000);
      const renewed = await this.tasks.conditionalUpdate(w.tx, task, { leaseExpiresAt: expiresAt });
      await this.tasks.record(w, [taskEvent(viewer.id, renewed, "task.renewed", { token: renewed.claimEpoch, expiresAt: expiresAt.toISOString() })], [viewer]);
      return { task: renewed, token: renewed.claimEpoch, expiresAt };
    });
  }

  /** Gives a live claim back: the task is pending and ready for others again. */
  async release(viewer: Viewer, taskId: string, options: { claimToken?: number | null }): Promise<Task> {
    return this.journal.write(async (w) => {
      const task = await this.held(w.tx, viewer, taskId, options.claimToken);
      const released = await this.tasks.conditionalUpdate(w.tx, task, { status: "pending", ...claimEnded(task) });
      await this.tasks.record(w, [taskEvent(viewer.id, released, "task.released", { token: task.claimEpoch }), ...(await readyEvents(this.db, w.tx, viewer.id, [taskId]))], [viewer]);
      return released;
    });
  }

  /**
   * The team's lead takes back a live claim held by an agent that went silent: the task is
   * ready again, the holder is told (notice.lease_lost, taken_back) and its writes with the
   * old claim token are refused; the journal names the lead.
   */
  async takeBack(viewer: Viewer, taskId: string): Promise<Task> {
    return this.journal.write(async (w) => {
      const task = await visibleInTx(w.tx, viewer, taskId);
      await this.teams.requireLead(w.tx, viewer, task.teamId);
      if (!liveHolder(task)) throw new ConflictError(`task #${task.number} has no live claim to take back`);
      const { data, changes } = takenBack(task, viewer);
      const back = await this.tasks.conditionalUpdate(w.tx, task, data);
      await this.tasks.record(w, [...changes, ...(await readyEvents(this.db, w.tx, viewer.id, [taskId]))], [viewer]);
      return back;
    });
  }

  /**
   * Returns lapsed tasks to the ready queue as `expiry` says, with its journal row and
   * the holder's lease-lost notice each.
   * Safe when several servers sweep at once: each return is a conditional update. Task
   * rows are updated first, in ID order, and the journal appended last: the order a claim
   * batch locks them in (rows by ID, then the journal's lock), so the two never wait on
   * each other in a cycle on PostgreSQL.
   */
  async sweepExpired(now = new Date()): Promise<number> {
    const expired = await this.db.reader.task.findMany({ where: lapsedWhere(now), select: { id: true }, take: SWEEP_BATCH });
    if (expired.length === 0) return 0;
    const ids = expired.map((t) => t.id).sort();
    return this.journal.write(async (w) => {
      const { tx } = w;
      const returned: ReturnType<typeof expiry>[] = [];
      for (const id of ids) {
        const task = await tx.task.findUnique({ where: { id } });
        if (!task || !lapsed(task, now)) continue;
        const expired = expiry(task);
        const { count } = await tx.task.updateMany({ where: { id, claimEpoch: task.claimEpoch, holderId: task.holderId, leaseExpiresAt: { lte: now } }, data: expired.data });
        if (count > 0) returned.push(expired);
      }
      const changes = returned.flatMap((r) => r.changes);
      changes.push(...(await readyEvents(this.db, tx, null, returned.map((r) => r.back.id))));
      await this.tasks.record(w, changes);
      return returned.length;
    });
  }

  /** Sweeps every `ms` until the returned function is called. */
  sweepEvery(ms: number, onError: (error: unknown) => void): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      this.sweepExpired()
        .catch(onError)
        .finally(() => (running = false));
    }, ms);
    timer.unref();
    return () => clearInterval(timer);
  }

  /**
   * Takes tasks for their agents with one conditional update per lease length (ready
   * blockers aside, which the caller read in this transaction; claim epoch as read) that
   * returns the written rows. Returns the claims by task ID; a task missing from it was
   * taken by someone else.
   */
  private async take(tx: Tx, attempts: ClaimAttempt[], now: Date): Promise<Map<string, Claim>> {
    const byLease = new Map<number, ClaimAttempt[]>();
    for (const attempt of attempts) {
      const group = byLease.get(attempt.lease);
      if (group) group.push(attempt);
      else byLease.set(attempt.lease, [attempt]);
    }
    const claims = new Map<string, Claim>();
    for (const [lease, group] of byLease) {
      const holder = Prisma.sql`CASE "id" ${Prisma.join(
        group.map((a) => Prisma.sql`WHEN ${a.task.id} THEN ${a.agentId}`),
        " ",
      )} END`;
      // Run straight (Database.rows), typed as Prisma's reads are (dates, booleans, JSON).
      // Readiness as a CASE: SQLite's planner, without statistics, took its status terms
      // for selective and scanned every waiting task through their index instead of looking
      // the few IDs up (1.6 ms a batch against 0.1 with 12,000 tasks on the board, measured).
      const rows = await this.db.rows<Task>(tx, Prisma.sql`
        UPDATE "Task" SET "status" = ${Prisma.raw(`'${HELD_STATUS}'`)}, "holderId" = ${holder}, "assigneeId" = ${holder},
          "leaseExpiresAt" = ${new Date(now.getTime() + lease * 1000)}, "claimEpoch" = "claimEpoch" + 1, "updatedAt" = ${now}
        WHERE "id" IN (${this.db.dialect.idsLockedInOrder("Task", group.map((a) => a.task.id))})
          AND (${Prisma.join(
            group.map((a) => Prisma.sql`("id" = ${a.task.id} AND "claimEpoch" = ${a.task.claimEpoch})`),
            " OR ",
          )})
          AND CASE WHEN ${readyFormSql(now)} THEN 1 ELSE 0 END = 1
        RETURNING *`);
      for (const task of rows) claims.set(task.id, { task, token: task.claimEpoch, expiresAt: task.leaseExpiresAt! });
    }
    return claims;
  }

  /** The task if the viewer holds a live claim on it (with the current token, if given). */
  private async held(tx: Tx, viewer: Viewer, taskId: string, claimToken?: number | null): Promise<Task> {
    const task = await this.tasks.writable(tx, viewer, taskId, claimToken);
    if (liveHolder(task) !== viewer.id) throw new ConflictError(`you hold no claim on task #${task.number}`);
    return task;
  }
}
