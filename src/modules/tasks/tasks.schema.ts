import type { Task } from "../../generated/prisma/client.js";
import { builder } from "../../graphql/builder.js";
import { requireViewer, rowForSelection } from "../../graphql/context.js";
import { enumOf } from "../../graphql/enum-of.js";
import { liveEvents } from "../../graphql/live.js";
import { connectionRowSelection } from "../../graphql/row-selection.js";
import { taskPageQuery, taskPages } from "../../graphql/task-pages.js";
import { IDEMPOTENCY_KEY_HELP } from "../idempotency/idempotency.service.js";
import { JournalEventRef } from "../journal/journal.schema.js";
import type { Claim } from "./claims.service.js";
import { BLOCKED_BY_ORDER, readinessOfRow, readinessSelect, type Readiness, type ReadinessState } from "./readiness.js";
import { BLOCKS_ORDER } from "./task-relations.js";
import { PRIORITIES, TASK_STATUSES } from "./task-rules.js";

const TaskStatusEnum = enumOf("TaskStatus", TASK_STATUSES);
const TaskPriorityEnum = enumOf("TaskPriority", PRIORITIES);
const ReadinessStateEnum = enumOf<ReadinessState>("ReadinessState", {
  READY: "Pending, every blocker closed, no live claim.",
  NOT_PENDING: "In progress without a claim, or finished.",
  BLOCKED: "A blocker (possibly the track predecessor) is not completed or cancelled.",
  CLAIMED: "Held by a live claim.",
});

const TaskBlockerRef = builder.objectRef<Readiness["openBlockers"][number]>("TaskBlocker").implement({
  description: "An open blocker of a task.",
  fields: (t) => ({
    id: t.exposeID("id"),
    number: t.exposeInt("number"),
    title: t.exposeString("title"),
    status: t.field({ type: TaskStatusEnum, resolve: (b) => b.status as (typeof TASK_STATUSES)[number] }),
    track: t.boolean({ description: "Whether this is the task before it on its track.", resolve: (b) => b.kind === "track" }),
  }),
});

const ReadinessRef = builder.objectRef<Readiness>("TaskReadiness").implement({
  description: "Whether a task can be claimed now, and if not, why.",
  fields: (t) => ({
    ready: t.exposeBoolean("ready"),
    state: t.field({ type: ReadinessStateEnum, resolve: (r) => r.state }),
    reason: t.exposeString("reason", { description: "One line: ready, blocked by #2 (track main), claimed by worker until …" }),
    openBlockers: t.field({ type: [TaskBlockerRef], resolve: (r) => r.openBlockers }),
    leaseExpiresAt: t.expose("leaseExpiresAt", { type: "DateTime", nullable: true }),
  }),
});

