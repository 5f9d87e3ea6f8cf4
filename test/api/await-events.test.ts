// The wait call (awaitEvents, and the MCP tool await_events): what concerns an agent after a
// cursor, answered as soon as it comes, with the same rows as the subscriptions.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, gql, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let worker: TestAgent;
let outsider: TestAgent;
let teamId: string;
let elsewhere: string;

beforeAll(async () => {
  server = await startServer();
  lead = await registerAgent(server, "wait-lead");
  worker = await registerAgent(server, "wait-worker");
  outsider = await registerAgent(server, "wait-outsider");
  teamId = await createTeam(lead, "waiting", [[worker, "worker"]]);
  elsewhere = await createTeam(outsider, "elsewhere");
});
afterAll(() => server?.close());

const AWAIT = `query($after: Int, $timeout: Int, $first: Int, $kinds: [String!]) {
  awaitEvents(after: $after, timeoutSeconds: $timeout, first: $first, teamKinds: $kinds) { cursor timedOut events { cursor kind subjectId teamId payload } }
}`;
const SEND = `mutation($to: [String!]!, $body: String!) { sendMessage(to: $to, message: { body: $body }) { id } }`;
const UPDATE_TEAM = `mutation($t: ID!, $d: String) { updateTeam(teamId: $t, input: { description: $d }) { id } }`;

interface Awaited {
  cursor: number;
  timedOut: boolean;
  events: { cursor: number; kind: string; subjectId: string; teamId: string | null; payload: Record<string, unknown> }[];
}

async function wait(agent: TestAgent, vars: { after?: number; timeout?: number; first?: number; kinds?: string[] }, target = server): Promise<Awaited> {
  const result = await gql(target.url, AWAIT, vars, agent.token);
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  return result.data.awaitEvents as Awaited;
}

/** The current end of the journal, as the wait call reports it when asked not to wait. */
const now = async (agent: TestAgent) => (await wait(agent, { timeout: 0 })).cursor;

/** Resolves once the server has `n` more tailer listeners than before: the waiters are waiting. */
async function waiting(before: number, n: number): Promise<void> {
  await expect.poll(() => server.app.services.tailer.stats().listeners, { timeout: 60_000 }).toBeGreaterThanOrEqual(before + n);
}

