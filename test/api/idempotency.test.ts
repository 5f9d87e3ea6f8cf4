// Retry-safe writes through the real server: a creating mutation repeated with the same
// idempotency key (in sequence, racing, on two instances, over MCP) answers with the
// first object and writes nothing more: no second row, journal row or notification.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createTeam, gql, registerAgent, type TestAgent } from "../helpers/client.js";
import { sqlBehindTheServer, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  // A fast sweeper: it also purges expired keys.
  server = await startServer({ LEASE_SWEEP_MS: "100" });
});
afterAll(() => server.close());

const onPostgres = inject("postgresUrl") != null;
const db = () => server.app.services.db.reader;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let agentCount = 0;
const newAgent = (label: string) => registerAgent(server, `idem-${label}-${++agentCount}`);

/** A lead and two members in a fresh team. */
async function newTeam(label: string): Promise<{ lead: TestAgent; bob: TestAgent; carol: TestAgent; teamId: string }> {
  const [lead, bob, carol] = await Promise.all([newAgent(`${label}-lead`), newAgent(`${label}-bob`), newAgent(`${label}-carol`)]);
  const teamId = await createTeam(lead!, `${label}-${agentCount}`, [
    [bob!, "worker"],
    [carol!, "worker"],
  ]);
  return { lead: lead!, bob: bob!, carol: carol!, teamId };
}