// Relations get a stated order (BLOCKED_BY_ORDER, BLOCKS_ORDER: task-relations.ts reads them in
// the same); readiness reads `blockedBy` in that order too, so that Pothos reads it once for both.
export const TaskRef = builder.prismaObject("Task", {
  description: "A task on a team's board. `number` is its #n within the team.",
  fields: (t) => ({
    id: t.exposeID("id"),
    number: t.exposeInt("number"),
    team: t.relation("team"),
    title: t.exposeString("title"),
    description: t.exposeString("description", { nullable: true }),
    // Exposed, not resolved: a list reads only the columns of exposed fields (row-selection.ts).
    // Prisma types the columns as strings, which only ever hold the enums' values (task-rules).
    // No `select`: the plugin includes, never selects, and a field with a selection pays the
    // plugin's loaded-check on every row of a list.
    status: t.expose("status" as never, { type: TaskStatusEnum }),
    priority: t.expose("priority" as never, { type: TaskPriorityEnum }),
    assignee: t.relation("assignee", { nullable: true }),
    activeForm: t.exposeString("activeForm", { nullable: true, description: "What the agent working on it is doing right now." }),
    progress: t.exposeInt("progress", { description: "0–100." }),
    notes: t.exposeString("notes", { nullable: true }),
    metadata: t.expose("metadata", { type: "JSONObject" }),
    dashboard: t.exposeString("dashboard", { description: "Free text the holder writes and appends to." }),
    verification: t.exposeBoolean("verification", { description: "Marked as a verification task." }),
    milestone: t.relation("milestone", { nullable: true }),
    track: t.exposeString("track", { nullable: true }),
    trackOrder: t.exposeInt("trackOrder", { nullable: true }),
    createdBy: t.relation("createdBy"),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    closedAt: t.expose("closedAt", { type: "DateTime", nullable: true }),
    holder: t.relation("holder", { nullable: true, description: "Who holds the claim (it may have run out: see readiness)." }),
    claimToken: t.exposeInt("claimEpoch", { description: "The current claim's fencing token (counts claims)." }),
    leaseExpiresAt: t.expose("leaseExpiresAt", { type: "DateTime", nullable: true }),
    blockedBy: t.relation("blockedBy", { query: { orderBy: BLOCKED_BY_ORDER } }),
    blocks: t.relation("blocks", { query: { orderBy: BLOCKS_ORDER } }),
    readiness: t.field({
      type: ReadinessRef,
      select: readinessSelect,
      resolve: (task) => readinessOfRow(task),
    }),
    roles: t.relation("roles"),
    findings: t.relation("findings", { query: { orderBy: { createdAt: "asc" } } }),
  }),
});

builder.prismaObject("TaskDependency", {
  description: "`blocker` blocks `blocked`. Kind `track` links a task to the one before it on its track.",
  fields: (t) => ({
    kind: t.exposeString("kind"),
    blocker: t.relation("blocker"),
    blocked: t.relation("blocked"),
  }),
});

