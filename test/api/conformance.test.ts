// Protocol conformance: the GraphQL-over-HTTP audits of graphql-http, the
// graphql-transport-ws close codes with raw frames, and clean-up when a client vanishes
// (WebSocket terminated, SSE aborted).
import { auditServer } from "graphql-http";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { waitUntil } from "../helpers/wait-until.js";

let server: TestServer;
let agent: TestAgent;
let teamId: string;

beforeAll(async () => {
  server = await startServer();
  agent = await registerAgent(server, "conformer");
  teamId = await createTeam(agent, "conformance");
});
afterAll(() => server.close());

/** Polls `read` until it returns `expected` (or the time runs out); returns the last value. */
async function eventually<T>(read: () => T, expected: T, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (value !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    value = read();
  }
  return value;
}

const TEAM_EVENTS = `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor kind } }`;

describe("GraphQL over HTTP (graphql-http audits)", () => {
  const failures = (results: Awaited<ReturnType<typeof auditServer>>) =>
    results.filter((r) => r.status === "error").map((r) => `${r.id} ${r.name}: ${"reason" in r ? r.reason : ""}`);

  it("passes every audit that is a requirement (no status error), without a token", async () => {
    // The audits only send `{ __typename }` and similar: public operations, no token
    // needed (each spends the address's anonymous budget, which is huge here).
    const results = await auditServer({ url: server.url });
    expect(results.length).toBeGreaterThan(50);
    for (const r of results) {
      console.log(`[audit] ${r.id} ${r.status.padEnd(6)} ${r.name}${r.status === "ok" ? "" : ` (${r.reason})`}`);
    }
    expect(failures(results)).toEqual([]);
  });

  it("passes them all the same with an agent's bearer token", async () => {
    const fetchFn: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.set("authorization", `Bearer ${agent.token}`);
      return fetch(input, { ...init, headers });
    };
    const results = await auditServer({ url: server.url, fetchFn });
    expect(failures(results)).toEqual([]);
    console.log(`[audit with token] ${results.filter((r) => r.status === "ok").length} of ${results.length} ok`);
  });
});

// ---------------------------------------------------------------------------------
// graphql-transport-ws with raw frames

interface RawSocket {
  socket: WebSocket;
  /** Every message the server sent, parsed. */
  messages: Record<string, unknown>[];
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Waits for a message of `type` (and `id`, if given). */
  waitFor(type: string, id?: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

async function openSocket(): Promise<RawSocket> {
  const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
  const messages: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  socket.on("message", (data) => {
    messages.push(JSON.parse(String(data)) as Record<string, unknown>);
    listeners.forEach((l) => l());
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    socket.once("close", (code, reason) => {
      listeners.forEach((l) => l());
      resolve({ code, reason: reason.toString() });
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once("open", () => resolve());
    socket.once("error", reject);
  });
  expect(socket.protocol).toBe("graphql-transport-ws");
  return {
    socket,
    messages,
    closed,
    send: (message) => socket.send(typeof message === "string" ? message : JSON.stringify(message)),
    waitFor: (type, id, timeoutMs = 5_000) =>
      waitUntil<Record<string, unknown>>(
        listeners,
        () => {
          const found = messages.find((m) => m.type === type && (id === undefined || m.id === id));
          if (found) return { value: found };
          if (socket.readyState === WebSocket.CLOSED) return { error: new Error(`socket closed before a ${type} message; got ${JSON.stringify(messages)}`) };
        },
        timeoutMs,
        () => `no ${type} message within ${timeoutMs} ms; got ${JSON.stringify(messages)}`,
      ),
  };
}

/** A socket past connection_ack. */
async function acknowledged(token = agent.token): Promise<RawSocket> {
  const raw = await openSocket();
  raw.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
  await raw.waitFor("connection_ack");
  return raw;
}

/** Waits for the close, failing after `timeoutMs`. */
function closeOf(raw: RawSocket, timeoutMs = 5_000) {
  return Promise.race([
    raw.closed,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`the server did not close within ${timeoutMs} ms`)), timeoutMs)),
  ]);
}

