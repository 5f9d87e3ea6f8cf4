// The HTTP layer's edges, through the real server and raw sockets: a client that sends its
// request too slowly is answered 408 (answers themselves are not bounded: an SSE stream and
// a waiting ask outlive the timeout), and every refusal before GraphQL runs (a media type,
// a path, malformed HTTP) is JSON with an `extensions.code`.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { sqlBehindTheServer, startServer, type TestServer } from "../helpers/server.js";

const HEADERS_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 1500;

let server: TestServer;
let port: number;
let planner: TestAgent;
let worker: TestAgent;
let teamId: string;

beforeAll(async () => {
  server = await startServer({ HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS), REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS) });
  port = Number(new URL(server.url).port);
  planner = await registerAgent(server, "planner");
  worker = await registerAgent(server, "worker");
  teamId = await createTeam(planner, "edges", [[worker, "worker"]]);
});
afterAll(() => server.close());

interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends `text` on a fresh connection and keeps it open (sending nothing more) until the
 * server answers and closes it: resolving means the server closed the connection.
 * `timeoutMs` is only a safety net.
 */
function rawExchange(text: string, timeoutMs = 20_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    let received = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer and no close within ${timeoutMs} ms; received: ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (received += chunk));
    // A reset after the answer (the server closing while this side still sends) is no failure.
    let failure: Error | undefined;
    socket.on("error", (error) => (failure = error));
    socket.on("close", () => {
      clearTimeout(timer);
      const cut = received.indexOf("\r\n\r\n");
      if (cut < 0) return reject(new Error(`closed without an answer (${String(failure)}): ${JSON.stringify(received)}`));
      const [statusLine, ...lines] = received.slice(0, cut).split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      resolve({ status: Number(statusLine!.split(" ")[1]), headers, body: received.slice(cut + 4) });
    });
    socket.write(text);
  });
}

