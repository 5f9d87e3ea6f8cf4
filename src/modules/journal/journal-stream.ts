// A subscription's view of the journal: replay what was missed after a cursor, then go
// live, with no gap and no duplicate.
//
// Order matters: register with the tailer first (it will hand over every row above its
// position), then replay from the database (which holds every row at or below it), and
// skip what was already sent. Rows commit in cursor order (see Dialect), so a cursor
// comparison is enough to drop duplicates.
import { Repeater } from "@repeaterjs/repeater";
import { ConflictError } from "../../errors.js";
import type { JournalTailer } from "./journal-tailer.js";
import { inScope, type JournalRow, type JournalScope, type JournalService } from "./journal.service.js";

export interface StreamOptions {
  scope: JournalScope;
  /** Replay rows after this cursor first; without it, only rows committed from now on. */
  after?: number | null;
  /** Which rows of the scope to emit (all by default). */
  emit?: (row: JournalRow) => boolean;
  /**
   * Looked at for every row of the scope, emitted or not, after it is emitted: true
   * ends the stream (for example when the subscriber has lost access).
   */
  endsAfter?: (row: JournalRow) => boolean | Promise<boolean>;
}

const REPLAY_PAGE = 500;
// Rows waiting for a subscriber that does not read; past this it is cut off and can
// resume from its last cursor.
const MAX_BACKLOG = 10_000;

export function streamJournal(journal: JournalService, tailer: JournalTailer, options: StreamOptions): AsyncIterable<JournalRow> {
  const { scope, emit = () => true, endsAfter } = options;
  return new Repeater<JournalRow>(async (push, stop) => {
    const backlog: JournalRow[] = [];
    let wake: (() => void) | null = null;
    let overflowed = false;
    const registration = await tailer.listen(
      (rows) => {
        for (const row of rows) if (inScope(scope, row)) backlog.push(row);
        if (backlog.length > MAX_BACKLOG) overflowed = true;
        wake?.();
      },
      () => stop(),
    );
    let stopped = false;
    void stop.then(() => {
      stopped = true;
      registration.stop();
      wake?.();
    });

    let last = options.after ?? registration.position;
    /** Sends one row unless already sent; true when the stream must end. */
    const deliver = async (row: JournalRow): Promise<boolean> => {
      if (row.id <= last) return false;
      last = row.id;
      if (emit(row)) await push(row);
      return endsAfter ? await endsAfter(row) : false;
    };

    try {
      if (options.after != null) {
        for (;;) {
          const page = await journal.readAfter(scope, last, REPLAY_PAGE);
          for (const row of page) if (stopped || (await deliver(row))) return stop();
          if (page.length < REPLAY_PAGE) break;
        }
      }
      while (!stopped) {
        if (overflowed) {
          return stop(new ConflictError(`subscriber fell behind by more than ${MAX_BACKLOG} events; resubscribe with after: ${last}`, { after: last }));
        }
        const row = backlog.shift();
        if (row) {
          if (await deliver(row)) return stop();
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    } catch (error) {
      stop(error);
    }
  });
}
