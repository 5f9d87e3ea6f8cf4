// Seeding tasks straight into the database, for the benchmarks that need thousands of
// them (claim drain, growth). Through the API a task costs a write transaction (about
// 100/s on these machines), so 100k would take a quarter of an hour. Rows are written
// the way the server writes them (UUIDv7 IDs, the team's nextTaskNumber counter moved
// on); on SQLite only while no server has the file open. No journal rows are written:
// none of the seeded-task benchmarks reads the journal.
import { randomBytes } from "node:crypto";
import Database from "better-sqlite3";

export interface SeedTask {
  number: number;
  status: "pending" | "in_progress" | "completed";
  assigneeId: string | null;
  holderId: string | null;
  /** Blocked by the task with this number (an explicit dependency). */
  blockedByNumber: number | null;
}

/** A UUIDv7, as Prisma's uuid(7) makes them. */
export function uuidv7(ms = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6]! & 0x0f);
  b[8] = 0x80 | (b[8]! & 0x3f);
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const COLUMNS = ["id", "teamId", "number", "title", "status", "priority", "priorityRank", "assigneeId", "metadata", "createdById", "createdAt", "updatedAt", "closedAt", "holderId", "leaseExpiresAt", "claimEpoch"] as const;

interface Built {
  tasks: unknown[][];
  deps: unknown[][];
}

function build(teamId: string, createdById: string, tasks: SeedTask[], existing: Map<number, string>, time: (d: Date) => string): Built {
  const ids = new Map(existing);
  const base = Date.now() - tasks.length;
  const rows: unknown[][] = [];
  for (const [i, t] of tasks.entries()) {
    const created = new Date(base + i);
    const id = uuidv7(created.getTime());
    ids.set(t.number, id);
    const lease = t.status === "in_progress" && t.holderId ? time(new Date(Date.now() + 86_400_000)) : null;
    rows.push([
      id,
      teamId,
      t.number,
      `seeded task ${t.number}`,
      t.status,
      "medium",
      1,
      t.assigneeId,
      "{}",
      createdById,
      time(created),
      time(created),
      t.status === "completed" ? time(created) : null,
      t.holderId,
      lease,
      t.holderId ? 1 : 0,
    ]);
  }
  const deps: unknown[][] = [];
  for (const t of tasks) {
    if (t.blockedByNumber === null) continue;
    const blocker = ids.get(t.blockedByNumber);
    if (blocker) deps.push([blocker, ids.get(t.number), teamId, "explicit", time(new Date())]);
  }
  return { tasks: rows, deps };
}

const quoted = (names: readonly string[]) => names.map((c) => `"${c}"`).join(", ");

/** Inserts tasks into a team and moves the team's task counter past them. */
export async function seedTasks(databaseUrl: string, teamId: string, createdById: string, tasks: SeedTask[]): Promise<void> {
  if (databaseUrl.startsWith("file:")) return seedSqlite(databaseUrl.slice("file:".length), teamId, createdById, tasks);
  return seedPostgres(databaseUrl, teamId, createdById, tasks);
}

function seedSqlite(file: string, teamId: string, createdById: string, tasks: SeedTask[]): void {
  const db = new Database(file, { timeout: 10_000 });
  try {
    // Prisma's SQLite adapter stores DateTime as ISO text with an explicit offset.
    const time = (d: Date) => d.toISOString().replace("Z", "+00:00");
    const existing = new Map(
      (db.prepare(`SELECT "number", "id" FROM "Task" WHERE "teamId" = ?`).all(teamId) as { number: number; id: string }[]).map((r) => [r.number, r.id]),
    );
    const { tasks: rows, deps } = build(teamId, createdById, tasks, existing, time);
    const insertTask = db.prepare(`INSERT INTO "Task" (${quoted(COLUMNS)}) VALUES (${COLUMNS.map(() => "?").join(", ")})`);
    const insertDep = db.prepare(`INSERT INTO "TaskDependency" ("blockerId", "blockedId", "teamId", "kind", "createdAt") VALUES (?, ?, ?, ?, ?)`);
    const next = tasks.reduce((m, t) => Math.max(m, t.number), 0) + 1;
    db.transaction(() => {
      for (const row of rows) insertTask.run(...row);
      for (const dep of deps) insertDep.run(...dep);
      db.prepare(`UPDATE "Team" SET "nextTaskNumber" = MAX("nextTaskNumber", ?) WHERE "id" = ?`).run(next, teamId);
    })();
  } finally {
    db.close();
  }
}

async function seedPostgres(url: string, teamId: string, createdById: string, tasks: SeedTask[]): Promise<void> {
  const { Client } = await import("pg");
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // TIMESTAMP(3) without a zone holds UTC, as Prisma writes it.
    const time = (d: Date) => d.toISOString().replace("T", " ").replace("Z", "");
    const existing = new Map((await client.query<{ number: number; id: string }>(`SELECT "number", "id" FROM "Task" WHERE "teamId" = $1`, [teamId])).rows.map((r) => [r.number, r.id]));
    const { tasks: rows, deps } = build(teamId, createdById, tasks, existing, time);
    const insertMany = async (table: string, columns: readonly string[], values: unknown[][]) => {
      const perBatch = Math.floor(30_000 / columns.length);
      for (let i = 0; i < values.length; i += perBatch) {
        const batch = values.slice(i, i + perBatch);
        const params: unknown[] = [];
        const tuples = batch.map((row) => `(${row.map((v) => (params.push(v), `$${params.length}`)).join(", ")})`);
        await client.query(`INSERT INTO "${table}" (${quoted(columns)}) VALUES ${tuples.join(", ")}`, params);
      }
    };
    await client.query("BEGIN");
    await insertMany("Task", COLUMNS, rows);
    await insertMany("TaskDependency", ["blockerId", "blockedId", "teamId", "kind", "createdAt"], deps);
    const next = tasks.reduce((m, t) => Math.max(m, t.number), 0) + 1;
    await client.query(`UPDATE "Team" SET "nextTaskNumber" = GREATEST("nextTaskNumber", $1) WHERE "id" = $2`, [next, teamId]);
    await client.query("COMMIT");
    // A table that grew through the API would have planner statistics by now (autovacuum
    // analyzes it); a bulk insert has none until then.
    await client.query(`ANALYZE "Task"`);
    await client.query(`ANALYZE "TaskDependency"`);
  } finally {
    await client.end();
  }
}
