// One tailer per process reads each new batch of journal rows once and hands it to
// every listener; listeners filter in memory. Announcements say "look now"; a slow
// poll covers a lost announcement. Rows always come from the database, never from
// the announcement.
import { UnavailableError } from "../../errors.js";
import type { AnnouncementBus } from "../../infra/pubsub.js";
import type { JournalRow, JournalService } from "./journal.service.js";

export type JournalListener = (rows: readonly JournalRow[]) => void;

const BATCH = 500;
/**
 * Handing a batch over (to every listener, then the socket writes it causes) may take at
 * most this share of the time: after a costly hand-over the next read waits. The rest
 * is left to requests, the writers among them. The pause is what an event waits for:
 * with 1,000 subscribers at 100 commits/s, 0.4 gave a p99 of 80–100 ms, 0.65 gave
 * 40–49 ms with the writer still at its full rate (bench item 5, three runs each).
 */
const FANOUT_SHARE = 0.65;
/**
 * Reads start at least this far apart: under many commits a second, what commits meanwhile
 * joins the next batch, and a batch costs about as much as one row (a read, a call per
 * listener, a write per socket). The first commit after a quiet moment is read at once.
 * Team at work, 20 writers and 20 subscribers (bench `work`, quick): 1,070 writes/s without
 * it, 1,280–1,470 with 4 ms; 8 ms gave no more.
 */
const MIN_READ_GAP_MS = 4;
/** A hand-over shorter than this (smoothed) is not followed by a pause. */
const PAUSE_FROM_MS = 2;
/** The longest pause between reads (it adds to the latency of events). */
const MAX_PAUSE_MS = 100;

export interface TailerStats {
  listeners: number;
  position: number;
  reads: number;
}

export class JournalTailer {
  private readonly listeners = new Set<JournalListener>();
  /** Called to end each listener's stream when the server shuts down. */
  private readonly closers = new Map<JournalListener, () => void>();
  private closed = false;
  private position = 0;
  private started: Promise<void> | null = null;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private poll: NodeJS.Timeout | null = null;
  private announcements: AsyncIterator<number> | null = null;
  private reads = 0;
  /** The last read failed (the database is unreachable): further failures are not reported. */
  private failing = false;
  /** How long handing a batch over takes, smoothed (one slow batch barely moves it). */
  private handOverMs = 0;
  private lastReadAt = -Infinity;

  constructor(
    private readonly journal: Pick<JournalService, "head" | "readAllAfter">,
    private readonly bus: AnnouncementBus,
    private readonly pollMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Registers a listener. Every row with a cursor above the returned position will be
   * handed to it; every row at or below it was already committed when this resolved.
   */
  async listen(listener: JournalListener, onClose?: () => void): Promise<{ position: number; stop: () => void }> {
    // Nothing was done for the caller yet: it may retry, on another instance or after the restart.
    if (this.closed) throw new UnavailableError("the server is shutting down; retry on another instance or after the restart");
    this.listeners.add(listener);
    if (onClose) this.closers.set(listener, onClose);
    try {
      await this.start();
    } catch (error) {
      // The database did not answer: the caller fails (and may retry); nothing is kept for it.
      this.listeners.delete(listener);
      this.closers.delete(listener);
      throw error;
    }
    return {
      position: this.position,
      stop: () => {
        this.listeners.delete(listener);
        this.closers.delete(listener);
        if (this.listeners.size === 0) this.halt();
      },
    };
  }

  /** Ends every listener's stream (they complete normally) and stops tailing. */
  close(): void {
    this.closed = true;
    for (const close of [...this.closers.values()]) close();
    this.listeners.clear();
    this.closers.clear();
    this.halt();
  }

  stats(): TailerStats {
    return { listeners: this.listeners.size, position: this.position, reads: this.reads };
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      this.position = Math.max(this.position, await this.journal.head());
      const iterator = this.bus.subscribe("journal:advanced")[Symbol.asyncIterator]();
      this.announcements = iterator;
      void (async () => {
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
          if (next.value > this.position) this.read();
        }
      })().catch(this.onError);
      this.poll = setInterval(() => this.read(), this.pollMs);
      this.poll.unref();
    })().catch((error) => {
      this.started = null;
      throw error;
    });
    return this.started;
  }

  private halt() {
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    void this.announcements?.return?.();
    this.announcements = null;
    this.started = null;
  }

  /** Reads everything after the position; concurrent calls coalesce into one more read. */
  private read(): void {
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = (async () => {
      do {
        const early = this.lastReadAt + MIN_READ_GAP_MS - performance.now();
        if (early > 0) await new Promise<void>((resolve) => setTimeout(resolve, early));
        this.readAgain = false;
        if (this.listeners.size === 0) break;
        this.reads++;
        this.lastReadAt = performance.now();
        const rows = await this.journal.readAllAfter(this.position, BATCH);
        if (rows.length === 0) continue;
        this.position = rows[rows.length - 1]!.id;
        const started = performance.now();
        for (const listener of this.listeners) {
          try {
            listener(rows);
          } catch (error) {
            this.onError(error);
          }
        }
        if (rows.length === BATCH) this.readAgain = true;
        // Listeners write to their sockets at the end of the tick, before this resumes.
        await new Promise<void>((resolve) => process.nextTick(resolve));
        // A hand-over costs about as much for one row as for fifty (with many listeners
        // it is mostly one write per socket), so a busy server must not read after every
        // commit: it waits, and what commits meanwhile joins the next batch.
        const spent = performance.now() - started;
        this.handOverMs += (spent - this.handOverMs) * 0.3;
        if (this.handOverMs >= PAUSE_FROM_MS) {
          const pause = Math.min(this.handOverMs / FANOUT_SHARE - this.handOverMs, MAX_PAUSE_MS);
          await new Promise<void>((resolve) => setTimeout(resolve, pause));
        }
      } while (this.readAgain);
    })()
      .then(
        () => {
          this.failing = false;
        },
        (error: unknown) => {
          // The position moves only past rows handed over, so the next read (the poll's, or
          // an announcement's) starts where this one failed: listeners wait, miss nothing.
          // One report per outage: the poll retries every pollMs while the database is down.
          if (!this.failing) this.onError(error);
          this.failing = true;
        },
      )
      .finally(() => {
        this.reading = null;
      });
  }
}
