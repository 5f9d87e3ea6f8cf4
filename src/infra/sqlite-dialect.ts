import { Prisma } from "../generated/prisma/client.js";
import type { Dialect } from "./dialect.js";

export const sqliteDialect: Dialect = {
  name: "sqlite",
  // SQLite has one writer: transactions, and so journal appends, commit in id order.
  async orderJournalAppends() {},

  // A JSON function's result keeps its JSON subtype through a scalar subquery (checked on
  // SQLite 3.53, which better-sqlite3 bundles), so nested arrays embed as JSON, not as strings.
  json: {
    array: (values) => Prisma.sql`json_array(${values.length ? Prisma.join(values) : Prisma.empty})`,
    aggregate: (element, from, orderBy) =>
      orderBy ? Prisma.sql`(SELECT json_group_array(${element} ORDER BY ${orderBy}) ${from})` : Prisma.sql`(SELECT json_group_array(${element}) ${from})`,
    // Stored as text: json() embeds it as JSON instead of as a string (NULL stays NULL).
    column: (column) => Prisma.sql`json(${column})`,
  },
  strings: (values) => Prisma.sql`SELECT value FROM json_each(${JSON.stringify(values)})`,
  // One writer at a time: nothing to order.
  idsLockedInOrder: (_table, ids) => Prisma.join(ids),
  // data_version changes when another connection commits; the connection that reads it
  // never writes. Dates are stored as ISO-8601 text, which sorts and parses as it is.
  versionSql: (until, head) => `SELECT (SELECT "data_version" FROM pragma_data_version) AS "committed", ${until ?? "NULL"} AS "until", ${head ?? "NULL"} AS "head"`,
};
