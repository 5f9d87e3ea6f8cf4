// The product stories of /work/shared/design/product.md (1–5), told as scripts through the
// real server: every agent registers and talks with its own token, over HTTP, SSE and
// graphql-ws, exactly as agent code would.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgent, type Subscription, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

// ---- the operations agents use ---------------------------------------------------------

const CREATE_TEAM = `mutation($input: CreateTeamInput!) { createTeam(input: $input) { id name description myRole lead { name } } }`;
const ADD_MEMBER = `mutation($t: ID!, $n: String!, $r: String!) { addTeamMember(teamId: $t, agentName: $n, role: $r) { role agent { name } } }`;
const CREATE_MILESTONE = `mutation($t: ID!, $name: String!) { createMilestone(teamId: $t, name: $name) { id name } }`;
const CREATE_TASK = `mutation($t: ID!, $input: CreateTaskInput!) {
  createTask(teamId: $t, input: $input) {
    id number title description status priority activeForm progress notes metadata verification track trackOrder
    assignee { name } milestone { name }
  }
}`;
const ASSIGN_ROLE = `mutation($id: ID!, $agent: String!, $role: String!, $instructions: String) {
  assignTaskRole(id: $id, agentName: $agent, role: $role, instructions: $instructions) { role instructions agent { name } task { id } }
}`;
const READINESS = `readiness { ready state reason openBlockers { number track } }`;
const MY_TASKS = `query($filter: TaskFilter) { myTasks(first: 50, filter: $filter) { edges { node { id number title status track ${READINESS} } } } }`;
const MY_ROLES = `{ myRoleAssignments { role instructions task { id title } } }`;
const MY_NOTICES = `{ inbox(filter: { kind: NOTICE }, oldestFirst: true, first: 100) { edges { node { message { id payload sender { name } } } } } }`;
const INBOX_LIVE = `subscription($after: Int) { inboxEvents(after: $after) { cursor kind subjectId payload actor { name } } }`;
const SEND = `mutation($to: [String!]!, $body: String!) { sendMessage(to: $to, message: { body: $body }) { id } }`;
const UNREAD_FROM = `query($from: String!) { unreadCount inbox(filter: { unread: true, from: $from }) { edges { node { message { body sender { name } } } } } }`;
const TASK_EVENTS = `subscription($t: ID!, $after: Int, $kinds: [String!]) {
  taskEvents(teamId: $t, after: $after, kinds: $kinds) { cursor kind subjectId payload actor { name } }
}`;
const TASK = `query($id: ID!) {
  task(id: $id) {
    id number title status priority progress notes metadata dashboard activeForm closedAt
    assignee { name } holder { name } ${READINESS}
    findings { author { name } data createdAt }
  }
}`;
const CLAIM = `mutation($id: ID!, $lease: Int) { claimTask(id: $id, leaseSeconds: $lease) { token expiresAt task { id number status assignee { name } ${READINESS} } } }`;
const CLAIM_NEXT = `mutation($t: ID!, $track: String, $lease: Int) {
  claimNextTask(teamId: $t, track: $track, leaseSeconds: $lease) { token expiresAt task { id number title status } }
}`;
const WRITE_DASHBOARD = `mutation($id: ID!, $text: String!, $token: Int) { writeTaskDashboard(id: $id, text: $text, claimToken: $token) { dashboard } }`;
const APPEND_DASHBOARD = `mutation($id: ID!, $text: String!, $token: Int) { appendTaskDashboard(id: $id, text: $text, claimToken: $token) { dashboard } }`;
const UPDATE_TASK = `mutation($id: ID!, $input: UpdateTaskInput!) {
  updateTask(id: $id, input: $input) { verificationNudge task { id number status progress notes closedAt assignee { name } } }
}`;
const ADD_DEPENDENCY = `mutation($id: ID!, $blocker: ID!) { addTaskDependency(id: $id, blockedById: $blocker) { number blockedBy { kind blocker { number } } } }`;
const ADD_FINDING = `mutation($id: ID!, $data: JSONObject!) { addTaskFinding(id: $id, data: $data) { id data author { name } } }`;
const BOARD = `query($t: ID!) { team(id: $t) { board } }`;
const TEAM_TASKS = `query($t: ID!, $filter: TaskFilter) { team(id: $t) { tasks(first: 50, filter: $filter) { edges { node { id number title status assignee { name } } } } } }`;

// Stories 4 and 5: shared context, topics, ask-and-wait, the journal, knowledge.
const SET_POLICY = `mutation($t: ID!, $rules: [WriteRuleInput!]!) { setWritePolicy(teamId: $t, rules: $rules) { role agentId pattern } }`;
const WRITE_POLICY = `query($t: ID!) { team(id: $t) { writePolicy { role pattern } } }`;
const ENTRY = `key value version scopeType author { name } updatedAt`;
const SET_CONTEXT = `mutation($scope: ContextScope!, $key: String!, $value: JSON!, $expected: Int) {
  setContext(scope: $scope, key: $key, value: $value, expectedVersion: $expected) { ${ENTRY} }
}`;
const CONTEXT = `query($scope: ContextScope!, $key: String!) { context(scope: $scope, key: $key) { ${ENTRY} } }`;
const CONTEXT_ENTRIES = `query($scope: ContextScope!, $pattern: String) { contextEntries(scope: $scope, pattern: $pattern) { ${ENTRY} } }`;
const CONTEXT_HISTORY = `query($scope: ContextScope!, $key: String!, $version: Int) {
  contextHistory(scope: $scope, key: $key, version: $version) { version value deleted author { name } createdAt }
}`;
const FOLLOW_TOPIC = `mutation($t: ID!, $pattern: String!) { followTopic(teamId: $t, pattern: $pattern) { pattern teamId } }`;
const PUBLISH = `mutation($t: ID!, $topic: String!, $body: String!, $payload: JSONObject) {
  publish(teamId: $t, topic: $topic, message: { body: $body, payload: $payload }) { id kind topic body sender { name } }
}`;
const TOPIC_INBOX = `{ inbox(filter: { kind: TOPIC }, oldestFirst: true) { edges { node { read message { id kind topic body payload sender { name } } } } } }`;
const TOPIC_LIVE = `subscription($t: ID!, $pattern: String!, $after: Int) { topicEvents(teamId: $t, pattern: $pattern, after: $after) { cursor kind subjectId payload actor { name } } }`;
const ASK = `mutation($to: [String!]!, $question: String!, $timeout: Int!) {
  ask(to: $to, question: $question, timeoutSeconds: $timeout) {
    timedOut unanswered
    question { id body intent deadline }
    reply { body intent sender { name } replyTo { id } }
    replies { body sender { name } replyTo { id } }
  }
}`;
const REPLY = `mutation($id: ID!, $body: String!) { reply(messageId: $id, message: { body: $body }) { id intent threadId } }`;
const MESSAGE = `query($id: ID!) { message(id: $id) { id body intent deadline expired sender { name } } }`;
const JOURNAL = `query($t: ID!) { team(id: $t) { journal(first: 100) { edges { node { cursor kind payload actor { name } } } } } }`;
const KNOWLEDGE_FIELDS = `id title body tags author { name } task { title } createdAt`;
const ADD_KNOWLEDGE = `mutation($t: ID!, $input: AddKnowledgeInput!) { addKnowledge(teamId: $t, input: $input) { ${KNOWLEDGE_FIELDS} } }`;
const SEARCH_KNOWLEDGE = `query($t: ID!, $text: String!, $tags: [String!]) { searchKnowledge(teamId: $t, text: $text, tags: $tags) { rank entry { title tags author { name } } } }`;
const RECENT_KNOWLEDGE = `query($t: ID!, $tags: [String!], $first: Int) { recentKnowledge(teamId: $t, tags: $tags, first: $first) { edges { node { title tags createdAt author { name } } } } }`;
const TASK_KNOWLEDGE = `query($id: ID!) { task(id: $id) { title knowledge { title tags author { name } task { title } } } }`;

