import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, Cluster, GlobalCloud } from "../../src/resources/registry.js";
import { bodies } from "../support/fixtures.js";
import { eventually, http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi({ blockingTimeout: 2 });
});
after(async () => {
  await api.close();
});

const ns = "sub";
const appPath = (name: string) => `/kubernetes/namespaces/${ns}/applications/${name}`;
const apps = () => api.client.kind(Application);

async function setStatus(name: string, status: Record<string, unknown>) {
  const current = await apps().get(name, ns);
  current.status = { ...current.status, ...status };
  return apps().updateStatus(current);
}

describe("status subresource", () => {
  it("merges only status, leaves spec and modified alone", async () => {
    const app = await apps().create(bodies.Application("st"), ns);
    const body = structuredClone(app);
    body.status.state = "RUNNING";
    body.spec.hooks = ["complete"];
    body.metadata.labels = { ignored: "yes" };
    const res = await http(api.url, "PUT", `${appPath("st")}/status`, body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status.state, "RUNNING");
    assert.deepEqual(res.body.spec.hooks, []);
    assert.deepEqual(res.body.metadata.labels, {});
    assert.equal(res.body.metadata.modified, app.metadata.modified);
  });

  it("a plain PUT does not change status", async () => {
    const app = await apps().get("st", ns);
    app.status.state = "FAILED";
    app.metadata.labels = { a: "b" };
    const res = await apps().update(app);
    assert.equal(res.status.state, "RUNNING");
    assert.deepEqual(res.metadata.labels, { a: "b" });
  });

  it("answers 409 to a stale resource_version and writes nothing (D4)", async () => {
    const app = await apps().get("st", ns);
    const stale = structuredClone(app);
    app.metadata.labels = { first: "writer" };
    await apps().update(app);
    stale.metadata.labels = { second: "writer" };
    const res = await http(api.url, "PUT", appPath("st"), stale);
    assert.equal(res.status, 409);
    assert.equal(res.body.title, "TRANSACTION_ERROR");
    assert.match(res.body.detail, new RegExp(`'${stale.metadata.resource_version}'`));
    assert.deepEqual((await apps().get("st", ns)).metadata.labels, { first: "writer" });
    const statusRes = await http(api.url, "PUT", `${appPath("st")}/status`, stale);
    assert.equal(statusRes.status, 409);
  });

  it("keeps last-writer-wins when no resource_version is sent", async () => {
    const app = await apps().get("st", ns);
    const old = structuredClone(app);
    app.metadata.labels = { v: "1" };
    await apps().update(app);
    old.metadata.resource_version = null;
    old.metadata.labels = { v: "2" };
    const res = await http(api.url, "PUT", appPath("st"), old);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.metadata.labels, { v: "2" });
  });
});

describe("binding", () => {
  it("binds an application to a cluster and adds the owner once", async () => {
    await apps().create(bodies.Application("bound"), ns);
    const ref = { api: "kubernetes", kind: "Cluster", namespace: ns, name: "c1" };
    const first = await apps().action("bound", "binding", { cluster: ref }, ns);
    assert.deepEqual(first.status.scheduled_to, ref);
    assert.equal(first.status.scheduled, first.status.kube_controller_triggered);
    assert.deepEqual(first.metadata.owners, [ref]);
    const second = await apps().action("bound", "binding", { api: "kubernetes", kind: "ClusterBinding", cluster: ref }, ns);
    assert.deepEqual(second.metadata.owners, [ref]);
  });

  it("binds a cluster to a cloud", async () => {
    const clusters = api.client.kind(Cluster);
    await clusters.create(bodies.Cluster("c1"), ns);
    const ref = { api: "infrastructure", kind: "GlobalCloud", namespace: null, name: "os" };
    const res = await clusters.action("c1", "binding", { cloud: ref }, ns);
    assert.deepEqual(res.status.scheduled_to, ref);
    assert.deepEqual(res.metadata.owners, [ref]);
  });

  it("validates the binding body (422) before looking the object up (404)", async () => {
    const bad = await http(api.url, "PUT", `${appPath("nope")}/binding`, { cluster: { name: "x" } });
    assert.equal(bad.status, 422);
    const missing = await http(api.url, "PUT", `${appPath("nope")}/binding`, {
      cluster: { api: "kubernetes", kind: "Cluster", name: "x" },
    });
    assert.equal(missing.status, 404);
  });
});

