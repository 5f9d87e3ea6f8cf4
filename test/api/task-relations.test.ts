// Task lists read their tasks' assignees, holders, creators, blockers and blocked tasks in
// one statement (modules/tasks/task-relations.ts) instead of one Prisma query per level.
// These tests hold that path to Prisma's answers, field for field, and count statements.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Prisma } from "../../src/generated/prisma/client.js";
import type { Viewer } from "../../src/modules/agents/agents.service.js";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { fewestStatements, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let worker: TestAgent;
let other: TestAgent;
let teamId: string;
let otherTeamId: string;
const ids: Record<string, string> = {};

const CREATE = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id } }`;

async function create(agent: TestAgent, team: string, key: string, input: Record<string, unknown>) {
  ids[key] = (await agent.ok(CREATE, { t: team, input })).createTask.id;
  return ids[key]!;
}

beforeAll(async () => {
  // No presence flush (agents' lastSeenAt must not change between two reads), and no lease
  // sweep or journal poll running statements while statements are counted.
  // Without the response cache: every read here must take the data path it measures.
  server = await startServer({ PRESENCE_FLUSH_MS: "300000", LEASE_SWEEP_MS: "60000", JOURNAL_POLL_MS: "60000", RESPONSE_CACHE_MB: "0" });
  lead = await registerAgent(server, "rel-lead", { description: "plans the work" });
  worker = await registerAgent(server, "rel-worker");
  other = await registerAgent(server, "rel-other");
  teamId = await createTeam(lead, "relations", [[worker, "implementer"], [other, "reviewer"]]);
  otherTeamId = await createTeam(other, "elsewhere", [[worker, "implementer"]]);

  const milestone = (await lead.ok(`mutation($t: ID!) { createMilestone(teamId: $t, name: "m1") { id } }`, { t: teamId })).createMilestone.id;
  await create(lead, teamId, "root", {
    title: "root",
    description: "the first task",
    assignee: lead.name,
    priority: "URGENT",
    activeForm: "Planning",
    progress: 40,
    notes: "some notes",
    metadata: { nested: { list: [1, "two", null, { deep: true }] }, flag: false, n: 1.5 },
    verification: true,
  });
  await create(lead, teamId, "loose", { title: "no assignee, no blockers" });
  await create(lead, teamId, "one", { title: "one blocker", assignee: worker.name, blockedBy: [ids.root] });
  await create(lead, teamId, "two", { title: "two blockers", assignee: other.name, blockedBy: [ids.one, ids.root, ids.loose] });
  await create(lead, teamId, "trackA", { title: "track first", milestoneId: milestone, track: "main" });
  await create(lead, teamId, "trackB", { title: "track second", milestoneId: milestone, track: "main", assignee: worker.name });
  await create(lead, teamId, "done", { title: "completed" });
  await lead.ok(`mutation($id: ID!) { updateTask(id: $id, input: { status: COMPLETED }) { task { id } } }`, { id: ids.done });
  await create(lead, teamId, "claimed", { title: "claimed", blockedBy: [ids.done] });
  await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 600) { token } }`, { id: ids.claimed });
  // A link added later, pointing back to an older task.
  await lead.ok(`mutation($id: ID!, $b: ID!) { addTaskDependency(id: $id, blockedById: $b) { id } }`, { id: ids.root, b: ids.done });
  await create(other, otherTeamId, "foreign", { title: "another team's task", assignee: worker.name });
  await create(other, otherTeamId, "foreign2", { title: "blocked there", blockedBy: [ids.foreign] });
});
afterAll(() => server.close());

const viewer = (agent: TestAgent): Viewer => ({ id: agent.id, name: agent.name, tokenId: "test" });

// Every scalar field of Task, Agent and TaskDependency the schema exposes (an agent's
// lastSeenAt and online move with every request, so they are compared below the API).
const AGENT = `id name description createdAt`;
const TASK = `id number title description status priority activeForm progress notes metadata dashboard verification
  track trackOrder createdAt updatedAt closedAt claimToken leaseExpiresAt
  assignee { ${AGENT} } holder { ${AGENT} } createdBy { ${AGENT} }`;