/** A notice about a task, read from the inbox or live; `cursor` is its message ID. */
interface Notice {
  cursor: string | number;
  kind: string;
  subjectId: string;
  payload: Record<string, unknown>;
  actor: { name: string } | null;
}

/** Creates a team with me as `role` and adds the members, each with their role. */
async function setUpTeam(lead: TestAgent, input: { name: string; role: string; description?: string }, members: [TestAgent, string][]) {
  const { createTeam } = await lead.ok(CREATE_TEAM, { input });
  for (const [agent, role] of members) await lead.ok(ADD_MEMBER, { t: createTeam.id, n: agent.name, r: role });
  return createTeam as { id: string; name: string; description: string | null; myRole: string; lead: { name: string } };
}

type InboxMessage = { id: string; payload: Record<string, unknown>; sender: { name: string } | null };
const notices = async (agent: TestAgent): Promise<Notice[]> =>
  (await agent.ok(MY_NOTICES)).inbox.edges.map(({ node: { message: m } }: { node: { message: InboxMessage } }) => ({
    cursor: m.id,
    kind: `notice.${String(m.payload.notice)}`,
    subjectId: String(m.payload.taskId),
    payload: m.payload,
    actor: m.sender,
  }));
const nodes = <T = any>(connection: { edges: { node: T }[] }): T[] => connection.edges.map((e) => e.node);

/** Reads the next `count` results of a subscription field. */
async function take(sub: Subscription, field: string, count: number): Promise<Notice[]> {
  const out: Notice[] = [];
  for (let i = 0; i < count; i++) {
    const result = await sub.next(10_000);
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    const row = result.data[field];
    // Inbox rows are about a message (their subject); notices name the task in their payload.
    out.push(field === "inboxEvents" ? { ...row, cursor: row.subjectId, subjectId: row.payload.taskId ?? row.subjectId } : row);
  }
  return out;
}

// ---- Story 1 -------------------------------------------------------------------------

