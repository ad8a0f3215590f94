/**
 * Metrics providers (controllers.md §3): turn a (Global)MetricsProvider `spec` into something that answers
 * "what is the current value of this metric?" with one finite number or a typed error.
 *
 * createMetricsSource never throws: a spec this build cannot use yields a source whose every query rejects
 * with MetricsProviderError, so the scheduler records the failure per metric (FAILING_METRICS with
 * UNREACHABLE_METRICS_PROVIDER) like any other provider failure instead of crashing the pass.
 */
import { MetricError, MetricsProviderError, redactUrl, type MetricFailureContext } from "./errors.js";
import { PrometheusSource } from "./prometheus.js";

export interface MetricsSource {
  /**
   * The current value of `metric` (`Metric.spec.provider.metric`). Rejects with MetricsProviderError or
   * MetricError; if `signal` aborts first, rejects with the signal's reason instead (the caller gave up,
   * which says nothing about the provider).
   */
  query(metric: string, signal?: AbortSignal): Promise<number>;
}

export interface PrometheusProviderSpec {
  type: "prometheus";
  prometheus: { url: string };
}
export interface InfluxProviderSpec {
  type: "influx";
  influx: { url: string; token: string; org: string; bucket: string };
}
export interface KafkaProviderSpec {
  type: "kafka";
  kafka: { url: string; table: string; comparison_column: string; value_column: string };
}
export interface StaticProviderSpec {
  type: "static";
  static: { metrics: Record<string, number> };
}
export type MetricsProviderSpec =
  PrometheusProviderSpec | InfluxProviderSpec | KafkaProviderSpec | StaticProviderSpec;
/**
 * What the functions here accept: typed loosely on purpose, because specs come from the store and one
 * written by an older or newer Krake may carry a type this build does not know.
 */
export type AnyMetricsProviderSpec = MetricsProviderSpec | { type: string; [variant: string]: unknown };

export const DEFAULT_QUERY_TIMEOUT_MS = 20_000;

export interface MetricsSourceOptions {
  /** The provider resource as shown in error messages, e.g. `GlobalMetricsProvider 'prom'`. */
  resource?: string;
  /** Total time for one query, connection to last body byte (controllers.md §3: 20 s). */
  timeoutMs?: number;
}

/** Why the types the reference implementation supports are refused here (no test server in bookworm). */
const UNSUPPORTED: Record<string, string> = {
  kafka:
    "its KSQL client is not implemented, because it could not be verified against a real KSQL server " +
    "(none is packaged for Debian bookworm); use a prometheus or static provider",
  influx:
    "its InfluxDB 2 client is not implemented, because it could not be verified against a real InfluxDB 2 " +
    "(none is packaged for Debian bookworm); use a prometheus or static provider",
};

export function createMetricsSource(
  spec: AnyMetricsProviderSpec,
  options: MetricsSourceOptions = {},
): MetricsSource {
  const provider = describeProvider(spec, options.resource);
  const failing = (detail: string): MetricsSource => ({
    query: (metric, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason);
      return Promise.reject(new MetricsProviderError({ metric, provider }, detail));
    },
  });

  const variant = (spec as Record<string, unknown>)[spec.type];
  switch (spec.type) {
    case "static": {
      const metrics = (variant as StaticProviderSpec["static"] | undefined)?.metrics;
      if (metrics === null || typeof metrics !== "object")
        return failing("static provider spec has no 'static.metrics' mapping");
      return new StaticSource(metrics, provider);
    }
    case "prometheus": {
      const url = (variant as PrometheusProviderSpec["prometheus"] | undefined)?.url;
      if (typeof url !== "string" || url === "")
        return failing("prometheus provider spec has no 'prometheus.url'");
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return failing("'prometheus.url' is not an absolute URL");
      }
      if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
        return failing(`'prometheus.url' must be http or https, not ${parsed.protocol.replace(/:$/, "")}`);
      return new PrometheusSource(parsed, provider, options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS);
    }
    default: {
      const why = UNSUPPORTED[spec.type] ?? "this build knows only the types static and prometheus";
      return failing(`metrics provider type '${spec.type}' is not supported by this Krake build: ${why}`);
    }
  }
}

/**
 * `GlobalMetricsProvider 'prom' (prometheus at http://prom:9090/)`, or `prometheus provider at …` without a
 * resource. Only the redacted URL is shown: other variant fields (an influx token) never are.
 */
export function describeProvider(spec: AnyMetricsProviderSpec, resource?: string): string {
  const url = ((spec as Record<string, unknown>)[spec.type] as { url?: unknown } | undefined)?.url;
  const where = typeof url === "string" && url !== "" ? ` at ${redactUrl(url)}` : "";
  return resource ? `${resource} (${spec.type}${where})` : `${spec.type} provider${where}`;
}

class StaticSource implements MetricsSource {
  constructor(
    private readonly metrics: Record<string, unknown>,
    private readonly provider: string,
  ) {}

  async query(metric: string, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) throw signal.reason;
    const context: MetricFailureContext = { metric, provider: this.provider };
    // hasOwn: a metric called "constructor" or "__proto__" must not find Object.prototype's members.
    if (!Object.hasOwn(this.metrics, metric)) {
      const known = Object.keys(this.metrics).sort();
      const shown = known.slice(0, 10).map((k) => `'${k}'`);
      if (known.length > shown.length) shown.push(`${known.length - shown.length} more`);
      const hint = known.length ? `it has ${shown.join(", ")}` : "it has no metrics";
      throw new MetricError(context, `the static provider has no metric '${metric}' (${hint})`);
    }
    const value = this.metrics[metric];
    if (typeof value !== "number" || !Number.isFinite(value))
      throw new MetricError(
        context,
        `static value ${JSON.stringify(value) ?? String(value)} is not a finite number`,
      );
    return value;
  }
}