const node = (extra = "") => `${TASK}
  readiness { ready state reason leaseExpiresAt openBlockers { id number title status track } }
  blockedBy { kind blocker { ${TASK} ${extra} } }
  blocks { kind blocked { ${TASK} ${extra} } }`;
const PAGE = (extra = "") => `query($t: ID!) { team(id: $t) { tasks(first: 9) { edges { node { ${node(extra)} } } } } }`;
const ONE = `query($id: ID!) { task(id: $id) { ${node()} } }`;

/** Drops `roles` (asked only to force Prisma's path) from an answer. */
const withoutRoles = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (key, v) => (key === "roles" ? undefined : v)));

const statements = <T>(run: () => Promise<T>) => fewestStatements(server, run);

describe("a task page reads its relations in one statement", () => {
  it("the board page takes two statements: the team, and the page with its relations", async () => {
    const BOARD = `query Board($t: ID!) { team(id: $t) { tasks(first: 50) { edges { node {
      id number title status priority assignee { name }
      blockedBy { kind blocker { number title status assignee { name } } }
    } } } } }`;
    await lead.ok(BOARD, { t: teamId }); // the token is remembered after this
    const { result, statements: count } = await statements(() => lead.ok(BOARD, { t: teamId }));
    expect(count).toBeLessThanOrEqual(2);
    const two = result.team.tasks.edges.find((e: any) => e.node.id === ids.two).node;
    expect(two.assignee).toEqual({ name: other.name });
    expect(two.blockedBy.map((d: any) => d.blocker.title).sort()).toEqual(["no assignee, no blockers", "one blocker", "root"]);
    expect(two.blockedBy.find((d: any) => d.blocker.title === "one blocker").blocker.assignee).toEqual({ name: worker.name });
  });

  it("so does a page with every field, readiness and both directions of links", async () => {
    await lead.ok(PAGE(), { t: teamId });
    const { statements: count } = await statements(() => lead.ok(PAGE(), { t: teamId }));
    expect(count).toBeLessThanOrEqual(3);
  });

  it("answers every field exactly as Prisma's path does for each task", async () => {
    const page = (await lead.ok(PAGE(), { t: teamId })).team.tasks.edges.map((e: any) => e.node);
    expect(page).toHaveLength(Object.keys(ids).length - 2);
    for (const task of page) expect(task).toEqual((await lead.ok(ONE, { id: task.id })).task);
    // The data has what the comparison needs to mean something.
    const byId = new Map(page.map((t: any) => [t.id, t]));
    const root: any = byId.get(ids.root);
    expect(root).toMatchObject({ verification: true, progress: 40, metadata: { nested: { list: [1, "two", null, { deep: true }] }, flag: false, n: 1.5 } });
    expect(root.assignee).toMatchObject({ name: lead.name, description: "plans the work" });
    expect(root.blocks.map((d: any) => d.blocked.id)).toEqual([ids.one, ids.two]);
    expect((byId.get(ids.two) as any).blockedBy.map((d: any) => d.blocker.id)).toEqual([ids.root, ids.loose, ids.one]);
    expect((byId.get(ids.loose) as any)).toMatchObject({ assignee: null, blockedBy: [], description: null });
    expect((byId.get(ids.trackB) as any).blockedBy).toEqual([expect.objectContaining({ kind: "track" })]);
    const claimed: any = byId.get(ids.claimed);
    expect(claimed.holder.name).toBe(worker.name);
    expect(claimed.leaseExpiresAt).toEqual(expect.any(String));
    expect(claimed.blockedBy[0].blocker.closedAt).toEqual(expect.any(String));
  });

  it("pages forward and back, whether its rows answer every field (one statement) or the plugin plans them", async () => {
    // Columns and relations only; and with readiness, which the plugin plans.
    for (const fields of ["id number assignee { name } blockedBy { blocker { number } }", "id number readiness { state } assignee { name }"]) {
      const PAGED = `query($t: ID!, $first: Int, $after: String, $last: Int, $before: String) { team(id: $t) {
        tasks(first: $first, after: $after, last: $last, before: $before) { edges { cursor node { ${fields} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`;
      const page = async (args: Record<string, unknown>) => (await lead.ok(PAGED, { t: teamId, ...args })).team.tasks;
      const all = (await page({ first: 50 })).edges;
      expect(all.map((e: any) => e.node.number)).toEqual([...all.map((e: any) => e.node.number)].sort((a: number, b: number) => a - b));
      const forward: any[] = [];
      let after: string | null = null;
      for (let hasNext = true; hasNext; ) {
        const next: any = await page({ first: 3, after });
        expect(next.pageInfo.hasPreviousPage, fields).toBe(after !== null);
        forward.push(...next.edges);
        ({ hasNextPage: hasNext, endCursor: after } = next.pageInfo);
      }
      expect(forward, fields).toEqual(all);
      const back: any[] = [];
      let before: string | null = null;
      for (let hasPrevious = true; hasPrevious; ) {
        const previous: any = await page({ last: 4, before });
        back.unshift(...previous.edges);
        ({ hasPreviousPage: hasPrevious, startCursor: before } = previous.pageInfo);
      }
      expect(back, fields).toEqual(all);
      expect((await page({ first: 2, after: all[1].cursor })).edges, fields).toEqual(all.slice(2, 4));
    }
  });

  it("a page reads only the columns its fields show, and answers as Prisma's path does", async () => {
    // Each selection is asked of the page (one statement, its columns from the selection:
    // test/unit/row-selection.test.ts) and of each task alone (Prisma, whole rows).
    const selections = [
      `id number title status priority assignee { name } blockedBy { kind blocker { number title status assignee { name } } }`,
      `a: title b: title assignee { kind } ...Bits ... on Task { progress } blocks { blocked { ...Bits } }`,
      `__typename claimToken blockedBy { __typename blocker { __typename } }`,
      `title blockedBy { blocker { title readiness { state reason openBlockers { number } } holder { name } } }`,
      `metadata dashboard verification leaseExpiresAt holder { id name } createdBy { name description createdAt }`,
    ];
    // Relations only Prisma reads: it picks the rows (more statements), and the statement
    // reads their columns.
    const withPrisma = `title team { name } milestone { name } knowledge { id } roles { role } assignee { name }`;
    const BITS = `fragment Bits on Task { description notes track trackOrder createdAt updatedAt closedAt holder { name } }`;
    for (const selection of [...selections, withPrisma]) {
      const page = `query($t: ID!) { team(id: $t) { tasks(first: 20) { edges { node { id ${selection} } } } } } ${selection.includes("Bits") ? BITS : ""}`;
      const one = `query($id: ID!) { task(id: $id) { id ${selection} } } ${selection.includes("Bits") ? BITS : ""}`;
      await lead.ok(page, { t: teamId });
      const { result, statements: count } = await statements(() => lead.ok(page, { t: teamId }));
      const nodes = result.team.tasks.edges.map((e: any) => e.node);
      expect(nodes.length, selection).toBe(Object.keys(ids).length - 2);
      if (selection !== withPrisma) expect(count, selection).toBeLessThanOrEqual(2);
      for (const task of nodes) expect(task, selection).toEqual((await lead.ok(one, { id: task.id })).task);
      if (selection === withPrisma) expect(nodes.filter((n: any) => n.milestone?.name === "m1" && n.team.name === "relations")).toHaveLength(2);
    }
  });

  it("answers the same when a relation's shape leaves it with Prisma", async () => {
    const fast = (await lead.ok(PAGE(), { t: teamId })).team.tasks.edges;
    // Roles on the linked tasks are not read by the one statement: blockedBy and blocks go to Prisma.
    const { result, statements: count } = await statements(() => lead.ok(PAGE("roles { role }"), { t: teamId }));
    expect(withoutRoles(result.team.tasks.edges)).toEqual(fast);
    expect(count).toBeGreaterThan(3);
  });

  it("myTasks answers as Prisma's path does", async () => {
    const MINE = `{ myTasks(first: 12) { edges { node { ${node()} } } } }`;
    await worker.ok(MINE);
    const { result, statements: count } = await statements(() => worker.ok(MINE));
    const mine = result.myTasks.edges.map((e: any) => e.node);
    expect(mine.map((t: any) => t.id).sort()).toEqual([ids.one, ids.trackB, ids.claimed, ids.foreign].sort());
    for (const task of mine) expect(task).toEqual((await worker.ok(ONE, { id: task.id })).task);
    expect(count).toBeLessThanOrEqual(2);
  });
});

