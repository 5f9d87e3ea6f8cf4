// SQLite commits concurrent writes together (src/infra/db.ts, groupCommits): writes that
// arrive while a transaction runs share the next one, each in a savepoint of its own. A
// write that fails must take nothing of the others with it, and leave nothing behind.
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/infra/db.js";
import { freshDatabase } from "../helpers/server.js";

let db: Database;
let cleanup: () => void;
beforeAll(async () => {
  const fresh = await freshDatabase();
  cleanup = fresh.cleanup;
  db = await openDatabase(fresh.url);
});
afterAll(async () => {
  await db.close();
  cleanup();
});

it("writes arriving together commit together; a failing one rolls back alone and is answered with its own error", async ({ skip }) => {
  if (db.dialect.name !== "sqlite") skip("PostgreSQL runs concurrent writes in transactions of their own");
  const before = db.transactions();
  // Called in one turn: the first starts a transaction at once, the rest wait for it and share the next.
  const writes = Array.from({ length: 20 }, (_, i) =>
    db.write(async (tx) => {
      const agent = await tx.agent.create({ data: { name: `grouped-${i}` } });
      if (i % 7 === 3) throw new Error(`write ${i} refused after writing`);
      return agent.name;
    }),
  );
  const outcomes = await Promise.allSettled(writes);
  expect(db.transactions() - before).toBe(2);
  outcomes.forEach((outcome, i) => {
    if (i % 7 === 3) expect(outcome).toEqual({ status: "rejected", reason: new Error(`write ${i} refused after writing`) });
    else expect(outcome).toEqual({ status: "fulfilled", value: `grouped-${i}` });
  });
  const stored = (await db.reader.agent.findMany({ where: { name: { startsWith: "grouped-" } }, select: { name: true } })).map((a) => a.name).sort();
  expect(stored).toEqual(outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [`grouped-${i}`] : [])).sort());
});

it("a write whose statement fails (a unique name taken in the same group) rolls back alone", async () => {
  const writes = ["dup", "dup", "other"].map((name, i) => db.write((tx) => tx.agent.create({ data: { name: `unique-${name}`, description: `write ${i}` } })));
  expect((await Promise.allSettled(writes)).map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  const stored = await db.reader.agent.findMany({ where: { name: { startsWith: "unique-" } }, orderBy: { name: "asc" }, select: { name: true, description: true } });
  expect(stored).toEqual([
    { name: "unique-dup", description: "write 0" },
    { name: "unique-other", description: "write 2" },
  ]);
});
