// The task board: tasks with per-team numbers, milestones and tracks, dashboards,
// findings and role assignments. Readiness is readiness.ts, leases lease.ts, claims
// claims.service.ts, dependencies and tracks dependencies.service.ts. Every change writes
// its journal rows in the same transaction.
import { z } from "zod";
import { BadInputError, ConflictError, NotFoundError } from "../../errors.js";
import { Prisma, type Milestone, type Task, type TaskFinding, type TaskRoleAssignment } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { boundedText, jsonObject, parseInput, shortName } from "../../validation.js";
import { displayName, type AgentService, type Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import { eventText, type JournalService, type JournalWrite } from "../journal/journal.service.js";
import type { MessageService } from "../messages/messages.service.js";
import { TeamService } from "../teams/teams.service.js";
import { boardText } from "./board-text.js";
import type { DependencyService } from "./dependencies.service.js";
import { liveHolder } from "./lease.js";
import { openBlockerLink, readyWhere } from "./readiness.js";
import { notice, recordChanges, taskEvent, type Change } from "./task-events.js";
import { findTasks } from "./task-reads.js";
import type { RowSelection } from "./task-relations.js";
import { CLOSED_STATUSES, NUDGE_AFTER, priorityRank, verificationNudge, type TaskStatus } from "./task-rules.js";
import { createInput, dashboardInput, dashboardLineInput, DASHBOARD_MAX, unfiltered, updateInput, type CreateTaskInput, type TaskFilter, type UpdateTaskInput } from "./task-inputs.js";
import { updateChanges, updateData, type TaskColumns } from "./task-update.js";

/** A task of the viewer's teams, read in the caller's transaction. */
export async function visibleInTx(tx: Tx, viewer: Viewer, taskId: string): Promise<Task> {
  const task = await tx.task.findFirst({ where: { id: taskId, ...TaskService.visibleTo(viewer.id) } });
  if (!task) throw new NotFoundError("task");
  return task;
}

export class TaskService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly messages: MessageService,
    private readonly idempotency: IdempotencyService,
    private readonly agents: AgentService,
    private readonly dependencies: DependencyService,
  ) {}

  /**
   * Appends the journal rows and sends the notices of one change, in its transaction,
   * agents named (`known` are names at hand: usually the viewer's).
   */
  record(w: JournalWrite, changes: Change[], known: readonly Viewer[] = []): Promise<void> {
    return recordChanges(w, this.messages, (ids) => this.agents.namesByIds(ids, w.tx), changes, known);
  }

  // ---- reads -------------------------------------------------------------------

  /** The filter every task read goes through: tasks of teams the viewer belongs to. */
  static visibleTo(agentId: string): Prisma.TaskWhereInput {
    return { team: TeamService.visibleTo(agentId) };
  }

  /** visibleTo in SQL, over a statement's "Task" row. */
  static visibleSql(agentId: string): Prisma.Sql {
    return TeamService.visibleSql(agentId, Prisma.sql`"Task"."teamId"`);
  }

  async get<Q extends Omit<Prisma.TaskFindFirstArgs, "where">>(viewer: Viewer, taskId: string, query?: Q): Promise<Task> {
    const task = await this.db.reader.task.findFirst({ ...query, where: { id: taskId, ...TaskService.visibleTo(viewer.id) } });
    if (!task) throw new NotFoundError("task");
    return task;
  }

  async byNumber<Q extends Omit<Prisma.TaskFindFirstArgs, "where">>(viewer: Viewer, teamId: string, number: number, query?: Q): Promise<Task> {
    const task = await this.db.reader.task.findFirst({ ...query, where: { teamId, number, ...TaskService.visibleTo(viewer.id) } });
    if (!task) throw new NotFoundError("task");
    return task;
  }

  /** The where-clause of a filtered list; the assignee is named by agent name. */
  async listWhere(viewer: Viewer, base: Prisma.TaskWhereInput, filter: TaskFilter): Promise<Prisma.TaskWhereInput> {
    const and: Prisma.TaskWhereInput[] = [base, TaskService.visibleTo(viewer.id)];
    if (filter.status?.length) and.push({ status: { in: [...new Set(filter.status)] } });
    if (filter.assignee != null) and.push({ assignee: { name: filter.assignee } });
    if (filter.milestoneId != null) and.push({ milestoneId: filter.milestoneId });
    if (filter.track != null) and.push({ track: filter.track });
    if (filter.role != null) and.push({ roles: { some: { role: filter.role } } });
    if (filter.ready != null) {
      const ready = readyWhere(new Date());
      and.push(filter.ready ? ready : { NOT: ready });
    }
    return { AND: and };
  }

  /**
   * A team's tasks. For a team the viewer is not in this is empty: the filter sees to it.
   * The rows, and the relations in `query` that one statement can read, are read in one
   * statement after Prisma picks the rows (see task-reads.ts); of the rows' columns, those
   * `wanted` reads.
   */
  async list<Q extends Omit<Prisma.TaskFindManyArgs, "where">>(viewer: Viewer, teamId: string, filter: TaskFilter, query?: Q, wanted?: RowSelection): Promise<Task[]> {
    const where = await this.listWhere(viewer, { teamId }, filter);
    // Unfiltered, a first page is one statement (the board): listWhere's base and visibility in SQL.
    const firstPageWhere = unfiltered(filter) ? Prisma.sql`"Task"."teamId" = ${teamId} AND ${TaskService.visibleSql(viewer.id)}` : undefined;
    return findTasks(this.db, query, (q) => this.db.reader.task.findMany({ orderBy: { number: "asc" }, ...q, where }), firstPageWhere, wanted);
  }

  /** Tasks assigned to me, or on which I have a role, across my teams. */
  async listMine<Q extends Omit<Prisma.TaskFindManyArgs, "where">>(viewer: Viewer, filter: TaskFilter, query?: Q, wanted?: RowSelection): Promise<Task[]> {
    const mine: Prisma.TaskWhereInput = { OR: [{ assigneeId: viewer.id }, { roles: { some: { agentId: viewer.id } } }] };
    const where = await this.listWhere(viewer, mine, filter);
    return findTasks(this.db, query, (q) => this.db.reader.task.findMany({ orderBy: [{ teamId: "asc" }, { number: "asc" }], ...q, where }), undefined, wanted);
  }

  /** The compact board text: one line a task (empty for a team the viewer is not in). */
  async board(viewer: Viewer, teamId: string, filter: TaskFilter): Promise<string> {
    const tasks = await this.db.reader.task.findMany({
      where: await this.listWhere(viewer, { teamId }, filter),
      orderBy: { number: "asc" },
      take: 1000,
      select: {
        number: true,
        status: true,
        title: true,
        assignee: { select: { name: true, kind: true } },
        blockedBy: { where: openBlockerLink, select: { blocker: { select: { number: true } } } },
      },
    });
    return boardText(
      tasks.map((t) => ({
        number: t.number,
        status: t.status,
        title: t.title,
        owner: t.assignee ? displayName(t.assignee) : null,
        openBlockers: t.blockedBy.map((d) => d.blocker.number).sort((a, b) => a - b),
      })),
    );
  }

  /** NOT_FOUND unless the filters of a task-event subscription name a task and a member of the team. */
  async checkEventFilter(viewer: Viewer, teamId: string, filter: { taskId: string | null; assigneeId: string | null }): Promise<void> {
    await this.teams.get(viewer, teamId);
    if (filter.taskId != null && (await this.get(viewer, filter.taskId)).teamId !== teamId) throw new NotFoundError("task");
    if (filter.assigneeId != null && !(await this.teams.isMember(filter.assigneeId, teamId))) throw new NotFoundError("team member");
  }

  milestones(teamId: string): Promise<Milestone[]> {
    return this.db.reader.milestone.findMany({ where: { teamId }, orderBy: { createdAt: "asc" } });
  }

  /** `query` is the GraphQL selection's include/select, so the task comes in the same read. */
  myRoleAssignments(viewer: Viewer, query: Omit<Prisma.TaskRoleAssignmentFindManyArgs, "where" | "orderBy"> = {}): Promise<TaskRoleAssignment[]> {
    return this.db.reader.taskRoleAssignment.findMany({
      ...query,
      where: { agentId: viewer.id, task: TaskService.visibleTo(viewer.id) },
      orderBy: { createdAt: "asc" },
    });
  }

  // ---- writes ------------------------------------------------------------------

  async createMilestone(viewer: Viewer, teamId: string, input: { name: string; description?: string | null }, idempotencyKey?: string | null): Promise<Milestone> {
    const { name, description } = parseInput(z.object({ name: boundedText(200).pipe(z.string().trim().min(1, "must not be empty")), description: boundedText(2000).nullish() }), input);
    const request = { operation: "createMilestone", args: { teamId, name, description } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.milestone.findUnique({ where: { id } }), async ({ tx, append }) => {
      await this.teams.requireVisible(tx, viewer, teamId);
      if (await tx.milestone.findFirst({ where: { teamId, name }, select: { id: true } })) {
        throw new ConflictError(`this team already has a milestone named "${name}"`);
      }
      const milestone = await tx.milestone.create({ data: { teamId, name, description: description ?? null, createdById: viewer.id } });
      await append({ teamId, actorId: viewer.id, kind: "milestone.created", subjectType: "Milestone", subjectId: milestone.id, payload: { name } });
      return milestone;
    });
  }

  async create(viewer: Viewer, teamId: string, raw: CreateTaskInput, idempotencyKey?: string | null): Promise<Task> {
    const input = parseInput(createInput, raw);
    if (input.trackOrder != null && input.track == null) throw new BadInputError("trackOrder", "needs a track");
    const request = { operation: "createTask", args: { teamId, ...input } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.task.findUnique({ where: { id } }), async (w) => {
      const { tx } = w;
      await this.teams.requireVisible(tx, viewer, teamId);
      const assigneeId = await this.teams.memberIdByName(tx, teamId, input.assignee, "assignee");
      if (input.milestoneId != null) await this.requireMilestone(tx, teamId, input.milestoneId);
      const blockers = await this.dependencies.sameTeamTasks(tx, teamId, input.blockedBy ?? [], "blockedBy");
      // First write of the transaction: serializes this team's board on PostgreSQL.
      const number = await this.teams.takeTaskNumber(tx, teamId);
      const track = input.track ?? null;
      const milestoneId = input.milestoneId ?? null;
      const trackOrder = track === null ? null : await this.dependencies.trackSlot(tx, teamId, milestoneId, track, input.trackOrder ?? null);
      const priority = input.priority ?? "medium";
      const task = await tx.task.create({
        data: {
          teamId,
          number,
          title: input.title,
          description: input.description ?? null,
          status: input.status ?? "pending",
          priority,
          priorityRank: priorityRank(priority),
          assigneeId,
          activeForm: input.activeForm ?? null,
          progress: input.progress ?? 0,
          notes: input.notes ?? null,
          metadata: (input.metadata ?? {}) as Prisma.InputJsonObject,
          verification: input.verification ?? false,
          milestoneId,
          track,
          trackOrder,
          createdById: viewer.id,
        },
      });
      if (track !== null) await this.dependencies.linkIntoTrack(tx, task);
      for (const blocker of blockers) await this.dependencies.link(tx, blocker, task, "explicit");
      const entries: Change[] = [taskEvent(viewer.id, task, "task.created", { priority, track, blockedBy: blockers.map((b) => b.number) })];
      if (assigneeId && assigneeId !== viewer.id) entries.push(notice(viewer.id, assigneeId, task, "task_assigned"));
      await this.record(w, entries, [viewer]);
      return task;
    });
  }

  /** Updates fields and status; the answer carries the verification nudge when due. */
  async update(viewer: Viewer, taskId: string, raw: UpdateTaskInput): Promise<{ task: Task; verificationNudge: string | null }> {
    const input = parseInput(updateInput, raw);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const before = await this.writable(tx, viewer, taskId, input.claimToken);
      const assigneeId = input.assignee === undefined ? undefined : await this.teams.memberIdByName(tx, before.teamId, input.assignee, "assignee");
      const { data, changed } = updateData(before, input, assigneeId);
      if (Object.keys(data).length === 0) return { task: before, verificationNudge: null };

      const task = await this.conditionalUpdate(tx, before, data);
      const entries = updateChanges(viewer.id, before, task, changed);
      const statusChanged = task.status !== before.status;
      if (statusChanged && CLOSED_STATUSES.includes(task.status as TaskStatus) && !CLOSED_STATUSES.includes(before.status as TaskStatus)) {
        entries.push(...(await this.dependencies.unblockedBy(tx, viewer.id, task)));
      }
      await this.record(w, entries, [viewer]);
      const nudge = statusChanged && task.status === "completed" ? await this.nudgeFor(tx, viewer, task) : null;
      return { task, verificationNudge: nudge };
    });
  }

  cancel(viewer: Viewer, taskId: string, claimToken?: number | null) {
    return this.update(viewer, taskId, { status: "cancelled", claimToken });
  }

  async writeDashboard(viewer: Viewer, taskId: string, text: string, claimToken?: number | null): Promise<Task> {
    const { dashboard } = parseInput(dashboardInput, { dashboard: text });
    return this.journal.write(async (w) => {
      const before = await this.writable(w.tx, viewer, taskId, claimToken);
      const task = await this.conditionalUpdate(w.tx, before, { dashboard });
      await this.record(w, [taskEvent(viewer.id, task, "task.dashboard_written", { ...eventText("text", dashboard), length: dashboard.length })], [viewer]);
      return task;
    });
  }

  /** Appends a line; atomic under concurrent appenders (one SQL statement). */
  async appendDashboard(viewer: Viewer, taskId: string, text: string, claimToken?: number | null): Promise<Task> {
    const { line } = parseInput(dashboardLineInput, { line: text });
    return this.journal.write(async (w) => {
      const { tx } = w;
      const before = await this.writable(tx, viewer, taskId, claimToken);
      // One statement locks the row, checks that no claim came in since `before` was read
      // (as conditionalUpdate does) and appends; only a refusal reads again, to say why.
      const updatedAt = new Date();
      const [appended] = await this.db.rows<{ dashboard: string }>(
        tx,
        Prisma.sql`UPDATE "Task" SET "dashboard" = CASE WHEN "dashboard" = '' THEN ${line} ELSE "dashboard" || ${"\n" + line} END, "updatedAt" = ${updatedAt}
        WHERE "id" = ${taskId} AND "claimEpoch" = ${before.claimEpoch} AND length("dashboard") + ${line.length + 1} <= ${DASHBOARD_MAX}
        RETURNING "dashboard"`,
      );
      if (!appended) {
        const now = await tx.task.findUnique({ where: { id: taskId }, select: { claimEpoch: true } });
        if (now?.claimEpoch !== before.claimEpoch) throw new ConflictError(`task #${before.number} was claimed meanwhile; read it again`);
        throw new BadInputError("text", `the dashboard would exceed ${DASHBOARD_MAX} characters; rewrite it with writeTaskDashboard`);
      }
      const task: Task = { ...before, dashboard: appended.dashboard, updatedAt };
      await this.record(w, [taskEvent(viewer.id, task, "task.dashboard_appended", { ...eventText("text", line), length: task.dashboard.length })], [viewer]);
      return task;
    });
  }

  async addFinding(viewer: Viewer, taskId: string, data: unknown, claimToken?: number | null, idempotencyKey?: string | null): Promise<TaskFinding> {
    const { finding } = parseInput(z.object({ finding: jsonObject(65_536) }), { finding: data });
    const request = { operation: "addTaskFinding", args: { taskId, finding, claimToken } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.taskFinding.findUnique({ where: { id } }), async (w) => {
      const { tx } = w;
      // The conditional touch locks the row and checks that no claim came in meanwhile.
      const task = await this.conditionalUpdate(tx, await this.writable(tx, viewer, taskId, claimToken), { updatedAt: new Date() });
      const created = await tx.taskFinding.create({ data: { taskId, authorId: viewer.id, data: finding as Prisma.InputJsonObject } });
      await this.record(w, [taskEvent(viewer.id, task, "task.finding_added", { findingId: created.id })], [viewer]);
      return created;
    });
  }

  /** Gives an agent a role on a task with instructions; assigning again updates them. */
  async assignRole(viewer: Viewer, taskId: string, input: { agentName: string; role: string; instructions?: string | null }): Promise<TaskRoleAssignment> {
    const { role, instructions } = parseInput(z.object({ role: shortName, instructions: boundedText(20_000).nullish() }), input);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await visibleInTx(tx, viewer, taskId);
      const agentId = (await this.teams.memberIdByName(tx, task.teamId, input.agentName, "agentName"))!;
      const assignment = await tx.taskRoleAssignment.upsert({
        where: { taskId_agentId_role: { taskId, agentId, role } },
        create: { taskId, agentId, role, instructions: instructions ?? null, assignedById: viewer.id },
        update: { instructions: instructions ?? null },
      });
      const entries: Change[] = [taskEvent(viewer.id, task, "task.role_assigned", { agentId, role })];
      if (agentId !== viewer.id) entries.push(notice(viewer.id, agentId, task, "role_assigned", { role, instructions: instructions ?? null }));
      await this.record(w, entries, [viewer]);
      return assignment;
    });
  }

  // ---- shared within the task board ------------------------------------------------

  /** BAD_USER_INPUT unless the milestone belongs to the team. */
  async requireMilestone(tx: Tx, teamId: string, milestoneId: string): Promise<void> {
    if (!(await tx.milestone.findFirst({ where: { id: milestoneId, teamId }, select: { id: true } }))) {
      throw new BadInputError("milestoneId", "no such milestone in this team");
    }
  }

  /** A task of the viewer's teams, read in the caller's transaction (for other modules). */
  visibleInTx(tx: Tx, viewer: Viewer, taskId: string): Promise<Task> {
    return visibleInTx(tx, viewer, taskId);
  }

  /**
   * The task, if the viewer may write to it now: while a claim is live only its holder
   * may, a holder whose lease ran out has lost the claim, and a fencing token, when
   * given, must be the current one.
   */
  async writable(tx: Tx, viewer: Viewer, taskId: string, claimToken?: number | null): Promise<Task> {
    // The hot path of every write to a task: one statement run straight (Database.rows).
    const [task] = await this.db.rows<Task>(tx, Prisma.sql`SELECT * FROM "Task" WHERE "id" = ${taskId} AND ${TaskService.visibleSql(viewer.id)}`);
    if (!task) throw new NotFoundError("task");
    const holder = liveHolder(task);
    if (holder && holder !== viewer.id) {
      const name = (await this.agents.namesByIds([holder], tx)).get(holder);
      throw new ConflictError(`task #${task.number} is claimed by ${name} until ${task.leaseExpiresAt!.toISOString()}; only the holder may change it`, { holder: name });
    }
    if (!holder && task.holderId === viewer.id) {
      throw new ConflictError(`your claim on task #${task.number} expired at ${task.leaseExpiresAt!.toISOString()}; claim it again`);
    }
    // A write carrying a token says "I hold this claim": it must be live, mine and current.
    if (claimToken != null && (claimToken !== task.claimEpoch || holder !== viewer.id)) {
      throw new ConflictError(`claim token ${claimToken} is no longer valid for task #${task.number}: the claim was released, ran out or was taken again`, {
        claimToken: task.claimEpoch,
      });
    }
    return task;
  }

  /**
   * Writes `data` only if no claim changed since `before` was read, and sets updatedAt as
   * Prisma's @updatedAt would. One statement run straight (Database.rows).
   */
  async conditionalUpdate(tx: Tx, before: Task, data: TaskColumns): Promise<Task> {
    const assignments = Object.entries({ ...data, updatedAt: data.updatedAt ?? new Date() }).map(([column, value]) => {
      if (!/^[A-Za-z]+$/.test(column)) throw new Error(`not a Task column: ${column}`);
      const json = typeof value === "object" && value !== null && !(value instanceof Date);
      return Prisma.sql`${Prisma.raw(`"${column}"`)} = ${json ? JSON.stringify(value) : value}`;
    });
    const [task] = await this.db.rows<Task>(
      tx,
      Prisma.sql`UPDATE "Task" SET ${Prisma.join(assignments)} WHERE "id" = ${before.id} AND "claimEpoch" = ${before.claimEpoch} RETURNING *`,
    );
    if (!task) throw new ConflictError(`task #${before.number} was claimed meanwhile; read it again`);
    return task;
  }

  // ---- private -------------------------------------------------------------------

  private async nudgeFor(tx: Tx, viewer: Viewer, task: Task): Promise<string | null> {
    const recent = await this.journal.recentSubjects(tx, { teamId: task.teamId, actorId: viewer.id, kind: "task.completed" }, NUDGE_AFTER);
    // Fewer completions than the rule looks at: it has nothing to read them for.
    const tasks =
      recent.length < NUDGE_AFTER
        ? []
        : await this.db.rows<{ verification: boolean; title: string }>(
            tx,
            Prisma.sql`SELECT "verification", "title" FROM "Task" WHERE "id" IN (${Prisma.join(recent)})`,
          );
    return verificationNudge(tasks);
  }

  /** BAD_USER_INPUT on `field` unless the task is the team's: other modules link to a task of the same team only. */
  async requireInTeam(tx: Tx, teamId: string, taskId: string, field = "taskId"): Promise<void> {
    if (!(await tx.task.count({ where: { id: taskId, teamId } }))) throw new BadInputError(field, "must be a task of the same team");
  }
}
