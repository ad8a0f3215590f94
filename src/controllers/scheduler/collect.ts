/**
 * Metric values for scheduling (controllers.md §2.2): a MetricRef resolves to its (Global)Metric and
 * (Global)MetricsProvider, the provider is queried through the shared cache, the raw value normalised.
 *
 * Values are kept per metric, not per candidate: a thousand clusters referencing the same five metrics
 * cost five provider queries, and a decision reads them synchronously. A value older than the TTL is still
 * served while a fresh one is fetched (stale-while-revalidate), so a decision never waits on a provider
 * for a metric it has seen before. Every failure is kept with its reason code, for
 * `status.metrics_reasons`; one failing metric fails the resource's metrics as a whole, as in Krake.
 */
import { MetricFailure, MetricsCache, normalize } from "../../metrics/index.js";
import type { Resource } from "../../resources/kind.js";
import type { MetricRef, MetricValue } from "./select.js";

export interface Reason {
  code: string;
  message: string;
}

/** Where metrics and providers are looked up: the scheduler's informer caches. */
export interface MetricCatalog {
  metric(name: string, namespace: string): Resource | undefined;
  globalMetric(name: string): Resource | undefined;
  provider(name: string, namespace: string): Resource | undefined;
  globalProvider(name: string): Resource | undefined;
}

export interface Collected {
  /** Null when the resource references no metric, or one of them failed. */
  values: MetricValue[] | null;
  /** metric name → why it failed; empty when all succeeded. */
  failures: Record<string, Reason>;
}

type Outcome = { value: number } | { failure: Reason };

interface Entry {
  /** What is resolved: the metric's name and scope, and the namespace of namespaced metrics. */
  ref: MetricRef;
  namespace: string | null;
  at: number;
  outcome: Outcome | null;
  pending: Promise<Outcome> | null;
}

export class MetricValues {
  private readonly entries = new Map<string, Entry>();
  /** Changes whenever any known value or failure changes: results computed at one generation stay valid. */
  generation = 0;

  constructor(
    private readonly catalog: MetricCatalog,
    private readonly cache: MetricsCache,
    private readonly ttlMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Forgets every value: metrics or providers changed, so nothing cached may be trusted. */
  invalidate(): void {
    this.entries.clear();
    this.generation++;
  }

  /** Starts a background refresh of every value older than the TTL; cheap, call it once per decision. */
  refreshStale(signal?: AbortSignal): void {
    const now = this.now();
    for (const entry of this.entries.values()) {
      if (!entry.pending && entry.outcome && now - entry.at >= this.ttlMs) this.refresh(entry, signal);
    }
  }

  /** The values of `refs` for a resource in `namespace` (null: a global resource). */
  async collect(refs: MetricRef[], namespace: string | null, signal?: AbortSignal): Promise<Collected> {
    const ready = this.collectIfReady(refs, namespace, signal);
    if (ready) return ready;
    await Promise.all(refs.map((ref) => this.entry(ref, namespace, signal).pending).filter(Boolean));
    return this.collectIfReady(refs, namespace, signal)!;
  }

  /** Synchronous when every value is known (possibly stale, then refreshed in the background). */
  collectIfReady(refs: MetricRef[], namespace: string | null, signal?: AbortSignal): Collected | null {
    if (refs.length === 0) return { values: null, failures: {} };
    const values: MetricValue[] = [];
    let failures: Record<string, Reason> | null = null;
    for (const ref of refs) {
      const outcome = this.entry(ref, namespace, signal).outcome;
      if (!outcome) return null;
      if ("failure" in outcome) (failures ??= {})[ref.name] = outcome.failure;
      else values.push({ name: ref.name, weight: ref.weight, value: outcome.value });
    }
    return failures ? { values: null, failures } : { values, failures: {} };
  }

  private entry(ref: MetricRef, namespace: string | null, signal?: AbortSignal): Entry {
    const key = ref.namespaced ? `${namespace ?? "\u0000"}/${ref.name}` : `/${ref.name}`;
    let entry = this.entries.get(key);
    const now = this.now();
    if (!entry) {
      entry = { ref, namespace, at: now, outcome: null, pending: null };
      this.entries.set(key, entry);
    }
    if (!entry.pending && (entry.outcome === null || now - entry.at >= this.ttlMs))
      this.refresh(entry, signal);
    return entry;
  }

  private refresh(e: Entry, signal?: AbortSignal): void {
    e.pending = this.resolve(e.ref, e.namespace, signal).then((outcome) => {
      if (JSON.stringify(outcome) !== JSON.stringify(e.outcome)) this.generation++;
      e.outcome = outcome;
      e.at = this.now();
      e.pending = null;
      return outcome;
    });
  }

  private async resolve(ref: MetricRef, namespace: string | null, signal?: AbortSignal): Promise<Outcome> {
    const fail = (code: string, message: string): Outcome => ({ failure: { code, message } });
    let metric: Resource | undefined;
    let provider: Resource | undefined;
    if (ref.namespaced) {
      if (namespace === null)
        return fail("INVALID_METRIC", `a global resource cannot use the namespaced metric '${ref.name}'`);
      metric = this.catalog.metric(ref.name, namespace);
      if (!metric) return fail("UNKNOWN_METRIC", `Metric '${namespace}/${ref.name}' does not exist`);
      provider = this.catalog.provider(metric.spec.provider.name, namespace);
      if (!provider)
        return fail(
          "UNKNOWN_METRICS_PROVIDER",
          `MetricsProvider '${namespace}/${metric.spec.provider.name}' of metric '${ref.name}' does not exist`,
        );
    } else {
      metric = this.catalog.globalMetric(ref.name);
      if (!metric) return fail("UNKNOWN_METRIC", `GlobalMetric '${ref.name}' does not exist`);
      provider = this.catalog.globalProvider(metric.spec.provider.name);
      if (!provider)
        return fail(
          "UNKNOWN_METRICS_PROVIDER",
          `GlobalMetricsProvider '${metric.spec.provider.name}' of metric '${ref.name}' does not exist`,
        );
    }
    try {
      const raw = await this.cache.query(provider as any, metric.spec.provider.metric, signal);
      return { value: normalize(raw, metric.spec, { metric: ref.name }) };
    } catch (err) {
      if (err instanceof MetricFailure) return fail(err.reason, err.message);
      return fail("UNREACHABLE_METRICS_PROVIDER", (err as Error).message);
    }
  }
}
