/**
 * Metric collection for one resource (controllers.md §2.2): resolve each MetricRef to its (Global)Metric
 * and (Global)MetricsProvider, query the provider through the shared cache, normalise. Every failure is
 * kept per metric with its reason code, for `status.metrics_reasons`; one failing metric fails the
 * resource's metrics as a whole, as in Krake.
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
  /** Null when the resource references no metric. */
  values: MetricValue[] | null;
  /** metric name → why it failed; empty when all succeeded. */
  failures: Record<string, Reason>;
}

export async function collectMetrics(
  refs: MetricRef[],
  /** The namespace of the resource holding the refs; null for global resources. */
  namespace: string | null,
  catalog: MetricCatalog,
  cache: MetricsCache,
  signal?: AbortSignal,
): Promise<Collected> {
  if (refs.length === 0) return { values: null, failures: {} };
  const failures: Record<string, Reason> = {};
  const values = await Promise.all(
    refs.map(async (ref): Promise<MetricValue | null> => {
      const fail = (code: string, message: string) => {
        failures[ref.name] = { code, message };
        return null;
      };
      let metric: Resource | undefined;
      let provider: Resource | undefined;
      if (ref.namespaced) {
        if (namespace === null)
          return fail("INVALID_METRIC", `a global resource cannot use the namespaced metric '${ref.name}'`);
        metric = catalog.metric(ref.name, namespace);
        if (!metric) return fail("UNKNOWN_METRIC", `Metric '${namespace}/${ref.name}' does not exist`);
        provider = catalog.provider(metric.spec.provider.name, namespace);
        if (!provider)
          return fail(
            "UNKNOWN_METRICS_PROVIDER",
            `MetricsProvider '${namespace}/${metric.spec.provider.name}' of metric '${ref.name}' does not exist`,
          );
      } else {
        metric = catalog.globalMetric(ref.name);
        if (!metric) return fail("UNKNOWN_METRIC", `GlobalMetric '${ref.name}' does not exist`);
        provider = catalog.globalProvider(metric.spec.provider.name);
        if (!provider)
          return fail(
            "UNKNOWN_METRICS_PROVIDER",
            `GlobalMetricsProvider '${metric.spec.provider.name}' of metric '${ref.name}' does not exist`,
          );
      }
      try {
        const raw = await cache.query(provider as any, metric.spec.provider.metric, signal);
        return { name: ref.name, weight: ref.weight, value: normalize(raw, metric.spec, { metric: ref.name }) };
      } catch (err) {
        if (err instanceof MetricFailure) return fail(err.reason, err.message);
        if (signal?.aborted) throw err;
        return fail("UNREACHABLE_METRICS_PROVIDER", (err as Error).message);
      }
    }),
  );
  if (Object.keys(failures).length > 0) return { values: null, failures };
  return { values: values as MetricValue[], failures };
}
