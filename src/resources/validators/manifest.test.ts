import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkManifest } from "./manifest.js";

const deployment = (name = "web", extra: Record<string, unknown> = {}) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, ...extra },
  spec: { replicas: 1, template: { spec: { containers: [{ name: "c", image: "nginx" }] } } },
});

describe("checkManifest", () => {
  it("accepts an empty manifest and regular resources", () => {
    assert.deepEqual(checkManifest([]), []);
    assert.deepEqual(
      checkManifest([deployment(), { apiVersion: "v1", kind: "Service", metadata: { name: "web" } }]),
      [],
    );
  });

  it("uses Krake's wording, with the name when there is one", () => {
    const { apiVersion: _a, ...noApiVersion } = deployment("x");
    assert.deepEqual(checkManifest([noApiVersion]), [
      {
        path: [0, "apiVersion"],
        message: "Field 'apiVersion' not found in resource at index 0 (metadata.name: 'x')",
      },
    ]);
    const { kind: _k, ...noKind } = deployment("y");
    assert.deepEqual(checkManifest([deployment(), noKind]), [
      { path: [1, "kind"], message: "Field 'kind' not found in resource at index 1 (metadata.name: 'y')" },
    ]);
  });

  it("reports a missing name and a missing metadata like Krake (name first)", () => {
    assert.deepEqual(checkManifest([{ apiVersion: "v1", kind: "Service", metadata: {} }]), [
      { path: [0, "metadata", "name"], message: "Field 'metadata.name' not found in resource at index 0" },
    ]);
    assert.deepEqual(checkManifest([{}]), [
      { path: [0, "metadata", "name"], message: "Field 'metadata.name' not found in resource at index 0" },
      { path: [0, "apiVersion"], message: "Field 'apiVersion' not found in resource at index 0" },
      { path: [0, "kind"], message: "Field 'kind' not found in resource at index 0" },
      { path: [0, "metadata"], message: "Field 'metadata' not found in resource at index 0" },
    ]);
  });

  it("treats an empty name as missing", () => {
    assert.equal(
      checkManifest([deployment("")])[0].message,
      "Field 'metadata.name' not found in resource at index 0",
    );
  });

  it("rejects malformed identity fields", () => {
    assert.deepEqual(
      checkManifest([{ ...deployment(), metadata: "web" }]).map((i) => i.path),
      [[0, "metadata"]],
    );
    assert.match(
      checkManifest([deployment(5 as any)])[0].message,
      /^Field 'metadata.name' must be a string in resource at index 0$/,
    );
    assert.match(
      checkManifest([{ ...deployment(), kind: 7 }])[0].message,
      /^Field 'kind' must be a non-empty string in resource at index 0 \(metadata.name: 'web'\)$/,
    );
    assert.match(
      checkManifest([{ ...deployment(), apiVersion: "" }])[0].message,
      /'apiVersion' must be a non-empty string/,
    );
    assert.deepEqual(
      checkManifest([deployment("web", { namespace: 1 })]).map((i) => i.path),
      [[0, "metadata", "namespace"]],
    );
  });

  it("rejects items that are not objects", () => {
    assert.deepEqual(checkManifest([null, "x", [1]] as any), [
      { path: [0], message: "The resource at index 0 must be an object." },
      { path: [1], message: "The resource at index 1 must be an object." },
      { path: [2], message: "The resource at index 2 must be an object." },
    ]);
  });

  it("rejects duplicates of (apiVersion, kind, namespace, name)", () => {
    const issues = checkManifest([deployment(), deployment("other"), deployment()]);
    assert.deepEqual(issues, [
      {
        path: [2],
        message:
          "Duplicate resource at index 2: Deployment 'web' (apiVersion 'apps/v1', namespace not set) is already defined at index 0",
      },
    ]);
    assert.equal(checkManifest([deployment("web", { namespace: null }), deployment()]).length, 1);
  });

  it("allows the same name in other kinds, versions or namespaces", () => {
    assert.deepEqual(
      checkManifest([
        deployment(),
        { ...deployment(), kind: "StatefulSet" },
        { ...deployment(), apiVersion: "apps/v2" },
        deployment("web", { namespace: "a" }),
        deployment("web", { namespace: "b" }),
      ]),
      [],
    );
  });

  it("reports resources nested too deeply", () => {
    const item: any = deployment();
    let node = item.spec;
    for (let i = 0; i < 500; i++) node = node.n = {};
    const issues = checkManifest([item]);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].path[0], 0);
    assert.match(
      issues[0].message,
      /^The resource at index 0 \(metadata.name: 'web'\) is nested too deeply \(more than 100 levels\)\.$/,
    );
  });

  it("accepts nesting up to 100 levels", () => {
    const item: any = deployment();
    let node = item;
    for (let i = 0; i < 99; i++) node = node.n = {};
    assert.deepEqual(checkManifest([item]), []);
  });

  it("rejects a non-list", () =>
    assert.deepEqual(checkManifest({} as any), [{ path: [], message: "Not a valid list." }]));
});
