// Applies the committed migrations (prisma/migrations/<provider>/<folder>/migration.sql)
// at start and from `npm run migrate`, recording them in `_prisma_migrations` exactly as
// Prisma's schema engine does (same table, columns, checksum and timestamp formats), so
// `prisma migrate deploy`, the engine and this applier can each take over a database
// another one started.
//
// Why not the engine itself: instantiating its 5 MB wasm module at every start cost about
// 0.6 s and 40–50 MB of resident memory to run a few scripts (measured). The engine is
// still used at development time, to write new migrations: schema-engine.ts.
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { projectRoot } from "./project-root.js";

export type Provider = "sqlite" | "postgres";

// From the project root, not this file: `npm start` runs a bundle in .build/.
const prismaDir = join(projectRoot, "prisma");
export const schemaPath = (provider: Provider) =>
  join(prismaDir, provider === "sqlite" ? "schema.prisma" : "postgres/schema.prisma");
export const migrationsDir = (provider: Provider) => join(prismaDir, "migrations", provider);

/** `file:./data/x.db` → `./data/x.db`, as better-sqlite3 wants it. */
export function sqlitePath(url: string): string {
  return url.replace(/^file:/, "");
}

/** Migration folder names in the order they apply (the timestamp prefix sorts them). */
export async function migrationNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
}

interface Migration {
  name: string;
  sql: string;
  /** SHA-256 of the file's bytes in lowercase hex, as the engine computes it. */
  checksum: string;
}

async function readMigrationFiles(dir: string): Promise<Migration[]> {
  return Promise.all(
    (await migrationNames(dir)).map(async (name) => {
      const bytes = await readFile(join(dir, name, "migration.sql"));
      return { name, sql: bytes.toString("utf8"), checksum: createHash("sha256").update(bytes).digest("hex") };
    }),
  );
}

// The table as the engine creates it, character for character (SQLite keeps the text
// in sqlite_master, so `.schema` shows the same thing whoever created it).
const sqliteTable = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    TEXT PRIMARY KEY NOT NULL,
    "checksum"              TEXT NOT NULL,
    "finished_at"           DATETIME,
    "migration_name"        TEXT NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        DATETIME,
    "started_at"            DATETIME NOT NULL DEFAULT current_timestamp,
    "applied_steps_count"   INTEGER UNSIGNED NOT NULL DEFAULT 0
)`;
const postgresTable = `CREATE TABLE IF NOT EXISTS _prisma_migrations (
    id                      VARCHAR(36) PRIMARY KEY NOT NULL,
    checksum                VARCHAR(64) NOT NULL,
    finished_at             TIMESTAMPTZ,
    migration_name          VARCHAR(255) NOT NULL,
    logs                    TEXT,
    rolled_back_at          TIMESTAMPTZ,
    started_at              TIMESTAMPTZ NOT NULL DEFAULT now(),
    applied_steps_count     INTEGER NOT NULL DEFAULT 0
)`;
const appliedQuery = `SELECT migration_name FROM _prisma_migrations WHERE rolled_back_at IS NULL`;
// Started but neither finished nor rolled back: the engine refuses to go on (P3009), so do we.
const failedQuery = `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NULL AND rolled_back_at IS NULL`;
// The engine inserts the row, runs the script, then sets applied_steps_count and
// finished_at; this is the row it ends with. The id is a random UUID there too.
const insertRow = (p: (n: number) => string) =>
  `INSERT INTO _prisma_migrations (id, checksum, finished_at, migration_name, logs, rolled_back_at, started_at, applied_steps_count)
   VALUES (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, NULL, NULL, ${p(5)}, 1)`;

function refuseFailed(failed: string[]) {
  if (failed.length === 0) return;
  throw new Error(
    `migration ${failed.join(", ")} failed earlier and is recorded as unfinished in _prisma_migrations; ` +
      `fix the database, then mark it (prisma migrate resolve) before new migrations can be applied`,
  );
}

function migrationError(name: string, error: unknown) {
  return new Error(`migration ${name} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * Applies every pending migration of `dir` (default: the repository's folder for the
 * provider), each in one transaction with its `_prisma_migrations` row, so a failed
 * migration leaves neither changes nor a row behind. Returns the names applied now.
 */
