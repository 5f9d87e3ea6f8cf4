// A subscription's view of the journal: replay what was missed after a cursor, then go
// live, with no gap and no duplicate.
//
// Order matters: register with the tailer first (it will hand over every row above its
// position), then replay from the database (which holds every row at or below it), and
// skip what was already sent. Rows commit in cursor order (see Dialect), so a cursor
// comparison is enough to drop duplicates.
//
// Cost matters too: the tailer hands each batch to every subscriber of the process, so a
// caught-up subscriber takes its rows synchronously, in the tailer's call, without a
// promise per row. Rows wait in a queue only while the subscriber is busy (replaying, or
// waiting for a row's delivery or access check); the state per subscriber is a few fields.
//
// Two ways out: pulled as an AsyncIterable (what GraphQL engines consume), or pushed to
// a sink (the graphql-ws fast path in graphql/live.ts), which may hand back to pulling.
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

/** Takes one emitted row; a promise holds the rows after it until it settles. */
export type RowSink = (row: JournalRow) => void | Promise<void>;

const REPLAY_PAGE = 500;
// Rows waiting for a subscriber that does not read; past this it is cut off and can
// resume from its last cursor.
export const MAX_BACKLOG = 10_000;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true });
const emitAll = () => true;

export function streamJournal(journal: JournalService, tailer: JournalTailer, options: StreamOptions): JournalStream {
  return new JournalStream(journal, tailer, options);
}