describe("my role assignments", () => {
  it("read their tasks with them: two statements, however many there are", async () => {
    const MINE = `{ myRoleAssignments { role instructions task { title } } }`;
    const assign = (task: string, role: string) =>
      lead.ok(`mutation($id: ID!, $a: String!, $r: String!) { assignTaskRole(id: $id, agentName: $a, role: $r, instructions: "read it") { role } }`, { id: task, a: worker.name, r: role });
    await assign(ids.root!, "reviewer");
    await assign(ids.loose!, "tester");
    await assign(ids.two!, "writer");
    const { result, statements: count } = await statements(() => worker.ok(MINE));
    expect(result.myRoleAssignments.map((a: any) => `${a.role}: ${a.task.title}`).sort()).toEqual(["reviewer: root", "tester: no assignee, no blockers", "writer: two blockers"]);
    expect(count).toBe(2);
  });
});

describe("the rows match Prisma's own, below the API", () => {
  const order = { orderBy: { number: "asc" as const } };
  const agents = { assignee: true, holder: true, createdBy: true } as const;
  const full = {
    include: {
      ...agents,
      blockedBy: { orderBy: { blockerId: "asc" as const }, include: { blocker: { include: agents }, blocked: true } },
      blocks: { orderBy: { blockedId: "asc" as const }, include: { blocked: { include: { ...agents, blockedBy: { orderBy: { blockerId: "asc" as const }, include: { blocker: true } } } } } },
    },
  };

  it("every column of every related row, as Prisma types it (Date, boolean, Json, null)", async () => {
    const { tasks, db } = server.app.services;
    const { result: fast, statements: count } = await statements(() => tasks.list(viewer(lead), teamId, {}, full));
    const prisma = await db.reader.task.findMany({ where: { teamId }, ...order, ...full });
    expect(count).toBe(2);
    expect(fast).toStrictEqual(prisma);
    const root = fast.find((t) => t.id === ids.root) as unknown as (typeof prisma)[number];
    expect(root.assignee!.createdAt).toBeInstanceOf(Date);
    expect(root.blocks[0]!.blocked.verification).toBe(false);
    expect(root.verification).toBe(true);
  });

  it("listMine, and a selection (not include) of the relations", async () => {
    const { tasks, db } = server.app.services;
    const select = {
      select: {
        id: true,
        number: true,
        holder: { select: { name: true } },
        blockedBy: { orderBy: { blockerId: "asc" as const }, select: { kind: true, blocker: { select: { id: true, status: true, assignee: { select: { name: true } } } } } },
      },
    };
    const fast = await tasks.listMine(viewer(worker), {}, select);
    const mine = { OR: [{ assigneeId: worker.id }, { roles: { some: { agentId: worker.id } } }] };
    const prisma = await db.reader.task.findMany({ where: { AND: [mine, { team: { members: { some: { agentId: worker.id } } } }] }, orderBy: [{ teamId: "asc" }, { number: "asc" }], ...select });
    expect(fast).toStrictEqual(prisma);
    expect(fast.length).toBeGreaterThan(2);
  });

  it("a first page of an unfiltered list is one statement, with the rows Prisma reads", async () => {
    const { tasks, db } = server.app.services;
    const select = { select: { id: true, number: true, title: true, assignee: { select: { name: true } }, blockedBy: { orderBy: { blockerId: "asc" as const }, select: { blocker: { select: { number: true, holder: true } } } } } };
    // Without its number a row cannot be put in order after the statement: the statement orders it.
    const unnumbered = { select: { id: true, title: true, assignee: { select: { name: true } } } };
    for (const take of [1, 3, 100]) {
      for (const shape of [full, select, unnumbered] as Omit<Prisma.TaskFindManyArgs, "where">[]) {
        const { result: fast, statements: count } = await statements(() => tasks.list(viewer(lead), teamId, {}, { take, skip: 0, ...shape }));
        const prisma = await db.reader.task.findMany({ where: { teamId }, ...order, take, ...shape });
        expect(fast).toStrictEqual(prisma);
        expect(count).toBe(1);
      }
    }
    // The page holds what the comparison needs to mean something: several tasks, in order.
    const page = await tasks.list(viewer(lead), teamId, {}, { take: 100, skip: 0, ...full });
    expect(page.length).toBeGreaterThan(5);
    expect(page.map((t) => t.number)).toEqual([...page.map((t) => t.number)].sort((a, b) => a - b));
    // Anyone outside the team reads an empty page, as through Prisma's visibility.
    const outsider = await registerAgent(server, "rel-outsider");
    expect(await tasks.list(viewer(outsider), teamId, {}, { take: 100, skip: 0, ...full })).toEqual([]);
    // A filter, or a page after a cursor, stays with Prisma and answers the same.
    const filtered = await tasks.list(viewer(lead), teamId, { status: ["pending"] }, { take: 100, skip: 0, ...full });
    expect(filtered).toStrictEqual(await db.reader.task.findMany({ where: { teamId, status: "pending" }, ...order, take: 100, ...full }));
    expect(filtered.length).toBeGreaterThan(0);
    const after = await tasks.list(viewer(lead), teamId, {}, { take: 2, skip: 1, cursor: { id: page[1]!.id }, ...full });
    expect(after).toStrictEqual(page.slice(2, 4));
  });

  it("leaves filtered, paged and counted relations and other relations to Prisma", async () => {
    const { tasks, db } = server.app.services;
    const queries: Omit<Prisma.TaskFindManyArgs, "where">[] = [
      { include: { assignee: true, blockedBy: { where: { kind: "track" } } } },
      { include: { assignee: true, blockedBy: { take: 1, orderBy: { blockerId: "asc" as const } } } },
      { include: { assignee: true, blocks: { include: { blocked: { include: { roles: true } } } } } },
      { include: { assignee: true, _count: { select: { blockedBy: true } } } },
      { include: { assignee: true, milestone: true, findings: true } },
    ];
    for (const query of queries) {
      const fast = await tasks.list(viewer(lead), teamId, {}, query);
      expect(fast, JSON.stringify(query)).toStrictEqual(await db.reader.task.findMany({ where: { teamId }, ...order, ...query }));
    }
  });
});

