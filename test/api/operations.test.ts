// Running the server: Prometheus metrics, one structured log line per operation (and no
// token in any log line), and a graceful shutdown under load (SIGTERM to the real
// process: exit 0, subscriptions ended cleanly, no answered write lost, no half answer).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, gql, registerAgent, type GqlResult } from "../helpers/client.js";
import { freePort } from "../helpers/free-port.js";
import { metricSamples, startServer, type TestServer } from "../helpers/server.js";
import { killGroup, newcomerEnv } from "../helpers/child-process.js";

const root = join(import.meta.dirname, "../..");

// ---------------------------------------------------------------------------------
// Metrics (in-process server)

describe("/metrics", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.close());

  it("answers Prometheus text with the operation, refusal, subscription, socket, journal and database series", async () => {
    const agent = await registerAgent(server, "metered");
    const teamId = await createTeam(agent, "metrics");
    await agent.ok(`{ me { name } }`);
    expect((await agent.fails(`{ team(id: "00000000-0000-0000-0000-000000000000") { name } }`)).code).toBe("NOT_FOUND");
    expect((await gql(server.url, `{ me { name } }`)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    // A live subscription and socket while the metrics are read.
    const sub = agent.subscribe("ws", `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor } }`, { t: teamId });
    await sub.next();

    const base = server.url.replace(/\/graphql$/, "");
    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await response.text();
    await sub.close();

    for (const name of [
      "agent_hq_operations_total",
      "agent_hq_refusals_total",
      "agent_hq_live_subscriptions",
      "agent_hq_websocket_connections",
      "agent_hq_journal_head",
      "agent_hq_journal_tailer_position",
      "agent_hq_db_statements",
      "agent_hq_db_write_transactions",
      "agent_hq_operation_duration_seconds",
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name}\\b`, "m"));
    }
    const samples = (name: string) => metricSamples(text, name);

    const operations = samples("agent_hq_operations_total");
    expect(operations).toEqual(
      expect.arrayContaining([
        { labels: { operation: "registerAgent", type: "mutation", outcome: "ok" }, value: 1 },
        { labels: { operation: "me", type: "query", outcome: "ok" }, value: 1 },
        { labels: { operation: "teamEvents", type: "subscription", outcome: "ok" }, value: 1 },
      ]),
    );
    // The failed query is counted with an error outcome.
    expect(operations.filter((s) => s.labels.operation === "team" && s.labels.outcome !== "ok")).toHaveLength(1);
    expect(samples("agent_hq_refusals_total")).toEqual(expect.arrayContaining([{ labels: { reason: "unauthenticated" }, value: 1 }]));
    expect(samples("agent_hq_live_subscriptions")).toEqual([{ labels: {}, value: 1 }]);
    expect(samples("agent_hq_websocket_connections")).toEqual([{ labels: {}, value: 1 }]);
    const head = samples("agent_hq_journal_head")[0]!.value;
    expect(head).toBeGreaterThanOrEqual(2);
    expect(samples("agent_hq_journal_tailer_position")[0]!.value).toBe(head);
    expect(samples("agent_hq_db_statements")[0]!.value).toBeGreaterThan(0);
    // registerAgent wrote, one transaction at least.
    expect(samples("agent_hq_db_write_transactions")[0]!.value).toBeGreaterThan(0);
    expect(samples("agent_hq_operation_duration_seconds_count").reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(4);
  });

  /** The operations_total samples for one operation name. */
  async function operationSamples(operation: string) {
    const text = await (await fetch(server.url.replace(/\/graphql$/, "/metrics"))).text();
    return text
      .split("\n")
      .filter((l) => l.startsWith("agent_hq_operations_total{") && l.includes(`operation="${operation}"`))
      .map((l) => l.replace(/^agent_hq_operations_total/, ""));
  }

  // Results are seen before masking; the outcome is still the domain error's code.
  it("counts a failed operation under its error code (NOT_FOUND), not ERROR", async () => {
    const agent = await registerAgent(server, "outcomes");
    expect((await agent.fails(`{ knowledge(id: "00000000-0000-0000-0000-000000000000") { id } }`)).code).toBe("NOT_FOUND");
    expect(await operationSamples("knowledge")).toEqual(['{operation="knowledge",type="query",outcome="NOT_FOUND"} 1']);
  });

  // A named operation sent without operationName is labelled by its name.
  it("labels a named operation by its name when the request carries no operationName", async () => {
    const agent = await registerAgent(server, "namer");
    const teamId = await createTeam(agent, "named");
    await agent.ok(`query Board($t: ID!) { team(id: $t) { name } }`, { t: teamId });
    expect(await operationSamples("Board")).toEqual(['{operation="Board",type="query",outcome="ok"} 1']);
  });
});

// ---------------------------------------------------------------------------------
// The real server as a child process

interface Running {
  child: ChildProcess;
  url: string;
  wsUrl: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => children.forEach(killGroup));

/** Starts the server as `npm start` does (node scripts/start.mjs: one process, signals reach it). */
async function startMain(settings: Record<string, string>): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, ["scripts/start.mjs"], {
    cwd: root,
    env: newcomerEnv({ PORT: String(port), HOST: "127.0.0.1", ...settings }),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let out = "";
  let err = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("close", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const deadline = Date.now() + 30_000;
  while (!/agent-hq ready at/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      killGroup(child);
      throw new Error(`the server did not start (exit ${child.exitCode})\nstdout:\n${out}\nstderr:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    stdout: () => out,
    stderr: () => err,
    exited,
  };
}

async function exitOf(running: Running, timeoutMs = 30_000) {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      running.exited,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          killGroup(running.child);
          reject(new Error(`did not exit within ${timeoutMs} ms\nstdout:\n${running.stdout()}\nstderr:\n${running.stderr()}`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-hq-operations-"));
});
afterAll(() => {
  children.forEach(killGroup);
  rmSync(dir, { recursive: true, force: true });
});

/** A POST with a request id of our choosing. */
async function post(url: string, query: string, options: { variables?: Record<string, unknown>; token?: string; requestId?: string; operationName?: string } = {}): Promise<GqlResult> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json",
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.requestId ? { "x-request-id": options.requestId } : {}),
    },
    body: JSON.stringify({ query, variables: options.variables, operationName: options.operationName }),
    signal: AbortSignal.timeout(15_000),
  });
  if (options.requestId) expect(response.headers.get("x-request-id")).toBe(options.requestId);
  return (await response.json()) as GqlResult;
}

