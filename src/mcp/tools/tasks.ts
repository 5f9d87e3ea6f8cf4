// The task board: create, list with readiness, board text, claims, updates, dashboards,
// dependencies and roles. Tasks are named by their board number (#3) in a team, or by ID.
import { z } from "zod";
import type { Prisma } from "../../generated/prisma/client.js";
import { readinessOfRow, readinessSelect, type Readiness } from "../../modules/tasks/readiness.js";
import { PRIORITIES, TASK_STATUSES } from "../../modules/tasks/task-rules.js";
import type { TaskFilter } from "../../modules/tasks/task-inputs.js";
import {
  claimTokenArg,
  excerpt,
  idempotencyKeyArg,
  jsonObject,
  leaseArg,
  limitArg,
  limitOf,
  taskArg,
  taskData,
  taskIdOf,
  taskOut,
  taskRef,
  teamArg,
  teamOf,
  teamOut,
  time,
  tool,
  type ToolContext,
} from "../tool.js";

const LIST_DEFAULT = 50;
const LIST_MAX = 200;

const statusArg = z.enum(TASK_STATUSES);
const priorityArg = z.enum(PRIORITIES).optional().describe("Default medium.");

const lineSelect = {
  id: true,
  number: true,
  title: true,
  priority: true,
  assignee: { select: { name: true } },
  team: { select: { name: true } },
  ...readinessSelect,
} satisfies Prisma.TaskSelect;
type TaskLine = Prisma.TaskGetPayload<{ select: typeof lineSelect }>;

/** A task's line in answers for programs: what taskLine says, as fields. */
const taskLineOut = taskOut.extend({
  team: z.string(),
  status: z.enum(TASK_STATUSES),
  priority: z.enum(PRIORITIES),
  assignee: z.string().optional(),
  ready: z.boolean(),
  readiness: z.string().describe("Why it is or is not claimable now: ready, blocked by #2, claimed by bob until …"),
});

const lineData = (t: TaskLine): z.input<typeof taskLineOut> => {
  const r = readinessOfRow(t);
  return { id: t.id, number: t.number, title: t.title, team: t.team.name, status: t.status as never, priority: t.priority as never, assignee: t.assignee?.name, ready: r.ready, readiness: r.reason };
};

/** `#2 [pending] Implement the API (bob) · blocked by #1 (track main)`: one line a task. */
function taskLine(t: TaskLine): string {
  const priority = t.priority === "medium" ? "" : `, ${t.priority}`;
  const owner = t.assignee ? ` (${t.assignee.name})` : "";
  return `#${t.number} [${t.status}${priority}] ${t.title}${owner}${readinessNote(readinessOfRow(t))}`;
}

function readinessNote(r: Readiness): string {
  if (r.state === "READY") return ` · ready: ${r.reason === "ready" ? "claimable now" : r.reason}`;
  return r.state === "NOT_PENDING" ? "" : ` · not ready: ${r.reason}`;
}

/** A task's readiness, read through the service's visibility filter. */
async function readinessOfTask(ctx: ToolContext, taskId: string): Promise<Readiness> {
  const row = (await ctx.services.tasks.get(ctx.viewer, taskId, { select: readinessSelect })) as unknown as Prisma.TaskGetPayload<{ select: typeof readinessSelect }>;
  return readinessOfRow(row);
}

const dashboardOut = z.object({ task: taskOut, length: z.number().describe("The dashboard's length now, in characters.") });


const detailInclude = {
  team: { select: { name: true } },
  assignee: { select: { name: true } },
  holder: { select: { name: true } },
  roles: { orderBy: { createdAt: "asc" }, select: { role: true, instructions: true, agent: { select: { name: true } } } },
  blockedBy: { select: { kind: true, blocker: { select: { id: true, number: true, title: true, status: true } } } },
} satisfies Prisma.TaskInclude;
type TaskDetail = Prisma.TaskGetPayload<{ include: typeof detailInclude }>;

