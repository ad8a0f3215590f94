/**
 * A short-lived cache of metric values per (provider, metric), the fix for defect X12: Krake 1.0.1 queried
 * every metric of every candidate on every scheduling pass, twice, so a busy scheduler hammered its
 * providers with identical queries.
 *
 * - The key includes a digest of the provider's spec, so editing a provider (a new URL, a new static value)
 *   takes effect at once instead of after the TTL. The digest, not the spec, so a token stays out of keys.
 * - Concurrent queries of one key share one request. That shared request deliberately runs without any
 *   caller's AbortSignal (only the provider timeout bounds it): one caller giving up must not fail the
 *   others. A caller whose signal aborts stops waiting at once; the request finishes for whoever remains
 *   and its result is still cached.
 * - Failures are cached too, for less time: a provider that is down answers fast for a moment instead of
 *   being retried by every candidate of the same pass, but recovers quickly.
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import { MetricFailure } from "./errors.js";
import {
  createMetricsSource,
  type AnyMetricsProviderSpec,
  type MetricsSource,
  type MetricsSourceOptions,
} from "./provider.js";

export const DEFAULT_VALUE_TTL_MS = 10_000;
export const DEFAULT_ERROR_TTL_MS = 2_000;

/** The (Global)MetricsProvider resource, as read from the API; only these fields are used. */
export interface MetricsProviderResource {
  kind: string;
  metadata: { name: string; namespace?: string | null };
  spec: AnyMetricsProviderSpec;
}

export interface MetricsCacheOptions {
  /** How long a value is reused. */
  ttlMs?: number;
  /** How long a MetricFailure is reused; other (unexpected) errors are never cached. */
  errorTtlMs?: number;
  /** Monotonic milliseconds; injectable so tests control expiry. */
  now?: () => number;
  /** Passed to every source, e.g. the per-query timeout. */
  sourceOptions?: Omit<MetricsSourceOptions, "resource">;
  /** Injectable for tests that count or stall queries. */
  createSource?: (spec: MetricsProviderResource["spec"], options: MetricsSourceOptions) => MetricsSource;
}

interface Entry {
  /** Settles once; callers wait on it. It always has a rejection handler, see `load`. */
  readonly result: Promise<number>;
  /** Infinity while the request is in flight: never expire what others are waiting for. */
  expiresAt: number;
}

export class MetricsCache {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlMs: number;
  private readonly errorTtlMs: number;
  private readonly now: () => number;
  private readonly sourceOptions: Omit<MetricsSourceOptions, "resource">;
  private readonly createSource: NonNullable<MetricsCacheOptions["createSource"]>;
  private nextSweepAt: number;

  constructor(options: MetricsCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_VALUE_TTL_MS;
    this.errorTtlMs = options.errorTtlMs ?? DEFAULT_ERROR_TTL_MS;
    this.now = options.now ?? (() => performance.now());
    this.sourceOptions = options.sourceOptions ?? {};
    this.createSource = options.createSource ?? createMetricsSource;
    this.nextSweepAt = this.now() + this.sweepInterval();
  }

  /** The value of `metric` from `provider`, from the cache or one (shared) query. Errors as MetricsSource. */
  query(provider: MetricsProviderResource, metric: string, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.now();
    if (now >= this.nextSweepAt) this.sweep(now);
    const key = cacheKey(provider, metric);
    let entry = this.entries.get(key);
    if (entry === undefined || entry.expiresAt <= now) entry = this.load(key, provider, metric);
    return abandonOnAbort(entry.result, signal);
  }

  /** Entries currently held, expired ones not yet swept included. */
  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }

  private load(key: string, provider: MetricsProviderResource, metric: string): Entry {
    const source = this.createSource(provider.spec, {
      ...this.sourceOptions,
      resource: describeResource(provider),
    });
    // async wrapper: a source that throws synchronously still yields a rejected promise.
    const result = (async () => source.query(metric))();
    const entry: Entry = { result, expiresAt: Infinity };
    this.entries.set(key, entry);
    result.then(
      () => this.settle(key, entry, this.ttlMs),
      // Also keeps a rejection nobody waits for any more (every caller aborted) from being "unhandled".
      (err: unknown) => this.settle(key, entry, err instanceof MetricFailure ? this.errorTtlMs : 0),
    );
    return entry;
  }

  private settle(key: string, entry: Entry, ttlMs: number): void {
    // clear() or a newer load may have replaced the entry meanwhile; that one is not ours to touch.
    if (this.entries.get(key) !== entry) return;
    if (ttlMs > 0) entry.expiresAt = this.now() + ttlMs;
    else this.entries.delete(key);
  }

  /** Drops expired entries, so providers and metrics that are no longer asked for do not pile up. */
  private sweep(now: number): void {
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    this.nextSweepAt = now + this.sweepInterval();
  }

  private sweepInterval(): number {
    return Math.max(this.ttlMs, this.errorTtlMs, 1_000);
  }
}

/** `GlobalMetricsProvider 'prom'` or `MetricsProvider 'team-a/prom'`, for error messages. */
function describeResource(provider: MetricsProviderResource): string {
  const { name, namespace } = provider.metadata;
  return `${provider.kind} '${namespace ? `${namespace}/` : ""}${name}'`;
}

function cacheKey(provider: MetricsProviderResource, metric: string): string {
  const digest = createHash("sha256").update(canonicalJson(provider.spec)).digest("base64url");
  const { name, namespace } = provider.metadata;
  return JSON.stringify([provider.kind, namespace ?? null, name, digest, metric]);
}

/** JSON with object keys sorted, so two equal specs read in a different key order share entries. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const record = value as Record<string, unknown>;
    const fields = Object.keys(record)
      .sort()
      .filter((k) => record[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
    return `{${fields.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/** The shared promise, or the caller's abort reason as soon as its signal fires, whichever comes first. */
function abandonOnAbort(result: Promise<number>, signal: AbortSignal | undefined): Promise<number> {
  if (signal === undefined) return result;
  return new Promise<number>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    result.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
