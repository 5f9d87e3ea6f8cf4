// How a stored value reads back as the JavaScript value Prisma would return, for rows read
// without Prisma (Database.rows, the task lists' JSON): one rule for both.

/**
 * A DateTime column's value as a Date: SQLite holds ISO text with its offset (or epoch
 * milliseconds), PostgreSQL's timestamp(3) as JSON holds UTC without a zone.
 */
export function date(raw: unknown): Date {
  if (typeof raw !== "string") return new Date(Number(raw));
  return new Date(/(?:Z|[+-]\d\d:?\d\d)$/.test(raw) ? raw : `${raw}Z`);
}

/** A Boolean column's value: SQLite stores 0/1 (as a number, or a BigInt with safe integers on). */
export function bool(raw: unknown): boolean {
  return raw === true || (raw !== false && Number(raw) !== 0);
}
