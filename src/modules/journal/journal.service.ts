// The append-only journal: every state change writes its rows here in the same
// transaction, and after commit the new cursor is announced. It is the audit log and
// the source of every subscription. This module depends on no other module.
import type { Database, Tx } from "../../infra/db.js";
import type { AnnouncementBus } from "../../infra/pubsub.js";
import type { JournalEvent, Prisma } from "../../generated/prisma/client.js";

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

export interface JournalWrite {
  tx: Tx;
  /** Records entries in this transaction. Call it after the state change, last. */
  append(...entries: JournalEntry[]): Promise<JournalRow[]>;
}

/** Which rows a reader may see: a team's, or those addressed to one agent. */
export type JournalScope = { teamId: string } | { recipientId: string };

export function scopeWhere(scope: JournalScope): Prisma.JournalEventWhereInput {
  return "teamId" in scope ? { teamId: scope.teamId } : { recipientId: scope.recipientId };
}

export function inScope(scope: JournalScope, row: JournalRow): boolean {
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
        const rows = await tx.journalEvent.createManyAndReturn({
          data: entries.map((e) => ({ ...e, payload: e.payload ?? {} })),
        });
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

  /** The highest cursor committed so far (0 for an empty journal). */
  async head(): Promise<number> {
    const row = await this.db.reader.journalEvent.findFirst({ orderBy: { id: "desc" }, select: { id: true } });
    return row?.id ?? 0;
  }
}