describe("story 1: a planner sets up a sprint, a worker works through it in track order", () => {
  // The steps below run in order and share the story's state.
  let planner: TestAgent;
  let worker: TestAgent;
  let teamId: string;
  let milestoneId: string;
  let design: any; // track main, order 0
  let implement: any; // track main, order 1
  let review: any; // track review
  let workerNotices: Subscription;
  let plannerWatch: Subscription;

  it("the planner names itself, creates a team with the worker, a milestone, two tasks on track main and one on track review", async () => {
    planner = await registerAgent(server, "planner", { description: "plans the sprint" });
    worker = await registerAgent(server, "worker", { description: "implements tasks" });
    // The worker follows its inbox live over graphql-ws from the moment it exists: the
    // server's notices (a role given, work unblocked) and the planner's DMs arrive there.
    workerNotices = worker.subscribe("ws", INBOX_LIVE, { after: 0 });

    const team = await setUpTeam(planner, { name: "API v2", role: "planner" }, [[worker, "worker"]]);
    teamId = team.id;
    expect(team).toMatchObject({ myRole: "planner", lead: { name: "planner" } });
    milestoneId = (await planner.ok(CREATE_MILESTONE, { t: teamId, name: "Sprint 1" })).createMilestone.id;

    // Created concurrently, as the seed walkthrough does: track order, not arrival order,
    // decides which runs first.
    const [first, second] = await Promise.all(
      [
        { title: "Design the data schema", trackOrder: 0 },
        { title: "Implement the API endpoints", trackOrder: 1 },
      ].map(async (t) => (await planner.ok(CREATE_TASK, { t: teamId, input: { ...t, milestoneId, track: "main" } })).createTask),
    );
    design = first;
    implement = second;
    expect(design).toMatchObject({ track: "main", trackOrder: 0, status: "PENDING", milestone: { name: "Sprint 1" } });
    expect(implement).toMatchObject({ track: "main", trackOrder: 1, status: "PENDING", milestone: { name: "Sprint 1" } });
    expect([design.number, implement.number].sort()).toEqual([1, 2]);

    for (const task of [design, implement]) {
      const { assignTaskRole } = await planner.ok(ASSIGN_ROLE, {
        id: task.id,
        agent: "worker",
        role: "implementer",
        instructions: `Implement: ${task.title}. Follow existing patterns.`,
      });
      expect(assignTaskRole).toMatchObject({ role: "implementer", agent: { name: "worker" }, task: { id: task.id } });
    }

    review = (await planner.ok(CREATE_TASK, { t: teamId, input: { title: "Review the API design", milestoneId, track: "review" } })).createTask;
    expect(review).toMatchObject({ number: 3, track: "review", trackOrder: 0 });
    await planner.ok(ASSIGN_ROLE, { id: review.id, agent: "worker", role: "reviewer", instructions: `Review: ${review.title}. Comment on the dashboard.` });
  });

  it("the worker learns of its three tasks from its notices, live over graphql-ws and by query", async () => {
    const live = await take(workerNotices, "inboxEvents", 3);
    expect(live.map((n) => [n.kind, n.subjectId, n.payload.role, n.actor?.name])).toEqual([
      ["notice.role_assigned", design.id, "implementer", "planner"],
      ["notice.role_assigned", implement.id, "implementer", "planner"],
      ["notice.role_assigned", review.id, "reviewer", "planner"],
    ]);
    expect(live[0]!.payload.instructions).toBe("Implement: Design the data schema. Follow existing patterns.");
    // The same notices, read back by query (an agent that was not listening).
    expect((await notices(worker)).map((n) => n.cursor)).toEqual(live.map((n) => n.cursor));
  });

  it("the planner sends the worker a direct message; the worker reads its unread inbox and acknowledges the planner", async () => {
    await planner.ok(SEND, { to: ["worker"], body: `Tasks ready in milestone ${milestoneId}. Sprint 1 is live.` });
    const [dm] = await take(workerNotices, "inboxEvents", 1);
    expect(dm).toMatchObject({ kind: "message.received", actor: { name: "planner" } });
    const unread = await worker.ok(UNREAD_FROM, { from: "planner" });
    expect(unread.inbox.edges.map((e: { node: { message: { body: string } } }) => e.node.message.body)).toEqual([`Tasks ready in milestone ${milestoneId}. Sprint 1 is live.`]);
    expect((await worker.ok(`mutation { acknowledge(from: "planner") }`)).acknowledge).toBe(1);
    expect((await worker.ok(UNREAD_FROM, { from: "planner" })).inbox.edges).toEqual([]);
  });

  it("the worker reads its role assignments and its tasks, each saying whether it is claimable now", async () => {
    const { myRoleAssignments } = await worker.ok(MY_ROLES);
    expect(myRoleAssignments).toEqual([
      { role: "implementer", instructions: "Implement: Design the data schema. Follow existing patterns.", task: { id: design.id, title: "Design the data schema" } },
      { role: "implementer", instructions: "Implement: Implement the API endpoints. Follow existing patterns.", task: { id: implement.id, title: "Implement the API endpoints" } },
      { role: "reviewer", instructions: "Review: Review the API design. Comment on the dashboard.", task: { id: review.id, title: "Review the API design" } },
    ]);

    const mine = nodes((await worker.ok(MY_TASKS)).myTasks);
    const byId = new Map(mine.map((t: any) => [t.id, t]));
    expect(mine).toHaveLength(3);
    expect(byId.get(design.id).readiness).toEqual({ ready: true, state: "READY", reason: "ready", openBlockers: [] });
    expect(byId.get(implement.id).readiness).toEqual({
      ready: false,
      state: "BLOCKED",
      reason: `blocked by #${design.number} (track main)`,
      openBlockers: [{ number: design.number, track: true }],
    });
    // A separate track runs in parallel.
    expect(byId.get(review.id).readiness).toMatchObject({ ready: true, reason: "ready" });

    // The same answer from the filter an agent would use to list only what it can take now.
    const ready = nodes((await worker.ok(MY_TASKS, { filter: { ready: true } })).myTasks).map((t: any) => t.id);
    expect(ready.sort()).toEqual([design.id, review.id].sort());
  });

  it("the worker claims the first task for an hour; the second cannot be claimed yet", async () => {
    // The planner follows completions and readiness over SSE. From the start of the
    // journal, then live: nothing can slip between subscribing and the worker's writes.
    plannerWatch = planner.subscribe("sse", TASK_EVENTS, { t: teamId, after: 0, kinds: ["task.completed", "task.ready"] });
    const before = Date.now();
    const { claimTask } = await worker.ok(CLAIM, { id: design.id, lease: 3600 });
    expect(claimTask.task).toMatchObject({ id: design.id, status: "IN_PROGRESS", assignee: { name: "worker" }, readiness: { ready: false, state: "CLAIMED" } });
    expect(claimTask.task.readiness.reason).toMatch(/^claimed by worker until /);
    const lease = new Date(claimTask.expiresAt).getTime() - before;
    expect(lease).toBeGreaterThan(3590_000);
    expect(lease).toBeLessThan(3610_000);
    design.claimToken = claimTask.token;

    const refused = await worker.fails(CLAIM, { id: implement.id, lease: 3600 });
    expect(refused.code).toBe("CONFLICT");
    expect(refused.message).toBe(`task #${implement.number} is not ready: blocked by #${design.number} (track main)`);
    expect(refused.extensions?.state).toBe("BLOCKED");
    // claim-next on the track has nothing ready either: the only open task there is held.
    expect((await worker.ok(CLAIM_NEXT, { t: teamId, track: "main", lease: 3600 })).claimNextTask).toBeNull();
  });

  it("the worker writes and appends progress to the task's dashboard, which the planner reads", async () => {
    const written = await worker.ok(WRITE_DASHBOARD, { id: design.id, text: `Starting: ${design.title}`, token: design.claimToken });
    expect(written.writeTaskDashboard.dashboard).toBe("Starting: Design the data schema");
    const appended = await worker.ok(APPEND_DASHBOARD, { id: design.id, text: "Done — all acceptance criteria met.", token: design.claimToken });
    expect(appended.appendTaskDashboard.dashboard).toBe("Starting: Design the data schema\nDone — all acceptance criteria met.");
    const { task } = await planner.ok(TASK, { id: design.id });
    expect(task.dashboard).toBe("Starting: Design the data schema\nDone — all acceptance criteria met.");
    expect(task.holder).toEqual({ name: "worker" });
  });

  it("the worker marks the first task done: the second becomes ready, and the planner sees it live", async () => {
    const { updateTask } = await worker.ok(UPDATE_TASK, { id: design.id, input: { status: "COMPLETED", claimToken: design.claimToken } });
    expect(updateTask.task).toMatchObject({ status: "COMPLETED", assignee: { name: "worker" } });
    expect(updateTask.task.closedAt).not.toBeNull();
    expect(updateTask.verificationNudge).toBeNull();

    const seen = await take(plannerWatch, "taskEvents", 2);
    expect(seen.map((e) => [e.kind, e.subjectId, e.payload.number, e.actor?.name])).toEqual([
      ["task.completed", design.id, design.number, "worker"],
      ["task.ready", implement.id, implement.number, "worker"],
    ]);
    expect(Number(seen[0]!.cursor)).toBeLessThan(Number(seen[1]!.cursor));
    await plannerWatch.close();

    const { task } = await worker.ok(TASK, { id: implement.id });
    expect(task.readiness).toEqual({ ready: true, state: "READY", reason: "ready", openBlockers: [] });
  });

  // Readiness notices go to the task's assignee and to every agent with a role on it.
  it("the worker is told that its second task is ready (notice.task_ready), by query and live", async () => {
    const ready = (await notices(worker)).filter((n) => n.kind === "notice.task_ready");
    expect(ready.map((n) => [n.subjectId, n.payload.number])).toEqual([[implement.id, implement.number]]);
    const [live] = await take(workerNotices, "inboxEvents", 1);
    expect(live).toMatchObject({ kind: "notice.task_ready", subjectId: implement.id });
  });

  it("the worker claims the next task on track main and completes it", async () => {
    const { claimNextTask } = await worker.ok(CLAIM_NEXT, { t: teamId, track: "main", lease: 3600 });
    expect(claimNextTask.task).toMatchObject({ id: implement.id, status: "IN_PROGRESS" });
    await worker.ok(WRITE_DASHBOARD, { id: implement.id, text: `Starting: ${implement.title}`, token: claimNextTask.token });
    const { updateTask } = await worker.ok(UPDATE_TASK, { id: implement.id, input: { status: "COMPLETED", claimToken: claimNextTask.token } });
    expect(updateTask.task.status).toBe("COMPLETED");
    // The track is done: claim-next on it has nothing more.
    expect((await worker.ok(CLAIM_NEXT, { t: teamId, track: "main" })).claimNextTask).toBeNull();
    await workerNotices.close();
  });

  it("the planner's board shows both tasks completed by the worker, and the review still open", async () => {
    const { team } = await planner.ok(BOARD, { t: teamId });
    const lines = (team.board as string).split("\n");
    expect(lines).toContain(`#${design.number} [completed] Design the data schema (worker)`);
    expect(lines).toContain(`#${implement.number} [completed] Implement the API endpoints (worker)`);
    expect(lines).toContain(`#3 [pending] Review the API design`);
    expect(lines).toHaveLength(3);
  });
});

