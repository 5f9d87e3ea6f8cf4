// The journal tailer reads every commit's rows straight through the driver
// (JournalService.readAllAfter, Database.readRows), not through Prisma. Its rows must be
// the rows Prisma reads: numbers, Dates in UTC, parsed JSON payloads, nulls. Run with a
// time zone other than UTC, where reading PostgreSQL's zone-less timestamps as local time
// would move every date. Last, the rule that lets the tailer read by cursor at all: a
// journal id is drawn only once appends are ordered (Dialect.orderJournalAppends).
import { afterAll, beforeAll, expect, it } from "vitest";
import { Prisma } from "../../src/generated/prisma/client.js";
import { JournalService } from "../../src/modules/journal/journal.service.js";
import { createAnnouncementBus } from "../../src/infra/pubsub.js";
import { openFreshDatabase } from "../helpers/server.js";

const database = openFreshDatabase();
const zone = process.env.TZ;
beforeAll(() => {
  process.env.TZ = "America/Sao_Paulo";
});
afterAll(() => {
  if (zone === undefined) delete process.env.TZ;
  else process.env.TZ = zone;
});

it("reads the rows Prisma reads, and the same head", async () => {
  expect(new Date(2026, 0, 1).getTimezoneOffset()).not.toBe(0);
  const journal = new JournalService(database(), createAnnouncementBus());
  expect(await journal.head()).toBe(0);
  expect(await journal.readAllAfter(0, 10)).toEqual([]);

  const agent = await database().write((tx) => tx.agent.create({ data: { name: "journal-reader" } }));
  const team = await database().write((tx) => tx.team.create({ data: { name: "journal-team", leadId: agent.id, createdById: agent.id } }));
  await journal.write(({ append }) =>
    append(
      { teamId: team.id, actorId: agent.id, kind: "task.created", subjectType: "task", subjectId: "t1", payload: { number: 1, title: "naïve \u{1F600} \"quoted\"", nested: { list: [1, null, true] } } },
      { recipientId: agent.id, actorId: null, kind: "notice", subjectType: "message", subjectId: "m1" },
    ),
  );
  await journal.write(({ append }) => append({ teamId: team.id, actorId: agent.id, kind: "task.updated", subjectType: "task", subjectId: "t1", payload: { progress: 30 } }));

  const viaPrisma = await database().reader.journalEvent.findMany({ orderBy: { id: "asc" } });
  expect(viaPrisma).toHaveLength(3);
  expect(await journal.readAllAfter(0, 10)).toEqual(viaPrisma);
  expect(await journal.readAllAfter(viaPrisma[0]!.id, 1)).toEqual([viaPrisma[1]]);
  expect(await journal.head()).toBe(viaPrisma[2]!.id);
  // Stored as UTC: within a minute of now, whatever the zone.
  const [first] = await journal.readAllAfter(0, 1);
  expect(first!.createdAt).toBeInstanceOf(Date);
  expect(Math.abs(first!.createdAt.getTime() - Date.now())).toBeLessThan(60_000);
});

it("reads a zone-less timestamp as UTC", async () => {
  const [row] = await database().readRows<{ at: Date }>(Prisma.sql`SELECT "createdAt" AS "at" FROM "JournalEvent" ORDER BY "id" LIMIT 1`);
  const [prisma] = await database().reader.journalEvent.findMany({ orderBy: { id: "asc" }, take: 1 });
  expect(row!.at).toEqual(prisma!.createdAt);
});

it("a journal id is drawn only once appends are ordered: a write that waited for another's commit gets an id after all of that one's rows", async () => {
  const db = database();
  const journal = new JournalService(db, createAnnouncementBus());
  const entry = (subjectId: string) => ({ actorId: null, kind: "test.ordered", subjectType: "test", subjectId });
  const first = journal.write(async ({ append }) => {
    const [one] = await append(entry("first-1"));
    // The second write's insert starts now and must wait for this transaction's lock.
    const second = journal.write(({ append: appendSecond }) => appendSecond(entry("second")));
    // SQLite runs one transaction at a time: the second write waits in the queue for the
    // next one. On PostgreSQL it runs at once, and its insert waits for the appends' lock.
    while (db.dialect.name === "postgres") {
      const [locks] = await db.reader.$queryRawUnsafe<{ waiting: number }[]>(`SELECT count(*)::int AS "waiting" FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
      if (locks!.waiting > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const [two] = await append(entry("first-2"));
    return { ids: [one!.id, two!.id], second };
  });
  const { ids, second } = await first;
  const [secondRow] = await second;
  // Drawn before the lock, the second write's id would fall between the first's two rows
  // and become visible after the later of them: a tailer past it would skip it.
  expect(secondRow!.id).toBeGreaterThan(Math.max(...ids));
});
