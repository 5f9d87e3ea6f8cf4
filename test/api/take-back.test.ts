// A team's lead takes back a claim held by an agent that went silent: the task is ready
// again, the holder is told, its old claim token stops working, the journal names the lead.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let silent: TestAgent;
let other: TestAgent;
let teamId: string;
beforeAll(async () => {
  server = await startServer();
  lead = await registerAgent(server, "tb-lead");
  silent = await registerAgent(server, "tb-silent");
  other = await registerAgent(server, "tb-other");
  teamId = await createTeam(lead, "take-back", [[silent, "worker"], [other, "worker"]]);
});
afterAll(() => server?.close());

const TAKE_BACK = `mutation($id: ID!) { takeBackClaim(id: $id) { number status holder { name } readiness { state } } }`;

async function claimedTask(title: string): Promise<{ id: string; token: number }> {
  const { createTask } = await lead.ok(`mutation($t: ID!, $title: String!) { createTask(teamId: $t, input: { title: $title }) { id } }`, { t: teamId, title });
  const { claimTask } = await silent.ok(`mutation($id: ID!) { claimTask(id: $id, leaseSeconds: 3600) { token } }`, { id: createTask.id });
  return { id: createTask.id, token: claimTask.token };
}

describe("takeBackClaim", () => {
  it("frees the task, tells the holder, refuses its old token and names the lead in the journal", async () => {
    const task = await claimedTask("held by a silent agent");
    const { awaitEvents } = await silent.ok(`{ awaitEvents(timeoutSeconds: 0) { cursor } }`);
    const inbox = silent.subscribe("sse", `subscription($a: Int) { inboxEvents(after: $a) { kind payload } }`, { a: awaitEvents.cursor });
    const { takeBackClaim } = await lead.ok(TAKE_BACK, { id: task.id });
    expect(takeBackClaim).toMatchObject({ status: "PENDING", holder: null, readiness: { state: "READY" } });
    const notice = (await inbox.next()).data.inboxEvents;
    await inbox.close();
    expect(notice).toMatchObject({ kind: "notice.lease_lost", payload: { reason: "taken_back" } });
    const refused = await silent.fails(`mutation($id: ID!, $c: Int) { updateTask(id: $id, input: { progress: 50, claimToken: $c }) { task { id } } }`, { id: task.id, c: task.token });
    expect(refused.code).toBe("CONFLICT");
    // Another agent may claim it at once.
    expect((await other.ok(`mutation($id: ID!) { claimTask(id: $id) { token } }`, { id: task.id })).claimTask.token).toBeGreaterThan(task.token);
    const { team } = await lead.ok(`query($t: ID!) { team(id: $t) { journal(first: 50, kinds: ["task.claim_taken_back"]) { edges { node { kind subjectId actor { name } } } } } }`, { t: teamId });
    expect(team.journal.edges.map((e: { node: unknown }) => e.node)).toEqual([{ kind: "task.claim_taken_back", subjectId: task.id, actor: { name: "tb-lead" } }]);
  });

  it("is the lead's alone, and needs a live claim", async () => {
    const task = await claimedTask("not yours to take");
    expect((await other.fails(TAKE_BACK, { id: task.id })).code).toBe("FORBIDDEN");
    await lead.ok(TAKE_BACK, { id: task.id });
    expect((await lead.fails(TAKE_BACK, { id: task.id })).code).toBe("CONFLICT");
    const stranger = await registerAgent(server, "tb-stranger");
    expect((await stranger.fails(TAKE_BACK, { id: task.id })).code).toBe("NOT_FOUND");
  });
});
