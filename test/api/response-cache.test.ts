// The response cache through the real server: a repeated query is answered from memory
// for one statement, and no answer is ever given once something it shows has changed,
// whoever changed it: a mutation, the MCP endpoint, another process on the database, or
// the clock ending a lease.
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { metricSamples, sqlBehindTheServer, startServer, withStatements, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let worker: TestAgent;
let stranger: TestAgent;
let teamId: string;

beforeAll(async () => {
  // No background commits (presence, the sweeper), so a test can tell the clock from a commit.
  server = await startServer({ PRESENCE_FLUSH_MS: "300000", LEASE_SWEEP_MS: "60000" });
  lead = await registerAgent(server, "cache-lead");
  worker = await registerAgent(server, "cache-worker");
  stranger = await registerAgent(server, "cache-stranger");
  teamId = await createTeam(lead, "cached", [[worker, "worker"]]);
});
afterAll(() => server.close());

const BOARD = `query($t: ID!) { team(id: $t) { tasks(first: 50) { edges { node {
  id number title status notes assignee { name } readiness { state } blockedBy { blocker { number status } }
} } } } }`;
const CREATE = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { id } } }`;

const boardOf = async (agent: TestAgent) => (await agent.ok(BOARD, { t: teamId })).team.tasks.edges.map((e: any) => e.node);
const taskOn = async (agent: TestAgent, id: string) => (await boardOf(agent)).find((t: any) => t.id === id);
/**
 * What a commit to the test's database changes: the journal head, and on SQLite the file's
 * version. (PostgreSQL's snapshot also moves with other test files' databases in the cluster.)
 */
const writes = async () => [await server.app.services.journal.head(), server.databaseUrl.startsWith("file:") ? (await server.app.services.db.readVersion()).committed : ""];

/**
 * `run` once, then again under the same committed version: its answer and statements.
 * PostgreSQL's snapshot also moves with other test files' databases in the cluster, so the
 * repeat is tried again until the version held from before the run that kept the answer to
 * after the repeat (a full parallel run needed up to 8 tries; a broken cache fails all 200).
 */
async function repeatedUnchanged<T>(on: TestServer, run: () => Promise<T>): Promise<{ first: { result: T; statements: number }; again: { result: T; statements: number } }> {
  const version = async () => (await on.app.services.db.readVersion()).committed;
  let before = await version();
  const first = await withStatements(on, run);
  for (let attempt = 1; ; attempt++) {
    const again = await withStatements(on, run);
    if ((await version()) === before || attempt === 200) return { first, again };
    before = await version();
    await run(); // keeps an answer under this version
  }
}

async function newTask(title: string): Promise<string> {
  return (await lead.ok(CREATE, { t: teamId, input: { title } })).createTask.id;
}

describe("a repeated query", () => {
  it("is answered for one statement, the read version, with the same answer", async () => {
    await newTask("repeated");
    await lead.ok(`{ me { name } }`); // the token is remembered after this
    const { first, again } = await repeatedUnchanged(server, () => boardOf(lead));
    expect(again.result).toEqual(first.result);
    expect(first.statements).toBeGreaterThan(1);
    expect(again.statements).toBe(1);
  });

  it("is counted in /metrics, kept or computed", async () => {
    const answers = async () => {
      const text = await (await fetch(server.url.replace(/\/graphql$/, "/metrics"))).text();
      const count = (from: string) => metricSamples(text, "agent_hq_query_answers_total").find((s) => s.labels.from === from)?.value ?? 0;
      return { kept: count("kept"), computed: count("computed") };
    };
    await newTask("counted");
    const before = await answers();
    const { first, again } = await repeatedUnchanged(server, () => boardOf(lead));
    expect([first.statements > 1, again.statements]).toEqual([true, 1]);
    const after = await answers();
    expect(after.kept).toBeGreaterThan(before.kept);
    expect(after.computed).toBeGreaterThan(before.computed);
  });

  it("is the same answer whatever undeclared variables come with it", async () => {
    let unused = 0;
    const { again } = await repeatedUnchanged(server, () => lead.ok(BOARD, { t: teamId, unused: ++unused }));
    expect(again.statements).toBe(1);
  });

  it("is kept only up to an eighth of RESPONSE_CACHE_MB", async () => {
    // 10 KB in all: an answer over 1.25 KB is not kept.
    const small = await startServer({ RESPONSE_CACHE_MB: String(10 / 1024) });
    try {
      const agent = await registerAgent(small, "cache-small");
      const team = await createTeam(agent, "small");
      for (let i = 0; i < 6; i++) await agent.ok(CREATE, { t: team, input: { title: "x".repeat(400) } });
      const count = async (query: string, variables?: Record<string, unknown>) => (await repeatedUnchanged(small, () => agent.ok(query, variables))).again.statements;
      expect(await count(`{ me { name } }`)).toBe(1);
      expect(await count(BOARD, { t: team })).toBeGreaterThan(1);
    } finally {
      await small.close();
    }
  });

  it("is kept per agent: another member gets their own answer, a stranger still nothing", async () => {
    const MINE = `{ myTasks(first: 20) { edges { node { title } } } }`;
    const id = await newTask("the worker's");
    await lead.ok(UPDATE, { id, input: { assignee: worker.name } });
    const leads = (await lead.ok(MINE)).myTasks.edges.map((e: any) => e.node.title);
    const workers = (await worker.ok(MINE)).myTasks.edges.map((e: any) => e.node.title);
    expect(leads).not.toContain("the worker's");
    expect(workers).toContain("the worker's");
    await boardOf(lead);
    expect((await stranger.fails(BOARD, { t: teamId })).code).toBe("NOT_FOUND");
  });
});

describe("no answer is given after a change it shows", () => {
  it("a mutation", async () => {
    const id = await newTask("before the mutation");
    await taskOn(lead, id);
    await lead.ok(UPDATE, { id, input: { title: "after the mutation" } });
    expect((await taskOn(lead, id)).title).toBe("after the mutation");
    // The worker's kept answer is no longer given either.
    expect((await taskOn(worker, id)).title).toBe("after the mutation");
  });

  it("a write through the MCP endpoint", async () => {
    const id = await newTask("before MCP");
    await taskOn(lead, id);
    const mcp = new McpClient({ name: "cache-test", version: "1.0.0" });
    await mcp.connect(
      new StreamableHTTPClientTransport(new URL(server.url.replace(/\/graphql$/, "/mcp")), { requestInit: { headers: { authorization: `Bearer ${lead.token}` } } }),
    );
    try {
      const result = await mcp.callTool({ name: "update_task", arguments: { task: id, title: "after MCP" } });
      expect(result.isError).not.toBe(true);
    } finally {
      await mcp.close();
    }
    expect((await taskOn(lead, id)).title).toBe("after MCP");
  });

  it("a commit by another process on the same database", async () => {
    const id = await newTask("before the other process");
    await taskOn(lead, id);
    await sqlBehindTheServer(server, `UPDATE "Task" SET "title" = ? WHERE "id" = ?`, ["after the other process", id]);
    expect((await taskOn(lead, id)).title).toBe("after the other process");
  });

  it("a lease ending, with no commit at all: the held task turns ready", async () => {
    const id = await newTask("leased briefly");
    await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 5) { token } }`, { id });
    expect((await taskOn(lead, id)).readiness.state).toBe("CLAIMED");
    const before = await writes();
    expect((await taskOn(lead, id)).readiness.state).toBe("CLAIMED");
    await expect.poll(async () => (await taskOn(lead, id)).readiness.state, { timeout: 10_000, interval: 200 }).toBe("READY");
    // Nothing was written: the lease's end alone retired the kept answer.
    expect(await writes()).toEqual(before);
    // While a lease has ended unswept nothing is kept; the sweeper's commit ends that.
    expect(await server.app.services.claims.sweepExpired()).toBe(1);
  });

  it("presence: whether an agent is online is never kept", async () => {
    const ONLINE = `query($t: ID!) { team(id: $t) { members { agent { name online } } } }`;
    const workerOnline = async () => (await lead.ok(ONLINE, { t: teamId })).team.members.find((m: any) => m.agent.name === worker.name).agent.online;
    expect(await workerOnline()).toBe(false);
    const before = await writes();
    const subscription = worker.subscribe("ws", `subscription($t: ID!) { teamEvents(teamId: $t) { cursor } }`, { t: teamId });
    try {
      await expect.poll(workerOnline, { timeout: 5_000, interval: 50 }).toBe(true);
      expect(await writes()).toEqual(before);
    } finally {
      await subscription.close();
    }
  });

  it("an ask's deadline passing: expired is never kept", async () => {
    const INBOX = `{ inbox(first: 10, filter: { intent: ASK }) { edges { node { message { body expired } } } } }`;
    const asked = lead.ok(`mutation($to: [String!]!) { ask(to: $to, question: "are you there?", timeoutSeconds: 1) { timedOut } }`, { to: [worker.name] });
    const expired = async () => (await worker.ok(INBOX)).inbox.edges.find((e: any) => e.node.message.body === "are you there?")?.node.message.expired;
    await expect.poll(expired, { timeout: 5_000, interval: 50 }).toBe(false);
    expect((await asked).ask.timedOut).toBe(true);
    await expect.poll(expired, { timeout: 5_000, interval: 100 }).toBe(true);
  });
});

