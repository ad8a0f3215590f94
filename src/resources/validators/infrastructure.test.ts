import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkGlobalCloud, checkGlobalCloudSpec, checkImProviderSpec } from "./infrastructure.js";

const IM = "At least one authentication should be defined in the IM infrastructure provider spec.";
const PROVIDER =
  "A non-namespaced global cloud resource cannot reference the namespaced infrastructure provider resource.";
const METRIC = "A non-namespaced global cloud resource cannot reference the namespaced metric resource.";

describe("checkImProviderSpec", () => {
  const im = (fields: Record<string, unknown>) => ({
    url: "http://im",
    username: null,
    password: null,
    token: null,
    ...fields,
  });

  it("accepts a token, or a username with a password", () => {
    assert.deepEqual(checkImProviderSpec(im({ token: "t" })), []);
    assert.deepEqual(checkImProviderSpec(im({ username: "u", password: "p" })), []);
    assert.deepEqual(checkImProviderSpec(im({ username: "u", password: "p", token: "t" })), []);
  });

  it("counts empty strings as given, as Krake does (it tests for None)", () => {
    assert.deepEqual(checkImProviderSpec(im({ token: "" })), []);
    assert.deepEqual(checkImProviderSpec(im({ username: "", password: "" })), []);
  });

  it("rejects no authentication or half of a password login (Krake's message)", () => {
    assert.deepEqual(checkImProviderSpec(im({})), [{ path: [], message: IM }]);
    assert.deepEqual(checkImProviderSpec(im({ username: "u" })), [{ path: [], message: IM }]);
    assert.deepEqual(checkImProviderSpec(im({ password: "p" })), [{ path: [], message: IM }]);
    assert.deepEqual(checkImProviderSpec({ url: "http://im" }), [{ path: [], message: IM }]);
  });

  it("never throws on odd input", () => assert.deepEqual(checkImProviderSpec(null as any), []));
});

describe("checkGlobalCloudSpec / checkGlobalCloud", () => {
  const spec = (provider: Record<string, unknown>, metrics: Record<string, unknown>[] = []) => ({
    type: "openstack",
    openstack: { url: "https://keystone", auth: {}, metrics, infrastructure_provider: provider },
  });

  it("accepts global references", () => {
    assert.deepEqual(checkGlobalCloudSpec(spec({ name: "im", namespaced: false })), []);
    assert.deepEqual(
      checkGlobalCloudSpec(
        spec({ name: "im", namespaced: false }, [{ name: "m", weight: 1, namespaced: false }]),
      ),
      [],
    );
  });

  it("rejects a namespaced provider, at its flag", () => {
    assert.deepEqual(checkGlobalCloudSpec(spec({ name: "im", namespaced: true })), [
      { path: ["openstack", "infrastructure_provider", "namespaced"], message: PROVIDER },
    ]);
  });

  it("rejects namespaced metrics, each at its flag", () => {
    const s = spec({ name: "im", namespaced: false }, [
      { name: "a", weight: 1, namespaced: false },
      { name: "b", weight: 1, namespaced: true },
    ]);
    assert.deepEqual(checkGlobalCloudSpec(s), [
      { path: ["openstack", "metrics", 1, "namespaced"], message: METRIC },
    ]);
  });

  it("reports both rules on the whole object under spec", () => {
    const cloud = {
      metadata: { name: "c" },
      spec: spec({ name: "im", namespaced: true }, [{ name: "b", weight: 1, namespaced: true }]),
    };
    assert.deepEqual(checkGlobalCloud(cloud), [
      { path: ["spec", "openstack", "infrastructure_provider", "namespaced"], message: PROVIDER },
      { path: ["spec", "openstack", "metrics", 0, "namespaced"], message: METRIC },
    ]);
  });

  it("ignores other spec types and odd input", () => {
    assert.deepEqual(checkGlobalCloudSpec({ type: "aws", aws: {} }), []);
    assert.deepEqual(checkGlobalCloudSpec({ type: "openstack" }), []);
    assert.deepEqual(checkGlobalCloudSpec({ type: "__proto__" } as any), []);
    assert.deepEqual(checkGlobalCloudSpec(null as any), []);
    assert.deepEqual(checkGlobalCloud({ spec: null } as any), []);
    assert.deepEqual(
      checkGlobalCloudSpec({ type: "openstack", openstack: { metrics: "x", infrastructure_provider: 1 } }),
      [],
    );
  });
});
