// Rate limits, one budget per agent (or per IP for calls without a valid token). In one
// process: token buckets holding up to `perMinute` points, refilling continuously. With
// Redis: a per-minute window counted in Redis, shared by every instance; if Redis does
// not answer, the local buckets take over.
import type { SharedCounter } from "../infra/pubsub.js";

export class RateLimiter {
  private readonly local: TokenBuckets;

  constructor(
    private readonly perMinute: number,
    private readonly shared?: SharedCounter,
  ) {
    this.local = new TokenBuckets(perMinute);
  }

  /** Takes `cost` points for `key`: 0 when granted, else the seconds to wait. */
  async take(key: string, cost: number): Promise<number> {
    const counted = this.shared ? await this.shared(key, cost, 60_000) : null;
    if (!counted) return this.local.take(key, cost);
    return counted.count <= this.perMinute ? 0 : Math.max(1, Math.ceil(counted.resetMs / 1000));
  }
}

export class TokenBuckets {
  private readonly buckets = new Map<string, { points: number; at: number }>();

  constructor(private readonly perMinute: number) {}

  /** Takes `cost` points for `key`: 0 when granted, else the seconds to wait. */
  take(key: string, cost: number, now = Date.now()): number {
    const refill = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { points: this.perMinute, at: now };
    bucket.points = Math.min(this.perMinute, bucket.points + (now - bucket.at) * refill);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (this.buckets.size > 100_000) this.forgetFull(now);
    if (bucket.points >= cost) {
      bucket.points -= cost;
      return 0;
    }
    return Math.ceil((cost - bucket.points) / refill / 1000);
  }

  /** Full buckets carry no state worth keeping. */
  private forgetFull(now: number) {
    const refill = this.perMinute / 60_000;
    for (const [key, b] of this.buckets) if (b.points + (now - b.at) * refill >= this.perMinute) this.buckets.delete(key);
  }
}
