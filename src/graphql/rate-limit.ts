// Token buckets, one per agent (or per IP for calls without a valid token): a bucket
// holds up to `perMinute` points and refills continuously. Kept in this process: with
// several instances each enforces its own budget (see the README).

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
