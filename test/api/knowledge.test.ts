// Knowledge through the server: writing entries (with journal rows in the team's
// stream), tags, authors and task links, recent entries by time and page, visibility,
// bad input, and search quality and safety on a small corpus.
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTeam, registerAgent, type TestAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
let lead: TestAgent;
let writer: TestAgent;
let reader: TestAgent;
let stranger: TestAgent;
let teamId: string;
beforeAll(async () => {
  server = await startServer();
  lead = await registerAgent(server, "kb-lead");
  writer = await registerAgent(server, "kb-writer");
  reader = await registerAgent(server, "kb-reader");
  stranger = await registerAgent(server, "kb-stranger");
  teamId = await createTeam(lead, "knowledge", [
    [writer, "writer"],
    [reader, "reader"],
  ]);
});
afterAll(() => server.close());

const ENTRY = `id title body tags author { name } task { id } team { id } createdAt updatedAt`;
const ADD = `mutation($t: ID!, $input: AddKnowledgeInput!) { addKnowledge(teamId: $t, input: $input) { ${ENTRY} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateKnowledgeInput!) { updateKnowledge(id: $id, input: $input) { ${ENTRY} } }`;
const DELETE = `mutation($id: ID!) { deleteKnowledge(id: $id) }`;
const GET = `query($id: ID!) { knowledge(id: $id) { ${ENTRY} } }`;
const SEARCH = `query($t: ID!, $q: String!, $tags: [String!], $author: String, $first: Int) {
  searchKnowledge(teamId: $t, text: $q, tags: $tags, author: $author, first: $first) { rank entry { id title } }
}`;
const RECENT = `query($t: ID!, $since: DateTime, $until: DateTime, $tags: [String!], $author: String, $first: Int, $after: String) {
  recentKnowledge(teamId: $t, since: $since, until: $until, tags: $tags, author: $author, first: $first, after: $after) {
    edges { node { id title } }
    pageInfo { hasNextPage endCursor }
  }
}`;

type Entry = { id: string; title: string; body: string; tags: string[]; author: { name: string }; task: { id: string } | null; createdAt: string; updatedAt: string };
type Hit = { rank: number; entry: { id: string; title: string } };

const add = async (agent: TestAgent, team: string, input: Record<string, unknown>): Promise<Entry> => (await agent.ok(ADD, { t: team, input })).addKnowledge;
const search = async (agent: TestAgent, team: string, q: string, extra: Record<string, unknown> = {}): Promise<Hit[]> =>
  (await agent.ok(SEARCH, { t: team, q, ...extra })).searchKnowledge;
const titles = (hits: Hit[]) => hits.map((h) => h.entry.title);
const recentTitles = (data: { recentKnowledge: { edges: { node: { title: string } }[] } }) => data.recentKnowledge.edges.map((e) => e.node.title);
const counts = async () => {
  const db = server.app.services.db.reader;
  return [await db.knowledgeEntry.count(), await db.knowledgeTag.count(), await db.journalEvent.count()];
};

