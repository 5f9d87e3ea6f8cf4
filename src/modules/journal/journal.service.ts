// The append-only journal: every state change writes its rows here in the same
// transaction, and after commit the new cursor is announced. It is the audit log and
// the source of every subscription. This module depends on no other module.
import type { Database, Tx } from "../../infra/db.js";
import type { AnnouncementBus } from "../../infra/pubsub.js";
import { Prisma, type JournalEvent } from "../../generated/prisma/client.js";

export type JournalRow = JournalEvent;

export interface JournalEntry {
  teamId?: string | null;
  /** Set when the event is addressed to one agent (a notice) rather than the team. */
  recipientId?: string | null;
  actorId: string | null;
  kind: string;
  subjectType: string;
  subjectId: string;
  payload?: Prisma.InputJsonObject;
}

/** Text an event carries whole up to this many characters (message bodies, dashboard text). */
export const EVENT_TEXT_MAX = 2_000;

/**
 * `{ [field]: text }`, cut to EVENT_TEXT_MAX with `[field]Truncated: true` when longer:
 * events are read by agents, who should act on them without a second read, yet a 20,000
 * character body in every replayed row would cost more than the read it saves.
 */
export function eventText(field: string, text: string): Prisma.InputJsonObject {
  if (text.length <= EVENT_TEXT_MAX) return { [field]: text };
  // Never end on half a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(text[EVENT_TEXT_MAX - 1]!) ? EVENT_TEXT_MAX - 1 : EVENT_TEXT_MAX;
  return { [field]: text.slice(0, end), [`${field}Truncated`]: true };
}

/** The highest cursor committed, as an SQL expression (for Database.versionReader's `head`). */
export const JOURNAL_HEAD_SQL = `(SELECT COALESCE(MAX("id"), 0) FROM "JournalEvent")`;

/** What a journal row says was changed, without its payload. */
export type JournalChange = Pick<JournalRow, "kind" | "subjectType" | "subjectId">;

export interface JournalWrite {
  tx: Tx;
  /** Records entries in this transaction. Call it after the state change, last. */
  append(...entries: JournalEntry[]): Promise<JournalRow[]>;
}

/**
 * Which rows a reader may see: a team's, those addressed to one agent, or the rows of any
 * of several such scopes (in one cursor order, so one stream reads them without a merge).
 */
export type JournalScope = { teamId: string } | { recipientId: string } | { anyOf: readonly ({ teamId: string } | { recipientId: string })[] };

export function scopeWhere(scope: JournalScope): Prisma.JournalEventWhereInput {
  if ("anyOf" in scope) return { OR: scope.anyOf.map(scopeWhere) };
  return "teamId" in scope ? { teamId: scope.teamId } : { recipientId: scope.recipientId };
}

export function inScope(scope: JournalScope, row: JournalRow): boolean {
  if ("anyOf" in scope) return scope.anyOf.some((s) => inScope(s, row));
  return "teamId" in scope ? row.teamId === scope.teamId : row.recipientId === scope.recipientId;
}

export class JournalService {
  constructor(
    private readonly db: Database,
    private readonly bus: AnnouncementBus,
  ) {}

  /**
   * Runs `fn` in one write transaction; the journal rows it appends commit with its
   * state change, and the new cursor is announced once the commit succeeded.
   */
  async write<T>(fn: (w: JournalWrite) => Promise<T>): Promise<T> {
    let cursor = 0;
    const result = await this.db.write(async (tx) => {
      let ordered = false;
      const append = async (...entries: JournalEntry[]) => {
        if (!ordered) {
          await this.db.dialect.orderJournalAppends(tx);
          ordered = true;
        }
        const rows = await insert(this.db, tx, entries);
        for (const row of rows) cursor = Math.max(cursor, row.id);
        return rows;
      };
      return fn({ tx, append });
    });
    if (cursor > 0) this.bus.publish("journal:advanced", cursor);
    return result;
  }