builder.prismaObject("TaskRoleAssignment", {
  description: "A role an agent has on a task, with instructions.",
  fields: (t) => ({
    id: t.exposeID("id"),
    task: t.relation("task"),
    agent: t.relation("agent"),
    role: t.exposeString("role"),
    instructions: t.exposeString("instructions", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("TaskFinding", {
  description: "A finding on a task: JSON other agents read, with its author and time.",
  fields: (t) => ({
    id: t.exposeID("id"),
    author: t.relation("author"),
    data: t.expose("data", { type: "JSONObject" }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
  }),
});

builder.prismaObject("Milestone", {
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    tasks: t.relation("tasks", { query: { orderBy: [{ track: "asc" }, { trackOrder: "asc" }, { number: "asc" }] } }),
  }),
});

const ClaimRef = builder.objectRef<Claim>("Claim").implement({
  description: "A claim on a task: held until `expiresAt`; `token` is its fencing token.",
  fields: (t) => ({
    // The claimed row as the claim wrote it: its fields need no second read (relations
    // asked for are loaded by the Prisma plugin, batched).
    task: t.field({ type: TaskRef, resolve: (claim) => claim.task }),
    token: t.exposeInt("token", { description: "Pass it as claimToken with writes to prove the claim is still yours." }),
    expiresAt: t.expose("expiresAt", { type: "DateTime" }),
  }),
});

const TaskFilterInput = builder.inputType("TaskFilter", {
  fields: (t) => ({
    status: t.field({ type: [TaskStatusEnum] }),
    assignee: t.string({ description: "An agent name." }),
    ready: t.boolean({ description: "Only tasks that are (or are not) ready to claim now." }),
    milestoneId: t.id(),
    track: t.string(),
    role: t.string({ description: "Only tasks on which someone has this role." }),
  }),
});

const CreateTaskInput = builder.inputType("CreateTaskInput", {
  fields: (t) => ({
    title: t.string({ required: true, description: "The subject (at most 500 characters)." }),
    description: t.string(),
    status: t.field({ type: TaskStatusEnum, description: "PENDING (default) or IN_PROGRESS." }),
    priority: t.field({ type: TaskPriorityEnum, description: "Default MEDIUM." }),
    assignee: t.string({ description: "A member's agent name." }),
    activeForm: t.string(),
    progress: t.int(),
    notes: t.string(),
    metadata: t.field({ type: "JSONObject" }),
    verification: t.boolean({ description: "Mark it as a verification task." }),
    milestoneId: t.id(),
    track: t.string({ description: "Tasks on one track (of a milestone) run in track order." }),
    trackOrder: t.int({ description: "Position on the track; default: after the last." }),
    blockedBy: t.idList({ description: "Tasks of the same team that block this one." }),
  }),
});

const UpdateTaskInput = builder.inputType("UpdateTaskInput", {
  fields: (t) => ({
    title: t.string(),
    description: t.string(),
    status: t.field({ type: TaskStatusEnum }),
    priority: t.field({ type: TaskPriorityEnum }),
    assignee: t.string({ description: "A member's agent name; null unassigns." }),
    activeForm: t.string(),
    progress: t.int({ description: "0–100." }),
    notes: t.string(),
    metadata: t.field({ type: "JSONObject" }),
    verification: t.boolean(),
    claimToken: t.int({ description: "The fencing token of your claim; refused if it is no longer current." }),
  }),
});

const UpdateTaskPayload = builder.objectRef<{ task: Task; verificationNudge: string | null }>("UpdateTaskPayload").implement({
  fields: (t) => ({
    task: t.prismaField({ type: "Task", resolve: (query, payload, _args, ctx) => rowForSelection(query, payload.task, ctx.reader.task) }),
    verificationNudge: t.exposeString("verificationNudge", {
      nullable: true,
      description: "Set when you have completed several tasks in a row and none was a verification task.",
    }),
  }),
});

builder.prismaObjectFields("Team", (t) => ({
  tasks: t.connection({
    type: TaskRef,
    description: "The team's tasks by number.",
    args: { filter: t.arg({ type: TaskFilterInput }) },
    resolve: async (team, args, ctx, info) => {
      const wanted = connectionRowSelection(info);
      const tasks = await ctx.services.tasks.list(requireViewer(ctx), team.id, args.filter ?? {}, await taskPageQuery(args, ctx, info, wanted), wanted);
      ctx.keptReads?.taskPage(team.id, args.filter, tasks, wanted);
      return taskPages.resolve(tasks, args, ctx, team);
    },
  }),
  task: t.prismaField({
    type: "Task",
    description: "The team's task #number.",
    args: { number: t.arg.int({ required: true }) },
    resolve: (query, team, { number }, ctx) => ctx.services.tasks.byNumber(requireViewer(ctx), team.id, number, query),
  }),
  board: t.string({
    description: "The board as text, one line a task: `#3 [pending] Update unit tests [blocked by #2]`, with the owner in parentheses.",
    args: { filter: t.arg({ type: TaskFilterInput }) },
    resolve: (team, { filter }, ctx) => ctx.services.tasks.board(requireViewer(ctx), team.id, filter ?? {}),
  }),
  milestones: t.relation("milestones", { query: { orderBy: { createdAt: "asc" } } }),
}));

builder.queryFields((t) => ({
  task: t.prismaField({
    type: "Task",
    description: "A task of one of my teams.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, { id }, ctx) => ctx.services.tasks.get(requireViewer(ctx), id, query),
  }),
  myTasks: t.prismaConnection({
    type: "Task",
    cursor: "id",
    description: "Tasks assigned to me, or on which I have a role, in all my teams.",
    args: { filter: t.arg({ type: TaskFilterInput }) },
    resolve: (query, _root, { filter }, ctx, info) => ctx.services.tasks.listMine(requireViewer(ctx), filter ?? {}, query, connectionRowSelection(info)),
  }),
  myRoleAssignments: t.prismaField({
    type: ["TaskRoleAssignment"],
    description: "The roles I have on tasks, with their instructions.",
    resolve: (query, _root, _args, ctx) => ctx.services.tasks.myRoleAssignments(requireViewer(ctx), query),
  }),
}));

builder.mutationFields((t) => ({
  createMilestone: t.prismaField({
    type: "Milestone",
    args: { teamId: t.arg.id({ required: true }), name: t.arg.string({ required: true }), description: t.arg.string(), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: (_query, _root, { teamId, name, description, idempotencyKey }, ctx) =>
      ctx.services.tasks.createMilestone(requireViewer(ctx), teamId, { name, description }, idempotencyKey),
  }),
  createTask: t.prismaField({
    type: "Task",
    description: "Creates a task on a team's board with the next number.",
    args: { teamId: t.arg.id({ required: true }), input: t.arg({ type: CreateTaskInput, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { teamId, input, idempotencyKey }, ctx) => {
      const task = await ctx.services.tasks.create(
        requireViewer(ctx),
        teamId,
        input,
        idempotencyKey,
      );
      return rowForSelection(query, task, ctx.reader.task);
    },
  }),
  updateTask: t.field({
    type: UpdateTaskPayload,
    description: "Changes status, progress, notes, active form, priority, metadata or assignee. While a claim is live only its holder may.",
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateTaskInput, required: true }) },
    resolve: async (_root, { id, input }, ctx) => {
      const { task, verificationNudge } = await ctx.services.tasks.update(requireViewer(ctx), id, input);
      return { task, verificationNudge };
    },
  }),
  cancelTask: t.prismaField({
    type: "Task",
    args: { id: t.arg.id({ required: true }), claimToken: t.arg.int() },
    resolve: async (query, _root, { id, claimToken }, ctx) => rowForSelection(query, (await ctx.services.tasks.cancel(requireViewer(ctx), id, claimToken)).task, ctx.reader.task),
  }),
}));

// Dependencies and the dashboard.
builder.mutationFields((t) => ({
  addTaskDependency: t.prismaField({
    type: "Task",
    description: "Records that the task is blocked by another task of the same team. Refused (CONFLICT) when it would close a cycle.",
    args: { id: t.arg.id({ required: true }), blockedById: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id, blockedById }, ctx) =>
      rowForSelection(query, await ctx.services.dependencies.addDependency(requireViewer(ctx), id, blockedById), ctx.reader.task),
  }),
  removeTaskDependency: t.prismaField({
    type: "Task",
    args: { id: t.arg.id({ required: true }), blockedById: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id, blockedById }, ctx) =>
      rowForSelection(query, await ctx.services.dependencies.removeDependency(requireViewer(ctx), id, blockedById), ctx.reader.task),
  }),
  writeTaskDashboard: t.prismaField({
    type: "Task",
    description: "Replaces the task's dashboard text.",
    args: { id: t.arg.id({ required: true }), text: t.arg.string({ required: true }), claimToken: t.arg.int() },
    resolve: async (query, _root, { id, text, claimToken }, ctx) =>
      rowForSelection(query, await ctx.services.tasks.writeDashboard(requireViewer(ctx), id, text, claimToken), ctx.reader.task),
  }),
  appendTaskDashboard: t.prismaField({
    type: "Task",
    description: "Appends a line to the task's dashboard; concurrent appends all land.",
    args: { id: t.arg.id({ required: true }), text: t.arg.string({ required: true }), claimToken: t.arg.int() },
    resolve: async (query, _root, { id, text, claimToken }, ctx) =>
      rowForSelection(query, await ctx.services.tasks.appendDashboard(requireViewer(ctx), id, text, claimToken), ctx.reader.task),
  }),
  addTaskFinding: t.prismaField({
    type: "TaskFinding",
    description: "Attaches a finding (a JSON object) that other agents read from the task.",
    args: { id: t.arg.id({ required: true }), data: t.arg({ type: "JSONObject", required: true }), claimToken: t.arg.int(), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: (_query, _root, { id, data, claimToken, idempotencyKey }, ctx) => ctx.services.tasks.addFinding(requireViewer(ctx), id, data, claimToken, idempotencyKey),
  }),
  assignTaskRole: t.prismaField({
    type: "TaskRoleAssignment",
    description: "Gives a member a role on a task with instructions (again: updates them). The member is told.",
    args: { id: t.arg.id({ required: true }), agentName: t.arg.string({ required: true }), role: t.arg.string({ required: true }), instructions: t.arg.string() },
    resolve: (_query, _root, { id, agentName, role, instructions }, ctx) =>
      ctx.services.tasks.assignRole(requireViewer(ctx), id, { agentName, role, instructions }),
  }),
}));

// Claims: a task held for a while, with a fencing token.
builder.mutationFields((t) => ({
  claimTask: t.field({
    type: ClaimRef,
    description: "Claims a ready task for leaseSeconds (default 300). Sets it in progress and assigns it to you.",
    args: { id: t.arg.id({ required: true }), leaseSeconds: t.arg.int() },
    resolve: (_root, { id, leaseSeconds }, ctx) => ctx.services.claims.claim(requireViewer(ctx), id, { leaseSeconds }),
  }),
  claimNextTask: t.field({
    type: ClaimRef,
    nullable: true,
    description: "Atomically claims the best ready task for you in a team (highest priority, then oldest), or returns null.",
    args: { teamId: t.arg.id({ required: true }), role: t.arg.string(), track: t.arg.string(), milestoneId: t.arg.id(), leaseSeconds: t.arg.int() },
    resolve: (_root, { teamId, role, track, milestoneId, leaseSeconds }, ctx) =>
      ctx.services.claims.claimNext(requireViewer(ctx), teamId, { role, track, milestoneId: milestoneId ?? null, leaseSeconds }),
  }),
  renewClaim: t.field({
    type: ClaimRef,
    args: { id: t.arg.id({ required: true }), leaseSeconds: t.arg.int(), claimToken: t.arg.int() },
    resolve: (_root, { id, leaseSeconds, claimToken }, ctx) => ctx.services.claims.renew(requireViewer(ctx), id, { leaseSeconds, claimToken }),
  }),
  takeBackClaim: t.prismaField({
    type: "Task",
    description:
      "The team's lead takes back a live claim (its holder went silent): the task is ready again, the holder is told (notice.lease_lost, reason taken_back) and its old claim token stops working; the journal names the lead (task.claim_taken_back).",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (query, _root, { id }, ctx) => rowForSelection(query, await ctx.services.claims.takeBack(requireViewer(ctx), id), ctx.reader.task),
  }),
  releaseTask: t.prismaField({
    type: "Task",
    description: "Gives your claim back; the task is ready for others again.",
    args: { id: t.arg.id({ required: true }), claimToken: t.arg.int() },
    resolve: async (query, _root, { id, claimToken }, ctx) => rowForSelection(query, await ctx.services.claims.release(requireViewer(ctx), id, { claimToken }), ctx.reader.task),
  }),
}));

builder.subscriptionFields((t) => ({
  taskEvents: t.field({
    type: JournalEventRef,
    description: "A team's task events (created, updated, claimed, released, lease_expired, ready, completed, …), replayed after `after`, then live.",
    args: {
      teamId: t.arg.id({ required: true }),
      after: t.arg.int(),
      taskId: t.arg.id(),
      assignee: t.arg.id({ description: "An agent ID: only events of tasks assigned to them." }),
      kinds: t.arg.stringList(),
    },
    subscribe: async (_root, { teamId, after, taskId, assignee, kinds }, ctx) => {
      const viewer = requireViewer(ctx);
      await ctx.services.tasks.checkEventFilter(viewer, teamId, { taskId: taskId ?? null, assigneeId: assignee ?? null });
      const events = await ctx.services.teams.events(viewer, teamId, {
        after,
        kinds,
        where: (row) =>
          row.kind.startsWith("task.") &&
          (taskId == null || row.subjectId === taskId) &&
          (assignee == null || (row.payload as { assigneeId?: string }).assigneeId === assignee),
      });
      return liveEvents(ctx, events, ctx.services.presence.subscribed(viewer.id));
    },
    resolve: (row) => row,
  }),
}));
