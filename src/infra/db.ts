// The only place that constructs Prisma clients.
//
// SQLite: one writer client, on which every write runs inside a transaction (concurrent
// writes share one, each in a savepoint: sqlite-connection.ts), and one read-only client
// that sees committed data only. The driver adapter lets a plain query run inside another
// request's open transaction (measured: writes lost on rollback, dirty reads), hence the
// split. WAL lets the reader run beside the writer.
// PostgreSQL: one pooled client serves both roles, a transaction for each write.
//
// Each provider's client, adapter and driver are imported only when DATABASE_URL picks
// that provider: loading the other one cost start time and memory for nothing.
import type { PrismaClient, Prisma } from "../generated/prisma/client.js";
import { UnavailableError } from "../errors.js";
import type { Dialect } from "./dialect.js";
import { applyMigrations, migrationNames, migrationsDir, sqlitePath } from "./migrate.js";
import { date } from "./sql-values.js";
import { directStatements, groupCommits, keepingStatements, rowDecoder, type SqliteConnection } from "./sqlite-connection.js";

export type { PrismaClient };
export type Tx = Prisma.TransactionClient;

export interface Database {
  readonly dialect: Dialect;
  /** Sees committed data only. Never open a transaction on it. */
  readonly reader: PrismaClient;
  /** Runs `fn` in one write transaction. The only way to write. */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * One SQL statement in `tx`, a write transaction, and its rows, with the values Prisma's
   * own reads give (Date, boolean, parsed JSON). For the hot statements of a write: on
   * SQLite it runs straight on the writer's connection, inside `tx`'s transaction, as a
   * statement compiled once; a statement through Prisma's client cost 60–190 µs of CPU,
   * the whole transaction's SQL about 45 µs (measured). On PostgreSQL it is `tx.$queryRaw`.
   */
  rows<T>(tx: Tx, query: Prisma.Sql): Promise<T[]>;
  /**
   * A reader of the commit version and, in the same statement, of `until`: a
   * timestamp-valued SQL expression a module supplies (the earliest moment the clock alone
   * changes what its reads show), or null; and of `head`, an integer-valued one (the
   * journal's head), or null. Straight through the driver: Prisma's client costs about
   * 0.2 ms of CPU a call (measured), and the response cache reads this once per query.
   */
  versionReader(until: string | null, head?: string | null): () => Promise<ReadVersion>;
  /** The commit version alone: versionReader(null). */
  readVersion(): Promise<ReadVersion>;
  /**
   * A read of committed data straight through the driver, outside any transaction (unlike
   * `rows`), its statement prepared once per SQL text: for a hot read whose SQL a module
   * builds itself (Prisma's client cost more than the statement: 0.28 against 0.10 ms for a
   * board page's relations, measured). Parameters are strings, numbers or null. A table's
   * columns come back with the values Prisma's reads give (Date, boolean, parsed JSON);
   * a computed column as the driver gives it (SQLite: text or a number).
   */
  readRows<T>(query: Prisma.Sql): Promise<T[]>;
  /** SQL statements run so far, by either client and readVersion (for metrics and N+1 tests). */
  statements(): number;
  /** Write transactions committed or rolled back so far: fewer than writes when SQLite groups them. */
  transactions(): number;
  /** Reachable and every migration in the repository applied. */
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

/** Counts statements through Prisma's query events. */
function countStatements(...clients: PrismaClient[]) {
  let count = 0;
  for (const client of clients) (client as unknown as QueryEvents).$on("query", () => count++);
  return () => count;
}
type QueryEvents = { $on(event: "query", cb: () => void): void };
const log = [{ emit: "event", level: "query" }] as const;

// Transactions queue for a connection (PostgreSQL's pool, SQLite's one writer); Prisma's
// default 2 s wait for one to start ran out under bursts (measured), so allow a longer queue.
const transactionOptions = { maxWait: 20_000, timeout: 15_000 };

export interface ReadVersion {
  /** Changes whenever a commit, by any process, could change what a read sees. */
  committed: string;
  /** The caller's `until` (it may have passed), or null. */
  until: Date | null;
  /** The caller's `head`, read in the same snapshot as `committed`, or null. */
  head: number | null;
}

type VersionRow = { committed: unknown; until: string | null; head: unknown };

type ReadRow = () => VersionRow | Promise<VersionRow>;
/** A read statement of the driver's, run with its parameters. */
type ReadRows = (values: unknown[]) => unknown[] | Promise<unknown[]>;

/**
 * Version readers and readRows over a driver's statements (prepared at their first read),
 * and statements() counting their reads beside Prisma's.
 */
function versionReads(
  prepare: (sql: string) => ReadRow,
  prepareRows: (query: Prisma.Sql) => ReadRows,
  dialect: Dialect,
  prismaStatements: () => number,
  directStatements: () => number,
) {
  let reads = 0;
  // SQL texts come from the modules' shapes, not from clients' values: few distinct ones.
  const kept = new Map<string, ReadRows>();
  const readRows = async <T>(query: Prisma.Sql): Promise<T[]> => {
    let run = kept.get(query.sql);
    if (!run) {
      if (kept.size >= 200) kept.clear();
      kept.set(query.sql, (run = prepareRows(query)));
    }
    reads++;
    return (await run(query.values)) as T[];
  };
  const versionReader = (until: string | null, head: string | null = null) => {
    const sql = dialect.versionSql(until, head);
    let read: ReadRow | undefined;
    return async (): Promise<ReadVersion> => {
      reads++;
      const row = await (read ??= prepare(sql))();
      return { committed: String(row.committed), until: row.until === null ? null : new Date(row.until), head: row.head === null ? null : Number(row.head) };
    };
  };
  return { versionReader, readVersion: versionReader(null), readRows, statements: () => prismaStatements() + directStatements() + reads } satisfies Pick<
    Database,
    "versionReader" | "readVersion" | "readRows" | "statements"
  >;
}

export interface OpenOptions {
  /** Apply pending migrations first (default true). */
  migrate?: boolean;
}

export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const provider = url.startsWith("file:") ? "sqlite" : "postgres";
  if (options.migrate !== false) await applyMigrations(provider, url);
  const expected = await migrationNames(migrationsDir(provider));
  return provider === "sqlite" ? openSqlite(url, expected) : openPostgres(url, expected);
}