describe("complete, shutdown and retry", () => {
  it("complete needs the right token, then marks the app for deletion", async () => {
    await apps().create(bodies.Application("job"), ns);
    const noToken = await http(api.url, "PUT", `${appPath("job")}/complete`, { token: "x" });
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.detail, "401: No token has been provided or the provided one is invalid.");
    await setStatus("job", { complete_token: "secret" });
    const wrong = await http(api.url, "PUT", `${appPath("job")}/complete`, { token: "nope" });
    assert.equal(wrong.status, 401);
    const ok = await http(api.url, "PUT", `${appPath("job")}/complete`, { token: "secret" });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status.state, "READY_FOR_ACTION");
    assert.notEqual(ok.body.metadata.deleted, null);
    assert.deepEqual(ok.body.metadata.finalizers, []);
    const after = await http(api.url, "GET", appPath("job"));
    assert.equal(after.status, 200, "the marked app stays until the garbage collector acts, as in Krake");
    assert.equal(after.body.status.state, "READY_FOR_ACTION");
  });

  it("accepts the body kinds Krake's own client sends (Complete, Shutdown) and the spec's names", async () => {
    await apps().create(bodies.Application("kinds"), ns);
    await setStatus("kinds", { complete_token: "c", shutdown_token: "s" });
    for (const [action, kind, token] of [
      ["shutdown", "Shutdown", "s"],
      ["shutdown", "ApplicationShutdown", "s"],
      ["complete", "Complete", "c"],
      ["complete", "ApplicationComplete", "c"],
    ]) {
      const res = await http(api.url, "PUT", `${appPath("kinds")}/${action}`, { api: "kubernetes", kind, token });
      assert.equal(res.status, 200, `${action} with kind ${kind}: ${res.text}`);
    }
    const wrong = await http(api.url, "PUT", `${appPath("kinds")}/complete`, { kind: "Shutdown", token: "c" });
    assert.equal(wrong.status, 422);
    assert.equal(wrong.body.errors[0].path, "kind");
  });

  it("shutdown moves WAITING_FOR_CLEANING to READY_FOR_ACTION", async () => {
    const body = bodies.Application("svc") as any;
    body.spec.hooks = ["shutdown"];
    await apps().create(body, ns);
    await setStatus("svc", { shutdown_token: "tok", shutdown_grace_period: "2026-01-01T00:00:00+00:00" });
    const del = await apps().delete("svc", ns);
    assert.equal(del.status.state, "WAITING_FOR_CLEANING", "DELETE of an app with a shutdown hook");
    const res = await apps().action("svc", "shutdown", { token: "tok" }, ns);
    assert.equal(res.status.state, "READY_FOR_ACTION");
    assert.equal(res.status.shutdown_grace_period, null);
  });

  it("retry: 400 unless DEGRADED, then WAITING_FOR_CLEANING", async () => {
    await apps().create(bodies.Application("deg"), ns);
    const refused = await http(api.url, "PUT", `${appPath("deg")}/retry`);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.title, "UPDATE_ERROR");
    assert.equal(refused.body.detail, "No migration or deletion retry needed");
    await setStatus("deg", { state: "DEGRADED" });
    const ok = await http(api.url, "PUT", `${appPath("deg")}/retry`);
    assert.equal(ok.status, 200);
    assert.equal(ok.body.status.state, "WAITING_FOR_CLEANING");
  });
});

describe("force and blocking", () => {
  it("force=True removes the key at once, ignoring finalizers", async () => {
    const app = await apps().create(bodies.Application("forced"), ns);
    app.metadata.finalizers = ["kubernetes_resources_deletion"];
    await apps().update(app);
    const res = await http(api.url, "DELETE", `${appPath("forced")}?force=True`);
    assert.equal(res.status, 200);
    assert.notEqual(res.body.metadata.deleted, null);
    assert.equal((await http(api.url, "GET", appPath("forced"))).status, 404);
  });

  it("force on a kind without it is ignored (normal two-step delete)", async () => {
    await api.client.kind(GlobalCloud).create(bodies.GlobalCloud("gc"));
    const res = await http(api.url, "DELETE", "/infrastructure/globalclouds/gc?force=True");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.metadata.finalizers, ["cascade_deletion"]);
    assert.equal((await http(api.url, "GET", "/infrastructure/globalclouds/gc")).status, 200);
  });

  it("blocking=<state> on create answers once the state is reached", async () => {
    const pending = http(api.url, "POST", `/kubernetes/namespaces/${ns}/applications?blocking=running`, bodies.Application("blk"));
    // Another writer (a controller in real life) moves it to RUNNING.
    await eventually(async () => (await http(api.url, "GET", appPath("blk"))).status === 200, 5000, "the create");
    await setStatus("blk", { state: "RUNNING" });
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body.status.state, "RUNNING");
  });

  it("blocking=deleted on delete answers with state DELETED once the key is gone", async () => {
    await apps().create(bodies.Application("gone"), ns);
    const pending = http(api.url, "DELETE", `${appPath("gone")}?blocking=deleted`);
    const marked = await eventually(async () => {
      const o = await apps().get("gone", ns);
      return o.metadata.deleted ? o : null;
    }, 5000, "the delete mark");
    marked.metadata.finalizers = [];
    await apps().update(marked);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.body.status.state, "DELETED");
  });

  it("blocking answers with the latest object when the timeout passes", async () => {
    const res = await http(api.url, "POST", `/kubernetes/namespaces/${ns}/applications?blocking=RUNNING`, bodies.Application("slow"));
    assert.equal(res.status, 200);
    assert.equal(res.body.status.state, "PENDING");
  });

  it("blocking=False is ignored", async () => {
    const res = await http(api.url, "POST", `/kubernetes/namespaces/${ns}/applications?blocking=False`, bodies.Application("nb"));
    assert.equal(res.status, 200);
  });
});
