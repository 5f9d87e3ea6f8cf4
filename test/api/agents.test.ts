import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gql, registerAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id name description } } }`;
const ME = `{ me { id name description online lastSeenAt } }`;

describe("registration", () => {
  it("returns the agent and a bearer token that authenticates it", async () => {
    const result = await gql(server.url, REGISTER, { input: { name: "planner-1", description: "plans" } });
    expect(result.errors).toBeUndefined();
    const { token, agent } = result.data.registerAgent;
    expect(token).toMatch(/^ahq_[A-Za-z0-9_-]{43}$/);
    expect(agent).toMatchObject({ name: "planner-1", description: "plans" });
    const me = await gql(server.url, ME, {}, token);
    expect(me.data.me).toMatchObject({ id: agent.id, name: "planner-1" });
  });

  it("stores only a hash of the token", async () => {
    const { token } = (await gql(server.url, REGISTER, { input: { name: "hash-check" } })).data.registerAgent;
    const rows = await server.app.services.db.reader.agentToken.findMany();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.hash).not.toContain(token.slice(4));
    }
  });

  it("refuses a name that is taken with CONFLICT", async () => {
    await registerAgent(server, "twin");
    const result = await gql(server.url, REGISTER, { input: { name: "twin" } });
    expect(result.errors?.[0]?.extensions?.code).toBe("CONFLICT");
    expect(result.errors?.[0]?.message).toMatch(/already exists/);
  });

  it.each([
    ["", "empty"],
    ["a".repeat(65), "too long"],
    ["has space", "space"],
    ["-leading", "leading dash"],
    ["naïve", "non-ascii"],
  ])("refuses the name %j (%s) with BAD_USER_INPUT naming the field", async (name) => {
    const before = await server.app.services.db.reader.agent.count();
    const result = await gql(server.url, REGISTER, { input: { name } });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "name" });
    expect(await server.app.services.db.reader.agent.count()).toBe(before);
  });

  it("accepts 64 characters of letters, digits, '.', '_' and '-'", async () => {
    const name = "A1._-".repeat(12) + "abcd";
    expect(name).toHaveLength(64);
    const result = await gql(server.url, REGISTER, { input: { name } });
    expect(result.data?.registerAgent.agent.name).toBe(name);
  });
});

describe("authentication", () => {
  it("answers an operation without a token with UNAUTHENTICATED", async () => {
    const result = await gql(server.url, ME);
    expect(result.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("answers a bad token with UNAUTHENTICATED and HTTP 401", async () => {
    for (const token of ["nonsense", "ahq_" + "x".repeat(43)]) {
      const response = await fetch(server.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: ME }),
      });
      expect(response.status).toBe(401);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]!.extensions.code).toBe("UNAUTHENTICATED");
    }
  });

  it("rotates a token: the old one stops working, the new one works", async () => {
    const agent = await registerAgent(server, "rotator");
    const old = agent.token;
    const { rotateToken } = await agent.ok(`mutation { rotateToken { token } }`);
    expect(rotateToken.token).not.toBe(old);
    expect((await gql(server.url, ME, {}, old)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    agent.token = rotateToken.token;
    const { myTokens } = await agent.ok(`{ myTokens { id current revokedAt } }`);
    expect(myTokens).toHaveLength(2);
    expect(myTokens.filter((t: { current: boolean }) => t.current)).toHaveLength(1);
    expect(myTokens.filter((t: { revokedAt: string | null }) => t.revokedAt !== null)).toHaveLength(1);
  });

  it("revokes a token: it is refused from then on, on HTTP and WebSocket", async () => {
    const agent = await registerAgent(server, "revoker");
    const { revokeToken } = await agent.ok(`mutation { revokeToken { id revokedAt } }`);
    expect(revokeToken.revokedAt).not.toBeNull();
    expect((await agent.run(ME)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const sub = agent.subscribe("ws", `subscription { teamEvents(teamId: "x") { cursor } }`);
    await sub.done;
    await expect(sub.next(100)).rejects.toThrow(/4403/);
  });

  it("cannot revoke another agent's token", async () => {
    const a = await registerAgent(server, "owner-a");
    const b = await registerAgent(server, "owner-b");
    const { myTokens } = await a.ok(`{ myTokens { id } }`);
    const error = await b.fails(`mutation($id: ID) { revokeToken(id: $id) { id } }`, { id: myTokens[0].id });
    expect(error.code).toBe("NOT_FOUND");
    await a.ok(ME);
  });
});

describe("registration key", () => {
  it("is required when AGENT_HQ_REGISTRATION_KEY is set", async () => {
    const guarded = await startServer({ AGENT_HQ_REGISTRATION_KEY: "open-sesame-42" });
    try {
      const without = await gql(guarded.url, REGISTER, { input: { name: "gate-crasher" } });
      expect(without.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const wrong = await gql(guarded.url, REGISTER, { input: { name: "gate-crasher", registrationKey: "open-sesame-43" } });
      expect(wrong.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      const right = await gql(guarded.url, REGISTER, { input: { name: "invited", registrationKey: "open-sesame-42" } });
      expect(right.data?.registerAgent.agent.name).toBe("invited");
      expect(await guarded.app.services.db.reader.agent.count()).toBe(1);
    } finally {
      await guarded.close();
    }
  });
});

describe("presence", () => {
  it("is online while holding a subscription, and keeps lastSeenAt", async () => {
    const agent = await registerAgent(server, "present");
    const { createTeam } = await agent.ok(`mutation { createTeam(input: { name: "p", role: "lead" }) { id } }`);
    expect((await agent.ok(ME)).me.online).toBe(false);
    for (const transport of ["ws", "sse"] as const) {
      const sub = agent.subscribe(transport, `subscription($t: ID!) { teamEvents(teamId: $t, after: 0) { cursor } }`, { t: createTeam.id });
      await sub.next();
      const { me } = await agent.ok(ME);
      expect(me.online).toBe(true);
      expect(new Date(me.lastSeenAt).getTime()).toBeGreaterThan(Date.now() - 60_000);
      await sub.close();
      await expect.poll(async () => (await agent.ok(ME)).me.online).toBe(false);
    }
  });
});