export const taskTools = [
  tool({
    name: "create_task",
    description:
      "Creates a task on a team's board; it gets the next #number. Tasks on the same track run in order: each is blocked until the one before it is completed or cancelled.",
    input: z.strictObject({
      team: teamArg,
      title: z.string().describe("The subject (at most 500 characters)."),
      description: z.string().optional().describe("The details."),
      priority: priorityArg,
      assignee: z.string().optional().describe("A member's agent name; they get a notice."),
      track: z.string().optional().describe("A track name such as main: tasks on one track run in order."),
      blocked_by: z.array(taskRef).optional().describe("Tasks of the same team that must finish first (numbers or IDs)."),
      active_form: z.string().optional().describe("What the agent working on it is doing right now."),
      verification: z.boolean().optional().describe("Marks it as a task that verifies other work."),
      metadata: jsonObject.optional().describe("Free JSON object (at most 16 KB)."),
      idempotency_key: idempotencyKeyArg,
    }),
    output: z.object({ team: teamOut, task: taskOut.extend({ status: z.enum(TASK_STATUSES), ready: z.boolean(), readiness: z.string() }) }),
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const blockedBy = await Promise.all((a.blocked_by ?? []).map((ref) => taskIdOf(ctx, ref, team.id)));
      const task = await ctx.services.tasks.create(ctx.viewer, team.id, {
        title: a.title,
        description: a.description,
        priority: a.priority,
        assignee: a.assignee,
        track: a.track,
        blockedBy,
        activeForm: a.active_form,
        verification: a.verification,
        metadata: a.metadata,
      }, a.idempotency_key);
      const readiness = await readinessOfTask(ctx, task.id);
      return {
        text: `Created #${task.number} "${task.title}" in ${team.name} (id ${task.id}): ${task.status}, ${readiness.ready ? "claimable now" : `not ready: ${readiness.reason}`}.`,
        data: { team: { id: team.id, name: team.name }, task: { ...taskData(task), status: task.status as never, ready: readiness.ready, readiness: readiness.reason } },
      };
    },
  }),

  tool({
    name: "list_tasks",
    description:
      "Lists a team's tasks, one line each: #number [status] title (assignee), and whether it can be claimed now or why not.",
    input: z.strictObject({
      team: teamArg,
      mine: z.boolean().optional().describe("Only tasks assigned to you or with a role for you, in all your teams."),
      status: z.array(statusArg).optional().describe("Only these statuses."),
      ready: z.boolean().optional().describe("true: only tasks claimable now; false: only those that are not."),
      assignee: z.string().optional().describe("Only tasks assigned to this agent (a name)."),
      track: z.string().optional().describe("Only tasks on this track."),
      role: z.string().optional().describe("Only tasks on which someone has this role."),
      limit: limitArg(LIST_DEFAULT, LIST_MAX),
    }),
    output: z.object({ tasks: z.array(taskLineOut), more: z.boolean().describe("More tasks match than limit.") }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const take = limitOf(a.limit, LIST_DEFAULT, LIST_MAX);
      const filter: TaskFilter = { status: a.status, ready: a.ready, assignee: a.assignee, track: a.track, role: a.role };
      const query = { select: lineSelect, take: take + 1 };
      const rows = (
        a.mine ? await ctx.services.tasks.listMine(ctx.viewer, filter, query) : await ctx.services.tasks.list(ctx.viewer, (await teamOf(ctx, a.team)).id, filter, query)
      ) as unknown as TaskLine[];
      const shown = rows.slice(0, take);
      const data = { tasks: shown.map(lineData), more: rows.length > take };
      if (rows.length === 0) return { text: "No tasks match.", data };
      const teams = new Set(shown.map((t) => t.team.name));
      const lines = shown.map((t) => (teams.size > 1 ? `${t.team.name} ${taskLine(t)}` : taskLine(t)));
      if (data.more) lines.push(`… more tasks: raise limit or filter by status or ready.`);
      return { text: lines.join("\n"), data };
    },
  }),

  tool({
    name: "board",
    description: "The team's board as compact text, one line a task: `#3 [pending] Update unit tests [blocked by #2]`, with the assignee in parentheses.",
    input: z.strictObject({ team: teamArg, status: z.array(statusArg).optional().describe("Only these statuses.") }),
    output: z.object({ team: teamOut, board: z.string().describe("The board's text, one line a task (empty when no task matches).") }),
    readOnly: true,
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const board = await ctx.services.tasks.board(ctx.viewer, team.id, { status: a.status });
      return { text: board || `The board of ${team.name} has no tasks${a.status ? " with that status" : ""}.`, data: { team: { id: team.id, name: team.name }, board } };
    },
  }),

  tool({
    name: "get_task",
    description: "One task in full: description, notes, progress, readiness, its claim's holder and token, roles with instructions, dashboard.",
    input: z.strictObject({ team: teamArg, task: taskArg }),
    output: z.object({
      task: taskOut.extend({
        team: teamOut,
        status: z.enum(TASK_STATUSES),
        priority: z.enum(PRIORITIES),
        progress: z.number(),
        assignee: z.string().optional(),
        track: z.string().optional(),
        verification: z.boolean(),
        ready: z.boolean(),
        readiness: z.string(),
        holder: z.string().optional(),
        claimToken: z.number().optional().describe("While a claim is live."),
        leaseExpiresAt: z.string().optional(),
        activeForm: z.string().optional(),
        description: z.string().optional(),
        notes: z.string().optional(),
        metadata: jsonObject,
        blockedBy: z.array(taskOut.extend({ status: z.enum(TASK_STATUSES) })),
        roles: z.array(z.object({ agent: z.string(), role: z.string(), instructions: z.string().optional() })),
        dashboard: z.string(),
      }),
    }),
    readOnly: true,
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const t = (await ctx.services.tasks.get(ctx.viewer, id, { include: detailInclude })) as TaskDetail;
      const readiness = readinessOfRow(t);
      const lines = [
        `#${t.number} "${t.title}" in ${t.team.name} (id ${t.id})`,
        `status ${t.status}, priority ${t.priority}, progress ${t.progress}%${t.assignee ? `, assignee ${t.assignee.name}` : ""}${t.track ? `, track ${t.track}` : ""}${t.verification ? ", verification task" : ""}`,
        `readiness: ${readiness.reason}`,
      ];
      if (readiness.state === "CLAIMED") lines.push(`claim token: ${t.claimEpoch}`);
      if (t.activeForm) lines.push(`active: ${t.activeForm}`);
      if (t.description) lines.push(`description: ${t.description}`);
      if (t.notes) lines.push(`notes: ${t.notes}`);
      if (Object.keys(t.metadata as object).length) lines.push(`metadata: ${JSON.stringify(t.metadata)}`);
      for (const r of t.roles) lines.push(`role: ${r.agent.name} as ${r.role}${r.instructions ? `: ${r.instructions}` : ""}`);
      if (t.dashboard) lines.push(`dashboard:\n${t.dashboard}`);
      const claimed = readiness.state === "CLAIMED";
      const task = {
        ...taskData(t),
        team: { id: t.teamId, name: t.team.name },
        status: t.status as never,
        priority: t.priority as never,
        progress: t.progress,
        assignee: t.assignee?.name,
        track: t.track ?? undefined,
        verification: t.verification,
        ready: readiness.ready,
        readiness: readiness.reason,
        holder: claimed ? t.holder?.name : undefined,
        claimToken: claimed ? t.claimEpoch : undefined,
        leaseExpiresAt: claimed && t.leaseExpiresAt ? time(t.leaseExpiresAt) : undefined,
        activeForm: t.activeForm ?? undefined,
        description: t.description ?? undefined,
        notes: t.notes ?? undefined,
        metadata: t.metadata as Record<string, unknown>,
        blockedBy: t.blockedBy.map((d) => ({ ...taskData(d.blocker), status: d.blocker.status as never })),
        roles: t.roles.map((r) => ({ agent: r.agent.name, role: r.role, instructions: r.instructions ?? undefined })),
        dashboard: t.dashboard,
      };
      return { text: lines.join("\n"), data: { task } };
    },
  }),

  tool({
    name: "update_task",
    description:
      "Changes a task: status, progress, notes, active form, title, description, priority or assignee. While a claim is live only its holder may. Completing the last blocker makes dependents ready and tells their assignees.",
    input: z.strictObject({
      team: teamArg,
      task: taskArg,
      status: statusArg.optional().describe("The new status."),
      progress: z.number().optional().describe("0–100."),
      notes: z.string().optional().describe("Replaces the notes."),
      active_form: z.string().optional().describe("What you are doing right now."),
      title: z.string().optional().describe("The new title."),
      description: z.string().optional().describe("The new description."),
      priority: priorityArg,
      assignee: z.string().optional().describe('A member\'s agent name; "" unassigns.'),
      verification: z.boolean().optional().describe("Marks it as a task that verifies other work, or not."),
      metadata: jsonObject.optional().describe("Replaces the metadata (a JSON object)."),
      claim_token: claimTokenArg,
    }),
    output: z.object({ task: taskOut.extend({ status: z.enum(TASK_STATUSES), progress: z.number() }), verificationNudge: z.string().optional() }),
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const { task, verificationNudge } = await ctx.services.tasks.update(ctx.viewer, id, {
        status: a.status,
        progress: a.progress,
        notes: a.notes,
        activeForm: a.active_form,
        title: a.title,
        description: a.description,
        priority: a.priority,
        assignee: a.assignee === "" ? null : a.assignee,
        verification: a.verification,
        metadata: a.metadata,
        claimToken: a.claim_token,
      });
      const text = `#${task.number} "${task.title}" is ${task.status}, progress ${task.progress}%.`;
      return {
        text: verificationNudge ? `${text}\n${verificationNudge}` : text,
        data: { task: { ...taskData(task), status: task.status as never, progress: task.progress }, verificationNudge: verificationNudge ?? undefined },
      };
    },
  }),

  tool({
    name: "dashboard_write",
    description: "Replaces a task's dashboard: free text (at most 100,000 characters) where the holder shows its progress.",
    input: z.strictObject({ team: teamArg, task: taskArg, text: z.string().describe("The dashboard's new text."), claim_token: claimTokenArg }),
    output: dashboardOut,
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const task = await ctx.services.tasks.writeDashboard(ctx.viewer, id, a.text, a.claim_token);
      return { text: `Wrote the dashboard of #${task.number} (${task.dashboard.length} characters).`, data: { task: taskData(task), length: task.dashboard.length } };
    },
  }),

  tool({
    name: "dashboard_append",
    description: "Appends a line to a task's dashboard; concurrent appends all land.",
    input: z.strictObject({ team: teamArg, task: taskArg, text: z.string().describe("The line to add."), claim_token: claimTokenArg }),
    output: dashboardOut,
    worker: true,
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const task = await ctx.services.tasks.appendDashboard(ctx.viewer, id, a.text, a.claim_token);
      return { text: `Appended to the dashboard of #${task.number} (now ${task.dashboard.length} characters).`, data: { task: taskData(task), length: task.dashboard.length } };
    },
  }),

  tool({
    name: "add_dependency",
    description: "Records that a task is blocked by another task of the same team. Refused (CONFLICT) when it would close a cycle, naming it.",
    input: z.strictObject({ team: teamArg, task: taskArg, blocked_by: taskRef.describe("The task that must finish first (number or ID).") }),
    output: z.object({ task: taskOut, ready: z.boolean(), readiness: z.string() }),
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const blockerId = await taskIdOf(ctx, a.blocked_by, a.team);
      const task = await ctx.services.dependencies.addDependency(ctx.viewer, id, blockerId);
      const readiness = await readinessOfTask(ctx, task.id);
      return { text: `#${task.number} "${task.title}" now: ${readiness.reason}.`, data: { task: taskData(task), ready: readiness.ready, readiness: readiness.reason } };
    },
  }),

  tool({
    name: "assign_role",
    description: "Gives a team member a role on a task, with instructions (assigning again updates them). They get a notice in their inbox and may claim the task.",
    input: z.strictObject({
      team: teamArg,
      task: taskArg,
      agent: z.string().describe("The member's agent name."),
      role: z.string().describe("Such as implementer or reviewer."),
      instructions: z.string().optional().describe("What they should do in that role."),
    }),
    output: z.object({ task: taskOut, agent: z.string(), role: z.string(), instructions: z.string().optional() }),
    run: async (ctx, a) => {
      const id = await taskIdOf(ctx, a.task, a.team);
      const assignment = await ctx.services.tasks.assignRole(ctx.viewer, id, { agentName: a.agent, role: a.role, instructions: a.instructions });
      const task = await ctx.services.tasks.get(ctx.viewer, assignment.taskId, { select: { id: true, number: true, title: true } });
      return {
        text: `${a.agent} is ${assignment.role} on #${task.number}${assignment.instructions ? ` (instructions: ${excerpt(assignment.instructions, 80)})` : ""}.`,
        data: { task: taskData(task), agent: a.agent, role: assignment.role, instructions: assignment.instructions ?? undefined },
      };
    },
  }),
];