async function openSqlite(url: string, expectedMigrations: string[]): Promise<Database> {
  const [{ PrismaClient }, { PrismaBetterSqlite3 }, { sqliteDialect }, { default: BetterSqlite3 }] = await Promise.all([
    import("../generated/prisma/client.js"),
    import("@prisma/adapter-better-sqlite3"),
    import("./sqlite-dialect.js"),
    import("better-sqlite3"),
  ]);
  const file = sqlitePath(url);
  // busy_timeout covers the moments another process (a migration) holds the file.
  let connection: SqliteConnection | undefined;
  const writer = new PrismaClient({
    adapter: keepingStatements(new PrismaBetterSqlite3({ url: file, timeout: 10_000 }), (c) => (connection = c)),
    transactionOptions,
    log: [...log],
  });
  // WAL is a property of the file: set it before the read-only connection opens.
  await writer.$queryRawUnsafe("PRAGMA journal_mode = WAL");
  await writer.$queryRawUnsafe("PRAGMA synchronous = NORMAL");
  await writer.$queryRawUnsafe("PRAGMA foreign_keys = ON");
  const reader = new PrismaClient({ adapter: keepingStatements(new PrismaBetterSqlite3({ url: file, readonly: true, timeout: 10_000 }), () => {}), log: [...log] });
  const direct = directStatements(() => connection);
  const counted = countingTransactions((fn) => (writer as PrismaClient).$transaction(fn, transactionOptions));
  // Its own connection, which never writes: data_version then moves with every commit. It
  // serves readRows too (reads only).
  const versions = new BetterSqlite3(file, { readonly: true, timeout: 10_000 });
  const prepareVersion = (sql: string): ReadRow => {
    const statement = versions.prepare<[], VersionRow>(sql);
    return () => statement.get()!;
  };
  const prepareRows = (query: Prisma.Sql): ReadRows => {
    const statement = versions.prepare<unknown[], unknown[]>(query.sql).raw(true);
    const decode = rowDecoder(statement.columns());
    return (values) => statement.all(values).map(decode);
  };
  return {
    dialect: sqliteDialect,
    reader: reader as PrismaClient,
    ...versionReads(prepareVersion, prepareRows, sqliteDialect, countStatements(writer as PrismaClient, reader as PrismaClient), direct.count),
    write: groupCommits(counted.write, direct.exec, (error) => unavailableFrom(error) !== null),
    transactions: counted.transactions,
    rows: (_tx, query) => direct.rows(query),
    isReady: () => migrationsApplied(reader, expectedMigrations),
    close: async () => {
      versions.close();
      await reader.$disconnect();
      await writer.$disconnect();
    },
  };
}

function countingTransactions(transaction: Database["write"]): Pick<Database, "write" | "transactions"> {
  let count = 0;
  return {
    write: (fn) => {
      count++;
      return transaction(fn);
    },
    transactions: () => count,
  };
}

