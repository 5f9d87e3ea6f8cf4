import type { Dialect } from "./dialect.js";

// Any constant works; it names the lock in pg_locks.
const JOURNAL_LOCK = 7_424_851;

export const postgresDialect: Dialect = {
  name: "postgres",
  // Concurrent transactions take sequence values in one order and may commit in
  // another, so a tailer could pass over a row that commits late. Holding this lock
  // from the journal insert to commit makes appends commit in id order. It is taken as
  // late as possible in the transaction to keep the serialized part short.
  async orderJournalAppends(tx) {
    await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${JOURNAL_LOCK})`);
  },
};
