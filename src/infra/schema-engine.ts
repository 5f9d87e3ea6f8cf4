// Prisma's schema engine (wasm), used at development time only: it writes new migrations
// (`diffSchemas`, for scripts/new-migration.ts) and checks that the start-time applier
// (migrate.ts) writes the same history as it does (test/unit/migrate.test.ts). Nothing the
// server runs imports this file; see shared/notes/prisma-on-these-machines.md for how the
// wasm is loaded.
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import type { MigrationList, SchemaEngine } from "@prisma/schema-engine-wasm";
import { migrationNames, migrationsDir, schemaPath, sqlitePath, type Provider } from "./migrate.js";
import { projectRoot } from "./project-root.js";

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
