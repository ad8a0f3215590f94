/**
 * The cluster controller against a real kube-apiserver (v1.20.2, test/support/kube-apiserver.ts): registered
 * clusters are observed, their nodes reported, pressure and readiness turned into states, an unreachable API
 * into OFFLINE and back.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually } from "../support/api.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import { startKubeApiServer, type KubeApiServer } from "../support/kube-apiserver.js";
import { rokSandbox } from "../support/rok.js";
import { KubeClient } from "../../src/kube/client.js";
import { Cluster } from "../../src/resources/registry.js";

const NS = "system:admin";

let kube: KubeApiServer;
let cp: ControlPlane;
let k8s: KubeClient;
let rok: Awaited<ReturnType<typeof rokSandbox>>;

const skip = process.env.KRAKE_SKIP_KUBE === "1" && "KRAKE_SKIP_KUBE=1: no real Kubernetes API server";

before(async () => {
  if (skip) return;
  kube = await startKubeApiServer();
  cp = await startControlPlane(["cluster"], {
    cluster: { observeIntervalMs: 100, maxOfflineIntervalMs: 400 },
  });
  k8s = KubeClient.fromKubeconfig(kube.kubeconfig as unknown as Record<string, unknown>);
  rok = await rokSandbox(cp.api.url);
});
after(async () => {
  await cp?.close();
  await kube?.close();
  await rok?.cleanup();
});

const clusters = () => cp.api.client.kind(Cluster) as any;
const get = (name: string) => clusters().get(name, NS);
const waitFor = (name: string, what: string, test: (c: any) => boolean, ms = 10_000) =>
  eventually(
    async () => {
      const c = await get(name);
      return test(c) ? c : null;
    },
    ms,
    `${name}: ${what}`,
  );

/** Krake requires `constraints` on every cluster, even a registered one. */
const register = (name: string, kubeconfig: unknown, spec: Record<string, unknown> = {}) =>
  clusters().create({ metadata: { name }, spec: { kubeconfig, constraints: { cloud: {} }, ...spec } }, NS);

/** A Node object with the given conditions (there is no kubelet: the test plays its part). */
async function setNode(name: string, conditions: Record<string, string>) {
  if (!(await k8s.get({ apiVersion: "v1", kind: "Node", metadata: { name } })))
    await k8s.request("POST", "/api/v1/nodes", {
      body: { apiVersion: "v1", kind: "Node", metadata: { name } },
    });
  const now = new Date().toISOString();
  await k8s.request("PATCH", `/api/v1/nodes/${name}/status`, {
    contentType: "application/strategic-merge-patch+json",
    body: {
      status: {
        conditions: Object.entries(conditions).map(([type, status]) => ({
          type,
          status,
          reason: `Test${type}`,
          message: `${type} is ${status}`,
          lastHeartbeatTime: now,
          lastTransitionTime: now,
        })),
      },
    },
  });
}

const healthy = { Ready: "True", MemoryPressure: "False", DiskPressure: "False", PIDPressure: "False" };

