/**
 * The work queue every controller drains: keys (not objects) so a worker always reads the newest state,
 * de-duplicated, serialised per key (never two workers on one key), with per-key exponential backoff and
 * jitter for failures, delayed adds whose earliest deadline wins, and an overall rate limit on retries
 * that protects the API from a controller in a retry storm (fresh work is never throttled).
 */

export interface QueueOptions {
  /** First retry delay after a failure; doubles per consecutive failure. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Sustained retries per second over all keys (token bucket); 0 disables. */
  ratePerSecond?: number;
  burst?: number;
  /** Randomness for jitter, injectable for tests. */
  random?: () => number;
  now?: () => number;
}

export class WorkQueue<K extends string = string> {
  private readonly ready: K[] = [];
  /** Keys that must be (re)processed: queued, or arrived while being processed. */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  private readonly failureCounts = new Map<K, number>();
  private readonly waiters: (() => void)[] = [];
  private closed = false;
  private tokens: number;
  private lastRefill: number;
  private readonly opts: Required<QueueOptions>;

  constructor(options: QueueOptions = {}) {
    this.opts = {
      baseDelayMs: 50,
      maxDelayMs: 300_000,
      ratePerSecond: 50,
      burst: 200,
      random: Math.random,
      now: Date.now,
      ...options,
    };
    this.tokens = this.opts.burst;
    this.lastRefill = this.opts.now();
  }

  /** Queues the key now (no-op when it is already waiting). */
  add(key: K): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.add(key);
    // Being processed: done() puts it back, so the worker that holds it sees the newest state next.
    if (this.processing.has(key)) return;
    this.ready.push(key);
    this.waiters.shift()?.();
  }

  /**
   * Queues the key after `delayMs`. An earlier pending deadline is kept: a stream of events must not keep
   * pushing a periodic re-evaluation into the future (Krake's defect X7).
   */
  addAfter(key: K, delayMs: number): void {
    if (this.closed) return;
    if (delayMs <= 0) return this.add(key);
    const at = this.opts.now() + delayMs;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  /** When the key's delayed add fires, if one is pending. */
  scheduledAt(key: K): number | undefined {
    return this.delayed.get(key)?.at;
  }

  /**
   * Re-queues after a failure with exponential backoff and jitter, and no sooner than the overall retry
   * budget allows; returns the delay chosen.
   */
  addRateLimited(key: K): number {
    const failures = this.failureCounts.get(key) ?? 0;
    this.failureCounts.set(key, failures + 1);
    const ceiling = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** Math.min(failures, 30));
    // Half fixed, half random: spreads retries of many keys failing together, never retries at once.
    const backoff = Math.round(ceiling / 2 + (this.opts.random() * ceiling) / 2);
    const delay = Math.max(backoff, this.reserveToken());
    this.addAfter(key, delay);
    return delay;
  }

  /** Forgets the key's failures (after a success). */
  forget(key: K): void {
    this.failureCounts.delete(key);
  }

  failures(key: K): number {
    return this.failureCounts.get(key) ?? 0;
  }

  /** The next key to process, or undefined once the queue is shut down (or the signal aborts). */
  async get(signal?: AbortSignal): Promise<K | undefined> {
    for (;;) {
      if (this.closed || signal?.aborted) return undefined;
      if (this.ready.length > 0) {
        const key = this.ready.shift()!;
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          signal?.removeEventListener("abort", wake);
          const i = this.waiters.indexOf(wake);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve();
        };
        this.waiters.push(wake);
        signal?.addEventListener("abort", wake, { once: true });
      });
    }
  }

  /** Ends the processing of `key`; a key added meanwhile is queued again. */
  done(key: K): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.closed) {
      this.ready.push(key);
      this.waiters.shift()?.();
    }
  }

  /** Keys ready to be handed out (the queue depth). */
  get length(): number {
    return this.ready.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  get delayedCount(): number {
    return this.delayed.size;
  }

  shutDown(): void {
    this.closed = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Takes a retry token, possibly one that only becomes available later: how long until then. */
  private reserveToken(): number {
    if (this.opts.ratePerSecond <= 0) return 0;
    const now = this.opts.now();
    this.tokens = Math.min(
      this.opts.burst,
      this.tokens + ((now - this.lastRefill) / 1000) * this.opts.ratePerSecond,
    );
    this.lastRefill = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.opts.ratePerSecond) * 1000);
  }
}
