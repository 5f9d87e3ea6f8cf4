// Quiet logs: the real server's log (`npm start`, pino on stdout) holds at error level only
// what needs a person. An ordinary refusal through GraphQL is a debug line without a stack;
// an unexpected error is one error line with its stack and the request id the client got.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killAllInstances, startInstance, type Instance } from "../helpers/instances.js";
import { freshDatabase, sqlBehindTheServer, type TestServer } from "../helpers/server.js";

type Answer = { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] };

let instance: Instance;
let databaseUrl: string;
let cleanup = () => {};
beforeAll(async () => {
  const database = await freshDatabase();
  databaseUrl = database.url;
  cleanup = database.cleanup;
  // A small budget per agent, to be refused RATE_LIMITED with one query.
  instance = await startInstance("logs", { DATABASE_URL: database.url, LOG_LEVEL: "debug", RATE_LIMIT_PER_MINUTE: "10" });
}, 120_000);
afterAll(async () => {
  await killAllInstances();
  cleanup();
});

async function post(requestId: string, query: string, token?: string): Promise<Answer> {
  const response = await fetch(instance.url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-request-id": requestId, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query }),
  });
  return (await response.json()) as Answer;
}

const codeOf = (answer: Answer) => answer.errors?.[0]?.extensions?.code;

/** The log's records so far (one JSON object a line). */
function records(): Record<string, unknown>[] {
  return instance
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function logged(until: (all: Record<string, unknown>[]) => boolean): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const all = records();
    if (until(all)) return all;
    if (Date.now() > deadline) throw new Error(`the log never showed what was awaited:\n${instance.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the log of a running server", () => {
  it("holds refusals as debug lines without a stack, and an unexpected error once at error level with its stack and request id", async () => {
    const registered = await post("register", `mutation { registerAgent(input: { name: "quiet" }) { token } }`);
    const token = (registered.data as { registerAgent: { token: string } }).registerAgent.token;

    const refusals: Record<string, string> = {
      "refuse-not-found": codeOf(await post("refuse-not-found", `{ team(id: "00000000-0000-0000-0000-000000000000") { name } }`, token)) as string,
      "refuse-conflict": codeOf(await post("refuse-conflict", `mutation { registerAgent(input: { name: "quiet" }) { token } }`)) as string,
      "refuse-bad-input": codeOf(await post("refuse-bad-input", `mutation { registerAgent(input: { name: "" }) { token } }`)) as string,
      "refuse-no-token": codeOf(await post("refuse-no-token", `{ me { name } }`)) as string,
      "refuse-bad-token": codeOf(await post("refuse-bad-token", `{ me { name } }`, `ahq_${"Z".repeat(43)}`)) as string,
      "refuse-aliases": codeOf(await post("refuse-aliases", `{ ${Array.from({ length: 20 }, (_, i) => `a${i}: __typename`).join(" ")} }`)) as string,
      "refuse-rate": codeOf(await post("refuse-rate", `{ ${Array.from({ length: 11 }, (_, i) => `m${i}: me { name }`).join(" ")} }`, token)) as string,
    };
    expect(refusals).toEqual({
      "refuse-not-found": "NOT_FOUND",
      "refuse-conflict": "CONFLICT",
      "refuse-bad-input": "BAD_USER_INPUT",
      "refuse-no-token": "UNAUTHENTICATED",
      "refuse-bad-token": "UNAUTHENTICATED",
      "refuse-aliases": "TOO_MANY_ALIASES",
      "refuse-rate": "RATE_LIMITED",
    });

    // An unexpected error: a table gone from under the server.
    await sqlBehindTheServer({ databaseUrl } as TestServer, `ALTER TABLE "TaskRoleAssignment" RENAME TO "TaskRoleAssignmentGone"`);
    const failed = await post("unexpected", `{ myRoleAssignments { role } }`, await freshToken());
    expect(failed.errors?.[0]?.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR", requestId: "unexpected" });

    const all = await logged((all) => all.some((r) => r.msg === "unexpected error") && all.some((r) => r.msg === "operation" && r.requestId === "unexpected"));
    // Error level holds the unexpected error, once, with its stack and request id: nothing else.
    const errors = all.filter((r) => (r.level as number) >= 50);
    expect(errors, JSON.stringify(errors, null, 1).slice(0, 4000)).toHaveLength(1);
    expect(errors[0]).toMatchObject({ msg: "unexpected error", requestId: "unexpected" });
    expect((errors[0]!.err as { stack?: string }).stack).toMatch(/TaskRoleAssignment[\s\S]*\n\s+at /);
    // Nothing about a refusal is above info, nor carries a stack.
    for (const r of all.filter((r) => typeof r.requestId === "string" && r.requestId.startsWith("refuse-"))) {
      expect(r.level as number, JSON.stringify(r)).toBeLessThanOrEqual(30);
      expect(JSON.stringify(r)).not.toMatch(/"stack"|\n\s+at /);
    }
    expect(all.filter((r) => (r.level as number) >= 40 && JSON.stringify(r).match(/\n\s+at /))).toEqual([]);
    // A refused operation is still on record: its info line, and a debug line saying why.
    expect(all.find((r) => r.msg === "operation" && r.requestId === "refuse-not-found")).toMatchObject({ level: 30, outcome: "NOT_FOUND" });
    expect(all.find((r) => r.level === 20 && r.requestId === "refuse-not-found" && r.code === "NOT_FOUND")).toMatchObject({ msg: "refused: team not found" });
  });
});

/** A token of an agent of its own (the first one spent its budget on purpose). */
async function freshToken(): Promise<string> {
  const answer = await post("register-2", `mutation { registerAgent(input: { name: "unlucky" }) { token } }`);
  return (answer.data as { registerAgent: { token: string } }).registerAgent.token;
}