describe("a team's page shows only that team's data", () => {
  it("a member of two teams sees each team's tasks and links on its own page", async () => {
    const page = async (team: string) => (await worker.ok(PAGE(), { t: team })).team.tasks.edges.map((e: any) => e.node);
    const mine = await page(teamId);
    const theirs = await page(otherTeamId);
    const all = JSON.stringify(mine);
    expect(all).not.toContain(ids.foreign);
    expect(all).not.toContain(ids.foreign2);
    expect(theirs.map((t: any) => t.id)).toEqual([ids.foreign, ids.foreign2]);
    for (const id of Object.values(ids).filter((id) => id !== ids.foreign && id !== ids.foreign2)) expect(JSON.stringify(theirs)).not.toContain(id);
    expect(theirs[1].blockedBy.map((d: any) => d.blocker.id)).toEqual([ids.foreign]);
  });

  it("a non-member gets NOT_FOUND, and nothing of the team in myTasks even when once assigned there", async () => {
    const stranger = await registerAgent(server, "rel-stranger");
    expect((await stranger.fails(PAGE(), { t: teamId })).code).toBe("NOT_FOUND");
    // `other` leaves the team with a task still assigned to them there.
    await lead.ok(`mutation($t: ID!, $a: ID!) { removeTeamMember(teamId: $t, agentId: $a) { id } }`, { t: teamId, a: other.id });
    const mine = (await other.ok(`{ myTasks(first: 12) { edges { node { ${node()} } } } }`)).myTasks.edges.map((e: any) => e.node);
    expect(mine.map((t: any) => t.id)).toEqual([]);
    expect((await other.fails(PAGE(), { t: teamId })).code).toBe("NOT_FOUND");
    expect((await stranger.ok(`{ myTasks { edges { node { id } } } }`)).myTasks.edges).toEqual([]);
  });
});
