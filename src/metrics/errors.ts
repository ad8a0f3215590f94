/**
 * The two ways a metric can fail (controllers.md §2.2). The scheduler writes `reason` into
 * `status.metrics_reasons`, so both carry the Krake reason code and a message an operator can act on: what
 * went wrong, which metric, and which provider (its URL with credentials removed, never a token).
 */
import type { reasonCodes } from "../resources/kinds/common.js";

export type ReasonCode = (typeof reasonCodes)[number];

export interface MetricFailureContext {
  /** The metric name (or PromQL query) inside the provider, i.e. `Metric.spec.provider.metric`. */
  metric: string;
  /** A safe description of the provider, e.g. `prometheus provider 'prom' at http://prom:9090`. */
  provider: string;
}

/** Common base so callers can catch "this metric failed" without caring which way. */
export abstract class MetricFailure extends Error {
  abstract readonly reason: ReasonCode;
  readonly metric: string;
  readonly provider: string;
  /** The message without the metric/provider suffix, for callers that show the context themselves. */
  readonly detail: string;

  constructor(context: MetricFailureContext, detail: string, options?: ErrorOptions) {
    super(`${detail} (metric '${context.metric}' from ${context.provider})`, options);
    this.metric = context.metric;
    this.provider = context.provider;
    this.detail = detail;
  }

  /** The shape of a resource's `status.metrics_reasons[name]`. */
  toReason(): { code: ReasonCode; message: string } {
    return { code: this.reason, message: this.message };
  }
}

/**
 * The provider could not give an answer at all: unreachable, HTTP error, timeout, query rejected, or a
 * provider type this build cannot talk to. Usually transient or a provider misconfiguration.
 */
export class MetricsProviderError extends MetricFailure {
  readonly reason = "UNREACHABLE_METRICS_PROVIDER" as const;
  override readonly name = "MetricsProviderError";
}

/**
 * The provider answered, but the answer is not one usable number: missing, not finite, zero or several
 * samples, or (after normalization) outside the metric's declared range.
 */
export class MetricError extends MetricFailure {
  readonly reason = "INVALID_METRIC" as const;
  override readonly name = "MetricError";
}

/**
 * A URL fit for messages and logs: no user info, no query string or fragment (either may carry a token).
 * Not-quite-URLs are still shown, with anything that looks like `user:password@` cut out.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    parsed.search = "";
    parsed.hash = "";
    return parsed.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, "");
  }
}
