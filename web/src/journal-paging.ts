// The team journal pages forward only (`journal(first, after)`), by a cursor that is the
// whole server's journal position: a team's rows are a sparse subset of the integers.
// Reading backwards (the newest rows, then older ones) is done with windows of cursors:
// a window of at most 100 cursor values holds at most 100 rows, so one forward page reads
// it whole. Windows widen where the team's rows are sparse.

export interface Page<R> {
  rows: R[];
  hasNextPage: boolean;
}
/** Reads up to `first` rows with cursor > after, oldest first. */
export type FetchAfter<R> = (after: number, first: number) => Promise<Page<R>>;

const PAGE = 100;

/**
 * Where the journal ends: a search, reading cursors only, for an `after` whose page is
 * non-empty and the last one. Answers that `after` (read it to get the newest rows, at
 * most 100) and the latest cursor; null when the journal is empty.
 */
export async function findTail(probe: FetchAfter<{ cursor: number }>): Promise<{ after: number; latest: number } | null> {
  let lo = 0; // rows exist after lo
  let hi: number | null = null; // no row after hi
  let step = 1024;
  let x = 0;
  for (;;) {
    const page = await probe(x, PAGE);
    const last = page.rows.at(-1);
    if (!last) {
      if (x === 0) return null;
      hi = x;
    } else if (!page.hasNextPage) {
      return { after: x, latest: last.cursor };
    } else {
      lo = last.cursor;
      step *= 2;
    }
    x = hi === null ? lo + step : lo + Math.floor((hi - lo) / 2);
  }
}

/**
 * Rows with cursor < before, newest last: at least `want` of them unless the journal
 * starts sooner (then atStart).
 */
export async function pageBefore<R extends { cursor: number }>(fetch: FetchAfter<R>, before: number, want: number): Promise<{ rows: R[]; atStart: boolean }> {
  const rows: R[] = [];
  let end = before; // this window: cursors in (start, end)
  let width = 128;
  for (;;) {
    const start = Math.max(0, end - 1 - width);
    const page = await fetch(start, PAGE);
    const last = page.rows.at(-1);
    if (page.hasNextPage && last && last.cursor < end - 1 && width > PAGE) {
      // More rows in the window than one page: look at a narrower one.
      width = Math.max(PAGE, Math.floor(width / 4));
      continue;
    }
    const found = page.rows.filter((r) => r.cursor < end);
    rows.unshift(...found);
    if (rows.length >= want || start === 0) return { rows, atStart: start === 0 };
    end = start + 1;
    if (found.length < want / 4) width *= 4;
  }
}
