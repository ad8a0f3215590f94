import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KINDS } from "../../src/resources/registry.js";
import { DEFAULT_PROBLEM_BASE_URL } from "../../src/api/errors.js";
import { bodies } from "../support/fixtures.js";
import { http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(async () => {
  await api.close();
});

for (const def of KINDS) {
  const collection = def.namespaced ? `/${def.group}/namespaces/ns1/${def.plural}` : `/${def.group}/${def.plural}`;
  const body = (name: string) => structuredClone((bodies as any)[def.kind](name));

  describe(`${def.kind} CRUD over HTTP`, () => {
    it("creates with server-set metadata and defaults, answering 200", async () => {
      const res = await http(api.url, "POST", collection, body("first"));
      assert.equal(res.status, 200, res.text);
      const o = res.body;
      assert.equal(o.api, def.group);
      assert.equal(o.kind, def.kind);
      assert.equal(o.metadata.name, "first");
      assert.equal(o.metadata.namespace, def.namespaced ? "ns1" : null);
      assert.match(o.metadata.uid, /^[0-9a-f-]{36}$/);
      assert.match(o.metadata.created, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
      assert.equal(o.metadata.created, o.metadata.modified);
      assert.equal(o.metadata.deleted, null);
      assert.deepEqual(o.metadata.finalizers, []);
      assert.deepEqual(o.metadata.owners, []);
      assert.deepEqual(o.metadata.labels, {});
      assert.match(o.metadata.resource_version, /^\d+$/);
      if (def.hasStatus) assert.ok(o.status && typeof o.status.state === "string");
    });

    it("ignores read-only fields, a client status and unknown keys on create", async () => {
      const b = body("second");
      b.metadata.uid = "not-a-uuid";
      b.metadata.created = "2000-01-01T00:00:00Z";
      b.metadata.resource_version = "999999";
      b.unknown_top = 1;
      b.metadata.unknown_meta = 2;
      if (def.hasStatus) b.status = { state: "FAILED" };
      const res = await http(api.url, "POST", collection, b);
      assert.equal(res.status, 200, res.text);
      assert.notEqual(res.body.metadata.uid, "not-a-uuid");
      assert.notEqual(res.body.metadata.created, "2000-01-01T00:00:00.000000+00:00");
      assert.notEqual(res.body.metadata.resource_version, "999999");
      assert.equal("unknown_top" in res.body, false);
      assert.equal("unknown_meta" in res.body.metadata, false);
      if (def.hasStatus) assert.notEqual(res.body.status.state, "FAILED");
    });

    it("answers 409 RESOURCE_ALREADY_EXISTS on a duplicate name", async () => {
      const res = await http(api.url, "POST", collection, body("first"));
      assert.equal(res.status, 409);
      assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
      assert.equal(res.body.title, "RESOURCE_ALREADY_EXISTS");
      assert.equal(
        res.body.detail,
        def.namespaced ? `${def.kind} 'first' already exists in namespace 'ns1'` : `${def.kind} 'first' already exists`,
      );
    });

    it("reads, lists and (namespaced) lists all", async () => {
      const read = await http(api.url, "GET", `${collection}/first`);
      assert.equal(read.status, 200);
      assert.equal(read.body.metadata.name, "first");
      const list = await http(api.url, "GET", collection);
      assert.equal(list.status, 200);
      assert.equal(list.body.api, def.group);
      assert.equal(list.body.kind, `${def.kind}List`);
      assert.match(list.body.metadata.resource_version, /^\d+$/);
      assert.deepEqual(list.body.items.map((i: any) => i.metadata.name).sort(), ["first", "second"]);
      if (def.namespaced) {
        const other = `/${def.group}/namespaces/ns2/${def.plural}`;
        assert.equal((await http(api.url, "POST", other, body("third"))).status, 200);
        const own = await http(api.url, "GET", collection);
        assert.equal(own.body.items.length, 2, "a namespace list shows only that namespace");
        const all = await http(api.url, "GET", `/${def.group}/${def.plural}`);
        assert.deepEqual(all.body.items.map((i: any) => i.metadata.name).sort(), ["first", "second", "third"]);
      }
    });

    it("answers 404 NOT_FOUND_ERROR naming kind, name and namespace", async () => {
      const res = await http(api.url, "GET", `${collection}/missing`);
      assert.equal(res.status, 404);
      assert.equal(res.body.title, "NOT_FOUND_ERROR");
      assert.equal(res.body.type, `${DEFAULT_PROBLEM_BASE_URL}#not-found-error`);
      assert.equal(
        res.body.detail,
        `'${def.kind}' 'missing' does not exist in namespace ${def.namespaced ? "'ns1'" : "None"}`,
      );
    });

    it("updates by PUT of the read object with one field changed, bumping modified", async () => {
      const current = (await http(api.url, "GET", `${collection}/first`)).body;
      current.metadata.labels = { tier: "gold" };
      const res = await http(api.url, "PUT", `${collection}/first`, current);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.metadata.labels, { tier: "gold" });
      assert.ok(res.body.metadata.modified > current.metadata.modified);
      assert.equal(res.body.metadata.created, current.metadata.created);
      assert.ok(Number(res.body.metadata.resource_version) > Number(current.metadata.resource_version));
    });

    it("answers 400 when the PUT body changes nothing (GlobalMetricsProvider: 200)", async () => {
      const current = (await http(api.url, "GET", `${collection}/first`)).body;
      const res = await http(api.url, "PUT", `${collection}/first`, current);
      if (def.noUpdateIsOk) {
        assert.equal(res.status, 200);
        assert.equal(res.body.metadata.resource_version, current.metadata.resource_version);
      } else {
        assert.equal(res.status, 400);
        assert.equal(res.body.title, "UPDATE_ERROR");
        assert.equal(res.body.detail, "The body contained no update.");
      }
    });

    it("refuses to change the name (immutable) with 400", async () => {
      const current = (await http(api.url, "GET", `${collection}/first`)).body;
      current.metadata.name = "renamed";
      const res = await http(api.url, "PUT", `${collection}/first`, current);
      assert.equal(res.status, 400);
      assert.equal(res.body.detail, "Trying to update an immutable field: name");
    });

    it("requires uid, created and modified in PUT bodies (422)", async () => {
      const current = (await http(api.url, "GET", `${collection}/first`)).body;
      delete current.metadata.uid;
      current.metadata.created = null;
      const res = await http(api.url, "PUT", `${collection}/first`, current);
      assert.equal(res.status, 422);
      const paths = res.body.errors.map((e: any) => e.path).sort();
      assert.deepEqual(paths, ["metadata.created", "metadata.uid"]);
    });

    it("deletes in two steps: the mark with cascade_deletion, then the key once finalizers are empty", async () => {
      const del = await http(api.url, "DELETE", `${collection}/second`);
      assert.equal(del.status, 200);
      assert.notEqual(del.body.metadata.deleted, null);
      assert.deepEqual(del.body.metadata.finalizers, ["cascade_deletion"]);
      const again = await http(api.url, "DELETE", `${collection}/second`);
      assert.equal(again.status, 200);
      assert.equal(again.body.metadata.deleted, del.body.metadata.deleted, "a second DELETE changes nothing");
      assert.equal(again.body.metadata.resource_version, del.body.metadata.resource_version);

      const adding = structuredClone(del.body);
      adding.metadata.finalizers = ["cascade_deletion", "another"];
      const refused = await http(api.url, "PUT", `${collection}/second`, adding);
      assert.equal(refused.status, 409);
      assert.equal(refused.body.detail, "Finalizers can only be removed if a deletion is in progress.");

      const emptied = structuredClone(del.body);
      emptied.metadata.finalizers = [];
      const res = await http(api.url, "PUT", `${collection}/second`, emptied);
      assert.equal(res.status, 200, res.text);
      assert.equal((await http(api.url, "GET", `${collection}/second`)).status, 404);
    });
  });
}

describe("service routes", () => {
  it("GET / answers Krake's version", async () => {
    const res = await http(api.url, "GET", "/");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { version: "1.0.1" });
  });
  it("GET /release answers 202", async () => {
    const res = await http(api.url, "GET", "/release");
    assert.equal(res.status, 202);
    assert.equal(res.body, "You released the Krake.");
  });
  it("GET /me names the anonymous user and no roles", async () => {
    const res = await http(api.url, "GET", "/me");
    assert.deepEqual(res.body, { user: "system:anonymous", roles: [] });
  });
  it("serves an OpenAPI document with every kind", async () => {
    const res = await http(api.url, "GET", "/openapi.json");
    assert.equal(res.status, 200);
    for (const def of KINDS) assert.ok(res.body.components.schemas[def.kind], def.kind);
    assert.ok(res.body.paths["/kubernetes/namespaces/{namespace}/applications/{name}/binding"]);
  });
});
