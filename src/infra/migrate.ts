// Applies the committed migrations (prisma/migrations/<provider>/<folder>/migration.sql)
// at start and from `npm run migrate`, recording them in `_prisma_migrations` exactly as
// Prisma's schema engine does (same table, columns, checksum and timestamp formats), so
// `prisma migrate deploy`, the engine and this applier can each take over a database
// another one started.
//
// Why not the engine itself: instantiating its 5 MB wasm module at every start cost about
// 0.6 s and 40–50 MB of resident memory to run a few scripts (measured). The engine is
// still used to write new migrations (`diffSchemas`, for scripts/new-migration.ts); see
// shared/notes/prisma-on-these-machines.md for how it is loaded.
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";
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

// ---------------------------------------------------------------------------------
// The applier used at start

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

// ---------------------------------------------------------------------------------
// Prisma's schema engine (wasm): writes new migrations; loaded only when asked for.

/** Reads a provider's migration folders in the form the schema engine takes. */
export async function readMigrations(provider: Provider): Promise<MigrationList> {
  const baseDir = migrationsDir(provider);
  const lockPath = join(baseDir, "migration_lock.toml");
  return {
    baseDir,
    lockfile: { path: "migration_lock.toml", content: await readFile(lockPath, "utf8").catch(() => null) },
    shadowDbInitScript: "",
    migrationDirectories: await Promise.all(
      (await migrationNames(baseDir)).map(async (path) => ({
        path,
        migrationFile: {
          path: "migration.sql",
          content: await readFile(join(baseDir, path, "migration.sql"), "utf8").then(
            (value) => ({ tag: "ok" as const, value }),
            (e: Error) => ({ tag: "error" as const, value: e.message }),
          ),
        },
      })),
    ),
  };
}

type EngineModule = typeof import("@prisma/schema-engine-wasm");
let engineModule: Promise<EngineModule> | undefined;

/** Loads the wasm by hand: the package points Node's ESM loader at a raw .wasm file. */
function loadEngineModule() {
  engineModule ??= (async () => {
    const require = createRequire(join(projectRoot, "package.json"));
    const bgPath = require.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
    const bg = await import("@prisma/schema-engine-wasm/schema_engine_bg");
    const bytes = await readFile(join(dirname(bgPath), "schema_engine_bg.wasm"));
    const { instance } = await WebAssembly.instantiate(bytes, { "./schema_engine_bg.js": bg });
    const glue = bg as unknown as { __wbg_set_wasm(exports: unknown): void };
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports as { __wbindgen_start?: () => void }).__wbindgen_start?.();
    return bg as unknown as EngineModule;
  })();
  return engineModule;
}

/**
 * An adapter factory for the engine that remembers every connection it opens (the
 * engine's `free()` does not close them) and, on SQLite, runs multi-statement
 * migration scripts through `executeScript` (better-sqlite3 refuses them in `executeRaw`).
 */
async function engineAdapterFactory(provider: Provider, url: string) {
  const { bindMigrationAwareSqlAdapterFactory } = await import("@prisma/driver-adapter-utils");
  const base: SqlMigrationAwareDriverAdapterFactory =
    provider === "sqlite"
      ? new (await import("@prisma/adapter-better-sqlite3")).PrismaBetterSqlite3({ url: sqlitePath(url) })
      : new (await import("@prisma/adapter-pg")).PrismaPg({ connectionString: url });
  const opened: SqlDriverAdapter[] = [];
  const wrap = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    opened.push(adapter);
    if (provider !== "sqlite") return adapter;
    const executeRaw = adapter.executeRaw.bind(adapter);
    adapter.executeRaw = async (query) => {
      if (query.args.length === 0 && /;\s*\S/.test(query.sql)) {
        await adapter.executeScript(query.sql);
        return 0;
      }
      return executeRaw(query);
    };
    return adapter;
  };
  const factory: SqlMigrationAwareDriverAdapterFactory = {
    provider: base.provider,
    adapterName: base.adapterName,
    connect: async () => wrap(await base.connect()),
    connectToShadowDb: async () => {
      // Never let the engine near a shadow database: on PostgreSQL the adapter's shadow
      // connection was measured to point at the main database.
      throw new Error("agent-hq does not use a shadow database");
    },
  };
  return {
    factory: bindMigrationAwareSqlAdapterFactory(factory),
    dispose: () => Promise.all(opened.map((a) => a.dispose().catch(() => undefined))),
  };
}

async function withEngine<T>(provider: Provider, url: string, fn: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  const { SchemaEngine } = await loadEngineModule();
  const { factory, dispose } = await engineAdapterFactory(provider, url);
  const schema = await readFile(schemaPath(provider), "utf8");
  const logs: string[] = [];
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath(provider), schema]] }, (log: string) => logs.push(log), factory);
  try {
    return await fn(engine);
  } catch (error) {
    const detail = (factory as { errorRegistry?: { consumeError(id: number): unknown } }).errorRegistry?.consumeError(0);
    throw new Error(`migration failed: ${errorText(error)}${detail ? ` (${errorText(detail)})` : ""}`, { cause: error });
  } finally {
    engine.free();
    await dispose();
  }
}

function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return typeof e === "string" ? e : JSON.stringify(e);
}

/**
 * Applies pending migrations through the engine, as the server did before it had its
 * own applier. Kept to check that both write the same history (test/unit/migrate.test.ts).
 */
export async function applyMigrationsWithEngine(provider: Provider, url: string): Promise<string[]> {
  if (provider === "sqlite") mkdirSync(dirname(resolve(sqlitePath(url))), { recursive: true });
  const migrationsList = await readMigrations(provider);
  return withEngine(provider, url, async (engine) => {
    const out = await engine.applyMigrations({ migrationsList, filters: { externalTables: [], externalEnums: [] } });
    return out.appliedMigrationNames;
  });
}

/** The SQL that takes a database from `fromSchema` (null: empty) to `toSchema`. */
export async function diffSchemas(provider: Provider, url: string, fromSchema: string | null, toSchema: string) {
  return withEngine(provider, url, async (engine) => {
    const file = (content: string) => ({ files: [{ path: schemaPath(provider), content }] });
    const out = await engine.diff({
      from: fromSchema === null ? { tag: "empty" } : { tag: "schemaDatamodel", ...file(fromSchema) },
      to: { tag: "schemaDatamodel", ...file(toSchema) },
      script: true,
      exitCode: null,
      filters: { externalTables: [], externalEnums: [] },
    });
    return out.stdout ?? "";
  });
}
