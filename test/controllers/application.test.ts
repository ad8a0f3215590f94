/**
 * The application controller against two real kube-apiservers (v1.20.2, with kube-controller-manager and a
 * stand-in kubelet, test/support/kubelet.ts): echo-demo is deployed, updated, repaired after drift,
 * migrated from one cluster to the other (new copy healthy before the old one goes) and deleted; hooks,
 * transient and permanent Kubernetes errors, TOSCA applications. Scheduler, GC, cluster and application
 * controllers run together over a real API, as `krake controller all` does.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { eventually } from "../support/api.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import { startKubeApiServer, type KubeApiServer } from "../support/kube-apiserver.js";
import { startFakeKubelet, type FakeKubelet } from "../support/kubelet.js";
import { KubeClient } from "../../src/kube/client.js";
import { nodeHttp, type HttpSend } from "../../src/util/http.js";
import { connectionOf } from "../../src/kube/kubeconfig.js";
import { Application, Cluster } from "../../src/resources/registry.js";
import { echoDemo } from "../support/fixtures.js";

const NS = "system:admin";
const skip = process.env.KRAKE_SKIP_KUBE === "1" && "KRAKE_SKIP_KUBE=1: no real Kubernetes API server";

let kubeA: KubeApiServer;
let kubeB: KubeApiServer;
let k8sA: KubeClient;
let k8sB: KubeClient;
let kubelets: FakeKubelet[] = [];
let cp: ControlPlane;
/** Kubernetes calls to fail on purpose, by method: the next `n` get this status. */
const inject = { method: "", status: 0, left: 0, seen: 0 };

/** The controllers' HTTP to the clusters, with failures injected on demand. */
function flakyClient(kubeconfig: Record<string, unknown>): KubeClient {
  const connection = connectionOf(kubeconfig);
  const real = nodeHttp({
    ca: connection.ca,
    cert: connection.cert,
    key: connection.key,
    rejectUnauthorized: !connection.insecure,
  });
  const send: HttpSend = async (url, init) => {
    if (inject.left > 0 && init.method === inject.method) {
      inject.left--;
      inject.seen++;
      const body = JSON.stringify({
        kind: "Status",
        apiVersion: "v1",
        status: "Failure",
        reason: inject.status === 409 ? "Conflict" : "InternalError",
        code: inject.status,
        message: "injected by the test",
      });
      return {
        status: inject.status,
        statusText: "injected",
        ok: false,
        header: () => "application/json",
        text: async () => body,
        async *chunks() {
          yield Buffer.from(body);
        },
      } as any;
    }
    return real(url, init);
  };
  return new KubeClient(connection, { http: send, timeoutMs: 5_000 });
}

before(async () => {
  if (skip) return;
  [kubeA, kubeB] = await Promise.all([
    startKubeApiServer({ controllerManager: true }),
    startKubeApiServer({ controllerManager: true }),
  ]);
  k8sA = KubeClient.fromKubeconfig(kubeA.kubeconfig as any);
  k8sB = KubeClient.fromKubeconfig(kubeB.kubeconfig as any);
  kubelets = await Promise.all([startFakeKubelet(k8sA), startFakeKubelet(k8sB)]);
  cp = await startControlPlane(["scheduler", "gc", "cluster", "application"], {
    cluster: { observeIntervalMs: 200 },
    application: {
      observeIntervalMs: 200,
      maxBackoffMs: 500,
      migrationTimeoutMs: 20_000,
      clientFor: flakyClient,
    },
  });
  await register("cluster-a", kubeA, "A");
  await register("cluster-b", kubeB, "B");
  await waitCluster("cluster-a", (c) => c.status.state === "ONLINE");
  await waitCluster("cluster-b", (c) => c.status.state === "ONLINE");
});
after(async () => {
  await cp?.close();
  await Promise.all(kubelets.map((k) => k.stop()));
  await Promise.all([kubeA?.close(), kubeB?.close()]);
});

const apps = () => cp.api.client.kind(Application) as any;
const clusters = () => cp.api.client.kind(Cluster) as any;

function register(name: string, kube: KubeApiServer, location: string) {
  return clusters().create(
    {
      metadata: { name, labels: { location } },
      spec: { kubeconfig: kube.kubeconfig, constraints: { cloud: {} } },
    },
    NS,
  );
}

