// The few places where SQLite and PostgreSQL differ live behind this interface, one
// small module per database. Nothing else asks which database it is on.
import { Prisma } from "../generated/prisma/client.js";
import type { Tx } from "./db.js";

export interface Dialect {
  readonly name: "sqlite" | "postgres";
  /**
   * Called in a write transaction just before journal rows are inserted. Afterwards,
   * journal ids must become visible in id order: a reader that has seen id N never
   * later sees a smaller id appear.
   */
  orderJournalAppends(tx: Tx): Promise<void>;
  /**
   * JSON built in SQL, so that rows and their related rows come back from one statement
   * (see modules/tasks/task-reads.ts). Column values keep the database's own JSON form
   * (SQLite: booleans 0/1, dates as stored text; PostgreSQL: timestamps without zone).
   */
  readonly json: {
    /** A JSON array of the values, in order. */
    array(values: Prisma.Sql[]): Prisma.Sql;
    /** A scalar subquery: the JSON array of `element` over the rows of `from` (a FROM … WHERE …), in `orderBy` order; `[]` when there are none. */
    aggregate(element: Prisma.Sql, from: Prisma.Sql, orderBy: Prisma.Sql | null): Prisma.Sql;
    /** A Json column's value as JSON rather than as the text it is stored as. */
    column(column: Prisma.Sql): Prisma.Sql;
  };
  /** A subquery of these strings as one parameter, for `x IN (…)`: one statement text and one parameter for any number. */
  strings(values: string[]): Prisma.Sql;
  /**
   * A subquery of these IDs of `table`'s rows, for `"id" IN (…)` in an UPDATE of several
   * rows, that first locks them in ID order where the database locks rows (PostgreSQL): two
   * instances updating overlapping sets then wait for each other instead of deadlocking.
   */
  idsLockedInOrder(table: string, ids: string[]): Prisma.Sql;
  /**
   * The statement of a version read (Database.versionReader): one row of "committed",
   * "until", the caller's timestamp-valued SQL expression as ISO-8601 text (or NULL), and
   * "head", the caller's integer-valued SQL expression (or NULL), all read in one snapshot.
   */
  versionSql(until: string | null, head: string | null): string;
}
