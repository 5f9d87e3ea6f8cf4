// What events carry and which rows an action writes, read as an agent reads them: over
// subscriptions and the team's journal. An event carries what the agent acts on (a
// message's body and sender, a dashboard's text, tasks by number and agents by name), an
// action writes one row a scope, a holder is told when its claim is lost, and every
// message between members of a team is in the team's journal without its private body.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type Subscription, type TestAgent } from "../helpers/client.js";
import { sqlBehindTheServer, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  // The sweeper runs when a test calls it, never on its own.
  server = await startServer({ LEASE_SWEEP_MS: "60000" });
});
afterAll(() => server.close());

const INBOX_EVENTS = `subscription($after: Int) { inboxEvents(after: $after) { cursor kind subjectId payload } }`;
const TEAM_EVENTS = `subscription($t: ID!, $after: Int, $kinds: [String!]) { teamEvents(teamId: $t, after: $after, kinds: $kinds) { cursor kind subjectId payload } }`;
const TASK_EVENTS = `subscription($t: ID!, $after: Int, $taskId: ID) { taskEvents(teamId: $t, after: $after, taskId: $taskId) { cursor kind subjectId payload } }`;
const JOURNAL = `query($t: ID!, $after: Int, $kinds: [String!]) { team(id: $t) { journal(first: 100, after: $after, kinds: $kinds) { edges { node { cursor kind subjectId payload actor { name } } } } } }`;
const SEND = `mutation($to: [String!]!, $m: MessageInput!) { sendMessage(to: $to, message: $m) { id threadId } }`;
const REPLY = `mutation($id: ID!, $m: MessageInput!) { reply(messageId: $id, message: $m) { id threadId } }`;
const ASK = `mutation($to: [String!]!, $q: String!) { ask(to: $to, question: $q, timeoutSeconds: 30) { question { id } reply { id body } timedOut } }`;
const BROADCAST = `mutation($t: ID!, $m: MessageInput!) { broadcast(teamId: $t, message: $m) { id } }`;
const MESSAGE = `query($id: ID!) { message(id: $id) { body } }`;
const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!) { createTask(teamId: $t, input: $input) { id number } }`;
const CLAIM = `mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 60) { token } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { status } } }`;
const WRITE_DASHBOARD = `mutation($id: ID!, $text: String!, $token: Int) { writeTaskDashboard(id: $id, text: $text, claimToken: $token) { id } }`;
const APPEND_DASHBOARD = `mutation($id: ID!, $text: String!, $token: Int) { appendTaskDashboard(id: $id, text: $text, claimToken: $token) { id } }`;

let agentCount = 0;
const newAgent = (label: string) => registerAgent(server, `ev-${label}-${++agentCount}`);
const db = () => server.app.services.db.reader;

/** The next `n` events of a subscription (the field named `field`). */
async function take(sub: Subscription, field: string, n: number): Promise<any[]> {
  const events = [];
  while (events.length < n) {
    const result = await sub.next(15_000);
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data[field]);
  }
  return events;
}

/** The team's journal as a member reads it, after a cursor. */
async function journal(member: TestAgent, teamId: string, after = 0, kinds?: string[]): Promise<any[]> {
  const { team } = await member.ok(JOURNAL, { t: teamId, after, kinds });
  return team.journal.edges.map((e: any) => e.node);
}

const head = () => server.app.services.journal.head();

describe("message events carry what the recipient acts on", () => {
  it("a direct message, a reply and a broadcast: sender, intent, priority, thread, body; a long body cut at 2,000 characters", async () => {
    const [lead, worker] = [await newAgent("lead"), await newAgent("worker")];
    const teamId = await createTeam(lead, `msg-${agentCount}`, [[worker, "worker"]]);
    const inbox = worker.subscribe("ws", INBOX_EVENTS, { after: await head() });
    const leadInbox = lead.subscribe("sse", INBOX_EVENTS, { after: await head() });

    const first = (await lead.ok(SEND, { to: [worker.name], m: { body: "Tasks ready.", intent: "DELEGATE", priority: "HIGH" } })).sendMessage;
    const [received] = await take(inbox, "inboxEvents", 1);
    expect(received).toMatchObject({ kind: "message.received", subjectId: first.id });
    expect(received.payload).toEqual({ kind: "direct", from: lead.name, fromId: lead.id, intent: "delegate", priority: "high", threadId: first.id, body: "Tasks ready." });

    const answer = (await worker.ok(REPLY, { id: first.id, m: { body: "on it" } })).reply;
    const [replied] = await take(leadInbox, "inboxEvents", 1);
    expect(replied.payload).toEqual({ kind: "direct", from: worker.name, fromId: worker.id, intent: "reply", priority: "normal", threadId: first.id, replyToId: first.id, body: "on it" });
    expect(answer.threadId).toBe(first.id);

    // Whole up to 2,000 characters; cut there, and flagged, beyond (the message keeps it all).
    const long = "é".repeat(1_999) + "😀" + "x".repeat(500);
    const big = (await lead.ok(SEND, { to: [worker.name], m: { body: long } })).sendMessage;
    const [cut] = await take(inbox, "inboxEvents", 1);
    expect(cut.payload.body).toBe("é".repeat(1_999));
    expect(cut.payload.bodyTruncated).toBe(true);
    expect((await worker.ok(MESSAGE, { id: big.id })).message.body).toBe(long);
    const exact = "y".repeat(2_000);
    await lead.ok(SEND, { to: [worker.name], m: { body: exact } });
    const [whole] = await take(inbox, "inboxEvents", 1);
    expect(whole.payload.body).toBe(exact);
    expect(whole.payload).not.toHaveProperty("bodyTruncated");

    // A broadcast: each member's row, and one team row, both with the body.
    const cast = (await lead.ok(BROADCAST, { t: teamId, m: { body: "standup in 5" } })).broadcast;
    const [castReceived] = await take(inbox, "inboxEvents", 1);
    expect(castReceived.payload).toEqual({ kind: "broadcast", teamId, from: lead.name, fromId: lead.id, intent: "inform", priority: "normal", threadId: cast.id, body: "standup in 5" });
    const [teamRow] = await journal(worker, teamId, 0, ["message.broadcast"]);
    expect(teamRow.payload).toEqual({ from: lead.name, fromId: lead.id, intent: "inform", priority: "normal", threadId: cast.id, body: "standup in 5", recipients: 1 });
    await Promise.all([inbox.close(), leadInbox.close()]);
  });
});

describe("task events: numbers, titles and names; one row per action", () => {
  it("create, claim, dashboard, complete: each one row, carrying the task and the agents by name", async () => {
    const [lead, worker] = [await newAgent("lead"), await newAgent("worker")];
    const teamId = await createTeam(lead, `task-${agentCount}`, [[worker, "worker"]]);
    const after = await head();
    const events = lead.subscribe("ws", TASK_EVENTS, { t: teamId, after });

    const task = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "Write the report" } })).createTask;
    const { token } = (await worker.ok(CLAIM, { id: task.id })).claimTask;
    await worker.ok(WRITE_DASHBOARD, { id: task.id, text: "Starting", token });
    await worker.ok(APPEND_DASHBOARD, { id: task.id, text: "z".repeat(2_100), token });
    await worker.ok(UPDATE, { id: task.id, input: { status: "COMPLETED", progress: 100, notes: "done", claimToken: token } });

    const got = await take(events, "taskEvents", 5);
    const core = { number: task.number, title: "Write the report" };
    const held = { ...core, status: "in_progress", assignee: worker.name, assigneeId: worker.id, by: worker.name };
    expect(got.map((e) => [e.kind, e.payload])).toEqual([
      ["task.created", { ...core, status: "pending", priority: "medium", track: null, blockedBy: [], by: lead.name }],
      ["task.claimed", { ...held, token, expiresAt: expect.any(String) }],
      ["task.dashboard_written", { ...held, text: "Starting", length: 8 }],
      ["task.dashboard_appended", { ...held, text: "z".repeat(2_000), textTruncated: true, length: 8 + 1 + 2_100 }],
      ["task.completed", { ...held, status: "completed", from: "in_progress", changed: { progress: 100, notes: "done" } }],
    ]);
    // Nothing else: no task.assigned beside the claim, no task.updated beside the completion.
    const rows = await db().journalEvent.findMany({ where: { subjectId: task.id }, orderBy: { id: "asc" } });
    expect(rows.map((r) => r.kind)).toEqual(["task.created", "task.claimed", "task.dashboard_written", "task.dashboard_appended", "task.completed"]);
    await events.close();
  });

  it("an update that reassigns writes task.assigned with both agents named, and tells the new assignee", async () => {
    const [lead, a, b] = [await newAgent("lead"), await newAgent("a"), await newAgent("b")];
    const teamId = await createTeam(lead, `assign-${agentCount}`, [
      [a, "worker"],
      [b, "worker"],
    ]);
    const task = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "Review", assignee: a.name } })).createTask;
    const after = await head();
    const inbox = b.subscribe("sse", INBOX_EVENTS, { after });
    await lead.ok(UPDATE, { id: task.id, input: { assignee: b.name, priority: "HIGH" } });
    const rows = (await journal(lead, teamId, after)).filter((r) => r.subjectId === task.id);
    expect(rows.map((r) => [r.kind, r.payload])).toEqual([
      [
        "task.assigned",
        { number: task.number, title: "Review", status: "pending", assignee: b.name, assigneeId: b.id, previousAssignee: a.name, previousAssigneeId: a.id, changed: { priority: "high" }, by: lead.name },
      ],
    ]);
    const [told] = await take(inbox, "inboxEvents", 1);
    expect(told).toMatchObject({ kind: "notice.task_assigned", payload: { notice: "task_assigned", number: task.number, title: "Review", assignee: b.name, by: lead.name } });
    await inbox.close();
  });
});

describe("the holder is told when its claim is lost", () => {
  /** Ends the task's live claim by moving its lease end into the past, behind the server. */
  const lapse = (taskId: string) => sqlBehindTheServer(server, `UPDATE "Task" SET "leaseExpiresAt" = ? WHERE "id" = ?`, ["2000-01-01T00:00:00.000+00:00", taskId]);

  it("when the sweeper expires it: notice.lease_lost in its inbox, live, beside the team's task.lease_expired", async () => {
    const [lead, holder] = [await newAgent("lead"), await newAgent("holder")];
    const teamId = await createTeam(lead, `lost-${agentCount}`, [[holder, "worker"]]);
    const task = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "Migrate the data" } })).createTask;
    const { token } = (await holder.ok(CLAIM, { id: task.id })).claimTask;
    const after = await head();
    const inbox = holder.subscribe("ws", INBOX_EVENTS, { after });
    const team = lead.subscribe("sse", TEAM_EVENTS, { t: teamId, after, kinds: ["task.lease_expired"] });
    await lapse(task.id);
    expect(await server.app.services.claims.sweepExpired()).toBeGreaterThanOrEqual(1);

    const [lost] = await take(inbox, "inboxEvents", 1);
    expect(lost).toMatchObject({ kind: "notice.lease_lost" });
    expect(lost.payload).toMatchObject({ notice: "lease_lost", reason: "expired", taskId: task.id, number: task.number, title: "Migrate the data", status: "pending" });
    expect(lost.payload).not.toHaveProperty("by");
    expect(lost.payload.body).toContain(`#${task.number}`);
    const [expired] = await take(team, "teamEvents", 1);
    expect(expired.payload).toMatchObject({ number: task.number, title: "Migrate the data", status: "pending", holder: holder.name, holderId: holder.id, token });
    await Promise.all([inbox.close(), team.close()]);
  });

  it("when an agent with a role on it claims it after its lease ran out: notice.lease_lost naming who took it", async () => {
    const [lead, holder, next] = [await newAgent("lead"), await newAgent("holder"), await newAgent("next")];
    const teamId = await createTeam(lead, `taken-${agentCount}`, [
      [holder, "worker"],
      [next, "worker"],
    ]);
    const task = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "Index the corpus" } })).createTask;
    await holder.ok(CLAIM, { id: task.id });
    // The claim made the holder its assignee: only it, or an agent with a role, may take it.
    await lead.ok(`mutation($id: ID!, $n: String!) { assignTaskRole(id: $id, agentName: $n, role: "reviewer") { id } }`, { id: task.id, n: next.name });
    const inbox = holder.subscribe("sse", INBOX_EVENTS, { after: await head() });
    await lapse(task.id);
    const { token } = (await next.ok(CLAIM, { id: task.id })).claimTask;
    const [lost] = await take(inbox, "inboxEvents", 1);
    expect(lost.payload).toMatchObject({ notice: "lease_lost", reason: "expired", number: task.number, assignee: next.name, by: next.name });
    const [claimed] = (await journal(lead, teamId, 0, ["task.claimed"])).slice(-1);
    expect(claimed.payload).toMatchObject({ token, by: next.name, previousHolder: holder.name, previousHolderId: holder.id, previousAssignee: holder.name });
    await inbox.close();
  });
});

