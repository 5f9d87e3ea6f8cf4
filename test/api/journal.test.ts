// The journal is the source of every subscription: replay after a cursor, then live,
// with no gap and no duplicate, whatever the concurrency.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveStats } from "../../src/graphql/live.js";
import { createTeam, registerAgent, type Subscription, type TestAgent, type Transport } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const TEAM_EVENTS = `subscription($t: ID!, $after: Int, $kinds: [String!]) {
  teamEvents(teamId: $t, after: $after, kinds: $kinds) { cursor kind teamId subjectId payload actor { name } }
}`;
// Reads only the row: every subscriber of this operation shares one execution per event.
const TEAM_EVENTS_ROW = `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor kind teamId subjectId payload createdAt } }`;
const UPDATE = `mutation($t: ID!, $d: String) { updateTeam(teamId: $t, input: { description: $d }) { id } }`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Cursors of a team's journal rows after `after`, straight from the database. */
async function journalCursors(teamId: string, after: number): Promise<number[]> {
  const rows = await server.app.services.db.reader.journalEvent.findMany({
    where: { teamId, id: { gt: after } },
    orderBy: { id: "asc" },
    select: { id: true },
  });
  return rows.map((r) => r.id);
}

/** Reads events until the one with cursor `last` arrives. */
async function readUntil(sub: Subscription, last: number): Promise<{ cursor: number; teamId: string }[]> {
  const events: { cursor: number; teamId: string }[] = [];
  while (events.at(-1)?.cursor !== last) {
    const result = await sub.next(15_000);
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    events.push(result.data.teamEvents);
    if (events.at(-1)!.cursor > last) throw new Error(`passed ${last} without seeing it`);
  }
  return events;
}

/**
 * A team of `watchers` members and, beside it, another team: rows of the other team
 * must never reach the first team's subscribers.
 */
async function teamsToRace(label: string, watchers: number) {
  const lead = await registerAgent(server, `${label}-lead`);
  const members: TestAgent[] = [];
  for (let i = 0; i < watchers; i++) members.push(await registerAgent(server, `${label}-watcher-${i}`));
  const teamId = await createTeam(lead, label, members.map((m) => [m, "watcher"] as [TestAgent, string]));
  const otherLead = await registerAgent(server, `${label}-noise`);
  const otherTeam = await createTeam(otherLead, `${label}-noise`);
  return { lead, members, teamId, otherLead, otherTeam };
}

/** `writers` concurrent writers of `writes` updates each to the team, every `noiseEvery`-th also to the other team. */
function writeConcurrently(teams: Awaited<ReturnType<typeof teamsToRace>>, writers: number, writes: number, noiseEvery: number): Promise<void>[] {
  const { lead, teamId, otherLead, otherTeam } = teams;
  return Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < writes; i++) {
      await lead.ok(UPDATE, { t: teamId, d: `write ${w}/${i}` });
      if (i % noiseEvery === 0) await otherLead.ok(UPDATE, { t: otherTeam, d: `noise ${w}/${i}` });
    }
  });
}

