// The migration applier used at start (src/infra/migrate.ts) against Prisma's schema
// engine (src/infra/schema-engine.ts), which applied migrations before it: the same
// schema, the same `_prisma_migrations` rows, and each takes over a database the other migrated.
// Runs on SQLite, and on PostgreSQL with TEST_DB=postgres.
import { execFileSync } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openDatabase } from "../../src/infra/db.js";
import { applyMigrations, migrationNames, migrationsDir, type Provider } from "../../src/infra/migrate.js";
import { applyMigrationsWithEngine } from "../../src/infra/schema-engine.js";
import { postgresBinDir } from "../helpers/postgres-cluster.js";

const postgresUrl = inject("postgresUrl");
const provider: Provider = postgresUrl ? "postgres" : "sqlite";
const repoDir = migrationsDir(provider);
const names = await migrationNames(repoDir);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "agent-hq-migrate-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A new empty database of the provider under test. */
async function freshDatabase(provider_ = provider): Promise<string> {
  if (provider_ === "sqlite") return `file:${join(dir, randomUUID(), "hq.db")}`;
  const name = `m_${randomUUID().replace(/-/g, "")}`;
  await query(postgresUrl!, `CREATE DATABASE "${name}"`);
  return postgresUrl!.replace(/\/[^/]*$/, `/${name}`);
}

