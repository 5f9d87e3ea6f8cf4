// What protects the server from its clients: authentication on every operation but
// registration and introspection, rate limits per agent and per address, query limits
// (depth, cost, aliases, directives, tokens, body size, batching, page size),
// introspection switched off for production, and error masking.
import http from "node:http";
import { getIntrospectionQuery, Lexer, Source, TokenKind } from "graphql";
import { exampleOperations } from "../../src/graphql/graphiql-tab.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type GqlResult, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

/** Every response body this file received, to check none carries a stack trace. */
const bodies: string[] = [];

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: GqlResult & Record<string, unknown>;
}

async function post(url: string, payload: unknown, options: { token?: string; accept?: string } = {}): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: options.accept ?? "application/graphql-response+json",
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: typeof payload === "string" ? payload : JSON.stringify(payload),
  });
  const text = await response.text();
  bodies.push(text);
  let body: Answer["body"];
  try {
    body = JSON.parse(text) as Answer["body"];
  } catch {
    body = {} as Answer["body"];
  }
  return { status: response.status, headers: response.headers, text, body };
}

/** A POST from another loopback address (127.0.0.x), with node:http, for per-address budgets. */
function postFrom(localAddress: string, url: string, payload: unknown, token?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: GqlResult }> {
  const target = new URL(url);
  const data = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        localAddress,
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json",
          "content-length": Buffer.byteLength(data),
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          bodies.push(text);
          try {
            resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) as GqlResult });
          } catch (error) {
            reject(new Error(`not JSON (${res.statusCode}): ${text.slice(0, 200)}`, { cause: error }));
          }
        });
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

/** A POST whose body is sent with Transfer-Encoding: chunked (no Content-Length). */
function chunkedPost(url: string, data: string, token: string): Promise<{ status: number | null; text: string }> {
  const target = new URL(url);
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "transfer-encoding": "chunked", authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () => {
          bodies.push(text);
          resolve({ status: res.statusCode!, text });
        });
        res.on("error", () => resolve({ status: null, text }));
      },
    );
    // Cut off by the server: that is a refusal too.
    req.on("error", () => resolve({ status: null, text: "" }));
    for (let i = 0; i < data.length; i += 64 * 1024) req.write(data.slice(i, i + 64 * 1024));
    req.end();
  });
}

function countTokens(query: string): number {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
}