  /** Rows in a scope after a cursor, oldest first. */
  readAfter(scope: JournalScope, after: number, limit: number, kinds?: readonly string[]): Promise<JournalRow[]> {
    return this.db.reader.journalEvent.findMany({
      where: { ...scopeWhere(scope), id: { gt: after }, ...(kinds?.length ? { kind: { in: [...new Set(kinds)] } } : {}) },
      orderBy: { id: "asc" },
      take: limit,
    });
  }

  /**
   * The subjects of an actor's latest rows of one kind in a team, newest first, read in the
   * caller's transaction so that they include what it appended.
   */
  async recentSubjects(tx: Tx, of: { teamId: string; actorId: string; kind: string }, limit: number): Promise<string[]> {
    // Every completion asks (the verification nudge): run straight (Database.rows), along
    // the index on (teamId, actorId, kind, id).
    const rows = await this.db.rows<{ subjectId: string }>(
      tx,
      Prisma.sql`SELECT "subjectId" FROM "JournalEvent" WHERE "teamId" = ${of.teamId} AND "actorId" = ${of.actorId} AND "kind" = ${of.kind} ORDER BY "id" DESC LIMIT ${limit}`,
    );
    return rows.map((row) => row.subjectId);
  }

  /**
   * Every scope's rows after a cursor, oldest first: the tailer reads each commit's rows
   * with it, so it runs straight through the driver (Database.readRows).
   */
  readAllAfter(after: number, limit: number): Promise<JournalRow[]> {
    return this.db.readRows<JournalRow>(Prisma.sql`SELECT * FROM "JournalEvent" WHERE "id" > ${after} ORDER BY "id" ASC LIMIT ${limit}`);
  }

  /**
   * What a team's rows after `after` and up to `upTo` changed, oldest first, at most
   * `limit`: kept answers ask it on every read after a commit, so it runs straight
   * (Database.readRows), along the index on (teamId, id).
   */
  teamChangesBetween(teamId: string, after: number, upTo: number, limit: number): Promise<JournalChange[]> {
    return this.db.readRows<JournalChange>(
      Prisma.sql`SELECT "kind", "subjectType", "subjectId" FROM "JournalEvent" WHERE "teamId" = ${teamId} AND "id" > ${after} AND "id" <= ${upTo} ORDER BY "id" ASC LIMIT ${limit}`,
    );
  }

  /** The highest cursor committed so far (0 for an empty journal). */
  async head(): Promise<number> {
    const [row] = await this.db.readRows<{ head: number }>(Prisma.sql`SELECT ${Prisma.raw(JOURNAL_HEAD_SQL)} AS "head"`);
    return Number(row?.head ?? 0);
  }
}

/**
 * Inserts journal rows with one plain INSERT. Prisma's createManyAndReturn cost 4–11 ms
 * for 1–48 rows here (the query compiler plans the data anew each time); this takes
 * 0.7–1.6 ms. IDs come back in insertion order, so they pair with the entries.
 */
async function insert(db: Database, tx: Tx, entries: JournalEntry[]): Promise<JournalRow[]> {
  const createdAt = new Date();
  const rows = entries.map((e) => ({
    teamId: e.teamId ?? null,
    recipientId: e.recipientId ?? null,
    actorId: e.actorId,
    kind: e.kind,
    subjectType: e.subjectType,
    subjectId: e.subjectId,
    payload: (e.payload ?? {}) as Prisma.JsonObject,
    createdAt,
  }));
  const ids = await db.rows<{ id: number }>(tx, Prisma.sql`
    INSERT INTO "JournalEvent" ("teamId", "recipientId", "actorId", "kind", "subjectType", "subjectId", "payload", "createdAt")
    VALUES ${Prisma.join(rows.map((r) => Prisma.sql`(${r.teamId}, ${r.recipientId}, ${r.actorId}, ${r.kind}, ${r.subjectType}, ${r.subjectId}, ${JSON.stringify(r.payload)}, ${createdAt})`))}
    RETURNING "id"`);
  const sorted = ids.map((r) => Number(r.id)).sort((a, b) => a - b);
  return rows.map((r, i) => ({ id: sorted[i]!, ...r }));
}