async function openPostgres(url: string, expectedMigrations: string[]): Promise<Database> {
  const [{ PrismaClient: PostgresPrismaClient }, { PrismaPg }, { postgresDialect }, { default: pg }] = await Promise.all([
    import("../generated/prisma-postgres/client.js"),
    import("@prisma/adapter-pg"),
    import("./postgres-dialect.js"),
    import("pg"),
  ]);
  // Our pool, shared with the adapter, so readVersion can use it directly. A request that
  // waits longer for a connection (to open, as to a host that drops packets, or to free
  // up) than a transaction may wait to start fails with UNAVAILABLE instead of hanging.
  const pool = new pg.Pool({ connectionString: url, max: 20, connectionTimeoutMillis: transactionOptions.maxWait });
  // An idle connection whose server goes away (a restart, pg_terminate_backend) makes the
  // pool emit "error" as it drops it; unheard, Node throws that and the process exits. The
  // adapter listens only while Prisma is connected: this covers the rest of the pool's life.
  // Nothing to do: the next query opens a new connection, and requests that fail say so.
  pool.on("error", () => {});
  const postgres = new PostgresPrismaClient({ adapter: new PrismaPg(pool), transactionOptions, log: [...log] });
  // The app is typed against the SQLite client; both are generated from one schema.
  const client = postgres as unknown as PrismaClient;
  // Named, so each connection prepares a version statement once.
  let versionQueries = 0;
  const prepareVersion = (sql: string): ReadRow => {
    const query = { name: `agent_hq_read_version_${versionQueries++}`, text: sql };
    return async () => (await pool.query<VersionRow>(query)).rows[0]!;
  };
  let rowQueries = 0;
  // pg reads a timestamp without time zone (Prisma's timestamp(3)) as local time; Prisma stores UTC.
  const types = { getTypeParser: (oid: number, format?: string) => (oid === TIMESTAMP_OID ? date : pg.types.getTypeParser(oid, format as "text")) };
  const prepareRows = (query: Prisma.Sql): ReadRows => {
    const named = { name: `agent_hq_read_rows_${rowQueries++}`, text: query.text, types };
    return async (values) => (await pool.query({ ...named, values })).rows;
  };
  return {
    dialect: postgresDialect,
    reader: client,
    ...versionReads(prepareVersion, prepareRows, postgresDialect, countStatements(client), () => 0),
    ...countingTransactions((fn) => client.$transaction(fn, transactionOptions)),
    rows: (tx, query) => tx.$queryRaw(query),
    isReady: () => migrationsApplied(client, expectedMigrations),
    close: async () => {
      await client.$disconnect();
      await pool.end();
    },
  };
}

/** PostgreSQL's type id of `timestamp` (without time zone). */
const TIMESTAMP_OID = 1114;

async function migrationsApplied(client: PrismaClient, expected: string[]): Promise<boolean> {
  try {
    const rows = await client.$queryRawUnsafe<{ migration_name: string }[]>(
      `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
    );
    const applied = new Set(rows.map((r) => r.migration_name));
    return expected.every((name) => applied.has(name));
  } catch {
    return false;
  }
}

// What a lost or refused database connection looks like, at each layer it may surface
// through: Prisma's codes (P1001 cannot reach, P1002/P1008 timed out, P1017 server closed
// the connection, P2037 too many connections), the driver adapter's error kinds,
// PostgreSQL's SQLSTATEs (class 08 connection exception; 57P01–57P03 the server shutting
// down, crashed or starting; 53300 too many connections), Node's socket errors, and the
// plain Errors pg throws on a dead client, which the adapter passes through unwrapped.
const unreachableCodes = new Set([
  "P1001", "P1002", "P1008", "P1017", "P2037",
  "57P01", "57P02", "57P03", "53300",
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN",
]);
const unreachableKinds = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const lostConnection = /^Connection terminated|is not queryable|timeout exceeded when trying to connect/;

/**
 * The refusal to give for `error` when the database could not serve the request but
 * may on retry: PostgreSQL restarted, its connections killed or its host unreachable, or
 * SQLite's file locked by another process (a migration, a backup).
 * Null for any other error. Nothing needs to be done to recover: the pool drops dead
 * connections and opens new ones.
 */
export function unavailableFrom(error: unknown): UnavailableError | null {
  const seen = new Set<object>();
  const pending = [error];
  let unreachable = false;
  while (pending.length) {
    const e = pending.pop();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    const { code, originalCode, kind, message, cause, originalError, meta } = e as Record<string, unknown>;
    // The SQLite adapter reports SQLITE_BUSY as a timeout (P1008); the original code says
    // which. A statement run straight (Database.rows) throws better-sqlite3's own error.
    if ([originalCode, code].some((c) => typeof c === "string" && c.startsWith("SQLITE_BUSY"))) {
      return new UnavailableError("the database is busy (locked by another process); retry");
    }
    const codes = [code, originalCode].filter((c): c is string => typeof c === "string");
    unreachable ||=
      codes.some((c) => unreachableCodes.has(c) || /^08[0-9A-Z]{3}$/.test(c)) ||
      (typeof kind === "string" && unreachableKinds.has(kind)) ||
      (typeof message === "string" && lostConnection.test(message));
    pending.push(cause, originalError, (meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError);
  }
  return unreachable ? new UnavailableError("the database is unreachable; retry") : null;
}