const codeOf = (a: { body: GqlResult }) => a.body.errors?.[0]?.extensions?.code;
const messageOf = (a: { body: GqlResult }) => a.body.errors?.[0]?.message ?? "";
const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id name } } }`;

let server: TestServer;
let agent: TestAgent;
let teamId: string;

beforeAll(async () => {
  server = await startServer();
  agent = await registerAgent(server, "guarded");
  teamId = await createTeam(agent, "protected");
});
afterAll(() => server.close());

// ---------------------------------------------------------------------------------

describe("authentication", () => {
  it("answers a query without a token with UNAUTHENTICATED, HTTP 401 and no data", async () => {
    const answer = await post(server.url, { query: `{ me { id name } }` });
    expect(answer.status).toBe(401);
    expect(codeOf(answer)).toBe("UNAUTHENTICATED");
    expect(answer.body.data ?? null).toBeNull();
    expect(messageOf(answer)).toMatch(/bearer token/i);
  });

  it("answers a mutation without a token with UNAUTHENTICATED, HTTP 401, no data and no effect", async () => {
    const before = await server.app.services.db.reader.team.count();
    const answer = await post(server.url, { query: `mutation { createTeam(input: { name: "sneaky", role: "lead" }) { id } }` });
    expect(answer.status).toBe(401);
    expect(codeOf(answer)).toBe("UNAUTHENTICATED");
    expect(answer.body.data ?? null).toBeNull();
    expect(await server.app.services.db.reader.team.count()).toBe(before);
  });

  it("refuses an operation that mixes public and private root fields", async () => {
    const answer = await post(server.url, { query: `{ __typename me { name } }` });
    expect(answer.status).toBe(401);
    expect(codeOf(answer)).toBe("UNAUTHENTICATED");
    expect(answer.body.data ?? null).toBeNull();
  });

  it("refuses a subscription over HTTP without a token", async () => {
    const answer = await post(server.url, { query: `subscription($t: ID!) { teamEvents(teamId: $t) { cursor } }`, variables: { t: teamId } }, { accept: "application/json" });
    expect(answer.status).toBe(401);
    expect(codeOf(answer)).toBe("UNAUTHENTICATED");
  });

  it("answers { __typename }, an introspection query and registerAgent without a token", async () => {
    const typename = await post(server.url, { query: `{ __typename }` });
    expect(typename.status).toBe(200);
    expect(typename.body).toEqual({ data: { __typename: "Query" } });

    const schema = await post(server.url, { query: `{ __schema { queryType { name } } }` });
    expect(schema.status).toBe(200);
    expect(schema.body).toEqual({ data: { __schema: { queryType: { name: "Query" } } } });

    const type = await post(server.url, { query: `{ __type(name: "Agent") { name } }` });
    expect(type.body).toEqual({ data: { __type: { name: "Agent" } } });

    const registered = await post(server.url, { query: REGISTER, variables: { input: { name: "newcomer" } } });
    expect(registered.status).toBe(200);
    expect(registered.body.errors).toBeUndefined();
    expect(registered.body.data).toMatchObject({ registerAgent: { token: expect.stringMatching(/^ahq_/), agent: { name: "newcomer" } } });
  });
});

// ---------------------------------------------------------------------------------

describe("rate limits (30 points a minute per agent, 10 per address)", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await startServer({ RATE_LIMIT_PER_MINUTE: "30", RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10" });
  });
  afterAll(() => limited.close());

  /** An agent registered directly through the service, so no address budget is spent. */
  async function agentOn(name: string): Promise<string> {
    const { token } = await limited.app.services.agents.register({ name });
    return token;
  }
  const ME = { query: `{ me { name } }` };
  // A mutation with no lasting effect: marks nothing read.
  const MARK = { query: `mutation { markRead(ids: []) }` };

  function expectRateLimited(answer: Answer, maxSeconds: number) {
    expect(answer.status).toBe(429);
    expect(codeOf(answer)).toBe("RATE_LIMITED");
    expect(answer.body.data ?? null).toBeNull();
    const retry = answer.body.errors![0]!.extensions!.retryAfterSeconds;
    expect(Number.isInteger(retry)).toBe(true);
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(maxSeconds);
    expect(answer.headers.get("retry-after")).toBe(String(retry));
    return retry as number;
  }

  /**
   * Runs one-field queries until one is refused: how many passed, the refusal, and the
   * seconds since `since`. The bucket refills 0.5 points a second, so a slow machine may
   * let a few more through: the counts below allow for it.
   */
  async function drain(token: string, since: number) {
    let passed = 0;
    for (;;) {
      const answer = await post(limited.url, ME, { token });
      if (answer.body.errors) return { passed, refusal: answer, seconds: (Date.now() - since) / 1000 };
      passed++;
      if (passed > 40) throw new Error("never refused");
    }
  }
  const refill = (seconds: number) => Math.floor(seconds * 0.5);

  it("charges a query 1 and a mutation 5 per root field, then refuses with RATE_LIMITED, 429 and Retry-After", async () => {
    const token = await agentOn("spender");
    const since = Date.now();
    // 5 mutations: 25 of the 30 points.
    for (let i = 0; i < 5; i++) {
      const answer = await post(limited.url, MARK, { token });
      expect(answer.body.errors, `mutation ${i + 1}`).toBeUndefined();
    }
    // 5 one-point queries are left (were a mutation 1 point, 25 would be).
    const { passed, refusal, seconds } = await drain(token, since);
    expect(passed).toBeGreaterThanOrEqual(5);
    expect(passed).toBeLessThanOrEqual(5 + refill(seconds));
    // Less than a point is left: a query (1 point) waits at most 2 s, a mutation (5
    // points) over 8 s.
    expect(expectRateLimited(refusal, 2)).toBeLessThanOrEqual(2);
    const mutation = expectRateLimited(await post(limited.url, MARK, { token }), 10);
    expect(mutation).toBeGreaterThanOrEqual(9);
    expect(messageOf(refusal)).toMatch(/rate limit/i);
    expect(messageOf(refusal)).toContain("spender");
  });

  it("charges per root field: three query fields cost 3, two mutation fields cost 10", async () => {
    const token = await agentOn("multi");
    const since = Date.now();
    const THREE = { query: `{ a: me { name } b: me { name } c: me { name } }` };
    // 2 mutation fields (10) + 6 three-field queries (18) = 28 points; 2 are left.
    expect((await post(limited.url, { query: `mutation { a: markRead(ids: []) b: markRead(ids: []) }` }, { token })).body.errors).toBeUndefined();
    for (let i = 0; i < 6; i++) expect((await post(limited.url, THREE, { token })).body.errors, `query ${i + 1}`).toBeUndefined();
    const { passed, refusal, seconds } = await drain(token, since);
    expect(passed).toBeGreaterThanOrEqual(2);
    expect(passed).toBeLessThanOrEqual(2 + refill(seconds));
    expectRateLimited(refusal, 2);
    // A three-field query needs 3 points: it waits longer than a one-field one.
    const three = expectRateLimited(await post(limited.url, THREE, { token }), 6);
    expect(three).toBeGreaterThanOrEqual(5);
  });

  it("leaves another agent unaffected", async () => {
    const greedy = await agentOn("greedy");
    const modest = await agentOn("modest");
    for (let i = 0; i < 6; i++) await post(limited.url, MARK, { token: greedy });
    expectRateLimited(await post(limited.url, ME, { token: greedy }), 2);
    for (let i = 0; i < 10; i++) {
      const answer = await post(limited.url, ME, { token: modest });
      expect(answer.status).toBe(200);
      expect(answer.body.data).toEqual({ me: { name: "modest" } });
    }
  });

  it("spends the address's budget on anonymous registrations and bad tokens, then refuses them", async () => {
    const bad = `ahq_${"x".repeat(43)}`;
    // 10 points: five bad tokens (1 each) and one registration (5).
    for (let i = 0; i < 5; i++) {
      const answer = await post(limited.url, ME, { token: bad });
      expect(answer.status, `bad token ${i + 1}`).toBe(401);
      expect(codeOf(answer)).toBe("UNAUTHENTICATED");
    }
    const first = await post(limited.url, { query: REGISTER, variables: { input: { name: "anon-1" } } });
    expect(first.body.errors).toBeUndefined();
    const registered = first.body.data as { registerAgent: { token: string } };

    // The bucket refills 10 points a minute: a registration (5) waits about 30 s, a
    // bad token or an anonymous query (1) about 6 s.
    const second = await post(limited.url, { query: REGISTER, variables: { input: { name: "anon-2" } } });
    expect(expectRateLimited(second, 30)).toBeGreaterThanOrEqual(25);
    expect(messageOf(second)).toMatch(/address/);
    expectRateLimited(await post(limited.url, ME, { token: bad }), 6);
    expectRateLimited(await post(limited.url, { query: `{ __typename }` }), 6);
    expect(await limited.app.services.db.reader.agent.count({ where: { name: "anon-2" } })).toBe(0);

    // The agent registered from that address has its own budget.
    const me = await post(limited.url, ME, { token: registered.registerAgent.token });
    expect(me.body.data).toEqual({ me: { name: "anon-1" } });

    // Another address has its own budget.
    const elsewhere = await postFrom("127.0.0.2", limited.url, { query: REGISTER, variables: { input: { name: "anon-3" } } });
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.errors).toBeUndefined();
    const badElsewhere = await postFrom("127.0.0.2", limited.url, ME, bad);
    expect(badElsewhere.status).toBe(401);
    expect(badElsewhere.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });
});

// ---------------------------------------------------------------------------------

describe("query limits", () => {
  /** A query `depth` fields deep (task.team.task.team… then id). */
  function deepQuery(depth: number): string {
    let inner = "id";
    for (let level = depth - 1; level >= 2; level--) inner = level % 2 === 0 ? `team { ${inner} }` : `task(number: 1) { ${inner} }`;
    return `{ task(id: "00000000-0000-0000-0000-000000000000") { ${inner} } }`;
  }

  it("refuses a query deeper than 12 with QUERY_TOO_DEEP, saying the limit", async () => {
    const deep = await post(server.url, { query: deepQuery(13) }, { token: agent.token });
    expect(codeOf(deep)).toBe("QUERY_TOO_DEEP");
    expect(messageOf(deep)).toMatch(/limit is 12\b/);
    expect(deep.body.data ?? null).toBeNull();
    // 12 levels are allowed: the query runs (and finds no such task).
    const ok = await post(server.url, { query: deepQuery(12) }, { token: agent.token });
    expect(codeOf(ok)).toBe("NOT_FOUND");
  });

  it("refuses a query costing over 10,000 with QUERY_TOO_COMPLEX, saying the limit", async () => {
    const query = `{ teams(first: 100) { edges { node { tasks(first: 100) { edges { node { id title } } } } } } }`;
    const answer = await post(server.url, { query }, { token: agent.token });
    expect(codeOf(answer)).toBe("QUERY_TOO_COMPLEX");
    expect(messageOf(answer)).toMatch(/limit is 10,?000\b/);
    expect(answer.body.data ?? null).toBeNull();
    // A page of 100 tasks with a few fields is within the limit.
    const fine = await post(server.url, { query: `query($t: ID!) { team(id: $t) { tasks(first: 100) { edges { node { id title assignee { name } } } } } }`, variables: { t: teamId } }, { token: agent.token });
    expect(fine.body.errors).toBeUndefined();
  });

  it("judges a document's cost for its variables each time: a cost once within the limit is no pass for bigger pages", async () => {
    // The server remembers costs found within the limits (limits.ts, useKnownCosts).
    const query = `query($n: Int!) { teams(first: $n) { edges { node { tasks(first: $n) { edges { node { id title } } } } } } }`;
    for (let round = 0; round < 2; round++) {
      const small = await post(server.url, { query, variables: { n: 10 } }, { token: agent.token });
      expect(small.body.errors).toBeUndefined();
      const big = await post(server.url, { query, variables: { n: 100 } }, { token: agent.token });
      expect(codeOf(big)).toBe("QUERY_TOO_COMPLEX");
      expect(big.body.data ?? null).toBeNull();
    }
  });

  it("judges a mutation's cost again whenever its page size changes, whatever its other variables", async () => {
    // Costs are remembered by the variables given to first and last (useKnownCosts): a
    // mutation's input differs every time, and must not hide a bigger page.
    const renamed = `mutation($t: ID!, $d: String, $n: Int!) { updateTeam(teamId: $t, input: { description: $d }) { tasks(first: $n) { edges { node { blockedBy { blocker { blockedBy { blocker { id } } } } } } } } }`;
    for (let round = 0; round < 2; round++) {
      const small = await post(server.url, { query: renamed, variables: { t: teamId, d: `round ${round}`, n: 1 } }, { token: agent.token });
      expect(small.body.errors).toBeUndefined();
      const big = await post(server.url, { query: renamed, variables: { t: teamId, d: `round ${round} again`, n: 100 } }, { token: agent.token });
      expect(codeOf(big)).toBe("QUERY_TOO_COMPLEX");
      expect(big.body.data ?? null).toBeNull();
    }
    // A refused mutation changed nothing.
    const team = await post(server.url, { query: `query($t: ID!) { team(id: $t) { description } }`, variables: { t: teamId } }, { token: agent.token });
    expect((team.body.data as { team: { description: string } }).team.description).toBe("round 1");
  });

  it("refuses 16 aliases with TOO_MANY_ALIASES, saying the limit; 15 pass", async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { name }`).join(" ")} }`;
    const answer = await post(server.url, { query: aliases(16) }, { token: agent.token });
    expect(codeOf(answer)).toBe("TOO_MANY_ALIASES");
    expect(messageOf(answer)).toMatch(/\b15\b/);
    expect(answer.body.data ?? null).toBeNull();
    expect((await post(server.url, { query: aliases(15) }, { token: agent.token })).body.errors).toBeUndefined();
  });

  // Each alias is one more field executed, whatever it names.
  it("counts aliases of __typename too: 16 or 400 are refused with TOO_MANY_ALIASES, with or without a token", async () => {
    const aliases = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(" ")} }`;
    for (const [n, token] of [[16, agent.token], [400, agent.token], [400, undefined]] as const) {
      const answer = await post(server.url, { query: aliases(n) }, { token });
      expect(codeOf(answer), `${n} aliases`).toBe("TOO_MANY_ALIASES");
      expect(messageOf(answer)).toMatch(new RegExp(`limit of 15 exceeded, found ${n}\\b`));
      expect(answer.body.data ?? null).toBeNull();
    }
    // Aliases inside a fragment count where it is spread.
    const spread = await post(server.url, { query: `{ ...F } fragment F on Query { ${Array.from({ length: 16 }, (_, i) => `t${i}: __typename`).join(" ")} }` }, { token: agent.token });
    expect(codeOf(spread)).toBe("TOO_MANY_ALIASES");
    // 900 are over the field limit, checked first.
    expect(codeOf(await post(server.url, { query: aliases(900) }))).toBe("TOO_MANY_FIELDS");
    const fifteen = await post(server.url, { query: aliases(15) });
    expect(fifteen.body.errors).toBeUndefined();
    expect(Object.keys(fifteen.body.data ?? {})).toHaveLength(15);
  });

  const repeated = (n: number, field: string) => `{ ${Array.from({ length: n }, () => field).join(" ")} }`;
  it("refuses more than 500 fields with TOO_MANY_FIELDS, saying the limit, before graphql-js gives up validating them", async () => {
    for (const [query, fields] of [
      [repeated(1_600, "__typename"), 1_600],
      [repeated(700, "me { id }"), 1_400],
      [repeated(501, "__typename"), 501],
      // Fields in fragments and on several operations count too: the whole document is validated.
      [`query A { ...F } query B { me { ...G } } fragment F on Query { ${"__typename ".repeat(300)}} fragment G on Agent { ${"id ".repeat(200)}}`, 501],
    ] as const) {
      const answer = await post(server.url, { query, operationName: query.startsWith("query A") ? "A" : undefined }, { token: agent.token });
      expect(answer.body.errors, query.slice(0, 60)).toHaveLength(1);
      expect(codeOf(answer)).toBe("TOO_MANY_FIELDS");
      expect(messageOf(answer)).toBe(`the query selects ${fields} fields; the limit is 500 (select each field once, or split the query)`);
      expect(answer.body.data ?? null).toBeNull();
    }
    // Without a token too: validation comes before authentication.
    expect(codeOf(await post(server.url, { query: repeated(1_600, "__typename") }))).toBe("TOO_MANY_FIELDS");
    // 500 pass.
    expect((await post(server.url, { query: repeated(500, "__typename") })).body).toEqual({ data: { __typename: "Query" } });
    const meIds = await post(server.url, { query: repeated(250, "me { id }") }, { token: agent.token });
    expect(meIds.body).toEqual({ data: { me: { id: agent.id } } });
  });

  it("lets GraphiQL's introspection query and its example tab through every limit", async () => {
    const introspection = getIntrospectionQuery({ descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true });
    const schema = await post(server.url, { query: introspection }, { token: agent.token });
    expect(schema.body.errors).toBeUndefined();
    expect(schema.body.data).toHaveProperty("__schema.queryType.name", "Query");
    const me = await post(server.url, { query: exampleOperations, operationName: "Me" }, { token: agent.token });
    expect(me.body.errors).toBeUndefined();
    expect(me.body.data).toHaveProperty("me.name", agent.name);
  });

  it("refuses 51 directives with TOO_MANY_DIRECTIVES, saying the limit; 50 pass", async () => {
    const directives = (n: number) => `{ ${Array.from({ length: n }, () => `__typename @include(if: true)`).join(" ")} }`;
    const answer = await post(server.url, { query: directives(51) }, { token: agent.token });
    expect(codeOf(answer)).toBe("TOO_MANY_DIRECTIVES");
    expect(messageOf(answer)).toMatch(/\b50\b/);
    expect(answer.body.data ?? null).toBeNull();
    expect((await post(server.url, { query: directives(50) }, { token: agent.token })).body.errors).toBeUndefined();
  });

  // Exactly n tokens: the structure and a JSON list of n − 23 numbers. (Thousands of
  // repeated fields would be over the field limit first.)
  const tokens = (n: number) => {
    const query = `mutation { setContext(scope: { private: true }, key: "tokens", value: [${Array.from({ length: n - 23 }, (_, i) => i).join(" ")}]) { version } }`;
    expect(countTokens(query)).toBe(n);
    return query;
  };
  it("refuses more than 3,000 tokens, saying the limit; 3,000 pass", async () => {
    const answer = await post(server.url, { query: tokens(3_001) }, { token: agent.token });
    expect(answer.body.errors?.length).toBe(1);
    expect(messageOf(answer)).toMatch(/Token limit of 3,?000 exceeded/);
    expect(answer.body.data ?? null).toBeNull();
    expect((await post(server.url, { query: tokens(3_000) }, { token: agent.token })).body.errors).toBeUndefined();
  });

  // Yoga stamps parse failures with a generic code; the token limit keeps its own.
  it("answers more than 3,000 tokens with the code TOO_MANY_TOKENS", async () => {
    const answer = await post(server.url, { query: tokens(3_001) }, { token: agent.token });
    expect(codeOf(answer)).toBe("TOO_MANY_TOKENS");
  });

  it("refuses a body over 1,000,000 bytes with HTTP 413 and BODY_TOO_LARGE", async () => {
    const payload = { query: `{ me { name } }`, variables: { pad: "x".repeat(1_000_001) } };
    const answer = await post(server.url, payload, { token: agent.token });
    expect(answer.status).toBe(413);
    expect(codeOf(answer)).toBe("BODY_TOO_LARGE");
    expect(messageOf(answer)).toMatch(/1000000|1,000,000/);
    // Just under the limit is read (and answered).
    const under = { query: `{ me { name } }`, variables: { pad: "" } };
    under.variables.pad = "x".repeat(1_000_000 - JSON.stringify(under).length);
    expect(JSON.stringify(under).length).toBe(1_000_000);
    const fine = await post(server.url, under, { token: agent.token });
    expect(fine.status).toBe(200);
    expect(fine.body.data).toEqual({ me: { name: "guarded" } });
  });

  // A body without a Content-Length (chunked) is refused before anything reads it.
  it("refuses a chunked body over 1,000,000 bytes (no Content-Length) too", async () => {
    const result = await chunkedPost(server.url, JSON.stringify({ query: `{ me { name } }`, variables: { pad: "x".repeat(3_000_000) } }), agent.token);
    // A refusal (413 BODY_TOO_LARGE, or 411 Length Required) or a connection cut short.
    if (result.status !== null) expect(result.status === 413 || result.status === 411, `answered ${result.status} ${result.text.slice(0, 100)}`).toBe(true);
    if (result.status === 413) expect(result.text).toContain("BODY_TOO_LARGE");
  });

  it("refuses batching (a JSON array body) without running anything", async () => {
    const before = await server.app.services.db.reader.team.count();
    const answer = await post(
      server.url,
      [{ query: `{ me { name } }` }, { query: `mutation { createTeam(input: { name: "batched", role: "lead" }) { id } }` }],
      { token: agent.token },
    );
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(Array.isArray(answer.body)).toBe(false);
    expect(answer.body.errors?.length).toBeGreaterThan(0);
    expect(answer.body.data ?? null).toBeNull();
    expect(await server.app.services.db.reader.team.count()).toBe(before);
  });

  describe("page sizes", () => {
    let lead: TestAgent;
    let board: string;
    beforeAll(async () => {
      lead = await registerAgent(server, "pager");
      board = await createTeam(lead, "big-board");
      // 105 tasks assigned to the lead (14 per request, under the alias limit), and 105 teams.
      for (let made = 0; made < 105; made += 14) {
        const n = Math.min(14, 105 - made);
        const fields = Array.from({ length: n }, (_, i) => `t${i}: createTask(teamId: $t, input: { title: "task ${made + i}", assignee: "pager" }) { id }`);
        await lead.ok(`mutation($t: ID!) { ${fields.join(" ")} }`, { t: board });
      }
      for (let made = 1; made < 105; made += 14) {
        const n = Math.min(14, 105 - made);
        const fields = Array.from({ length: n }, (_, i) => `t${i}: createTeam(input: { name: "team-${made + i}", role: "lead" }) { id }`);
        await lead.ok(`mutation { ${fields.join(" ")} }`);
      }
    });

    const count = (answer: Answer, path: string[]) => {
      let value: unknown = answer.body.data;
      for (const key of path) value = (value as Record<string, unknown> | null)?.[key];
      return (value as unknown[] | undefined)?.length;
    };

    it.each([101, 150, 1000])("clamps a task page of first: %i to 100 nodes", async (first) => {
      const answer = await post(server.url, { query: `query($t: ID!, $n: Int) { team(id: $t) { tasks(first: $n) { edges { node { id } } pageInfo { hasNextPage } } } }`, variables: { t: board, n: first } }, { token: lead.token });
      if (answer.body.errors) {
        expect(codeOf(answer)).toMatch(/BAD_USER_INPUT|QUERY_TOO_COMPLEX/);
        expect(answer.body.data?.team ?? null).toBeNull();
        return;
      }
      expect(count(answer, ["team", "tasks", "edges"])).toBe(100);
      expect((answer.body.data as { team: { tasks: { pageInfo: { hasNextPage: boolean } } } }).team.tasks.pageInfo.hasNextPage).toBe(true);
    });

    it("never returns more than 100 nodes from any connection", async () => {
      const queries: [string, string[]][] = [
        [`{ teams(first: 500) { edges { node { id } } } }`, ["teams", "edges"]],
        [`{ teams(last: 500) { edges { node { id } } } }`, ["teams", "edges"]],
        [`{ myTasks(first: 500) { edges { node { id } } } }`, ["myTasks", "edges"]],
        [`query($t: ID!) { team(id: $t) { tasks(last: 500) { edges { node { id } } } } }`, ["team", "tasks", "edges"]],
        [`query($t: ID!) { team(id: $t) { journal(first: 500) { edges { node { cursor } } } } }`, ["team", "journal", "edges"]],
      ];
      const seen: string[] = [];
      for (const [query, path] of queries) {
        const answer = await post(server.url, { query, variables: query.includes("$t") ? { t: board } : undefined }, { token: lead.token });
        const n = count(answer, path);
        seen.push(`${path.join(".")}: ${answer.body.errors ? `refused ${codeOf(answer)}` : `${n} nodes`}`);
        if (answer.body.errors) expect(codeOf(answer), query).toMatch(/BAD_USER_INPUT|QUERY_TOO_COMPLEX/);
        else expect(n, query).toBe(100);
      }
      console.log(`[page sizes over 100] ${seen.join("; ")}`);
    });

    it("refuses the journal's first: 101 with BAD_USER_INPUT naming the field", async () => {
      const answer = await post(server.url, { query: `query($t: ID!) { team(id: $t) { journal(first: 101) { edges { cursor } } } }`, variables: { t: board } }, { token: lead.token });
      expect(answer.body.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
      expect(messageOf(answer)).toMatch(/100/);
    });
  });
});

