// The task board through the server: input rules, dependencies and cycles (at scale),
// readiness, filters, the board text, statement counts, and other teams' tasks.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { fewestStatements, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let worker: TestAgent;
let teamId: string;
beforeAll(async () => {
  // No lease sweep or journal poll running statements while statements are counted.
  server = await startServer({ LEASE_SWEEP_MS: "60000", JOURNAL_POLL_MS: "60000" });
  lead = await registerAgent(server, "board-lead");
  worker = await registerAgent(server, "board-worker");
  teamId = await createTeam(lead, "board", [[worker, "implementer"]]);
});
afterAll(() => server.close());

const CREATE = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number status readiness { ready state reason } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { id status progress notes } verificationNudge } }`;
const LINK = `mutation($id: ID!, $b: ID!) { addTaskDependency(id: $id, blockedById: $b) { number readiness { state reason } } }`;

async function createTask(agent: TestAgent, team: string, input: Record<string, unknown>) {
  return (await agent.ok(CREATE, { t: team, input })).createTask as { id: string; number: number; readiness: { ready: boolean; state: string; reason: string } };
}

const counts = async () => ({
  tasks: await server.app.services.db.reader.task.count(),
  journal: await server.app.services.db.reader.journalEvent.count(),
});

describe("bad input changes nothing and names the field", () => {
  it.each([
    ["progress 101", { title: "x", progress: 101 }, "progress"],
    ["negative progress", { title: "x", progress: -1 }, "progress"],
    ["empty title", { title: "  " }, "title"],
    ["oversized title", { title: "x".repeat(501) }, "title"],
    ["oversized description", { title: "x", description: "y".repeat(20_001) }, "description"],
    ["control characters", { title: "bad\u0007bell" }, "title"],
    ["assignee outside the team", { title: "x", assignee: "nobody-here" }, "assignee"],
    ["new task already completed", { title: "x", status: "COMPLETED" }, "status"],
    ["trackOrder without a track", { title: "x", trackOrder: 3 }, "trackOrder"],
    ["unknown milestone", { title: "x", milestoneId: randomUUID() }, "milestoneId"],
    ["huge metadata", { title: "x", metadata: { blob: "z".repeat(20_000) } }, "metadata"],
  ])("createTask: %s", async (_name, input, field) => {
    const before = await counts();
    const error = await lead.fails(CREATE, { t: teamId, input });
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.extensions?.field).toBe(field);
    expect(await counts()).toEqual(before);
  });

  it("refuses metadata that is not an object and a status that does not exist", async () => {
    const before = await counts();
    for (const metadata of [[1, 2], "text", 42]) {
      const error = await lead.fails(CREATE, { t: teamId, input: { title: "x", metadata } });
      expect(error.code).toBe("BAD_USER_INPUT");
      expect(error.message).toMatch(/metadata/);
    }
    const task = await createTask(lead, teamId, { title: "status target" });
    const snapshot = await counts();
    const error = await lead.fails(UPDATE, { id: task.id, input: { status: "DONE" } });
    expect(error.code).toBe("BAD_USER_INPUT");
    expect(error.message).toMatch(/status/);
    expect(await counts()).toEqual(snapshot);
    expect(before.tasks + 1).toBe(snapshot.tasks);
  });

  it("updateTask: progress 101 and an outsider as assignee change nothing", async () => {
    const task = await createTask(lead, teamId, { title: "update target", progress: 10 });
    const outsider = await registerAgent(server, "outsider-assignee");
    const before = await counts();
    const progress = await lead.fails(UPDATE, { id: task.id, input: { progress: 101, notes: "should not land" } });
    expect(progress.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "progress" });
    const assignee = await lead.fails(UPDATE, { id: task.id, input: { assignee: outsider.name, notes: "nor this" } });
    expect(assignee.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "assignee" });
    expect(await counts()).toEqual(before);
    const { task: read } = await lead.ok(`query($id: ID!) { task: task(id: $id) { progress notes } }`, { id: task.id });
    expect(read).toEqual({ progress: 10, notes: null });
  });

  it("numbers tasks per team and answers a mutation with the task", async () => {
    const other = await createTeam(lead, "numbering");
    const a = await createTask(lead, other, { title: "first" });
    const b = await createTask(lead, other, { title: "second" });
    expect([a.number, b.number]).toEqual([1, 2]);
    expect(a.readiness).toEqual({ ready: true, state: "READY", reason: "ready" });
  });
});

describe("dependencies", () => {
  it("refuses a self-link, a link to another team's task, and a link closing a cycle (naming it)", async () => {
    const a = await createTask(lead, teamId, { title: "dep a" });
    const b = await createTask(lead, teamId, { title: "dep b", blockedBy: [a.id] });
    const c = await createTask(lead, teamId, { title: "dep c", blockedBy: [b.id] });
    expect(c.readiness).toMatchObject({ ready: false, state: "BLOCKED", reason: `blocked by #${b.number}` });

    const self = await lead.fails(LINK, { id: a.id, b: a.id });
    expect(self.code).toBe("BAD_USER_INPUT");

    const otherTeam = await createTeam(lead, "elsewhere");
    const foreign = await createTask(lead, otherTeam, { title: "foreign" });
    const cross = await lead.fails(LINK, { id: a.id, b: foreign.id });
    expect(cross.code).toBe("BAD_USER_INPUT");
    expect(cross.message).toMatch(/same team|this team/);

    const before = await counts();
    const cycle = await lead.fails(LINK, { id: a.id, b: c.id });
    expect(cycle.code).toBe("CONFLICT");
    expect(cycle.message).toContain(`#${a.number} → #${b.number} → #${c.number} → #${a.number}`);
    expect(cycle.extensions?.cycle).toEqual([`#${a.number}`, `#${b.number}`, `#${c.number}`, `#${a.number}`]);
    expect(await counts()).toEqual(before);

    // Linking twice is harmless; removing the link unblocks and says so.
    await lead.ok(LINK, { id: c.id, b: b.id });
    const removed = await lead.ok(`mutation($id: ID!, $b: ID!) { removeTaskDependency(id: $id, blockedById: $b) { readiness { ready } } }`, { id: b.id, b: a.id });
    expect(removed.removeTaskDependency.readiness.ready).toBe(true);
  });

  it("checks cycles on a graph of thousands of tasks", async () => {
    const big = await createTeam(lead, "big graph");
    const N = 2000;
    const BATCH = 15; // the alias limit
    // A chain along one track: each task is blocked by the one before it.
    for (let start = 0; start < N; start += BATCH) {
      const fields = Array.from({ length: Math.min(BATCH, N - start) }, (_, i) => `t${i}: createTask(teamId: $t, input: { title: "chain ${start + i}", track: "chain" }) { number }`);
      await lead.ok(`mutation($t: ID!) { ${fields.join("\n")} }`, { t: big });
    }
    // Side branches hanging off the chain make the reachable graph wider.
    const tasks = await server.app.services.db.reader.task.findMany({ where: { teamId: big }, orderBy: { number: "asc" }, select: { id: true, number: true } });
    expect(tasks).toHaveLength(N);
    const first = tasks[0]!;
    const last = tasks[N - 1]!;
    const closing = await lead.fails(LINK, { id: first.id, b: last.id });
    expect(closing.code).toBe("CONFLICT");
    expect(closing.message).toContain(`#1 blocked by #${N} would close a cycle: #1 → #2 → #3`);
    expect(closing.message).toContain(`(${N} tasks)`);
    // A link along the chain's direction is fine.
    const fine = await lead.ok(LINK, { id: last.id, b: first.id });
    expect(fine.addTaskDependency.readiness.state).toBe("BLOCKED");
    // 134 requests of 15 tasks: minutes on a loaded machine; only a safety net.
  }, 300_000);
});