export async function applyMigrations(provider: Provider, url: string, dir = migrationsDir(provider)): Promise<string[]> {
  const migrations = await readMigrationFiles(dir);
  return provider === "sqlite" ? applySqlite(sqlitePath(url), migrations) : applyPostgres(url, migrations);
}

async function applySqlite(file: string, migrations: Migration[]): Promise<string[]> {
  if (file !== ":memory:") mkdirSync(dirname(resolve(file)), { recursive: true });
  const { default: Sqlite } = await import("better-sqlite3");
  // The busy timeout lets a second process starting on the same file wait its turn.
  const db = new Sqlite(file, { timeout: 10_000 });
  try {
    db.exec(sqliteTable);
    const names = (sql: string) => (db.prepare(sql).all() as { migration_name: string }[]).map((r) => r.migration_name);
    refuseFailed(names(failedQuery));
    const done = names(appliedQuery);
    const pending = migrations.filter((m) => !done.includes(m.name));
    if (pending.length === 0) return [];

    // Prisma's table rebuilds (DROP TABLE, then RENAME the new copy) switch foreign keys
    // off around themselves, but that PRAGMA is a no-op inside a transaction, and with
    // keys on, the DROP would cascade-delete the child tables' rows. So keys are off for
    // the whole connection and checked before each commit instead (SQLite's documented
    // procedure for schema changes).
    db.pragma("foreign_keys = OFF");
    const insert = db.prepare(insertRow(() => "?"));
    const applied: string[] = [];
    for (const m of pending) {
      // IMMEDIATE takes the write lock before looking: a process that migrated the same
      // file meanwhile has committed its row, and this one skips the migration.
      db.exec("BEGIN IMMEDIATE");
      try {
        if (names(appliedQuery).includes(m.name)) {
          db.exec("ROLLBACK");
          continue;
        }
        const startedAt = sqliteNow();
        db.exec(m.sql);
        const violations = db.pragma("foreign_key_check") as unknown[];
        if (violations.length > 0) throw new Error(`it leaves ${violations.length} foreign key violation(s): ${JSON.stringify(violations.slice(0, 3))}`);
        insert.run(randomUUID(), m.checksum, sqliteNow(), m.name, startedAt);
        db.exec("COMMIT");
        applied.push(m.name);
      } catch (error) {
        if (db.inTransaction) db.exec("ROLLBACK");
        throw migrationError(m.name, error);
      }
    }
    return applied;
  } finally {
    db.close();
  }
}

/** The engine's SQLite timestamps: ISO 8601 with milliseconds and `+00:00`. */
const sqliteNow = () => new Date().toISOString().replace(/Z$/, "+00:00");

async function applyPostgres(url: string, migrations: Migration[]): Promise<string[]> {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Prisma Migrate's own advisory lock key: instances starting together (and `prisma
    // migrate deploy`) apply one at a time; the next one then finds nothing pending.
    // Closing the session releases it.
    await client.query("SELECT pg_advisory_lock(72707369)");
    await client.query(postgresTable);
    const names = async (sql: string) => (await client.query<{ migration_name: string }>(sql)).rows.map((r) => r.migration_name);
    refuseFailed(await names(failedQuery));
    const done = await names(appliedQuery);
    const applied: string[] = [];
    for (const m of migrations.filter((m) => !done.includes(m.name))) {
      try {
        await client.query("BEGIN");
        const startedAt = new Date();
        // A query without parameters goes through the simple protocol, which runs a
        // whole multi-statement file at once. (Statements PostgreSQL refuses inside a
        // transaction block, such as CREATE INDEX CONCURRENTLY, cannot be used.)
        await client.query(m.sql);
        await client.query(insertRow((n) => `$${n}`), [randomUUID(), m.checksum, new Date(), m.name, startedAt]);
        await client.query("COMMIT");
        applied.push(m.name);
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw migrationError(m.name, error);
      }
    }
    return applied;
  } finally {
    await client.end();
  }
}
