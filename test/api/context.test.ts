// Shared context through the server: scopes, versions and history, compare-and-set under
// racing writers, write policies, live changes, and bad input.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { fewestStatements, startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let member: TestAgent;
let outsider: TestAgent;
let teamId: string;
beforeAll(async () => {
  server = await startServer();
  lead = await registerAgent(server, "ctx-lead");
  member = await registerAgent(server, "ctx-member");
  outsider = await registerAgent(server, "ctx-outsider");
  teamId = await createTeam(lead, "context", [[member, "worker"]]);
});
afterAll(() => server.close());

const SET = `mutation($s: ContextScope!, $k: String!, $v: JSON!, $e: Int) { setContext(scope: $s, key: $k, value: $v, expectedVersion: $e) { key version value author { name } } }`;
const GET = `query($s: ContextScope!, $k: String!) { context(scope: $s, key: $k) { key version value deleted author { name } updatedAt } }`;
const HISTORY = `query($s: ContextScope!, $k: String!, $v: Int) { contextHistory(scope: $s, key: $k, version: $v) { version value deleted author { name } } }`;
const LIST = `query($s: ContextScope!, $p: String, $pat: String, $after: String, $first: Int) { contextEntries(scope: $s, prefix: $p, pattern: $pat, after: $after, first: $first) { key version } }`;
const DELETE = `mutation($s: ContextScope!, $k: String!, $e: Int) { deleteContext(scope: $s, key: $k, expectedVersion: $e) { version deleted } }`;
const POLICY = `mutation($t: ID!, $rules: [WriteRuleInput!]!) { setWritePolicy(teamId: $t, rules: $rules) { role agentId pattern } }`;

const counts = async () => ({
  entries: await server.app.services.db.reader.contextEntry.count(),
  versions: await server.app.services.db.reader.contextVersion.count(),
  journal: await server.app.services.db.reader.journalEvent.count(),
});

