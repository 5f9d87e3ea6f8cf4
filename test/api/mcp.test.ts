// The MCP endpoint through the real server, driven by the SDK's own client exactly as an
// MCP-capable agent would: the same bearer tokens as GraphQL, tools over the same services.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
const clients: Client[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server.close();
});

const mcpUrl = (s: TestServer) => s.url.replace(/\/graphql$/, "/mcp");

async function connect(agent: TestAgent | { token: string }, s = server): Promise<Client> {
  const client = new Client({ name: "mcp-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl(s)), { requestInit: { headers: { authorization: `Bearer ${agent.token}` } } });
  await client.connect(transport);
  clients.push(client);
  // Listing the tools makes the SDK client check every later answer's structuredContent
  // against the tool's outputSchema (and refuse an answer without it), as a careful client does.
  await client.listTools();
  return client;
}

interface ToolAnswer {
  text: string;
  isError: boolean;
  code: string | undefined;
  structured: Record<string, unknown> | undefined;
}

async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text: string }[];
  const structured = result.structuredContent as Record<string, unknown> | undefined;
  return { text: content.map((c) => c.text).join("\n"), isError: result.isError === true, code: structured?.code as string | undefined, structured };
}

/** A call that must succeed; returns its text. */
async function ok(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  return (await okData(client, name, args)).text;
}

/** A call that must succeed; returns its text and its structured content. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function okData(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ text: string; data: any }> {
  const answer = await call(client, name, args);
  if (answer.isError) throw new Error(`${name} failed: ${answer.text}`);
  return { text: answer.text, data: answer.structured };
}

/** A call that must fail; returns the error. */
async function fails(client: Client, name: string, args: Record<string, unknown> = {}): Promise<ToolAnswer> {
  const answer = await call(client, name, args);
  if (!answer.isError) throw new Error(`${name} should have failed, answered: ${answer.text}`);
  return answer;
}