// ---- Story 2 -------------------------------------------------------------------------

describe("story 2: team headquarters", () => {
  let lead: TestAgent;
  let alice: TestAgent;
  let bob: TestAgent;
  let teamId: string;
  const tasks: any[] = [];

  it("a lead creates a team with a description and its own role, and tasks with subject, description, active form and metadata", async () => {
    lead = await registerAgent(server, "hq-lead");
    alice = await registerAgent(server, "alice");
    bob = await registerAgent(server, "bob");
    const team = await setUpTeam(lead, { name: "db-migration", description: "Move the user store to the new schema", role: "tech-lead" }, [
      [alice, "developer"],
      [bob, "developer"],
    ]);
    teamId = team.id;
    expect(team).toMatchObject({ name: "db-migration", description: "Move the user store to the new schema", myRole: "tech-lead", lead: { name: "hq-lead" } });

    for (const [title, description] of [
      ["Analyze current schema", "List the tables and columns the user store uses"],
      ["Create migration script", "SQL that moves users to the new tables"],
      ["Update unit tests", "Tests follow the new schema"],
    ] as const) {
      const { createTask } = await lead.ok(CREATE_TASK, { t: teamId, input: { title, description, activeForm: "Writing SQL", metadata: { priority: "high" } } });
      tasks.push(createTask);
    }
    expect(tasks.map((t) => t.number)).toEqual([1, 2, 3]);
    expect(tasks[1]).toMatchObject({
      title: "Create migration script",
      description: "SQL that moves users to the new tables",
      activeForm: "Writing SQL",
      metadata: { priority: "high" },
      status: "PENDING",
      priority: "MEDIUM",
      assignee: null,
    });
  });

  it("the lead links task 3 as blocked by task 2", async () => {
    const { addTaskDependency } = await lead.ok(ADD_DEPENDENCY, { id: tasks[2].id, blocker: tasks[1].id });
    expect(addTaskDependency).toEqual({ number: 3, blockedBy: [{ kind: "explicit", blocker: { number: 2 } }] });
    const { team } = await alice.ok(BOARD, { t: teamId });
    expect(team.board).toBe(["#1 [pending] Analyze current schema", "#2 [pending] Create migration script", "#3 [pending] Update unit tests [blocked by #2]"].join("\n"));
  });

  it("members work the board; any member reads it rendered one line a task", async () => {
    const first = (await alice.ok(CLAIM, { id: tasks[0].id })).claimTask;
    await alice.ok(UPDATE_TASK, { id: tasks[0].id, input: { status: "COMPLETED", claimToken: first.token } });
    const second = (await bob.ok(CLAIM, { id: tasks[1].id })).claimTask;
    expect(second.task).toMatchObject({ status: "IN_PROGRESS", assignee: { name: "bob" } });

    const expected = [
      "#1 [completed] Analyze current schema (alice)",
      "#2 [in_progress] Create migration script (bob)",
      "#3 [pending] Update unit tests [blocked by #2]",
    ].join("\n");
    for (const member of [lead, alice, bob]) expect((await member.ok(BOARD, { t: teamId })).team.board).toBe(expected);
    // For anyone else the team does not exist.
    const outsider = await registerAgent(server, "outsider");
    expect((await outsider.fails(BOARD, { t: teamId })).code).toBe("NOT_FOUND");
  });

  it("when a task gets a new owner, the owner is told in its notices", async () => {
    expect((await notices(bob)).filter((n) => n.kind === "notice.task_assigned")).toEqual([]);
    const { updateTask } = await lead.ok(UPDATE_TASK, { id: tasks[2].id, input: { assignee: "bob" } });
    expect(updateTask.task.assignee).toEqual({ name: "bob" });
    const assigned = (await notices(bob)).filter((n) => n.kind === "notice.task_assigned");
    expect(assigned).toHaveLength(1);
    // A notice comes from the server itself (no sender); it names the task.
    expect(assigned[0]).toMatchObject({ subjectId: tasks[2].id, actor: null, payload: { number: 3, title: "Update unit tests" } });
    // Only bob: alice is told nothing.
    expect((await notices(alice)).filter((n) => n.kind === "notice.task_assigned")).toEqual([]);
    expect((await bob.ok(BOARD, { t: teamId })).team.board).toContain("#3 [pending] Update unit tests (bob) [blocked by #2]");
  });

  /** The lead adds `agent` to the team and it claims and completes one new task per title; the nudges in order. */
  async function completeInARow(agent: TestAgent, work: { title: string; verification?: boolean }[]): Promise<(string | null)[]> {
    await lead.ok(ADD_MEMBER, { t: teamId, n: agent.name, r: "developer" });
    const nudges: (string | null)[] = [];
    for (const input of work) {
      const { createTask } = await lead.ok(CREATE_TASK, { t: teamId, input });
      const { claimTask } = await agent.ok(CLAIM, { id: createTask.id });
      const { updateTask } = await agent.ok(UPDATE_TASK, { id: createTask.id, input: { status: "COMPLETED", claimToken: claimTask.token } });
      expect(updateTask.task.status).toBe("COMPLETED");
      nudges.push(updateTask.verificationNudge);
    }
    return nudges;
  }

  it("an agent that closes three tasks in a row, none a verification task, is nudged to verify on the third", async () => {
    const carol = await registerAgent(server, "carol");
    const nudges = await completeInARow(carol, [{ title: "Add index on users.email" }, { title: "Backfill user slugs" }, { title: "Drop legacy columns" }]);
    expect(nudges.slice(0, 2)).toEqual([null, null]);
    expect(nudges[2]).toMatch(/verif/i);
  });

  it("an agent whose three include a verification task (marked, or titled Verify …) is not nudged", async () => {
    const dave = await registerAgent(server, "dave");
    expect(await completeInARow(dave, [{ title: "Write API docs" }, { title: "Run the smoke suite", verification: true }, { title: "Tag the release" }])).toEqual([
      null,
      null,
      null,
    ]);
    const erin = await registerAgent(server, "erin");
    expect(await completeInARow(erin, [{ title: "Rewrite the rollback script" }, { title: "Verify the rollback on staging" }, { title: "Clean up temp tables" }])).toEqual([
      null,
      null,
      null,
    ]);
  });
});

// ---- Story 3 -------------------------------------------------------------------------

