// Who I am and my teams.
import { z } from "zod";
import type { Prisma } from "../../generated/prisma/client.js";
import { idempotencyKeyArg, teamArg, teamOf, tool } from "../tool.js";

const withMembers = {
  include: {
    lead: { select: { name: true } },
    members: { orderBy: { joinedAt: "asc" }, select: { role: true, agent: { select: { name: true } } } },
  },
} satisfies Prisma.TeamFindManyArgs;
type TeamWithMembers = Prisma.TeamGetPayload<typeof withMembers>;

export const teamTools = [
  tool({
    name: "whoami",
    description: "Who you are on agent-hq: your agent name, your teams with your role in each, and how many unread messages wait for you.",
    input: z.strictObject({}),
    readOnly: true,
    run: async ({ services, viewer }) => {
      const teams = (await services.teams.list(viewer, withMembers)) as TeamWithMembers[];
      const unread = await services.messages.unreadCount(viewer);
      const lines = teams.map((t) => {
        const role = t.members.find((m) => m.agent.name === viewer.name)?.role;
        return `- ${t.name} (id ${t.id}): your role ${role}${t.leadId === viewer.id ? ", you are its lead" : ""}; ${t.members.length} members`;
      });
      return [
        `You are ${viewer.name} (agent id ${viewer.id}).`,
        teams.length ? `Your teams:\n${lines.join("\n")}` : "You belong to no team yet: create_team, or ask a lead to add you.",
        `Unread messages: ${unread}${unread ? " (get_messages)" : ""}.`,
      ].join("\n");
    },
  }),

  tool({
    name: "list_teams",
    description: "Your teams, each with its lead, description and members (name and role).",
    input: z.strictObject({}),
    readOnly: true,
    run: async ({ services, viewer }) => {
      const teams = (await services.teams.list(viewer, withMembers)) as TeamWithMembers[];
      if (teams.length === 0) return "You belong to no team yet.";
      return teams
        .map((t) =>
          [
            `${t.name} (id ${t.id}), lead ${t.lead.name}${t.description ? `: ${t.description}` : ""}`,
            `  members: ${t.members.map((m) => `${m.agent.name} (${m.role})`).join(", ")}`,
          ].join("\n"),
        )
        .join("\n");
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
    run: async ({ services, viewer }, a) => {
      const team = await services.teams.create(viewer, { name: a.name, description: a.description, role: a.role ?? "lead" }, a.idempotency_key);
      return `Created team ${team.name} (id ${team.id}). You are its lead, with role ${a.role ?? "lead"}.`;
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
    run: async (ctx, a) => {
      const team = await teamOf(ctx, a.team);
      const member = await ctx.services.teams.addMember(ctx.viewer, team.id, { agentName: a.agent, role: a.role });
      return `${a.agent} joined ${team.name} as ${member.role}.`;
    },
  }),
];
