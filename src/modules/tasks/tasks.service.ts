// The task board: tasks with per-team numbers, milestones and tracks, blocking
// dependencies, dashboards, findings and role assignments. Claims live in
// claims.service.ts. Every change writes its journal rows in the same transaction.
import { z } from "zod";
import { BadInputError, ConflictError, NotFoundError } from "../../errors.js";
import type { Milestone, Prisma, Task, TaskFinding, TaskRoleAssignment } from "../../generated/prisma/client.js";
import type { Database, Tx } from "../../infra/db.js";
import { boundedText, jsonObject, parseInput, shortName } from "../../validation.js";
import type { Viewer } from "../agents/agents.service.js";
import type { IdempotencyService } from "../idempotency/idempotency.service.js";
import type { JournalEntry, JournalService, JournalWrite } from "../journal/journal.service.js";
import type { MessageService, Notice } from "../messages/messages.service.js";
import type { TeamService } from "../teams/teams.service.js";
import { boardText } from "./board-text.js";
import { findPath, type Edge } from "./dependency-graph.js";
import { findTasks } from "./task-relations.js";
import {
  CLOSED_STATUSES,
  FINAL_STATUSES,
  NUDGE_AFTER,
  PRIORITIES,
  TASK_STATUSES,
  liveHolder,
  priorityRank,
  readinessOf,
  verificationNudge,
  type BlockerView,
  type TaskStatus,
} from "./task-rules.js";

export const DASHBOARD_MAX = 100_000;

const title = boundedText(500).pipe(z.string().trim().min(1, "must not be empty"));
const fields = {
  title,
  description: boundedText(20_000).nullish(),
  priority: z.enum(PRIORITIES).nullish(),
  assignee: z.string().max(64).nullish(),
  activeForm: boundedText(200).nullish(),
  progress: z.number().int("must be a whole number").min(0, "must be between 0 and 100").max(100, "must be between 0 and 100").nullish(),
  notes: boundedText(20_000).nullish(),
  metadata: jsonObject(16_384).nullish(),
  verification: z.boolean().nullish(),
};
const createInput = z.object({
  ...fields,
  status: z
    .enum(TASK_STATUSES)
    .refine((s) => s === "pending" || s === "in_progress", "a new task starts PENDING or IN_PROGRESS")
    .nullish(),
  milestoneId: z.string().max(64).nullish(),
  track: shortName.nullish(),
  trackOrder: z.number().int().min(0).max(1_000_000).nullish(),
  blockedBy: z.array(z.string().max(64)).max(100).nullish(),
});
const updateInput = z.object({ ...fields, title: title.nullish(), status: z.enum(TASK_STATUSES).nullish(), claimToken: z.number().int().nullish() });

export type CreateTaskInput = z.input<typeof createInput>;
export type UpdateTaskInput = z.input<typeof updateInput>;

export interface TaskFilter {
  status?: readonly TaskStatus[] | null;
  assignee?: string | null;
  ready?: boolean | null;
  milestoneId?: string | null;
  track?: string | null;
  role?: string | null;
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

export function readinessOfRow(task: ReadinessRow, now = new Date()) {
  return readinessOf(task, blockerViews(task), task.holder?.name ?? null, now);
}

const noOpenBlocker: Prisma.TaskWhereInput = { blockedBy: { none: { blocker: { status: { notIn: [...CLOSED_STATUSES] } } } } };

/**
 * "Ready now" in its two forms: pending, or in progress under a lease that ran out; and
 * no open blocker (see readinessOf for the rule). Kept apart so each can use an index.
 */
export function readyForms(now: Date): [pending: Prisma.TaskWhereInput, lapsed: Prisma.TaskWhereInput] {
  return [
    { AND: [{ status: "pending" }, noOpenBlocker] },
    { AND: [{ status: "in_progress", holderId: { not: null }, leaseExpiresAt: { lte: now } }, noOpenBlocker] },
  ];
}

/** The where-clause of "ready now". */
export function readyWhere(now: Date): Prisma.TaskWhereInput {
  return { OR: readyForms(now) };
}

/** Tasks the viewer may claim: unassigned, assigned to them, or with a role for them. */
export function claimableBy(agentId: string): Prisma.TaskWhereInput {
  return claimableByAny([agentId]);
}

/** Tasks at least one of these agents may claim. */
export function claimableByAny(agentIds: string[]): Prisma.TaskWhereInput {
  return { OR: [{ assigneeId: null }, { assigneeId: { in: agentIds } }, { roles: { some: { agentId: { in: agentIds } } } }] };
}

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

export class TaskService {
  constructor(
    private readonly db: Database,
    private readonly journal: JournalService,
    private readonly teams: TeamService,
    private readonly messages: MessageService,
    private readonly idempotency: IdempotencyService,
  ) {}

