import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applyAutoscaling, parseRange, share, wholeNumber } from "./autoscaling.js";

const creating = { name: "the new cluster", creating: true };
const stored = { name: "Cluster c", creating: false };

describe("autoscaling flags", () => {
  it("parseRange reads MIN:MAX and refuses the rest with a reason", () => {
    assert.deepEqual(parseRange("1:5"), { min: 1, max: 5 });
    assert.deepEqual(parseRange(" 0 : 3 "), { min: 0, max: 3 });
    assert.deepEqual(parseRange("4:4"), { min: 4, max: 4 });
    assert.throws(() => parseRange("5:2"), /MIN \(5\) must not be above MAX \(2\)/);
    assert.throws(() => parseRange("0:0"), /MAX must be at least 1/);
    for (const bad of ["3", "1-5", "-1:5", "1:5:7", "a:b", "1.5:3", ""])
      assert.throws(() => parseRange(bad), /expected MIN:MAX/, bad);
  });

  it("wholeNumber and share check their values", () => {
    assert.equal(wholeNumber("seconds")("30"), 30);
    assert.throws(() => wholeNumber("seconds")("-1"), /a whole number of at least 0/);
    assert.throws(() => wholeNumber("workers", 1)("0"), /at least 1/);
    assert.throws(() => wholeNumber("seconds")("1.5"), /whole number/);
    assert.equal(share("0.25"), 0.25);
    for (const bad of ["", "1.5", "-0.1", "half"])
      assert.throws(() => share(bad), /share between 0 and 1/, bad);
  });

  it("no flag leaves the policy alone; --no-autoscale removes it", () => {
    assert.equal(applyAutoscaling({ workers: { min: 1, max: 2 } }, {}, stored), undefined);
    assert.equal(applyAutoscaling({ workers: { min: 1, max: 2 } }, { autoscale: false }, stored), null);
    assert.throws(
      () => applyAutoscaling(null, { autoscale: false, scaleDownIdle: 5 }, stored),
      (e: any) => e.exitCode === 2 && /cannot be combined with --scale-down-idle/.test(e.message),
    );
  });

  it("--autoscale makes a policy of the given fields only (the API fills in the rest)", () => {
    assert.deepEqual(applyAutoscaling(null, { autoscale: { min: 1, max: 4 } }, creating), {
      workers: { min: 1, max: 4 },
    });
    assert.deepEqual(
      applyAutoscaling(
        null,
        {
          autoscale: { min: 0, max: 2 },
          autoscaleInput: "workers",
          scaleUpCooldown: 10,
          maxConcurrentBoots: 1,
          scaleDown: false,
          scaleDownUtilization: 0.2,
        },
        creating,
      ),
      {
        workers: { min: 0, max: 2, input: "workers" },
        scale_up: { cooldown: 10, max_concurrent: 1 },
        scale_down: { enabled: false, utilization_below: 0.2 },
      },
    );
  });

  it("on a stored policy, flags change their fields and keep the others; the stored one is not touched", () => {
    const current = {
      workers: { input: "wn_num", system: "wn", min: 1, max: 3 },
      scale_up: { cooldown: 60, max_concurrent: 2 },
      scale_down: { enabled: true, idle_time: 600, cooldown: 300 },
    };
    const next = applyAutoscaling(current, { autoscale: { min: 2, max: 6 }, scaleDownIdle: 120 }, stored);
    assert.deepEqual(next, {
      workers: { input: "wn_num", system: "wn", min: 2, max: 6 },
      scale_up: { cooldown: 60, max_concurrent: 2 },
      scale_down: { enabled: true, idle_time: 120, cooldown: 300 },
    });
    assert.equal(current.workers.max, 3);
  });

  it("tuning without a policy names the flags: a usage error on create, exit 1 on update", () => {
    assert.throws(
      () => applyAutoscaling(null, { scaleUpCooldown: 5, scaleDown: true }, creating),
      (e: any) =>
        e.exitCode === 2 &&
        e.message ===
          "--scale-up-cooldown, --scale-down/--no-scale-down: the new cluster has no autoscaling policy to tune; add --autoscale MIN:MAX",
    );
    assert.throws(
      () => applyAutoscaling(null, { autoscaleSystem: "wn" }, stored),
      (e: any) =>
        e.exitCode === 1 && /^--autoscale-system: Cluster c has no autoscaling policy/.test(e.message),
    );
  });
});