/** Polls `probe` until it answers something other than undefined. */
async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!, $key: String) { createTask(teamId: $t, input: $input, idempotencyKey: $key) { id number title } }`;
const SEND = `mutation($to: [String!]!, $m: MessageInput!, $key: String) { sendMessage(to: $to, message: $m, idempotencyKey: $key) { id } }`;
const ASK = `mutation($to: [String!]!, $q: String!, $s: Int!, $key: String) {
  ask(to: $to, question: $q, timeoutSeconds: $s, idempotencyKey: $key) { timedOut unanswered question { id } replies { id body } }
}`;
const REPLY = `mutation($id: ID!, $m: MessageInput!, $key: String) { reply(messageId: $id, message: $m, idempotencyKey: $key) { id } }`;

const journalOf = (subjectId: string, kind: string) => db().journalEvent.count({ where: { subjectId, kind } });

describe("a repeat with the same key", () => {
  it("answers createTask with the same task (same id and number) and writes no second row, journal row or notice", async () => {
    const { lead, bob, teamId } = await newTeam("seq");
    const vars = { t: teamId, input: { title: "write the report", assignee: bob.name }, key: "run-7/step-3" };
    const first = (await lead.ok(CREATE_TASK, vars)).createTask;
    const again = (await lead.ok(CREATE_TASK, vars)).createTask;
    expect(again).toEqual(first);
    expect(await db().task.count({ where: { teamId } })).toBe(1);
    expect(await journalOf(first.id, "task.created")).toBe(1);
    // The assignee was told once.
    expect(await db().messageDelivery.count({ where: { agentId: bob.id, intent: "notice" } })).toBe(1);
    expect(await db().journalEvent.count({ where: { recipientId: bob.id, kind: "notice.task_assigned" } })).toBe(1);
    // The next task still gets the next number: the repeat took none.
    expect((await lead.ok(CREATE_TASK, { t: teamId, input: { title: "next" } })).createTask.number).toBe(first.number + 1);
  });

  it("is a new write without a key, and a new write with a new key", async () => {
    const { lead, teamId } = await newTeam("nokey");
    const input = { title: "same title" };
    const a = (await lead.ok(CREATE_TASK, { t: teamId, input })).createTask;
    const b = (await lead.ok(CREATE_TASK, { t: teamId, input })).createTask;
    const c = (await lead.ok(CREATE_TASK, { t: teamId, input, key: "k1" })).createTask;
    const d = (await lead.ok(CREATE_TASK, { t: teamId, input, key: "k2" })).createTask;
    expect(new Set([a.id, b.id, c.id, d.id]).size).toBe(4);
  });

  it("answers every creating mutation with its first object, once", async () => {
    const { lead, bob, teamId } = await newTeam("each");
    await bob.ok(`mutation($t: ID!) { followTopic(teamId: $t, pattern: "reports.#") { id } }`, { t: teamId });
    const { id: taskId } = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "host" } })).createTask;
    const { id: toReply } = (await bob.ok(SEND, { to: [lead.name], m: { body: "question?" } })).sendMessage;
    const cases: { name: string; query: string; vars: Record<string, unknown>; count: () => Promise<number> }[] = [
      {
        name: "sendMessage",
        query: SEND,
        vars: { to: [bob.name], m: { body: "hello once" } },
        count: () => db().messageDelivery.count({ where: { agentId: bob.id, message: { body: "hello once" } } }),
      },
      {
        name: "broadcast",
        query: `mutation($t: ID!, $m: MessageInput!, $key: String) { broadcast(teamId: $t, message: $m, idempotencyKey: $key) { id } }`,
        vars: { t: teamId, m: { body: "all hands once" } },
        count: () => db().journalEvent.count({ where: { teamId, kind: "message.broadcast" } }),
      },
      {
        name: "publish",
        query: `mutation($t: ID!, $m: MessageInput!, $key: String) { publish(teamId: $t, topic: "reports.daily", message: $m, idempotencyKey: $key) { id } }`,
        vars: { t: teamId, m: { body: "daily once" } },
        count: () => db().messageDelivery.count({ where: { agentId: bob.id, message: { topic: "reports.daily" } } }),
      },
      {
        name: "reply",
        query: REPLY,
        vars: { id: toReply, m: { body: "answer once" } },
        count: () => db().message.count({ where: { replyToId: toReply } }),
      },
      {
        name: "addKnowledge",
        query: `mutation($t: ID!, $input: AddKnowledgeInput!, $key: String) { addKnowledge(teamId: $t, input: $input, idempotencyKey: $key) { id } }`,
        vars: { t: teamId, input: { title: "learned once", body: "b", tags: ["x"] } },
        count: () => db().knowledgeEntry.count({ where: { teamId } }),
      },
      {
        name: "createMilestone",
        query: `mutation($t: ID!, $key: String) { createMilestone(teamId: $t, name: "M1", idempotencyKey: $key) { id } }`,
        vars: { t: teamId },
        count: () => db().milestone.count({ where: { teamId } }),
      },
      {
        name: "addTaskFinding",
        query: `mutation($id: ID!, $key: String) { addTaskFinding(id: $id, data: { found: 1 }, idempotencyKey: $key) { id } }`,
        vars: { id: taskId },
        count: () => db().taskFinding.count({ where: { taskId } }),
      },
      {
        name: "createTeam",
        query: `mutation($key: String) { createTeam(input: { name: "retried team", role: "lead" }, idempotencyKey: $key) { id } }`,
        vars: {},
        count: () => db().team.count({ where: { name: "retried team", leadId: lead.id } }),
      },
    ];
    for (const c of cases) {
      const vars = { ...c.vars, key: `each-${c.name}` };
      const first = Object.values(await lead.ok(c.query, vars))[0] as { id: string };
      const second = Object.values(await lead.ok(c.query, vars))[0] as { id: string };
      expect(second.id, c.name).toBe(first.id);
      expect(await c.count(), c.name).toBe(1);
    }
    // Not one journal row more for any repeat: each first call wrote the same rows as its repeat would have.
    const before = await db().journalEvent.count();
    for (const c of cases) await lead.ok(c.query, { ...c.vars, key: `each-${c.name}` });
    expect(await db().journalEvent.count()).toBe(before);
  });

  it("racing 16 at once writes exactly once, and every racer gets the one task", async () => {
    const { lead, teamId } = await newTeam("race");
    const vars = { t: teamId, input: { title: "raced" }, key: "race-1" };
    const results = await Promise.all(Array.from({ length: 16 }, () => lead.run(CREATE_TASK, vars)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    const ids = new Set(results.map((r) => r.data.createTask.id));
    expect(ids.size).toBe(1);
    expect(await db().task.count({ where: { teamId } })).toBe(1);
    expect(await journalOf([...ids][0]!, "task.created")).toBe(1);
  });

  it("racing 12 sendMessage calls at once delivers one message", async () => {
    const { lead, bob } = await newTeam("race-msg");
    const vars = { to: [bob.name], m: { body: "exactly once" }, key: "race-msg" };
    const results = await Promise.all(Array.from({ length: 12 }, () => lead.run(SEND, vars)));
    expect(results.filter((r) => r.errors)).toEqual([]);
    expect(new Set(results.map((r) => r.data.sendMessage.id)).size).toBe(1);
    expect(await db().messageDelivery.count({ where: { agentId: bob.id } })).toBe(1);
    expect(await db().journalEvent.count({ where: { recipientId: bob.id, kind: "message.received" } })).toBe(1);
  });
});

describe("refusals and scope", () => {
  it("refuses the same key with other arguments, or on another mutation, with CONFLICT and writes nothing", async () => {
    const { lead, bob, teamId } = await newTeam("conflict");
    await lead.ok(CREATE_TASK, { t: teamId, input: { title: "first" }, key: "dup" });
    const before = [await db().task.count(), await db().message.count(), await db().journalEvent.count()];
    const other = await lead.fails(CREATE_TASK, { t: teamId, input: { title: "second" }, key: "dup" });
    expect(other.code).toBe("CONFLICT");
    expect(other.message).toMatch(/idempotency key "dup" was used .* for createTask with other arguments/);
    const elsewhere = await lead.fails(SEND, { to: [bob.name], m: { body: "hi" }, key: "dup" });
    expect(elsewhere.code).toBe("CONFLICT");
    expect(elsewhere.message).toMatch(/for createTask;/);
    expect([await db().task.count(), await db().message.count(), await db().journalEvent.count()]).toEqual(before);
  });

  it("keeps each agent's keys apart: two agents with the same key create two tasks", async () => {
    const { lead, bob, teamId } = await newTeam("agents");
    const input = { title: "mine" };
    const a = (await lead.ok(CREATE_TASK, { t: teamId, input, key: "shared-key" })).createTask;
    const b = (await bob.ok(CREATE_TASK, { t: teamId, input, key: "shared-key" })).createTask;
    expect(a.id).not.toBe(b.id);
    expect(await db().task.count({ where: { teamId } })).toBe(2);
  });

  it("refuses a key that is empty, too long or not printable ASCII (BAD_USER_INPUT)", async () => {
    const { lead, teamId } = await newTeam("badkey");
    for (const key of ["", "x".repeat(201), "tab\there", "naïve"]) {
      const error = await lead.fails(CREATE_TASK, { t: teamId, input: { title: "t" }, key });
      expect(error.code, JSON.stringify(key)).toBe("BAD_USER_INPUT");
      expect(error.message).toMatch(/^idempotencyKey: 1–200 printable ASCII characters/);
    }
    expect((await lead.ok(CREATE_TASK, { t: teamId, input: { title: "t" }, key: "x".repeat(200) })).createTask.number).toBe(1);
    expect(await db().task.count({ where: { teamId } })).toBe(1);
  });

  it("does not keep a refused request: the retry of a refused write runs again", async () => {
    const { lead, teamId } = await newTeam("refused");
    const refused = await lead.fails(CREATE_TASK, { t: teamId, input: { title: "t", assignee: "nobody-here" }, key: "r" });
    expect(refused.code).toBe("BAD_USER_INPUT");
    expect((await lead.ok(CREATE_TASK, { t: teamId, input: { title: "t" }, key: "r" })).createTask.number).toBe(1);
  });

  it("frees a key after 24 hours: the sweeper purges it and the key makes a new object", async () => {
    const { lead, teamId } = await newTeam("expiry");
    const first = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "yesterday" }, key: "daily" })).createTask;
    const dayAgo = new Date(Date.now() - 24 * 3600_000 - 60_000).toISOString().replace("Z", "+00:00");
    await sqlBehindTheServer(server, `UPDATE "IdempotencyKey" SET "createdAt" = ? WHERE "agentId" = ? AND "key" = ?`, [dayAgo, lead.id, "daily"]);
    // Still there until the sweeper runs, and already free: other arguments are no conflict.
    const second = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "today" }, key: "daily" })).createTask;
    expect(second.id).not.toBe(first.id);
    expect((await lead.ok(CREATE_TASK, { t: teamId, input: { title: "today" }, key: "daily" })).createTask.id).toBe(second.id);
    // Aged again, the sweeper deletes it.
    await sqlBehindTheServer(server, `UPDATE "IdempotencyKey" SET "createdAt" = ? WHERE "agentId" = ? AND "key" = ?`, [dayAgo, lead.id, "daily"]);
    await waitFor(async () => ((await db().idempotencyKey.count({ where: { agentId: lead.id } })) === 0 ? true : undefined), 10_000, "the purge");
  });
});

describe("ask", () => {
  it("a repeated ask sends no second question: it waits for the replies to the first, with its own timeout", async () => {
    const { lead, bob } = await newTeam("ask");
    const vars = { to: [bob.name], q: "which branch?", key: "ask-1" };
    // Two racing asks with the same key: one question, both answered by bob's one reply.
    const asks = [lead.ok(ASK, { ...vars, s: 60 }), lead.ok(ASK, { ...vars, s: 30 })];
    const questionId = await waitFor(async () => (await db().message.findFirst({ where: { senderId: lead.id, intent: "ask" }, select: { id: true } }))?.id, 10_000, "the question");
    await bob.ok(REPLY, { id: questionId, m: { body: "main" } });
    const [a, b] = (await Promise.all(asks)).map((d) => d.ask);
    for (const answer of [a, b]) {
      expect(answer).toMatchObject({ timedOut: false, unanswered: [], question: { id: questionId }, replies: [{ body: "main" }] });
    }
    // A later repeat answers at once from the reply already there.
    expect((await lead.ok(ASK, { ...vars, s: 1 })).ask).toMatchObject({ timedOut: false, question: { id: questionId }, replies: [{ body: "main" }] });
    expect(await db().message.count({ where: { senderId: lead.id, intent: "ask" } })).toBe(1);
    expect(await db().journalEvent.count({ where: { recipientId: bob.id, kind: "message.received" } })).toBe(1);
  });

  it("a repeat after a timeout waits again for the same question, and other timeouts are no conflict", async () => {
    const { lead, bob } = await newTeam("ask-timeout");
    const vars = { to: [bob.name], q: "still there?", key: "ask-2" };
    const first = (await lead.ok(ASK, { ...vars, s: 1 })).ask;
    expect(first).toMatchObject({ timedOut: true, unanswered: [bob.name], replies: [] });
    const repeat = lead.ok(ASK, { ...vars, s: 60 });
    await bob.ok(REPLY, { id: first.question.id, m: { body: "yes" } });
    expect((await repeat).ask).toMatchObject({ timedOut: false, question: { id: first.question.id }, replies: [{ body: "yes" }] });
    expect(await db().message.count({ where: { senderId: lead.id, intent: "ask" } })).toBe(1);
  });
});

// Declared only on PostgreSQL (a SQLite file takes one server), so no run reports a skip.
if (onPostgres) {
  describe("two instances on one database", () => {
    it("racing repeats sent to both instances write once", async () => {
      const { createApp } = await import("../../src/app.js");
      const { loadConfig } = await import("../../src/config.js");
      const { openDatabase } = await import("../../src/infra/db.js");
      const { createAnnouncementBus } = await import("../../src/infra/pubsub.js");
      const { pino } = await import("pino");
      const config = loadConfig({ DATABASE_URL: server.databaseUrl, LOG_LEVEL: "silent", RATE_LIMIT_PER_MINUTE: "10000000" });
      const second = createApp({ config, db: await openDatabase(config.DATABASE_URL, { migrate: false }), bus: createAnnouncementBus(), logger: pino({ level: "silent" }) });
      await new Promise<void>((resolve) => second.server.listen(0, "127.0.0.1", resolve));
      const secondUrl = `http://127.0.0.1:${(second.server.address() as { port: number }).port}${config.GRAPHQL_PATH}`;
      try {
        const { lead, teamId } = await newTeam("instances");
        const vars = { t: teamId, input: { title: "across instances" }, key: "two-servers" };
        const results = await Promise.all(Array.from({ length: 16 }, (_, i) => gql(i % 2 ? secondUrl : server.url, CREATE_TASK, vars, lead.token)));
        expect(results.filter((r) => r.errors)).toEqual([]);
        expect(new Set(results.map((r) => r.data.createTask.id)).size).toBe(1);
        expect(await db().task.count({ where: { teamId } })).toBe(1);
        expect(await journalOf(results[0]!.data.createTask.id, "task.created")).toBe(1);
      } finally {
        await second.close();
      }
    });
  });
}