describe("cluster controller against a real kube-apiserver", { skip }, () => {
  it("a cluster registered with rok: NOTREADY without nodes, ONLINE once its node is Ready", async () => {
    const file = join(rok.dir, "kubeconfig.yaml");
    await writeFile(file, JSON.stringify(kube.kubeconfig));
    const reg = await rok.rok(["kube", "cluster", "register", "-k", file]);
    assert.equal(reg.code, 0, reg.stderr);
    const name = kube.kubeconfig.clusters[0]!.name;
    await waitFor(name, "NOTREADY", (c) => c.status.state === "NOTREADY");
    await setNode("node-a", healthy);
    const online = await waitFor(name, "ONLINE", (c) => c.status.state === "ONLINE");
    assert.deepEqual(
      online.status.nodes.map((n: any) => [
        n.metadata.name,
        n.status.conditions.find((c: any) => c.type === "Ready").status,
      ]),
      [["node-a", "True"]],
    );
    assert.ok(online.status.kube_controller_triggered);
    assert.equal(online.status.reason, null);
  });

  it("pressure makes it UNHEALTHY, a node that is not Ready NOTREADY, recovery ONLINE", async () => {
    const name = kube.kubeconfig.clusters[0]!.name;
    await setNode("node-a", { ...healthy, MemoryPressure: "True" });
    await waitFor(name, "UNHEALTHY", (c) => c.status.state === "UNHEALTHY");
    await setNode("node-a", healthy);
    await setNode("node-b", { ...healthy, Ready: "False" });
    const notReady = await waitFor(name, "NOTREADY", (c) => c.status.state === "NOTREADY");
    assert.deepEqual(
      notReady.status.nodes.map((n: any) => n.metadata.name),
      ["node-a", "node-b"],
    );
    await setNode("node-b", healthy);
    await waitFor(name, "ONLINE", (c) => c.status.state === "ONLINE");
  });

  it("an unreachable API is OFFLINE with the reason; a working kubeconfig brings it back", async () => {
    const broken = structuredClone(kube.kubeconfig);
    broken.clusters[0]!.cluster.server = "https://127.0.0.1:1";
    await register("faraway", broken);
    const offline = await waitFor("faraway", "OFFLINE", (c) => c.status.state === "OFFLINE");
    assert.equal(offline.status.reason.code, "CLUSTER_NOT_REACHABLE");
    assert.match(offline.status.reason.message, /127\.0\.0\.1:1.*ECONNREFUSED/);
    const fixed = await get("faraway");
    fixed.spec.kubeconfig = kube.kubeconfig;
    await clusters().update(fixed);
    const back = await waitFor("faraway", "ONLINE", (c) => c.status.state === "ONLINE");
    assert.equal(back.status.reason, null);
  });

  it("a certificate the kubeconfig's CA did not sign is OFFLINE, not trusted", async () => {
    const wrongCa = structuredClone(kube.kubeconfig);
    // Any other CA: the test PKI of another API server would do; a self-signed leaf is simplest.
    wrongCa.clusters[0]!.cluster["certificate-authority-data"] = Buffer.from(
      "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n",
    ).toString("base64");
    await register("untrusted", wrongCa);
    const offline = await waitFor("untrusted", "OFFLINE", (c) => c.status.state === "OFFLINE");
    assert.equal(offline.status.reason.code, "CLUSTER_NOT_REACHABLE");
  });

  it("a custom resource the cluster does not serve is reported; creating its CRD clears it", async () => {
    await register("with-crs", kube.kubeconfig, { custom_resources: ["widgets.example.com"] });
    const missing = await waitFor(
      "with-crs",
      "the CRD reason",
      (c) => c.status.reason?.code === "INVALID_CUSTOM_RESOURCE",
    );
    assert.match(missing.status.reason.message, /'widgets\.example\.com'/);
    await k8s.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
      body: {
        apiVersion: "apiextensions.k8s.io/v1",
        kind: "CustomResourceDefinition",
        metadata: { name: "widgets.example.com" },
        spec: {
          group: "example.com",
          scope: "Namespaced",
          names: { plural: "widgets", singular: "widget", kind: "Widget" },
          versions: [
            {
              name: "v1",
              served: true,
              storage: true,
              schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
            },
          ],
        },
      },
    });
    await waitFor(
      "with-crs",
      "the reason cleared",
      (c) => c.status.reason === null && c.status.state === "ONLINE",
    );
  });

  it("leaves clusters alone while the infrastructure controller works on them", async () => {
    await register("busy", kube.kubeconfig);
    const online = await waitFor("busy", "ONLINE", (c) => c.status.state === "ONLINE");
    online.status.state = "RECONCILING";
    await clusters().updateStatus(online);
    // Node changes are no longer reported while it is RECONCILING.
    await setNode("node-c", { ...healthy, Ready: "False" });
    const other = await waitFor("faraway", "node-c seen elsewhere", (c) =>
      c.status.nodes.some((n: any) => n.metadata.name === "node-c"),
    );
    assert.equal(other.status.state, "NOTREADY");
    const busy = await get("busy");
    assert.equal(busy.status.state, "RECONCILING");
    assert.ok(!busy.status.nodes.some((n: any) => n.metadata.name === "node-c"));
    await setNode("node-c", healthy);
  });
});