describe("under concurrent writes", () => {
  it("no reader gets an answer older than a write acknowledged before it asked", async () => {
    const id = await newTask("raced");
    let acknowledged = 0;
    let writing = true;
    const writer = (async () => {
      for (let n = 1; n <= 40; n++) {
        await lead.ok(UPDATE, { id, input: { notes: String(n) } });
        acknowledged = n;
      }
      writing = false;
    })();
    const stale: string[] = [];
    let reads = 0;
    const readers = [lead, worker, lead, worker, lead, worker].map(async (agent, i) => {
      while (writing) {
        const floor = acknowledged;
        const seen = Number((await taskOn(agent, id)).notes ?? 0);
        reads++;
        if (seen < floor) stale.push(`reader ${i} saw ${seen} after ${floor} was acknowledged`);
      }
    });
    await Promise.all([writer, ...readers]);
    expect(stale).toEqual([]);
    expect(reads).toBeGreaterThan(40);
    expect((await taskOn(worker, id)).notes).toBe("40");
  });
});

describe("a team's task page outlives commits that change nothing it shows", () => {
  // Columns and relations read in one statement: the page remembers the tasks it read.
  const NODE = `id number title status priority progress dashboard assignee { name } holder { name } blockedBy { kind blocker { number title status assignee { name } } }`;
  const PAGE = `query($t: ID!, $n: Int!) { team(id: $t) { name tasks(first: $n) { edges { node { ${NODE} } } pageInfo { hasNextPage } } } }`;
  // The same with a field computed from more than the rows (readiness): never outlives a commit.
  const TRUTH = `query($t: ID!, $n: Int!) { team(id: $t) { name tasks(first: $n) { edges { node { ${NODE} readiness { state } } } pageInfo { hasNextPage } } } }`;
  const withoutReadiness = (answer: any) => ({
    ...answer.team,
    tasks: { ...answer.team.tasks, edges: answer.team.tasks.edges.map((e: any) => ({ node: { ...e.node, readiness: undefined } })) },
  });
  let team: string;
  let tasks: string[];
  const page = async (n = 4) => (await lead.ok(PAGE, { t: team, n })).team;
  const truth = async (n = 4) => withoutReadiness(await lead.ok(TRUTH, { t: team, n }));
  /** The page as kept and as computed now: they must agree after every change. */
  const expectCurrent = async (n = 4) => expect(JSON.parse(JSON.stringify(await page(n)))).toEqual(JSON.parse(JSON.stringify(await truth(n))));

  beforeAll(async () => {
    team = await createTeam(lead, "page-team", [[worker, "worker"]]);
    tasks = [];
    for (let n = 1; n <= 7; n++) tasks.push((await lead.ok(CREATE, { t: team, input: { title: `page ${n}` } })).createTask.id);
    // #2, on the page, waits for #5, below it: the page shows #5's title and status.
    await lead.ok(`mutation($id: ID!, $b: ID!) { addTaskDependency(id: $id, blockedById: $b) { id } }`, { id: tasks[1], b: tasks[4] });
  });

  it("is given again after a change to a task it does not read, for the version and the team's new journal rows", async () => {
    const before = await page();
    await lead.ok(UPDATE, { id: tasks[6], input: { title: "page 7, renamed" } });
    const { result, statements } = await withStatements(server, () => page());
    expect(result).toEqual(before);
    // Computed, it is the version, the team and the page's statement at least.
    expect(statements).toBeLessThanOrEqual(2);
    await expectCurrent();
  });

  it("is read again after each change it shows, whoever's rows changed", async () => {
    const claim = async (i: number) => (await worker.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 600) { token } }`, { id: tasks[i] })).claimTask.token as number;
    const changes: [string, () => Promise<unknown>][] = [
      ["a title on the page", () => lead.ok(UPDATE, { id: tasks[0], input: { title: "page 1, renamed" } })],
      ["a claim on the page", () => claim(2)],
      ["a progress update", () => worker.ok(UPDATE, { id: tasks[2], input: { progress: 40 } })],
      ["a dashboard line", () => worker.ok(`mutation($id: ID!) { appendTaskDashboard(id: $id, text: "halfway") { id } }`, { id: tasks[2] })],
      ["a renewed claim", () => worker.ok(`mutation($id: ID!) { renewClaim(id: $id, leaseSeconds: 900) { token } }`, { id: tasks[2] })],
      ["a claim taken back", () => lead.ok(`mutation($id: ID!) { takeBackClaim(id: $id) { id } }`, { id: tasks[2] })],
      ["a released claim", async () => worker.ok(`mutation($id: ID!, $c: Int) { releaseTask(id: $id, claimToken: $c) { id } }`, { id: tasks[3], c: await claim(3) })],
      ["a blocker below the page completed", () => lead.ok(UPDATE, { id: tasks[4], input: { status: "COMPLETED" } })],
      ["a blocker below the page renamed", () => lead.ok(UPDATE, { id: tasks[4], input: { title: "page 5, renamed" } })],
      ["a link to a task below the page", () => lead.ok(`mutation($id: ID!, $b: ID!) { addTaskDependency(id: $id, blockedById: $b) { id } }`, { id: tasks[3], b: tasks[5] })],
      ["that link's blocker renamed", () => lead.ok(UPDATE, { id: tasks[5], input: { title: "page 6, renamed" } })],
      ["the link removed", () => lead.ok(`mutation($id: ID!, $b: ID!) { removeTaskDependency(id: $id, blockedById: $b) { id } }`, { id: tasks[3], b: tasks[5] })],
      ["an assignee", () => lead.ok(UPDATE, { id: tasks[0], input: { assignee: worker.name } })],
      ["the team renamed", () => lead.ok(`mutation($t: ID!) { updateTeam(teamId: $t, input: { name: "page-team, renamed" }) { id } }`, { t: team })],
    ];
    for (const [what, change] of changes) {
      await page();
      await change();
      await expectCurrent().catch((error: Error) => {
        throw new Error(`after ${what}: ${error.message}`);
      });
    }
  });

  it("that is not full shows a task created after it was kept", async () => {
    const all = async () => (await page(50)).tasks.edges.length;
    const before = await all();
    await lead.ok(CREATE, { t: team, input: { title: "page, one more" } });
    expect(await all()).toBe(before + 1);
    await expectCurrent(50);
  });

  it("with a filter is read again after any change to the team's tasks", async () => {
    const PENDING = `query($t: ID!) { team(id: $t) { tasks(first: 50, filter: { status: PENDING }) { edges { node { number } } } } }`;
    const pending = async () => (await lead.ok(PENDING, { t: team })).team.tasks.edges.map((e: any) => e.node.number);
    const before = await pending();
    const last = (await page(50)).tasks.edges.at(-1).node;
    await lead.ok(UPDATE, { id: last.id, input: { status: "CANCELLED" } });
    expect(await pending()).toEqual(before.filter((n: number) => n !== last.number));
  });

  it("under concurrent writes, mostly below the page: no reader gets an answer older than a write acknowledged before it asked", async () => {
    const watched = tasks[1]!;
    let acknowledged = 0;
    let writing = true;
    const writer = (async () => {
      for (let n = 1; n <= 30; n++) {
        await lead.ok(UPDATE, { id: watched, input: { progress: n } });
        acknowledged = n;
      }
      writing = false;
    })();
    // Commits the page does not show, between those it does.
    const others = [tasks[5]!, tasks[6]!].map(async (id, i) => {
      for (let n = 0; writing; n++) await (i ? lead : worker).ok(UPDATE, { id, input: { progress: n % 100 } });
    });
    const stale: string[] = [];
    let reads = 0;
    const readers = [0, 1, 2, 3].map(async (i) => {
      while (writing) {
        const floor = acknowledged;
        const seen = (await page()).tasks.edges.find((e: any) => e.node.id === watched).node.progress;
        reads++;
        if (seen < floor) stale.push(`reader ${i} saw ${seen} after ${floor} was acknowledged`);
      }
    });
    await Promise.all([writer, ...others, ...readers]);
    expect(stale).toEqual([]);
    expect(reads).toBeGreaterThan(30);
    await expectCurrent();
  });
});

describe("rate limits", () => {
  it("count kept answers like any other", async () => {
    const limited = await startServer({ RATE_LIMIT_PER_MINUTE: "3" });
    try {
      const agent = await registerAgent(limited, "cache-limited");
      const codes: (string | undefined)[] = [];
      for (let i = 0; i < 4; i++) codes.push((await agent.run(`{ me { name } }`)).errors?.[0]?.extensions?.code);
      expect(codes).toEqual([undefined, undefined, undefined, "RATE_LIMITED"]);
    } finally {
      await limited.close();
    }
  });
});
