// Who sees a task is defined once (TeamService.visibleTo: the task's team has the agent as
// a member) and read in two languages: Prisma's where (every read) and SQL (visibleSql:
// the statements a write runs straight, Database.rows). On a real database with agents in
// no team, one team or several, both must pick exactly the same tasks for every agent.
import { expect, it } from "vitest";
import { Prisma } from "../../src/generated/prisma/client.js";
import { TaskService } from "../../src/modules/tasks/tasks.service.js";
import { openFreshDatabase } from "../helpers/server.js";

const database = openFreshDatabase();

it("Prisma's where and the SQL form pick the same tasks for every agent", async () => {
  // Agents 0–4; teams with members {0,1}, {1,2}, {3}; agent 4 belongs to none.
  const memberships = [[0, 1], [1, 2], [3]];
  const agents = await database().write((tx) => Promise.all([0, 1, 2, 3, 4].map((n) => tx.agent.create({ data: { name: `visible-${n}` } }))));
  await database().write(async (tx) => {
    for (const [t, members] of memberships.entries()) {
      const team = await tx.team.create({ data: { name: `team-${t}`, leadId: agents[members[0]!]!.id, createdById: agents[members[0]!]!.id } });
      for (const m of members) await tx.teamMember.create({ data: { teamId: team.id, agentId: agents[m]!.id, role: "member" } });
      for (let number = 1; number <= 3; number++) {
        await tx.task.create({ data: { teamId: team.id, number, title: `t${t}.${number}`, metadata: {}, createdById: agents[members[0]!]!.id } });
      }
    }
  });
  const seen: number[] = [];
  for (const agent of agents) {
    const viaPrisma = (await database().reader.task.findMany({ where: TaskService.visibleTo(agent.id), select: { id: true } })).map((t) => t.id).sort();
    const viaSql = (await database().write((tx) => database().rows<{ id: string }>(tx, Prisma.sql`SELECT "id" FROM "Task" WHERE ${TaskService.visibleSql(agent.id)}`))).map((t) => t.id).sort();
    expect(viaSql).toEqual(viaPrisma);
    seen.push(viaSql.length);
  }
  // Two teams, one, one, one and none: every case of the rule occurs.
  expect(seen).toEqual([3, 6, 3, 3, 0]);
});
