/**
 * Token buckets keyed by caller: each holds up to `burst` tokens and gains `perSecond` tokens a second; a
 * request takes one. Memory stays bounded: a bucket that has been idle long enough to be full again is
 * indistinguishable from a new one, so such buckets are dropped on a periodic sweep, and the number of
 * buckets is capped (an attacker cycling through addresses faster than buckets refill would otherwise grow
 * the map without limit).
 */

export interface BucketOptions {
  perSecond: number;
  burst: number;
  /** Milliseconds on a monotonic clock (tests pass their own). */
  now?: () => number;
  /** Most buckets kept; beyond it the oldest are dropped (their callers start again with a full bucket). */
  maxBuckets?: number;
}

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  at: number;
}

/** Sweeps at most this often, so a sweep's cost (one pass over the map) is spread thin. */
const MIN_SWEEP_INTERVAL_MS = 10_000;

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private readonly maxBuckets: number;
  /** How long an untouched bucket takes to refill completely. */
  private readonly refillMs: number;
  private lastSweep: number;

  constructor(private readonly options: BucketOptions) {
    if (!(options.perSecond > 0)) throw new RangeError("perSecond must be > 0");
    if (!(options.burst >= 1)) throw new RangeError("burst must be >= 1");
    this.now = options.now ?? (() => performance.now());
    this.maxBuckets = options.maxBuckets ?? 100_000;
    this.refillMs = (options.burst / options.perSecond) * 1000;
    this.lastSweep = this.now();
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Takes a token for `key`: 0 when there was one, else the whole seconds (≥ 1) until there will be. */
  take(key: string): number {
    const now = this.now();
    if (now - this.lastSweep >= Math.max(this.refillMs, MIN_SWEEP_INTERVAL_MS)) this.sweep(now);
    const { perSecond, burst } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxBuckets) this.makeRoom(now);
      bucket = { tokens: burst, at: now };
      this.buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      bucket.at = now;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
  }

  /** Drops every bucket that has refilled completely since it was last used. */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, bucket] of this.buckets) if (now - bucket.at >= this.refillMs) this.buckets.delete(key);
  }

  private makeRoom(now: number): void {
    this.sweep(now);
    // Still full: drop the oldest-created tenth. Erring towards letting those callers through again is
    // the lesser harm compared with unbounded memory.
    let excess = this.buckets.size - this.maxBuckets + Math.ceil(this.maxBuckets / 10);
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) break;
      this.buckets.delete(key);
    }
  }
}
