// A revoked or rotated-away token stops receiving: its live streams end with
// UNAUTHENTICATED (graphql-ws then closes the socket with 4403), on this instance and on
// every other one.
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, subscribe, type GqlResult, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
/** A second instance on the same database: it learns of revocations from the journal only. */
let other: TestServer;
beforeAll(async () => {
  // Tokens are remembered for a minute: the streams below must end through the journal's
  // revocation rows, not because a cached token ran out.
  server = await startServer({ TOKEN_CACHE_MS: "60000" });
  other = await startServer({ DATABASE_URL: server.databaseUrl, TOKEN_CACHE_MS: "60000" });
});
afterAll(async () => {
  await other?.close();
  await server?.close();
});

const TEAM_EVENTS = `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor kind } }`;
const UPDATE = `mutation($t: ID!, $d: String) { updateTeam(teamId: $t, input: { description: $d }) { id } }`;

/** What a live stream received, how it ended, and (graphql-ws) how its socket closed. */
interface Watched {
  events: GqlResult[];
  ended: Promise<{ errors: { message: string; extensions?: { code?: string } }[] | null; closeCode?: number }>;
  close(): Promise<void>;
}

function watchWs(target: TestServer, token: string, teamId: string): Watched {
  const events: GqlResult[] = [];
  let closeCode: number | undefined;
  let closed!: () => void;
  const socketClosed = new Promise<void>((resolve) => (closed = resolve));
  const client = createClient({
    url: target.wsUrl,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => {}, // the close is asserted below
    connectionParams: { authorization: `Bearer ${token}` },
    on: {
      closed: (event) => {
        closeCode = (event as { code?: number }).code;
        closed();
      },
    },
  });
  const ended = new Promise<{ errors: Watched["events"][number]["errors"] | null }>((resolve) => {
    client.subscribe({ query: TEAM_EVENTS, variables: { t: teamId } }, {
      next: (r) => void events.push(r as GqlResult),
      error: (e) => resolve({ errors: Array.isArray(e) ? e : [{ message: String(e) }] }),
      complete: () => resolve({ errors: null }),
    });
  });
  return {
    events,
    ended: ended.then(async (end) => {
      await socketClosed;
      return { errors: end.errors as never, closeCode };
    }),
    close: () => client.dispose() as Promise<void>,
  };
}

function watchSse(target: TestServer, token: string, teamId: string): Watched {
  const sub = subscribe("sse", target, token, TEAM_EVENTS, { t: teamId });
  const events: GqlResult[] = [];
  const ended = (async () => {
    for (;;) {
      const result = await sub.next(60_000).catch(() => null);
      if (!result) return { errors: null };
      if (result.errors) return { errors: result.errors };
      events.push(result);
    }
  })();
  return { events, ended: ended as Watched["ended"], close: () => sub.close() };
}

const watch = { ws: watchWs, sse: watchSse };

/** Waits until `watched` has received the event with `cursor`. */
async function received(watched: Watched, cursor: number): Promise<void> {
  for (let i = 0; i < 2000 && !watched.events.some((e) => e.data?.teamEvents.cursor === cursor); i++) await new Promise((r) => setTimeout(r, 10));
  expect(watched.events.map((e) => e.data?.teamEvents.cursor)).toContain(cursor);
}

async function lastCursor(teamId: string): Promise<number> {
  const row = await server.app.services.db.reader.journalEvent.findFirst({ where: { teamId }, orderBy: { id: "desc" } });
  return row!.id;
}

async function setup(prefix: string): Promise<{ lead: TestAgent; member: TestAgent; teamId: string }> {
  const lead = await registerAgent(server, `${prefix}-lead`);
  const member = await registerAgent(server, `${prefix}-member`);
  const teamId = await createTeam(lead, prefix, [[member, "worker"]]);
  return { lead, member, teamId };
}

describe.each(["ws", "sse"] as const)("a revoked token's live streams over %s", (transport) => {
  it.each([
    ["revoked", "mutation { revokeToken { id } }"],
    ["rotated away", "mutation { rotateToken { token } }"],
  ])("end with UNAUTHENTICATED once the token is %s, and receive nothing after", async (how, mutation) => {
    const { lead, member, teamId } = await setup(`${transport}-${how.replace(" ", "-")}`);
    const stream = watch[transport](server, member.token, teamId);
    try {
      await lead.ok(UPDATE, { t: teamId, d: "before" });
      await received(stream, await lastCursor(teamId));
      await member.ok(mutation);
      // The team keeps changing: none of it may reach the revoked token.
      const revokedAt = await lastCursor(teamId);
      const writer = (async () => {
        for (let i = 0; i < 5; i++) await lead.ok(UPDATE, { t: teamId, d: `after ${i}` });
      })();
      const end = await stream.ended;
      await writer;
      expect(end.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(end.errors?.[0]?.message).toMatch(/revoked/);
      if (transport === "ws") expect(end.closeCode).toBe(4403);
      for (const event of stream.events) expect(event.data!.teamEvents.cursor).toBeLessThanOrEqual(revokedAt);
    } finally {
      await stream.close();
    }
  });
});

describe("revocation across instances", () => {
  it.each(["ws", "sse"] as const)("a token revoked on one instance ends its %s stream on another", async (transport) => {
    const { lead, member, teamId } = await setup(`across-${transport}`);
    const stream = watch[transport](other, member.token, teamId);
    try {
      await lead.ok(UPDATE, { t: teamId, d: "before" });
      await received(stream, await lastCursor(teamId));
      await member.ok("mutation { revokeToken { id } }");
      const end = await stream.ended;
      expect(end.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      if (transport === "ws") expect(end.closeCode).toBe(4403);
    } finally {
      await stream.close();
    }
  });

  it("a stream opened with a token revoked elsewhere, while still remembered here, ends at once", async () => {
    const { member, teamId } = await setup("remembered");
    await member.ok(`{ me { id } }`); // now in this instance's token cache (TOKEN_CACHE_MS: 60 s here)
    await gqlOn(other, `mutation { revokeToken { id } }`, member.token);
    const late = watchWs(server, member.token, teamId);
    const end = await late.ended;
    expect(end.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(end.closeCode).toBe(4403);
    await late.close();
  });
});

async function gqlOn(target: TestServer, query: string, token: string): Promise<GqlResult> {
  const response = await fetch(target.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  const result = (await response.json()) as GqlResult;
  expect(result.errors).toBeUndefined();
  return result;
}
