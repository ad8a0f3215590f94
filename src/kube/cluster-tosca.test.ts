import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { inputDrivesSystem, sizeInBytes, systemShape, withInputs, workerCount } from "./cluster-tosca.js";
import { cpuMillis, formatCpu, formatMemory, memoryBytes } from "./quantity.js";

const example = parse(readFileSync(join(process.cwd(), "examples", "im-cluster.yaml"), "utf8"));

describe("cluster TOSCA for automation", () => {
  it("reads the worker pool of the example template", () => {
    assert.equal(workerCount(example, "wn_num"), 1);
    assert.equal(inputDrivesSystem(example, "wn_num", "wn"), true);
    assert.equal(inputDrivesSystem(example, "wn_num", "front"), false);
    assert.deepEqual(systemShape(example, "wn"), { cpuMillis: 2000, memoryBytes: 4e9 });
  });

  it("sets inputs without touching the original", () => {
    const scaled = withInputs(example, { wn_num: 3, wn_cpus: 4 });
    assert.equal(workerCount(scaled, "wn_num"), 3);
    assert.deepEqual(systemShape(scaled, "wn"), { cpuMillis: 4000, memoryBytes: 4e9 });
    assert.equal(workerCount(example, "wn_num"), 1);
  });

  it("converts sizes and quantities", () => {
    assert.equal(sizeInBytes("4 GB"), 4e9);
    assert.equal(sizeInBytes("2 GiB"), 2 * 2 ** 30);
    assert.equal(sizeInBytes("lots"), null);
    assert.equal(cpuMillis("250m"), 250);
    assert.equal(cpuMillis("1.5"), 1500);
    assert.equal(memoryBytes("1Gi"), 2 ** 30);
    assert.equal(formatCpu(1500), "1500m");
    assert.equal(formatCpu(2000), "2");
    assert.equal(formatMemory(1.5 * 2 ** 30), "1.5Gi");
  });
});