const codeOf = (body: string) => (JSON.parse(body) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code;
const messageOf = (body: string) => (JSON.parse(body) as { errors: { message: string }[] }).errors[0]!.message;

const slowBody = () =>
  rawExchange(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`);

describe("requests sent too slowly", () => {
  it("refuses to start with HEADERS_TIMEOUT_MS over REQUEST_TIMEOUT_MS (Node would throw)", () => {
    expect(() => loadConfig({ HEADERS_TIMEOUT_MS: "5000", REQUEST_TIMEOUT_MS: "4000" })).toThrow(/HEADERS_TIMEOUT_MS: must not exceed REQUEST_TIMEOUT_MS \(4000\)/);
  });

  it("answers 408 REQUEST_TIMEOUT, in JSON, to a body shorter than its Content-Length, and closes the connection", async () => {
    const started = Date.now();
    const answer = await slowBody();
    expect(answer.status).toBe(408);
    expect(answer.headers["content-type"]).toBe("application/json");
    expect(codeOf(answer.body)).toBe("REQUEST_TIMEOUT");
    expect(messageOf(answer.body)).toContain(`${REQUEST_TIMEOUT_MS} ms`);
    expect(answer.headers.connection).toBe("close");
    expect(Date.now() - started).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
  });

  it("answers 408 REQUEST_TIMEOUT to headers that never end", async () => {
    const answer = await rawExchange(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n`);
    expect(answer.status).toBe(408);
    expect(codeOf(answer.body)).toBe("REQUEST_TIMEOUT");
  });

  it("does not bound answers: an SSE stream and a waiting ask opened before a timed-out request still deliver", async () => {
    const events = planner.subscribe("sse", `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { kind } }`, { t: teamId });
    await events.next();
    const asked = planner.run(`mutation($to: [String!]!) { ask(to: $to, question: "still there?", timeoutSeconds: 120) { timedOut reply { body } } }`, { to: [worker.name] });
    // The ask is waiting once it reached the worker's inbox.
    let askId: string | undefined;
    while (!askId) {
      const { inbox } = await worker.ok(`{ inbox(first: 1, filter: { unread: true }) { edges { node { message { id intent } } } } }`);
      askId = inbox.edges.find((e: { node: { message: { intent: string } } }) => e.node.message.intent === "ASK")?.node.message.id;
      if (!askId) await new Promise((r) => setTimeout(r, 20));
    }
    // A request begun after both is timed out: both have outlived REQUEST_TIMEOUT_MS.
    expect((await slowBody()).status).toBe(408);

    await planner.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "after the timeout" }) { id } }`, { t: teamId });
    for (;;) if ((await events.next(10_000)).data.teamEvents.kind === "task.created") break;
    await events.close();
    await worker.ok(`mutation($id: ID!) { reply(messageId: $id, message: { body: "yes" }) { id } }`, { id: askId });
    const { data, errors } = await asked;
    expect(errors).toBeUndefined();
    expect(data.ask).toEqual({ timedOut: false, reply: { body: "yes" } });
  });
});

describe("refusals before GraphQL runs are JSON with a code", () => {
  const post = (headers: Record<string, string>, body = `{"query":"{ __typename }"}`, path = "/graphql") =>
    fetch(new URL(path, server.url), { method: "POST", headers, body });

  it("415 UNSUPPORTED_MEDIA_TYPE for a Content-Type Yoga cannot read, naming the ones it can", async () => {
    for (const contentType of ["text/plain", "application/xml"]) {
      const response = await post({ "content-type": contentType });
      expect(response.status).toBe(415);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      const body = await response.text();
      expect(codeOf(body)).toBe("UNSUPPORTED_MEDIA_TYPE");
      expect(messageOf(body)).toContain(contentType);
      expect(messageOf(body)).toContain("application/json");
    }
    const none = await rawExchange(`POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
    expect(none.status).toBe(415);
    expect(codeOf(none.body)).toBe("UNSUPPORTED_MEDIA_TYPE");
    expect(messageOf(none.body)).toContain("no Content-Type");
  });

  it("406 NOT_ACCEPTABLE for an Accept no answer can meet, naming the media types it can", async () => {
    const response = await post({ "content-type": "application/json", accept: "application/xml" });
    expect(response.status).toBe(406);
    const body = await response.text();
    expect(codeOf(body)).toBe("NOT_ACCEPTABLE");
    expect(messageOf(body)).toContain("application/graphql-response+json");
  });

  it("404 NOT_FOUND for a path nothing is served at, naming the GraphQL path", async () => {
    const response = await fetch(new URL("/nothing-here", server.url));
    expect(response.status).toBe(404);
    const body = await response.text();
    expect(codeOf(body)).toBe("NOT_FOUND");
    expect(messageOf(body)).toContain("/graphql");
  });

  it("405 for a method GraphQL does not serve (Yoga's own JSON)", async () => {
    const response = await fetch(server.url, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    expect(response.status).toBe(405);
    expect(codeOf(await response.text())).toBe("BAD_REQUEST");
  });

  it.each([
    ["a request line that is not HTTP", 400, "BAD_REQUEST", "NOT HTTP AT ALL\r\n\r\n"],
    ["an HTTP/1.1 request without Host", 400, "BAD_REQUEST", "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nConnection: close\r\n\r\n"],
    ["headers over 16 KB", 431, "HEADERS_TOO_LARGE", `GET /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`],
    ["an Expect other than 100-continue", 417, "EXPECTATION_FAILED", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: teapot\r\nConnection: close\r\n\r\n"],
  ])("%s: %i %s", async (_name, status, code, request) => {
    const answer = await rawExchange(request);
    expect(answer.status).toBe(status);
    expect(answer.headers["content-type"]).toMatch(/^application\/json/);
    expect(codeOf(answer.body)).toBe(code);
  });

  // Last: the server is not ready after it.
  it("503 UNAVAILABLE from /readyz when a migration is not applied", async () => {
    expect((await fetch(new URL("/readyz", server.url))).status).toBe(200);
    await sqlBehindTheServer(server, `DELETE FROM _prisma_migrations WHERE migration_name = (SELECT MAX(migration_name) FROM _prisma_migrations)`);
    const response = await fetch(new URL("/readyz", server.url));
    expect(response.status).toBe(503);
    expect(codeOf(await response.text())).toBe("UNAVAILABLE");
  });
});
