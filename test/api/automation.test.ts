/**
 * The automation fields over HTTP: they survive clients that do not know them (Krake's krakectl and Python
 * client drop unknown keys, then PUT the object back), and the worker count has exactly one owner.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { http, startTestApi, type TestApi } from "../support/api.js";
import { kubeconfig, poolTosca } from "../support/fixtures.js";

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(() => api.close());

const path = (name: string) => `/kubernetes/namespaces/default/clusters/${name}`;
const autoscaling = { workers: { min: 1, max: 4 } };

async function createCluster(name: string, spec: Record<string, unknown>) {
  const res = await http(api.url, "POST", "/kubernetes/namespaces/default/clusters", {
    metadata: { name },
    spec: { constraints: { cloud: {} }, ...spec },
  });
  assert.equal(res.status, 200, res.text);
  return res.body;
}

/** What Krake's client sends back after a GET: the object without the keys it does not know. */
function asKrakeClientSees(obj: any) {
  const copy = structuredClone(obj);
  delete copy.spec.autoscaling;
  delete copy.spec.template;
  delete copy.status.capacity;
  delete copy.status.autoscaling;
  delete copy.status.events;
  return copy;
}

describe("automation fields", () => {
  it("survive an update and a status write from a client that does not send them", async () => {
    await createCluster("keep", {
      tosca: poolTosca(2),
      autoscaling,
      template: { api: "kubernetes", kind: "GlobalClusterTemplate", name: "small" },
    });
    const withStatus = (await http(api.url, "GET", path("keep"))).body;
    withStatus.status.autoscaling = { desired: 3 };
    withStatus.status.events = [
      {
        time: "2026-11-23T10:00:00Z",
        type: "Normal",
        reason: "ScaledUp",
        message: "2 → 3",
        source: "autoscaler",
      },
    ];
    const written = await http(api.url, "PUT", `${path("keep")}/status`, withStatus);
    assert.equal(written.status, 200, written.text);

    const krake = asKrakeClientSees(written.body);
    krake.metadata.labels = { team: "a" };
    const updated = await http(api.url, "PUT", path("keep"), krake);
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual(updated.body.metadata.labels, { team: "a" });
    assert.equal(updated.body.spec.autoscaling.workers.max, 4, "spec.autoscaling kept");
    assert.equal(updated.body.spec.template.name, "small");

    const krakeStatus = asKrakeClientSees(updated.body);
    krakeStatus.status.state = "ONLINE";
    const status = await http(api.url, "PUT", `${path("keep")}/status`, krakeStatus);
    assert.equal(status.status, 200, status.text);
    assert.equal(status.body.status.state, "ONLINE");
    assert.equal(status.body.status.autoscaling.desired, 3, "status.autoscaling kept");
    assert.equal(status.body.status.events.length, 1, "status.events kept");
  });

  it("can still be removed by sending null", async () => {
    const cluster = await createCluster("off", { tosca: poolTosca(1), autoscaling });
    cluster.spec.autoscaling = null;
    const res = await http(api.url, "PUT", path("off"), cluster);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.spec.autoscaling, null);
  });

  it("refuses a change of the worker count of an autoscaled cluster, naming the input; other edits go through", async () => {
    const cluster = await createCluster("owned", { tosca: poolTosca(2), autoscaling });
    const scaled = structuredClone(cluster);
    scaled.spec.tosca = poolTosca(5);
    const refused = await http(api.url, "PUT", path("owned"), scaled);
    assert.equal(refused.status, 422, refused.text);
    assert.deepEqual(
      refused.body.errors.map((e: { path: string }) => e.path),
      ["spec.tosca.topology_template.inputs.wn_num.default"],
    );
    assert.match(refused.body.detail, /managed by spec\.autoscaling \(1\.\.4 workers\)/);

    const bigger = structuredClone(cluster);
    bigger.spec.tosca = poolTosca(2, 8);
    const flavour = await http(api.url, "PUT", path("owned"), bigger);
    assert.equal(flavour.status, 200, flavour.text);

    const handBack = structuredClone(flavour.body);
    handBack.spec.autoscaling = null;
    handBack.spec.tosca = poolTosca(5, 8);
    const manual = await http(api.url, "PUT", path("owned"), handBack);
    assert.equal(manual.status, 200, "without autoscaling the count is the user's again");
  });

  it("refuses autoscaling where Krake cannot scale: a registered cluster, an input that sizes nothing", async () => {
    const registered = await http(api.url, "POST", "/kubernetes/namespaces/default/clusters", {
      metadata: { name: "registered" },
      spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} }, autoscaling },
    });
    assert.equal(registered.status, 422);
    assert.match(registered.body.detail, /spec\.autoscaling: Autoscaling needs spec\.tosca/);
    const wrongInput = await http(api.url, "POST", "/kubernetes/namespaces/default/clusters", {
      metadata: { name: "wrong" },
      spec: {
        tosca: poolTosca(),
        constraints: { cloud: {} },
        autoscaling: { workers: { input: "wn_cpus", min: 1, max: 2 } },
      },
    });
    assert.equal(wrongInput.status, 422);
    assert.deepEqual(
      wrongInput.body.errors.map((e: { path: string }) => e.path),
      ["spec.autoscaling.workers.system"],
    );
  });
});
