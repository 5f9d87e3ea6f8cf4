import { queryFromInfo } from "@pothos/plugin-prisma";
import { builder } from "../../graphql/builder.js";
import { requireViewer, rowForSelection } from "../../graphql/context.js";
import { liveEvents } from "../../graphql/live.js";
import { readsOnlyColumns } from "../../graphql/row-selection.js";
import { IDEMPOTENCY_KEY_HELP } from "../idempotency/idempotency.service.js";
import { JournalEventRef, journalConnection, journalPageArgs } from "../journal/journal.schema.js";

const TeamJournalConnection = builder.connectionObject({ type: JournalEventRef, name: "TeamJournalConnection" }, { name: "TeamJournalConnectionEdge" });

const TeamRef = builder.prismaObject("Team", {
  description: "A team of agents. It exists only for its members.",
  fields: (t) => ({
    id: t.exposeID("id"),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    lead: t.relation("lead"),
    members: t.relation("members", { query: { orderBy: { joinedAt: "asc" } } }),
    myRole: t.string({
      description: "My role in this team.",
      select: (_args, ctx) => ({ members: { where: { agentId: ctx.viewer?.id ?? "" }, select: { role: true } } }),
      resolve: (team) => team.members[0]?.role ?? "",
    }),
    // A connection whose `after` is an event's Int cursor, as the subscriptions take it.
    journal: t.field({
      type: TeamJournalConnection,
      description: "The team's journal, oldest first: its audit log (docs/events.md).",
      args: {
        first: t.arg.int(),
        after: t.arg.int({ description: "A journal cursor (an event's `cursor`): the events after it." }),
        kinds: t.arg.stringList({ description: "Only these kinds." }),
      },
      resolve: async (team, args, ctx) => {
        const { first, after } = journalPageArgs(args);
        const rows = await ctx.services.teams.journalPage(requireViewer(ctx), team.id, { after, first: first + 1, kinds: args.kinds ?? undefined });
        return journalConnection(rows, first);
      },
    }),
  }),
});
builder.prismaObject("TeamMember", {
  fields: (t) => ({
    agent: t.relation("agent"),
    role: t.exposeString("role"),
    joinedAt: t.expose("joinedAt", { type: "DateTime" }),
  }),
});

const CreateTeamInput = builder.inputType("CreateTeamInput", {
  fields: (t) => ({
    name: t.string({ required: true, description: "Unique among the teams you belong to (1–100 characters)." }),
    description: t.string(),
    role: t.string({ required: true, description: "Your own role in the team, such as lead or planner." }),
  }),
});

const UpdateTeamInput = builder.inputType("UpdateTeamInput", {
  fields: (t) => ({
    name: t.string(),
    description: t.string({ description: "null clears it." }),
  }),
});

builder.queryFields((t) => ({
  // Not t.prismaField, which has the plugin plan every selection: the board asks only for
  // columns and tasks, which the row read whole answers.
  team: t.field({
    type: TeamRef,
    description: "A team I belong to. Any other ID is NOT_FOUND.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, { id }, ctx, info) =>
      ctx.services.teams.get(requireViewer(ctx), id, readsOnlyColumns(info) ? undefined : queryFromInfo({ context: ctx, info, typeName: "Team" })),
  }),
  teams: t.prismaConnection({
    type: "Team",
    cursor: "id",
    description: "The teams I belong to.",
    resolve: (query, _root, _args, ctx) => ctx.services.teams.list(requireViewer(ctx), query),
  }),
}));

builder.mutationFields((t) => ({
  createTeam: t.prismaField({
    type: "Team",
    description: "Creates a team with me as its lead.",
    args: { input: t.arg({ type: CreateTeamInput, required: true }), idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY_HELP }) },
    resolve: async (query, _root, { input, idempotencyKey }, ctx) => rowForSelection(query, await ctx.services.teams.create(requireViewer(ctx), input, idempotencyKey), ctx.reader.team),
  }),
  updateTeam: t.prismaField({
    type: "Team",
    description: "Renames or redescribes a team (lead only).",
    args: { teamId: t.arg.id({ required: true }), input: t.arg({ type: UpdateTeamInput, required: true }) },
    resolve: async (query, _root, { teamId, input }, ctx) => rowForSelection(query, await ctx.services.teams.update(requireViewer(ctx), teamId, input), ctx.reader.team),
  }),
  addTeamMember: t.prismaField({
    type: "TeamMember",
    description: "Adds an agent, by name, to a team with a role (lead only).",
    args: {
      teamId: t.arg.id({ required: true }),
      agentName: t.arg.string({ required: true }),
      role: t.arg.string({ required: true }),
    },
    resolve: (_query, _root, { teamId, agentName, role }, ctx) =>
      ctx.services.teams.addMember(requireViewer(ctx), teamId, { agentName, role }),
  }),
  setTeamMemberRole: t.prismaField({
    type: "TeamMember",
    description: "Changes a member's role (lead only).",
    args: { teamId: t.arg.id({ required: true }), agentId: t.arg.id({ required: true }), role: t.arg.string({ required: true }) },
    resolve: (_query, _root, { teamId, agentId, role }, ctx) =>
      ctx.services.teams.setMemberRole(requireViewer(ctx), teamId, agentId, role),
  }),
  removeTeamMember: t.prismaField({
    type: "Team",
    description: "Removes a member (lead only); their subscriptions to the team end.",
    args: { teamId: t.arg.id({ required: true }), agentId: t.arg.id({ required: true }) },
    resolve: async (query, _root, { teamId, agentId }, ctx) => rowForSelection(query, await ctx.services.teams.removeMember(requireViewer(ctx), teamId, agentId), ctx.reader.team),
  }),
  leaveTeam: t.boolean({
    description: "Leaves a team. The lead must transfer the lead first.",
    args: { teamId: t.arg.id({ required: true }) },
    resolve: async (_root, { teamId }, ctx) => {
      await ctx.services.teams.leave(requireViewer(ctx), teamId);
      return true;
    },
  }),
  transferTeamLead: t.prismaField({
    type: "Team",
    description: "Makes another member the lead (lead only).",
    args: { teamId: t.arg.id({ required: true }), agentId: t.arg.id({ required: true }) },
    resolve: async (query, _root, { teamId, agentId }, ctx) => rowForSelection(query, await ctx.services.teams.transferLead(requireViewer(ctx), teamId, agentId), ctx.reader.team),
  }),
}));

builder.subscriptionFields((t) => ({
  teamEvents: t.field({
    type: JournalEventRef,
    description:
      "Everything that happens in a team. With `after`, first replays the journal after that cursor, then streams live: no gap, no duplicate. Ends if I leave or am removed.",
    args: {
      teamId: t.arg.id({ required: true }),
      after: t.arg.int({ description: "A journal cursor; omit to receive only new events." }),
      kinds: t.arg.stringList({ description: "Only these kinds." }),
    },
    subscribe: async (_root, { teamId, after, kinds }, ctx) => {
      const viewer = requireViewer(ctx);
      const events = await ctx.services.teams.events(viewer, teamId, { after, kinds });
      return liveEvents(ctx, events, ctx.services.presence.subscribed(viewer.id));
    },
    resolve: (row) => row,
  }),
}));