describe("MCP", () => {
  const clients: Client[] = [];
  afterAll(() => Promise.all(clients.map((c) => c.close())));

  async function connect(agent: TestAgent): Promise<Client> {
    const client = new Client({ name: "idempotency-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url.replace(/\/graphql$/, "/mcp")), { requestInit: { headers: { authorization: `Bearer ${agent.token}` } } }));
    clients.push(client);
    return client;
  }
  const text = async (client: Client, name: string, args: Record<string, unknown>) => {
    const result = await client.callTool({ name, arguments: args });
    return { text: (result.content as { text: string }[]).map((c) => c.text).join("\n"), isError: result.isError === true, code: (result.structuredContent as { code?: string } | undefined)?.code };
  };

  it("create_task, send_message and add_knowledge repeated with the same idempotency_key write once", async () => {
    const { lead, bob, teamId } = await newTeam("mcp");
    const client = await connect(lead);
    const create = { title: "from a model", idempotency_key: "mcp-1" };
    const first = await text(client, "create_task", create);
    expect(first.isError).toBe(false);
    expect(await text(client, "create_task", create)).toEqual(first);
    expect(await db().task.count({ where: { teamId } })).toBe(1);

    const send = { to: bob.name, body: "from a model", idempotency_key: "mcp-2" };
    expect((await text(client, "send_message", send)).text).toBe((await text(client, "send_message", send)).text);
    expect(await db().messageDelivery.count({ where: { agentId: bob.id } })).toBe(1);

    const add = { title: "a fact", body: "b", idempotency_key: "mcp-3" };
    expect((await text(client, "add_knowledge", add)).text).toBe((await text(client, "add_knowledge", add)).text);
    expect(await db().knowledgeEntry.count({ where: { teamId } })).toBe(1);

    const conflict = await text(client, "create_task", { ...create, title: "something else" });
    expect(conflict).toMatchObject({ isError: true, code: "CONFLICT" });
  });
});
