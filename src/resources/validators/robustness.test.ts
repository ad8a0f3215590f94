// Every check function runs on request bodies: whatever it is given, it returns issues and never throws.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import * as validators from "./index.js";
import type { Issue } from "../schema.js";

const checks: [string, (v: any) => Issue[]][] = [
  ["checkResourceName", validators.checkResourceName],
  ["checkResourceNamespace", validators.checkResourceNamespace],
  ["checkLabels", validators.checkLabels],
  ["checkLabelConstraints", validators.checkLabelConstraints],
  ["checkMetricConstraints", validators.checkMetricConstraints],
  ["checkKubeconfig", validators.checkKubeconfig],
  ["checkClusterTosca", validators.checkClusterTosca],
  ["checkAppTosca", validators.checkAppTosca],
  ["checkCsar", validators.checkCsar],
  ["checkManifest", validators.checkManifest],
  ["checkObserverSchema", (v) => validators.checkObserverSchema(v, v)],
  ["checkApplicationSpec", validators.checkApplicationSpec],
  ["checkClusterSpec", validators.checkClusterSpec],
  ["checkImProviderSpec", validators.checkImProviderSpec],
  ["checkGlobalCloudSpec", validators.checkGlobalCloudSpec],
  ["checkGlobalCloud", validators.checkGlobalCloud],
];

function assertIssues(issues: unknown): void {
  assert.ok(Array.isArray(issues));
  for (const issue of issues as Issue[]) {
    assert.ok(Array.isArray(issue.path));
    for (const p of issue.path) assert.ok(typeof p === "string" || typeof p === "number");
    assert.equal(typeof issue.message, "string");
    assert.ok(issue.message.length > 0 && issue.message.length < 1000, issue.message.slice(0, 100));
  }
}

// JSON-shaped values with keys that matter to the validators, so the walks get past the first checks.
const keys = fc.constantFrom(
  "apiVersion",
  "kind",
  "metadata",
  "name",
  "namespace",
  "spec",
  "contexts",
  "users",
  "clusters",
  "context",
  "cluster",
  "user",
  "server",
  "current-context",
  "tosca_definitions_version",
  "topology_template",
  "node_templates",
  "inputs",
  "outputs",
  "type",
  "imports",
  "manifest",
  "observer_schema",
  "tosca",
  "csar",
  "kubeconfig",
  "observer_schema_list_min_length",
  "observer_schema_list_max_length",
  "openstack",
  "metrics",
  "infrastructure_provider",
  "namespaced",
  "token",
  "__proto__",
  "constructor",
  "x",
);
const { json } = fc.letrec((tie) => ({
  json: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1.5,
      "",
      "x",
      "tosca_simple_yaml_1_0",
      "https://x/a.yaml",
      "openstack",
    ),
    fc.string(),
    fc.array(tie("json"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(keys, fc.string()), tie("json"), { maxKeys: 5 }),
  ),
}));

describe("robustness", () => {
  for (const [name, check] of checks) {
    it(`${name} returns issues for any JSON value`, () => {
      fc.assert(
        fc.property(json, (v) => assertIssues(check(v))),
        { numRuns: 300 },
      );
    });
  }

  it("every check survives values JSON cannot carry", () => {
    const odd: unknown[] = [
      undefined,
      NaN,
      Infinity,
      10n,
      Symbol("s"),
      () => 1,
      new Date(0),
      new Map(),
      Object.create(null),
    ];
    const cyclic: any = { spec: {}, manifest: [] };
    cyclic.spec.self = cyclic;
    cyclic.manifest.push(cyclic);
    odd.push(cyclic, [cyclic]);
    for (const [name, check] of checks) {
      for (const v of odd) assert.doesNotThrow(() => assertIssues(check(v)), name);
    }
  });

  it("every check handles deep nesting", () => {
    let deep: any = null;
    for (let i = 0; i < 100_000; i++) deep = { spec: deep, kind: [deep] };
    for (const [name, check] of checks) {
      assert.doesNotThrow(() => assertIssues(check(deep)), name);
      assert.doesNotThrow(() => assertIssues(check([deep])), name);
    }
  });
});

describe("shared references", () => {
  it("the observer schema walk visits a shared node once", () => {
    let shared: any = { leaf: null };
    for (let i = 0; i < 60; i++) shared = { a: shared, b: shared };
    const entry = { apiVersion: "v1", kind: "S", metadata: { name: "x" }, spec: shared };
    const started = Date.now();
    assert.deepEqual(validators.checkObserverSchema([entry], []), []);
    assert.ok(Date.now() - started < 1000);
  });
});