const waitCluster = (name: string, test: (c: any) => boolean, ms = 20_000) =>
  eventually(
    async () => {
      const c = await clusters().get(name, NS);
      return test(c) ? c : null;
    },
    ms,
    `cluster ${name}`,
  );

const waitApp = (name: string, what: string, test: (a: any) => boolean, ms = 30_000) =>
  eventually(
    async () => {
      const a = await apps().get(name, NS);
      return test(a) ? a : null;
    },
    ms,
    `${name}: ${what}`,
  );

const appGone = (name: string, ms = 30_000) =>
  eventually(
    async () => {
      try {
        await apps().get(name, NS);
        return false;
      } catch (err: any) {
        return err.status === 404;
      }
    },
    ms,
    `${name} deleted`,
  );

/** Written with `cpu: "0.1"`, which the server turns into "100m": that must not count as drift. */
const echo = (name: string, replicas = 1, nodePort?: number) =>
  echoDemo(name, { replicas, nodePort, cpu: "0.1" });

function createApp(name: string, manifest: unknown[], spec: Record<string, unknown> = {}, location = "A") {
  return apps().create(
    {
      metadata: { name },
      spec: { manifest, constraints: { cluster: { labels: [`location is ${location}`] } }, ...spec },
    },
    NS,
  );
}

const deploymentOf = (k8s: KubeClient, name: string) =>
  k8s.get<any>({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name, namespace: "default" } });

