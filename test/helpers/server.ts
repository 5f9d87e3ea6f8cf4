// Starts the real server (HTTP, SSE and graphql-ws on one port) on a fresh database:
// a temp SQLite file, or with TEST_DB=postgres a new database in the private cluster.
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Sqlite from "better-sqlite3";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, inject } from "vitest";
import { createApp, type App } from "../../src/app.js";
import { loadConfig, type Config } from "../../src/config.js";
import { openDatabase, type Database } from "../../src/infra/db.js";
import { createAnnouncementBus } from "../../src/infra/pubsub.js";

export interface TestServer {
  url: string;
  wsUrl: string;
  databaseUrl: string;
  app: App;
  close(): Promise<void>;
}

/** A fresh database for one test server: SQLite in a temp folder, or PostgreSQL. */
export async function freshDatabase(): Promise<{ url: string; cleanup(): void }> {
  const postgres = inject("postgresUrl");
  if (postgres) {
    const name = `t_${randomUUID().replace(/-/g, "")}`;
    const { Client } = await import("pg");
    const admin = new Client({ connectionString: postgres });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${name}"`).finally(() => admin.end());
    return { url: postgres.replace(/\/[^/]*$/, `/${name}`), cleanup: () => {} };
  }
  const dir = mkdtempSync(join(tmpdir(), "agent-hq-test-"));
  return { url: `file:${join(dir, "hq.db")}`, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh database opened before a test file's tests, and closed and removed after them. */
export function openFreshDatabase(): () => Database {
  let db: Database;
  let cleanup: () => void;
  beforeAll(async () => {
    const fresh = await freshDatabase();
    cleanup = fresh.cleanup;
    db = await openDatabase(fresh.url);
  });
  afterAll(async () => {
    await db.close();
    cleanup();
  });
  return () => db;
}

export async function startServer(env: Record<string, string> = {}): Promise<TestServer> {
  const database = await freshDatabase();
  const databaseUrl = database.url;
  const config: Config = loadConfig({
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: "silent",
    PORT: "0",
    HOST: "127.0.0.1",
    JOURNAL_POLL_MS: "250",
    // Tests drive many operations per agent; the rate-limit suite sets its own limits.
    RATE_LIMIT_PER_MINUTE: "10000000",
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: "10000000",
    ...env,
  });
  const db = await openDatabase(config.DATABASE_URL);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? "silent" });
  const app = createApp({ config, db, bus: createAnnouncementBus(), logger });
  await new Promise<void>((resolve) => app.server.listen(0, "127.0.0.1", resolve));
  const { port } = app.server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}${config.GRAPHQL_PATH}`,
    wsUrl: `ws://127.0.0.1:${port}${config.GRAPHQL_PATH}`,
    databaseUrl,
    app,
    close: async () => {
      await app.close();
      database.cleanup();
    },
  };
}


/**
 * Runs one statement on the server's database over a connection of its own, as another
 * process would: the server learns of it only from the database. Parameters are written
 * `?` (numbered for PostgreSQL here).
 */
export async function sqlBehindTheServer(server: TestServer, sql: string, params: unknown[] = []): Promise<void> {
  const url = server.databaseUrl;
  if (url.startsWith("file:")) {
    const db = new Sqlite(url.slice("file:".length));
    try {
      db.prepare(sql).run(...params);
    } finally {
      db.close();
    }
    return;
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let n = 0;
    await client.query(sql.replace(/\?/g, () => `$${++n}`), params);
  } finally {
    await client.end();
  }
}

/** What `run` answers, and the SQL statements the server ran meanwhile. */
export async function withStatements<T>(server: TestServer, run: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const before = server.app.services.db.statements();
  const result = await run();
  return { result, statements: server.app.services.db.statements() - before };
}

/**
 * The fewest statements any of `tries` runs of `run` took, and the last answer. The count is
 * the server's, so its background work (a presence flush, a sweep) can only add to a run: the
 * fewest is the request's own cost. Every run must cost the same (no kept answer between them).
 */
export async function fewestStatements<T>(server: TestServer, run: (attempt: number) => Promise<T>, tries = 3): Promise<{ result: T; statements: number }> {
  let fewest = await withStatements(server, () => run(1));
  for (let attempt = 2; attempt <= tries; attempt++) {
    const next = await withStatements(server, () => run(attempt));
    fewest = { result: next.result, statements: Math.min(fewest.statements, next.statements) };
  }
  return fewest;
}

/** The samples of one series in Prometheus text (from /metrics): each one's labels and value. */
export function metricSamples(text: string, name: string): { labels: Record<string, string>; value: number }[] {
  return text
    .split("\n")
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .map((l) => {
      const [, labels = "", value] = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(l)!;
      return { labels: Object.fromEntries([...labels.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])), value: Number(value) };
    });
}