/** Opens a graphql-transport-ws socket, acknowledged, with one subscription started. */
async function wsSubscription(wsUrl: string, token: string, query: string, variables: Record<string, unknown>) {
  const socket = new WebSocket(wsUrl, "graphql-transport-ws");
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  socket.on("message", (data) => messages.push(JSON.parse(String(data)) as { type: string }));
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  const waitFor = async (type: string) => {
    const deadline = Date.now() + 10_000;
    while (!messages.some((m) => m.type === type) && socket.readyState === WebSocket.OPEN && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(messages.map((m) => m.type)).toContain(type);
  };
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  await waitFor("connection_ack");
  socket.send(JSON.stringify({ type: "subscribe", id: "1", payload: { query, variables } }));
  await waitFor("next");
  return { socket, messages, closed };
}

/** Opens an SSE subscription; resolves once its first event arrived. */
async function sseSubscription(url: string, token: string, query: string, variables: Record<string, unknown>) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.status).toBe(200);
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  while (!text.includes("\n\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the stream ended before its first event: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  // Reads on to the end: resolves with the whole text and how it ended.
  const ended = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return { text, clean: true, error: null as unknown };
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      return { text, clean: false, error };
    }
  })();
  return { ended };
}

// ---------------------------------------------------------------------------------

describe("structured logs", () => {
  it("writes one JSON line per operation, and never a token", async () => {
    const running = await startMain({ DATABASE_URL: `file:${join(dir, "logs.db")}`, LOG_LEVEL: "info" });
    const tokens: string[] = [];
    try {
      const registered = await post(running.url, `mutation Join($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id } } }`, {
        variables: { input: { name: "logger" } },
        operationName: "Join",
        requestId: "log-register",
      });
      expect(registered.errors).toBeUndefined();
      const token = (registered.data as { registerAgent: { token: string } }).registerAgent.token;
      tokens.push(token);

      const me = await post(running.url, `{ me { name } }`, { token, requestId: "log-me" });
      expect(me.data).toEqual({ me: { name: "logger" } });

      const failed = await post(running.url, `mutation { createTask(teamId: "00000000-0000-0000-0000-000000000000", input: { title: "lost" }) { id } }`, {
        token,
        requestId: "log-fail",
      });
      expect(failed.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");

      // More tokens go by: one rotated in, the old one used after its revocation, a bad
      // one, and the new one over WebSocket and SSE.
      const rotated = await post(running.url, `mutation { rotateToken { token } }`, { token, requestId: "log-rotate" });
      const fresh = (rotated.data as { rotateToken: { token: string } }).rotateToken.token;
      tokens.push(fresh);
      expect((await post(running.url, `{ me { name } }`, { token, requestId: "log-revoked" })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const bogus = `ahq_${"Z".repeat(43)}`;
      tokens.push(bogus);
      expect((await post(running.url, `{ me { name } }`, { token: bogus })).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const teamId = ((await post(running.url, `mutation { createTeam(input: { name: "logs", role: "lead" }) { id } }`, { token: fresh })).data as { createTeam: { id: string } }).createTeam.id;
      const ws = await wsSubscription(running.wsUrl, fresh, `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor } }`, { t: teamId });
      ws.socket.close(1000);
      await ws.closed;
      const badWs = new WebSocket(running.wsUrl, "graphql-transport-ws");
      await new Promise((r) => badWs.once("open", r));
      badWs.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
      expect(await new Promise((r) => badWs.once("close", r))).toBe(4403);
      const sse = await fetch(running.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${fresh}` },
        body: JSON.stringify({ query: `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor } }`, variables: { t: teamId } }),
      });
      const reader = sse.body!.getReader();
      await reader.read();
      await reader.cancel();
      // An unexpected error is logged with its stack: still no token.
      await post(running.url, `query($s: [TaskStatus!]) { myTasks(filter: { status: $s }) { edges { cursor } } }`, { token: fresh, variables: { s: Array(2_000).fill("PENDING") } });

      // Give the logger a moment to flush.
      await new Promise((r) => setTimeout(r, 300));
      const lines = running
        .stdout()
        .split("\n")
        .filter((l) => l.length > 0);
      const records = lines.map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          throw new Error(`a stdout line is not JSON: ${l}`);
        }
      });
      const operation = (requestId: string) => records.filter((r) => r.msg === "operation" && r.requestId === requestId);

      expect(operation("log-register")).toHaveLength(1);
      expect(operation("log-register")[0]).toMatchObject({ agent: null, operation: "Join", type: "mutation", outcome: "ok", durationMs: expect.any(Number) });
      expect(operation("log-me")).toHaveLength(1);
      expect(operation("log-me")[0]).toMatchObject({ agent: "logger", operation: "me", type: "query", outcome: "ok", durationMs: expect.any(Number) });
      expect(operation("log-fail")).toHaveLength(1);
      expect(operation("log-fail")[0]).toMatchObject({ agent: "logger", operation: "createTask", type: "mutation", durationMs: expect.any(Number) });
      // An error outcome (NOT_FOUND).
      expect(operation("log-fail")[0]!.outcome).not.toBe("ok");
      expect(operation("log-rotate")).toHaveLength(1);
      for (const r of records.filter((r) => r.msg === "operation")) {
        expect(r).toMatchObject({ level: 30, requestId: expect.any(String), operation: expect.any(String), outcome: expect.any(String) });
        expect(r.durationMs as number).toBeGreaterThanOrEqual(0);
      }
    } finally {
      killGroup(running.child);
      await running.exited;
    }
    expect(tokens.length).toBe(3);
    const output = `${running.stdout()}\n${running.stderr()}`;
    for (const token of tokens) {
      expect(output.includes(token), `token ${token.slice(0, 8)}… appears in the output`).toBe(false);
      // Nor its secret part on its own.
      expect(output.includes(token.slice(4))).toBe(false);
    }
    expect(output).not.toMatch(/bearer\s+\S+/i);
  });
});

// ---------------------------------------------------------------------------------

describe("graceful shutdown", () => {
  it("under load, SIGTERM exits 0, ends subscriptions cleanly, keeps every answered write and cuts no answer in half", async () => {
    const databaseUrl = `file:${join(dir, "shutdown.db")}`;
    const settings = { DATABASE_URL: databaseUrl, LOG_LEVEL: "info", RATE_LIMIT_PER_MINUTE: "10000000", RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10000000" };
    const running = await startMain(settings);
    const server = { url: running.url, wsUrl: running.wsUrl } as TestServer;

    const lead = await registerAgent(server, "lead");
    const workers = await Promise.all(["w1", "w2", "w3", "w4"].map((n) => registerAgent(server, n)));
    const teamId = await createTeam(lead, "load", workers.map((w) => [w, "worker"]));
    const EVENTS = `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor kind } }`;
    const ws = await wsSubscription(running.wsUrl, lead.token, EVENTS, { t: teamId });
    const sse = await sseSubscription(running.url, lead.token, EVENTS, { t: teamId });

    const created: string[] = [];
    const outcomes = { ok: 0, errors: 0, refused: 0, truncated: [] as string[] };
    let stopAt = Infinity;
    const load = workers.map(async (worker, w) => {
      for (let i = 0; Date.now() < stopAt; i++) {
        let response: Response;
        try {
          response = await fetch(running.url, {
            method: "POST",
            headers: { "content-type": "application/json", accept: "application/graphql-response+json", authorization: `Bearer ${worker.token}` },
            body: JSON.stringify({
              query: `mutation($t: ID!, $title: String!) { createTask(teamId: $t, input: { title: $title, description: "under load" }) { id title } }`,
              variables: { t: teamId, title: `w${w}-${i}` },
            }),
          });
        } catch {
          // Could not connect, or the connection was refused or reset before an answer.
          outcomes.refused++;
          await new Promise((r) => setTimeout(r, 10));
          continue;
        }
        let text = "";
        try {
          text = await response.text();
          const body = JSON.parse(text) as GqlResult<{ createTask: { id: string; title: string } }>;
          if (body.data?.createTask) {
            expect(body.data.createTask.title).toBe(`w${w}-${i}`);
            created.push(body.data.createTask.id);
            outcomes.ok++;
          } else outcomes.errors++;
        } catch (error) {
          outcomes.truncated.push(`${response.status}: ${text.slice(0, 200)} (${String(error)})`);
        }
      }
    });

    // Let the load run, then stop the server in the middle of it.
    while (created.length < 40) await new Promise((r) => setTimeout(r, 20));
    const t0 = Date.now();
    running.child.kill("SIGTERM");
    const exit = await exitOf(running);
    const exitMs = Date.now() - t0;
    // Keep the clients going a little after the exit: they must fail to connect.
    stopAt = Date.now() + 300;
    await Promise.all(load);

    expect(exit, running.stderr()).toEqual({ code: 0, signal: null });
    expect(outcomes.truncated).toEqual([]);
    expect(outcomes.refused).toBeGreaterThan(0);

    // The WebSocket: closed with 1001 (Going Away), or its subscription completed first.
    const wsClose = await ws.closed;
    const types = ws.messages.map((m) => m.type);
    expect(types).not.toContain("error");
    expect(wsClose.code === 1001 || (types.at(-1) === "complete" && [1000, 1001].includes(wsClose.code)), `closed ${wsClose.code} after ${types.join(",")}`).toBe(true);

    // The SSE stream: a complete event or a clean end.
    const sseEnd = await sse.ended;
    expect(sseEnd.clean || /event: complete/.test(sseEnd.text), String(sseEnd.error)).toBe(true);
    const events = sseEnd.text.split("\n\n").filter((e) => e.trim().length > 0);
    for (const event of events) {
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("");
      if (data) expect(() => JSON.parse(data) as unknown, event).not.toThrow();
    }

    // Every answered write is in the database.
    const again = await startMain(settings);
    try {
      const stored = new Set<string>();
      let after: string | null = null;
      for (;;) {
        const page: GqlResult<{ team: { tasks: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } }> = await post(
          again.url,
          `query($t: ID!, $after: String) { team(id: $t) { tasks(first: 100, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } } }`,
          { token: lead.token, variables: { t: teamId, after } },
        );
        expect(page.errors).toBeUndefined();
        for (const edge of page.data!.team.tasks.edges) stored.add(edge.node.id);
        if (!page.data!.team.tasks.pageInfo.hasNextPage) break;
        after = page.data!.team.tasks.pageInfo.endCursor;
      }
      expect(created.length).toBe(outcomes.ok);
      expect(created.filter((id) => !stored.has(id))).toEqual([]);
      console.log(`[shutdown] exit ${exit.code} ${exitMs} ms after SIGTERM; ${outcomes.ok} writes answered, ${outcomes.errors} answered with errors, ${outcomes.refused} refused connections, ${stored.size} tasks stored; ws closed ${wsClose.code} after ${types.join(",").replace(/(next,)+/g, "next…,")}`);
    } finally {
      again.child.kill("SIGTERM");
      await exitOf(again);
    }
  });
  it("answers every request in flight at SIGTERM, and one sent after it on a kept-alive connection 503 UNAVAILABLE with Connection: close", async () => {
    const running = await startMain({ DATABASE_URL: `file:${join(dir, "in-flight.db")}`, LOG_LEVEL: "info", SHUTDOWN_TIMEOUT_MS: "60000", REQUEST_TIMEOUT_MS: "60000" });
    const server = { url: running.url, wsUrl: running.wsUrl } as TestServer;
    const lead = await registerAgent(server, "lead");
    const asked = await registerAgent(server, "asked");
    const teamId = await createTeam(lead, "in flight", [[asked, "worker"]]);
    const CREATE = `mutation($t: ID!, $title: String!) { createTask(teamId: $t, input: { title: $title }) { title } }`;

    // A kept-alive connection, idle when the shutdown begins (used below).
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const onKeptAlive = () =>
      new Promise<{ reused: boolean; status: number; connection: string | undefined; body: string }>((resolve, reject) => {
        const req = request(running.url, { method: "POST", agent: keepAlive, headers: { "content-type": "application/json", authorization: `Bearer ${lead.token}` } }, (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve({ reused: req.reusedSocket, status: res.statusCode!, connection: res.headers.connection, body }));
        });
        req.on("error", reject);
        req.end(JSON.stringify({ query: `{ me { name } }` }));
      });

    // A request whose body is still on its way: in flight until we send the rest, so the
    // shutdown waits for it.
    const body = JSON.stringify({ query: CREATE, variables: { t: teamId, title: "sent slowly" } });
    const slow = connect(Number(new URL(running.url).port), "127.0.0.1");
    let slowAnswer = "";
    slow.setEncoding("utf8").on("data", (chunk: string) => (slowAnswer += chunk));
    const slowClosed = new Promise((resolve) => slow.once("close", resolve));
    slow.write(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${lead.token}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`);

    /** Every answer as status and body; a connection error as its text. */
    const answer = (query: string, variables: Record<string, unknown>) =>
      fetch(running.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/graphql-response+json", authorization: `Bearer ${lead.token}` },
        body: JSON.stringify({ query, variables }),
      }).then(
        async (res) => ({ status: res.status, result: JSON.parse(await res.text()) as GqlResult }),
        (error: unknown) => ({ status: 0, result: { errors: [{ message: String((error as { cause?: unknown }).cause ?? error) }] } as GqlResult }),
      );
    // Ten asks waiting for replies (in flight once they reached the asked agent's inbox) …
    const asks = Array.from({ length: 10 }, (_, i) => answer(`mutation($q: String!) { ask(to: ["asked"], question: $q, timeoutSeconds: 5) { timedOut } }`, { q: `question ${i}` }));
    for (let deadline = Date.now() + 30_000; ; ) {
      const unread = (await asked.ok(`{ unreadCount }`)).unreadCount as number;
      if (unread === 10) break;
      if (Date.now() > deadline) throw new Error(`only ${unread} asks arrived`);
      await new Promise((r) => setTimeout(r, 20));
    }
    // The kept-alive connection is used just before the signal (a client drops an idle one
    // after the server's Keep-Alive hint, 5 s, less one).
    expect(await onKeptAlive()).toMatchObject({ reused: false, status: 200, connection: "keep-alive" });
    // … and ten writes sent with the signal.
    const writes = Array.from({ length: 10 }, (_, i) => answer(CREATE, { t: teamId, title: `write ${i}` }));
    running.child.kill("SIGTERM");
    for (let deadline = Date.now() + 30_000; !/shutting down/.test(running.stdout()); ) {
      if (Date.now() > deadline) throw new Error(`no shutdown line\n${running.stdout()}`);
      await new Promise((r) => setTimeout(r, 20));
    }

    // After the shutdown began, the kept-alive connection still answers: 503, and closes.
    const late = await onKeptAlive();
    expect(late).toMatchObject({ reused: true, status: 503, connection: "close" });
    expect(JSON.parse(late.body)).toMatchObject({ errors: [{ extensions: { code: "UNAVAILABLE" } }] });
    expect(JSON.parse(late.body).errors[0].message).toMatch(/shutting down/);
    // A WebSocket handshake is refused with 503 too.
    const refusedSocket = new WebSocket(running.wsUrl, "graphql-transport-ws");
    refusedSocket.on("error", () => {});
    expect(await new Promise((resolve) => refusedSocket.once("unexpected-response", (_req, res) => resolve(res.statusCode)))).toBe(503);

    // Every request got a whole answer: its result, or (a write that came after the
    // signal, an ask cut short) UNAVAILABLE. Never a reset.
    const unavailable = (a: { status: number; result: GqlResult }) => a.status === 503 && a.result.errors?.[0]?.extensions?.code === "UNAVAILABLE";
    for (const a of await Promise.all(asks)) expect(a.status === 200 ? a.result.data?.ask?.timedOut === true : unavailable(a), JSON.stringify(a)).toBe(true);
    for (const a of await Promise.all(writes)) expect(a.status === 200 ? a.result.data?.createTask != null : unavailable(a), JSON.stringify(a)).toBe(true);

    // The request in flight is answered in full once its body arrives, and closes its connection.
    slow.write(body.slice(20));
    await slowClosed;
    expect(slowAnswer).toMatch(/^HTTP\/1\.1 200 /);
    expect(slowAnswer).toMatch(/\r\nconnection: close\r\n/i);
    expect(slowAnswer).toContain(`{"data":{"createTask":{"title":"sent slowly"}}}`);

    expect(await exitOf(running)).toEqual({ code: 0, signal: null });
    keepAlive.destroy();
  });
});

