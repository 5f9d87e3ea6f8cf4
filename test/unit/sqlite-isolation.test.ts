// The SQLite driver adapter lets a plain query run inside another request's open
// transaction. The writer/reader split must keep a rolled-back transaction from taking
// another request's write with it, and keep uncommitted data from any reader.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/infra/db.js";
import { createAnnouncementBus } from "../../src/infra/pubsub.js";
import { JournalService } from "../../src/modules/journal/journal.service.js";

let dir: string;
let db: Database;
let journal: JournalService;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "agent-hq-iso-"));
  db = await openDatabase(`file:${join(dir, "hq.db")}`);
  journal = new JournalService(db, createAnnouncementBus());
});
afterAll(async () => {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
});

it("a rollback never takes another request's write with it, and readers never see uncommitted rows", async () => {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let inserted!: () => void;
  const wasInserted = new Promise<void>((r) => (inserted = r));

  // Request 1: writes an agent and its journal row, holds the transaction open, then fails.
  const doomed = journal
    .write(async ({ tx, append }) => {
      const agent = await tx.agent.create({ data: { name: "doomed" } });
      await append({ actorId: agent.id, kind: "test.doomed", subjectType: "Agent", subjectId: agent.id });
      inserted();
      await held;
      throw new Error("roll back");
    })
    .catch((e: Error) => e.message);

  await wasInserted;
  // While it is open: readers see nothing of it...
  expect(await db.reader.agent.findUnique({ where: { name: "doomed" } })).toBeNull();
  expect(await db.reader.journalEvent.count({ where: { kind: "test.doomed" } })).toBe(0);
  // ...and request 2's write queues behind it instead of joining it.
  const survivor = journal.write(async ({ tx, append }) => {
    const agent = await tx.agent.create({ data: { name: "survivor" } });
    await append({ actorId: agent.id, kind: "test.survivor", subjectType: "Agent", subjectId: agent.id });
    return agent;
  });
  release();
  expect(await doomed).toBe("roll back");
  await survivor;

  expect(await db.reader.agent.findUnique({ where: { name: "doomed" } })).toBeNull();
  expect(await db.reader.journalEvent.count({ where: { kind: "test.doomed" } })).toBe(0);
  expect(await db.reader.agent.findUnique({ where: { name: "survivor" } })).not.toBeNull();
  expect(await db.reader.journalEvent.count({ where: { kind: "test.survivor" } })).toBe(1);
});

it("many concurrent writes with deliberate rollbacks: every commit kept, none of the rolled back seen, journal cursors in order", async () => {
  const outcomes = await Promise.allSettled(
    Array.from({ length: 200 }, (_, i) =>
      journal.write(async ({ tx, append }) => {
        const agent = await tx.agent.create({ data: { name: `w${i}` } });
        await append({ actorId: agent.id, kind: "test.write", subjectType: "Agent", subjectId: agent.id, payload: { i } });
        if (i % 7 === 0) throw new Error("deliberate");
        return i;
      }),
    ),
  );
  const committed = outcomes.filter((o) => o.status === "fulfilled").length;
  expect(committed).toBe(200 - Math.ceil(200 / 7));
  expect(await db.reader.agent.count({ where: { name: { startsWith: "w" } } })).toBe(committed);
  const rows = await db.reader.journalEvent.findMany({ where: { kind: "test.write" }, orderBy: { id: "asc" } });
  expect(rows).toHaveLength(committed);
  expect(rows.some((r) => (r.payload as { i: number }).i % 7 === 0)).toBe(false);
});
