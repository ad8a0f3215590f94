/**
 * What only the simulator does, seen through KubeClient as the controllers see it: pods that run, node
 * capacity and conditions, load balancers, unreachable clusters and injected failures. What both the
 * simulator and the real kube-apiserver do is in conformance.ts.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KubeApiError, KubeClient, KubeUnreachableError } from "../../src/kube/client.js";
import { startKubeSimulator, type KubeSimulator } from "../../src/sandbox/kube/simulator.js";
import { until } from "./conformance.js";

let sim: KubeSimulator;

before(async () => {
  sim = await startKubeSimulator({ clusterDefaults: { nodes: 2, nodeCpu: "2", nodeMemory: "4Gi" } });
});
after(() => sim?.close());

const client = (name: string, opts = {}) => {
  const cluster = sim.addCluster(name, opts);
  return {
    cluster,
    k: KubeClient.fromKubeconfig(cluster.kubeconfig as unknown as Record<string, unknown>, {
      timeoutMs: 3_000,
    }),
  };
};

const app = (name: string, replicas: number, cpu = "100m") => [
  {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: "echo",
              image: "k8s.gcr.io/echoserver:1.10",
              ports: [{ containerPort: 8080, protocol: "TCP" }],
              resources: { requests: { cpu, memory: "64Mi" } },
            },
          ],
        },
      },
    },
  },
  {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 8080, protocol: "TCP" }] },
  },
];

describe("the simulator as the controllers see it", () => {
  it("runs an application: ready replicas, running pods, node port and load balancer ingress; deletes it", async () => {
    const { k } = client("apps", { podStartDelayMs: 50 });
    const [deployment, service] = app("echo", 2);
    await k.apply(deployment);
    await k.apply(service);
    const ready = await until("both replicas ready", async () => {
      const d = await k.get<any>(deployment);
      return d.status?.readyReplicas === 2 ? d : undefined;
    });
    assert.equal(ready.status.availableReplicas, 2);
    assert.equal(ready.status.updatedReplicas, 2);
    const pods = await k.list<any>("v1", "Pod", "default");
    assert.equal(pods.length, 2);
    for (const p of pods) {
      assert.equal(p.status.phase, "Running");
      assert.equal(p.status.containerStatuses[0].ready, true);
      assert.ok(p.status.containerStatuses[0].state.running);
      assert.ok(["node-1", "node-2"].includes(p.spec.nodeName));
    }
    const svc = await until("the load balancer's address", async () => {
      const s = await k.get<any>(service);
      return s.status.loadBalancer.ingress?.length ? s : undefined;
    });
    assert.ok(svc.spec.ports[0].nodePort >= 30000 && svc.spec.ports[0].nodePort <= 32767);
    assert.match(svc.status.loadBalancer.ingress[0].ip, /^\d+\.\d+\.\d+\.\d+$/);

    assert.equal(await k.delete(deployment), true);
    assert.equal(await k.delete(service), true);
    await until("the pods to go", async () =>
      (await k.list("v1", "Pod", "default")).length === 0 ? true : undefined,
    );
    assert.equal(await k.get(deployment), null);
  });

  it("keeps pods that do not fit Pending and Unschedulable, and reports node conditions", async () => {
    const { cluster, k } = client("capacity");
    const [deployment] = app("hungry", 3, "1500m");
    await k.apply(deployment);
    const pending = await until("an unschedulable pod", async () => {
      const pods = await k.list<any>("v1", "Pod", "default");
      return pods.find((p) => p.status.conditions?.some((c: any) => c.reason === "Unschedulable"));
    });
    assert.equal(pending.status.phase, "Pending");
    assert.equal(
      pending.status.conditions.find((c: any) => c.type === "PodScheduled").message,
      "0/2 nodes are available: 2 Insufficient cpu.",
    );
    const d = await until("the deployment to report 2 of 3 ready", async () => {
      const cur = await k.get<any>(deployment);
      return cur.status?.readyReplicas === 2 ? cur : undefined;
    });
    assert.equal(d.status.conditions.find((c: any) => c.type === "Available").status, "False");

    // The cluster controller's view: nodes and their conditions.
    cluster.setNodeCondition("node-2", "DiskPressure", "True");
    const nodes = await k.request<{ items: any[] }>("GET", "/api/v1/nodes");
    assert.deepEqual(
      nodes.items.map(
        (n) => `${n.metadata.name} ${n.status.conditions.map((c: any) => `${c.type}=${c.status}`).join(",")}`,
      ),
      [
        "node-1 MemoryPressure=False,DiskPressure=False,PIDPressure=False,Ready=True",
        "node-2 MemoryPressure=False,DiskPressure=True,PIDPressure=False,Ready=True",
      ],
    );
    assert.equal(nodes.items[0].status.allocatable.cpu, "2");
    assert.equal(nodes.items[0].status.nodeInfo.kubeletVersion, "v1.20.2");

    cluster.setNodeCapacity("node-1", { cpu: "4" });
    await until("the third replica to run", async () =>
      (await k.get<any>(deployment)).status?.readyReplicas === 3 ? true : undefined,
    );
  });

  it("fails like an unreachable cluster, and injects API errors the controllers retry on", async () => {
    const { cluster, k } = client("flaky");
    const [deployment] = app("x", 1);
    await k.apply(deployment);
    cluster.setReachable(false);
    await assert.rejects(k.get(deployment), KubeUnreachableError);
    await assert.rejects(k.apply(deployment), KubeUnreachableError);
    cluster.setReachable(true);
    assert.ok(await k.get(deployment));

    cluster.failNext(1, 500);
    await assert.rejects(
      k.get(deployment),
      (err: unknown) => err instanceof KubeApiError && err.status === 500 && err.transient,
    );
    cluster.failNext(1, 429);
    await assert.rejects(
      k.apply(deployment),
      (err: unknown) => err instanceof KubeApiError && err.reason === "TooManyRequests" && err.transient,
    );
    assert.ok(await k.apply(deployment));
  });
});
