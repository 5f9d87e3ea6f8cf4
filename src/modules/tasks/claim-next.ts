// claim-next's group commit. Concurrent calls for the same team and filters are answered
// together, in arrival order, by one transaction: one membership read, one candidate read
// per form of "ready", one conditional update that takes every pick, one journal insert.
// With 50 workers this took claims from 9 statements each to about 0.2. Which request
// gets which task is claim-picks.ts; the conditional update is ClaimService.take.
import { NotFoundError } from "../../errors.js";
import { Prisma, type Task } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import type { Viewer } from "../agents/agents.service.js";
import type { JournalService } from "../journal/journal.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { CLAIM_ORDER_SQL, inClaimOrder, mayTake, pickTasks, roleKey, takeableBySql, type Candidate } from "./claim-picks.js";
import type { Claim, ClaimAttempt } from "./claims.service.js";
import { readyFormsSql } from "./readiness.js";
import { claimEvents, type Change } from "./task-events.js";
import type { TaskService } from "./tasks.service.js";

// A batch reads this many candidates beyond one a request. On PostgreSQL racing workers
// may take all of them first; it then reads again, and answers "nothing ready" only when
// a read finds no candidate at all (every lost round means another worker made progress).
const CANDIDATES = 8;
const ROUNDS = 100;
// Requests answered by one transaction at most.
const NEXT_BATCH = 64;
// Event-loop turns a batch waits for more requests to join it.
const ARRIVAL_TURNS = 4;

export interface NextFilters {
  role: string | null;
  track: string | null;
  milestoneId: string | null;
}

interface NextRequest {
  viewer: Viewer;
  lease: number;
  resolve(claim: Claim | null): void;
  reject(error: unknown): void;
  /** Batches that found candidates but lost them all to other instances. */
  rounds: number;
}

interface NextQueue {
  waiting: NextRequest[];
  running: boolean;
}

/** What a batch settles once its transaction committed, and the requests to run again. */
interface Outcome {
  settle: (() => void)[];
  retry: NextRequest[];
}

/** What claiming needs to know of a ready task. */
type ReadyTask = Pick<Task, "id" | "number" | "priorityRank" | "assigneeId" | "holderId" | "claimEpoch">;

/** The conditional update that takes chosen tasks for their agents; a task missing from its answer was taken by someone else. */
export type TakeTasks = (tx: Tx, attempts: ClaimAttempt[], now: Date) => Promise<Map<string, Claim>>;

