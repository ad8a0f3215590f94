import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatElapsed, lineProgress, parseDuration, spinnerProgress } from "./wait.js";

describe("wait helpers", () => {
  it("parseDuration reads seconds, units and compounds; refuses the rest as usage errors", () => {
    assert.equal(parseDuration("90"), 90_000);
    assert.equal(parseDuration("1.5"), 1500);
    assert.equal(parseDuration("500ms"), 500);
    assert.equal(parseDuration("15m"), 900_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    for (const bad of ["", "soon", "10x", "5m later", "-1s"]) {
      assert.throws(
        () => parseDuration(bad),
        (e: any) => e.exitCode === 2 && /--timeout: expected a duration/.test(e.message),
        bad,
      );
    }
  });

  it("formatElapsed is compact", () => {
    assert.equal(formatElapsed(999), "0s");
    assert.equal(formatElapsed(61_000), "1m01s");
    assert.equal(formatElapsed(3_723_000), "1h02m03s");
  });

  it("lineProgress prints one line per state change", () => {
    const out: string[] = [];
    const p = lineProgress("Cluster c", (s) => out.push(s));
    p.update("PENDING", 0);
    p.update("PENDING", 1000);
    p.update("CREATING", 2000);
    p.done();
    assert.deepEqual(out, ["Cluster c: PENDING (0s)\n", "Cluster c: CREATING (2s)\n"]);
  });

  it("spinnerProgress rewrites one line and clears it when done", () => {
    let written = "";
    const fake = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
    const p = spinnerProgress("App a", fake);
    p.update("RUNNING", 65_000);
    assert.equal(written, "\r\x1b[2K⠋ App a: RUNNING (1m05s)");
    p.update("RUNNING", 66_000);
    assert.ok(written.endsWith("\r\x1b[2K⠙ App a: RUNNING (1m06s)"));
    p.done();
    assert.ok(written.endsWith("\r\x1b[2K"));
  });
});
