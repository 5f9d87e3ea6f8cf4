// Messaging through the server: direct, broadcast and topic messages, the inbox and
// its read state, threads, ask-and-wait, live delivery, and bad input.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let planner: TestAgent;
let worker: TestAgent;
let analyst: TestAgent;
let stranger: TestAgent;
let teamId: string;
beforeAll(async () => {
  server = await startServer();
  planner = await registerAgent(server, "msg-planner");
  worker = await registerAgent(server, "msg-worker");
  analyst = await registerAgent(server, "msg-analyst");
  stranger = await registerAgent(server, "msg-stranger");
  teamId = await createTeam(planner, "messaging", [
    [worker, "worker"],
    [analyst, "analyst"],
  ]);
});
afterAll(() => server.close());

const SEND = `mutation($to: [String!]!, $m: MessageInput!) { sendMessage(to: $to, message: $m) { id threadId intent priority payload sender { name } } }`;
const BROADCAST = `mutation($t: ID!, $m: MessageInput!) { broadcast(teamId: $t, message: $m) { id kind } }`;
const PUBLISH = `mutation($t: ID!, $topic: String!, $m: MessageInput!) { publish(teamId: $t, topic: $topic, message: $m) { id topic } }`;
const INBOX = `query($f: InboxFilter, $old: Boolean, $first: Int, $after: String) {
  unreadCount(filter: $f)
  inbox(filter: $f, oldestFirst: $old, first: $first, after: $after) {
    edges { node { read message { id body intent kind topic sender { name } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

type InboxNode = { read: boolean; message: { id: string; body: string; intent: string; kind: string; topic: string | null; sender: { name: string } | null } };
const bodies = (data: { inbox: { edges: { node: InboxNode }[] } }) => data.inbox.edges.map((e) => e.node.message.body);
const journalCount = () => server.app.services.db.reader.journalEvent.count();
const messageCount = () => server.app.services.db.reader.message.count();

describe("sending", () => {
  it("sends a direct message with intent, priority and a JSON payload", async () => {
    const { sendMessage } = await planner.ok(SEND, { to: [worker.name], m: { body: "tasks ready", intent: "DELEGATE", priority: "HIGH", payload: { milestone: "Sprint 1" } } });
    expect(sendMessage).toMatchObject({ intent: "DELEGATE", priority: "HIGH", payload: { milestone: "Sprint 1" }, sender: { name: planner.name } });
    expect(sendMessage.threadId).toBe(sendMessage.id);
    const inbox = await worker.ok(INBOX, { f: { from: planner.name, unread: true } });
    expect(bodies(inbox)).toContain("tasks ready");
  });

  it("refuses an agent who shares no team exactly like one who does not exist", async () => {
    const before = [await messageCount(), await journalCount()];
    const lonely = await planner.run(SEND, { to: [stranger.name], m: { body: "hello" } });
    const ghost = await planner.run(SEND, { to: ["no-such-agent"], m: { body: "hello" } });
    expect(lonely.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
    expect(lonely.errors?.[0]?.message.replace(stranger.name, "X")).toBe(ghost.errors?.[0]?.message.replace("no-such-agent", "X"));
    expect([await messageCount(), await journalCount()]).toEqual(before);
  });

  it("broadcasts to every other member, with read state per recipient", async () => {
    const { broadcast } = await planner.ok(BROADCAST, { t: teamId, m: { body: "standup in 5" } });
    expect(broadcast.kind).toBe("BROADCAST");
    await worker.ok(`mutation($ids: [ID!]) { markRead(ids: $ids) }`, { ids: [broadcast.id] });
    const workerView = await worker.ok(INBOX, { f: { teamId } });
    const analystView = await analyst.ok(INBOX, { f: { teamId } });
    const readOf = (data: { inbox: { edges: { node: InboxNode }[] } }) => data.inbox.edges.find((e) => e.node.message.id === broadcast.id)!.node.read;
    expect(readOf(workerView)).toBe(true);
    expect(readOf(analystView)).toBe(false);
    expect(bodies(await planner.ok(INBOX, { f: { teamId } }))).not.toContain("standup in 5");
    const outsider = await stranger.fails(BROADCAST, { t: teamId, m: { body: "spam" } });
    expect(outsider.code).toBe("NOT_FOUND");
  });

  it("delivers topic messages to members following a matching pattern", async () => {
    await worker.ok(`mutation($t: ID!) { followTopic(teamId: $t, pattern: "reports.*") { pattern } }`, { t: teamId });
    await analyst.ok(`mutation($t: ID!) { followTopic(teamId: $t, pattern: "research.#") { pattern } }`, { t: teamId });
    await planner.ok(PUBLISH, { t: teamId, topic: "reports.weekly", m: { body: "weekly report" } });
    await planner.ok(PUBLISH, { t: teamId, topic: "research.complete.phase1", m: { body: "phase 1 done" } });
    await planner.ok(PUBLISH, { t: teamId, topic: "reports.weekly.extra", m: { body: "too deep for reports.*" } });
    const w = bodies(await worker.ok(INBOX, { f: { kind: "TOPIC" } }));
    const a = bodies(await analyst.ok(INBOX, { f: { kind: "TOPIC" } }));
    expect(w).toEqual(["weekly report"]);
    expect(a).toEqual(["phase 1 done"]);
    expect(await worker.ok(`mutation($t: ID!) { unfollowTopic(teamId: $t, pattern: "reports.*") }`, { t: teamId })).toEqual({ unfollowTopic: true });
    await planner.ok(PUBLISH, { t: teamId, topic: "reports.weekly", m: { body: "after unfollow" } });
    expect(bodies(await worker.ok(INBOX, { f: { kind: "TOPIC" } }))).toEqual(["weekly report"]);
  });
});

describe("the inbox", () => {
  it("filters, pages newest or oldest first, marks read by ID, up to a message, and by sender", async () => {
    const reader = await registerAgent(server, "inbox-reader");
    const team = await createTeam(planner, "inbox team", [
      [reader, "reader"],
      [worker, "worker"],
    ]);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await planner.ok(SEND, { to: [reader.name], m: { body: `p${i}`, intent: i % 2 ? "ASK" : "INFORM" } })).sendMessage.id);
    for (let i = 0; i < 3; i++) await worker.ok(SEND, { to: [reader.name], m: { body: `w${i}` } });
    void team;

    const newest = await reader.ok(INBOX, { first: 3 });
    expect(bodies(newest)).toEqual(["w2", "w1", "w0"]);
    const next = await reader.ok(INBOX, { first: 3, after: newest.inbox.pageInfo.endCursor });
    expect(bodies(next)).toEqual(["p4", "p3", "p2"]);
    expect(bodies(await reader.ok(INBOX, { old: true, first: 2 }))).toEqual(["p0", "p1"]);
    expect(bodies(await reader.ok(INBOX, { f: { intent: "ASK" } }))).toEqual(["p3", "p1"]);
    expect((await reader.ok(INBOX, {})).unreadCount).toBe(8);

    expect((await reader.ok(`mutation($ids: [ID!]) { markRead(ids: $ids) }`, { ids: [ids[4]] })).markRead).toBe(1);
    expect((await reader.ok(`mutation($up: ID) { markRead(upTo: $up) }`, { up: ids[1] })).markRead).toBe(2);
    expect(bodies(await reader.ok(INBOX, { f: { unread: true, from: planner.name } }))).toEqual(["p3", "p2"]);
    expect((await reader.ok(`mutation($f: String!) { acknowledge(from: $f) }`, { f: worker.name })).acknowledge).toBe(3);
    expect((await reader.ok(INBOX, { f: { unread: true } })).unreadCount).toBe(2);
    // Marking read is per recipient and never touches another agent's inbox.
    expect((await worker.ok(`mutation($ids: [ID!]) { markRead(ids: $ids) }`, { ids })).markRead).toBe(0);
    // IDs and upTo together are refused, marking nothing; neither marks everything.
    const both = await reader.fails(`mutation($ids: [ID!], $up: ID) { markRead(ids: $ids, upTo: $up) }`, { ids: [ids[0]], up: ids[1] });
    expect(both.code).toBe("BAD_USER_INPUT");
    expect(both.message).toBe("upTo: give either ids or upTo, not both");
    expect((await reader.ok(INBOX, { f: { unread: true } })).unreadCount).toBe(2);
    expect((await reader.ok(`mutation { markRead }`)).markRead).toBe(2);
    expect((await reader.ok(INBOX, { f: { unread: true } })).unreadCount).toBe(0);
  });

  it("shows a thread in order, and refuses replies to messages the sender cannot see", async () => {
    const { sendMessage: first } = await planner.ok(SEND, { to: [worker.name], m: { body: "which database?" } });
    await worker.ok(`mutation($id: ID!) { reply(messageId: $id, message: { body: "PostgreSQL" }) { id } }`, { id: first.id });
    await planner.ok(SEND, { to: [worker.name], m: { body: "why?", replyToId: first.id } });
    const { thread } = await worker.ok(`query($id: ID!) { thread(messageId: $id) { body intent sender { name } replyTo { id } } }`, { id: first.id });
    expect(thread.map((m: { body: string }) => m.body)).toEqual(["which database?", "PostgreSQL", "why?"]);
    expect(thread[1]).toMatchObject({ intent: "REPLY", replyTo: { id: first.id } });

    const before = [await messageCount(), await journalCount()];
    for (const id of [first.id, randomUUID()]) {
      const error = await stranger.fails(`mutation($id: ID!) { reply(messageId: $id, message: { body: "me too" }) { id } }`, { id });
      expect(error.code).toBe("NOT_FOUND");
      const peek = await stranger.fails(`query($id: ID!) { thread(messageId: $id) { body } }`, { id });
      expect(peek.code).toBe("NOT_FOUND");
    }
    const analystReply = await analyst.fails(SEND, { to: [planner.name], m: { body: "sneaky", replyToId: first.id } });
    expect(analystReply.code).toBe("NOT_FOUND");
    expect([await messageCount(), await journalCount()]).toEqual(before);
  });
});

describe("ask and wait", () => {
  const ASK = `mutation($to: [String!]!, $q: String!, $s: Int!) { ask(to: $to, question: $q, timeoutSeconds: $s) { timedOut unanswered question { id deadline } reply { body sender { name } } replies { body sender { name } } } }`;

  /** Answers the next ask that reaches `agent`'s inbox over graphql-ws. */
  function answerNextAsk(agent: TestAgent, answer: string) {
    const sub = agent.subscribe("ws", `subscription { inboxEvents { kind subjectId payload } }`);
    return {
      ready: () => expect.poll(() => server.app.services.tailer.stats().listeners).toBeGreaterThan(0),
      done: (async () => {
        for (;;) {
          const event = (await sub.next(15_000)).data.inboxEvents;
          if (event.payload.intent === "ask") {
            await agent.ok(`mutation($id: ID!, $b: String!) { reply(messageId: $id, message: { body: $b }) { id } }`, { id: event.subjectId, b: answer });
            await sub.close();
            return;
          }
        }
      })(),
    };
  }

  it("returns the reply when it comes in time", async () => {
    const answering = answerNextAsk(worker, "yes, ready");
    await answering.ready();
    const { ask } = await planner.ok(ASK, { to: [worker.name], q: "are you ready?", s: 20 });
    await answering.done;
    expect(ask).toMatchObject({ timedOut: false, unanswered: [], reply: { body: "yes, ready", sender: { name: worker.name } } });
  });

  it("says it timed out, as data, and the asked agent sees the ask expired", async () => {
    const { ask } = await planner.ok(ASK, { to: [analyst.name], q: "quick question?", s: 1 });
    expect(ask).toMatchObject({ timedOut: true, unanswered: [analyst.name], reply: null, replies: [] });
    const { message } = await analyst.ok(`query($id: ID!) { message(id: $id) { intent deadline expired } }`, { id: ask.question.id });
    expect(message).toMatchObject({ intent: "ASK", deadline: ask.question.deadline, expired: true });
  });

  it("asks several agents at once and takes the replies that came in time", async () => {
    const slow = await registerAgent(server, "msg-slow");
    await planner.ok(`mutation($t: ID!) { addTeamMember(teamId: $t, agentName: "msg-slow", role: "slow") { role } }`, { t: teamId });
    const a = answerNextAsk(worker, "worker says A");
    const b = answerNextAsk(analyst, "analyst says B");
    await expect.poll(() => server.app.services.tailer.stats().listeners).toBeGreaterThanOrEqual(2);
    const { ask } = await planner.ok(ASK, { to: [worker.name, analyst.name, slow.name], q: "status?", s: 3 });
    await Promise.all([a.done, b.done]);
    expect(ask.timedOut).toBe(true);
    expect(ask.unanswered).toEqual([slow.name]);
    expect(ask.replies.map((r: { body: string }) => r.body).sort()).toEqual(["analyst says B", "worker says A"]);
  });

  it("holds hundreds of waiting asks without starving the server", async () => {
    // 200 asks wait long enough for any machine to answer them; 100 more time out on their own.
    // Nothing here depends on how fast the machine is, only the test's own time limit.
    const LONG = 200;
    const SHORT = 100;
    const long = Array.from({ length: LONG }, (_, i) => planner.ok(ASK, { to: [worker.name], q: `long${i}`, s: 300 }));
    const short = Array.from({ length: SHORT }, (_, i) => planner.ok(ASK, { to: [worker.name], q: `short${i}`, s: 2 }));
    const sent = () => server.app.services.db.reader.message.findMany({ where: { intent: "ask", body: { startsWith: "long" }, senderId: planner.id }, select: { id: true } });
    await expect.poll(async () => (await sent()).length, { timeout: 150_000 }).toBe(LONG);
    // While they wait, the server keeps answering, and the asked agent answers every long one.
    const me = await worker.ok(`{ me { name } }`);
    expect(me.me.name).toBe(worker.name);
    await Promise.all((await sent()).map((q) => worker.ok(`mutation($id: ID!) { reply(messageId: $id, message: { body: "a" }) { id } }`, { id: q.id })));
    const answered = await Promise.all(long);
    expect(answered.filter((r) => !r.ask.timedOut).length).toBe(LONG);
    const timedOut = await Promise.all(short);
    expect(timedOut.filter((r) => r.ask.timedOut).length).toBe(SHORT);
    await expect.poll(() => server.app.services.tailer.stats().listeners).toBe(0);
  }, 280_000);

  it("bounds the timeout", async () => {
    for (const s of [0, 301]) {
      const error = await planner.fails(ASK, { to: [worker.name], q: "?", s });
      expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "timeoutSeconds" });
    }
  });
});

describe("live delivery", () => {
  for (const transport of ["ws", "sse"] as const) {
    it(`streams my inbox over ${transport}, replaying after a cursor`, async () => {
      const listener = await registerAgent(server, `listener-${transport}`);
      await planner.ok(`mutation($t: ID!, $n: String!) { addTeamMember(teamId: $t, agentName: $n, role: "listener") { role } }`, { t: teamId, n: listener.name });
      await planner.ok(SEND, { to: [listener.name], m: { body: "before subscribing" } });
      const sub = listener.subscribe(transport, `subscription { inboxEvents(after: 0) { cursor kind payload } }`);
      const first = (await sub.next()).data.inboxEvents;
      expect(first).toMatchObject({ kind: "message.received", payload: { kind: "direct" } });
      await planner.ok(BROADCAST, { t: teamId, m: { body: "live broadcast" } });
      const second = (await sub.next()).data.inboxEvents;
      expect(second).toMatchObject({ kind: "message.received", payload: { kind: "broadcast", teamId } });
      expect(second.cursor).toBeGreaterThan(first.cursor);
      await sub.close();
    });
  }

  it("streams topic publications by pattern", async () => {
    const sub = analyst.subscribe("sse", `subscription($t: ID!) { topicEvents(teamId: $t, pattern: "alerts.#", after: 0) { kind payload } }`, { t: teamId });
    await expect.poll(() => server.app.services.tailer.stats().listeners).toBeGreaterThan(0);
    await planner.ok(PUBLISH, { t: teamId, topic: "noise.x", m: { body: "ignored" } });
    await planner.ok(PUBLISH, { t: teamId, topic: "alerts.disk.full", m: { body: "disk full" } });
    const event = (await sub.next()).data.topicEvents;
    expect(event).toMatchObject({ kind: "message.published", payload: { topic: "alerts.disk.full" } });
    await sub.close();
  });

  it("stops a removed agent's team broadcasts, live and in replay", async () => {
    const leaver = await registerAgent(server, "msg-leaver");
    const team = await createTeam(planner, "leaving", [[leaver, "temp"]]);
    await planner.ok(BROADCAST, { t: team, m: { body: "while a member" } });
    const sub = leaver.subscribe("ws", `subscription { inboxEvents(after: 0) { cursor payload } }`);
    expect((await sub.next()).data.inboxEvents.payload.teamId).toBe(team);
    await planner.ok(`mutation($t: ID!, $a: ID!) { removeTeamMember(teamId: $t, agentId: $a) { id } }`, { t: team, a: leaver.id });
    await planner.ok(BROADCAST, { t: team, m: { body: "after removal" } });
    await planner.ok(SEND, { to: [worker.name], m: { body: "unrelated" } });
    // A direct message still arrives; nothing of the team does.
    await planner.ok(`mutation($t: ID!, $n: String!) { addTeamMember(teamId: $t, agentName: $n, role: "x") { role } }`, { t: teamId, n: leaver.name });
    await planner.ok(SEND, { to: [leaver.name], m: { body: "direct after removal" } });
    const next = (await sub.next()).data.inboxEvents;
    expect(next.payload).toMatchObject({ kind: "direct", body: "direct after removal" });
    await sub.close();
    const replay = leaver.subscribe("sse", `subscription { inboxEvents(after: 0) { payload } }`);
    const replayed = (await replay.next()).data.inboxEvents;
    expect(replayed.payload).toMatchObject({ kind: "direct", body: "direct after removal" });
    await replay.close();
    expect(bodies(await leaver.ok(INBOX, {}))).toEqual(["direct after removal"]);
  });
});

describe("bad input writes nothing", () => {
  it.each([
    ["an empty body", SEND, { to: ["msg-worker"], m: { body: "  " } }, "body"],
    ["an oversized body", SEND, { to: ["msg-worker"], m: { body: "x".repeat(20_001) } }, "body"],
    ["no recipients", SEND, { to: [], m: { body: "hi" } }, "to"],
    ["a message to yourself", SEND, { to: ["msg-planner"], m: { body: "hi" } }, "to"],
    ["a topic with invalid characters", PUBLISH, { topic: "bad topic!", m: { body: "hi" } }, "topic"],
    ["a wildcard in a topic", PUBLISH, { topic: "reports.*", m: { body: "hi" } }, "topic"],
    ["the server's own intent", SEND, { to: ["msg-worker"], m: { body: "hi", intent: "NOTICE" } }, "intent"],
  ])("refuses %s", async (_name, query, vars, field) => {
    const before = [await messageCount(), await journalCount()];
    const error = await planner.fails(query, { t: teamId, ...vars });
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect([await messageCount(), await journalCount()]).toEqual(before);
  });

  it("refuses a payload that is not a JSON object and a bad follow pattern", async () => {
    const before = [await messageCount(), await journalCount()];
    const payload = await planner.fails(SEND, { to: [worker.name], m: { body: "hi", payload: [1, 2] } });
    expect(payload.code).toBe("BAD_USER_INPUT");
    const pattern = await planner.fails(`mutation($t: ID!) { followTopic(teamId: $t, pattern: "re*ports") { id } }`, { t: teamId });
    expect(pattern.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "pattern" });
    expect([await messageCount(), await journalCount()]).toEqual(before);
  });
});
