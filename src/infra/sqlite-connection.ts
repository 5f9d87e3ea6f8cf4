// SQLite's connections as the server uses them, beside Prisma's adapter: statements kept
// compiled, the hot statements of a write run straight on the writer's connection
// (Database.rows), and concurrent writes committed in groups. db.ts puts them together.
import type { Prisma } from "../generated/prisma/client.js";
import type { Database, Tx } from "./db.js";
import { bool, date } from "./sql-values.js";

/**
 * Prisma's SQLite adapter has better-sqlite3 compile every statement anew (`prepare` then
 * `bind`: 3–5 % of a request's CPU, measured), though Prisma's SQL text repeats. This keeps
 * compiled statements by their SQL and hands the adapter a statement bound to its arguments
 * per call, with just the methods it uses (reader, columns, run, raw().all).
 *
 * It leans on the adapter's insides (@prisma/adapter-better-sqlite3 7.10), so on an
 * upgrade check what it assumes; test/unit/sqlite-statements.test.ts fails when it stops
 * holding:
 * - `connect()` resolves to an adapter whose `client` is the better-sqlite3 Database.
 *   Renamed or made private (`#client`): every connect fails with a TypeError.
 * - Every query calls `client.prepare(sql)` then `.bind(args)` on the result, and uses only
 *   `reader`, `columns()`, `run()` and `raw().all()` on the bound statement. A new method
 *   (`get`, `iterate`, `safeIntegers`, ...): those queries fail with "is not a function".
 *   `iterate()` would also need a statement per open cursor, which sharing breaks.
 * - It looks `prepare` up on `client` at each call. Taken once and kept elsewhere: nothing
 *   fails, statements are compiled anew again (the lost few percent), and the test says so.
 * If the adapter caches statements itself one day, delete this.
 */
export function keepingStatements<F extends { connect(): Promise<unknown> }>(factory: F, connected: (connection: SqliteConnection) => void): F {
  const connect = factory.connect.bind(factory);
  factory.connect = async () => {
    const adapter = (await connect()) as { client: StatementSource & { readonly inTransaction: boolean } };
    const db = adapter.client;
    const prepare = db.prepare.bind(db) as (sql: string) => CompiledStatement;
    connected({ prepare, inTransaction: () => db.inTransaction });
    const kept = new Map<string, CompiledStatement>();
    db.prepare = (sql: string) => {
      let statement = kept.get(sql);
      if (!statement) {
        statement = prepare(sql);
        // Raw SQL with many parameters makes many texts: start over rather than grow.
        if (kept.size >= 1_000) kept.clear();
        kept.set(sql, statement);
      }
      return boundTo(statement, []);
    };
    return adapter;
  };
  return factory;
}

interface CompiledStatement {
  readonly reader: boolean;
  columns(): unknown[];
  run(args: unknown[]): unknown;
  raw(on: boolean): { all(args: unknown[]): unknown[] };
}

/** The writer's better-sqlite3 connection, as directStatements uses it. */
export interface SqliteConnection {
  /** better-sqlite3's own prepare (not the keeping one: these statements keep themselves). */
  prepare(sql: string): CompiledStatement;
  inTransaction(): boolean;
}

/**
 * Database.rows on SQLite: statements compiled once and run on the writer's connection,
 * which only a write transaction uses (Prisma's, holding the adapter's lock), so a
 * statement run while that connection is in a transaction runs in the caller's. Values go
 * in and come out as the adapter writes and reads them: dates as ISO-8601 text with
 * "+00:00" (the adapter's default format, which SQL compares as text), booleans as 0/1,
 * JSON as text; columns are read back by their declared type, integers as numbers.
 */
export function directStatements(connection: () => SqliteConnection | undefined) {
  let count = 0;
  const kept = new Map<string, { statement: CompiledStatement; decode: RowDecoder | null }>();
  const rows = async <T>(query: Prisma.Sql): Promise<T[]> => {
    const c = connection();
    if (!c?.inTransaction()) throw new Error("Database.rows runs inside a write transaction");
    let entry = kept.get(query.sql);
    if (!entry) {
      const statement = c.prepare(query.sql);
      if (kept.size >= 1_000) kept.clear();
      entry = { statement, decode: null };
      kept.set(query.sql, entry);
    }
    count++;
    const args = query.values.map(sqliteValue);
    if (!entry.statement.reader) {
      entry.statement.run(args);
      return [];
    }
    entry.decode ??= rowDecoder(entry.statement.columns() as DeclaredColumn[]);
    return (entry.statement.raw(true).all(args) as unknown[][]).map(entry.decode) as T[];
  };
  /** A statement without values or rows (SAVEPOINT, RELEASE), compiled once. */
  const exec = (sql: string): void => {
    let entry = kept.get(sql);
    if (!entry) kept.set(sql, (entry = { statement: connection()!.prepare(sql), decode: null }));
    entry.statement.run([]);
  };
  return { rows, exec, count: () => count };
}

/** Writes one SQLite transaction takes at most (Prisma's transaction times out after 15 s). */
const GROUP_MAX = 64;

