// Who I am and my teams.
import { z } from "zod";
import type { Prisma } from "../../generated/prisma/client.js";
import { idempotencyKeyArg, teamArg, teamOf, teamOut, tool } from "../tool.js";

const withMembers = {
  include: {
    lead: { select: { name: true } },
    members: { orderBy: { joinedAt: "asc" }, select: { role: true, agent: { select: { name: true } } } },
  },
} satisfies Prisma.TeamFindManyArgs;
type TeamWithMembers = Prisma.TeamGetPayload<typeof withMembers>;

const members = z.array(z.object({ name: z.string(), role: z.string() }));

export const teamTools = [
  tool({
    name: "whoami",
    description: "Who you are on agent-hq: your agent name, your teams with your role in each, and how many unread messages wait for you.",
    input: z.strictObject({}),
    output: z.object({
      agent: z.object({ id: z.string(), name: z.string() }),
      teams: z.array(teamOut.extend({ role: z.string(), lead: z.boolean(), members: z.number() })),
      unread: z.number(),
    }),
    readOnly: true,
    worker: true,
    run: async ({ services, viewer }) => {
      const teams = (await services.teams.list(viewer, withMembers)) as TeamWithMembers[];
      const unread = await services.messages.unreadCount(viewer);
      const mine = teams.map((t) => ({
        id: t.id,
        name: t.name,
        role: t.members.find((m) => m.agent.name === viewer.name)?.role ?? "",
        lead: t.leadId === viewer.id,
        members: t.members.length,
      }));
      const lines = mine.map((t) => `- ${t.name} (id ${t.id}): your role ${t.role}${t.lead ? ", you are its lead" : ""}; ${t.members} members`);
      const text = [
        `You are ${viewer.name} (agent id ${viewer.id}).`,
        teams.length ? `Your teams:\n${lines.join("\n")}` : "You belong to no team yet: create_team, or ask a lead to add you.",
        `Unread messages: ${unread}${unread ? " (get_messages)" : ""}.`,
      ].join("\n");
      return { text, data: { agent: { id: viewer.id, name: viewer.name }, teams: mine, unread } };
    },
  }),

  tool({
    name: "list_teams",
    description: "Your teams, each with its lead, description and members (name and role).",
    input: z.strictObject({}),
    output: z.object({ teams: z.array(teamOut.extend({ lead: z.string(), description: z.string().optional(), members })) }),
    readOnly: true,
    run: async ({ services, viewer }) => {
      const teams = (await services.teams.list(viewer, withMembers)) as TeamWithMembers[];
      const data = {
        teams: teams.map((t) => ({ id: t.id, name: t.name, lead: t.lead.name, description: t.description ?? undefined, members: t.members.map((m) => ({ name: m.agent.name, role: m.role })) })),
      };
      if (teams.length === 0) return { text: "You belong to no team yet.", data };
      const text = data.teams
        .map((t) => [`${t.name} (id ${t.id}), lead ${t.lead}${t.description ? `: ${t.description}` : ""}`, `  members: ${t.members.map((m) => `${m.name} (${m.role})`).join(", ")}`].join("\n"))
        .join("\n");
      return { text, data };
    },
  }),

  tool({
    name: "create_team",
    description: "Creates a team with you as its lead. Team names are unique among your teams.",
    input: z.strictObject({
      name: z.string().describe("The team's name (1–100 characters)."),
      description: z.string().optional().describe("What the team is for."),
      role: z.string().optional().describe('Your own role in the team (default "lead"), such as planner.'),
      idempotency_key: idempotencyKeyArg,
    }),
    output: z.object({ team: teamOut, role: z.string() }),
    run: async ({ services, viewer }, a) => {
      const role = a.role ?? "lead";
      const team = await services.teams.create(viewer, { name: a.name, description: a.description, role }, a.idempotency_key);
      return { text: `Created team ${team.name} (id ${team.id}). You are its lead, with role ${role}.`, data: { team: { id: team.id, name: team.name }, role } };
    },
  }),

  tool({
    name: "add_team_member",
    description: "Adds a registered agent, by name, to a team with a role (lead only). Members see the team's tasks, messages, context and knowledge.",
    input: z.strictObject({
      team: teamArg,
      agent: z.string().describe("The agent's name."),
      role: z.string().describe("Their role in the team, such as researcher or implementer."),
    }),
    output: z.object({ team: teamOut, agent: z.string(), role: z.string() }),
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const member = await ctx.services.teams.addMember(ctx.viewer, team.id, { agentName: a.agent, role: a.role });
      return { text: `${a.agent} joined ${team.name} as ${member.role}.`, data: { team: { id: team.id, name: team.name }, agent: a.agent, role: member.role } };
    },
  }),
];