export class JournalStream implements AsyncIterableIterator<JournalRow> {
  private readonly scope: JournalScope;
  private readonly after: number | null;
  private readonly emit: (row: JournalRow) => boolean;
  private readonly endsAfter: ((row: JournalRow) => boolean | Promise<boolean>) | undefined;
  private state: "idle" | "running" | "ended" = "idle";
  /** The highest cursor handled (emitted or skipped). */
  private last = 0;
  /** Every emitted row at or below this cursor has reached the consumer: where a resume starts. */
  private taken = 0;
  /** Replaying, or waiting for a row's delivery or check: rows from the tailer queue up. */
  private busy = true;
  private queued: JournalRow[] | null = null;
  /** Pulling: emitted rows not taken yet, and the puller waiting for one. */
  private ready: JournalRow[] | null = null;
  private waiter: { resolve: (r: IteratorResult<JournalRow>) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private sink: RowSink | null = null;
  private stopListening: (() => void) | null = null;
  private endHooks: (() => void)[] | null = null;

  constructor(
    private readonly journal: JournalService,
    private readonly tailer: JournalTailer,
    options: StreamOptions,
  ) {
    this.scope = options.scope;
    this.after = options.after ?? null;
    this.emit = options.emit ?? emitAll;
    this.endsAfter = options.endsAfter;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<JournalRow>> {
    if (this.state === "idle") this.start();
    const row = this.ready?.shift();
    if (row) {
      this.taken = row.id;
      return Promise.resolve({ value: row, done: false });
    }
    if (this.isEnded) {
      if (this.failure === null) return Promise.resolve(DONE);
      const failure = this.failure;
      this.failure = null;
      return Promise.reject(failure);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<JournalRow>> {
    this.ready = null;
    this.finish();
    return Promise.resolve(DONE);
  }

  throw(error: unknown): Promise<IteratorResult<JournalRow>> {
    this.ready = null;
    this.finish();
    return Promise.reject(error);
  }

  /** Emitted rows go to `sink` from now on (and the stream starts), not to next(). */
  pushTo(sink: RowSink): void {
    this.sink = sink;
    this.start();
  }

  /** Stops pushing: `row` (already handled) and every row after it are left for next(). */
  pull(row?: JournalRow): void {
    this.sink = null;
    if (row && !this.isEnded) this.output(row);
  }

  /**
   * The pushed-to consumer cannot keep up (call it instead of delivering a row): ends
   * with CONFLICT and the cursor to resume from.
   */
  fellBehind(): void {
    this.overflow();
  }

  /** Emitted rows already waiting to be pulled, taken at once (none to wait for). */
  takeReady(): JournalRow[] {
    const rows = this.ready ?? [];
    this.ready = null;
    const last = rows.at(-1);
    if (last) this.taken = last.id;
    return rows;
  }

  /** Ends the stream with `error` (for example: the subscriber's token was revoked). */
  cutOff(error: unknown): void {
    this.finish(error);
  }

  /** Called once when the stream ends, for whatever reason. */
  onEnd(hook: () => void): void {
    if (this.isEnded) hook();
    else (this.endHooks ??= []).push(hook);
  }

  /** True once the stream has ended (nothing more is emitted). */
  get isEnded(): boolean {
    return this.state === "ended";
  }

  private start(): void {
    if (this.state !== "idle") return;
    this.state = "running";
    this.run().catch((error: unknown) => this.finish(error));
  }

  private async run(): Promise<void> {
    const registration = await this.tailer.listen(this.onRows, () => this.finish());
    if (this.isEnded) return registration.stop();
    this.stopListening = registration.stop;
    this.last = this.taken = this.after ?? registration.position;
    if (this.after !== null) {
      for (;;) {
        const page = await this.journal.readAfter(this.scope, this.last, REPLAY_PAGE);
        for (const row of page) {
          if (this.isEnded) return;
          const pending = this.handle(row);
          if (pending) await pending;
        }
        if (page.length < REPLAY_PAGE) break;
      }
    }
    if (this.isEnded) return;
    this.busy = false;
    this.drain();
    this.markCaughtUp();
  }

  private markCaughtUp: () => void = () => {};
  /** Resolves once the replay is done and the stream is live (never, if it ends first). */
  readonly caughtUp = new Promise<void>((resolve) => (this.markCaughtUp = resolve));

  /** The tailer's listener: each new batch of rows, in cursor order. */
  private readonly onRows = (rows: readonly JournalRow[]): void => {
    try {
      for (const row of rows) {
        if (this.isEnded) return;
        if (!inScope(this.scope, row)) continue;
        if (this.busy) {
          if ((this.queued ??= []).push(row) > MAX_BACKLOG) return this.overflow();
          continue;
        }
        const pending = this.handle(row);
        if (pending) this.hold(pending);
      }
    } catch (error) {
      this.finish(error);
    }
  };

  /** Emits one row unless already handled, then checks whether the stream ends. */
  private handle(row: JournalRow): Promise<void> | undefined {
    if (row.id <= this.last) return;
    this.last = row.id;
    const sent = this.emit(row) ? this.output(row) : undefined;
    if (this.isEnded) return;
    const ends = this.endsAfter ? this.endsAfter(row) : false;
    if (sent === undefined) {
      this.settled(row);
      if (ends === false) return;
      if (ends === true) return void this.finish();
      return ends.then((end) => {
        if (end) this.finish();
      });
    }
    return sent.then(async () => {
      this.settled(row);
      if (await ends) this.finish();
    });
  }

  /** `row` is out of our hands: a resume after it misses nothing (unless rows wait before it). */
  private settled(row: JournalRow): void {
    if (!this.ready?.length && row.id > this.taken) this.taken = row.id;
  }

  private output(row: JournalRow): void | Promise<void> {
    if (this.sink) return this.sink(row);
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      this.taken = row.id;
      waiter.resolve({ value: row, done: false });
    } else if ((this.ready ??= []).push(row) > MAX_BACKLOG) {
      this.overflow();
    }
  }

  /** Queues what the tailer brings until `pending` settles, then catches up. */
  private hold(pending: Promise<void>): void {
    this.busy = true;
    pending.then(
      () => {
        this.busy = false;
        this.drain();
      },
      (error: unknown) => this.finish(error),
    );
  }

  private drain(): void {
    const queued = this.queued;
    if (!queued) return;
    this.queued = null;
    try {
      for (let i = 0; i < queued.length && !this.isEnded; i++) {
        const pending = this.handle(queued[i]!);
        if (pending) {
          // Rows after this one wait, ahead of whatever the tailer brings meanwhile.
          const rest = queued.slice(i + 1);
          if (rest.length) this.queued = rest;
          return this.hold(pending);
        }
      }
    } catch (error) {
      this.finish(error);
    }
  }

  private overflow(): void {
    // Rows not taken yet are dropped: the subscriber resumes right before them.
    const after = this.taken;
    this.ready = null;
    this.finish(new ConflictError(`subscriber fell behind by more than ${MAX_BACKLOG} events; resubscribe with after: ${after}`, { after }));
  }

  /** Ends the stream: a pending next() gets the end (or the error), the tailer forgets us. */
  private finish(error?: unknown): void {
    if (this.isEnded) return;
    this.state = "ended";
    this.sink = null;
    this.queued = null;
    this.stopListening?.();
    this.stopListening = null;
    if (error !== undefined) {
      this.ready = null;
      this.failure = error;
    }
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      if (this.failure === null) waiter.resolve(DONE);
      else {
        waiter.reject(this.failure);
        this.failure = null;
      }
    }
    const hooks = this.endHooks;
    this.endHooks = null;
    if (hooks) for (const hook of hooks) hook();
  }
}