describe("MCP endpoint", () => {
  it("lists its tools with descriptions and JSON Schemas", async () => {
    const agent = await registerAgent(server, "lister");
    const { tools } = await (await connect(agent)).listTools();
    const names = tools.map((t) => t.name);
    for (const name of [
      "whoami", "list_teams", "create_team", "add_team_member",
      "create_task", "list_tasks", "board", "get_task", "claim_task", "claim_next", "renew_claim", "release_claim",
      "update_task", "dashboard_write", "dashboard_append", "add_dependency", "assign_role",
      "send_message", "broadcast", "get_messages", "mark_read", "acknowledge", "ask",
      "remember", "recall", "context_history", "list_context",
      "add_knowledge", "search_knowledge", "recent_knowledge", "get_knowledge",
    ]) {
      expect(names).toContain(name);
    }
    for (const tool of tools) {
      expect(tool.description?.length).toBeGreaterThan(10);
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type, tool.name).toBe("object");
    }
    const claim = tools.find((t) => t.name === "claim_task")!;
    expect(claim.inputSchema.required).toEqual(["task"]);
    expect(Object.keys(claim.inputSchema.properties ?? {})).toEqual(["team", "task", "lease_seconds"]);
    expect(tools.find((t) => t.name === "board")!.annotations?.readOnlyHint).toBe(true);
  });

  it("serves the planner and worker story", async () => {
    const plannerAgent = await registerAgent(server, "story-planner");
    const workerAgent = await registerAgent(server, "story-worker");
    const planner = await connect(plannerAgent);
    const worker = await connect(workerAgent);

    expect(await ok(planner, "create_team", { name: "sprint", role: "planner" })).toMatch(/^Created team sprint \(id .+\)\. You are its lead, with role planner\.$/);
    expect(await ok(planner, "add_team_member", { agent: "story-worker", role: "implementer" })).toBe("story-worker joined sprint as implementer.");
    const first = await okData(planner, "create_task", { title: "Design the data schema", track: "main", assignee: "story-worker" });
    expect(first.text).toMatch(/^Created #1 "Design the data schema" in sprint .*: pending, claimable now\.$/);
    expect(first.data).toEqual({
      team: { id: expect.any(String), name: "sprint" },
      task: { id: expect.any(String), number: 1, title: "Design the data schema", status: "pending", ready: true, readiness: "ready" },
    });
    expect(await ok(planner, "create_task", { title: "Implement the API endpoints", track: "main", priority: "high" })).toMatch(/^Created #2 .*not ready: blocked by #1 \(track main\)\.$/);
    const sent = await okData(planner, "send_message", { to: "story-worker", body: "Tasks ready. Sprint 1 is live.", intent: "delegate", payload: { sprint: 1 } });
    expect(sent.text).toBe(`Sent to story-worker (message id ${sent.data.messageId}).`);

    // The worker reads its unread inbox: the planner's message and the board's notice.
    const whoami = await okData(worker, "whoami");
    expect(whoami.text).toContain("You are story-worker");
    expect(whoami.text).toContain("Unread messages: 2");
    expect(whoami.data).toEqual({ agent: { id: workerAgent.id, name: "story-worker" }, teams: [{ id: first.data.team.id, name: "sprint", role: "implementer", lead: false, members: 2 }], unread: 2 });
    const inbox = await okData(worker, "get_messages", { unread: true });
    expect(inbox.text).toContain('story-planner (delegate): Tasks ready. Sprint 1 is live.');
    expect(inbox.text).toContain('payload: {"sprint":1}');
    expect(inbox.text).toContain('Task #1 "Design the data schema" is assigned to you.');
    expect(inbox.data.unread).toBe(2);
    expect(inbox.data.messages).toContainEqual({
      id: sent.data.messageId,
      kind: "direct",
      from: "story-planner",
      intent: "delegate",
      priority: "normal",
      body: "Tasks ready. Sprint 1 is live.",
      payload: { sprint: 1 },
      threadId: sent.data.messageId,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      read: false,
    });
    expect(await ok(worker, "acknowledge", { from: "story-planner" })).toBe("Marked 1 message from story-planner read.");
    expect(await ok(worker, "get_messages", { from: "story-planner" })).toBe("No unread messages.");

    // Lists its tasks: each says whether it is claimable now.
    const tasks = await okData(worker, "list_tasks");
    expect(tasks.text.split("\n")).toEqual([
      "#1 [pending] Design the data schema (story-worker) · ready: claimable now",
      "#2 [pending, high] Implement the API endpoints · not ready: blocked by #1 (track main)",
    ]);
    expect(tasks.data.more).toBe(false);
    expect(tasks.data.tasks[1]).toEqual({ id: expect.any(String), number: 2, title: "Implement the API endpoints", team: "sprint", status: "pending", priority: "high", ready: false, readiness: "blocked by #1 (track main)" });
    expect(await ok(worker, "list_tasks", { mine: true, ready: true })).toBe("#1 [pending] Design the data schema (story-worker) · ready: claimable now");
    const refused = await fails(worker, "claim_task", { task: 2 });
    expect(refused.code).toBe("CONFLICT");
    expect(refused.text).toBe("CONFLICT: task #2 is not ready: blocked by #1 (track main)");

    // Claims the first, works on its dashboard, finishes it.
    // The claim token is a field of the answer: no code parses it out of the text.
    const claimed = await okData(worker, "claim_task", { task: "#1", lease_seconds: 600 });
    const token: number = claimed.data.claimToken;
    expect(claimed.text).toMatch(new RegExp(`^Claimed #1 "Design the data schema" until .+\\. Claim token: ${token} `));
    expect(claimed.data).toEqual({ task: { id: first.data.task.id, number: 1, title: "Design the data schema" }, claimToken: expect.any(Number), expiresAt: expect.any(String) });
    expect(Date.parse(claimed.data.expiresAt) - Date.now()).toBeGreaterThan(500_000);
    expect(await ok(worker, "dashboard_write", { task: 1, text: "Starting", claim_token: token })).toBe("Wrote the dashboard of #1 (8 characters).");
    const appended = await okData(worker, "dashboard_append", { task: 1, text: "Tables drafted", claim_token: token });
    expect(appended.text).toBe("Appended to the dashboard of #1 (now 23 characters).");
    expect(appended.data).toEqual({ task: claimed.data.task, length: 23 });
    const detail = await okData(planner, "get_task", { task: 1 });
    expect(detail.text).toContain("readiness: claimed by story-worker until");
    expect(detail.text).toContain("dashboard:\nStarting\nTables drafted");
    expect(detail.data.task).toMatchObject({ number: 1, status: "in_progress", holder: "story-worker", claimToken: token, leaseExpiresAt: claimed.data.expiresAt, dashboard: "Starting\nTables drafted", ready: false });
    expect((await okData(worker, "renew_claim", { task: 1, claim_token: token })).data.claimToken).toBe(token);
    const done = await okData(worker, "update_task", { task: 1, status: "completed", progress: 100, claim_token: token });
    expect(done.text).toBe('#1 "Design the data schema" is completed, progress 100%.');
    expect(done.data).toEqual({ task: { ...claimed.data.task, status: "completed", progress: 100 } });

    // The second is ready now, and claim_next takes it.
    const next = await okData(worker, "claim_next");
    expect(next.text).toMatch(/^Claimed #2 "Implement the API endpoints" until /);
    expect(next.data).toMatchObject({ claimed: true, task: { number: 2 }, claimToken: expect.any(Number) });
    const nothing = await okData(worker, "claim_next");
    expect(nothing.text).toBe("Nothing in sprint is ready for you to claim now (list_tasks says why).");
    expect(nothing.data).toEqual({ claimed: false });
    const board = await ok(planner, "board");
    expect(board).toBe("#1 [completed] Design the data schema (story-worker)\n#2 [in_progress] Implement the API endpoints (story-worker)");

    // The same state is what GraphQL sees: one set of services behind both.
    const { teams } = await plannerAgent.ok(`{ teams { edges { node { board } } } }`);
    expect(teams.edges[0].node.board).toBe(board);
    expect(await ok(worker, "release_claim", { task: 2 })).toBe('Released #2 "Implement the API endpoints": it is pending and claimable again.');
    // An empty assignee unassigns (a schema without null, which not every client can send).
    await ok(planner, "update_task", { task: 2, assignee: "story-worker" });
    expect((await okData(planner, "get_task", { task: 2 })).data.task.assignee).toBe("story-worker");
    await ok(planner, "update_task", { task: 2, assignee: "" });
    expect((await okData(planner, "get_task", { task: 2 })).data.task.assignee).toBeUndefined();
  });

  it("refuses a claim on a task someone else holds with CONFLICT", async () => {
    const lead = await connect(await registerAgent(server, "claim-lead"));
    const rival = await connect(await registerAgent(server, "claim-rival"));
    await ok(lead, "create_team", { name: "claims" });
    await ok(lead, "add_team_member", { agent: "claim-rival", role: "worker" });
    await ok(lead, "create_task", { title: "Contested" });
    const claimed = await okData(lead, "claim_task", { task: 1 });

    const refused = await fails(rival, "claim_task", { task: 1 });
    expect(refused.code).toBe("CONFLICT");
    expect(refused.text).toMatch(/^CONFLICT: task #1 is not ready: claimed by claim-lead until /);
    expect(refused.structured).toMatchObject({ code: "CONFLICT", state: "CLAIMED" });

    const write = await fails(rival, "update_task", { task: 1, progress: 50 });
    expect(write.text).toMatch(/^CONFLICT: task #1 is claimed by claim-lead until .*; only the holder may change it$/);
    expect(write.structured).toMatchObject({ holder: "claim-lead" });
    // A stale fencing token is refused too.
    const stale = await fails(lead, "dashboard_append", { task: 1, text: "late", claim_token: claimed.data.claimToken + 1 });
    expect(stale.code).toBe("CONFLICT");
  });

  it("answers another team's task ID exactly like an unknown ID: NOT_FOUND", async () => {
    const ownerAgent = await registerAgent(server, "secret-owner");
    const owner = await connect(ownerAgent);
    const outsider = await connect(await registerAgent(server, "outsider"));
    await ok(owner, "create_team", { name: "secret" });
    const created = await ok(owner, "create_task", { title: "Hidden work" });
    const taskId = /\(id ([^)]+)\)/.exec(created)![1]!;
    await ok(outsider, "create_team", { name: "elsewhere" });

    const calls: [string, Record<string, unknown>][] = [
      ["get_task", {}],
      ["claim_task", {}],
      ["update_task", { status: "completed" }],
      ["dashboard_append", { text: "x" }],
      ["add_dependency", { blocked_by: "no-such-task" }],
      ["remember", { key: "k", value: 1 }],
    ];
    for (const [tool, extra] of calls) {
      const foreign = await fails(outsider, tool, { ...extra, task: taskId });
      const unknown = await fails(outsider, tool, { ...extra, task: "no-such-task" });
      expect(foreign.text, tool).toBe("NOT_FOUND: task not found");
      expect(unknown.text, tool).toBe(foreign.text);
      expect(unknown.structured, tool).toEqual(foreign.structured);
    }
    // A team that is not yours is NOT_FOUND too, and so is a task number on it.
    expect((await fails(outsider, "board", { team: "secret" })).text).toBe("NOT_FOUND: team not found");
    expect((await fails(outsider, "list_tasks", { team: "some-unknown-team" })).text).toBe("NOT_FOUND: team not found");
    expect((await fails(owner, "get_task", { task: 99 })).text).toBe("NOT_FOUND: task not found");
    // Nothing changed for the owner.
    expect(await ok(owner, "board")).toBe("#1 [pending] Hidden work");
  });

  it("refuses a missing or bad token with HTTP 401 and a JSON-RPC error", async () => {
    const initialize = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } },
    });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    for (const authorization of [undefined, "Bearer ahq_not-a-real-token", "Bearer "]) {
      const response = await fetch(mcpUrl(server), { method: "POST", headers: { ...headers, ...(authorization ? { authorization } : {}) }, body: initialize });
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      const body = (await response.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { code: string } } };
      expect(body).toMatchObject({ jsonrpc: "2.0", id: null, error: { data: { code: "UNAUTHENTICATED" } } });
      expect(body.error.message).toMatch(/^UNAUTHENTICATED: /);
    }
    await expect(connect({ token: "ahq_revoked-or-made-up" })).rejects.toThrow(/401|UNAUTHENTICATED/);

    // A valid token gets through: the same request succeeds.
    const agent = await registerAgent(server, "raw-caller");
    const response = await fetch(mcpUrl(server), { method: "POST", headers: { ...headers, authorization: `Bearer ${agent.token}` }, body: initialize });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe("agent-hq");
    // Stateless: no stream to open with GET.
    expect((await fetch(mcpUrl(server), { headers: { accept: "text/event-stream", authorization: `Bearer ${agent.token}` } })).status).toBe(405);
  });

  it("refuses web pages from origins not listed in MCP_ALLOWED_ORIGINS, and lets a listed one in with CORS", async () => {
    const agent = await registerAgent(server, "browser-user");
    const initialize = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "page", version: "1" } },
    });
    const post = (s: TestServer, origin: string, token: string) =>
      fetch(mcpUrl(s), {
        method: "POST",
        headers: { origin, "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${token}` },
        body: initialize,
      });
    // A valid token does not help a page from another origin (DNS rebinding): 403 before anything runs.
    const refused = await post(server, "http://rebound.example", agent.token);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(await refused.json()).toMatchObject({
      jsonrpc: "2.0",
      id: null,
      error: { message: "FORBIDDEN: web pages from http://rebound.example may not call this endpoint; list their origin in MCP_ALLOWED_ORIGINS to allow them", data: { code: "FORBIDDEN" } },
    });

    const open = await startServer({ MCP_ALLOWED_ORIGINS: "http://localhost:5173" });
    try {
      const { token } = await registerAgent(open, "browser-user");
      const preflight = await fetch(mcpUrl(open), {
        method: "OPTIONS",
        headers: { origin: "http://localhost:5173", "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
      });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect(preflight.headers.get("access-control-allow-methods")).toBe("GET, POST, DELETE");
      expect(preflight.headers.get("access-control-allow-headers")).toMatch(/authorization/);
      const allowed = await post(open, "http://localhost:5173", token);
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect(((await allowed.json()) as { result: { serverInfo: { name: string } } }).result.serverInfo.name).toBe("agent-hq");
      // Listing one origin opens no other.
      expect((await post(open, "http://localhost:5174", token)).status).toBe(403);
    } finally {
      await open.close();
    }
  });

  it("refuses a body over the limit before reading it, as for GraphQL", async () => {
    const agent = await registerAgent(server, "big-sender");
    const body = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "whoami", arguments: {}, pad: "x".repeat(1_100_000) } });
    const response = await fetch(mcpUrl(server), {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${agent.token}` },
      body,
    });
    expect(response.status).toBe(413);
  });

  it("refuses remember with a stale expected version: CONFLICT with the current version", async () => {
    const rememberer = await registerAgent(server, "rememberer");
    const agent = await connect(rememberer);
    await ok(agent, "create_team", { name: "memory" });
    expect(await ok(agent, "remember", { key: "plan", value: { step: 1 }, expected_version: 0 })).toBe('Remembered "plan" at version 1.');
    expect((await okData(agent, "remember", { key: "plan", value: { step: 2 }, expected_version: 1 })).data).toEqual({ key: "plan", version: 2 });

    const stale = await fails(agent, "remember", { key: "plan", value: { step: 3 }, expected_version: 1 });
    expect(stale.code).toBe("CONFLICT");
    expect(stale.text).toBe('CONFLICT: context key "plan" is at version 2, not 1; read it again');
    expect(stale.structured).toMatchObject({ currentVersion: 2 });
    expect((await fails(agent, "remember", { key: "plan", value: 0, expected_version: 0 })).code).toBe("CONFLICT");

    const recalled = await okData(agent, "recall", { key: "plan" });
    expect(recalled.text).toMatch(/^"plan" version 2 by rememberer at .+:\n\{"step":2\}$/);
    expect(recalled.data).toEqual({ key: "plan", found: true, entry: { version: 2, author: "rememberer", at: expect.any(String), value: { step: 2 }, deleted: false } });
    expect(await ok(agent, "recall", { key: "plan", version: 1 })).toMatch(/\{"step":1\}$/);
    const nothing = await okData(agent, "recall", { key: "nothing" });
    expect(nothing).toEqual({ text: '"nothing" is not set.', data: { key: "nothing", found: false } });
    const history = await okData(agent, "context_history", { key: "plan" });
    expect(history.text.split("\n")).toHaveLength(2);
    expect(history.text.split("\n")[0]).toMatch(/^v2 by rememberer at .+: \{"step":2\}$/);
    expect(history.data.versions.map((v: { value: unknown }) => v.value)).toEqual([{ step: 2 }, { step: 1 }]);
    await ok(agent, "remember", { key: "plan.notes", value: "free text" });
    await ok(agent, "remember", { key: "mine", value: [1, 2], private: true });
    expect(await ok(agent, "list_context", { prefix: "plan" })).toMatch(/^plan \(v2, rememberer\): \{"step":2\}\nplan\.notes \(v1, rememberer\): "free text"$/);
    const mine = await okData(agent, "list_context", { private: true });
    expect(mine.text).toBe("mine (v1, rememberer): [1,2]");
    expect(mine.data).toEqual({ entries: [{ key: "mine", version: 1, author: "rememberer", at: expect.any(String), value: [1, 2] }] });
    // A key deleted (over GraphQL) keeps its history: the tombstone's value is null.
    const { teams } = await rememberer.ok(`{ teams { edges { node { id } } } }`);
    await rememberer.ok(`mutation($t: ID!) { deleteContext(scope: { teamId: $t }, key: "plan") { version } }`, { t: teams.edges[0].node.id });
    expect((await okData(agent, "recall", { key: "plan" })).data).toEqual({ key: "plan", found: false });
    const tombstone = await okData(agent, "context_history", { key: "plan", limit: 1 });
    expect(tombstone.text).toMatch(/^v3 by rememberer at .+: \(deleted\)$/);
    expect(tombstone.data.versions).toEqual([{ version: 3, author: "rememberer", at: expect.any(String), value: null, deleted: true }]);
  });

  it("times out an ask cleanly, and returns the answer when it comes in time", async () => {
    const askerAgent = await registerAgent(server, "asker");
    const asker = await connect(askerAgent);
    const answerer = await connect(await registerAgent(server, "answerer"));
    await ok(asker, "create_team", { name: "questions" });
    await ok(asker, "add_team_member", { agent: "answerer", role: "analyst" });

    const started = Date.now();
    const timedOut = await okData(asker, "ask", { to: "answerer", question: "Which tier?", timeout_seconds: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(timedOut.text).toBe(`Timed out after 1 s: no answer from answerer.\n(question id ${timedOut.data.questionId})`);
    expect(timedOut.data).toEqual({ questionId: expect.any(String), replies: [], timedOut: true, unanswered: ["answerer"] });

    // Asked again, the answerer finds the question in its inbox and replies in its thread:
    // the line names what to do, with the one ID it needs.
    const asking = okData(asker, "ask", { to: ["answerer"], question: "Which tier, really?", timeout_seconds: 20 });
    const question = await expect
      .poll(async () => (await okData(answerer, "get_messages", { from: "asker" })).data.messages.find((m: { body: string }) => m.body === "Which tier, really?"), { timeout: 20_000 })
      .toBeDefined()
      .then(async () => (await okData(answerer, "get_messages", { from: "asker" })));
    const asked = question.data.messages.find((m: { body: string }) => m.body === "Which tier, really?");
    expect(asked).toMatchObject({ intent: "ask", from: "asker", answerBefore: expect.any(String) });
    expect(question.text).toMatch(new RegExp(`^asker \\(ask\\): Which tier, really\\?\n  answer within \\d+ s: send_message to asker with reply_to "${asked.id}"`, "m"));
    await ok(answerer, "send_message", { to: "asker", body: "Gold.", reply_to: asked.id });
    const answered = await asking;
    expect(answered.text).toMatch(/^answerer answered \[.+\]: Gold\.\n\(question id .+\)$/);
    expect(answered.data).toEqual({ questionId: asked.id, replies: [{ id: expect.any(String), from: "answerer", body: "Gold." }], timedOut: false, unanswered: [] });
  });

  it("pages the inbox with a cursor, tells notices apart from messages, and keeps IDs and times out of the text unless verbose", async () => {
    const lead = await connect(await registerAgent(server, "inbox-lead"));
    const workerAgent = await registerAgent(server, "inbox-worker");
    const worker = await connect(workerAgent);
    await ok(lead, "create_team", { name: "inbox" });
    await ok(lead, "add_team_member", { agent: "inbox-worker", role: "worker" });
    // 14 notices (a task assigned), then 10 direct messages.
    for (let i = 1; i <= 14; i++) await ok(lead, "create_task", { title: `Chore ${i}`, assignee: "inbox-worker" });
    const bodies = Array.from({ length: 10 }, (_, i) => `Message ${i + 1}: the findings of batch ${i + 1} are in context under results.`);
    for (const body of bodies) await ok(lead, "send_message", { to: "inbox-worker", body });

    // Oldest first, 20 a page: the notices fill most of it, and the answer says where the rest is.
    const first = await okData(worker, "get_messages");
    expect(first.data.messages).toHaveLength(20);
    expect(first.data.unread).toBe(24);
    expect(first.data.cursor).toBe(first.data.messages[19].id);
    expect(first.text.split("\n").at(-1)).toBe(`24 unread; more after this page: get_messages after "${first.data.cursor}".`);
    const rest = await okData(worker, "get_messages", { after: first.data.cursor });
    expect(rest.data.messages.map((m: { body: string }) => m.body)).toEqual(bodies.slice(6));
    expect(rest.data.cursor).toBeUndefined();

    // Messages apart from notices: all ten, in one page whose lines are the bodies and who sent them.
    const messages = await okData(worker, "get_messages", { kind: "messages" });
    expect(messages.data.messages.map((m: { body: string }) => m.body)).toEqual(bodies);
    expect(messages.data.unread).toBe(10);
    expect(messages.text.split("\n")).toEqual([...bodies.map((b) => `inbox-lead: ${b}`), "10 unread."]);
    expect(messages.text.length).toBeLessThan(bodies.join("").length + 10 * 15 + 20);
    const notices = await okData(worker, "get_messages", { kind: "notices", limit: 100 });
    expect(notices.data.messages).toHaveLength(14);
    expect(notices.data.messages.every((m: { kind: string; from?: string }) => m.kind === "notice" && m.from === undefined)).toBe(true);
    expect(notices.text.split("\n")[0]).toBe('notice from inbox: Task #1 "Chore 1" is assigned to you.');

    // Pages of 8 through all 24: each once, in order, the last without a cursor.
    const seen: string[] = [];
    let after: string | undefined;
    do {
      const page = await okData(worker, "get_messages", { limit: 8, ...(after ? { after } : {}) });
      seen.push(...page.data.messages.map((m: { id: string }) => m.id));
      after = page.data.cursor;
    } while (after);
    expect(seen).toHaveLength(24);
    expect(new Set(seen).size).toBe(24);
    expect(seen).toEqual([...seen].sort());

    // verbose adds each line's ID and time; the structured content has them either way.
    const verbose = await okData(worker, "get_messages", { kind: "messages", limit: 1, verbose: true });
    const [m] = verbose.data.messages;
    expect(verbose.text.split("\n")[0]).toBe(`[${m.id}] ${m.createdAt} inbox-lead: ${bodies[0]}`);
    expect(messages.text).not.toMatch(/[0-9a-f]{8}-[0-9a-f]{4}-|\d{4}-\d\d-\d\dT/);

    // The cursor marks read up to it, as any message ID does.
    expect((await okData(worker, "mark_read", { up_to: first.data.cursor })).data).toEqual({ marked: 20 });
    expect((await okData(worker, "get_messages")).data.messages.map((x: { body: string }) => x.body)).toEqual(bodies.slice(6));
  });

  it("answers bad input with BAD_USER_INPUT naming the field", async () => {
    const agent = await connect(await registerAgent(server, "careless"));
    await ok(agent, "create_team", { name: "inputs" });
    await ok(agent, "create_task", { title: "Something" });

    const missing = await fails(agent, "create_task", {});
    expect(missing.code).toBe("BAD_USER_INPUT");
    expect(missing.text).toBe("BAD_USER_INPUT: title: is required");
    expect(missing.structured).toMatchObject({ field: "title" });
    // The service's own rules, with the same messages as over GraphQL.
    expect((await fails(agent, "update_task", { task: 1, progress: 150 })).text).toBe("BAD_USER_INPUT: progress: must be between 0 and 100");
    expect((await fails(agent, "create_task", { title: "   " })).text).toBe("BAD_USER_INPUT: title: must not be empty");
    expect((await fails(agent, "claim_task", { task: 1, lease_seconds: 1 })).text).toBe("BAD_USER_INPUT: leaseSeconds: must be between 5 and 86400");
    // Wrong types, unknown arguments and NUL characters are refused at the edge.
    expect((await fails(agent, "update_task", { task: 1, progress: "lots" })).text).toBe("BAD_USER_INPUT: progress: Invalid input: expected number, received string");
    expect((await fails(agent, "send_message", { to: 3, body: "hi" })).text).toBe("BAD_USER_INPUT: to: an agent name or a list of names");
    expect((await fails(agent, "board", { colour: "red" })).text).toMatch(/^BAD_USER_INPUT: .*colour/);
    expect((await fails(agent, "dashboard_append", { task: 1, text: "a\u0000b" })).code).toBe("BAD_USER_INPUT");
    expect((await fails(agent, "get_messages", { limit: 0 })).text).toBe("BAD_USER_INPUT: limit: must be a whole number between 1 and 100");
    // An unknown tool is an error result too.
    expect((await fails(agent, "no_such_tool")).code).toBe("NOT_FOUND");
  });

  it("answers an unexpected failure as INTERNAL_SERVER_ERROR without its details", async () => {
    const agent = await connect(await registerAgent(server, "unlucky"));
    await ok(agent, "create_team", { name: "fragile" });
    const tasks = server.app.services.tasks;
    const board = tasks.board;
    tasks.board = () => Promise.reject(new Error("connection to db-internal-7 refused"));
    try {
      const failure = await fails(agent, "board");
      expect(failure.code).toBe("INTERNAL_SERVER_ERROR");
      expect(failure.text).toMatch(/^INTERNAL_SERVER_ERROR: unexpected error \(request id [\w-]+\)$/);
      expect(JSON.stringify(failure.structured)).not.toContain("db-internal");
    } finally {
      tasks.board = board;
    }
    expect(await ok(agent, "board")).toBe("The board of fragile has no tasks.");
  });

  it("keeps knowledge: add, search, recent, get", async () => {
    const agent = await connect(await registerAgent(server, "librarian"));
    await ok(agent, "create_team", { name: "library" });
    await ok(agent, "create_task", { title: "Research leases" });
    const added = await okData(agent, "add_knowledge", { title: "Leases need fencing", body: "A claim without a fencing token lets a paused holder overwrite newer work.", tags: ["Claims", "design"], task: 1 });
    const id: string = added.data.entry.id;
    expect(added.text).toBe(`Added "Leases need fencing" to the knowledge of library (id ${id}).`);
    await ok(agent, "add_knowledge", { title: "Unrelated", body: "Something else entirely." });

    const found = await ok(agent, "search_knowledge", { text: "fencing tokens" });
    expect(found).toMatch(new RegExp(`^\\[${id}\\] Leases need fencing #claims #design, by librarian at .+\\n  A claim without a fencing token`));
    expect(found).not.toContain("Unrelated");
    expect(await ok(agent, "search_knowledge", { text: "nothing-like-this" })).toBe("Nothing found.");
    const recent = await ok(agent, "recent_knowledge", { limit: 1 });
    expect(recent).toMatch(/^\[.+\] Unrelated, by librarian/);
    expect(await ok(agent, "recent_knowledge", { tags: ["claims"] })).toContain("Leases need fencing");
    expect((await fails(agent, "recent_knowledge", { since: "yesterday" })).text).toMatch(/^BAD_USER_INPUT: since: /);
    expect(await ok(agent, "get_knowledge", { id })).toMatch(/^Leases need fencing #claims #design, by librarian at .+\nA claim without/);
    const { data } = await okData(agent, "get_knowledge", { id });
    expect(data.entry).toEqual({ id, title: "Leases need fencing", tags: ["claims", "design"], author: "librarian", createdAt: expect.any(String), body: "A claim without a fencing token lets a paused holder overwrite newer work.", taskId: expect.any(String) });
    expect((await okData(agent, "search_knowledge", { text: "fencing" })).data.entries).toEqual([{ ...data.entry, body: undefined, taskId: undefined, excerpt: data.entry.body }].map(({ body: _b, taskId: _t, ...e }) => e));
  });
});

describe("MCP rate limits", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ RATE_LIMIT_PER_MINUTE: "12" });
  });
  afterAll(() => limited.close());

  it("spends the agent's GraphQL budget: a tool call costs 5, then RATE_LIMITED", async () => {
    const agent = await registerAgent(limited, "busy");
    const client = await connect(agent, limited);
    await ok(client, "whoami");
    await ok(client, "whoami");
    const refused = await fails(client, "whoami");
    expect(refused.code).toBe("RATE_LIMITED");
    expect(refused.text).toMatch(/^RATE_LIMITED: rate limit exceeded for agent busy; retry in \d+ s$/);
    expect(refused.structured?.retryAfterSeconds).toBeGreaterThan(0);
    // The same budget: a GraphQL mutation field (5 points) is refused now too.
    expect((await agent.fails(`mutation { acknowledge(from: "nobody") }`)).code).toBe("RATE_LIMITED");
    await client.close();
  });
});
