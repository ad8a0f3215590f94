/**
 * The prometheus metrics provider against a real Prometheus 2.42 scraping an exporter served by this test.
 * What only a real server can tell: that any PromQL yielding one sample works (defect X13), how Prometheus
 * really reports zero/several samples, NaN, parse errors and range vectors, and that a changed value is
 * picked up on the next scrape.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  createMetricsSource,
  MetricError,
  MetricsCache,
  MetricsProviderError,
  normalize,
  type MetricsSource,
} from "../../src/metrics/index.js";
import {
  freePort,
  startExporter,
  startPrometheus,
  startSilentServer,
  waitFor,
  waitForSamples,
  type TestExporter,
  type TestPrometheus,
} from "../support/prometheus.js";

const exposition = (adjustable: number) =>
  [
    "# TYPE electricity_cost gauge",
    "electricity_cost 0.42",
    "# TYPE zone_load gauge",
    'zone_load{zone="a"} 1.5',
    'zone_load{zone="b"} 2',
    "# TYPE broken_gauge gauge",
    "broken_gauge NaN",
    "# TYPE overflowing_gauge gauge",
    "overflowing_gauge +Inf",
    "# TYPE adjustable_metric gauge",
    `adjustable_metric ${adjustable}`,
  ].join("\n");

/** Rejects with an error of `type` whose message matches every pattern; returns it for further checks. */
async function rejectsWith<E extends Error>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  ...patterns: (RegExp | string)[]
): Promise<E> {
  const err = await promise.then(
    (value) => assert.fail(`expected ${type.name}, got the value ${String(value)}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
  for (const pattern of patterns) {
    if (typeof pattern === "string")
      assert.ok(err.message.includes(pattern), `'${pattern}' not in: ${err.message}`);
    else assert.match(err.message, pattern);
  }
  return err;
}

describe("prometheus metrics provider against a real Prometheus", () => {
  let exporter: TestExporter;
  let prometheus: TestPrometheus;
  let source: MetricsSource;

  before(async () => {
    exporter = await startExporter(exposition(1));
    prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalSeconds: 1 });
    // One scrape is appended atomically, so once one of the exporter's series is there, all are.
    await waitForSamples(prometheus, "electricity_cost");
    source = createMetricsSource(
      { type: "prometheus", prometheus: { url: prometheus.url } },
      { resource: "GlobalMetricsProvider 'prometheus'" },
    );
  });

  after(async () => {
    await prometheus?.stop();
    await exporter?.close();
  });

  it("reads a bare metric name", async () => {
    assert.equal(await source.query("electricity_cost"), 0.42);
  });

  it("accepts any PromQL expression that yields one sample (defect X13)", async () => {
    assert.equal(await source.query("sum(zone_load)"), 3.5);
    assert.equal(await source.query('zone_load{zone="b"}'), 2);
    assert.equal(await source.query("max by () (zone_load)"), 2);
    // A scalar result, not a vector: Prometheus answers resultType "scalar".
    assert.equal(await source.query("scalar(electricity_cost) * 2"), 0.84);
  });

  it("rejects a query yielding two samples, naming how many and which", async () => {
    const err = await rejectsWith(
      source.query("zone_load"),
      MetricError,
      "yields 2 samples",
      'zone="a"',
      'zone="b"',
    );
    assert.equal(err.reason, "INVALID_METRIC");
    assert.ok(err.message.includes(prometheus.url), err.message);
    assert.ok(err.message.includes("'zone_load'"), err.message);
  });

  it("rejects a metric Prometheus has no sample for", async () => {
    await rejectsWith(source.query("no_such_metric"), MetricError, "no sample", "no_such_metric");
  });

  it("rejects NaN and infinite sample values", async () => {
    await rejectsWith(source.query("broken_gauge"), MetricError, "NaN is not a finite number");
    await rejectsWith(source.query("overflowing_gauge"), MetricError, "+Inf is not a finite number");
  });

  it("rejects a range vector, which is not one number", async () => {
    await rejectsWith(source.query("electricity_cost[1m]"), MetricError, "range vector");
  });

  it("reports invalid PromQL as a provider error carrying Prometheus' own message", async () => {
    const err = await rejectsWith(
      source.query("sum(electricity_cost"),
      MetricsProviderError,
      "HTTP 400, bad_data",
      // Prometheus' parser wording, proving the text comes from the server.
      /parse error/,
    );
    assert.equal(err.reason, "UNREACHABLE_METRICS_PROVIDER");
  });

  it("observes a changed value after the next scrape", async () => {
    assert.equal(await source.query("adjustable_metric"), 1);
    exporter.expose(exposition(7));
    let last: unknown;
    const seen = await waitFor(
      "adjustable_metric to become 7",
      async () => {
        last = await source.query("adjustable_metric");
        return last === 7 ? last : undefined;
      },
      15_000,
      () => String(last),
    );
    assert.equal(seen, 7);
  });

  it("serves the scheduler's pipeline: cache, then normalize", async () => {
    const cache = new MetricsCache({ ttlMs: 60_000 });
    const provider = {
      kind: "GlobalMetricsProvider",
      metadata: { name: "prometheus" },
      spec: { type: "prometheus", prometheus: { url: prometheus.url } },
    };
    const [first, second] = await Promise.all([
      cache.query(provider, "electricity_cost"),
      cache.query(provider, "electricity_cost"),
    ]);
    assert.equal(first, 0.42);
    assert.equal(second, 0.42);
    assert.equal(cache.size, 1);
    assert.equal(normalize(first, { min: 0, max: 2, allowed_values: [] }), 0.21);
  });

  it("reports a provider nobody listens on as unreachable", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const down = createMetricsSource({ type: "prometheus", prometheus: { url } });
    await rejectsWith(
      down.query("electricity_cost"),
      MetricsProviderError,
      "cannot reach",
      "ECONNREFUSED",
      url,
    );
  });

  it("gives up on a provider that never answers after the configured timeout", async () => {
    const silent = await startSilentServer();
    try {
      const slow = createMetricsSource(
        { type: "prometheus", prometheus: { url: silent.url } },
        { timeoutMs: 300 },
      );
      const started = performance.now();
      await rejectsWith(slow.query("electricity_cost"), MetricsProviderError, "did not answer within 300 ms");
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 5_000, `gave up after ${elapsed} ms`);
    } finally {
      await silent.close();
    }
  });
});
