import type { Dialect } from "./dialect.js";

export const sqliteDialect: Dialect = {
  name: "sqlite",
  // SQLite has one writer: transactions, and so journal appends, commit in id order.
  async orderJournalAppends() {},
};