describe("reading the board", () => {
  it("filters by status, assignee, readiness, milestone, track and role", async () => {
    const team = await createTeam(lead, "filters", [[worker, "implementer"]]);
    const { createMilestone } = await lead.ok(`mutation($t: ID!) { createMilestone(teamId: $t, name: "M1") { id } }`, { t: team });
    const one = await createTask(lead, team, { title: "one", milestoneId: createMilestone.id, track: "main", assignee: worker.name });
    const two = await createTask(lead, team, { title: "two", milestoneId: createMilestone.id, track: "main" });
    const three = await createTask(lead, team, { title: "three", track: "side", priority: "URGENT" });
    await lead.ok(`mutation($id: ID!) { assignTaskRole(id: $id, agentName: "board-worker", role: "reviewer", instructions: "Review it") { id } }`, { id: three.id });
    await lead.ok(UPDATE, { id: three.id, input: { status: "CANCELLED" } });

    const list = async (filter: Record<string, unknown>) => {
      const data = await lead.ok(`query($t: ID!, $f: TaskFilter) { team(id: $t) { tasks(filter: $f, first: 50) { edges { node { number } } } } }`, { t: team, f: filter });
      return data.team.tasks.edges.map((e: { node: { number: number } }) => e.node.number);
    };
    expect(await list({})).toEqual([one.number, two.number, three.number]);
    expect(await list({ status: ["CANCELLED"] })).toEqual([three.number]);
    expect(await list({ assignee: worker.name })).toEqual([one.number]);
    expect(await list({ ready: true })).toEqual([one.number]);
    expect(await list({ ready: false })).toEqual([two.number, three.number]);
    expect(await list({ milestoneId: createMilestone.id })).toEqual([one.number, two.number]);
    expect(await list({ track: "side" })).toEqual([three.number]);
    expect(await list({ role: "reviewer" })).toEqual([three.number]);

    const mine = await worker.ok(`{ myTasks(first: 50) { edges { node { number team { name } } } } myRoleAssignments { role instructions task { number } } }`);
    expect(mine.myTasks.edges.filter((e: { node: { team: { name: string } } }) => e.node.team.name === "filters").map((e: { node: { number: number } }) => e.node.number)).toEqual([one.number, three.number]);
    expect(mine.myRoleAssignments).toContainEqual({ role: "reviewer", instructions: "Review it", task: { number: three.number } });
  });

  it("renders the board as one line a task", async () => {
    const team = await createTeam(lead, "text board", [[worker, "implementer"]]);
    const a = await createTask(lead, team, { title: "Analyze current schema" });
    const b = await createTask(lead, team, { title: "Create migration script", assignee: worker.name });
    await createTask(lead, team, { title: "Update unit tests", blockedBy: [b.id] });
    await lead.ok(UPDATE, { id: a.id, input: { status: "COMPLETED", assignee: lead.name } });
    await worker.ok(`mutation($id: ID!) { claimTask(id: $id) { token } }`, { id: b.id });
    const { team: read } = await lead.ok(`query($t: ID!) { team(id: $t) { board } }`, { t: team });
    expect(read.board).toBe(
      [
        `#1 [completed] Analyze current schema (board-lead)`,
        `#2 [in_progress] Create migration script (board-worker)`,
        `#3 [pending] Update unit tests [blocked by #2]`,
      ].join("\n"),
    );
    const pending = await lead.ok(`query($t: ID!) { team(id: $t) { board(filter: { status: [PENDING] }) } }`, { t: team });
    expect(pending.team.board).toBe(`#3 [pending] Update unit tests [blocked by #2]`);
  });

  it("a page of tasks with assignees and blockers costs the same few statements for 10 or 50 tasks", async () => {
    const team = await createTeam(lead, "n plus one", [[worker, "implementer"]]);
    let previous: string | null = null;
    for (let i = 0; i < 50; i++) {
      const task: { id: string } = await createTask(lead, team, { title: `task ${i}`, assignee: i % 2 ? worker.name : lead.name, blockedBy: previous ? [previous] : [] });
      previous = task.id;
    }
    // Each try is a query of its own name, so none is answered from the response cache.
    const PAGE = (name: string) => `query ${name}($t: ID!, $n: Int) { team(id: $t) { tasks(first: $n) { edges { node { number title status assignee { name } blockedBy { blocker { number } } readiness { ready reason } } } } } }`;
    const statementsFor = async (n: number) => {
      await lead.ok(`{ me { name } }`); // the token is remembered after this
      const { result, statements } = await fewestStatements(server, (attempt) => lead.ok(PAGE(`Page${n}x${attempt}`), { t: team, n }));
      expect(result.team.tasks.edges).toHaveLength(n);
      return statements;
    };
    const ten = await statementsFor(10);
    const fifty = await statementsFor(50);
    expect(fifty).toBe(ten);
    // The response cache's read version; then the team, the page, and one statement for
    // every relation below it (task-relations.ts).
    expect(fifty).toBeLessThanOrEqual(4);
  });
});