describe("story 3: the task API for agent code", () => {
  let orchestrator: TestAgent;
  let researcher: TestAgent;
  let analyst: TestAgent;
  let teamId: string;
  let collect: any;
  let summarize: any;
  let draft: any;

  it("creates tasks with title, description, priority, assignee, status and free JSON metadata", async () => {
    orchestrator = await registerAgent(server, "orchestrator");
    researcher = await registerAgent(server, "researcher");
    analyst = await registerAgent(server, "analyst");
    teamId = (await setUpTeam(orchestrator, { name: "market-research", role: "orchestrator" }, [
      [researcher, "researcher"],
      [analyst, "analyst"],
    ])).id;

    const metadata = { source: "web", tags: ["pricing", "competitors"], budget: { maxPages: 50, deadline: "2025-07-01" }, retry: null, strict: true };
    collect = (
      await orchestrator.ok(CREATE_TASK, {
        t: teamId,
        input: { title: "Collect competitor prices", description: "Five competitors, all public plans", priority: "HIGH", assignee: "researcher", status: "IN_PROGRESS", metadata },
      })
    ).createTask;
    expect(collect).toMatchObject({
      title: "Collect competitor prices",
      description: "Five competitors, all public plans",
      priority: "HIGH",
      assignee: { name: "researcher" },
      status: "IN_PROGRESS",
      progress: 0,
      metadata,
    });
    summarize = (await orchestrator.ok(CREATE_TASK, { t: teamId, input: { title: "Summarize pricing tiers", assignee: "researcher", metadata: { format: "table" } } })).createTask;
    expect(summarize).toMatchObject({ status: "PENDING", priority: "MEDIUM", metadata: { format: "table" } });
    draft = (await orchestrator.ok(CREATE_TASK, { t: teamId, input: { title: "Draft the report", assignee: "analyst", status: "IN_PROGRESS", priority: "LOW" } })).createTask;
    expect(draft).toMatchObject({ status: "IN_PROGRESS", priority: "LOW", assignee: { name: "analyst" }, metadata: {} });

    // Each assignee is told.
    const told = (await notices(researcher)).filter((n) => n.kind === "notice.task_assigned").map((n) => n.subjectId);
    expect(told).toEqual([collect.id, summarize.id]);
  });

  it("the assignee updates status, progress and notes", async () => {
    const { updateTask } = await researcher.ok(UPDATE_TASK, { id: collect.id, input: { progress: 60, notes: "3 of 5 sites done" } });
    expect(updateTask.task).toMatchObject({ status: "IN_PROGRESS", progress: 60, notes: "3 of 5 sites done" });
    const started = await researcher.ok(UPDATE_TASK, { id: summarize.id, input: { status: "IN_PROGRESS", progress: 5, notes: "waiting for prices" } });
    expect(started.updateTask.task).toMatchObject({ status: "IN_PROGRESS", progress: 5, notes: "waiting for prices" });
  });

  it("the researcher attaches findings (JSON) that the analyst reads from the task", async () => {
    const findings = [
      { competitor: "Acme", plans: [{ name: "Pro", monthly: 49 }, { name: "Team", monthly: 99 }], currency: "USD", confidence: 0.9 },
      { competitor: "Globex", plans: [], note: "pricing on request" },
    ];
    for (const data of findings) {
      const { addTaskFinding } = await researcher.ok(ADD_FINDING, { id: collect.id, data });
      expect(addTaskFinding).toMatchObject({ data, author: { name: "researcher" } });
    }
    const { task } = await analyst.ok(TASK, { id: collect.id });
    expect(task.findings.map((f: any) => ({ author: f.author.name, data: f.data }))).toEqual(findings.map((data) => ({ author: "researcher", data })));
    for (const f of task.findings) expect(new Date(f.createdAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
  });

  it("lists tasks by assignee and status, for the team and as my tasks", async () => {
    const byFilter = async (filter: object) => nodes((await analyst.ok(TEAM_TASKS, { t: teamId, filter })).team.tasks).map((t: any) => t.title);
    expect(await byFilter({ assignee: "researcher", status: ["IN_PROGRESS"] })).toEqual(["Collect competitor prices", "Summarize pricing tiers"]);
    expect(await byFilter({ assignee: "analyst", status: ["IN_PROGRESS"] })).toEqual(["Draft the report"]);
    expect(await byFilter({ status: ["IN_PROGRESS"] })).toEqual(["Collect competitor prices", "Summarize pricing tiers", "Draft the report"]);

    // The researcher finishes the first: it leaves the in-progress list.
    const { updateTask } = await researcher.ok(UPDATE_TASK, { id: collect.id, input: { status: "COMPLETED", progress: 100, notes: "all five done" } });
    expect(updateTask.task).toMatchObject({ status: "COMPLETED", progress: 100, notes: "all five done" });
    expect(updateTask.task.closedAt).not.toBeNull();
    expect(await byFilter({ assignee: "researcher", status: ["IN_PROGRESS"] })).toEqual(["Summarize pricing tiers"]);
    expect(await byFilter({ assignee: "researcher", status: ["COMPLETED", "CANCELLED"] })).toEqual(["Collect competitor prices"]);

    const mine = async (agent: TestAgent, filter?: object) => nodes((await agent.ok(MY_TASKS, { filter })).myTasks).map((t: any) => t.title);
    expect(await mine(researcher)).toEqual(["Collect competitor prices", "Summarize pricing tiers"]);
    expect(await mine(researcher, { status: ["IN_PROGRESS"] })).toEqual(["Summarize pricing tiers"]);
    expect(await mine(analyst, { status: ["IN_PROGRESS"] })).toEqual(["Draft the report"]);
    expect(await mine(orchestrator)).toEqual([]);
  });
});

// ---- Story 4 -------------------------------------------------------------------------

describe("story 4: a research pipeline shares a governed team context, topics and questions", () => {
  let orchestrator: TestAgent;
  let researcher: TestAgent;
  let analyst: TestAgent;
  let writer: TestAgent;
  let teamId: string;
  let team: { teamId: string };
  let researcherInbox: Subscription;
  let analystInbox: Subscription;
  let writerTopics: Subscription;
  const open: Subscription[] = [];
  const live = (sub: Subscription) => (open.push(sub), sub);
  afterAll(async () => {
    for (const sub of open) await sub.close();
  });

  const report = "Pricing report ready: see findings.acme";
  const written: [() => TestAgent, string, unknown][] = [
    [() => researcher, "findings.acme", { plans: { Pro: 49, Team: 99 }, currency: "USD" }],
    [() => researcher, "sources.acme", ["https://acme.example/pricing"]],
    [() => analyst, "analysis.summary", { cheapest: "Acme Pro", spread: 50 }],
    [() => writer, "draft.intro", "Acme leads on price; Globex does not publish its prices."],
    [() => writer, "status", "drafting"],
  ];

  /** Waits on an inbox subscription for the next question (intent ask); returns its message ID. */
  async function nextQuestion(inbox: Subscription): Promise<string> {
    for (;;) {
      const result = await inbox.next(10_000);
      if (result.errors) throw new Error(JSON.stringify(result.errors));
      const row = result.data!.inboxEvents;
      if (row.kind === "message.received" && row.payload.intent === "ask") return row.subjectId as string;
    }
  }

  it("an orchestrator creates a team of a researcher, an analyst and a writer, and gives each role its keys of the team context", async () => {
    orchestrator = await registerAgent(server, "pipeline-orchestrator");
    researcher = await registerAgent(server, "pipeline-researcher");
    analyst = await registerAgent(server, "pipeline-analyst");
    writer = await registerAgent(server, "pipeline-writer");
    teamId = (
      await setUpTeam(orchestrator, { name: "pricing-report", description: "Competitor pricing report", role: "orchestrator" }, [
        [researcher, "researcher"],
        [analyst, "analyst"],
        [writer, "writer"],
      ])
    ).id;
    team = { teamId };

    const { setWritePolicy } = await orchestrator.ok(SET_POLICY, {
      t: teamId,
      rules: [
        { role: "researcher", patterns: ["findings*", "sources*"] },
        { role: "analyst", patterns: ["analysis*"] },
        { role: "writer", patterns: ["draft*", "status"] },
      ],
    });
    const byPattern = (rules: { role: string; pattern: string }[]) => rules.map(({ role, pattern }) => ({ role, pattern })).sort((a, b) => a.pattern.localeCompare(b.pattern));
    const policy = [
      { role: "analyst", pattern: "analysis*" },
      { role: "writer", pattern: "draft*" },
      { role: "researcher", pattern: "findings*" },
      { role: "researcher", pattern: "sources*" },
      { role: "writer", pattern: "status" },
    ];
    expect(byPattern(setWritePolicy)).toEqual(policy);
    for (const rule of setWritePolicy) expect(rule.agentId).toBeNull();
    // Every member reads the policy; only the lead sets it.
    expect(byPattern((await writer.ok(WRITE_POLICY, { t: teamId })).team.writePolicy)).toEqual(policy);
    expect((await researcher.fails(SET_POLICY, { t: teamId, rules: [{ role: "researcher", patterns: ["*"] }] })).code).toBe("FORBIDDEN");
  });

  it("each role writes its own keys", async () => {
    for (const [agent, key, value] of written) {
      const { setContext } = await agent().ok(SET_CONTEXT, { scope: team, key, value });
      expect(setContext).toMatchObject({ key, value, version: 1, scopeType: "team", author: { name: agent().name } });
    }
  });

  it("a write outside the writer's keys is FORBIDDEN, naming the key and the rule, and changes nothing", async () => {
    const journalBefore = await server.app.services.db.reader.journalEvent.count({ where: { teamId } });

    // The analyst may not overwrite the researcher's findings.
    const overwrite = await analyst.fails(SET_CONTEXT, { scope: team, key: "findings.acme", value: { plans: {} } });
    expect(overwrite.code).toBe("FORBIDDEN");
    expect(overwrite.message).toContain(`"findings.acme"`);
    expect(overwrite.message).toContain("findings* to role researcher");
    expect(overwrite.extensions?.key).toBe("findings.acme");
    // A key no rule covers: the refusal says what the writer may write instead.
    const stray = await writer.fails(SET_CONTEXT, { scope: team, key: "budget", value: 1000 });
    expect(stray.code).toBe("FORBIDDEN");
    expect(stray.message).toContain(`"budget"`);
    expect(stray.message).toContain("draft*, status");
    // The lead is bound by the rules too.
    const byLead = await orchestrator.fails(SET_CONTEXT, { scope: team, key: "status", value: "published" });
    expect(byLead.code).toBe("FORBIDDEN");
    expect(byLead.message).toContain("status to role writer");

    expect((await researcher.ok(CONTEXT, { scope: team, key: "findings.acme" })).context).toMatchObject({
      version: 1,
      value: { plans: { Pro: 49, Team: 99 }, currency: "USD" },
      author: { name: researcher.name },
    });
    expect((await writer.ok(CONTEXT, { scope: team, key: "status" })).context).toMatchObject({ version: 1, value: "drafting", author: { name: writer.name } });
    expect((await writer.ok(CONTEXT, { scope: team, key: "budget" })).context).toBeNull();
    expect(await server.app.services.db.reader.journalEvent.count({ where: { teamId } })).toBe(journalBefore);
  });

  it("reads stay open to every member, whatever keys it may write; for anyone else the team does not exist", async () => {
    const expected = [...written].map(([agent, key, value]) => ({ key, value, author: agent().name })).sort((a, b) => a.key.localeCompare(b.key));
    for (const member of [orchestrator, researcher, analyst, writer]) {
      const { contextEntries } = await member.ok(CONTEXT_ENTRIES, { scope: team });
      expect(contextEntries.map((e: any) => ({ key: e.key, value: e.value, author: e.author.name }))).toEqual(expected);
      expect((await member.ok(CONTEXT, { scope: team, key: "analysis.summary" })).context.value).toEqual({ cheapest: "Acme Pro", spread: 50 });
    }
    const outsider = await registerAgent(server, "pipeline-outsider");
    expect((await outsider.fails(CONTEXT_ENTRIES, { scope: team })).code).toBe("NOT_FOUND");
  });

  it("the analyst and the writer follow reports.*: a report published there reaches them in the inbox and live over graphql-ws; research.raw does not", async () => {
    for (const agent of [analyst, writer]) {
      const { followTopic } = await agent.ok(FOLLOW_TOPIC, { t: teamId, pattern: "reports.*" });
      expect(followTopic).toEqual({ pattern: "reports.*", teamId });
    }
    writerTopics = live(writer.subscribe("ws", TOPIC_LIVE, { t: teamId, pattern: "reports.*", after: 0 }));

    // Two topics that reports.* does not match ('*' is exactly one segment), then the report.
    await researcher.ok(PUBLISH, { t: teamId, topic: "research.raw", body: "Raw crawl of five pricing pages" });
    await researcher.ok(PUBLISH, { t: teamId, topic: "reports.pricing.eu", body: "EU prices, per country" });
    const { publish } = await researcher.ok(PUBLISH, { t: teamId, topic: "reports.pricing", body: report, payload: { keys: ["findings.acme", "sources.acme"] } });
    expect(publish).toMatchObject({ kind: "TOPIC", topic: "reports.pricing", body: report, sender: { name: researcher.name } });

    // Live: the writer's stream is in journal order, so its first event is the report, and nothing else follows.
    const first = await writerTopics.next(10_000);
    expect(first.errors).toBeUndefined();
    expect(first.data!.topicEvents).toMatchObject({
      kind: "message.published",
      subjectId: publish.id,
      actor: { name: researcher.name },
      payload: { topic: "reports.pricing", recipients: 2 },
    });
    await expect(writerTopics.next(300)).rejects.toThrow(/no event/);

    // In the inbox: each follower has the report, unread, and only it.
    for (const agent of [analyst, writer]) {
      expect(nodes((await agent.ok(TOPIC_INBOX)).inbox)).toEqual([
        {
          read: false,
          message: { id: publish.id, kind: "TOPIC", topic: "reports.pricing", body: report, payload: { keys: ["findings.acme", "sources.acme"] }, sender: { name: researcher.name } },
        },
      ]);
    }
    // The publisher does not receive its own; the orchestrator follows nothing.
    for (const agent of [researcher, orchestrator]) expect(nodes((await agent.ok(TOPIC_INBOX)).inbox)).toEqual([]);
  });

  it("the analyst asks the researcher a question and waits; the researcher hears it live and replies; the ask returns the reply", async () => {
    researcherInbox = live(researcher.subscribe("ws", INBOX_LIVE, { after: 0 }));
    const question = "Are the Acme prices monthly or annual?";
    const started = Date.now();
    const asking = analyst.ok(ASK, { to: [researcher.name], question, timeout: 30 });

    const questionId = await nextQuestion(researcherInbox);
    const { message } = await researcher.ok(MESSAGE, { id: questionId });
    expect(message).toMatchObject({ body: question, intent: "ASK", expired: false, sender: { name: analyst.name } });
    expect(new Date(message.deadline).getTime()).toBeGreaterThan(Date.now());
    const { reply } = await researcher.ok(REPLY, { id: questionId, body: "Monthly; annual billing takes 10% off" });
    expect(reply).toMatchObject({ intent: "REPLY", threadId: questionId });

    const { ask } = await asking;
    expect(ask).toMatchObject({
      timedOut: false,
      unanswered: [],
      question: { id: questionId, body: question, intent: "ASK" },
      reply: { body: "Monthly; annual billing takes 10% off", intent: "REPLY", sender: { name: researcher.name }, replyTo: { id: questionId } },
    });
    expect(ask.replies).toHaveLength(1);
    // It returned with the reply, long before its 30 s deadline.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("the orchestrator asks all three at once; two answer in time and the writer stays silent: two replies, the writer unanswered, timed out", async () => {
    analystInbox = live(analyst.subscribe("ws", INBOX_LIVE, { after: 0 }));
    const question = "Can the report ship today?";
    const started = Date.now();
    const asking = orchestrator.ok(ASK, { to: [researcher.name, analyst.name, writer.name], question, timeout: 3 });

    const answering: [TestAgent, Subscription, string][] = [
      [researcher, researcherInbox, "Yes: the findings are complete"],
      [analyst, analystInbox, "Yes, after one more check of the EU prices"],
    ];
    await Promise.all(
      answering.map(async ([agent, inbox, answer]) => {
        const questionId = await nextQuestion(inbox);
        await agent.ok(REPLY, { id: questionId, body: answer });
      }),
    );

    const { ask } = await asking;
    const waited = Date.now() - started;
    expect(ask.timedOut).toBe(true);
    expect(ask.unanswered).toEqual([writer.name]);
    expect(ask.replies.map((r: any) => [r.sender.name, r.body]).sort()).toEqual(answering.map(([agent, , answer]) => [agent.name, answer]).sort());
    for (const r of ask.replies) expect(r.replyTo.id).toBe(ask.question.id);
    // It waited out the deadline for the writer.
    expect(waited).toBeGreaterThanOrEqual(2_500);

    // The writer, coming back to it, sees the question expired: the asker stopped waiting.
    const { message } = await writer.ok(MESSAGE, { id: ask.question.id });
    expect(message).toMatchObject({ body: question, intent: "ASK", expired: true, sender: { name: orchestrator.name } });
  });

  it("every agent's actions are journaled: the team's journal names who set the policy, wrote each key, followed and published", async () => {
    type Row = { cursor: number; kind: string; payload: any; actor: { name: string } | null };
    const rows: Row[] = nodes((await orchestrator.ok(JOURNAL, { t: teamId })).team.journal);
    const of = (kind: string) => rows.filter((r) => r.kind === kind);

    expect(of("context.policy_set").map((r) => r.actor?.name)).toEqual([orchestrator.name]);
    expect(of("context.policy_set")[0]!.payload.rules).toHaveLength(5);
    // Only the writes that landed, each by its author; the refused ones left no row.
    expect(of("context.set").map((r) => [r.actor?.name, r.payload.key, r.payload.version])).toEqual(written.map(([agent, key]) => [agent().name, key, 1]));
    expect(of("topic.followed").map((r) => [r.actor?.name, r.payload.pattern])).toEqual([
      [analyst.name, "reports.*"],
      [writer.name, "reports.*"],
    ]);
    expect(of("message.published").map((r) => [r.actor?.name, r.payload.topic, r.payload.recipients])).toEqual([
      [researcher.name, "research.raw", 0],
      [researcher.name, "reports.pricing.eu", 0],
      [researcher.name, "reports.pricing", 2],
    ]);
    // Oldest first, and every member reads the same journal.
    const cursors = rows.map((r) => r.cursor);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
    expect(nodes((await writer.ok(JOURNAL, { t: teamId })).team.journal)).toEqual(rows);
  });
});

// ---- Story 5 -------------------------------------------------------------------------

describe("story 5: a blackboard of findings and a searchable knowledge base", () => {
  let lead: TestAgent;
  let ada: TestAgent;
  let linus: TestAgent;
  let teamId: string;
  let team: { teamId: string };
  let survey: any;
  let writtenAt: number;
  const findings = {
    "findings.acme": { description: "Acme: Pro at $49 and Team at $99 a month", source: "https://acme.example/pricing", confidence: 0.9 },
    "findings.globex": { description: "Globex publishes no prices; sales quotes on request", confidence: 0.6 },
    "findings.initech": { description: "Initech has a free tier up to 3 seats", confidence: 0.8 },
  };
  const acmeFinding = findings["findings.acme"];
  /** Entries written a few milliseconds apart have distinct creation times. */
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 5));
  const titles = (list: any[]) => list.map((x) => (x.entry ?? x).title as string);

  it("a researcher writes findings on the team's blackboard, each with a description; each write records its author", async () => {
    lead = await registerAgent(server, "kb-lead");
    ada = await registerAgent(server, "ada", { description: "researches competitors" });
    linus = await registerAgent(server, "linus", { description: "reviews findings" });
    teamId = (await setUpTeam(lead, { name: "competitive-intel", role: "lead" }, [
      [ada, "researcher"],
      [linus, "reviewer"],
    ])).id;
    team = { teamId };
    survey = (await lead.ok(CREATE_TASK, { t: teamId, input: { title: "Survey competitor pricing", assignee: "ada" } })).createTask;

    writtenAt = Date.now();
    for (const [key, value] of Object.entries(findings)) {
      const { setContext } = await ada.ok(SET_CONTEXT, { scope: team, key, value });
      expect(setContext).toMatchObject({ key, value, version: 1, scopeType: "team", author: { name: "ada" } });
    }
    await ada.ok(SET_CONTEXT, { scope: team, key: "notes.standup", value: "sync at 10:00" });
  });

  it("a reviewer reads a finding back by key: its value, author, time and version", async () => {
    const { context } = await linus.ok(CONTEXT, { scope: team, key: "findings.acme" });
    expect(context).toMatchObject({ key: "findings.acme", value: acmeFinding, version: 1, author: { name: "ada" } });
    const at = new Date(context.updatedAt).getTime();
    expect(at).toBeGreaterThanOrEqual(writtenAt - 1_000);
    expect(at).toBeLessThanOrEqual(Date.now());
    // A key nobody wrote reads as null.
    expect((await linus.ok(CONTEXT, { scope: team, key: "findings.hooli" })).context).toBeNull();
  });

  it("findings are queried by key pattern, in key order", async () => {
    const entries = async (pattern: string) => (await linus.ok(CONTEXT_ENTRIES, { scope: team, pattern })).contextEntries as any[];
    const found = await entries("findings.*");
    expect(found.map((e) => [e.key, e.value.description, e.author.name])).toEqual(Object.entries(findings).map(([key, value]) => [key, value.description, "ada"]));
    expect((await entries("*.acme")).map((e) => e.key)).toEqual(["findings.acme"]);
    expect((await entries("notes.*")).map((e) => e.key)).toEqual(["notes.standup"]);
  });

  it("a correction is compare-and-set: the reviewer writes on the version it read; the researcher's stale write is CONFLICT with the current version and changes nothing", async () => {
    const read = (await linus.ok(CONTEXT, { scope: team, key: "findings.acme" })).context;
    const corrected = { ...acmeFinding, description: "Acme: Pro at $49 and Team at $89 a month (annual billing)" };
    const { setContext } = await linus.ok(SET_CONTEXT, { scope: team, key: "findings.acme", value: corrected, expected: read.version });
    expect(setContext).toMatchObject({ version: 2, value: corrected, author: { name: "linus" } });

    // Ada still holds version 1.
    const stale = await ada.fails(SET_CONTEXT, { scope: team, key: "findings.acme", value: { ...acmeFinding, confidence: 0.95 }, expected: 1 });
    expect(stale.code).toBe("CONFLICT");
    expect(stale.extensions?.currentVersion).toBe(2);
    expect((await ada.ok(CONTEXT, { scope: team, key: "findings.acme" })).context).toMatchObject({ version: 2, value: corrected, author: { name: "linus" } });

    // She reads again and writes on top of the correction.
    const merged = { ...corrected, confidence: 0.95 };
    expect((await ada.ok(SET_CONTEXT, { scope: team, key: "findings.acme", value: merged, expected: 2 })).setContext).toMatchObject({
      version: 3,
      value: merged,
      author: { name: "ada" },
    });
  });

  it("earlier versions of a finding stay readable", async () => {
    const { contextHistory } = await linus.ok(CONTEXT_HISTORY, { scope: team, key: "findings.acme", version: 1 });
    expect(contextHistory).toHaveLength(1);
    expect(contextHistory[0]).toMatchObject({ version: 1, value: acmeFinding, deleted: false, author: { name: "ada" } });
    const all = (await linus.ok(CONTEXT_HISTORY, { scope: team, key: "findings.acme" })).contextHistory as any[];
    expect(all.map((v) => [v.version, v.author.name])).toEqual([
      [3, "ada"],
      [2, "linus"],
      [1, "ada"],
    ]);
  });

  it("the researcher adds knowledge entries with tags, one linked to the task it was found on", async () => {
    const claiming = (
      await ada.ok(ADD_KNOWLEDGE, {
        t: teamId,
        input: {
          title: "Claiming tasks with leases",
          body: "Take a task with a lease of a few minutes and renew it while working; an expired lease puts the task back in the ready queue.",
          tags: ["Leases", "coordination"],
        },
      })
    ).addKnowledge;
    expect(claiming).toMatchObject({ title: "Claiming tasks with leases", tags: ["coordination", "leases"], author: { name: "ada" }, task: null });
    await pause();
    const acme = (
      await ada.ok(ADD_KNOWLEDGE, {
        t: teamId,
        input: {
          title: "Acme pricing tiers",
          body: "Acme claims its Team plan is the cheapest per seat: $89 a month with annual billing.",
          tags: ["pricing", "acme"],
          taskId: survey.id,
        },
      })
    ).addKnowledge;
    expect(acme).toMatchObject({ tags: ["acme", "pricing"], author: { name: "ada" }, task: { title: "Survey competitor pricing" } });
    await pause();
    const globex = (
      await ada.ok(ADD_KNOWLEDGE, {
        t: teamId,
        input: { title: "Globex pricing", body: "Globex shows no public prices; its sales team quotes on request.", tags: ["pricing", "globex"] },
      })
    ).addKnowledge;
    expect(globex).toMatchObject({ tags: ["globex", "pricing"], task: null });
  });

  it("a text search ranks the best match first and stems: 'claims' finds the entry about claiming", async () => {
    const search = async (text: string, tags?: string[]) => (await linus.ok(SEARCH_KNOWLEDGE, { t: teamId, text, tags })).searchKnowledge as any[];
    // A match in the title ranks above a match in the body.
    const hits = await search("claims");
    expect(titles(hits)).toEqual(["Claiming tasks with leases", "Acme pricing tiers"]);
    expect(hits[0].rank).toBeGreaterThan(hits[1].rank);
    // Every word must match.
    expect(titles(await search("claims annual"))).toEqual(["Acme pricing tiers"]);
    expect(titles(await search("lease"))).toEqual(["Claiming tasks with leases"]);
    // Text without words finds nothing, and is no error.
    expect(await search("?!")).toEqual([]);
  });

  it("entries are filtered by tag, in a search and in the recent list", async () => {
    const search = async (text: string, tags: string[]) => titles((await linus.ok(SEARCH_KNOWLEDGE, { t: teamId, text, tags })).searchKnowledge);
    const recent = async (tags: string[]) => titles(nodes((await linus.ok(RECENT_KNOWLEDGE, { t: teamId, tags })).recentKnowledge));
    expect(await search("pricing", ["acme"])).toEqual(["Acme pricing tiers"]);
    expect(await recent(["pricing"])).toEqual(["Globex pricing", "Acme pricing tiers"]);
    // Every tag must be carried; tags are matched lowercase.
    expect(await recent(["PRICING", "Globex"])).toEqual(["Globex pricing"]);
    expect(await recent(["coordination"])).toEqual(["Claiming tasks with leases"]);
  });

  it("what is recent comes first: a new entry by the reviewer leads the list", async () => {
    const recent = async (first?: number) => nodes((await ada.ok(RECENT_KNOWLEDGE, { t: teamId, first })).recentKnowledge) as any[];
    expect(titles(await recent())).toEqual(["Globex pricing", "Acme pricing tiers", "Claiming tasks with leases"]);
    await pause();
    await linus.ok(ADD_KNOWLEDGE, { t: teamId, input: { title: "Initech free tier", body: "Initech's free tier stops at 3 seats; the next plan is $12 a seat.", tags: ["pricing", "initech"] } });
    const latest = await recent(2);
    expect(latest.map((e) => [e.title, e.author.name])).toEqual([
      ["Initech free tier", "linus"],
      ["Globex pricing", "ada"],
    ]);
    expect(new Date(latest[0].createdAt).getTime()).toBeGreaterThan(new Date(latest[1].createdAt).getTime());
  });

  it("a knowledge entry linked to a task is readable from the task", async () => {
    const { task } = await linus.ok(TASK_KNOWLEDGE, { id: survey.id });
    expect(task).toEqual({
      title: "Survey competitor pricing",
      knowledge: [{ title: "Acme pricing tiers", tags: ["acme", "pricing"], author: { name: "ada" }, task: { title: "Survey competitor pricing" } }],
    });
  });
});