describe("writing entries", () => {
  it("adds, updates and deletes, each with a journal row in the team's stream, seen live", async () => {
    const after = await server.app.services.journal.head();
    const sub = reader.subscribe("ws", `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after, kinds: ["knowledge.added", "knowledge.updated", "knowledge.deleted"]) { kind teamId subjectType subjectId payload actor { name } } }`, {
      t: teamId,
      after,
    });
    const entry = await add(writer, teamId, { title: "  Retry budget  ", body: "Retry a failed call three times.", tags: ["Ops", "retries", "ops"] });
    expect(entry).toMatchObject({ title: "Retry budget", body: "Retry a failed call three times.", tags: ["ops", "retries"], author: { name: writer.name }, task: null, team: { id: teamId } });
    const added = (await sub.next()).data.teamEvents;
    expect(added).toMatchObject({ kind: "knowledge.added", teamId, subjectType: "KnowledgeEntry", subjectId: entry.id, actor: { name: writer.name }, payload: { title: "Retry budget", tags: ["ops", "retries"] } });

    await sleep(5);
    const updated = (await writer.ok(UPDATE, { id: entry.id, input: { body: "Retry a failed call five times.", tags: ["ops"] } })).updateKnowledge;
    expect(updated).toMatchObject({ title: "Retry budget", body: "Retry a failed call five times.", tags: ["ops"], createdAt: entry.createdAt });
    expect(Date.parse(updated.updatedAt)).toBeGreaterThan(Date.parse(entry.updatedAt));
    expect((await sub.next()).data.teamEvents).toMatchObject({ kind: "knowledge.updated", subjectId: entry.id, payload: { changed: ["body", "tags"], tags: ["ops"] } });
    expect((await reader.ok(GET, { id: entry.id })).knowledge).toMatchObject({ body: "Retry a failed call five times.", tags: ["ops"] });
    expect(titles(await search(reader, teamId, "five times"))).toEqual(["Retry budget"]);
    expect(await search(reader, teamId, "three")).toEqual([]);

    expect(await writer.ok(DELETE, { id: entry.id })).toEqual({ deleteKnowledge: true });
    expect((await sub.next()).data.teamEvents).toMatchObject({ kind: "knowledge.deleted", subjectId: entry.id, actor: { name: writer.name } });
    await sub.close();
    expect((await reader.fails(GET, { id: entry.id })).code).toBe("NOT_FOUND");
    expect(await search(reader, teamId, "retry")).toEqual([]);
    const rows = await server.app.services.db.reader.journalEvent.findMany({ where: { subjectId: entry.id }, orderBy: { id: "asc" } });
    expect(rows.map((r) => [r.kind, r.teamId])).toEqual([
      ["knowledge.added", teamId],
      ["knowledge.updated", teamId],
      ["knowledge.deleted", teamId],
    ]);
  });

  it("lets only the author change an entry, and the author or the lead delete it", async () => {
    const entry = await add(writer, teamId, { title: "Owned note", body: "Mine." });
    const before = await counts();
    expect((await reader.fails(UPDATE, { id: entry.id, input: { title: "Taken over" } })).code).toBe("FORBIDDEN");
    expect((await lead.fails(UPDATE, { id: entry.id, input: { title: "Taken over" } })).code).toBe("FORBIDDEN");
    expect((await reader.fails(DELETE, { id: entry.id })).code).toBe("FORBIDDEN");
    expect(await counts()).toEqual(before);
    expect(await lead.ok(DELETE, { id: entry.id })).toEqual({ deleteKnowledge: true });
    expect((await writer.fails(GET, { id: entry.id })).code).toBe("NOT_FOUND");
  });

  it("links findings to a task of the team, readable from the task", async () => {
    const task = (await lead.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "Investigate flaky test" }) { id } }`, { t: teamId })).createTask;
    const first = await add(writer, teamId, { title: "Flake cause", body: "A timer ran out under load.", taskId: task.id });
    await sleep(5);
    await add(reader, teamId, { title: "Flake fix", body: "Raised the timeout.", taskId: task.id });
    await add(reader, teamId, { title: "Unrelated", body: "Not about the task." });
    expect(first.task).toEqual({ id: task.id });
    const { task: read } = await reader.ok(`query($id: ID!) { task(id: $id) { knowledge { title author { name } } } }`, { id: task.id });
    expect(read.knowledge).toEqual([
      { title: "Flake cause", author: { name: writer.name } },
      { title: "Flake fix", author: { name: reader.name } },
    ]);
    const unlinked = (await writer.ok(UPDATE, { id: first.id, input: { taskId: null } })).updateKnowledge;
    expect(unlinked.task).toBeNull();
    expect((await reader.ok(`query($id: ID!) { task(id: $id) { knowledge { title } } }`, { id: task.id })).task.knowledge).toEqual([{ title: "Flake fix" }]);
  });
});

describe("recent entries", () => {
  it("lists newest first by time window, tags and author, and pages by cursor", async () => {
    const team = await createTeam(lead, "recent", [[writer, "writer"]]);
    const made: Entry[] = [];
    for (const [i, agent, tags] of [
      [0, lead, ["a"]],
      [1, writer, ["a", "b"]],
      [2, lead, ["b"]],
      [3, writer, ["a", "b"]],
    ] as const) {
      made.push(await add(agent, team, { title: `r${i}`, body: `entry ${i}`, tags }));
      await sleep(5);
    }
    expect(recentTitles(await lead.ok(RECENT, { t: team }))).toEqual(["r3", "r2", "r1", "r0"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, since: made[1]!.createdAt }))).toEqual(["r3", "r2", "r1"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, until: made[2]!.createdAt }))).toEqual(["r1", "r0"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, since: made[1]!.createdAt, until: made[3]!.createdAt }))).toEqual(["r2", "r1"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, tags: ["A", "b"] }))).toEqual(["r3", "r1"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, author: lead.name }))).toEqual(["r2", "r0"]);
    expect(recentTitles(await lead.ok(RECENT, { t: team, author: "nobody" }))).toEqual([]);

    const page1 = await lead.ok(RECENT, { t: team, first: 3 });
    expect(recentTitles(page1)).toEqual(["r3", "r2", "r1"]);
    expect(page1.recentKnowledge.pageInfo.hasNextPage).toBe(true);
    const page2 = await lead.ok(RECENT, { t: team, first: 3, after: page1.recentKnowledge.pageInfo.endCursor });
    expect(recentTitles(page2)).toEqual(["r0"]);
    expect(page2.recentKnowledge.pageInfo.hasNextPage).toBe(false);
  });
});

describe("visibility and bad input", () => {
  it("answers NOT_FOUND to a non-member for everything, exactly as for unknown IDs, and writes nothing", async () => {
    const entry = await add(writer, teamId, { title: "Team secret", body: "The deploy key rotates weekly." });
    const before = await counts();
    const attempt = async (t: string, id: string) => [
      await stranger.fails(GET, { id }),
      await stranger.fails(SEARCH, { t, q: "secret" }),
      await stranger.fails(RECENT, { t }),
      await stranger.fails(ADD, { t, input: { title: "x", body: "y" } }),
      await stranger.fails(UPDATE, { id, input: { title: "mine now" } }),
      await stranger.fails(DELETE, { id }),
    ];
    const real = await attempt(teamId, entry.id);
    const unknown = await attempt(randomUUID(), randomUUID());
    expect(real.map((e) => e.code)).toEqual(Array(real.length).fill("NOT_FOUND"));
    expect(real.map((e) => [e.code, e.message])).toEqual(unknown.map((e) => [e.code, e.message]));
    expect(await counts()).toEqual(before);
    expect((await reader.ok(GET, { id: entry.id })).knowledge.title).toBe("Team secret");
  });

  it("refuses a task of another team, or none", async () => {
    const other = await createTeam(writer, "elsewhere");
    const foreign = (await writer.ok(`mutation($t: ID!) { createTask(teamId: $t, input: { title: "theirs" }) { id } }`, { t: other })).createTask;
    const mine = await add(writer, teamId, { title: "Linked later", body: "Text." });
    const before = await counts();
    for (const taskId of [foreign.id, randomUUID()]) {
      expect((await writer.fails(ADD, { t: teamId, input: { title: "x", body: "y", taskId } })).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "taskId" });
      expect((await writer.fails(UPDATE, { id: mine.id, input: { taskId } })).extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "taskId" });
    }
    expect(await counts()).toEqual(before);
  });

  it.each([
    ["an empty title", { title: "   ", body: "b" }, "title"],
    ["a long title", { title: "t".repeat(301), body: "b" }, "title"],
    ["an empty body", { title: "t", body: " \n " }, "body"],
    ["a long body", { title: "t", body: "b".repeat(100_001) }, "body"],
    ["a control character", { title: "t\u0007", body: "b" }, "title"],
    ["too many tags", { title: "t", body: "b", tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, "tags"],
    ["a tag with a space", { title: "t", body: "b", tags: ["two words"] }, "tags.0"],
    ["a tag starting with punctuation", { title: "t", body: "b", tags: ["ok", "-bad"] }, "tags.1"],
    ["a long tag", { title: "t", body: "b", tags: ["x".repeat(51)] }, "tags.0"],
  ])("refuses %s and writes nothing", async (_name, input, field) => {
    const before = await counts();
    const error = await writer.fails(ADD, { t: teamId, input });
    expect(error.extensions).toMatchObject({ code: "BAD_USER_INPUT", field });
    expect(await counts()).toEqual(before);
  });

  it("accepts the limits exactly", async () => {
    const entry = await add(writer, teamId, { title: "t".repeat(300), body: "b".repeat(100_000), tags: Array.from({ length: 20 }, (_, i) => `tag.${i}_x-${"y".repeat(40)}`) });
    expect(entry.tags).toHaveLength(20);
    expect(await writer.ok(DELETE, { id: entry.id })).toEqual({ deleteKnowledge: true });
    const first = await writer.fails(SEARCH, { t: teamId, q: "x", first: 101 });
    expect(first.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "first" });
  });
});

describe("search", () => {
  let corpus: string;
  const byTitle = new Map<string, string>();
  beforeAll(async () => {
    corpus = await createTeam(lead, "corpus", [
      [writer, "writer"],
      [reader, "reader"],
    ]);
    const entries: [TestAgent, string, string, string[]][] = [
      [writer, "Claiming tasks safely", "Use claimNext to take the next ready task; pass the fencing token with every write.", ["tasks", "howto"]],
      [lead, "Lease renewal", "Renew the lease before it runs out, or another agent may claim the task and your writes fail.", ["tasks", "ops"]],
      [reader, "Journal cursors", "Each row gets an increasing id; subscribers resume after the last one they saw.", ["journal"]],
      [writer, "Subscriptions", "A subscriber replays the journal after its cursor, then goes live without a gap.", ["journal", "howto"]],
      [lead, "Auth tokens", "Tokens are hashed at rest; send them as a bearer header.", ["security"]],
      [reader, "PostgreSQL advisory lock", "Appends take an advisory lock so journal rows commit in id order.", ["postgres", "journal"]],
      [writer, "Advisory notes for reviewers", "Lock files must be committed with the change.", ["review"]],
      [lead, "Café meetup", "The team met at the café to plan the next milestone.", ["social"]],
      [reader, "Localization", "Documentation in 日本語 is welcome; keep the glossary short.", ["docs"]],
      [writer, "Migrations on SQLite", "The migration engine runs each script through executeScript.", ["sqlite"]],
      [lead, "Rate limits", "Clients retrying too quickly are answered with RATE_LIMITED.", ["ops"]],
      [reader, "Deploy checklist", "Run the tests on both databases before a release.", ["ops", "release"]],
    ];
    for (const [agent, title, body, tags] of entries) byTitle.set(title, (await add(agent, corpus, { title, body, tags })).id);
  });

  it("finds an entry about claiming tasks first for 'claims' (stemming)", async () => {
    const hits = await search(reader, corpus, "claims");
    expect(titles(hits)).toEqual(["Claiming tasks safely", "Lease renewal"]);
    expect(hits[0]!.rank).toBeGreaterThan(hits[1]!.rank);
    expect(titles(await search(reader, corpus, "Claimed"))[0]).toBe("Claiming tasks safely");
  });

  it("ranks a title match above a body-only match", async () => {
    const journal = titles(await search(reader, corpus, "journal"));
    expect(journal[0]).toBe("Journal cursors");
    expect(journal.slice(1).sort()).toEqual(["PostgreSQL advisory lock", "Subscriptions"]);
    expect(titles(await search(reader, corpus, "locks"))).toEqual(["PostgreSQL advisory lock", "Advisory notes for reviewers"]);
    expect(titles(await search(reader, corpus, "subscriptions"))).toEqual(["Subscriptions"]);
  });

  it("requires every word (AND), in any order", async () => {
    expect(titles(await search(reader, corpus, "journal replays"))).toEqual(["Subscriptions"]);
    expect(titles(await search(reader, corpus, "lock advisory journal"))).toEqual(["PostgreSQL advisory lock"]);
    expect(titles(await search(reader, corpus, "lock advisory"))).toHaveLength(2);
    expect(await search(reader, corpus, "journal banana")).toEqual([]);
  });

  it("filters by tags and author, and limits with first", async () => {
    expect(titles(await search(reader, corpus, "task", { tags: ["ops"] }))).toEqual(["Lease renewal"]);
    expect(titles(await search(reader, corpus, "journal", { tags: ["journal", "POSTGRES"] }))).toEqual(["PostgreSQL advisory lock"]);
    expect(titles(await search(reader, corpus, "journal", { author: writer.name }))).toEqual(["Subscriptions"]);
    expect(await search(reader, corpus, "journal", { author: "nobody" })).toEqual([]);
    expect(titles(await search(reader, corpus, "journal", { first: 1 }))).toEqual(["Journal cursors"]);
    // Other teams' entries never show.
    expect(titles(await search(reader, teamId, "flake"))).not.toEqual([]);
    expect(await search(reader, corpus, "flake")).toEqual([]);
  });

  it("orders equal ranks newest first", async () => {
    const older = await add(writer, corpus, { title: "Twin note", body: "Identical zebra text." });
    await sleep(5);
    const newer = await add(writer, corpus, { title: "Twin note", body: "Identical zebra text." });
    const hits = await search(reader, corpus, "zebra");
    expect(hits.map((h) => h.entry.id)).toEqual([newer.id, older.id]);
    expect(hits[0]!.rank).toBe(hits[1]!.rank);
  });

  it("answers hostile and odd input without error, as plain words", async () => {
    const cases: [string, string[] | null][] = [
      ['"journal API" -auth', []],
      ["auth OR *", ["Auth tokens"]],
      ['\'; DROP TABLE "KnowledgeEntry"; --', []],
      ["NEAR(a b)", []],
      ["title:auth", []],
      ["auth*", ["Auth tokens"]],
      ["(auth) AND NOT tokens", ["Auth tokens"]],
      ["tokens^2", []],
      ["a & b | !c <-> d:*", []],
      ["café", ["Café meetup"]],
      ["日本語", ["Localization"]],
      ["🚀", []],
      ["🚀 auth 🎉", ["Auth tokens"]],
      ["", []],
      ["the of and", []],
      ["\u0001\u0301 combining", []],
      ["x".repeat(10_000), []],
      ["claims ".repeat(1_428).padEnd(10_000), ["Claiming tasks safely", "Lease renewal"]],
      [Array.from({ length: 5_000 }, (_, i) => `w${i}`).join(" ").slice(0, 10_000), []],
    ];
    for (const [text, expected] of cases) {
      const result = await reader.run(SEARCH, { t: corpus, q: text });
      expect(result.errors, JSON.stringify(text.slice(0, 40))).toBeUndefined();
      if (expected) expect(titles(result.data.searchKnowledge), JSON.stringify(text.slice(0, 40))).toEqual(expected);
    }
    // NUL characters (PostgreSQL cannot take them) and lone surrogates (no database stores
    // one as sent) are refused in every text, with a code.
    for (const q of ["auth\u0000", "lone \ud800"]) expect((await reader.run(SEARCH, { t: corpus, q })).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    // The table is still there, with everything in it.
    expect(await server.app.services.db.reader.knowledgeEntry.count({ where: { teamId: corpus } })).toBeGreaterThanOrEqual(byTitle.size);
    expect(titles(await search(reader, corpus, "claims"))[0]).toBe("Claiming tasks safely");
  });
});
