/**
 * Per-client token buckets: `perMinute` calls per minute with a burst of the same size. Buckets of
 * idle clients are dropped so that the map can't grow without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updated: number }>();
  private readonly capacity: number;
  private readonly refillPerMs: number;

  constructor(
    perMinute: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.capacity = perMinute;
    this.refillPerMs = perMinute / 60_000;
  }

  get enabled(): boolean {
    return this.capacity > 0;
  }

  /** Takes one token; returns 0 when allowed, else the seconds until a token is available. */
  take(client: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      if (this.buckets.size > 10_000) this.prune(t);
      b = { tokens: this.capacity, updated: t };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(this.capacity, b.tokens + (t - b.updated) * this.refillPerMs);
    b.updated = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.refillPerMs / 1000));
  }

  private prune(t: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (t - b.updated) * this.refillPerMs >= this.capacity) this.buckets.delete(k);
    }
  }
}
