// Readiness is defined once (src/modules/tasks/readiness.ts) and read in three languages:
// the predicate (readinessOf), Prisma's where (readyWhere, readyForms: `ready:` list
// filters) and SQL (readyFormSql: the claim's conditional update; readyFormsSql:
// claim-next's candidate reads, "task.ready" events). On generated tasks (random statuses,
// blockers and leases around now) in a real database, each must pick exactly the tasks
// the predicate does. Who may take a task (claim-picks.ts) is held equal the same way.
import { expect, it } from "vitest";
import { Prisma } from "../../src/generated/prisma/client.js";
import { lapsed, lapsedWhere } from "../../src/modules/tasks/lease.js";
import { readinessOfRow, readinessSelect, readyForm, readyForms, readyFormSql, readyFormsSql, readyWhere } from "../../src/modules/tasks/readiness.js";
import { mayTake, roleKey, takeableBy, takeableBySql } from "../../src/modules/tasks/claim-picks.js";
import { TASK_STATUSES } from "../../src/modules/tasks/task-rules.js";
import { openFreshDatabase } from "../helpers/server.js";

const database = openFreshDatabase();

/** A small seeded generator, so a failure can be replayed. */
function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random tasks of one team, each with a status, maybe a claim, maybe blockers among the earlier ones. */
async function generateTasks(seed: number, count: number, now: Date): Promise<string> {
  const random = mulberry32(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  return database().write(async (tx) => {
    const agents = await Promise.all(["a", "b"].map((n) => tx.agent.create({ data: { name: `${n}-${seed}` } })));
    const team = await tx.team.create({ data: { name: `team-${seed}`, leadId: agents[0]!.id, createdById: agents[0]!.id } });
    const ids: string[] = [];
    for (let number = 1; number <= count; number++) {
      const status = pick(TASK_STATUSES);
      // A claim is a holder and a lease end on an in-progress task (lease.ts): ended, live, or ending right now.
      const claimed = status === "in_progress" && random() < 0.7;
      const leaseExpiresAt = claimed ? new Date(now.getTime() + pick([-60_000, -1, 0, 1, 60_000])) : null;
      const task = await tx.task.create({
        data: { teamId: team.id, number, title: `t${number}`, status, metadata: {}, createdById: agents[0]!.id, holderId: claimed ? pick(agents).id : null, leaseExpiresAt },
      });
      const blockers = new Set(ids.length && random() < 0.5 ? Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(ids)) : []);
      for (const blockerId of blockers) await tx.taskDependency.create({ data: { blockerId, blockedId: task.id, teamId: team.id, kind: pick(["explicit", "track"]) } });
      ids.push(task.id);
    }
    return team.id;
  });
}

const idsOf = (rows: { id: string }[]) => rows.map((r) => r.id).sort();

it("the predicate, the Prisma where and the claim's SQL pick the same tasks", async () => {
  for (const seed of [1, 2, 3]) {
    const now = new Date();
    const teamId = await generateTasks(seed, 150, now);
    const tasks = await database().reader.task.findMany({ where: { teamId }, select: { id: true, ...readinessSelect } });
    const ready = tasks.filter((t) => readinessOfRow(t, now).ready);
    // Every state occurs, so each part of the rule is exercised.
    expect(new Set(tasks.map((t) => readinessOfRow(t, now).state))).toEqual(new Set(["READY", "NOT_PENDING", "BLOCKED", "CLAIMED"]));
    expect(ready.some((t) => readyForm(t, now) === "lapsed")).toBe(true);

    const where = (extra: Prisma.TaskWhereInput) => database().reader.task.findMany({ where: { AND: [{ teamId }, extra] }, select: { id: true } });
    expect(idsOf(await where(readyWhere(now)))).toEqual(idsOf(ready));
    expect(idsOf(await where({ NOT: readyWhere(now) }))).toEqual(idsOf(tasks.filter((t) => !ready.includes(t))));
    const [waiting, lapsedForm] = readyForms(now);
    expect(idsOf(await where(waiting))).toEqual(idsOf(ready.filter((t) => readyForm(t, now) === "waiting")));
    expect(idsOf(await where(lapsedForm))).toEqual(idsOf(ready.filter((t) => readyForm(t, now) === "lapsed")));
    // The sweeper's where, and the claim's SQL (blockers aside: the claim read them first).
    expect(idsOf(await where(lapsedWhere(now)))).toEqual(idsOf(tasks.filter((t) => lapsed(t, now))));
    const sql = (condition: Prisma.Sql) => database().reader.$queryRaw<{ id: string }[]>`SELECT "id" FROM "Task" WHERE "teamId" = ${teamId} AND ${condition}`;
    expect(idsOf(await sql(readyFormSql(now)))).toEqual(idsOf(tasks.filter((t) => readyForm(t, now) !== null)));
    // The claim's candidate reads: each form of "ready" in SQL, blockers included.
    const [waitingSql, lapsedSql] = readyFormsSql(now);
    expect(idsOf(await sql(waitingSql))).toEqual(idsOf(ready.filter((t) => readyForm(t, now) === "waiting")));
    expect(idsOf(await sql(lapsedSql))).toEqual(idsOf(ready.filter((t) => readyForm(t, now) === "lapsed")));
  }
});

it("who may take a task: the predicate, the Prisma where and the SQL pick the same tasks", async () => {
  const random = mulberry32(7);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
  const { teamId, agents } = await database().write(async (tx) => {
    const agents = await Promise.all(["p", "q", "r"].map((n) => tx.agent.create({ data: { name: `takers-${n}` } })));
    const team = await tx.team.create({ data: { name: "takers", leadId: agents[0]!.id, createdById: agents[0]!.id } });
    for (let number = 1; number <= 120; number++) {
      const task = await tx.task.create({ data: { teamId: team.id, number, title: `t${number}`, metadata: {}, createdById: agents[0]!.id, assigneeId: random() < 0.5 ? pick(agents).id : null } });
      for (const agent of agents) if (random() < 0.25) await tx.taskRoleAssignment.create({ data: { taskId: task.id, agentId: agent.id, role: pick(["reviewer", "tester"]), assignedById: agents[0]!.id } });
    }
    return { teamId: team.id, agents: agents.map((a) => a.id) };
  });
  const tasks = await database().reader.task.findMany({ where: { teamId }, select: { id: true, number: true, priorityRank: true, assigneeId: true, roles: { select: { agentId: true, role: true } } } });
  for (const takers of [[agents[0]!], [agents[1]!, agents[2]!]]) {
    for (const role of [null, "reviewer"]) {
      const holders = new Set(tasks.flatMap((t) => t.roles.filter((r) => role === null || r.role === role).map((r) => roleKey(t.id, r.agentId))));
      const may = mayTake(role, holders);
      const expected = idsOf(tasks.filter((t) => takers.some((agent) => may(agent, t))));
      expect(idsOf(await database().reader.task.findMany({ where: { AND: [{ teamId }, takeableBy(takers, role)] }, select: { id: true } }))).toEqual(expected);
      const bySql = await database().reader.$queryRaw<{ id: string }[]>`SELECT "id" FROM "Task" WHERE "teamId" = ${teamId} AND ${takeableBySql(database().dialect.strings(takers), role)}`;
      expect(idsOf(bySql)).toEqual(expected);
      expect(expected.length).toBeGreaterThan(0);
      expect(expected.length).toBeLessThan(tasks.length);
    }
  }
});
