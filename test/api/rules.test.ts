/** Rules of api.md not covered by the per-topic suites. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Application, GlobalMetric } from "../../src/resources/registry.js";
import { bodies } from "../support/fixtures.js";
import { http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi({ watchHistory: 100, corsOrigin: "https://console.example" });
});
after(async () => {
  await api.close();
});

describe("api.md rules", () => {
  it("answers CORS preflights without authentication and sets the origin on answers and streams", async () => {
    const locked = await startTestApi({ allowAnonymous: false });
    try {
      const pre = await fetch(`${locked.url}/kubernetes/namespaces/x/applications`, {
        method: "OPTIONS",
        headers: { Origin: "https://a.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type" },
      });
      assert.equal(pre.status, 200);
      assert.equal(pre.headers.get("access-control-allow-methods"), "DELETE, GET, OPTIONS, POST, PUT");
      assert.equal(pre.headers.get("access-control-allow-headers"), "content-type");
      assert.equal(pre.headers.get("access-control-allow-credentials"), "true");
    } finally {
      await locked.close();
    }
    const res = await http(api.url, "GET", "/core/roles");
    assert.equal(res.headers.get("access-control-allow-origin"), "https://console.example");
    const ctrl = new AbortController();
    const stream = await fetch(`${api.url}/core/roles?watch`, { signal: ctrl.signal });
    assert.equal(stream.headers.get("access-control-allow-origin"), "https://console.example");
    ctrl.abort();
  });

  it("refuses to create a name whose old object is still being deleted (409)", async () => {
    const metrics = api.client.kind(GlobalMetric);
    await metrics.create(bodies.GlobalMetric("reborn"));
    await metrics.delete("reborn");
    const res = await http(api.url, "POST", "/core/globalmetrics", bodies.GlobalMetric("reborn"));
    assert.equal(res.status, 409);
    assert.equal(res.body.title, "RESOURCE_ALREADY_EXISTS");
  });

  it("accepts a PUT that changes only status, but changes nothing but modified", async () => {
    const apps = api.client.kind(Application);
    const app = await apps.create(bodies.Application("status-only"), "r");
    const body = structuredClone(app);
    body.status.state = "RUNNING";
    const res = await http(api.url, "PUT", "/kubernetes/namespaces/r/applications/status-only", body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status.state, "PENDING");
    assert.deepEqual(res.body.spec, app.spec);
    assert.ok(res.body.metadata.modified > app.metadata.modified!);
  });

  it("accepts any ISO-8601 datetime and stores Krake's canonical form", async () => {
    const apps = api.client.kind(Application);
    const app = await apps.create(bodies.Application("dates"), "r");
    const body = structuredClone(app) as any;
    body.status.scheduled = "2026-03-04T05:06:07Z";
    body.status.kube_controller_triggered = "2026-03-04T07:06:07.5+02:00";
    const res = await http(api.url, "PUT", "/kubernetes/namespaces/r/applications/dates/status", body);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.status.scheduled, "2026-03-04T05:06:07.000000+00:00");
    assert.equal(res.body.status.kube_controller_triggered, "2026-03-04T05:06:07.500000+00:00");
    body.status.scheduled = "yesterday";
    const bad = await http(api.url, "PUT", "/kubernetes/namespaces/r/applications/dates/status", body);
    assert.equal(bad.status, 422);
    assert.deepEqual(bad.body.errors, [{ path: "status.scheduled", message: "Not a valid datetime." }]);
  });

  it("answers 410 RESOURCE_VERSION_EXPIRED once the embedded store's history has moved past the version", async () => {
    const metrics = api.client.kind(GlobalMetric);
    const old = (await metrics.list()).metadata.resource_version;
    for (let i = 0; i < 150; i++) await metrics.create(bodies.GlobalMetric(`churn-${i}`));
    const res = await http(api.url, "GET", `/core/globalmetrics?watch&resource_version=${old}`);
    assert.equal(res.status, 410);
    assert.equal(res.body.title, "RESOURCE_VERSION_EXPIRED");
    assert.match(res.body.detail, /List again and watch from the list's resource_version/);
  });
});