// ---------------------------------------------------------------------------------

describe("INTROSPECTION", () => {
  const SUGGEST = `{ mee { name } }`;

  it("is on by default: GraphiQL, introspection and field suggestions", async () => {
    const page = await fetch(server.url, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await page.text()).toMatch(/graphiql/i);
    const schema = await post(server.url, { query: `{ __schema { types { name } } }` }, { token: agent.token });
    expect(schema.body.errors).toBeUndefined();
    const suggested = await post(server.url, { query: SUGGEST }, { token: agent.token });
    expect(messageOf(suggested)).toMatch(/Did you mean "me"\?/);
  });

  describe('set to "false"', () => {
    let closed: TestServer;
    let token: string;
    beforeAll(async () => {
      closed = await startServer({ INTROSPECTION: "false" });
      token = (await registerAgent(closed, "prod")).token;
    });
    afterAll(() => closed.close());

    it("does not serve GraphiQL", async () => {
      const page = await fetch(closed.url, { headers: { accept: "text/html" } });
      const text = await page.text();
      bodies.push(text);
      expect(page.headers.get("content-type") ?? "").not.toMatch(/^text\/html/);
      expect(text).not.toMatch(/graphiql/i);
      expect(text).not.toContain("<html");
    });

    it.each([
      ["__schema", `{ __schema { queryType { name } } }`],
      ["__type", `{ __type(name: "Agent") { name fields { name } } }`],
      ["the full introspection query", `query IntrospectionQuery { __schema { types { name kind fields { name } } directives { name } } }`],
    ])("refuses %s, with and without a token", async (_name, query) => {
      for (const t of [token, undefined]) {
        const answer = await post(closed.url, { query }, { token: t });
        expect(answer.body.errors?.length, String(t)).toBeGreaterThan(0);
        expect(answer.body.data ?? null).toBeNull();
        expect(answer.text).not.toContain('"Agent"');
        expect(messageOf(answer)).toMatch(/introspection/i);
      }
    });

    it("still answers { __typename } and registers agents", async () => {
      expect((await post(closed.url, { query: `{ __typename }` })).body).toEqual({ data: { __typename: "Query" } });
      const registered = await post(closed.url, { query: REGISTER, variables: { input: { name: "prod-2" } } });
      expect(registered.body.errors).toBeUndefined();
    });

    it("hides field suggestions in validation errors", async () => {
      for (const query of [SUGGEST, `{ me { nam } }`, `mutation { registerAgen(input: { name: "x" }) { token } }`]) {
        const answer = await post(closed.url, { query }, { token });
        expect(answer.body.errors?.length, query).toBeGreaterThan(0);
        expect(codeOf(answer)).toBe("GRAPHQL_VALIDATION_FAILED");
        expect(answer.text, query).not.toMatch(/did you mean/i);
      }
      // The same mistake on the default server gets a suggestion.
      expect(messageOf(await post(server.url, { query: `{ me { nam } }` }, { token: agent.token }))).toMatch(/Did you mean "name"\?/);
    });
  });
});

