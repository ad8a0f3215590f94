/**
 * IM's aggregate-state rule (im.md §5, `GetInfrastructureState`) and the simulator's step scheduler.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Scheduler, aggregateState, pythonTimestamp, type VmState } from "./state.js";

describe("aggregate state", () => {
  const cases: Array<[VmState[], boolean | null, VmState]> = [
    [[], null, "pending"], // async-create window
    [[], false, "failed"], // launch failed before any VM
    [[], true, "unknown"],
    [["configured", "configured"], null, "configured"],
    [["running", "unconfigured"], null, "running"], // running hides unconfigured
    [["unconfigured", "running"], null, "running"],
    [["configured", "unconfigured"], null, "unconfigured"],
    [["unconfigured", "configured"], null, "unconfigured"],
    [["pending", "running"], null, "pending"],
    [["running", "pending"], null, "pending"],
    [["configured", "stopped"], null, "configured"], // one VM stopped: still configured
    [["stopped", "configured"], null, "stopped"],
    [["off", "configured"], null, "off"],
    [["stopped", "unconfigured"], null, "stopped"],
    [["configured", "failed", "unknown"], null, "failed"],
    [["configured", "unknown", "failed"], null, "unknown"], // the walk stops at the first
  ];
  for (const [vms, configured, expected] of cases) {
    it(`${JSON.stringify(vms)} (configured=${configured}) → ${expected}`, () => {
      assert.equal(aggregateState(vms, configured, false), expected);
    });
  }

  it("reports deleting whatever the VMs say", () => {
    assert.equal(aggregateState(["failed"], false, true), "deleting");
  });
});

describe("scheduler", () => {
  it("runs zero-delay steps synchronously and cancels timed ones on close", async () => {
    const scheduler = new Scheduler();
    const seen: string[] = [];
    scheduler.after(0, () => seen.push("now"));
    assert.deepEqual(seen, ["now"]);
    scheduler.after(10_000, () => seen.push("never"));
    const sleeping = scheduler.sleep(10_000);
    scheduler.close();
    await sleeping;
    assert.deepEqual(seen, ["now"]);
  });

  it("formats timestamps like Python's str(datetime)", () => {
    assert.equal(pythonTimestamp(new Date("2026-05-20T10:11:12.345Z")), "2026-05-20 10:11:12.345000");
  });
});
