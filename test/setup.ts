// Registered for every test file (vitest.config.ts setupFiles).
import { beforeEach, inject } from "vitest";

// Asked for PostgreSQL on a machine without it: skip rather than pass on SQLite.
if (process.env.TEST_DB === "postgres" && !inject("postgresUrl")) {
  beforeEach((ctx) => ctx.skip("PostgreSQL is not installed"));
}
