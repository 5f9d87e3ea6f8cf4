// SQLite commits concurrent writes together (src/infra/sqlite-connection.ts, groupCommits): writes that
// arrive while a transaction runs share the next one, each in a savepoint of its own. A
// write that fails must take nothing of the others with it, and leave nothing behind.
import { expect, it } from "vitest";
import { openFreshDatabase } from "../helpers/server.js";

const database = openFreshDatabase();

it("writes arriving together commit together; a failing one rolls back alone and is answered with its own error", async ({ skip }) => {
  if (database().dialect.name !== "sqlite") skip("PostgreSQL runs concurrent writes in transactions of their own");
  const before = database().transactions();
  // Called in one turn: the first starts a transaction at once, the rest wait for it and share the next.
  const writes = Array.from({ length: 20 }, (_, i) =>
    database().write(async (tx) => {
      const agent = await tx.agent.create({ data: { name: `grouped-${i}` } });
      if (i % 7 === 3) throw new Error(`write ${i} refused after writing`);
      return agent.name;
    }),
  );
  const outcomes = await Promise.allSettled(writes);
  expect(database().transactions() - before).toBe(2);
  outcomes.forEach((outcome, i) => {
    if (i % 7 === 3) expect(outcome).toEqual({ status: "rejected", reason: new Error(`write ${i} refused after writing`) });
    else expect(outcome).toEqual({ status: "fulfilled", value: `grouped-${i}` });
  });
  const stored = (await database().reader.agent.findMany({ where: { name: { startsWith: "grouped-" } }, select: { name: true } })).map((a) => a.name).sort();
  expect(stored).toEqual(outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [`grouped-${i}`] : [])).sort());
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
