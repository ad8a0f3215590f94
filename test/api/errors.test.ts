import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { bodies, kubeconfig } from "../support/fixtures.js";
import { http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi({ bodyLimit: 64 * 1024 });
});
after(async () => {
  await api.close();
});

const apps = "/kubernetes/namespaces/ns/applications";
const clusters = "/kubernetes/namespaces/ns/clusters";

async function listCount(path: string): Promise<number> {
  return (await http(api.url, "GET", path)).body.items.length;
}

describe("bad input never stores anything", () => {
  it("answers 415 to a body that is not JSON, whatever the Content-Type", async () => {
    for (const text of ["{not json", "", "[1,2", "null x"]) {
      const res = await http(api.url, "POST", apps, text, { "Content-Type": "text/plain" });
      assert.equal(res.status, 415, `body ${JSON.stringify(text)}: ${res.text}`);
      assert.equal(res.body.detail, "415: Unsupported Media Type");
      assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
    }
    assert.equal(await listCount(apps), 0);
  });

  it("answers 413 to an oversize body", async () => {
    const big = bodies.Application("big") as any;
    big.spec.manifest[0].metadata.annotations = { blob: "x".repeat(100 * 1024) };
    const res = await http(api.url, "POST", apps, big);
    assert.equal(res.status, 413);
    assert.match(res.body.detail, /exceeds the limit of 65536 bytes/);
    assert.equal(await listCount(apps), 0);
  });

  it("answers 422 naming the path of a too deeply nested part", async () => {
    let deep: any = { leaf: 1 };
    for (let i = 0; i < 150; i++) deep = { d: deep };
    const body = bodies.Application("deep") as any;
    body.spec.manifest[0].spec = deep;
    const res = await http(api.url, "POST", apps, body);
    assert.equal(res.status, 422);
    assert.match(res.body.errors[0].path, /^spec\.manifest\.0\.spec\.d\.d/);
    assert.equal(await listCount(apps), 0);
  });

  it("422 lists every failing field with its path, in D1's shape", async () => {
    const res = await http(api.url, "POST", apps, { metadata: { name: "bad name!" }, spec: {} });
    assert.equal(res.status, 422);
    assert.equal(res.body.type, "about:blank");
    assert.equal(res.body.status, 422);
    assert.equal(res.body.title, undefined);
    const byPath = Object.fromEntries(res.body.errors.map((e: any) => [e.path, e.message]));
    assert.equal(byPath["metadata.name"], "Invalid character in resource name.");
    assert.equal(byPath["spec.manifest"], "Missing data for required field.");
    assert.equal(byPath["spec.constraints"], "Missing data for required field.");
    assert.match(res.body.detail, /^3 validation errors: /);
    assert.match(res.body.detail, /metadata\.name: Invalid character in resource name\./);
  });

  it("checks api and kind when they are sent", async () => {
    const body = { ...bodies.GlobalMetric("m"), kind: "Metric", api: "core" };
    const res = await http(api.url, "POST", "/core/globalmetrics", body);
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.errors, [{ path: "kind", message: "Must be equal to GlobalMetric." }]);
  });

  it("rejects an unknown polymorphic type and a missing variant", async () => {
    const unknown = await http(api.url, "POST", "/core/globalmetricsproviders", {
      metadata: { name: "p" },
      spec: { type: "foo" },
    });
    assert.equal(unknown.status, 422);
    assert.deepEqual(unknown.body.errors, [{ path: "spec.type", message: "Unknown type 'foo'" }]);
    const missing = await http(api.url, "POST", "/core/globalmetricsproviders", {
      metadata: { name: "p" },
      spec: { type: "prometheus" },
    });
    assert.equal(missing.status, 422);
    assert.deepEqual(missing.body.errors, [{ path: "spec.prometheus", message: "Field is required" }]);
  });

  it("requires IM credentials: a token, or username and password", async () => {
    const res = await http(api.url, "POST", "/infrastructure/globalinfrastructureproviders", {
      metadata: { name: "im" },
      spec: { type: "im", im: { url: "http://localhost:8800", username: "only-user" } },
    });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.errors, [
      { path: "spec.im", message: "At least one authentication should be defined in the IM infrastructure provider spec." },
    ]);
  });

  it("refuses a global cloud that references a namespaced provider", async () => {
    const body = bodies.GlobalCloud("gc") as any;
    body.spec.openstack.infrastructure_provider.namespaced = true;
    const res = await http(api.url, "POST", "/infrastructure/globalclouds", body);
    assert.equal(res.status, 422);
    assert.match(res.body.detail, /cannot reference the namespaced infrastructure provider resource/);
  });

  it("refuses a cluster with neither kubeconfig nor TOSCA", async () => {
    const res = await http(api.url, "POST", clusters, { metadata: { name: "c" }, spec: { constraints: { cloud: {} } } });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.errors, [
      { path: "spec", message: "The cluster should be defined by a kubeconfig file or a TOSCA template." },
    ]);
  });

  it("refuses a kubeconfig with several contexts", async () => {
    const kc = kubeconfig() as any;
    kc.contexts.push({ name: "ctx2", context: { cluster: "c", user: "u" } });
    const res = await http(api.url, "POST", clusters, { metadata: { name: "c" }, spec: { kubeconfig: kc, constraints: { cloud: {} } } });
    assert.equal(res.status, 422);
    assert.ok(res.body.errors.some((e: any) => e.path.startsWith("spec.kubeconfig")), res.text);
  });

  it("refuses a cluster TOSCA without the kubeconfig output", async () => {
    const tosca = {
      tosca_definitions_version: "tosca_simple_yaml_1_0",
      topology_template: { node_templates: { front: { type: "tosca.nodes.Compute" } }, outputs: {} },
    };
    const res = await http(api.url, "POST", clusters, { metadata: { name: "c" }, spec: { tosca, constraints: { cloud: {} } } });
    assert.equal(res.status, 422);
    assert.match(res.body.detail, /The output `kubeconfig` is missing/);
  });

  it("refuses an app with neither manifest nor TOSCA nor CSAR", async () => {
    const res = await http(api.url, "POST", apps, { metadata: { name: "a" }, spec: { manifest: [], constraints: { cluster: {} } } });
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.errors, [
      { path: "spec", message: "The application should be defined by a manifest file, a TOSCA template or a CSAR file." },
    ]);
  });

  it("refuses manifest items without apiVersion, kind or metadata.name", async () => {
    const res = await http(api.url, "POST", apps, {
      metadata: { name: "a" },
      spec: { manifest: [{ kind: "Service", metadata: { name: "x" } }], constraints: { cluster: {} } },
    });
    assert.equal(res.status, 422);
    assert.ok(res.body.errors[0].path.startsWith("spec.manifest"), res.text);
    assert.match(res.body.errors[0].message, /apiVersion/);
  });

  it("refuses bad labels and bad constraints, naming each", async () => {
    const body = bodies.Application("a") as any;
    body.metadata.labels = { "good": "yes", "bad key!": "v", "empty": "" };
    body.spec.constraints.cluster.labels = ["location is DE", "location is"];
    body.spec.constraints.cluster.metrics = ["load > abc"];
    const res = await http(api.url, "POST", apps, body);
    assert.equal(res.status, 422);
    const paths = res.body.errors.map((e: any) => e.path).sort();
    assert.deepEqual(paths, [
      "metadata.labels.bad key!",
      "metadata.labels.empty",
      "spec.constraints.cluster.labels.1",
      "spec.constraints.cluster.metrics.0",
    ]);
    assert.equal(await listCount(apps), 0);
  });

  it("answers 404 to an unknown route and 405 with Allow to a wrong method", async () => {
    const unknown = await http(api.url, "GET", "/kubernetes/namespaces/ns/widgets");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.detail, "404: Not Found");
    const wrong = await http(api.url, "PATCH", `${apps}/x`, {});
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "GET, PUT, DELETE, HEAD");
    const post = await http(api.url, "POST", `${apps}/x`, {});
    assert.equal(post.status, 405);
  });

  it("answers 422 to a negative heartbeat, naming query.heartbeat", async () => {
    const res = await http(api.url, "GET", `${apps}?watch&heartbeat=-1`);
    assert.equal(res.status, 422);
    assert.deepEqual(res.body.errors, [{ path: "query.heartbeat", message: "Must be greater than or equal to 0." }]);
  });
});