// ---------------------------------------------------------------------------------

describe("error masking", () => {
  it("answers malformed and hostile requests without a stack trace", async () => {
    const t = agent.token;
    const probes: [unknown, string | undefined][] = [
      [`{"query": "{ me { name } }"`, t],
      [{ query: `{ me { name ` }, t],
      [{ query: `{ task(id: "'; DROP TABLE task; --") { id } }` }, t],
      [{ query: `{ teams(after: "not-a-cursor") { edges { cursor } } }` }, t],
      [{ query: `{ teams(first: -5) { edges { cursor } } }` }, t],
      [{ query: `{ teams(first: 10, last: 10, before: "x", after: "y") { edges { cursor } } }` }, t],
      [{ query: `query($n: Int) { teams(first: $n) { edges { cursor } } }`, variables: { n: "ten" } }, t],
      [{ query: `query($n: Int) { teams(first: $n) { edges { cursor } } }`, variables: { n: 2 ** 40 } }, t],
      [{ query: `query($t: ID!) { team(id: $t) { journal(after: -1) { edges { cursor } } } }`, variables: { t: teamId } }, t],
      [{ query: `mutation { setContext(scope: { teamId: "${teamId}", private: true }, key: "k", value: 1) { version } }` }, t],
      [{ query: `mutation { setContext(scope: { teamId: "${teamId}" }, key: "${"k".repeat(5000)}", value: { deep: [[[[[[1]]]]]] }) { version } }` }, t],
      [{ query: `{ me { name } }`, operationName: "Nope" }, t],
      [{ query: `query A { me { name } } query B { me { name } }` }, t],
      [{ query: `{ me { name } }` }, "ahq_bogus"],
      [{ query: `subscription { teamEvents(teamId: "nope") { cursor } }` }, t],
    ];
    for (const [payload, token] of probes) {
      const answer = await post(server.url, payload, { token });
      expect(answer.status, JSON.stringify(payload).slice(0, 120)).toBeLessThan(500);
      expect(answer.body.errors?.length, JSON.stringify(payload).slice(0, 120)).toBeGreaterThan(0);
    }
  });

  // Long list filters are deduplicated or bounded, never an internal error.
  it("answers over-long list filters with a result or BAD_USER_INPUT, never an internal error", async () => {
    const statuses = await post(server.url, { query: `query($s: [TaskStatus!]) { myTasks(filter: { status: $s }) { edges { cursor } } }`, variables: { s: Array(2_000).fill("PENDING") } }, { token: agent.token });
    expect(codeOf(statuses) ?? "ok").toMatch(/^(ok|BAD_USER_INPUT)$/);
    const kinds = await post(server.url, { query: `query($t: ID!, $k: [String!]) { team(id: $t) { journal(kinds: $k) { edges { cursor } } } }`, variables: { t: teamId, k: Array.from({ length: 2_000 }, (_, i) => `kind.${i}`) } }, { token: agent.token });
    expect(codeOf(kinds) ?? "ok").toMatch(/^(ok|BAD_USER_INPUT)$/);
  });

  it("no response in this file carried a stack trace or internals", () => {
    expect(bodies.length).toBeGreaterThan(50);
    for (const body of bodies) {
      expect(body).not.toMatch(/\n\s+at \S+ \(|\bat .+\.(ts|js|mjs|cjs):\d+:\d+/);
      expect(body).not.toMatch(/"stack(trace)?"\s*:/i);
      // Yoga describes a JSON syntax error by its name and message only.
      const parsed = (() => {
        try {
          return JSON.parse(body) as GqlResult;
        } catch {
          return null;
        }
      })();
      for (const error of parsed?.errors ?? []) {
        const original = error.extensions?.originalError as object | undefined;
        if (original !== undefined) expect(Object.keys(original).sort()).toEqual(["message", "name"]);
      }
      expect(body).not.toMatch(/node_modules|\/work\/|prisma\.|PrismaClient/i);
    }
  });
});