describe("writing the board", () => {
  it("an update answers from its own write: read, conditional update returning the row, journal row, commit", async () => {
    const { id } = await createTask(lead, teamId, { title: "counted update" });
    const sqlite = server.databaseUrl.startsWith("file:");
    const update = (fields: string) => (attempt: number) => lead.ok(`mutation($id: ID!, $n: String!) { updateTask(id: $id, input: { notes: $n }) { task { ${fields} } } }`, { id, n: `${fields} ${attempt}` });
    const own = await fewestStatements(server, update("id notes"));
    expect(own.result.updateTask.task.notes).toBe("id notes 3");
    // PostgreSQL also takes the journal's advisory lock.
    expect(own.statements).toBe(sqlite ? 4 : 5);
    // A selection with relations reads the task again after the commit, and them with it.
    const related = await fewestStatements(server, update("notes assignee { name }"));
    expect(related.result.updateTask.task).toEqual({ notes: "notes assignee { name } 3", assignee: null });
    expect(related.statements).toBeGreaterThan(own.statements);
  });
});

describe("an update's answer is the row as written", () => {
  // Updates, appends and completions answer from statements run straight on the
  // connection (Database.rows), not through Prisma's reads: their values must be the same.
  // Scalars only: a selection with relations reads the task again after the commit.
  const FIELDS = `id number title description status priority activeForm progress notes metadata dashboard verification track trackOrder
    createdAt updatedAt closedAt claimToken leaseExpiresAt`;
  const read = async (id: string) => (await worker.ok(`query($id: ID!) { task(id: $id) { ${FIELDS} } }`, { id })).task;

  it("every field equals a fresh read (dates, JSON, booleans, nulls, Unicode), after an update, an append and a completion", async () => {
    const { id } = await createTask(lead, teamId, { title: "every field, updated", track: "fields" });
    const claim = (await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 300) { token } }`, { id })).claimTask;
    const metadata = { plan: { steps: [1, 2, 3], note: "ünïcode ✓ 𝄞" }, flag: true, none: null, quote: "it's \"quoted\"" };
    const input = { title: "renamed ✓", description: null, priority: "URGENT", activeForm: "Checking 𝄞", progress: 42, notes: "line 1\nline 2", metadata, verification: true, claimToken: claim.token };
    const updated = (await worker.ok(`mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { ${FIELDS} } } }`, { id, input })).updateTask.task;
    expect(updated).toEqual(await read(id));
    expect(updated).toMatchObject({ title: "renamed ✓", description: null, priority: "URGENT", progress: 42, metadata, verification: true, closedAt: null, claimToken: claim.token });

    const appended = (await worker.ok(`mutation($id: ID!, $c: Int!) { appendTaskDashboard(id: $id, claimToken: $c, text: "step ✓") { ${FIELDS} } }`, { id, c: claim.token })).appendTaskDashboard;
    expect(appended).toEqual(await read(id));
    expect(appended.dashboard).toBe("step ✓");

    const completed = (await worker.ok(`mutation($id: ID!, $c: Int!) { updateTask(id: $id, input: { status: COMPLETED, claimToken: $c }) { task { ${FIELDS} } } }`, { id, c: claim.token })).updateTask.task;
    expect(completed).toEqual(await read(id));
    expect(completed).toMatchObject({ status: "COMPLETED", leaseExpiresAt: null });
    expect(Date.parse(completed.closedAt)).toBeGreaterThanOrEqual(Date.parse(appended.updatedAt));
  });
});

describe("when a blocker completes", () => {
  it("the blocked task is ready: one task.ready row, and its assignee and each role holder told once", async () => {
    const reviewer = await registerAgent(server, "ready-reviewer");
    const team = await createTeam(lead, "ready", [[worker, "implementer"], [reviewer, "reviewer"]]);
    const blocker = await createTask(lead, team, { title: "first" });
    const blocked = await createTask(lead, team, { title: "second", assignee: worker.name, blockedBy: [blocker.id] });
    const unrelated = await createTask(lead, team, { title: "not blocked" });
    await lead.ok(`mutation($id: ID!, $n: String!) { assignTaskRole(id: $id, agentName: $n, role: "reviewer") { role } }`, { id: blocked.id, n: reviewer.name });
    // The worker is both assignee and a role holder: told once.
    await lead.ok(`mutation($id: ID!, $n: String!) { assignTaskRole(id: $id, agentName: $n, role: "tester") { role } }`, { id: blocked.id, n: worker.name });
    await lead.ok(UPDATE, { id: blocker.id, input: { status: "COMPLETED" } });

    const { journalEvent } = server.app.services.db.reader;
    const ready = await journalEvent.findMany({ where: { kind: "task.ready", subjectId: { in: [blocked.id, unrelated.id] } } });
    expect(ready.map((r) => [r.teamId, r.subjectId])).toEqual([[team, blocked.id]]);
    const notices = await journalEvent.findMany({ where: { kind: "notice.task_ready", recipientId: { in: [lead.id, worker.id, reviewer.id] } } });
    const told = notices.filter((n) => (n.payload as { taskId?: string }).taskId === blocked.id).map((n) => n.recipientId);
    expect(told.sort()).toEqual([reviewer.id, worker.id].sort());
  });
});

describe("other teams' tasks do not exist", () => {
  it("answers every task operation with NOT_FOUND, exactly as for an unknown ID", async () => {
    const task = await createTask(lead, teamId, { title: "private" });
    const stranger = await registerAgent(server, "task-stranger");
    const strangerTeam = await createTeam(stranger, "stranger's");
    const before = await counts();
    const operations: [string, Record<string, unknown>][] = [
      [`query($id: ID!) { task(id: $id) { title } }`, {}],
      [UPDATE, { input: { notes: "x" } }],
      [`mutation($id: ID!) { cancelTask(id: $id) { number } }`, {}],
      [`mutation($id: ID!) { claimTask(id: $id) { token } }`, {}],
      [`mutation($id: ID!) { renewClaim(id: $id) { token } }`, {}],
      [`mutation($id: ID!) { releaseTask(id: $id) { number } }`, {}],
      [`mutation($id: ID!) { writeTaskDashboard(id: $id, text: "x") { number } }`, {}],
      [`mutation($id: ID!) { appendTaskDashboard(id: $id, text: "x") { number } }`, {}],
      [`mutation($id: ID!) { addTaskFinding(id: $id, data: { a: 1 }) { id } }`, {}],
      [`mutation($id: ID!) { assignTaskRole(id: $id, agentName: "task-stranger", role: "x") { id } }`, {}],
      [`mutation($id: ID!) { addTaskDependency(id: $id, blockedById: $id) { number } }`, {}],
      [`mutation($id: ID!) { removeTaskDependency(id: $id, blockedById: $id) { number } }`, {}],
    ];
    for (const [query, vars] of operations) {
      const real = await stranger.run(query, { ...vars, id: task.id });
      const unknown = await stranger.run(query, { ...vars, id: randomUUID() });
      expect(real.errors?.[0]?.extensions?.code, query).toBe("NOT_FOUND");
      expect(real, query).toEqual(unknown);
    }
    // Linking one of my tasks to theirs reads as a missing task in my team.
    const mine = await createTask(stranger, strangerTeam, { title: "mine" });
    const link = await stranger.fails(LINK, { id: mine.id, b: task.id });
    expect(link.message).not.toContain("private");
    expect(await counts()).toEqual({ ...before, tasks: before.tasks + 1, journal: before.journal + 1 });
    const claimNext = await stranger.fails(`mutation($t: ID!) { claimNextTask(teamId: $t) { token } }`, { t: teamId });
    expect(claimNext.code).toBe("NOT_FOUND");
  });
});

// ---- refusals told in no story (from stories.test.ts) ------------------------------------

describe("bad input", () => {
  /** A team of its own (the board's task numbers above stay as they are), with an assignee and a reader. */
  async function ownTeam(label: string) {
    const owner = await registerAgent(server, `${label}-lead`);
    const assignee = await registerAgent(server, `${label}-assignee`);
    const reader = await registerAgent(server, `${label}-reader`);
    const team = await createTeam(owner, label, [
      [assignee, "researcher"],
      [reader, "analyst"],
    ]);
    return { owner, assignee, reader, team };
  }

  it("progress outside 0–100 is BAD_USER_INPUT naming the field, and changes nothing", async () => {
    const { owner, assignee, reader, team } = await ownTeam("progress");
    const task = await createTask(owner, team, { title: "Collect competitor prices", assignee: assignee.name, status: "IN_PROGRESS" });
    await assignee.ok(UPDATE, { id: task.id, input: { progress: 60, notes: "3 of 5 sites done" } });
    const journalBefore = await server.app.services.db.reader.journalEvent.count({ where: { teamId: team } });
    for (const progress of [101, -1]) {
      const refused = await assignee.fails(UPDATE, { id: task.id, input: { progress, notes: "should not land" } });
      expect(refused.code).toBe("BAD_USER_INPUT");
      expect(refused.extensions?.field).toBe("progress");
    }
    const { task: read } = await reader.ok(`query($id: ID!) { task(id: $id) { progress notes status } }`, { id: task.id });
    expect(read).toMatchObject({ progress: 60, notes: "3 of 5 sites done", status: "IN_PROGRESS" });
    expect(await server.app.services.db.reader.journalEvent.count({ where: { teamId: team } })).toBe(journalBefore);
  });

  it("a link that would close a cycle is refused with CONFLICT naming the cycle", async () => {
    const { owner, team } = await ownTeam("cycle");
    const tasks = [];
    for (const title of ["Analyze current schema", "Create migration script", "Update unit tests"]) tasks.push(await createTask(owner, team, { title }));
    expect(tasks.map((t) => t.number)).toEqual([1, 2, 3]);
    await owner.ok(LINK, { id: tasks[2]!.id, b: tasks[1]!.id });
    const refused = await owner.fails(LINK, { id: tasks[1]!.id, b: tasks[2]!.id });
    expect(refused.code).toBe("CONFLICT");
    expect(refused.message).toBe("#2 blocked by #3 would close a cycle: #2 → #3 → #2");
    expect(refused.extensions?.cycle).toEqual(["#2", "#3", "#2"]);
    // Longer cycles are named whole: 1 → 2 → 3, then 1 blocked by 3.
    await owner.ok(LINK, { id: tasks[1]!.id, b: tasks[0]!.id });
    const longer = await owner.fails(LINK, { id: tasks[0]!.id, b: tasks[2]!.id });
    expect(longer.code).toBe("CONFLICT");
    expect(longer.message).toContain("#1 → #2 → #3 → #1");
  });
});
