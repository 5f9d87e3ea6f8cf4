// Applies pending migrations to DATABASE_URL (the server also does this at start).
//   npm run migrate
import { ConfigError, loadConfig } from "../src/config.js";
import { applyMigrations } from "../src/infra/migrate.js";

try {
  const config = loadConfig();
  const applied = await applyMigrations(config.database, config.DATABASE_URL);
  console.log(applied.length ? `applied ${applied.length} migration(s): ${applied.join(", ")}` : "database is up to date");
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
}
