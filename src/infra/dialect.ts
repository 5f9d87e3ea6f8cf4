// The few places where SQLite and PostgreSQL differ live behind this interface, one
// small module per database. Nothing else asks which database it is on.
import type { Tx } from "./db.js";

export interface Dialect {
  readonly name: "sqlite" | "postgres";
  /**
   * Called in a write transaction just before journal rows are inserted. Afterwards,
   * journal ids must become visible in id order: a reader that has seen id N never
   * later sees a smaller id appear.
   */
  orderJournalAppends(tx: Tx): Promise<void>;
}