describe("awaitEvents", () => {
  it("answers as soon as a message comes, with the event and the cursor to go on from", async () => {
    const from = await now(worker);
    const listeners = server.app.services.tailer.stats().listeners;
    const pending = wait(worker, { after: from, timeout: 120 });
    await waiting(listeners, 1);
    const { sendMessage } = await lead.ok(SEND, { to: [worker.name], body: "wake up" });
    const answer = await pending;
    expect(answer.timedOut).toBe(false);
    expect(answer.events).toHaveLength(1);
    expect(answer.events[0]).toMatchObject({ kind: "message.received", subjectId: sendMessage.id });
    expect(answer.cursor).toBe(answer.events[0]!.cursor);
  });

  it("answers at once with what is already there, in pages, the same rows in the same order as inboxEvents", async () => {
    const from = await now(worker);
    for (let i = 0; i < 7; i++) await lead.ok(SEND, { to: [worker.name], body: `m${i}` });
    await lead.ok(UPDATE_TEAM, { t: teamId, d: "not in the inbox" });
    const seen: number[] = [];
    let cursor = from;
    for (;;) {
      const page = await wait(worker, { after: cursor, first: 3, timeout: 0 });
      if (page.events.length === 0) break;
      expect(page.events.length).toBeLessThanOrEqual(3);
      seen.push(...page.events.map((e) => e.cursor));
      cursor = page.cursor;
    }
    expect(seen).toHaveLength(7);
    // The subscription's replay from the same cursor gives exactly these rows.
    const sub = worker.subscribe("sse", `subscription($a: Int) { inboxEvents(after: $a) { cursor } }`, { a: from });
    const replayed: number[] = [];
    for (let i = 0; i < seen.length; i++) replayed.push((await sub.next()).data.inboxEvents.cursor);
    await sub.close();
    expect(seen).toEqual(replayed);
  });

  it("with teamKinds also brings those kinds of my teams' events, never another team's", async () => {
    const from = await now(worker);
    await outsider.ok(UPDATE_TEAM, { t: elsewhere, d: "secret" });
    await lead.ok(UPDATE_TEAM, { t: teamId, d: "team news" });
    await lead.ok(SEND, { to: [worker.name], body: "and a message" });
    const answer = await wait(worker, { after: from, kinds: ["team.updated"], timeout: 0 });
    expect(answer.events.map((e) => e.kind)).toEqual(["team.updated", "message.received"]);
    expect(answer.events[0]!.teamId).toBe(teamId);
    expect(answer.events[0]!.payload).toMatchObject({ description: "team news" });
  });

  it("with nothing by the timeout answers no events and the same cursor", async () => {
    const from = await now(worker);
    const answer = await wait(worker, { after: from, timeout: 1 });
    expect(answer).toEqual({ cursor: from, timedOut: true, events: [] });
  });

  it("holds hundreds of waiters, each woken by the broadcast that concerns it, while the server answers others", async () => {
    const agents = await Promise.all(Array.from({ length: 20 }, (_, i) => registerAgent(server, `crowd-${i}`)));
    const crowdTeam = await createTeam(lead, "crowd", agents.map((a) => [a, "member"] as [TestAgent, string]));
    const from = await now(lead);
    const listeners = server.app.services.tailer.stats().listeners;
    const waiters = Array.from({ length: 200 }, (_, i) => wait(agents[i % agents.length]!, { after: from, timeout: 200 }));
    await waiting(listeners, 200);
    expect((await lead.ok(`{ me { name } }`)).me.name).toBe(lead.name);
    const { broadcast } = await lead.ok(`mutation($t: ID!) { broadcast(teamId: $t, message: { body: "all hands" }) { id } }`, { t: crowdTeam });
    const answers = await Promise.all(waiters);
    for (const answer of answers) expect(answer.events.map((e) => e.subjectId)).toEqual([broadcast.id]);
    await expect.poll(() => server.app.services.tailer.stats().listeners, { timeout: 30_000 }).toBe(listeners);
  }, 240_000);

  it("is woken by a commit on another instance", async () => {
    const other = await startServer({ DATABASE_URL: server.databaseUrl });
    try {
      const from = await now(worker);
      const listeners = server.app.services.tailer.stats().listeners;
      const pending = wait(worker, { after: from, timeout: 120 });
      await waiting(listeners, 1);
      const sent = await gql(other.url, SEND, { to: [worker.name], body: "from the other instance" }, lead.token);
      expect(sent.errors).toBeUndefined();
      const answer = await pending;
      expect(answer.events.map((e) => e.subjectId)).toEqual([sent.data.sendMessage.id]);
    } finally {
      await other.close();
    }
  });

  it("refuses a timeout over 300 s and a negative cursor", async () => {
    expect((await worker.fails(AWAIT, { timeout: 301 })).code).toBe("BAD_USER_INPUT");
    expect((await worker.fails(AWAIT, { after: -1, timeout: 0 })).code).toBe("BAD_USER_INPUT");
  });

  it("answers, not a reset, when the server shuts down while it waits", async () => {
    const own = await startServer();
    const agent = await registerAgent(own, "shutdown-waiter");
    const listeners = own.app.services.tailer.stats().listeners;
    const pending = gql(own.url, AWAIT, { timeout: 120 }, agent.token);
    await expect.poll(() => own.app.services.tailer.stats().listeners).toBeGreaterThan(listeners);
    await own.close();
    const answer = await pending;
    expect(answer.errors).toBeUndefined();
    expect(answer.data.awaitEvents).toMatchObject({ events: [], timedOut: false });
  });
});

describe("the MCP tool await_events", () => {
  it("wakes on a message and says where to go on from", async () => {
    const client = new Client({ name: "wait-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url.replace(/\/graphql$/, "/mcp")), { requestInit: { headers: { authorization: `Bearer ${worker.token}` } } }));
    try {
      const from = await now(worker);
      const listeners = server.app.services.tailer.stats().listeners;
      const pending = client.callTool({ name: "await_events", arguments: { after: from, timeout_seconds: 50 } });
      await waiting(listeners, 1);
      await lead.ok(SEND, { to: [worker.name], body: "over MCP" });
      const result = await pending;
      const text = (result.content as { text: string }[]).map((c) => c.text).join("\n");
      expect(result.isError).toBeFalsy();
      expect(text).toMatch(/message\.received by wait-lead/);
      expect(text).toMatch(/pass after: \d+/);
    } finally {
      await client.close();
    }
  });
});
