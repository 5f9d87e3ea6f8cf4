// With TEST_DB=postgres, starts one private PostgreSQL cluster for the whole run; each
// test server gets a fresh database in it. Without PostgreSQL installed it says so and
// the suites run on SQLite.
import type { TestProject } from "vitest/node";
import { postgresBinDir, startPostgresCluster } from "./helpers/postgres-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string | null;
  }
}

export default async function setup(project: TestProject) {
  if (process.env.TEST_DB !== "postgres") {
    project.provide("postgresUrl", null);
    return;
  }
  if (!postgresBinDir()) {
    console.warn("\n[agent-hq] TEST_DB=postgres but PostgreSQL is not installed (apt-get install -y postgresql): the PostgreSQL run is SKIPPED.\n");
    project.provide("postgresUrl", null);
    return;
  }
  const cluster = await startPostgresCluster();
  console.log(`\n[agent-hq] tests run on PostgreSQL (private cluster at ${cluster.url})\n`);
  project.provide("postgresUrl", cluster.url);
  return () => cluster.stop();
}
