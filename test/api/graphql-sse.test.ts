// graphql-sse's client in both its modes, as agent code would use it: "single connection"
// (one stream for every operation, at /graphql/stream) and "distinct connections" (one
// stream per operation, at /graphql/stream and at /graphql), with the same bearer token,
// the same refusals and the same live subscriptions as every other transport.
import { createClient, type Client, type ExecutionResult } from "graphql-sse";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let agent: TestAgent;
beforeAll(async () => {
  server = await startServer();
  agent = await registerAgent(server, "streamer");
});
afterAll(() => server.close());

type Mode = { name: string; singleConnection: boolean; path: string };
const modes: Mode[] = [
  { name: "single connection at /graphql/stream", singleConnection: true, path: "/stream" },
  { name: "distinct connections at /graphql/stream", singleConnection: false, path: "/stream" },
  { name: "distinct connections at /graphql", singleConnection: false, path: "" },
];

/**
 * A client of `mode` with `token` (or none), the requests it sent (method and path), and
 * the bodies of the refusals it was answered (the client reports only their status).
 */
function clientOf(mode: Mode, token: string | null): { client: Client; sent: string[]; refusals: string[] } {
  const sent: string[] = [];
  const refusals: string[] = [];
  const client = createClient({
    url: `${server.url}${mode.path}`,
    singleConnection: mode.singleConnection,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    fetchFn: async (input: string | URL | Request, init?: RequestInit) => {
      sent.push(`${init?.method ?? "GET"} ${new URL(String(input)).pathname}`);
      const response = await fetch(input, init);
      // Read before the client sees it: it aborts the request on a refusal.
      if (!response.ok) refusals.push(await response.clone().text());
      return response;
    },
  } as Parameters<typeof createClient>[0]);
  return { client, sent, refusals };
}

/** Runs one operation to its end: its results, or the error the client reports. */
function run(client: Client, query: string, variables?: Record<string, unknown>): Promise<ExecutionResult[] | { error: unknown }> {
  const results: ExecutionResult[] = [];
  return new Promise((resolve) =>
    client.subscribe({ query, variables }, { next: (r) => results.push(r as ExecutionResult), error: (error) => resolve({ error }), complete: () => resolve(results) }),
  );
}

describe.each(modes)("graphql-sse, $name", (mode) => {
  it("answers queries and mutations as the token's agent, and streams a subscription live", async () => {
    const teamId = await createTeam(agent, `streams-${modes.indexOf(mode)}`);
    const { client, sent } = clientOf(mode, agent.token);
    try {
      // A subscription: the replay first, then what happens while it is open. The other
      // operations go while it is open (a single connection carries them all).
      const events = client.iterate<{ teamEvents: { kind: string; payload: { title?: string } } }>({
        query: `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { kind payload } }`,
        variables: { t: teamId },
      });
      const first = await events.next();
      expect(first.value?.data?.teamEvents.kind).toMatch(/^team\./);
      expect(await run(client, `{ me { name } }`)).toEqual([{ data: { me: { name: "streamer" } } }]);
      const title = `live over ${mode.name}`;
      const created = await run(client, `mutation($t: ID!, $title: String!) { createTask(teamId: $t, input: { title: $title }) { id } }`, { t: teamId, title });
      expect((created as ExecutionResult[])[0]?.errors).toBeUndefined();
      for (;;) {
        const next = await events.next();
        expect(next.done).toBe(false);
        if (next.value?.data?.teamEvents.kind === "task.created") {
          expect(next.value.data.teamEvents.payload.title).toBe(title);
          break;
        }
      }
      await events.return?.();
    } finally {
      client.dispose();
    }
    if (mode.singleConnection) {
      // One stream reserved and opened; every operation posted onto it.
      expect(sent.filter((s) => s.startsWith("PUT"))).toHaveLength(1);
      expect(sent.filter((s) => s.startsWith("GET"))).toHaveLength(1);
      expect(sent.filter((s) => s.startsWith("POST")).length).toBeGreaterThanOrEqual(3);
    } else {
      expect(sent.every((s) => s.startsWith("POST") || s.startsWith("DELETE"))).toBe(true);
    }
  });

  it("refuses an unknown token, or none where one is needed, with 401 UNAUTHENTICATED", async () => {
    for (const token of [`ahq_${"Z".repeat(43)}`, null]) {
      const { client, refusals } = clientOf(mode, token);
      try {
        const refused = (await run(client, `{ me { name } }`)) as { error: { response?: Response } };
        expect(refused.error?.response?.status).toBe(401);
        expect(refusals).toHaveLength(1);
        // Over graphql-sse's protocol a JSON error; Yoga at /graphql answers it as an event.
        expect(refusals[0]).toMatch(/"code":"UNAUTHENTICATED"/);
      } finally {
        client.dispose();
      }
    }
  });

  it("answers a query that does not validate with its errors and their code", async () => {
    const { client, refusals } = clientOf(mode, agent.token);
    try {
      const answer = await run(client, `{ me { name } nope }`);
      const errors = "error" in answer ? (JSON.parse(refusals[0]!) as ExecutionResult).errors : answer[0]?.errors;
      expect(errors?.[0]).toMatchObject({ message: expect.stringContaining("nope"), extensions: { code: "GRAPHQL_VALIDATION_FAILED" } });
    } finally {
      client.dispose();
    }
  });
});
