// SQLite commits concurrent writes together (src/infra/sqlite-connection.ts, groupCommits): writes that
// arrive while a transaction runs share the next one, each in a savepoint of its own. A
// write that fails must take nothing of the others with it, and leave nothing behind.
import { expect, it } from "vitest";
import { openFreshDatabase } from "../helpers/server.js";

const database = openFreshDatabase();

it("writes arriving together commit together; a failing one rolls back alone and is answered with its own error", async ({ skip }) => {
  if (database().dialect.name !== "sqlite") skip("PostgreSQL runs concurrent writes in transactions of their own");
  const before = database().transactions();
  // Called in one turn of the event loop: they share one transaction, which starts after the turn.
  const writes = Array.from({ length: 20 }, (_, i) =>
    database().write(async (tx) => {
      const agent = await tx.agent.create({ data: { name: `grouped-${i}` } });
      if (i % 7 === 3) throw new Error(`write ${i} refused after writing`);
      return agent.name;
    }),
  );
  const outcomes = await Promise.allSettled(writes);
  expect(database().transactions() - before).toBe(1);
  outcomes.forEach((outcome, i) => {
    if (i % 7 === 3) expect(outcome).toEqual({ status: "rejected", reason: new Error(`write ${i} refused after writing`) });
    else expect(outcome).toEqual({ status: "fulfilled", value: `grouped-${i}` });
  });
  const stored = (await database().reader.agent.findMany({ where: { name: { startsWith: "grouped-" } }, select: { name: true } })).map((a) => a.name).sort();
  expect(stored).toEqual(outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [`grouped-${i}`] : [])).sort());
});

it("writes arriving while a transaction runs share the next one (on PostgreSQL each has its own)", async () => {
  const before = database().transactions();
  let started!: () => void;
  const firstRunning = new Promise<void>((resolve) => (started = resolve));
  let finish!: () => void;
  const held = new Promise<void>((resolve) => (finish = resolve));
  const first = database().write(async (tx) => {
    started();
    await held;
    return (await tx.agent.create({ data: { name: "queued-first" } })).name;
  });
  await firstRunning;
  const later = ["queued-a", "queued-b", "queued-c"].map((name) => database().write(async (tx) => (await tx.agent.create({ data: { name } })).name));
  finish();
  expect(await Promise.all([first, ...later])).toEqual(["queued-first", "queued-a", "queued-b", "queued-c"]);
  expect(database().transactions() - before).toBe(database().dialect.name === "sqlite" ? 2 : 4);
});

it("a write whose statement fails (a unique name taken in the same group) rolls back alone", async () => {
  const writes = ["dup", "dup", "other"].map((name, i) => database().write((tx) => tx.agent.create({ data: { name: `unique-${name}`, description: `write ${i}` } })));
  const outcomes = (await Promise.allSettled(writes)).map((o) => o.status);
  // SQLite: the first in arrival order wins; PostgreSQL: whichever commits first.
  expect(outcomes[2]).toBe("fulfilled");
  expect([outcomes[0], outcomes[1]].sort()).toEqual(["fulfilled", "rejected"]);
  const stored = await database().reader.agent.findMany({ where: { name: { startsWith: "unique-" } }, orderBy: { name: "asc" }, select: { name: true, description: true } });
  expect(stored).toEqual([
    { name: "unique-dup", description: `write ${outcomes.indexOf("fulfilled")}` },
    { name: "unique-other", description: "write 2" },
  ]);
});