describe("application controller against real kube-apiservers", { skip }, () => {
  it("deploys echo-demo, reports services and health, applies an update, repairs drift", async () => {
    await createApp("echo-demo", echo("echo-demo"));
    const running = await waitApp(
      "echo-demo",
      "RUNNING with 1 ready pod",
      (a) => a.status.state === "RUNNING" && a.status.container_health.running_pods === 1,
    );
    assert.equal(running.status.running_on.name, "cluster-a");
    assert.ok(running.metadata.finalizers.includes("kubernetes_resources_deletion"));
    const service = await k8sA.get<any>({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "echo-demo" },
    });
    assert.equal(running.status.services["echo-demo"], `127.0.0.1:${service.spec.ports[0].nodePort}`);
    assert.equal(running.status.last_applied_manifest.length, 2);
    assert.equal(running.status.last_observed_manifest.length, 2);
    const managers = (await deploymentOf(k8sA, "echo-demo")).metadata.managedFields.map(
      (m: any) => m.manager,
    );
    assert.ok(managers.includes("krake"), `field managers: ${managers}`);

    // Update: two replicas.
    const app = await apps().get("echo-demo", NS);
    app.spec.manifest = echo("echo-demo", 2);
    await apps().update(app);
    await waitApp(
      "echo-demo",
      "2/2 pods",
      (a) => a.status.container_health.desired_pods === 2 && a.status.container_health.running_pods === 2,
    );
    assert.equal((await deploymentOf(k8sA, "echo-demo")).spec.replicas, 2);

    // Drift on an observed field is reverted; a field Krake does not observe is left alone.
    await k8sA.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/echo-demo", {
      contentType: "application/merge-patch+json",
      body: { metadata: { labels: { team: "ops" } }, spec: { replicas: 5 } },
    });
    await eventually(
      async () => (await deploymentOf(k8sA, "echo-demo"))?.spec.replicas === 2,
      10_000,
      "replicas reverted",
    );
    assert.equal((await deploymentOf(k8sA, "echo-demo")).metadata.labels.team, "ops");

    // A deleted object is recreated.
    await k8sA.delete({ apiVersion: "v1", kind: "Service", metadata: { name: "echo-demo" } });
    await eventually(
      () => k8sA.get({ apiVersion: "v1", kind: "Service", metadata: { name: "echo-demo" } }),
      10_000,
      "service recreated",
    );
  });

  it("migrates to the other cluster: the new copy is healthy before the old one goes", async () => {
    const app = await apps().get("echo-demo", NS);
    // Hold the pods on B for a moment: the old copy must stay while the new one is not ready.
    kubelets[1]!.hold(() => true);
    app.spec.constraints.cluster.labels = ["location is B"];
    await apps().update(app);
    await waitApp("echo-demo", "MIGRATING", (a) => a.status.state === "MIGRATING");
    await eventually(() => deploymentOf(k8sB, "echo-demo"), 10_000, "deployment on B");
    assert.ok(await deploymentOf(k8sA, "echo-demo"), "the old copy stays until the new one is healthy");
    kubelets[1]!.hold(() => false);
    const moved = await waitApp(
      "echo-demo",
      "RUNNING on B",
      (a) => a.status.state === "RUNNING" && a.status.running_on?.name === "cluster-b",
    );
    assert.equal(await deploymentOf(k8sA, "echo-demo"), null);
    assert.equal(moved.status.container_health.running_pods, 2);
    assert.deepEqual(
      moved.metadata.owners.map((o: any) => o.name),
      ["cluster-b"],
    );
  });

  it("deletes the app and its objects", async () => {
    await apps().delete("echo-demo", NS);
    await appGone("echo-demo");
    assert.equal(await deploymentOf(k8sB, "echo-demo"), null);
    assert.equal(
      await k8sB.get({ apiVersion: "v1", kind: "Service", metadata: { name: "echo-demo" } }),
      null,
    );
  });

  it("transient Kubernetes errors are retried with the reason shown, never FAILED", async () => {
    Object.assign(inject, { method: "PATCH", status: 500, left: 3, seen: 0 });
    await createApp("flaky", echo("flaky"));
    await waitApp("flaky", "RUNNING", (a) => a.status.state === "RUNNING" && a.status.reason === null);
    assert.equal(inject.seen, 3);
    Object.assign(inject, { method: "PATCH", status: 409, left: 2, seen: 0 });
    const app = await apps().get("flaky", NS);
    app.spec.manifest = echo("flaky", 2);
    await apps().update(app);
    await waitApp("flaky", "2 pods", (a) => a.status.container_health.running_pods === 2);
    assert.equal(inject.seen, 2);
    await apps().delete("flaky", NS);
    await appGone("flaky");
  });

  it("an unreachable cluster keeps the app with the reason shown; a change it blocks fails after backoff_limit", async () => {
    await clusters().create(
      {
        metadata: { name: "cluster-x", labels: { location: "X" } },
        spec: { kubeconfig: kubeA.kubeconfig, constraints: { cloud: {} } },
      },
      NS,
    );
    await waitCluster("cluster-x", (c) => c.status.state === "ONLINE");
    // Pinned, so that the scheduler keeps it on cluster-x while that cluster is down.
    await createApp("stranded", echo("stranded"), {
      backoff_limit: 2,
      backoff_delay: 1,
      constraints: { cluster: { labels: ["location is X"] }, migration: false },
    });
    await waitApp(
      "stranded",
      "RUNNING",
      (a) => a.status.state === "RUNNING" && a.status.running_on?.name === "cluster-x",
    );
    const cluster = await clusters().get("cluster-x", NS);
    cluster.spec.kubeconfig = structuredClone(kubeA.kubeconfig);
    cluster.spec.kubeconfig.clusters[0].cluster.server = "https://127.0.0.1:1";
    await clusters().update(cluster);
    const waiting = await waitApp(
      "stranded",
      "the reason",
      (a) => a.status.reason?.code === "CLUSTER_NOT_REACHABLE",
    );
    assert.equal(waiting.status.state, "RUNNING", "observing an unreachable cluster never fails the app");
    assert.match(waiting.status.reason.message, /127\.0\.0\.1:1/);
    const app = await apps().get("stranded", NS);
    app.spec.manifest = echo("stranded", 2);
    await apps().update(app);
    const failed = await waitApp("stranded", "FAILED", (a) => a.status.state === "FAILED");
    assert.equal(failed.status.reason.code, "CLUSTER_NOT_REACHABLE");
    await apps().delete("stranded", NS, { force: true });
    await clusters().delete("cluster-x", NS, { force: true });
  });

  it("a kind the cluster does not serve fails the app; fixing the manifest brings it back", async () => {
    const bad = [{ apiVersion: "example.org/v1", kind: "Frobnicator", metadata: { name: "f" }, spec: {} }];
    await createApp("frob", bad);
    const failed = await waitApp("frob", "FAILED", (a) => a.status.state === "FAILED");
    assert.equal(failed.status.reason.code, "UNSUPPORTED_RESOURCE");
    const app = await apps().get("frob", NS);
    app.spec.manifest = echo("frob");
    await apps().update(app);
    await waitApp("frob", "RUNNING", (a) => a.status.state === "RUNNING");
    await apps().delete("frob", NS);
    await appGone("frob");
  });

  it("complete hook: the workload's PUT {token} deletes the app and its objects", async () => {
    await createApp("batch", echo("batch"), { hooks: ["complete"] });
    const running = await waitApp("batch", "RUNNING", (a) => a.status.state === "RUNNING");
    const deployment = await deploymentOf(k8sA, "batch");
    const env = deployment.spec.template.spec.containers[0].env;
    assert.deepEqual(
      env.map((e: any) => [e.name, e.valueFrom.secretKeyRef.name]),
      [
        ["KRAKE_COMPLETE_TOKEN", "batch-krake-complete-secret-token"],
        ["KRAKE_COMPLETE_URL", "batch-krake-complete-secret-token"],
      ],
    );
    // The workload reads what Kubernetes gives it from the Secret and calls back.
    const secret = await k8sA.get<any>({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "batch-krake-complete-secret-token" },
    });
    const token = Buffer.from(secret.data.krake_complete_token, "base64").toString();
    const url = Buffer.from(secret.data.krake_complete_url, "base64").toString();
    assert.equal(token, running.status.complete_token);
    assert.equal(
      url,
      `${cp.api.url}/kubernetes/namespaces/${encodeURIComponent(NS)}/applications/batch/complete`,
    );
    const wrong = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({ token: "nope" }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(wrong.status, 401);
    const res = await fetch(url, {
      method: "PUT",
      body: JSON.stringify({ token }),
      headers: { "content-type": "application/json" },
    });
    assert.equal(res.status, 200, await res.text());
    await appGone("batch");
    assert.equal(await deploymentOf(k8sA, "batch"), null);
  });

  it("shutdown hook: deleting calls the workload, which acknowledges; then the app goes", async () => {
    const { server, port, calls } = await workloadOnFreeNodePort(async () => {
      const secret = await k8sA.get<any>({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "graceful-krake-shutdown-secret-token" },
      });
      const token = Buffer.from(secret.data.krake_shutdown_token, "base64").toString();
      const url = Buffer.from(secret.data.krake_shutdown_url, "base64").toString();
      await fetch(url, {
        method: "PUT",
        body: JSON.stringify({ token }),
        headers: { "content-type": "application/json" },
      });
    });
    try {
      const manifest = [
        ...echo("graceful"),
        ...echo("shutdown", 1, port).filter((o) => o.kind === "Service"),
      ];
      await createApp("graceful", manifest, { hooks: ["shutdown"], shutdown_grace_time: 20 });
      const running = await waitApp("graceful", "RUNNING", (a) => a.status.state === "RUNNING");
      assert.equal(running.status.services.shutdown, `127.0.0.1:${port}`);
      await apps().delete("graceful", NS);
      await appGone("graceful", 15_000);
      assert.equal(calls.length, 1);
      assert.equal(calls[0], "PUT /shutdown");
      assert.equal(await deploymentOf(k8sA, "graceful"), null);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("shutdown hook never acknowledged: give_up leaves it DEGRADED with the reason, delete goes on", async () => {
    await createApp("stubborn", echo("stubborn"), {
      hooks: ["shutdown"],
      shutdown_grace_time: 1,
      shutdown_failure_strategy: "give_up",
    });
    await waitApp("stubborn", "RUNNING", (a) => a.status.state === "RUNNING");
    await apps().delete("stubborn", NS);
    const degraded = await waitApp("stubborn", "DEGRADED", (a) => a.status.state === "DEGRADED");
    assert.match(degraded.status.reason.message, /shutdown hook was not acknowledged/);
    assert.ok(await deploymentOf(k8sA, "stubborn"), "give_up keeps the workload");

    await createApp("hasty", echo("hasty"), { hooks: ["shutdown"], shutdown_grace_time: 1 });
    await waitApp("hasty", "RUNNING", (a) => a.status.state === "RUNNING");
    await apps().delete("hasty", NS);
    await appGone("hasty", 15_000);
    assert.equal(await deploymentOf(k8sA, "hasty"), null);
    await apps().delete("stubborn", NS, { force: true });
  });

  it("a TOSCA application is translated into its manifest and deployed", async () => {
    const tosca = {
      tosca_definitions_version: "tosca_simple_yaml_1_0",
      topology_template: {
        inputs: { replicas: { type: "integer", default: 1 } },
        node_templates: {
          "tosca-demo": {
            type: "tosca.nodes.indigo.KubernetesObject",
            properties: { spec: echo("tosca-demo")[0] },
          },
        },
      },
    };
    await apps().create(
      {
        metadata: { name: "tosca-demo" },
        spec: { manifest: [], tosca, constraints: { cluster: { labels: ["location is A"] } } },
      },
      NS,
    );
    const running = await waitApp("tosca-demo", "RUNNING", (a) => a.status.state === "RUNNING");
    assert.equal(running.spec.manifest[0].kind, "Deployment");
    assert.ok(await deploymentOf(k8sA, "tosca-demo"));
    await apps().delete("tosca-demo", NS);
    await appGone("tosca-demo");
  });

  it("deleting its cluster moves the app elsewhere; with no place left it is released and waits", async () => {
    await createApp("nomad", echo("nomad"), {
      constraints: { cluster: { labels: ["location in (A, B)"] } },
    });
    const first = await waitApp("nomad", "RUNNING", (a) => a.status.state === "RUNNING");
    const from = first.status.running_on.name as string;
    const to = from === "cluster-a" ? "cluster-b" : "cluster-a";
    const k8sFrom = from === "cluster-a" ? k8sA : k8sB;
    const k8sTo = from === "cluster-a" ? k8sB : k8sA;
    await clusters().delete(from, NS);
    const moved = await waitApp(
      "nomad",
      `RUNNING on ${to}`,
      (a) => a.status.state === "RUNNING" && a.status.running_on?.name === to,
    );
    assert.deepEqual(
      moved.metadata.owners.map((o: any) => o.name),
      [to],
    );
    await eventually(
      async () => {
        try {
          await clusters().get(from, NS);
          return false;
        } catch (err: any) {
          return err.status === 404;
        }
      },
      15_000,
      `${from} deleted`,
    );
    assert.equal(await deploymentOf(k8sFrom, "nomad"), null, "the old copy is removed");
    assert.ok(await deploymentOf(k8sTo, "nomad"));

    // The last cluster goes too: nowhere to move; the app lets go of it and waits for a place.
    await clusters().delete(to, NS);
    const waiting = await waitApp(
      "nomad",
      "released",
      (a) => a.status.running_on === null && a.status.scheduled_to === null,
    );
    assert.equal(waiting.status.state, "DEGRADED");
    assert.equal(waiting.status.reason.code, "NO_SUITABLE_RESOURCE");
    await eventually(
      async () => {
        try {
          await clusters().get(to, NS);
          return false;
        } catch (err: any) {
          return err.status === 404;
        }
      },
      15_000,
      `${to} deleted`,
    );
    assert.equal(await deploymentOf(k8sTo, "nomad"), null);

    // A cluster comes back: the app is placed there.
    await register("cluster-a", kubeA, "A");
    await waitApp(
      "nomad",
      "RUNNING again",
      (a) => a.status.state === "RUNNING" && a.status.running_on?.name === "cluster-a",
      40_000,
    );
    assert.ok(await deploymentOf(k8sA, "nomad"));
  });
});

/** An HTTP server on a port inside the NodePort range, playing the workload behind a `shutdown` Service. */
async function workloadOnFreeNodePort(
  onShutdown: () => Promise<void>,
): Promise<{ server: Server; port: number; calls: string[] }> {
  const calls: string[] = [];
  const server = createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    res.end("bye");
    void onShutdown().catch(() => undefined);
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 30000 + Math.floor(Math.random() * 2767);
    const ok = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (ok) return { server, port, calls };
  }
  throw new Error("no free port in the NodePort range");
}