  /** Appends the journal rows and sends the notices of one change, in its transaction. */
  async record(w: JournalWrite, changes: Change[]): Promise<void> {
    await w.append(...changes.filter((c): c is JournalEntry => !("notice" in c)));
    await this.messages.notify(w, changes.filter((c): c is Notice => "notice" in c));
  }

  // ---- reads -------------------------------------------------------------------

  /** The filter every task read goes through: tasks of teams the viewer belongs to. */
  static visibleTo(agentId: string): Prisma.TaskWhereInput {
    return { team: { members: { some: { agentId } } } };
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
   * statement after Prisma picks the rows (see task-relations.ts).
   */
  async list<Q extends Omit<Prisma.TaskFindManyArgs, "where">>(viewer: Viewer, teamId: string, filter: TaskFilter, query?: Q): Promise<Task[]> {
    const where = await this.listWhere(viewer, { teamId }, filter);
    return findTasks(this.db, query, (q) => this.db.reader.task.findMany({ orderBy: { number: "asc" }, ...q, where }));
  }

  /** Tasks assigned to me, or on which I have a role, across my teams. */
  async listMine<Q extends Omit<Prisma.TaskFindManyArgs, "where">>(viewer: Viewer, filter: TaskFilter, query?: Q): Promise<Task[]> {
    const mine: Prisma.TaskWhereInput = { OR: [{ assigneeId: viewer.id }, { roles: { some: { agentId: viewer.id } } }] };
    const where = await this.listWhere(viewer, mine, filter);
    return findTasks(this.db, query, (q) => this.db.reader.task.findMany({ orderBy: [{ teamId: "asc" }, { number: "asc" }], ...q, where }));
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
        assignee: { select: { name: true } },
        blockedBy: { where: { blocker: { status: { notIn: [...CLOSED_STATUSES] } } }, select: { blocker: { select: { number: true } } } },
      },
    });
    return boardText(
      tasks.map((t) => ({
        number: t.number,
        status: t.status,
        title: t.title,
        owner: t.assignee?.name ?? null,
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
      const blockers = await this.sameTeamTasks(tx, teamId, input.blockedBy ?? [], "blockedBy");
      // First write of the transaction: serializes this team's board on PostgreSQL.
      const number = await this.teams.takeTaskNumber(tx, teamId);
      const track = input.track ?? null;
      const milestoneId = input.milestoneId ?? null;
      const trackOrder = track === null ? null : await this.trackSlot(tx, teamId, milestoneId, track, input.trackOrder ?? null);
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
      if (track !== null) await this.linkIntoTrack(tx, task);
      for (const blocker of blockers) await this.link(tx, blocker, task, "explicit");
      const entries: Change[] = [taskEvent(viewer.id, task, "task.created", { priority, track, blockedBy: blockers.map((b) => b.number) })];
      if (assigneeId && assigneeId !== viewer.id) entries.push(notice(viewer.id, assigneeId, task, "task_assigned"));
      await this.record(w, entries);
      return task;
    });
  }

  /** Updates fields and status; the answer carries the verification nudge when due. */
  async update(viewer: Viewer, taskId: string, raw: UpdateTaskInput): Promise<{ task: Task; verificationNudge: string | null }> {
    const input = parseInput(updateInput, raw);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const before = await this.writable(tx, viewer, taskId, input.claimToken);
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
      if (input.assignee !== undefined) set("assigneeId", await this.teams.memberIdByName(tx, before.teamId, input.assignee, "assignee"));
      const status = input.status ?? before.status;
      if (status !== before.status) {
        set("status", status, false);
        const ends = FINAL_STATUSES.includes(status as TaskStatus);
        if (ends || (status === "pending" && before.holderId)) Object.assign(data, { holderId: null, leaseExpiresAt: null });
        data.closedAt = ends ? new Date() : null;
      }
      if (Object.keys(data).length === 0) return { task: before, verificationNudge: null };

      const task = await this.conditionalUpdate(tx, before, data);
      const entries: Change[] = [];
      const statusChanged = task.status !== before.status;
      const otherChanges = Object.keys(changed).filter((k) => k !== "status" && k !== "assigneeId");
      if (otherChanges.length) entries.push(taskEvent(viewer.id, task, "task.updated", Object.fromEntries(otherChanges.map((k) => [k, changed[k]])) as Prisma.InputJsonObject));
      if (statusChanged) entries.push(taskEvent(viewer.id, task, `task.${task.status}`, { from: before.status }));
      if (task.assigneeId !== before.assigneeId) {
        entries.push(taskEvent(viewer.id, task, "task.assigned", { from: before.assigneeId }));
        if (task.assigneeId && task.assigneeId !== viewer.id) entries.push(notice(viewer.id, task.assigneeId, task, "task_assigned"));
      }
      if (statusChanged && CLOSED_STATUSES.includes(task.status as TaskStatus) && !CLOSED_STATUSES.includes(before.status as TaskStatus)) {
        entries.push(...(await this.unblockedBy(tx, viewer.id, task)));
      }
      await this.record(w, entries);
      const nudge = statusChanged && task.status === "completed" ? await this.nudgeFor(tx, viewer, task) : null;
      return { task, verificationNudge: nudge };
    });
  }

  cancel(viewer: Viewer, taskId: string, claimToken?: number | null) {
    return this.update(viewer, taskId, { status: "cancelled", claimToken });
  }

  /** "task is blocked by blocker". Refused when it would close a cycle, naming it. */
  async addDependency(viewer: Viewer, taskId: string, blockerId: string): Promise<Task> {
    return this.journal.write(async ({ tx, append }) => {
      const task = await this.visibleInTx(tx, viewer, taskId);
      const [blocker] = await this.sameTeamTasks(tx, task.teamId, [blockerId], "blockedById");
      await this.teams.lockBoard(tx, task.teamId);
      if (await tx.taskDependency.findUnique({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } } })) return task;
      await this.link(tx, blocker!, task, "explicit");
      await append(taskEvent(viewer.id, task, "task.dependency_added", { blockedBy: blocker!.number }));
      return task;
    });
  }

  async removeDependency(viewer: Viewer, taskId: string, blockerId: string): Promise<Task> {
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await this.visibleInTx(tx, viewer, taskId);
      const link = await tx.taskDependency.findUnique({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } }, include: { blocker: true } });
      if (!link) throw new NotFoundError("dependency");
      if (link.kind === "track") throw new ConflictError(`#${link.blocker.number} comes before #${task.number} on track ${task.track}; that order is not a removable link`);
      await this.teams.lockBoard(tx, task.teamId);
      await tx.taskDependency.delete({ where: { blockerId_blockedId: { blockerId, blockedId: taskId } } });
      const entries = [taskEvent(viewer.id, task, "task.dependency_removed", { blockedBy: link.blocker.number })];
      await this.record(w, [...entries, ...(await this.readyEvents(tx, viewer.id, [taskId]))]);
      return task;
    });
  }

  async writeDashboard(viewer: Viewer, taskId: string, text: string, claimToken?: number | null): Promise<Task> {
    const { dashboard } = parseInput(z.object({ dashboard: boundedText(DASHBOARD_MAX) }), { dashboard: text });
    return this.journal.write(async ({ tx, append }) => {
      const before = await this.writable(tx, viewer, taskId, claimToken);
      const task = await this.conditionalUpdate(tx, before, { dashboard });
      await append(taskEvent(viewer.id, task, "task.dashboard_written", { length: dashboard.length }));
      return task;
    });
  }

  /** Appends a line; atomic under concurrent appenders (one SQL statement). */
  async appendDashboard(viewer: Viewer, taskId: string, text: string, claimToken?: number | null): Promise<Task> {
    const { line } = parseInput(z.object({ line: boundedText(DASHBOARD_MAX).pipe(z.string().min(1, "must not be empty")) }), { line: text });
    return this.journal.write(async ({ tx, append }) => {
      const before = await this.writable(tx, viewer, taskId, claimToken);
      // Locks the row and checks that no claim came in since `before` was read.
      await this.conditionalUpdate(tx, before, { updatedAt: new Date() });
      const appended = await tx.$executeRaw`
        UPDATE "Task" SET "dashboard" = CASE WHEN "dashboard" = '' THEN ${line} ELSE "dashboard" || ${"\n" + line} END
        WHERE "id" = ${taskId} AND length("dashboard") + ${line.length + 1} <= ${DASHBOARD_MAX}`;
      if (appended === 0) throw new BadInputError("text", `the dashboard would exceed ${DASHBOARD_MAX} characters; rewrite it with writeTaskDashboard`);
      const task = await tx.task.findUniqueOrThrow({ where: { id: taskId } });
      await append(taskEvent(viewer.id, task, "task.dashboard_appended", { length: line.length }));
      return task;
    });
  }

  async addFinding(viewer: Viewer, taskId: string, data: unknown, claimToken?: number | null, idempotencyKey?: string | null): Promise<TaskFinding> {
    const { finding } = parseInput(z.object({ finding: jsonObject(65_536) }), { finding: data });
    const request = { operation: "addTaskFinding", args: { taskId, finding, claimToken } };
    return this.idempotency.write(viewer, idempotencyKey, request, (tx, id) => tx.taskFinding.findUnique({ where: { id } }), async ({ tx, append }) => {
      // The conditional touch locks the row and checks that no claim came in meanwhile.
      const task = await this.conditionalUpdate(tx, await this.writable(tx, viewer, taskId, claimToken), { updatedAt: new Date() });
      const created = await tx.taskFinding.create({ data: { taskId, authorId: viewer.id, data: finding as Prisma.InputJsonObject } });
      await append(taskEvent(viewer.id, task, "task.finding_added", { findingId: created.id }));
      return created;
    });
  }

  /** Gives an agent a role on a task with instructions; assigning again updates them. */
  async assignRole(viewer: Viewer, taskId: string, input: { agentName: string; role: string; instructions?: string | null }): Promise<TaskRoleAssignment> {
    const { role, instructions } = parseInput(z.object({ role: shortName, instructions: boundedText(20_000).nullish() }), input);
    return this.journal.write(async (w) => {
      const { tx } = w;
      const task = await this.visibleInTx(tx, viewer, taskId);
      const agentId = (await this.teams.memberIdByName(tx, task.teamId, input.agentName, "agentName"))!;
      const assignment = await tx.taskRoleAssignment.upsert({
        where: { taskId_agentId_role: { taskId, agentId, role } },
        create: { taskId, agentId, role, instructions: instructions ?? null, assignedById: viewer.id },
        update: { instructions: instructions ?? null },
      });
      const entries: Change[] = [taskEvent(viewer.id, task, "task.role_assigned", { agentId, role })];
      if (agentId !== viewer.id) entries.push(notice(viewer.id, agentId, task, "role_assigned", { role, instructions: instructions ?? null }));
      await this.record(w, entries);
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

  /** A task of the viewer's teams, read in the write transaction. */
  async visibleInTx(tx: Tx, viewer: Viewer, taskId: string): Promise<Task> {
    const task = await tx.task.findFirst({ where: { id: taskId, ...TaskService.visibleTo(viewer.id) } });
    if (!task) throw new NotFoundError("task");
    return task;
  }

  /**
   * The task, if the viewer may write to it now: while a claim is live only its holder
   * may, a holder whose lease ran out has lost the claim, and a fencing token, when
   * given, must be the current one.
   */
  async writable(tx: Tx, viewer: Viewer, taskId: string, claimToken?: number | null): Promise<Task> {
    const task = await this.visibleInTx(tx, viewer, taskId);
    const holder = liveHolder(task);
    if (holder && holder !== viewer.id) {
      const name = (await tx.agent.findUnique({ where: { id: holder }, select: { name: true } }))?.name;
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

  /** Writes `data` only if no claim changed since `before` was read. */
  async conditionalUpdate(tx: Tx, before: Task, data: Prisma.TaskUncheckedUpdateManyInput): Promise<Task> {
    const [task] = await tx.task.updateManyAndReturn({ where: { id: before.id, claimEpoch: before.claimEpoch }, data });
    if (!task) throw new ConflictError(`task #${before.number} was claimed meanwhile; read it again`);
    return task;
  }

  /** Journal rows for tasks among `ids` that are ready now, and notices to whoever the work is for. */
  async readyEvents(tx: Tx, actorId: string | null, ids: string[]): Promise<Change[]> {
    if (ids.length === 0) return [];
    const ready = await tx.task.findMany({
      where: { id: { in: ids }, status: "pending", ...readyWhere(new Date()) },
      include: { roles: { select: { agentId: true } } },
    });
    return ready.flatMap(({ roles, ...t }) => {
      // The work is its assignee's and every role holder's, each told once.
      const told = new Set([...(t.assigneeId ? [t.assigneeId] : []), ...roles.map((r) => r.agentId)]);
      return [taskEvent(actorId, t, "task.ready"), ...[...told].map((agentId) => notice(actorId, agentId, t, "task_ready"))];
    });
  }

  // ---- private -------------------------------------------------------------------

  /** Tasks that `task` blocked and that are ready now that it closed. */
  private async unblockedBy(tx: Tx, actorId: string, task: Task): Promise<Change[]> {
    const dependents = await tx.taskDependency.findMany({ where: { blockerId: task.id }, select: { blockedId: true } });
    return this.readyEvents(tx, actorId, dependents.map((d) => d.blockedId));
  }

  private async nudgeFor(tx: Tx, viewer: Viewer, task: Task): Promise<string | null> {
    const recent = await tx.journalEvent.findMany({
      where: { teamId: task.teamId, actorId: viewer.id, kind: "task.completed" },
      orderBy: { id: "desc" },
      take: NUDGE_AFTER,
      select: { subjectId: true },
    });
    const tasks = await tx.task.findMany({ where: { id: { in: recent.map((r) => r.subjectId) } }, select: { verification: true, title: true } });
    return verificationNudge(recent.length < NUDGE_AFTER ? [] : tasks);
  }

  /** Tasks by ID that must be in `teamId`. */
  private async sameTeamTasks(tx: Tx, teamId: string, ids: string[], field: string): Promise<Task[]> {
    if (ids.length === 0) return [];
    const found = await tx.task.findMany({ where: { id: { in: ids }, teamId } });
    const missing = ids.filter((id) => !found.some((t) => t.id === id));
    if (missing.length) throw new BadInputError(field, `no task ${missing.join(", ")} in this team (links stay within one team)`);
    return found;
  }

  /** The order for a new task on a track: the given one if free, else after the last. */
  private async trackSlot(tx: Tx, teamId: string, milestoneId: string | null, track: string, order: number | null): Promise<number> {
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
  private async linkIntoTrack(tx: Tx, task: Task): Promise<void> {
    const where = { teamId: task.teamId, milestoneId: task.milestoneId, track: task.track, id: { not: task.id } };
    const previous = await tx.task.findFirst({ where: { ...where, trackOrder: { lt: task.trackOrder! } }, orderBy: { trackOrder: "desc" } });
    const next = await tx.task.findFirst({ where: { ...where, trackOrder: { gt: task.trackOrder! } }, orderBy: { trackOrder: "asc" } });
    if (previous && next) await tx.taskDependency.deleteMany({ where: { blockerId: previous.id, blockedId: next.id, kind: "track" } });
    if (previous) await tx.taskDependency.create({ data: { blockerId: previous.id, blockedId: task.id, teamId: task.teamId, kind: "track" } });
    if (next) await tx.taskDependency.create({ data: { blockerId: task.id, blockedId: next.id, teamId: task.teamId, kind: "track" } });
  }

  /** Adds blocker → blocked unless it closes a cycle (CONFLICT naming it) or is a self-link. */
  private async link(tx: Tx, blocker: Task, blocked: Task, kind: "explicit" | "track"): Promise<void> {
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

  /** BAD_USER_INPUT on `field` unless the task is the team's: other modules link to a task of the same team only. */
  async requireInTeam(tx: Tx, teamId: string, taskId: string, field = "taskId"): Promise<void> {
    if (!(await tx.task.count({ where: { id: taskId, teamId } }))) throw new BadInputError(field, "must be a task of the same team");
  }
}

/** "#1 → #2 → #3 → #1", with the middle of a long cycle elided. */
function cycleText(named: string[]): string {
  if (named.length <= 12) return named.join(" → ");
  return `${named.slice(0, 5).join(" → ")} → … → ${named.slice(-5).join(" → ")} (${named.length - 1} tasks)`;
}
