// People are principals of their own kind: registered with the server's key (so no agent
// can register as one), and shown as human wherever what they write is read.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, gql, registerAgent, TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

const KEY = "humans-test-key";
let open: TestServer;
let keyed: TestServer;
beforeAll(async () => {
  open = await startServer();
  keyed = await startServer({ AGENT_HQ_REGISTRATION_KEY: KEY });
});
afterAll(async () => {
  await open?.close();
  await keyed?.close();
});

const REGISTER = `mutation($input: RegisterAgentInput!) { registerAgent(input: $input) { token agent { id name kind } } }`;

async function register(server: TestServer, name: string, kind: "AGENT" | "HUMAN"): Promise<TestAgent> {
  const result = await gql(server.url, REGISTER, { input: { name, kind, registrationKey: KEY } });
  if (result.errors) throw new Error(JSON.stringify(result.errors));
  expect(result.data.registerAgent.agent.kind).toBe(kind);
  return new TestAgent(server, name, result.data.registerAgent.token, result.data.registerAgent.agent.id);
}

describe("human principals", () => {
  it("cannot be registered on a server without a registration key, so no agent can pose as one", async () => {
    const result = await gql(open.url, REGISTER, { input: { name: "pretender", kind: "HUMAN" } });
    expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(result.errors?.[0]?.message).toMatch(/AGENT_HQ_REGISTRATION_KEY/);
    // An agent registered without a kind is an agent.
    const agent = await registerAgent(open, "plain-agent");
    expect((await agent.ok(`{ me { kind } }`)).me.kind).toBe("AGENT");
  });

  it("are shown as human in events, the board and the answers that name them", async () => {
    const person = await register(keyed, "alice", "HUMAN");
    const bot = await register(keyed, "bot-1", "AGENT");
    expect((await person.ok(`{ me { kind } }`)).me.kind).toBe("HUMAN");
    const teamId = await createTeam(person, "ops", [[bot, "worker"]]);
    const inbox = bot.subscribe("sse", `subscription { inboxEvents(after: 0) { kind actor { name kind } } }`);
    await person.ok(`mutation($t: ID!) { broadcast(teamId: $t, message: { body: "from a person" }) { id } }`, { t: teamId });
    const event = (await inbox.next()).data.inboxEvents;
    await inbox.close();
    expect(event).toMatchObject({ kind: "message.received", actor: { name: "alice", kind: "HUMAN" } });
    const message = await bot.ok(`{ inbox { edges { node { message { sender { name kind } } } } } }`);
    expect(message.inbox.edges[0].node.message.sender).toEqual({ name: "alice", kind: "HUMAN" });
    await person.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "Review the plan", assignee: "alice" }) { id } }`, { t: teamId });
    const { team } = await bot.ok(`query($t: ID!) { team(id: $t) { board } }`, { t: teamId });
    expect(team.board).toBe("#1 [pending] Review the plan (alice [human])");
  });
});