describe("graphql-transport-ws close codes", () => {
  it("acknowledges a valid connection_init and answers ping with pong", async () => {
    const raw = await acknowledged();
    raw.send({ type: "ping" });
    await raw.waitFor("pong");
    raw.send({ type: "subscribe", id: "q", payload: { query: "{ me { name } }" } });
    expect(await raw.waitFor("next", "q")).toMatchObject({ payload: { data: { me: { name: "conformer" } } } });
    await raw.waitFor("complete", "q");
    raw.socket.close(1000);
    expect((await raw.closed).code).toBe(1000);
  });

  it("closes with 4400 on a frame that is not JSON", async () => {
    const raw = await acknowledged();
    raw.send("this is not json");
    expect((await closeOf(raw)).code).toBe(4400);
  });

  it("closes with 4400 on a message of an unknown type", async () => {
    const raw = await acknowledged();
    raw.send({ type: "shout", payload: {} });
    expect((await closeOf(raw)).code).toBe(4400);
  });

  it("closes with 4400 on a non-JSON frame before connection_init", async () => {
    const raw = await openSocket();
    raw.send("{ nope");
    expect((await closeOf(raw)).code).toBe(4400);
  });

  it("closes with 4401 on subscribe before connection_ack", async () => {
    const raw = await openSocket();
    raw.send({ type: "subscribe", id: "early", payload: { query: "{ __typename }" } });
    const { code } = await closeOf(raw);
    expect(code).toBe(4401);
    expect(raw.messages.filter((m) => m.type === "next")).toEqual([]);
  });

  it("closes with 4403 on connection_init with a bad token", async () => {
    const raw = await openSocket();
    raw.send({ type: "connection_init", payload: { authorization: "Bearer ahq_" + "x".repeat(43) } });
    expect((await closeOf(raw)).code).toBe(4403);
    expect(raw.messages.filter((m) => m.type === "connection_ack")).toEqual([]);
  });

  it("closes with 4403 on connection_init with no token", async () => {
    for (const payload of [undefined, {}]) {
      const raw = await openSocket();
      raw.send(payload === undefined ? { type: "connection_init" } : { type: "connection_init", payload });
      expect((await closeOf(raw)).code, JSON.stringify(payload)).toBe(4403);
      expect(raw.messages.filter((m) => m.type === "connection_ack")).toEqual([]);
    }
  });

  it("closes with 4408 when no connection_init arrives in time (3 s)", async () => {
    const raw = await openSocket();
    const started = Date.now();
    const { code } = await closeOf(raw, 10_000);
    expect(code).toBe(4408);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
  });

  it("closes with 4409 on a second subscribe with the id of a live one", async () => {
    const raw = await acknowledged();
    raw.send({ type: "subscribe", id: "dup", payload: { query: TEAM_EVENTS, variables: { t: teamId } } });
    await raw.waitFor("next", "dup");
    raw.send({ type: "subscribe", id: "dup", payload: { query: TEAM_EVENTS, variables: { t: teamId } } });
    expect((await closeOf(raw)).code).toBe(4409);
    expect(await eventually(() => server.app.services.tailer.stats().listeners, 0)).toBe(0);
  });

  it("closes with 4429 on a second connection_init", async () => {
    const raw = await acknowledged();
    raw.send({ type: "connection_init", payload: { authorization: `Bearer ${agent.token}` } });
    expect((await closeOf(raw)).code).toBe(4429);
  });
});

describe("clients that vanish", () => {
  it("a terminated WebSocket with a live teamEvents subscription leaves no listener and no presence", async () => {
    expect(await eventually(() => server.app.services.tailer.stats().listeners, 0)).toBe(0);
    expect(await eventually(() => server.app.services.presence.liveSubscriptions(), 0)).toBe(0);
    const raw = await acknowledged();
    raw.send({ type: "subscribe", id: "live", payload: { query: TEAM_EVENTS, variables: { t: teamId } } });
    expect(await raw.waitFor("next", "live")).toMatchObject({ payload: { data: { teamEvents: { kind: "team.created" } } } });
    expect(server.app.services.tailer.stats().listeners).toBeGreaterThan(0);
    expect(server.app.services.presence.liveSubscriptions()).toBe(1);
    expect(server.app.sockets()).toBeGreaterThan(0);

    raw.socket.terminate();
    expect(await eventually(() => server.app.services.tailer.stats().listeners, 0)).toBe(0);
    expect(await eventually(() => server.app.services.presence.liveSubscriptions(), 0)).toBe(0);
    expect(await eventually(() => server.app.sockets(), 0)).toBe(0);
  });

  it("an aborted SSE subscription leaves no listener and no presence", async () => {
    expect(await eventually(() => server.app.services.tailer.stats().listeners, 0)).toBe(0);
    const abort = new AbortController();
    const response = await fetch(server.url, {
      method: "POST",
      signal: abort.signal,
      headers: { "content-type": "application/json", accept: "text/event-stream", authorization: `Bearer ${agent.token}` },
      body: JSON.stringify({ query: TEAM_EVENTS, variables: { t: teamId } }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (!text.includes("team.created")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the stream ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    expect(text).toMatch(/^(event: next\n)?data: /m);
    expect(server.app.services.tailer.stats().listeners).toBeGreaterThan(0);
    expect(server.app.services.presence.liveSubscriptions()).toBe(1);

    abort.abort();
    await reader.read().catch(() => undefined);
    expect(await eventually(() => server.app.services.tailer.stats().listeners, 0)).toBe(0);
    expect(await eventually(() => server.app.services.presence.liveSubscriptions(), 0)).toBe(0);
  });
});
