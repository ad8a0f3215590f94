import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkClusterSpec } from "./cluster.js";

const RULE = "The cluster should be defined by a kubeconfig file or a TOSCA template.";

describe("checkClusterSpec", () => {
  it("accepts a kubeconfig or a TOSCA template", () => {
    assert.deepEqual(checkClusterSpec({ kubeconfig: { "current-context": "x" }, tosca: {} }), []);
    assert.deepEqual(checkClusterSpec({ kubeconfig: {}, tosca: { tosca_definitions_version: "x" } }), []);
    assert.deepEqual(checkClusterSpec({ kubeconfig: { a: 1 }, tosca: { b: 2 } }), []);
  });

  it("requires one of them, at the spec itself (Krake's message)", () => {
    assert.deepEqual(checkClusterSpec({ kubeconfig: {}, tosca: {} }), [{ path: [], message: RULE }]);
    assert.deepEqual(checkClusterSpec({ kubeconfig: null, tosca: null }), [{ path: [], message: RULE }]);
    assert.deepEqual(checkClusterSpec({}), [{ path: [], message: RULE }]);
  });

  it("never throws on odd input", () => {
    assert.deepEqual(checkClusterSpec(null as any), []);
    assert.deepEqual(checkClusterSpec([] as any), []);
  });
});
