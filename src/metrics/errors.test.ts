import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { reasonCodes } from "../resources/kinds/common.js";
import { MetricError, MetricFailure, MetricsProviderError, redactUrl } from "./errors.js";

const context = {
  metric: "electricity_cost",
  provider: "GlobalMetricsProvider 'prom' (prometheus at http://prom/)",
};

describe("metric errors", () => {
  it("map provider failures to UNREACHABLE_METRICS_PROVIDER and bad values to INVALID_METRIC", () => {
    const unreachable = new MetricsProviderError(context, "connection refused");
    const invalid = new MetricError(context, "no sample");
    assert.equal(unreachable.reason, "UNREACHABLE_METRICS_PROVIDER");
    assert.equal(invalid.reason, "INVALID_METRIC");
    // The scheduler writes these codes into a status whose schema only admits the known reason codes.
    assert.ok(reasonCodes.includes(unreachable.reason));
    assert.ok(reasonCodes.includes(invalid.reason));
  });

  it("are distinguishable, and both catchable as a MetricFailure", () => {
    const unreachable = new MetricsProviderError(context, "x");
    const invalid = new MetricError(context, "x");
    assert.ok(unreachable instanceof MetricFailure && unreachable instanceof Error);
    assert.ok(invalid instanceof MetricFailure && invalid instanceof Error);
    assert.ok(!(unreachable instanceof MetricError));
    assert.ok(!(invalid instanceof MetricsProviderError));
    assert.equal(unreachable.name, "MetricsProviderError");
    assert.equal(invalid.name, "MetricError");
  });

  it("name what failed, the metric and the provider in the message", () => {
    const err = new MetricError(context, "the query yields 2 samples");
    assert.equal(
      err.message,
      "the query yields 2 samples (metric 'electricity_cost' from GlobalMetricsProvider 'prom' (prometheus at http://prom/))",
    );
    assert.equal(err.detail, "the query yields 2 samples");
    assert.equal(err.metric, "electricity_cost");
    assert.equal(err.provider, context.provider);
    assert.deepEqual(err.toReason(), { code: "INVALID_METRIC", message: err.message });
  });

  it("keep the underlying cause", () => {
    const cause = new Error("connect ECONNREFUSED 127.0.0.1:1");
    assert.equal(new MetricsProviderError(context, "cannot reach", { cause }).cause, cause);
  });
});

describe("redactUrl", () => {
  it("removes credentials, query and fragment, which may carry secrets", () => {
    assert.equal(
      redactUrl("https://admin:s3cret@prom.example:9090/base?token=abc#x"),
      "https://prom.example:9090/base",
    );
  });

  it("leaves a plain URL as it is", () => {
    assert.equal(redactUrl("http://127.0.0.1:9090/"), "http://127.0.0.1:9090/");
  });

  it("still strips user info from something that is not a valid URL", () => {
    const shown = redactUrl("//admin:s3cret@prom:notaport/x?token=abc");
    assert.ok(!shown.includes("s3cret") && !shown.includes("abc"), shown);
    assert.equal(shown, "//prom:notaport/x");
  });
});
