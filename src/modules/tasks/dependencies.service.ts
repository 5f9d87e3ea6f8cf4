// Blocking dependencies: "blocker blocks blocked" links within a team, explicit or by a
// track's order (each track task blocked by the one before it), never closing a cycle.
// Every change to the graph runs under the team's board lock (TeamService.lockBoard; a
// new task's links under takeTaskNumber's), so two concurrent links cannot close a cycle
// between them.
import { BadInputError, ConflictError, NotFoundError } from "../../errors.js";
import { Prisma, type Task } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import type { AgentService, Viewer } from "../agents/agents.service.js";
import type { JournalService, JournalWrite } from "../journal/journal.service.js";
import type { MessageService } from "../messages/messages.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { findPath, type Edge } from "./dependency-graph.js";
import { readyEvents } from "./readiness.js";
import { recordChanges, taskEvent, type Change } from "./task-events.js";
import { visibleInTx } from "./tasks.service.js";

export class DependencyService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly messages: MessageService,
    private readonly agents: AgentService,
  ) {}

  private record(w: JournalWrite, changes: Change[], viewer: Viewer): Promise<void> {
    return recordChanges(w, this.messages, (ids) => this.agents.namesByIds(ids, w.tx), changes, [viewer]);
  }

  /** "task is blocked by blocker". Refused when it would close a cycle, naming it. */
  async addDependency(viewer: Viewer, taskId: string, blockerId: string): Promise<Task> {
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await visibleInTx(tx, viewer, taskId);
      const [blocker] = await this.sameTeamTasks(tx, task.teamId, [blockerId], "blockedById");
      await this.teams.lockBoard(tx, task.teamId);
      if (await tx.taskDependency.findUnique({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } } })) return task;
      await this.link(tx, blocker!, task, "explicit");
      await this.record(w, [taskEvent(viewer.id, task, "task.dependency_added", { blockedBy: blocker!.number })], viewer);
      return task;
    });
  }

  async removeDependency(viewer: Viewer, taskId: string, blockerId: string): Promise<Task> {
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await visibleInTx(tx, viewer, taskId);
      const link = await tx.taskDependency.findUnique({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } }, include: { blocker: true } });
      if (!link) throw new NotFoundError("dependency");
      if (link.kind === "track") throw new ConflictError(`#${link.blocker.number} comes before #${task.number} on track ${task.track}; that order is not a removable link`);
      await this.teams.lockBoard(tx, task.teamId);
      await tx.taskDependency.delete({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } } });
      const entries = [taskEvent(viewer.id, task, "task.dependency_removed", { blockedBy: link.blocker.number })];
      await this.record(w, [...entries, ...(await readyEvents(this.db, tx, viewer.id, [taskId]))], viewer);
      return task;
    });
  }

  /** Tasks by ID that must be in `teamId`. */
  async sameTeamTasks(tx: Tx, teamId: string, ids: string[], field: string): Promise<Task[]> {
    if (ids.length === 0) return [];
    const found = await tx.task.findMany({ where: { id: { in: ids }, teamId } });
    const missing = ids.filter((id) => !found.some((t) => t.id === id));
    if (missing.length) throw new BadInputError(field, `no task ${missing.join(", ")} in this team (links stay within one team)`);
    return found;
  }

  /** The order for a new task on a track: the given one if free, else after the last. */
  async trackSlot(tx: Tx, teamId: string, milestoneId: string | null, track: string, order: number | null): Promise<number> {
    const where = { teamId, milestoneId, track };
    if (order === null) {
      const last = await tx.task.findFirst({ where, orderBy: { trackOrder: "desc" }, select: { trackOrder: true } });
      return (last?.trackOrder ?? -1) + 1;
    }
    const taken = await tx.task.findFirst({ where: { ...where, trackOrder: order }, select: { number: true } });
    if (taken) throw new ConflictError(`track ${track} already has task #${taken.number} at order ${order}`);
    return order;
  }

  /** Links a new track task between its neighbours: previous → task → next. */
  async linkIntoTrack(tx: Tx, task: Task): Promise<void> {
    const where = { teamId: task.teamId, milestoneId: task.milestoneId, track: task.track, id: { not: task.id } };
    const previous = await tx.task.findFirst({ where: { ...where, trackOrder: { lt: task.trackOrder! } }, orderBy: { trackOrder: "desc" } });
    const next = await tx.task.findFirst({ where: { ...where, trackOrder: { gt: task.trackOrder! } }, orderBy: { trackOrder: "asc" } });
    if (previous && next) await tx.taskDependency.deleteMany({ where: { blockerId: previous.id, blockedId: next.id, kind: "track" } });
    if (previous) await tx.taskDependency.create({ data: { blockerId: previous.id, blockedId: task.id, teamId: task.teamId, kind: "track" } });
    if (next) await tx.taskDependency.create({ data: { blockerId: task.id, blockedId: next.id, teamId: task.teamId, kind: "track" } });
  }

  /** Adds blocker → blocked unless it closes a cycle (CONFLICT naming it) or is a self-link. */
  async link(tx: Tx, blocker: Task, blocked: Task, kind: "explicit" | "track"): Promise<void> {
    if (blocker.id === blocked.id) throw new BadInputError("blockedBy", `task #${blocked.number} cannot block itself`);
    const path = await this.pathBetween(tx, blocked.id, blocker.id);
    if (path) {
      const cycle = [...path, blocked.id];
      const numbers = await tx.task.findMany({ where: { id: { in: path } }, select: { id: true, number: true } });
      const byId = new Map(numbers.map((n) => [n.id, `#${n.number}`]));
      const named = cycle.map((id) => byId.get(id)!);
      throw new ConflictError(`#${blocked.number} blocked by #${blocker.number} would close a cycle: ${cycleText(named)}`, { cycle: named.slice(0, 100) });
    }
    await tx.taskDependency.upsert({
      where: { blockerId_blockedId: { blockerId: blocker.id, blockedId: blocked.id } },
      create: { blockerId: blocker.id, blockedId: blocked.id, teamId: blocked.teamId, kind },
      update: {},
    });
  }

  /** The "task.ready" changes for tasks that `task` blocked and that are ready now that it closed. */
  async unblockedBy(tx: Tx, actorId: string, task: Task): Promise<Change[]> {
    // Every completion asks: one statement run straight (Database.rows).
    const dependents = await this.db.rows<{ blockedId: string }>(tx, Prisma.sql`SELECT "blockedId" FROM "TaskDependency" WHERE "blockerId" = ${task.id}`);
    return readyEvents(this.db, tx, actorId, dependents.map((d) => d.blockedId));
  }

  /**
   * A chain of "blocks" links from `from` to `to`, or null. The recursive query walks
   * only the part of the graph reachable from `from`, each link once.
   */
  private async pathBetween(tx: Tx, from: string, to: string): Promise<string[] | null> {
    const edges = await tx.$queryRaw<{ blocker: string; blocked: string }[]>`
      WITH RECURSIVE reach(blocker, blocked) AS (
        SELECT "blockerId", "blockedId" FROM "TaskDependency" WHERE "blockerId" = ${from}
        UNION
        SELECT d."blockerId", d."blockedId" FROM "TaskDependency" d JOIN reach r ON d."blockerId" = r.blocked
      )
      SELECT blocker, blocked FROM reach`;
    if (!edges.some((e) => e.blocked === to)) return null;
    return findPath(edges.map((e): Edge => [e.blocker, e.blocked]), from, to);
  }
}

/** "#1 → #2 → #3 → #1", with the middle of a long cycle elided. */
function cycleText(named: string[]): string {
  if (named.length <= 12) return named.join(" → ");
  return `${named.slice(0, 5).join(" → ")} → … → ${named.slice(-5).join(" → ")} (${named.length - 1} tasks)`;
}
