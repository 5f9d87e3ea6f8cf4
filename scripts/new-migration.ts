// Writes a new migration for both providers: the SQL that takes the schema as of the
// last migration (prisma/migrations/schema.snapshot.prisma) to the current
// prisma/schema.prisma, then moves the snapshot forward. No shadow database is used.
//   npm run migration:new -- add_tasks
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { migrationsDir, type Provider } from "../src/infra/migrate.js";
import { diffSchemas } from "../src/infra/schema-engine.js";
import { startPostgresCluster } from "../test/helpers/postgres-cluster.js";
import { derivePostgresSchema, sourcePath } from "./prisma-generate.js";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: npm run migration:new -- <name in snake_case>");
  process.exit(1);
}
const snapshotPath = join(migrationsDir("sqlite"), "..", "schema.snapshot.prisma");
const current = readFileSync(sourcePath, "utf8");
const snapshot = existsSync(snapshotPath) ? readFileSync(snapshotPath, "utf8") : null;
const stamp = new Date().toISOString().replace(/\D/g, "").slice(0, 14);
const folder = `${stamp}_${name}`;

// Diffing two schemas reads no data, but the engine connects anyway: give it a scratch
// SQLite in memory and a private PostgreSQL cluster.
const cluster = await startPostgresCluster();
const scratch: Record<Provider, string> = { sqlite: ":memory:", postgres: cluster.url };
try {
for (const provider of ["sqlite", "postgres"] as const) {
  const toPg = (s: string) => (provider === "postgres" ? derivePostgresSchema(s) : s);
  const sql = await diffSchemas(provider, scratch[provider], snapshot === null ? null : toPg(snapshot), toPg(current));
  if (!sql.trim() || /This is an empty migration/.test(sql)) {
    console.log(`${provider}: no changes`);
    continue;
  }
  const dir = join(migrationsDir(provider), folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "migration.sql"), sql);
  const lock = join(migrationsDir(provider), "migration_lock.toml");
  if (!existsSync(lock)) {
    writeFileSync(lock, `# Do not edit: written by scripts/new-migration.ts\nprovider = "${provider === "sqlite" ? "sqlite" : "postgresql"}"\n`);
  }
  console.log(`${provider}: wrote ${dir}/migration.sql`);
}
} finally {
  cluster.stop();
}
writeFileSync(snapshotPath, current);