describe("the audit trail: every message between members in the team's journal, without a private body", () => {
  it("a DM, an ask and its reply: one message.sent row each in every team sender and recipient share; a member not party sees no body", async () => {
    const [lead, alice, bob, carol] = [await newAgent("lead"), await newAgent("alice"), await newAgent("bob"), await newAgent("carol")];
    const team = await createTeam(lead, `audit-${agentCount}`, [
      [alice, "worker"],
      [bob, "worker"],
      [carol, "worker"],
    ]);
    // Alice and Bob share a second team; Carol is not in it.
    const side = await createTeam(alice, `side-${agentCount}`, [[bob, "worker"]]);
    const after = await head();
    const watch = carol.subscribe("ws", TEAM_EVENTS, { t: team, after, kinds: ["message.sent"] });
    const bobInbox = bob.subscribe("sse", INBOX_EVENTS, { after });

    const secret = "the launch code is 4711";
    const dm = (await alice.ok(SEND, { to: [bob.name], m: { body: secret } })).sendMessage;
    const asking = alice.ok(ASK, { to: [bob.name], q: `${secret}, confirm?` });
    const [, asked] = await take(bobInbox, "inboxEvents", 2);
    expect(asked.payload).toMatchObject({ intent: "ask", from: alice.name, body: `${secret}, confirm?`, deadline: expect.any(String) });
    const replied = (await bob.ok(REPLY, { id: asked.subjectId, m: { body: `${secret} confirmed` } })).reply;
    const { ask } = await asking;
    expect(ask).toMatchObject({ timedOut: false, reply: { id: replied.id } });

    const expected = [
      { kind: "message.sent", subjectId: dm.id, payload: { from: alice.name, fromId: alice.id, to: [bob.name], intent: "inform", threadId: dm.id } },
      { kind: "message.sent", subjectId: ask.question.id, payload: { from: alice.name, fromId: alice.id, to: [bob.name], intent: "ask", threadId: ask.question.id } },
      { kind: "message.sent", subjectId: replied.id, payload: { from: bob.name, fromId: bob.id, to: [alice.name], intent: "reply", threadId: ask.question.id, replyToId: ask.question.id } },
    ];
    // Live to a member who was party to none of them, and in the journal of both teams.
    const live = await take(watch, "teamEvents", 3);
    expect(live.map(({ kind, subjectId, payload }) => ({ kind, subjectId, payload }))).toEqual(expected);
    for (const [reader, teamId] of [[carol, team], [lead, team], [bob, side]] as const) {
      const rows = await journal(reader, teamId, after, ["message.sent"]);
      expect(rows.map(({ kind, subjectId, payload }: any) => ({ kind, subjectId, payload }))).toEqual(expected);
      expect(rows.map((r: any) => r.actor.name)).toEqual([alice.name, alice.name, bob.name]);
    }
    // Carol reads no body: not in any row of the team's journal, not by the message's ID.
    expect(JSON.stringify(await journal(carol, team, 0))).not.toContain("launch code");
    for (const id of [dm.id, ask.question.id, replied.id]) expect((await carol.fails(MESSAGE, { id })).code).toBe("NOT_FOUND");
    await Promise.all([watch.close(), bobInbox.close()]);
  });

  it("to recipients in different teams: each team's row names only its own members", async () => {
    const [alice, bob, dave] = [await newAgent("alice"), await newAgent("bob"), await newAgent("dave")];
    const withBob = await createTeam(alice, `with-bob-${agentCount}`, [[bob, "worker"]]);
    const withDave = await createTeam(alice, `with-dave-${agentCount}`, [[dave, "worker"]]);
    const after = await head();
    const sent = (await alice.ok(SEND, { to: [bob.name, dave.name], m: { body: "status?" } })).sendMessage;
    const rowsOf = async (reader: TestAgent, teamId: string) => (await journal(reader, teamId, after, ["message.sent"])).map((r: any) => [r.subjectId, r.payload.to]);
    expect(await rowsOf(bob, withBob)).toEqual([[sent.id, [bob.name]]]);
    expect(await rowsOf(dave, withDave)).toEqual([[sent.id, [dave.name]]]);
  });
});
