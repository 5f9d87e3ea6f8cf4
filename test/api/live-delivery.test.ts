// What a graphql-ws client sees of the direct delivery of journal events (graphql/live.ts):
// plain text frames, and a cut-off with a cursor to resume from when it stops reading.
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveStats, MAX_UNSENT_BYTES } from "../../src/graphql/live.js";
import { createTeam, registerAgent } from "../helpers/client.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { waitUntil } from "../helpers/wait-until.js";

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.close());

const TEAM_EVENTS = `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor payload } }`;
const SET = `mutation($t: ID!, $v: JSON!) { setContext(scope: { teamId: $t }, key: "blob", value: $v) { version } }`;

interface Message {
  id?: string;
  type: string;
  payload?: any;
  /** Whether it came in a binary frame. */
  binary: boolean;
}

/** A graphql-transport-ws connection spoken directly, so that it can stop reading. */
async function rawClient(token: string) {
  const socket = new WebSocket(server.wsUrl, "graphql-transport-ws");
  const messages: Message[] = [];
  const listeners = new Set<() => void>();
  socket.on("message", (data, binary) => {
    messages.push({ ...JSON.parse(String(data)), binary });
    for (const listener of listeners) listener();
  });
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
  const waitFor = (found: () => boolean, what: string) => waitUntil(listeners, () => (found() ? { value: true } : undefined), 60_000, () => `no ${what} in ${messages.length} messages`);
  await waitFor(() => messages.some((m) => m.type === "connection_ack"), "connection_ack");
  return { socket, messages, waitFor };
}

/** The team's journal cursors after `after`, straight from the database. */
async function journalCursors(teamId: string, after: number): Promise<number[]> {
  const rows = await server.app.services.db.reader.journalEvent.findMany({ where: { teamId, id: { gt: after } }, orderBy: { id: "asc" }, select: { id: true } });
  return rows.map((r) => r.id);
}

describe("graphql-ws delivery", () => {
  it("sends events as text frames, whatever their size", async () => {
    const lead = await registerAgent(server, "text-lead");
    const teamId = await createTeam(lead, "text");
    const after = (await journalCursors(teamId, 0)).at(-1)!;
    const client = await rawClient(lead.token);
    try {
      client.socket.send(JSON.stringify({ id: "s", type: "subscribe", payload: { query: TEAM_EVENTS, variables: { t: teamId, after } } }));
      const values = ["x", "y".repeat(400), "z".repeat(65_500)];
      for (const value of values) await lead.ok(SET, { t: teamId, v: value });
      const nexts = () => client.messages.filter((m) => m.type === "next");
      await client.waitFor(() => nexts().length === values.length, "three events");
      expect(nexts().map((m) => [m.id, m.binary, m.payload.data.teamEvents.payload.value])).toEqual(values.map((v) => ["s", false, v]));
    } finally {
      client.socket.terminate();
    }
  });

  it(`cuts off a client that stops reading (over ${MAX_UNSENT_BYTES / 1024 / 1024} MB unsent) with CONFLICT and the cursor to resume from; resuming misses nothing`, async () => {
    const lead = await registerAgent(server, "slow-lead");
    const teamId = await createTeam(lead, "slow");
    const after = (await journalCursors(teamId, 0)).at(-1)!;
    const client = await rawClient(lead.token);
    const directBefore = liveStats().direct;
    // Many subscriptions on one socket: every event is sent once for each of them, which
    // fills the socket sooner.
    const ids = Array.from({ length: 16 }, (_, i) => `s${i}`);
    try {
      for (const id of ids) client.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query: TEAM_EVENTS, variables: { t: teamId, after } } }));
      await lead.ok(SET, { t: teamId, v: "first" });
      await client.waitFor(() => ids.every((id) => client.messages.some((m) => m.id === id && m.type === "next")), "first event on every subscription");
      // The client stops reading; events pile up until the server gives up on it.
      client.socket.pause();
      const big = "b".repeat(60_000);
      for (let i = 0; liveStats().direct > directBefore; i++) {
        if (i === 100) throw new Error("the subscriptions were never cut off");
        await lead.ok(SET, { t: teamId, v: `${i} ${big}` });
      }
      client.socket.resume();
      const endOf = (id: string) => client.messages.find((m) => m.id === id && m.type !== "next");
      await client.waitFor(() => ids.every(endOf), "end of every subscription");

      const written = await journalCursors(teamId, after);
      for (const id of ids) {
        const cursors = client.messages.filter((m) => m.id === id && m.type === "next").map((m) => m.payload.data.teamEvents.cursor as number);
        // In order, from the first, with no gap: the rest is what a resume brings.
        expect(cursors).toEqual(written.slice(0, cursors.length));
        expect(cursors.length).toBeLessThan(written.length);
        const end = endOf(id)!;
        expect(end.type).toBe("error");
        expect(end.payload[0].extensions).toMatchObject({ code: "CONFLICT", after: cursors.at(-1) });
      }

      const resumed = lead.subscribe("ws", `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor } }`, { t: teamId, after: endOf("s0")!.payload[0].extensions.after });
      const s0 = client.messages.filter((m) => m.id === "s0" && m.type === "next").length;
      try {
        for (const cursor of written.slice(s0)) expect((await resumed.next()).data.teamEvents.cursor).toBe(cursor);
      } finally {
        await resumed.close();
      }
    } finally {
      client.socket.terminate();
    }
  });
});

describe("subscribers of different agents", () => {
  it("share one execution an event when their selection reads the same for every viewer: the row and its actor", async () => {
    const lead = await registerAgent(server, "shared-lead");
    const members = await Promise.all(Array.from({ length: 8 }, (_, i) => registerAgent(server, `shared-${i}`)));
    const teamId = await createTeam(lead, "shared", members.map((m) => [m, "member"]));
    const after = (await journalCursors(teamId, 0)).at(-1)!;
    // The console's selection: an event with its actor.
    const query = `subscription($t: ID!, $after: Int) { teamEvents(teamId: $t, after: $after) { cursor kind actor { id name kind } } }`;
    const listening = server.app.services.tailer.stats().listeners;
    const clients = await Promise.all([lead, ...members].map((agent) => rawClient(agent.token)));
    try {
      for (const client of clients) client.socket.send(JSON.stringify({ id: "s", type: "subscribe", payload: { query, variables: { t: teamId, after } } }));
      // Every stream takes its rows from the tailer (the same row objects for all of them).
      await expect.poll(() => server.app.services.tailer.stats().listeners, { timeout: 60_000 }).toBeGreaterThanOrEqual(listening + clients.length);
      const executions = liveStats().executions;
      await lead.ok(SET, { t: teamId, v: "shared" });
      for (const client of clients) await client.waitFor(() => client.messages.some((m) => m.type === "next"), "the event");
      for (const client of clients) {
        expect(client.messages.filter((m) => m.type === "next").map((m) => m.payload.data.teamEvents)).toEqual([
          { cursor: after + 1, kind: "context.set", actor: { id: lead.id, name: lead.name, kind: "AGENT" } },
        ]);
      }
      // Nine subscribers, nine viewers, one event: executed once.
      expect(liveStats().executions - executions).toBe(1);
    } finally {
      for (const client of clients) client.socket.terminate();
    }
  });
});
