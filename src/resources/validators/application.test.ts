import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkApplicationSpec, isGiven } from "./application.js";

const RULE = "The application should be defined by a manifest file, a TOSCA template or a CSAR file.";
const service = { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { type: "NodePort" } };

const spec = (fields: Record<string, unknown>) => ({
  manifest: [],
  tosca: {},
  csar: null,
  observer_schema: [],
  ...fields,
});

describe("checkApplicationSpec", () => {
  it("accepts a manifest, a TOSCA dict or URL, or a CSAR URL", () => {
    assert.deepEqual(checkApplicationSpec(spec({ manifest: [service] })), []);
    assert.deepEqual(
      checkApplicationSpec(spec({ tosca: { tosca_definitions_version: "tosca_simple_yaml_1_0" } })),
      [],
    );
    assert.deepEqual(checkApplicationSpec(spec({ tosca: "https://x/app.yaml" })), []);
    assert.deepEqual(checkApplicationSpec(spec({ csar: "https://x/app.csar" })), []);
  });

  it("requires one of them, at the spec itself (Krake's message)", () => {
    assert.deepEqual(checkApplicationSpec(spec({})), [{ path: [], message: RULE }]);
    assert.deepEqual(checkApplicationSpec(spec({ tosca: "", csar: "" })), [{ path: [], message: RULE }]);
    assert.deepEqual(checkApplicationSpec({}), [{ path: [], message: RULE }]);
  });

  it("checks the observer schema against the manifest, under observer_schema", () => {
    const good = { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { type: null } };
    assert.deepEqual(checkApplicationSpec(spec({ manifest: [service], observer_schema: [good] })), []);
    const other = { ...good, metadata: { name: "api" } };
    assert.deepEqual(checkApplicationSpec(spec({ manifest: [service], observer_schema: [other] })), [
      { path: ["observer_schema", 0], message: "Observed resource must be in manifest" },
    ]);
    const leaf = { ...good, spec: { type: "NodePort" } };
    assert.deepEqual(checkApplicationSpec(spec({ manifest: [service], observer_schema: [leaf] })), [
      { path: ["observer_schema", 0, "spec", "type"], message: "Value of 'type' is not null" },
    ]);
  });

  it("never throws on odd input", () => {
    assert.deepEqual(checkApplicationSpec(null as any), []);
    assert.doesNotThrow(() => checkApplicationSpec({ manifest: "x", observer_schema: 5 }));
  });
});

describe("isGiven (Python truthiness)", () => {
  it("treats empty values as not given", () => {
    for (const v of [null, undefined, "", [], {}, 0, false])
      assert.equal(isGiven(v), false, JSON.stringify(v));
    for (const v of ["x", [0], { a: null }, 1, true]) assert.equal(isGiven(v), true, JSON.stringify(v));
  });
});