describe("entries and versions", () => {
  it("writes, reads back with author and time, keeps every version, and deletes with a tombstone", async () => {
    const scope = { teamId };
    const first = await lead.ok(SET, { s: scope, k: "db_schema_version", v: "v3 — uses JSONB for agent_config column" });
    expect(first.setContext).toMatchObject({ version: 1, author: { name: lead.name } });
    await member.ok(SET, { s: scope, k: "db_schema_version", v: { version: 4, note: "adds indexes" } });
    const { context } = await member.ok(GET, { s: scope, k: "db_schema_version" });
    expect(context).toMatchObject({ version: 2, value: { version: 4, note: "adds indexes" }, deleted: false, author: { name: member.name } });
    expect(new Date(context.updatedAt).getTime()).toBeGreaterThan(Date.now() - 60_000);

    const { contextHistory } = await lead.ok(HISTORY, { s: scope, k: "db_schema_version" });
    expect(contextHistory.map((v: { version: number; author: { name: string } }) => [v.version, v.author.name])).toEqual([
      [2, member.name],
      [1, lead.name],
    ]);
    expect((await lead.ok(HISTORY, { s: scope, k: "db_schema_version", v: 1 })).contextHistory[0].value).toBe("v3 — uses JSONB for agent_config column");

    const deleted = await lead.ok(DELETE, { s: scope, k: "db_schema_version" });
    expect(deleted.deleteContext).toEqual({ version: 3, deleted: true });
    expect((await lead.ok(GET, { s: scope, k: "db_schema_version" })).context).toBeNull();
    expect((await lead.ok(HISTORY, { s: scope, k: "db_schema_version" })).contextHistory.map((v: { deleted: boolean }) => v.deleted)).toEqual([true, false, false]);
    // Writing again after a delete continues the versions.
    expect((await lead.ok(SET, { s: scope, k: "db_schema_version", v: 5, e: 0 })).setContext.version).toBe(4);
  });

  it("keeps task scopes for the task's team and private scopes for their owner", async () => {
    const { createTask } = await lead.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "scoped" }) { id } }`, { t: teamId });
    const task = { taskId: createTask.id };
    await lead.ok(SET, { s: task, k: "project_id", v: "api-v2" });
    expect((await member.ok(GET, { s: task, k: "project_id" })).context.value).toBe("api-v2");

    await member.ok(SET, { s: { private: true }, k: "scratch", v: { mine: true } });
    expect((await member.ok(GET, { s: { private: true }, k: "scratch" })).context.value).toEqual({ mine: true });
    expect((await lead.ok(GET, { s: { private: true }, k: "scratch" })).context).toBeNull();

    for (const scope of [{ teamId }, task]) {
      for (const query of [GET, HISTORY, LIST]) {
        const real = await outsider.run(query, { s: scope, k: "project_id" });
        const fake = await outsider.run(query, { s: "teamId" in scope ? { teamId: randomUUID() } : { taskId: randomUUID() }, k: "project_id" });
        expect(real.errors?.[0]?.extensions?.code).toBe("NOT_FOUND");
        expect(real).toEqual(fake);
      }
      const write = await outsider.fails(SET, { s: scope, k: "intrusion", v: 1 });
      expect(write.code).toBe("NOT_FOUND");
    }
  });

  it("lists keys by prefix and by pattern, in key order, with paging", async () => {
    const scope = { teamId: await createTeam(lead, "listing") };
    for (const key of ["findings.a", "findings.b", "findings.c", "sources.x", "analysis.1", "draft", "draft.v2"]) await lead.ok(SET, { s: scope, k: key, v: key });
    const keys = async (vars: Record<string, unknown>) => (await lead.ok(LIST, { s: scope, ...vars })).contextEntries.map((e: { key: string }) => e.key);
    expect(await keys({ p: "findings." })).toEqual(["findings.a", "findings.b", "findings.c"]);
    expect(await keys({ pat: "*.b" })).toEqual(["findings.b"]);
    expect(await keys({ pat: "draft*" })).toEqual(["draft", "draft.v2"]);
    expect(await keys({ pat: "*s.*" })).toEqual(["analysis.1", "findings.a", "findings.b", "findings.c", "sources.x"]);
    expect(await keys({ first: 2 })).toEqual(["analysis.1", "draft"]);
    expect(await keys({ first: 2, after: "draft" })).toEqual(["draft.v2", "findings.a"]);
  });
});

describe("compare-and-set", () => {
  it("refuses a stale or premature expected version with the current version, and changes nothing", async () => {
    const scope = { teamId };
    await lead.ok(SET, { s: scope, k: "cas", v: "one", e: 0 });
    const before = await counts();
    const exists = await member.fails(SET, { s: scope, k: "cas", v: "again", e: 0 });
    expect(exists.extensions).toMatchObject({ code: "CONFLICT", currentVersion: 1 });
    const stale = await member.fails(SET, { s: scope, k: "cas", v: "two", e: 5 });
    expect(stale.extensions).toMatchObject({ code: "CONFLICT", currentVersion: 1 });
    expect(await counts()).toEqual(before);
    expect((await member.ok(SET, { s: scope, k: "cas", v: "two", e: 1 })).setContext.version).toBe(2);
  });

  it("racing compare-and-set writers: successes equal the final version, and no two succeeded from the same version", async () => {
    const scope = { teamId };
    const writers = await Promise.all(Array.from({ length: 8 }, (_, i) => registerAgent(server, `cas-racer-${i}`)));
    for (const w of writers) await lead.ok(`mutation($t: ID!, $n: String!) { addTeamMember(teamId: $t, agentName: $n, role: "racer") { role } }`, { t: teamId, n: w.name });
    const wins: number[] = [];
    let conflicts = 0;
    await Promise.all(
      writers.flatMap((w, i) =>
        [0, 1, 2].map(async (j) => {
          for (let attempt = 0; attempt < 6; attempt++) {
            const current = (await w.ok(GET, { s: scope, k: "counter" })).context;
            const version = current?.version ?? 0;
            const result = await w.run(SET, { s: scope, k: "counter", v: { by: `${i}/${j}`, from: version }, e: version });
            if (!result.errors) wins.push(version);
            else {
              expect(result.errors[0]!.extensions?.code).toBe("CONFLICT");
              conflicts++;
            }
          }
        }),
      ),
    );
    const final = (await lead.ok(GET, { s: scope, k: "counter" })).context;
    expect(final.version).toBe(wins.length);
    expect(new Set(wins).size).toBe(wins.length);
    expect(conflicts).toBeGreaterThan(0);
    const history = (await lead.ok(`query($s: ContextScope!) { contextHistory(scope: $s, key: "counter", first: 100) { version value } }`, { s: scope })).contextHistory;
    expect(history.map((v: { version: number }) => v.version)).toEqual(Array.from({ length: wins.length }, (_, i) => wins.length - i));
    for (const v of history) expect(v.value.from).toBe(v.version - 1);
  });

  it("writers without expectations never lose a version", async () => {
    const scope = { teamId };
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? lead : member).ok(SET, { s: scope, k: "free-for-all", v: i })));
    const versions = results.map((r) => r.setContext.version).sort((a, b) => a - b);
    expect(versions).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const history = (await lead.ok(`query($s: ContextScope!) { contextHistory(scope: $s, key: "free-for-all", first: 100) { version } }`, { s: scope })).contextHistory;
    expect(history).toHaveLength(40);
  });
});

describe("write policies", () => {
  it("lets each role write only its own keys; reads stay open; changes are journaled", async () => {
    const researcher = await registerAgent(server, "pol-researcher");
    const analyst = await registerAgent(server, "pol-analyst");
    const writer = await registerAgent(server, "pol-writer");
    const team = await createTeam(lead, "research pipeline", [
      [researcher, "researcher"],
      [analyst, "analyst"],
      [writer, "writer"],
    ]);
    const scope = { teamId: team };
    // No policy: any member writes.
    await analyst.ok(SET, { s: scope, k: "anything", v: 1 });

    const notLead = await researcher.fails(POLICY, { t: team, rules: [{ role: "researcher", patterns: ["*"] }] });
    expect(notLead.code).toBe("FORBIDDEN");
    const { setWritePolicy } = await lead.ok(POLICY, {
      t: team,
      rules: [
        { role: "researcher", patterns: ["findings*", "sources*"] },
        { role: "analyst", patterns: ["analysis*"] },
        { role: "writer", patterns: ["draft*", "status"] },
      ],
    });
    expect(setWritePolicy).toHaveLength(5);
    const journal = await server.app.services.db.reader.journalEvent.findMany({ where: { teamId: team, kind: "context.policy_set" } });
    expect(journal).toHaveLength(1);

    await researcher.ok(SET, { s: scope, k: "findings.pricing", v: { tiers: 3 } });
    await analyst.ok(SET, { s: scope, k: "analysis.pricing", v: "cheap" });
    await writer.ok(SET, { s: scope, k: "status", v: "drafting" });
    const before = await counts();
    const refused = await researcher.fails(SET, { s: scope, k: "analysis.pricing", v: "mine now" });
    expect(refused.code).toBe("FORBIDDEN");
    expect(refused.message).toContain('"analysis.pricing"');
    expect(refused.message).toContain("analysis* to role analyst");
    const uncovered = await writer.fails(SET, { s: scope, k: "notes", v: "x" });
    expect(uncovered.code).toBe("FORBIDDEN");
    expect(uncovered.message).toMatch(/no rule .* covers "notes"/);
    const del = await writer.fails(DELETE, { s: scope, k: "findings.pricing" });
    expect(del.code).toBe("FORBIDDEN");
    expect(await counts()).toEqual(before);
    // Reads stay open to every member.
    expect((await writer.ok(GET, { s: scope, k: "analysis.pricing" })).context.value).toBe("cheap");
    // A rule for one agent by name; an empty policy opens the team again.
    await lead.ok(POLICY, { t: team, rules: [{ agentName: writer.name, patterns: ["*"] }] });
    await writer.ok(SET, { s: scope, k: "notes", v: "now allowed" });
    expect((await analyst.fails(SET, { s: scope, k: "analysis.more", v: 1 })).code).toBe("FORBIDDEN");
    await lead.ok(POLICY, { t: team, rules: [] });
    await analyst.ok(SET, { s: scope, k: "analysis.more", v: 1 });
    // Task and private scopes are not governed by the team's policy.
    await lead.ok(POLICY, { t: team, rules: [{ role: "writer", patterns: ["*"] }] });
    await analyst.ok(SET, { s: { private: true }, k: "analysis.private", v: 1 });
  });
});

describe("live changes", () => {
  for (const transport of ["ws", "sse"] as const) {
    it(`streams a scope's changes under a prefix over ${transport}, replaying after a cursor`, async () => {
      const scope = { teamId: await createTeam(lead, `live context ${transport}`) };
      await lead.ok(SET, { s: scope, k: "plan.step1", v: "before" });
      await lead.ok(SET, { s: scope, k: "other", v: "ignored" });
      const sub = lead.subscribe(transport, `subscription($s: ContextScope!) { contextEvents(scope: $s, prefix: "plan.", after: 0) { kind payload actor { name } } }`, { s: scope });
      expect((await sub.next()).data.contextEvents).toMatchObject({ kind: "context.set", payload: { key: "plan.step1", version: 1, value: "before" } });
      await lead.ok(SET, { s: scope, k: "other", v: "still ignored" });
      await lead.ok(DELETE, { s: scope, k: "plan.step1" });
      expect((await sub.next()).data.contextEvents).toMatchObject({ kind: "context.deleted", payload: { key: "plan.step1", version: 2 } });
      await sub.close();
    });
  }

  it("streams a private scope to its owner only", async () => {
    const sub = member.subscribe("ws", `subscription { contextEvents(scope: { private: true }, after: 0) { payload } }`);
    await member.ok(SET, { s: { private: true }, k: "secret", v: 42 });
    const event = (await sub.next()).data.contextEvents;
    expect(event.payload).toMatchObject({ scopeType: "agent" });
    await sub.close();
    const rows = await server.app.services.db.reader.journalEvent.findMany({ where: { kind: "context.set", recipientId: member.id } });
    expect(rows.every((r) => r.teamId === null)).toBe(true);
  });
});