async function query<T = Record<string, unknown>>(url: string, sql: string): Promise<T[]> {
  if (url.startsWith("file:")) {
    const db = new Sqlite(url.slice("file:".length));
    try {
      return /^\s*(select|pragma)/i.test(sql) ? (db.prepare(sql).all() as T[]) : (db.exec(sql), []);
    } finally {
      db.close();
    }
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** Tables, indexes, triggers, constraints: everything but the data. */
function schemaOf(url: string): string | Promise<string> {
  if (url.startsWith("file:")) {
    return query<{ sql: string | null }>(url, `SELECT type, name, sql FROM sqlite_master ORDER BY type, name`).then((rows) => JSON.stringify(rows, null, 1));
  }
  const dump = execFileSync(join(postgresBinDir()!, "pg_dump"), ["--schema-only", "--no-owner", url], { encoding: "utf8" });
  // Drop comments and the random \restrict keys newer pg_dump versions print.
  return dump.split("\n").filter((l) => !l.startsWith("--") && !l.startsWith("\\")).join("\n");
}

interface Row {
  id: string;
  checksum: string;
  finished_at: unknown;
  migration_name: string;
  logs: unknown;
  rolled_back_at: unknown;
  started_at: unknown;
  applied_steps_count: unknown;
}

async function historyOf(url: string): Promise<Row[]> {
  return query<Row>(url, `SELECT * FROM _prisma_migrations ORDER BY migration_name`);
}

/** A row with what differs between two runs (ids, times) reduced to its form. */
function shape(row: Row) {
  const form = (v: unknown) => (v instanceof Date ? "Date" : typeof v === "string" ? v.replace(/\d/g, "9") : v);
  expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  expect(new Date(row.started_at as string).getTime()).toBeLessThanOrEqual(new Date(row.finished_at as string).getTime());
  return { ...row, id: "uuid", started_at: form(row.started_at), finished_at: form(row.finished_at) };
}

const sha256 = (name: string, base = repoDir) => createHash("sha256").update(readFileSync(join(base, name, "migration.sql"))).digest("hex");

describe(`migrations on ${provider}`, () => {
  let engineUrl: string;
  beforeAll(async () => {
    engineUrl = await freshDatabase();
    expect(await applyMigrationsWithEngine(provider, engineUrl)).toEqual(names);
  });

  it("a fresh database gets every migration, with the schema and history rows the engine writes", async () => {
    const url = await freshDatabase();
    expect(await applyMigrations(provider, url)).toEqual(names);

    expect(await schemaOf(url)).toEqual(await schemaOf(engineUrl));
    const ours = await historyOf(url);
    const engines = await historyOf(engineUrl);
    expect(ours.map((r) => r.migration_name)).toEqual(names);
    expect(ours.map((r) => r.checksum)).toEqual(names.map((n) => sha256(n)));
    expect(ours.map(shape)).toEqual(engines.map(shape));
    expect(ours[0]).toMatchObject({ logs: null, rolled_back_at: null, applied_steps_count: 1 });
  });

  it("running again applies nothing and changes nothing", async () => {
    const url = await freshDatabase();
    await applyMigrations(provider, url);
    const before = await historyOf(url);
    expect(await applyMigrations(provider, url)).toEqual([]);
    expect(await historyOf(url)).toEqual(before);
  });

  it("takes over a database the engine migrated, and the engine takes over ours", async () => {
    const before = await historyOf(engineUrl);
    expect(await applyMigrations(provider, engineUrl)).toEqual([]);
    expect(await historyOf(engineUrl)).toEqual(before);
    const db = await openDatabase(engineUrl, { migrate: false });
    try {
      expect(await db.isReady()).toBe(true);
    } finally {
      await db.close();
    }

    const ours = await freshDatabase();
    await applyMigrations(provider, ours);
    expect(await applyMigrationsWithEngine(provider, ours)).toEqual([]);
  });

  it("applies only what is pending, in order, after the earlier migrations", async () => {
    const partial = join(dir, randomUUID());
    for (const name of names.slice(0, 2)) cpSync(join(repoDir, name), join(partial, name), { recursive: true });
    const url = await freshDatabase();
    expect(await applyMigrations(provider, url, partial)).toEqual(names.slice(0, 2));
    expect(await applyMigrations(provider, url)).toEqual(names.slice(2));
    expect((await historyOf(url)).map((r) => r.migration_name)).toEqual(names);
  });

  it("a failing migration leaves neither its changes nor a row, and applies once fixed", async () => {
    const folder = join(dir, randomUUID());
    cpSync(repoDir, folder, { recursive: true });
    const bad = join(folder, "29991231000000_broken");
    mkdirSync(bad);
    writeFileSync(join(bad, "migration.sql"), `CREATE TABLE "Half" ("id" INTEGER PRIMARY KEY);\nINSERT INTO "NoSuchTable" VALUES (1);\n`);
    const url = await freshDatabase();

    await expect(applyMigrations(provider, url, folder)).rejects.toThrow(/migration 29991231000000_broken failed: .*NoSuchTable/);
    expect((await historyOf(url)).map((r) => r.migration_name)).toEqual(names);
    await expect(query(url, `SELECT * FROM "Half"`)).rejects.toThrow();

    writeFileSync(join(bad, "migration.sql"), `CREATE TABLE "Half" ("id" INTEGER PRIMARY KEY);\n`);
    expect(await applyMigrations(provider, url, folder)).toEqual(["29991231000000_broken"]);
    expect((await historyOf(url)).at(-1)).toMatchObject({ migration_name: "29991231000000_broken", checksum: sha256("29991231000000_broken", folder) });
  });

  it("refuses to go on past a migration recorded as failed, as the engine does", async () => {
    const url = await freshDatabase();
    await applyMigrations(provider, url);
    await query(url, `UPDATE _prisma_migrations SET finished_at = NULL, logs = 'boom' WHERE migration_name = '${names.at(-1)}'`);
    await expect(applyMigrations(provider, url)).rejects.toThrow(new RegExp(`${names.at(-1)} failed earlier`));
  });

  it("instances starting together apply each migration once", async () => {
    const url = await freshDatabase();
    const results = await Promise.all([1, 2, 3].map(() => applyMigrations(provider, url)));
    expect(results.flat().sort()).toEqual(names);
    expect((await historyOf(url)).map((r) => r.migration_name)).toEqual(names);
  });
});

describe("SQLite table rebuilds", () => {
  it("keep the rows of child tables (foreign keys are off while a migration runs)", async () => {
    const sqliteNames = await migrationNames(migrationsDir("sqlite"));
    // The second migration rebuilds "Team", whose members cascade on delete.
    expect(readFileSync(join(migrationsDir("sqlite"), sqliteNames[1]!, "migration.sql"), "utf8")).toMatch(/DROP TABLE "Team"/);
    const first = join(dir, randomUUID());
    cpSync(join(migrationsDir("sqlite"), sqliteNames[0]!), join(first, sqliteNames[0]!), { recursive: true });
    const url = await freshDatabase("sqlite");
    await applyMigrations("sqlite", url, first);
    await query(
      url,
      `INSERT INTO "Agent" ("id", "name") VALUES ('a1', 'lead');
       INSERT INTO "Team" ("id", "name", "leadId", "createdById", "updatedAt") VALUES ('t1', 'team', 'a1', 'a1', CURRENT_TIMESTAMP);
       INSERT INTO "TeamMember" ("teamId", "agentId", "role") VALUES ('t1', 'a1', 'lead');`,
    );

    expect(await applyMigrations("sqlite", url)).toEqual(sqliteNames.slice(1));
    expect(await query(url, `SELECT "teamId", "agentId" FROM "TeamMember"`)).toEqual([{ teamId: "t1", agentId: "a1" }]);
    expect(await query(url, `SELECT "id", "nextTaskNumber" FROM "Team"`)).toEqual([{ id: "t1", nextTaskNumber: 1 }]);
    expect(await query(url, `PRAGMA foreign_key_check`)).toEqual([]);
  });

  it("refuse a migration that leaves a foreign key violation", async () => {
    const folder = join(dir, randomUUID());
    cpSync(migrationsDir("sqlite"), folder, { recursive: true });
    const bad = join(folder, "29991231000000_orphan");
    mkdirSync(bad);
    writeFileSync(join(bad, "migration.sql"), `INSERT INTO "TeamMember" ("teamId", "agentId", "role") VALUES ('nope', 'nobody', 'x');\n`);
    const url = await freshDatabase("sqlite");
    await expect(applyMigrations("sqlite", url, folder)).rejects.toThrow(/29991231000000_orphan failed: .*foreign key/);
    expect(await query(url, `SELECT * FROM "TeamMember"`)).toEqual([]);
  });
});
