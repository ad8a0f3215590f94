import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MetricError } from "./errors.js";
import { normalize } from "./normalize.js";

function rejection(fn: () => unknown): MetricError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MetricError, String(err));
    return err;
  }
  assert.fail("expected a MetricError");
}

describe("normalize", () => {
  it("scales into [0, 1] by the metric's bounds", () => {
    assert.equal(normalize(0.42, { min: 0, max: 1 }), 0.42);
    assert.equal(normalize(15, { min: 10, max: 20 }), 0.5);
    assert.equal(normalize(10, { min: 10, max: 20 }), 0);
    assert.equal(normalize(20, { min: 10, max: 20 }), 1);
    assert.equal(normalize(-5, { min: -10, max: 0 }), 0.5);
  });

  it("rejects a value outside [min, max] as INVALID_METRIC", () => {
    const above = rejection(() => normalize(21, { min: 10, max: 20 }, { metric: "heat" }));
    assert.equal(above.reason, "INVALID_METRIC");
    assert.match(above.message, /value 21 is outside the metric's range \[10, 20\].*metric 'heat'/);
    rejection(() => normalize(9.99, { min: 10, max: 20 }));
  });

  it("accepts only allowed_values when some are declared", () => {
    const tiers = { min: 0, max: 4, allowed_values: [0, 2, 4] };
    assert.equal(normalize(2, tiers), 0.5);
    assert.match(
      rejection(() => normalize(1, tiers)).message,
      /not one of the metric's allowed_values \[0, 2, 4\]/,
    );
    // An empty list means "no restriction", as in Krake.
    assert.equal(normalize(1, { ...tiers, allowed_values: [] }), 0.25);
    assert.equal(normalize(1, { ...tiers, allowed_values: null }), 0.25);
  });

  it("checks the range before allowed_values", () => {
    assert.match(rejection(() => normalize(9, { min: 0, max: 4, allowed_values: [9] })).message, /outside/);
  });

  it("rejects min == max instead of dividing by zero", () => {
    const err = rejection(() => normalize(3, { min: 3, max: 3 }));
    assert.match(err.message, /range \[3, 3\] is empty/);
  });

  it("rejects non-finite values and bounds", () => {
    rejection(() => normalize(Number.NaN, { min: 0, max: 1 }));
    rejection(() => normalize(0.5, { min: 0, max: Number.POSITIVE_INFINITY }));
  });

  it("names the metric and its provider from a whole Metric spec", () => {
    const spec = {
      min: 0,
      max: 1,
      allowed_values: [],
      provider: { name: "prom", metric: "electricity_cost" },
    };
    assert.match(
      rejection(() => normalize(2, spec)).message,
      /\(metric 'electricity_cost' from provider 'prom'\)$/,
    );
  });

  it("is monotonic and stays within [0, 1] for every value in range", () => {
    const bounded = fc
      .tuple(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 1e-3, max: 1e6, noNaN: true }))
      .chain(([min, width]) =>
        fc.tuple(
          fc.constant(min),
          fc.constant(min + width),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
        ),
      );
    fc.assert(
      fc.property(bounded, ([min, max, a, b]) => {
        const [low, high] = [min + Math.min(a, b) * (max - min), min + Math.max(a, b) * (max - min)].map(
          (v) => Math.min(Math.max(v, min), max),
        );
        const nLow = normalize(low, { min, max });
        const nHigh = normalize(high, { min, max });
        return nLow >= 0 && nHigh <= 1 && nLow <= nHigh;
      }),
    );
  });
});
