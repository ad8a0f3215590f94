import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  applyConfig,
  builtinSchema,
  decodeFields,
  encodeFields,
  pathText,
  schemaFromOpenAPI,
  trackUpdate,
  withMetadata,
} from "./fields.js";
import { StatusError } from "./status.js";

const DEPLOYMENT = builtinSchema("apps/Deployment");
const SERVICE = builtinSchema("/Service");
const CONFIGMAP = builtinSchema("/ConfigMap");
const NOW = "2024-01-01T00:00:00Z";
const LATER = "2024-01-01T00:01:00Z";

const opts = (manager: string, schema = CONFIGMAP, force = false, now = NOW) => ({
  manager,
  force,
  apiVersion: "v1",
  schema,
  withStatus: false,
  now,
});

function cm(data: Record<string, string>, extra: Record<string, unknown> = {}) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", namespace: "n", ...extra }, data };
}

describe("field management", () => {
  it("encodes field sets as FieldsV1 and back, with '.' for members that have children", () => {
    const set = new Set([
      "f:data",
      "f:data\u0001f:a",
      'f:spec\u0001f:ports\u0001k:{"port":80}',
      'f:spec\u0001f:ports\u0001k:{"port":80}\u0001f:port',
    ]);
    const encoded = encodeFields(set);
    assert.deepEqual(encoded, {
      "f:data": { ".": {}, "f:a": {} },
      "f:spec": { "f:ports": { 'k:{"port":80}': { ".": {}, "f:port": {} } } },
    });
    assert.deepEqual(decodeFields(encoded), set);
    assert.equal(
      pathText('f:spec\u0001f:ports\u0001k:{"port":80,"protocol":"TCP"}\u0001f:targetPort'),
      '.spec.ports[port=80,protocol="TCP"].targetPort',
    );
    assert.equal(pathText('f:metadata\u0001f:finalizers\u0001v:"x"'), '.metadata.finalizers[="x"]');
  });

  it("applies: owns the configuration's fields (list elements by key, not defaults) and merges into live", () => {
    const d = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "d", labels: { a: "1" } },
      spec: {
        selector: { matchLabels: { app: "d" } },
        template: {
          spec: {
            containers: [
              { name: "c", image: "i", ports: [{ containerPort: 80 }], env: [{ name: "X", value: "1" }] },
            ],
          },
        },
      },
    };
    const created = applyConfig(undefined, d, { ...opts("krake", DEPLOYMENT), apiVersion: "apps/v1" });
    assert.deepEqual(created.managedFields?.[0].fieldsV1, {
      "f:metadata": { "f:labels": { "f:a": {} } },
      "f:spec": {
        "f:selector": {},
        "f:template": {
          "f:spec": {
            "f:containers": {
              'k:{"name":"c"}': {
                ".": {},
                "f:env": { 'k:{"name":"X"}': { ".": {}, "f:name": {}, "f:value": {} } },
                "f:image": {},
                "f:name": {},
                "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } },
              },
            },
          },
        },
      },
    });
    // A second container merges by name into the live list; the first keeps what others added to it.
    const live = structuredClone(created.object);
    live.spec.template.spec.containers[0].imagePullPolicy = "Always";
    const more = structuredClone(d);
    more.spec.template.spec.containers.push({ name: "side", image: "s" } as any);
    const merged = applyConfig(live, more, { ...opts("krake", DEPLOYMENT), apiVersion: "apps/v1" }).object;
    assert.deepEqual(
      merged.spec.template.spec.containers.map((c: any) => `${c.name}:${c.imagePullPolicy ?? "-"}`),
      ["c:Always", "side:-"],
    );
  });

  it("re-applying the same configuration changes neither the object nor the entry's time", () => {
    const first = applyConfig(undefined, cm({ a: "1" }), opts("krake"));
    const live = {
      ...first.object,
      metadata: { ...first.object.metadata, managedFields: first.managedFields },
    };
    const again = applyConfig(live, cm({ a: "1" }), opts("krake", CONFIGMAP, false, LATER));
    assert.equal(again.fieldsChanged, false);
    assert.deepEqual(again.object.data, { a: "1" });
    assert.deepEqual(again.managedFields, first.managedFields);
  });

  it("removes what the applier dropped, unless another manager owns it", () => {
    const first = applyConfig(undefined, cm({ a: "1", b: "2", c: "3" }), opts("krake"));
    let live = {
      ...first.object,
      metadata: { ...first.object.metadata, managedFields: first.managedFields },
    };
    const shared = applyConfig(live, cm({ c: "3" }), opts("other"));
    live = { ...shared.object, metadata: { ...shared.object.metadata, managedFields: shared.managedFields } };
    const dropped = applyConfig(live, cm({ a: "1" }), opts("krake", CONFIGMAP, false, LATER));
    assert.deepEqual(dropped.object.data, { a: "1", c: "3" }, "b goes, c stays (other owns it)");
    assert.equal(live.data.b, "2", "the live object is not touched");
    assert.deepEqual(
      dropped.managedFields?.map((m) => [m.manager, m.time]),
      [
        ["other", NOW],
        ["krake", LATER],
      ],
      "Apply entries, oldest first",
    );
  });

  it("conflicts with another manager's changed fields, takes them with force", () => {
    const first = applyConfig(undefined, cm({ a: "1" }), opts("krake"));
    const live = {
      ...first.object,
      metadata: { ...first.object.metadata, managedFields: first.managedFields },
    };
    assert.throws(
      () => applyConfig(live, cm({ a: "2" }), opts("other")),
      (err: unknown) =>
        err instanceof StatusError &&
        err.code === 409 &&
        err.message === 'Apply failed with 1 conflict: conflict with "krake": .data.a',
    );
    const forced = applyConfig(live, cm({ a: "2" }), opts("other", CONFIGMAP, true));
    assert.equal(forced.object.data.a, "2");
    assert.deepEqual(
      forced.managedFields?.map((m) => m.manager),
      ["other"],
    );
  });

  it("tracks updates: the updater takes the fields it changed; untracked objects start at the first apply", () => {
    const created = trackUpdate(undefined, cm({ a: "1" }), "kubectl", "v1", CONFIGMAP, true, NOW);
    assert.deepEqual(created, [
      {
        manager: "kubectl",
        operation: "Update",
        apiVersion: "v1",
        time: NOW,
        fieldsType: "FieldsV1",
        fieldsV1: { "f:data": { ".": {}, "f:a": {} } },
      },
    ]);
    const live = { ...cm({ a: "1" }), metadata: { name: "c", managedFields: created } };
    const changed = trackUpdate(live, cm({ a: "1", b: "2" }), "editor", "v1", CONFIGMAP, true, LATER)!;
    assert.deepEqual(
      changed.map((m) => [m.manager, m.fieldsV1]),
      [
        ["kubectl", { "f:data": { ".": {}, "f:a": {} } }],
        ["editor", { "f:data": { "f:b": {} } }],
      ],
    );
    assert.equal(
      trackUpdate({ ...cm({ a: "1" }) }, cm({ a: "2" }), "editor", "v1", CONFIGMAP, true, NOW),
      undefined,
    );
    // The first apply to an untracked object: its fields belong to "before-first-apply".
    const conflict = (() => {
      try {
        applyConfig(cm({ a: "1" }), cm({ a: "2" }), opts("krake"));
      } catch (err) {
        return err as StatusError;
      }
    })();
    assert.equal(
      conflict?.message,
      'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a',
    );
  });

  it("refuses list-map elements that lack a key without a default, and undeclared fields of closed schemas", () => {
    const svc = {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "s" },
      spec: { ports: [{ port: 80 }] },
    };
    assert.throws(
      () => applyConfig(undefined, svc, opts("krake", SERVICE)),
      (err: unknown) =>
        err instanceof StatusError &&
        err.code === 500 &&
        err.message ===
          'failed to create typed patch object: .spec.ports: element 0: associative list with keys has an element that omits key field "protocol" (and doesn\'t have default value)',
    );
    const schema = withMetadata(
      schemaFromOpenAPI({
        type: "object",
        properties: {
          spec: {
            type: "object",
            properties: {
              items: {
                type: "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["id"],
                items: { type: "object", properties: { id: { type: "string" }, v: { type: "integer" } } },
              },
              free: { type: "object", "x-kubernetes-preserve-unknown-fields": true },
            },
          },
        },
      }),
    );
    const cr = (spec: unknown) => ({ apiVersion: "x/v1", kind: "X", metadata: { name: "x" }, spec });
    const ok = applyConfig(
      undefined,
      cr({ items: [{ id: "a", v: 1 }], free: { anything: true } }),
      opts("krake", schema),
    );
    assert.deepEqual(ok.managedFields?.[0].fieldsV1, {
      "f:spec": {
        "f:free": { "f:anything": {} },
        "f:items": { 'k:{"id":"a"}': { ".": {}, "f:id": {}, "f:v": {} } },
      },
    });
    assert.throws(
      () => applyConfig(undefined, cr({ nope: 1 }), opts("krake", schema)),
      /failed to create typed patch object: \.spec\.nope: field not declared in schema/,
    );
  });
});