describe("bad input writes nothing", () => {
  it.each([
    ["a key with spaces", { s: { teamId: "T" }, k: "has space", v: 1 }, "key"],
    ["an empty key", { s: { teamId: "T" }, k: "", v: 1 }, "key"],
    ["a key of 201 characters", { s: { teamId: "T" }, k: "k".repeat(201), v: 1 }, "key"],
    ["a huge value", { s: { teamId: "T" }, k: "big", v: { blob: "x".repeat(70_000) } }, "value"],
    ["two scopes at once", { s: { teamId: "T", private: true }, k: "k", v: 1 }, "scope"],
    ["no scope", { s: {}, k: "k", v: 1 }, "scope"],
    ["a negative expected version", { s: { teamId: "T" }, k: "k", v: 1, e: -1 }, "expectedVersion"],
  ])("refuses %s", async (_name, vars, field) => {
    const before = await counts();
    const s = Object.fromEntries(Object.entries(vars.s).map(([k, v]) => [k, v === "T" ? teamId : v]));
    const error = await lead.fails(SET, { ...vars, s });
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(await counts()).toEqual(before);
  });
});

describe("authors", () => {
  it("reads the authors of a list of entries in one statement, however many entries", async () => {
    const scope = { teamId };
    for (let i = 0; i < 12; i++) await (i % 2 ? lead : member).ok(SET, { s: scope, k: `authors.${i}`, v: i });
    // A new `first` each run: a kept answer (RESPONSE_CACHE_MB) would cost no reads.
    const AUTHORS = `query($s: ContextScope!, $n: Int) { contextEntries(scope: $s, prefix: "authors.", first: $n) { key author { name } } }`;
    const HISTORY_AUTHORS = `query($s: ContextScope!, $n: Int) { contextHistory(scope: $s, key: "authors.0", first: $n) { version author { name } } }`;
    const KEYS = `query($s: ContextScope!, $n: Int) { contextEntries(scope: $s, prefix: "authors.", first: $n) { key } }`;
    await lead.ok(SET, { s: scope, k: "authors.0", v: "again" });
    const withAuthors = await fewestStatements(server, (n) => lead.ok(AUTHORS, { s: scope, n: 20 + n }));
    const keysOnly = await fewestStatements(server, (n) => lead.ok(KEYS, { s: scope, n: 20 + n }));
    // authors.0 was written again, by the lead.
    const authorOf = (key: string) => (Number(key.split(".")[1]) % 2 || key === "authors.0" ? lead.name : member.name);
    for (const entry of withAuthors.result.contextEntries) expect(entry.author.name, entry.key).toBe(authorOf(entry.key));
    expect(withAuthors.result.contextEntries).toHaveLength(12);
    expect(withAuthors.statements - keysOnly.statements).toBe(1);
    const history = await fewestStatements(server, (n) => lead.ok(HISTORY_AUTHORS, { s: scope, n: 20 + n }));
    expect(history.result.contextHistory.map((v: { author: { name: string } }) => v.author.name)).toEqual([lead.name, member.name]);
    const historyKeys = await fewestStatements(server, (n) => lead.ok(`query($s: ContextScope!, $n: Int) { contextHistory(scope: $s, key: "authors.0", first: $n) { version } }`, { s: scope, n: 20 + n }));
    expect(history.statements - historyKeys.statements).toBe(1);
  });
});
