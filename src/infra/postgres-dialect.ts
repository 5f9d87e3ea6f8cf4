import { Prisma } from "../generated/prisma/client.js";
import type { Dialect } from "./dialect.js";

// Any constant works; it names the lock in pg_locks.
const JOURNAL_LOCK = 7_424_851;
// A function takes at most 100 arguments (FUNC_MAX_ARGS).
const MAX_ARGS = 100;

export const postgresDialect: Dialect = {
  name: "postgres",
  // Concurrent transactions take sequence values in one order and may commit in
  // another, so a tailer could pass over a row that commits late. Holding this lock
  // from the journal insert to commit makes appends commit in id order. It is taken as
  // late as possible in the transaction to keep the serialized part short.
  async orderJournalAppends(tx) {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${JOURNAL_LOCK})`);
  },

  json: {
    array: (values) => {
      // Longer arrays are joined from parts.
      if (values.length <= MAX_ARGS) return Prisma.sql`json_build_array(${values.length ? Prisma.join(values) : Prisma.empty})`;
      const parts: Prisma.Sql[] = [];
      for (let i = 0; i < values.length; i += MAX_ARGS) parts.push(Prisma.sql`jsonb_build_array(${Prisma.join(values.slice(i, i + MAX_ARGS))})`);
      return Prisma.sql`(${Prisma.join(parts, " || ")})`;
    },
    aggregate: (element, from, orderBy) =>
      Prisma.sql`(SELECT coalesce(json_agg(${element}${orderBy ? Prisma.sql` ORDER BY ${orderBy}` : Prisma.empty}), '[]'::json) ${from})`,
    // jsonb already embeds as JSON.
    column: (column) => column,
  },
  strings: (values) => Prisma.sql`SELECT unnest(${values}::text[])`,
  // An UPDATE locks rows in its plan's scan order, which differs between plans (a bitmap
  // scan goes by position, an index scan by key), so two claim batches could deadlock: the
  // likely cause of the internal errors the scale-out drain test showed, 2 runs in ~27.
  idsLockedInOrder: (table, ids) => Prisma.sql`SELECT "id" FROM ${Prisma.raw(`"${table}"`)} WHERE "id" IN (${Prisma.join(ids)}) ORDER BY "id" FOR UPDATE`,
  // The statement's snapshot says which transactions it sees as committed: two equal
  // snapshots see the same data, and any commit or abort (in any database of the cluster)
  // changes it. Timestamps are stored in UTC without a zone; the text says so.
  versionSql: (until, head) =>
    `SELECT pg_current_snapshot()::text AS "committed", ${until === null ? "NULL" : `to_char(${until}, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`} AS "until", ${head ?? "NULL"} AS "head"`,
};
