// Applies pending migrations to DATABASE_URL (the server also does this at start).
//   npm run migrate
import { ConfigError, loadConfig } from "../src/config.js";
import { applyMigrations } from "../src/infra/migrate.js";
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { sqlitePath } from "../src/infra/migrate.js";

try {
  const config = loadConfig();
  if (config.database === "sqlite") mkdirSync(dirname(resolve(sqlitePath(config.DATABASE_URL))), { recursive: true });
  const applied = await applyMigrations(config.database, config.DATABASE_URL);
  console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
