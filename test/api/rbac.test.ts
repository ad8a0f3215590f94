import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { ADMIN_RBAC, putRbac, startTestApi, http, eventually, type TestApi } from "../support/api.js";
import { bodies } from "../support/fixtures.js";
import { Application, Role, RoleBinding } from "../../src/resources/registry.js";

/**
 * RBAC with the static authenticator: each test server authenticates every request as one user, so two
 * servers over one store show two users' views.
 */
let admin: TestApi;
let alice: TestApi;
let anonymous: TestApi;

before(async () => {
  admin = await startTestApi({ authorization: "RBAC", staticUser: "system:admin" });
  // Bootstrap: the store is empty, so write the admin role through the server's store directly.
  await putRbac(admin.server.store, ADMIN_RBAC);
  const store = admin.server.store;
  alice = await startTestApi({ authorization: "RBAC", staticUser: "alice" }, store);
  anonymous = await startTestApi({ authorization: "RBAC", allowAnonymous: true }, store);
});
after(async () => {
  await anonymous.close();
  await alice.close();
  await admin.close();
});

describe("RBAC", () => {
  it("the admin role grants everything; /me lists the roles", async () => {
    await eventually(async () => (await http(admin.url, "GET", "/core/roles")).status === 200, 5000, "roles to load");
    const me = await http(admin.url, "GET", "/me");
    assert.deepEqual(me.body, { user: "system:admin", roles: ["role:system"] });
  });

  it("a namespaced role: 200 in its namespace, 403 elsewhere and for missing verbs", async () => {
    await admin.client.kind(Role).create({
      metadata: { name: "team-a-apps" },
      rules: [{ api: "kubernetes", resources: ["applications"], namespaces: ["team-a"], verbs: ["list", "get", "create"] }],
    });
    await admin.client.kind(RoleBinding).create({ metadata: { name: "alice-team-a" }, users: ["alice"], roles: ["team-a-apps"] });
    await eventually(async () => (await http(alice.url, "GET", "/kubernetes/namespaces/team-a/applications")).status === 200);
    assert.equal((await http(alice.url, "POST", "/kubernetes/namespaces/team-a/applications", bodies.Application("a"))).status, 200);
    assert.equal((await http(alice.url, "GET", "/kubernetes/namespaces/team-b/applications")).status, 403);
    assert.equal((await http(alice.url, "DELETE", "/kubernetes/namespaces/team-a/applications/a")).status, 403);
    assert.equal((await http(alice.url, "GET", "/kubernetes/namespaces/team-a/clusters")).status, 403);
    const forbidden = await http(alice.url, "PUT", "/kubernetes/namespaces/team-a/applications/a/status", {});
    assert.equal(forbidden.status, 403, "status needs update on applications/status");
    assert.equal(forbidden.body.detail, "403: Forbidden");
  });

  it("authorizes before validating: a forbidden caller gets 403, not 422", async () => {
    const res = await http(alice.url, "POST", "/kubernetes/namespaces/team-b/applications", { nonsense: true });
    assert.equal(res.status, 403);
  });

  it("list-all returns only the namespaces the caller may list (D3)", async () => {
    await admin.client.kind(Application).create(bodies.Application("b"), "team-b");
    const all = await http(alice.url, "GET", "/kubernetes/applications");
    assert.equal(all.status, 200);
    assert.deepEqual(all.body.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`), ["team-a/a"]);
    const adminAll = await http(admin.url, "GET", "/kubernetes/applications");
    assert.equal(adminAll.body.items.length, 2);
    assert.equal((await http(alice.url, "GET", "/kubernetes/clusters")).status, 403, "no namespace at all → 403");
  });

  it("anonymous callers get 401 under RBAC", async () => {
    const res = await http(anonymous.url, "GET", "/kubernetes/applications");
    assert.equal(res.status, 401);
    assert.equal(res.body.detail, "401: Unauthorized");
  });
});

describe("authentication", () => {
  it("without anonymous access and without credentials: 401 before anything else", async () => {
    const locked = await startTestApi({ allowAnonymous: false });
    try {
      const res = await http(locked.url, "POST", "/core/roles", "{not json");
      assert.equal(res.status, 401);
      assert.equal(res.body.detail, "401: No user has been authenticated.");
    } finally {
      await locked.close();
    }
  });

  it("always-deny answers 403", async () => {
    const denied = await startTestApi({ authorization: "always-deny" });
    try {
      assert.equal((await http(denied.url, "GET", "/core/roles")).status, 403);
      assert.equal((await http(denied.url, "GET", "/kubernetes/applications")).status, 403);
    } finally {
      await denied.close();
    }
  });
});
