import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MetricError, MetricsProviderError } from "./errors.js";
import { createMetricsSource, describeProvider } from "./provider.js";

const staticSource = (metrics: Record<string, number>) =>
  createMetricsSource(
    { type: "static", static: { metrics } },
    { resource: "GlobalMetricsProvider 'static'" },
  );

async function failure(promise: Promise<number>): Promise<Error> {
  return promise.then(
    (value) => assert.fail(`expected a rejection, got ${value}`),
    (err: Error) => err,
  );
}

describe("static metrics provider", () => {
  it("answers with the configured value", async () => {
    const source = staticSource({ electricity_cost: 0.42, green: 1 });
    assert.equal(await source.query("electricity_cost"), 0.42);
    assert.equal(await source.query("green"), 1);
  });

  it("rejects a metric it does not have as INVALID_METRIC, listing what it has", async () => {
    const err = await failure(staticSource({ green: 1, cheap: 0 }).query("latency"));
    assert.ok(err instanceof MetricError, String(err));
    assert.match(err.message, /no metric 'latency' \(it has 'cheap', 'green'\)/);
    assert.match(err.message, /GlobalMetricsProvider 'static'/);
  });

  it("does not find Object.prototype members as metrics", async () => {
    const source = staticSource({ green: 1 });
    for (const name of ["constructor", "__proto__", "toString", "hasOwnProperty"])
      assert.ok((await failure(source.query(name))) instanceof MetricError, name);
  });

  it("rejects a stored value that is not a finite number", async () => {
    const source = createMetricsSource({
      type: "static",
      static: { metrics: { odd: "1" as unknown as number } },
    });
    const err = await failure(source.query("odd"));
    assert.ok(err instanceof MetricError);
    assert.match(err.message, /"1" is not a finite number/);
  });

  it("rejects with the caller's abort reason when the signal has already fired", async () => {
    const reason = new Error("scheduler shutting down");
    assert.equal(await failure(staticSource({ green: 1 }).query("green", AbortSignal.abort(reason))), reason);
  });
});

describe("createMetricsSource", () => {
  for (const [spec, url] of [
    [
      {
        type: "kafka",
        kafka: { url: "http://ksql:8088", table: "t", comparison_column: "c", value_column: "v" },
      },
      "http://ksql:8088",
    ],
    [
      { type: "influx", influx: { url: "http://influx:8086", token: "tok-SECRET", org: "o", bucket: "b" } },
      "http://influx:8086",
    ],
  ] as const) {
    it(`refuses the untested ${spec.type} type clearly, as UNREACHABLE_METRICS_PROVIDER`, async () => {
      const err = await failure(createMetricsSource(spec).query("cpu"));
      assert.ok(err instanceof MetricsProviderError, String(err));
      assert.equal(err.reason, "UNREACHABLE_METRICS_PROVIDER");
      assert.match(
        err.message,
        new RegExp(`^metrics provider type '${spec.type}' is not supported by this Krake build: `),
      );
      assert.match(err.message, /could not be verified/);
      assert.match(err.message, /metric 'cpu'/);
      assert.ok(err.message.includes(url), err.message);
      assert.ok(!err.message.includes("SECRET"), err.message);
    });
  }

  it("refuses a type it does not know", async () => {
    const err = await failure(
      createMetricsSource({ type: "graphite", graphite: { url: "http://g" } }).query("cpu"),
    );
    assert.ok(err instanceof MetricsProviderError);
    assert.match(err.message, /type 'graphite' is not supported.*static and prometheus/);
  });

  it("turns a malformed spec into failing queries instead of throwing at creation", async () => {
    const cases: [unknown, RegExp][] = [
      [{ type: "prometheus", prometheus: {} }, /no 'prometheus.url'/],
      [{ type: "prometheus" }, /no 'prometheus.url'/],
      [{ type: "prometheus", prometheus: { url: "prom:9090" } }, /must be http or https, not prom/],
      [{ type: "prometheus", prometheus: { url: "not a url" } }, /not an absolute URL/],
      [{ type: "static", static: {} }, /no 'static.metrics'/],
    ];
    for (const [spec, message] of cases) {
      const source = createMetricsSource(spec as { type: string });
      const err = await failure(source.query("cpu"));
      assert.ok(err instanceof MetricsProviderError, `${JSON.stringify(spec)}: ${String(err)}`);
      assert.match(err.message, message);
    }
  });
});

describe("describeProvider", () => {
  it("names the resource, the type and the redacted URL", () => {
    assert.equal(
      describeProvider(
        { type: "prometheus", prometheus: { url: "http://u:pw@prom:9090/?t=1" } },
        "MetricsProvider 'a/b'",
      ),
      "MetricsProvider 'a/b' (prometheus at http://prom:9090/)",
    );
    assert.equal(describeProvider({ type: "static", static: { metrics: {} } }), "static provider");
  });

  it("never shows an influx token", () => {
    const spec = {
      type: "influx",
      influx: { url: "http://influx:8086", token: "tok-SECRET", org: "o", bucket: "b" },
    };
    assert.ok(!describeProvider(spec, "GlobalMetricsProvider 'influx'").includes("SECRET"));
  });
});