/**
 * SQLite's writes, committed in groups. Its one writer connection runs one transaction at a
 * time, so writes that arrive while one runs wait anyway: the next transaction takes all of
 * them (up to GROUP_MAX), in arrival order, each in a savepoint of its own. A write that
 * fails rolls back to its savepoint alone; the rest commit together, and each caller is
 * answered once that commit is done (if it fails, every write of the group fails). A
 * transaction of Prisma's and its commit cost ~50 µs of CPU (measured), a savepoint a few.
 * A write that finds no transaction running starts one right after the current turn of the
 * event loop (setImmediate, no timer): the requests Node read from its sockets in the same
 * turn join it. Team at work, 20 workers (bench `work`, quick): 1,610–1,650 writes/s when
 * the first write started a transaction at once, 2,210–2,350 with the turn.
 */
export function groupCommits(transaction: Database["write"], exec: (sql: string) => void, cannotWrite: (error: unknown) => boolean): Database["write"] {
  interface Pending {
    fn: (tx: Tx) => Promise<unknown>;
    resolve(value: unknown): void;
    reject(error: unknown): void;
  }
  const waiting: Pending[] = [];
  let running = false;
  const runGroup = async (group: Pending[]) => {
    const outcomes: { ok: boolean; value: unknown }[] = [];
    let failed: { error: unknown } | null = null;
    try {
      await transaction(async (tx) => {
        // Set when a write failed because the database cannot be written now (locked by
        // another process): the rest of the group gets the same answer without waiting for
        // the lock each in turn; what was written before commits.
        let refusal: { error: unknown } | null = null;
        for (const write of group) {
          if (refusal) {
            outcomes.push({ ok: false, value: refusal.error });
            continue;
          }
          exec("SAVEPOINT agent_hq_write");
          try {
            outcomes.push({ ok: true, value: await write.fn(tx) });
            exec("RELEASE agent_hq_write");
          } catch (error) {
            outcomes.push({ ok: false, value: error });
            exec("ROLLBACK TO agent_hq_write");
            exec("RELEASE agent_hq_write");
            if (cannotWrite(error)) refusal = { error };
          }
        }
      });
    } catch (error) {
      failed = { error };
    }
    group.forEach((write, i) => {
      const outcome = outcomes[i];
      if (outcome && !outcome.ok) write.reject(outcome.value);
      else if (failed || !outcome) write.reject(failed?.error);
      else write.resolve(outcome.value);
    });
  };
  const drain = async () => {
    while (waiting.length) await runGroup(waiting.splice(0, GROUP_MAX));
    running = false;
  };
  return <T>(fn: (tx: Tx) => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      waiting.push({ fn, resolve: resolve as (value: unknown) => void, reject });
      if (running) return;
      running = true;
      setImmediate(() => void drain());
    });
}

function sqliteValue(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString().replace("Z", "+00:00");
  if (typeof value === "boolean") return value ? 1 : 0;
  if (value === undefined) return null;
  if (typeof value === "object" && value !== null && !Buffer.isBuffer(value)) return JSON.stringify(value);
  return value;
}

/** A result column as better-sqlite3 describes it: its name and its table column's declared type (null for an expression). */
export interface DeclaredColumn {
  name: string;
  type: string | null;
}
export type RowDecoder = (values: unknown[]) => Record<string, unknown>;

/** Raw rows of these columns to objects with Prisma's values, each column read back by its declared type. */
export function rowDecoder(columns: readonly DeclaredColumn[]): RowDecoder {
  const names = columns.map((col) => col.name);
  const decoders = columns.map((col) => decoderOf(col.type));
  return (values) => {
    const row: Record<string, unknown> = {};
    for (let i = 0; i < values.length; i++) row[names[i]!] = values[i] === null ? null : decoders[i]!(values[i]);
    return row;
  };
}

// The adapter turns on safeIntegers for its connection: integers come as BigInt, and go
// back to numbers where they fit, as the adapter's own rows do.
const same = (v: unknown) => (typeof v === "bigint" && Number.isSafeInteger(Number(v)) ? Number(v) : v);
function decoderOf(declaredType: string | null): (v: unknown) => unknown {
  switch (declaredType?.toUpperCase()) {
    case "DATETIME":
      return date;
    case "BOOLEAN":
      return bool;
    case "JSONB":
    case "JSON":
      return (v) => (typeof v === "string" ? JSON.parse(v) : v);
    default:
      return same;
  }
}
interface StatementSource {
  prepare(sql: string): CompiledStatement | ReturnType<typeof boundTo>;
}

/**
 * A kept statement's columns, asked once: better-sqlite3 builds the list anew at every
 * call, which was a fifth of SQLite's own time under writes (bench `work`, profiled). The
 * adapter only reads it (names and declared types).
 */
const columnsOf = new WeakMap<CompiledStatement, unknown[]>();

function boundTo(statement: CompiledStatement, args: unknown[]) {
  return {
    reader: statement.reader,
    bind: (...values: unknown[]) => boundTo(statement, values.length === 1 && Array.isArray(values[0]) ? values[0] : values),
    columns: () => {
      let columns = columnsOf.get(statement);
      if (!columns) columnsOf.set(statement, (columns = statement.columns()));
      return columns;
    },
    run: () => statement.run(args),
    raw: () => ({ all: () => statement.raw(true).all(args) }),
  };
}

