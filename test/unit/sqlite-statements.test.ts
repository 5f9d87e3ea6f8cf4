// infra/sqlite-connection.ts keeps the SQLite adapter's compiled statements by their SQL (a patch of the
// adapter's `prepare`). This fails when an adapter upgrade makes the patch stop applying:
// a statement compiled again for the same SQL, or the adapter no longer shaped as it assumes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/infra/db.js";

const SQL = `SELECT ? + 1 AS "next" /* sqlite-statements test */`;
let dir: string;
let db: Database;
/** Compilations of SQL by better-sqlite3, counted on the real Database's prototype. */
let compiled = 0;
const original = BetterSqlite3.prototype.prepare;

beforeAll(async () => {
  BetterSqlite3.prototype.prepare = function (this: BetterSqlite3.Database, sql: string) {
    if (sql === SQL) compiled++;
    return original.call(this, sql);
  } as typeof original;
  dir = mkdtempSync(join(tmpdir(), "agent-hq-statements-"));
  db = await openDatabase(`file:${join(dir, "hq.db")}`);
});
afterAll(async () => {
  BetterSqlite3.prototype.prepare = original;
  await db?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("compiles a repeated SQL text once and binds each call's own arguments", async () => {
  const next = async (n: number) => (await db.reader.$queryRawUnsafe<{ next: number | bigint }[]>(SQL, n))[0]!.next;
  expect(Number(await next(1))).toBe(2);
  expect(Number(await next(41))).toBe(42);
  expect(Number(await next(-1))).toBe(0);
  expect(compiled).toBe(1);
});

it("serves Prisma's own reads and writes through the kept statements", async () => {
  await db.write((tx) => tx.agent.create({ data: { name: "kept-1" } }));
  await db.write((tx) => tx.agent.create({ data: { name: "kept-2" } }));
  const names = await db.reader.agent.findMany({ where: { name: { startsWith: "kept-" } }, orderBy: { name: "asc" }, select: { name: true } });
  expect(names.map((a) => a.name)).toEqual(["kept-1", "kept-2"]);
  expect(await db.reader.agent.count({ where: { name: "kept-2" } })).toBe(1);
});
