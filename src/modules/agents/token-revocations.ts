// Live streams end when the token they were opened with is revoked or rotated away, on
// whichever instance that happened: the revocation's journal row reaches every
// instance's tailer, which hands it here. One tailer listener serves every watched token.
import type { JournalTailer } from "../journal/journal-tailer.js";
import type { JournalRow } from "../journal/journal.service.js";

/** The token a journal row revokes, if it revokes one. */
export function revokedTokenOf(row: JournalRow): string | null {
  if (row.kind === "agent.token_revoked") return row.subjectId;
  if (row.kind === "agent.token_rotated") {
    const revoked = (row.payload as { revokedTokenId?: unknown } | null)?.revokedTokenId;
    return typeof revoked === "string" ? revoked : null;
  }
  return null;
}

export class TokenRevocations {
  /** Callbacks by token ID, each called once. */
  private readonly watchers = new Map<string, Set<() => void>>();
  private listening: Promise<void> | null = null;
  private stopListening: (() => void) | null = null;

  constructor(
    private readonly tailer: JournalTailer,
    /** Whether the token is revoked now (committed data). */
    private readonly isRevoked: (tokenId: string) => Promise<boolean>,
    /** Told of every revocation seen, watched or not (to forget a cached token). */
    private readonly onSeen: (tokenId: string) => void,
    private readonly onError: (error: unknown) => void,
  ) {}

  /**
   * Calls `onRevoked` once if the token is revoked from now on, or was already. Returns
   * the function that stops watching.
   */
  watch(tokenId: string, onRevoked: () => void): () => void {
    let set = this.watchers.get(tokenId);
    if (!set) this.watchers.set(tokenId, (set = new Set()));
    let done = false;
    const once = () => {
      if (done) return;
      done = true;
      stop();
      onRevoked();
    };
    const stop = () => {
      const current = this.watchers.get(tokenId);
      if (!current?.delete(once)) return;
      if (current.size === 0) this.watchers.delete(tokenId);
      if (this.watchers.size === 0) this.halt();
    };
    set.add(once);
    // Listening first, then looking: a revocation committed before the listener saw it
    // is in the table, one committed after reaches onRows. Either way `once` runs.
    void this.listen()
      .then(() => (done ? false : this.isRevoked(tokenId)))
      .then((revoked) => revoked && once())
      .catch(this.onError);
    return stop;
  }

  private listen(): Promise<void> {
    if (this.listening) return this.listening;
    const listening: Promise<void> = this.tailer
      .listen(this.onRows, () => {
        this.listening = null;
        this.stopListening = null;
      })
      .then((registration) => {
        // Halted while registering (no watcher left, or a newer registration took over).
        if (this.listening !== listening) return registration.stop();
        this.stopListening = registration.stop;
      });
    this.listening = listening;
    listening.catch(() => {
      if (this.listening === listening) this.listening = null;
    });
    return listening;
  }

  private halt(): void {
    this.stopListening?.();
    this.stopListening = null;
    this.listening = null;
  }

  private readonly onRows = (rows: readonly JournalRow[]): void => {
    for (const row of rows) {
      const tokenId = revokedTokenOf(row);
      if (tokenId === null) continue;
      this.onSeen(tokenId);
      const set = this.watchers.get(tokenId);
      if (set) for (const revoked of [...set]) revoked();
    }
  };
}
