// Presence without a write per request: requests and subscriptions mark agents in
// memory, and one transaction every PRESENCE_FLUSH_MS writes `lastSeenAt` and, for
// agents holding a live subscription here, `onlineUntil` (two intervals ahead), so
// other instances see them online too. Presence is telemetry, not a journaled change.
import type { Database } from "../../infra/db.js";

/** The Agent columns presence writes: the only columns of the table written without a journal row. */
export const PRESENCE_COLUMNS: readonly string[] = ["lastSeenAt", "onlineUntil"];

export class Presence {
  private readonly seen = new Map<string, Date>();
  private readonly live = new Map<string, number>();
  /** Agents whose last subscription here ended since the last flush. */
  private readonly wentOffline = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly db: Database,
    private readonly flushMs: number,
    private readonly onError: (error: unknown) => void,
  ) {}

  start() {
    this.timer = setInterval(() => void this.flush().catch(this.onError), this.flushMs);
    this.timer.unref();
  }

  async stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.live.clear();
    await this.flush();
  }

  markSeen(agentId: string) {
    this.seen.set(agentId, new Date());
  }

  /** Counts a live subscription; call the returned function when it ends. */
  subscribed(agentId: string): () => void {
    this.live.set(agentId, (this.live.get(agentId) ?? 0) + 1);
    this.markSeen(agentId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.live.get(agentId) ?? 1) - 1;
      if (n > 0) this.live.set(agentId, n);
      else {
        this.live.delete(agentId);
        this.wentOffline.add(agentId);
      }
      this.markSeen(agentId);
    };
  }

  liveSubscriptions(): number {
    let n = 0;
    for (const count of this.live.values()) n += count;
    return n;
  }

  lastSeenAt(agent: { id: string; lastSeenAt: Date | null }): Date | null {
    const local = this.seen.get(agent.id);
    if (!local) return agent.lastSeenAt;
    return !agent.lastSeenAt || local > agent.lastSeenAt ? local : agent.lastSeenAt;
  }

  online(agent: { id: string; onlineUntil: Date | null }): boolean {
    if (this.live.has(agent.id)) return true;
    // Another instance may hold a subscription: it keeps onlineUntil in the future.
    return !this.wentOffline.has(agent.id) && agent.onlineUntil !== null && agent.onlineUntil > new Date();
  }

  async flush(): Promise<void> {
    if (this.seen.size === 0) return;
    const seen = [...this.seen];
    const offline = [...this.wentOffline].filter((id) => !this.live.has(id));
    const onlineUntil = new Date(Date.now() + 2 * this.flushMs);
    await this.db.write(async (tx) => {
      for (const [id, at] of seen) {
        const online = this.live.has(id) ? { onlineUntil } : {};
        await tx.agent.updateMany({ where: { id, OR: [{ lastSeenAt: null }, { lastSeenAt: { lt: at } }] }, data: { lastSeenAt: at } });
        if (this.live.has(id)) await tx.agent.updateMany({ where: { id }, data: online });
      }
      if (offline.length) await tx.agent.updateMany({ where: { id: { in: offline } }, data: { onlineUntil: null } });
    });
    for (const id of offline) this.wentOffline.delete(id);
    // Keep entries for agents still live (they are re-marked each flush); drop the rest
    // only if nothing newer arrived while writing.
    for (const [id, at] of seen) {
      if (!this.live.has(id) && this.seen.get(id) === at) this.seen.delete(id);
    }
  }
}
