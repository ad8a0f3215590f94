/**
 * Prometheus' instant query API (`GET /api/v1/query`). Unlike Krake 1.0.1, which searched the result for a
 * series whose `__name__` equals the query and so only worked for bare metric names (defect X13), any
 * PromQL expression is accepted as long as it evaluates to exactly one number: a one-element instant vector
 * or a scalar. Several samples are an error rather than "take the first", because which one comes first is
 * arbitrary and the scheduler would rank on a random series.
 */
import { startDeadline } from "../util/deadline.js";
import { MetricError, MetricsProviderError, type MetricFailureContext } from "./errors.js";
import type { MetricsSource } from "./provider.js";

/** How much of a non-JSON error body goes into a message: enough to recognise a proxy's error page. */
const BODY_EXCERPT_CHARS = 200;
/** Label sets listed when a query yields several samples, so the operator sees what to aggregate over. */
const SAMPLES_LISTED = 3;

interface PrometheusAnswer {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

export class PrometheusSource implements MetricsSource {
  private readonly queryUrl: URL;
  private readonly headers: Record<string, string> = { accept: "application/json" };

  constructor(
    baseUrl: URL,
    private readonly provider: string,
    private readonly timeoutMs: number,
  ) {
    this.queryUrl = new URL(baseUrl);
    // fetch refuses URLs with credentials; `http://user:pass@prom/` is how a provider spec that has only a
    // `url` field can still reach a Prometheus behind basic auth.
    if (baseUrl.username || baseUrl.password) {
      const user = decodeURIComponent(baseUrl.username);
      const password = decodeURIComponent(baseUrl.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
      this.queryUrl.username = "";
      this.queryUrl.password = "";
    }
    // Keep a path prefix (Prometheus behind a reverse proxy at /prometheus) and tolerate a trailing slash.
    this.queryUrl.pathname = `${this.queryUrl.pathname.replace(/\/+$/, "")}/api/v1/query`;
    this.queryUrl.hash = "";
  }

  async query(metric: string, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) throw signal.reason;
    const context: MetricFailureContext = { metric, provider: this.provider };
    const url = new URL(this.queryUrl);
    url.searchParams.set("query", metric);

    const deadline = startDeadline(
      signal,
      this.timeoutMs,
      () => new Error(`timed out after ${this.timeoutMs} ms`),
    );
    let status: number;
    let body: string;
    try {
      const res = await fetch(url, { headers: this.headers, signal: deadline.signal });
      status = res.status;
      // Inside the deadline too: a server that sends headers and then stalls must not hang the scheduler.
      body = await res.text();
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (deadline.timedOut())
        throw new MetricsProviderError(context, `Prometheus did not answer within ${this.timeoutMs} ms`, {
          cause: err,
        });
      throw new MetricsProviderError(context, `cannot reach Prometheus: ${describeFetchError(err)}`, {
        cause: err,
      });
    } finally {
      deadline.dispose();
    }
    return parseAnswer(status, body, context);
  }
}

function parseAnswer(status: number, body: string, context: MetricFailureContext): number {
  const ok = status >= 200 && status < 300;
  let answer: PrometheusAnswer;
  try {
    answer = JSON.parse(body) as PrometheusAnswer;
  } catch {
    const excerpt = body.length > BODY_EXCERPT_CHARS ? `${body.slice(0, BODY_EXCERPT_CHARS)}…` : body;
    throw new MetricsProviderError(
      context,
      ok
        ? `the answer is not JSON; does the provider URL point at Prometheus? (got: ${excerpt.trim()})`
        : `Prometheus answered HTTP ${status}: ${excerpt.trim()}`,
    );
  }
  if (answer === null || typeof answer !== "object")
    throw new MetricsProviderError(
      context,
      `unexpected answer (HTTP ${status}): ${body.slice(0, BODY_EXCERPT_CHARS)}`,
    );
  if (!ok || answer.status !== "success") {
    const kind = typeof answer.errorType === "string" ? `, ${answer.errorType}` : "";
    const message =
      typeof answer.error === "string" ? answer.error : `status ${JSON.stringify(answer.status)}`;
    throw new MetricsProviderError(
      context,
      `Prometheus rejected the query (HTTP ${status}${kind}): ${message}`,
    );
  }

  const resultType = answer.data?.resultType;
  const result = answer.data?.result;
  switch (resultType) {
    case "scalar":
      return sampleValue(result, context);
    case "vector": {
      if (!Array.isArray(result))
        throw new MetricsProviderError(context, "unexpected answer: a vector result that is not a list");
      if (result.length === 0)
        throw new MetricError(
          context,
          "the query yields no sample (is the metric scraped, spelt right, and are its label matchers right?)",
        );
      if (result.length > 1) {
        const listed = result.slice(0, SAMPLES_LISTED).map((s: { metric?: unknown }) => labelSet(s.metric));
        const more = result.length > SAMPLES_LISTED ? `, … ${result.length - SAMPLES_LISTED} more` : "";
        throw new MetricError(
          context,
          `the query yields ${result.length} samples, expected exactly one (${listed.join(", ")}${more}); ` +
            "aggregate them, e.g. sum(…) or max(…), or select one series with label matchers",
        );
      }
      return sampleValue((result[0] as { value?: unknown }).value, context);
    }
    case "matrix":
      throw new MetricError(
        context,
        "the query yields a range vector; use an instant vector (drop the [duration]) or aggregate over time, " +
          "e.g. avg_over_time(…[5m])",
      );
    case "string":
      throw new MetricError(context, "the query yields a string, not a number");
    default:
      throw new MetricsProviderError(context, `unexpected answer: result type ${JSON.stringify(resultType)}`);
  }
}

/** Prometheus encodes a sample as `[unixSeconds, "value"]`, the value a string so NaN and ±Inf survive JSON. */
function sampleValue(sample: unknown, context: MetricFailureContext): number {
  const text = Array.isArray(sample) ? sample[1] : undefined;
  if (typeof text !== "string")
    throw new MetricsProviderError(
      context,
      `unexpected answer: sample ${JSON.stringify(sample)} has no value`,
    );
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value))
    throw new MetricError(context, `the sample value ${text} is not a finite number`);
  return value;
}

function labelSet(metric: unknown): string {
  if (metric === null || typeof metric !== "object") return "{}";
  const pairs = Object.entries(metric as Record<string, unknown>).map(
    ([k, v]) => `${k}=${JSON.stringify(v)}`,
  );
  return `{${pairs.join(", ")}}`;
}

/** fetch says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND, a TLS problem) is in the cause. */
function describeFetchError(err: unknown): string {
  const cause = (err as { cause?: unknown })?.cause;
  if (cause instanceof AggregateError && cause.errors.length > 0)
    return cause.errors.map((e: Error) => e.message).join("; ");
  if (cause instanceof Error && cause.message) return cause.message;
  return err instanceof Error ? err.message : String(err);
}