describe("teamEvents", () => {
  it("20 concurrent writers, 5 subscribers joining at random cursors: each sees exactly the rows after its cursor, in order, once", async () => {
    // Another team writes at the same time: none of its rows may leak into the stream.
    const teams = await teamsToRace("race", 5);
    const { members, teamId } = teams;
    const WRITERS = 20;
    const WRITES = 15;
    const writers = writeConcurrently(teams, WRITERS, WRITES, 5);

    const subscribers: { sub: Subscription; after: number; transport: Transport }[] = [];
    for (let s = 0; s < 5; s++) {
      await sleep(Math.random() * 150);
      const head = await server.app.services.journal.head();
      const after = Math.floor(Math.random() * (head + 1));
      const transport: Transport = s % 2 === 0 ? "ws" : "sse";
      subscribers.push({ sub: members[s]!.subscribe(transport, TEAM_EVENTS, { t: teamId, after }), after, transport });
    }
    await Promise.all(writers);

    const all = await journalCursors(teamId, 0);
    expect(all.length).toBe(WRITERS * WRITES + 2 + members.length);
    const last = all.at(-1)!;
    for (const { sub, after, transport } of subscribers) {
      const events = await readUntil(sub, last);
      expect(events.every((e) => e.teamId === teamId), `${transport} saw another team's rows`).toBe(true);
      expect(events.map((e) => e.cursor), `${transport} subscriber after ${after}`).toEqual(await journalCursors(teamId, after));
      await sub.close();
    }
  });

  it("30 writers racing 24 subscribers (graphql-ws and SSE, shared and per-viewer selections, some live only) that join while they write: each sees every row after its cursor, in order, once", async () => {
    const teams = await teamsToRace("crowd", 6);
    const { lead, members, teamId } = teams;
    const { handedBack } = liveStats();

    const WRITERS = 30;
    const WRITES = 10;
    const writers = writeConcurrently(teams, WRITERS, WRITES, 4);

    const subscribers: { sub: Subscription; after: number | null; transport: Transport; label: string }[] = [];
    let directPeak = 0;
    for (let s = 0; s < 24; s++) {
      await sleep(Math.random() * 60);
      const transport: Transport = s % 4 === 3 ? "sse" : "ws";
      const query = s % 2 === 0 ? TEAM_EVENTS_ROW : TEAM_EVENTS;
      // A few join live only: they must see an unbroken run of rows from their first.
      const after = s % 6 === 5 ? null : Math.floor(Math.random() * ((await server.app.services.journal.head()) + 1));
      subscribers.push({ sub: members[s % members.length]!.subscribe(transport, query, { t: teamId, after }), after, transport, label: `${transport} #${s} after ${after}` });
      directPeak = Math.max(directPeak, liveStats().direct);
    }
    await Promise.all(writers);
    // One more row once everyone listens, so that the live-only subscribers see at least one.
    // (and the one listener that ends streams whose token is revoked)
    await expect.poll(() => server.app.services.tailer.stats().listeners).toBeGreaterThanOrEqual(subscribers.length + 1);
    directPeak = Math.max(directPeak, liveStats().direct);
    await lead.ok(UPDATE, { t: teamId, d: "crowd: last" });

    const all = await journalCursors(teamId, 0);
    const last = all.at(-1)!;
    for (const { sub, after, label } of subscribers) {
      const events = await readUntil(sub, last);
      expect(events.every((e) => e.teamId === teamId), `${label} saw another team's rows`).toBe(true);
      const cursors = events.map((e) => e.cursor);
      expect(cursors, label).toEqual(await journalCursors(teamId, after ?? cursors[0]! - 1));
      await sub.close();
    }
    // The graphql-ws subscribers took the direct path, and none had to leave it.
    expect(directPeak).toBeGreaterThanOrEqual(subscribers.filter((s) => s.transport === "ws").length - 2);
    expect(liveStats().handedBack).toBe(handedBack);
  });

  it("without `after` streams only what is committed from now on; with `kinds` filters", async () => {
    const lead = await registerAgent(server, "live-lead");
    const teamId = await createTeam(lead, "live");
    for (const transport of ["ws", "sse"] as const) {
      // The streams of the previous round are gone: the count below is this round's.
      await expect.poll(() => server.app.services.tailer.stats().listeners).toBe(0);
      const live = lead.subscribe(transport, TEAM_EVENTS, { t: teamId });
      const filtered = lead.subscribe(transport, TEAM_EVENTS, { t: teamId, after: 0, kinds: ["team.updated"] });
      // Both are registered with the tailer before anything is written (beside them, the
      // watch that ends streams whose token is revoked).
      await expect.poll(() => server.app.services.tailer.stats().listeners).toBe(3);
      await lead.ok(UPDATE, { t: teamId, d: `first via ${transport}` });
      const first = (await live.next()).data.teamEvents;
      expect(first).toMatchObject({ kind: "team.updated", actor: { name: "live-lead" }, payload: { description: `first via ${transport}` } });
      const kinds = new Set<string>();
      for (let i = 0; i < (transport === "ws" ? 1 : 2); i++) kinds.add((await filtered.next()).data.teamEvents.kind);
      expect([...kinds]).toEqual(["team.updated"]);
      await live.close();
      await filtered.close();
    }
  });

  it("delivers events of every size over graphql-ws, whatever the length field of their frame", async () => {
    const lead = await registerAgent(server, "frame-lead");
    const teamId = await createTeam(lead, "frames");
    // From the team's last row: the events below are replayed if they come before the stream is live.
    const after = (await journalCursors(teamId, 0)).at(-1)!;
    const small = lead.subscribe("ws", `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor } }`, { t: teamId, after });
    const full = lead.subscribe("ws", TEAM_EVENTS_ROW, { t: teamId, after });
    try {
      const SET = `mutation($t: ID!, $v: JSON!) { setContext(scope: { teamId: $t }, key: "blob", value: $v) { version } }`;
      // Messages under 126 bytes, under 64 KiB, and over it (the frame's 7, 16 and 64 bit lengths).
      const values = ["x", "y".repeat(400), "z".repeat(65_500)];
      for (const value of values) await lead.ok(SET, { t: teamId, v: value });
      const setCursors = await journalCursors(teamId, after);
      for (const [i, value] of values.entries()) {
        const event = (await full.next()).data.teamEvents;
        expect(event.cursor).toBe(setCursors[i]);
        expect(event.payload.value).toBe(value);
        expect((await small.next()).data.teamEvents).toEqual({ cursor: setCursors[i] });
      }
    } finally {
      await Promise.all([small.close(), full.close()]);
    }
  });

  it("a refused change writes no journal row", async () => {
    const lead = await registerAgent(server, "refused-lead");
    await createTeam(lead, "dup");
    const before = await server.app.services.db.reader.journalEvent.count();
    const error = await lead.fails(`mutation { createTeam(input: { name: "dup", role: "lead" }) { id } }`);
    expect(error.code).toBe("CONFLICT");
    const bad = await lead.fails(`mutation { createTeam(input: { name: "ok", role: "bad/role" }) { id } }`);
    expect(bad.code).toBe("BAD_USER_INPUT");
    expect(await server.app.services.db.reader.journalEvent.count()).toBe(before);
  });

  it("a subscriber that was not reading resumes from its last cursor and misses nothing", async () => {
    const lead = await registerAgent(server, "resume-lead");
    const teamId = await createTeam(lead, "resume");
    const first = lead.subscribe("ws", TEAM_EVENTS, { t: teamId, after: 0 });
    const seen: number[] = [];
    for (let i = 0; i < 2; i++) seen.push((await first.next()).data.teamEvents.cursor);
    await first.close();
    for (let i = 0; i < 10; i++) await lead.ok(UPDATE, { t: teamId, d: `while away ${i}` });
    const again = lead.subscribe("sse", TEAM_EVENTS, { t: teamId, after: seen.at(-1) });
    const all = await journalCursors(teamId, 0);
    const rest = await readUntil(again, all.at(-1)!);
    expect([...seen, ...rest.map((e) => e.cursor)]).toEqual(all);
    await again.close();
  });
});