export class ClaimNext {
  private readonly queues = new Map<string, NextQueue>();

  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly tasks: TaskService,
    private readonly take: TakeTasks,
  ) {}

  /** The best ready task the viewer may take in the team, claimed; null when nothing is ready. */
  request(viewer: Viewer, teamId: string, filters: NextFilters, lease: number): Promise<Claim | null> {
    const key = JSON.stringify([teamId, filters.role, filters.track, filters.milestoneId]);
    let queue = this.queues.get(key);
    if (!queue) this.queues.set(key, (queue = { waiting: [], running: false }));
    const answer = new Promise<Claim | null>((resolve, reject) => queue.waiting.push({ viewer, lease, resolve, reject, rounds: 0 }));
    if (!queue.running) void this.drain(key, queue, teamId, filters);
    return answer;
  }

  /** Answers a queue's requests batch by batch until it is empty. */
  private async drain(key: string, queue: NextQueue, teamId: string, filters: NextFilters): Promise<void> {
    queue.running = true;
    try {
      // better-sqlite3 answers synchronously, so a request can run from arrival to answer
      // without yielding; waiting for the event loop's next turn lets the requests that
      // arrived meanwhile join this batch.
      for (;;) {
        // Let requests arrive until a turn brings no more (a few turns at most).
        for (let seen = -1, turn = 0; turn < ARRIVAL_TURNS && queue.waiting.length !== seen; turn++) {
          seen = queue.waiting.length;
          await new Promise((resolve) => setImmediate(resolve));
        }
        if (queue.waiting.length === 0) break;
        const batch = queue.waiting.splice(0, NEXT_BATCH);
        let retry: NextRequest[];
        try {
          retry = await this.claimBatch(teamId, filters, batch);
        } catch (error) {
          for (const request of batch) request.reject(error);
          continue;
        }
        // Requests that lost every candidate to another instance go again, first.
        queue.waiting.unshift(...retry.filter((r) => ++r.rounds < ROUNDS));
        for (const r of retry) if (r.rounds >= ROUNDS) r.resolve(null);
      }
    } finally {
      queue.running = false;
      this.queues.delete(key);
    }
  }

  /** One transaction for a batch; settles each request and returns those to try again. */
  private async claimBatch(teamId: string, filters: NextFilters, batch: NextRequest[]): Promise<NextRequest[]> {
    const outcome: Outcome = { settle: [], retry: [] };
    await this.journal.write(async (w) => {
      const { tx } = w;
      const members = await this.teams.membersAmong(tx, teamId, [...new Set(batch.map((r) => r.viewer.id))]);
      const requests = batch.filter((r) => {
        if (members.has(r.viewer.id)) return true;
        outcome.settle.push(() => r.reject(new NotFoundError("team")));
        return false;
      });
      if (requests.length === 0) return;
      if (filters.milestoneId !== null) await this.tasks.requireMilestone(tx, teamId, filters.milestoneId);
      const now = new Date();
      const agentIds = [...new Set(requests.map((r) => r.viewer.id))];
      const { candidates, complete } = await this.readyCandidates(tx, teamId, filters, agentIds, requests.length + CANDIDATES, now);
      const may = mayTake(filters.role, await this.roleHolders(tx, candidates, agentIds, filters.role));
      const events = await this.takeInTurns(tx, requests, candidates, may, complete, now, outcome);
      if (events.length) await this.tasks.record(w, events, requests.map((r) => r.viewer));
    });
    // Answers go out only once the claims have committed.
    for (const s of outcome.settle) s();
    return outcome.retry;
  }

  /**
   * Ready tasks these agents may take, in claim order: up to `window` of each form of
   * "ready", each read along an index in claim order (an OR of the two scanned the whole
   * team: 58 ms at 100k tasks). `complete` when no read was cut off by the window.
   */
  private async readyCandidates(tx: Tx, teamId: string, filters: NextFilters, agentIds: string[], window: number, now: Date) {
    const mine = Prisma.join(
      [
        Prisma.sql`"teamId" = ${teamId}`,
        takeableBySql(this.db.dialect.strings(agentIds), filters.role),
        ...(filters.track ? [Prisma.sql`"track" = ${filters.track}`] : []),
        ...(filters.milestoneId ? [Prisma.sql`"milestoneId" = ${filters.milestoneId}`] : []),
      ],
      " AND ",
    );
    let complete = true;
    const candidates: ReadyTask[] = [];
    // Every claim reads these: run straight (Database.rows), 0.6 ms less a claim than through Prisma (measured).
    for (const ready of readyFormsSql(now)) {
      const rows = await this.db.rows<ReadyTask>(
        tx,
        Prisma.sql`SELECT "id", "number", "priorityRank", "assigneeId", "holderId", "claimEpoch" FROM "Task"
          WHERE ${mine} AND ${ready} ORDER BY ${CLAIM_ORDER_SQL} LIMIT ${window}`,
      );
      if (rows.length === window) complete = false;
      candidates.push(...rows);
    }
    return { candidates: inClaimOrder(candidates), complete };
  }

  /**
   * Requests pick candidates, then one statement takes every pick. Only on PostgreSQL can
   * another instance have taken a pick meanwhile: those requests pick again from what is left.
   */
  private async takeInTurns(
    tx: Tx,
    requests: NextRequest[],
    candidates: ReadyTask[],
    may: (agentId: string, task: Candidate) => boolean,
    complete: boolean,
    now: Date,
    outcome: Outcome,
  ): Promise<Change[]> {
    const events: Change[] = [];
    let picking = requests;
    let left = candidates;
    while (picking.length > 0) {
      const picks = pickTasks(picking, left, may, complete);
      left = picks.left;
      for (const request of picks.none) outcome.settle.push(() => request.resolve(null));
      outcome.retry.push(...picks.retry);
      const claims = await this.take(tx, picks.chosen.map(({ request, task }) => ({ task, agentId: request.viewer.id, lease: request.lease })), now);
      picking = [];
      for (const { request, task } of picks.chosen) {
        const claim = claims.get(task.id);
        if (!claim) {
          picking.push(request);
          continue;
        }
        events.push(...claimEvents(request.viewer, task, claim));
        outcome.settle.push(() => request.resolve(claim));
      }
    }
    return events;
  }

  /**
   * The roleKeys of which of these agents have a role (this one, if given) on which
   * candidate. Without `role` only assigned tasks need asking: anyone may take the rest.
   */
  private async roleHolders(tx: Tx, candidates: ReadyTask[], agentIds: string[], role: string | null): Promise<Set<string>> {
    const asked = candidates.filter((t) => role !== null || t.assigneeId !== null);
    if (asked.length === 0) return new Set();
    const rows = await tx.taskRoleAssignment.findMany({
      where: { taskId: { in: asked.map((t) => t.id) }, agentId: { in: agentIds }, ...(role ? { role } : {}) },
      select: { taskId: true, agentId: true },
    });
    return new Set(rows.map((r) => roleKey(r.taskId, r.agentId)));
  }
}
