/**
 * Goal 1 of docs/autoscaling.md end to end: the scheduler's capacity model and the clusters it creates from
 * templates for applications that fit nowhere, with the real API, every other controller in this process and
 * the sandbox (the IM simulator builds clusters that the Kubernetes simulator then runs, one node per VM).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parse } from "yaml";
import { eventually } from "../support/api.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import { echoDemo, seedImCloud } from "../support/fixtures.js";
import { startControllers, type RunningControllers } from "../../src/controller/process.js";
import { MetricsRegistry } from "../../src/controller/metrics.js";
import { controllerFactory, type ControllerSettings } from "../../src/controllers/index.js";
import { clusterFromTemplate } from "../../src/controllers/scheduler/templates.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/sandbox.js";
import { Application, Cluster, ClusterTemplate } from "../../src/resources/registry.js";
import type { Resource } from "../../src/resources/kind.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));
const imCluster = () => parse(readFileSync(EXAMPLES + "im-cluster.yaml", "utf8"));

const settings: ControllerSettings = {
  infrastructure: { pollMinMs: 50, pollMaxMs: 200, providerTimeoutMs: 5_000 },
  cluster: { observeIntervalMs: 200 },
  application: { observeIntervalMs: 200, maxBackoffMs: 500 },
};

let sb: Sandbox;
let cp: ControlPlane;
let scheduler: RunningControllers | null = null;
const metrics = new MetricsRegistry();

/** The scheduler runs on its own, so a test can stop it halfway (as a crash would) and start a fresh one. */
async function startScheduler(): Promise<void> {
  scheduler = await startControllers({
    client: cp.api.client,
    log: pino({ level: process.env.KRAKE_TEST_LOG ?? "silent" }),
    controllers: [{ name: "scheduler", create: controllerFactory("scheduler", settings) }],
    leaderElection: false,
    metricsAddress: null,
    metrics,
  });
}
async function stopScheduler(): Promise<void> {
  await scheduler?.stop();
  scheduler = null;
}

before(async () => {
  sb = await startSandbox({
    imPort: 0,
    delays: { create: 50, pending: 100, running: 50, configure: 300, add: 50, delete: 50 },
    podStartDelayMs: 50,
  });
  cp = await startControlPlane(["gc", "infrastructure", "cluster", "application"], settings);
  await seedImCloud(cp.api.client, sb.imUrl);
  await startScheduler();
});
after(async () => {
  await stopScheduler();
  await cp?.close();
  await sb?.close();
});

const k = <D>(def: D) => cp.api.client.kind(def as any) as any;

/** A namespaced template: 2 workers of 2 CPUs and 4 GiB each (exact sizes: predictions match the nodes). */
function template(ns: string, name: string, spec: Record<string, unknown> = {}) {
  return k(ClusterTemplate).create(
    {
      metadata: { name },
      spec: {
        tosca: imCluster(),
        inputs: { wn_mem: "4 GiB" },
        workers: { initial: 2 },
        clusters: { min: 0, max: 5 },
        ...spec,
      },
    },
    ns,
  );
}

function createApp(
  ns: string,
  name: string,
  cpu: string,
  replicas: number,
  extra: Record<string, unknown> = {},
) {
  return k(Application).create(
    {
      metadata: { name },
      spec: {
        manifest: echoDemo(name, { replicas, cpu }),
        constraints: { cluster: {} },
        auto_cluster_create: true,
        ...extra,
      },
    },
    ns,
  );
}

const getApp = (ns: string, name: string) => k(Application).get(name, ns);
const waitApp = (ns: string, name: string, what: string, test: (a: any) => boolean, ms = 60_000) =>
  eventually(
    async () => {
      const a = await getApp(ns, name);
      return test(a) ? a : null;
    },
    ms,
    `${ns}/${name}: ${what}`,
  );
const running = (a: any) => a.status.state === "RUNNING" && a.status.scheduled_to !== null;

/** The clusters of the namespace made from templates. */
async function autoClusters(ns: string): Promise<Resource[]> {
  const list = await k(Cluster).list(ns);
  return list.items.filter((c: Resource) => c.spec.template);
}

const metric = (name: string, template: string) => {
  const line = metrics
    .render()
    .split("\n")
    .find((l) => l.startsWith(`${name}{template="${template}"} `));
  return line ? Number(line.split(" ").pop()) : 0;
};

/** A registered cluster in the Kubernetes simulator with one 1-CPU node. */
async function registeredSmallCluster(ns: string, name: string) {
  const sim = sb.kube.addCluster(`${ns}-${name}`, { nodes: 0, podStartDelayMs: 50 });
  sim.addNode("small-node", { cpu: "1", memory: "2Gi" });
  await k(Cluster).create(
    { metadata: { name }, spec: { kubeconfig: sim.kubeconfig, constraints: { cloud: {} } } },
    ns,
  );
  return eventually(
    async () => {
      const c = await k(Cluster).get(name, ns);
      return c.status.state === "ONLINE" && c.status.capacity ? c : null;
    },
    20_000,
    `${name} ONLINE with its capacity`,
  );
}

describe("capacity-aware placement and clusters from templates", () => {
  it("an app too large for every cluster is excluded for room, then gets exactly one new cluster and runs there", async () => {
    const ns = "grow";
    await registeredSmallCluster(ns, "existing");
    await template(ns, "small", { labels: { tier: "burst" } });

    // Without auto_cluster_create: no room anywhere, and the reason says how much is free.
    await createApp(ns, "big", "1", 3, { auto_cluster_create: false });
    const degraded = await waitApp(ns, "big", "DEGRADED", (a) => a.status.state === "DEGRADED");
    assert.equal(degraded.status.reason.code, "NO_SUITABLE_RESOURCE");
    assert.match(
      degraded.status.reason.message,
      /existing: not enough room: needs cpu 3, memory 48Mi, 3 pods; free cpu 1, memory 2Gi, 110 pods/,
    );
    assert.equal((await autoClusters(ns)).length, 0);

    // Allowed to: one cluster from the template; the app waits for it, then runs on it.
    degraded.spec.auto_cluster_create = true;
    await k(Application).update(degraded);
    const waiting = await waitApp(
      ns,
      "big",
      "waiting",
      (a) => a.status.state === "WAITING_FOR_CLUSTER_CREATION",
    );
    const name: string = waiting.status.auto_cluster_create_started;
    assert.match(name, /^small-[a-z]{5}$/);
    assert.equal(waiting.status.reason.code, "NO_SUITABLE_RESOURCE");
    assert.match(
      waiting.status.reason.message,
      new RegExp(`cluster '${name}', being created from ClusterTemplate 'small'`),
    );

    const placed = await waitApp(ns, "big", "RUNNING", running);
    assert.equal(placed.status.scheduled_to.name, name);
    assert.equal(placed.status.auto_cluster_create_started, null);
    assert.equal(placed.status.reason, null);

    const clusters = await autoClusters(ns);
    assert.deepEqual(
      clusters.map((c) => c.metadata.name),
      [name],
      "exactly one cluster",
    );
    const [c] = clusters;
    assert.equal(c.spec.auto_generated, true);
    assert.deepEqual(c.spec.template, {
      api: "kubernetes",
      kind: "ClusterTemplate",
      name: "small",
      namespace: ns,
    });
    assert.deepEqual(c.metadata.labels, { tier: "burst" });
    assert.equal(c.spec.tosca.topology_template.inputs.wn_num.default, 2);
    assert.equal(c.status.scheduled_to.name, "os-cloud");
    assert.deepEqual(
      c.metadata.owners.map((o: any) => o.name),
      ["os-cloud"],
    );
    assert.equal(c.status.capacity.allocatable.cpu_millis, 4000, "two workers of 2 CPUs");
    const created = c.status.events.find((e: any) => e.reason === "Created");
    assert.equal(created.source, "scheduler");
    assert.match(
      created.message,
      /from ClusterTemplate 'small' on GlobalCloud 'os-cloud' for application 'big'/,
    );
    assert.equal(metric("krake_scheduler_clusters_created_total", "grow/small"), 1);
  });

  it("ten apps at once fill each new cluster before the next: ceil(total / cluster capacity) clusters, not ten", async () => {
    const ns = "burst";
    await template(ns, "pool");
    // 10 × 1 CPU on clusters of 2 × 2 CPUs: 3 clusters.
    await Promise.all(Array.from({ length: 10 }, (_, i) => createApp(ns, `app-${i}`, "1", 1)));
    const apps = await Promise.all(
      Array.from({ length: 10 }, (_, i) => waitApp(ns, `app-${i}`, "RUNNING", running, 90_000)),
    );
    const clusters = await autoClusters(ns);
    assert.equal(clusters.length, 3);
    assert.equal(metric("krake_scheduler_clusters_created_total", "burst/pool"), 3);
    const perCluster = new Map<string, number>();
    for (const a of apps)
      perCluster.set(a.status.scheduled_to.name, (perCluster.get(a.status.scheduled_to.name) ?? 0) + 1);
    for (const [cluster, n] of perCluster) assert.ok(n <= 4, `${cluster} holds ${n} apps of 1 CPU in 4 CPUs`);
  });

  it("an app no template can serve gets NO_SUITABLE_RESOURCE with a line per template, and no cluster", async () => {
    const ns = "nomatch";
    await template(ns, "alpha", { labels: { tier: "a" } });
    await template(ns, "beta", { labels: { tier: "b" } });
    // Room enough in total (2 × 2 CPUs), but no worker holds a pod of 3 CPUs.
    await template(ns, "narrow", { labels: { tier: "c" } });
    await createApp(ns, "picky", "3", 1, { constraints: { cluster: { labels: ["tier=c"] } } });
    const degraded = await waitApp(ns, "picky", "DEGRADED", (a) => a.status.state === "DEGRADED", 20_000);
    assert.equal(degraded.status.reason.code, "NO_SUITABLE_RESOURCE");
    const lines = degraded.status.reason.message.split("\n");
    assert.match(lines[0], /no cluster in namespace 'nomatch'/);
    assert.equal(lines[1], "no cluster template fits:");
    assert.equal(
      lines[2],
      "- ClusterTemplate 'alpha': no cloud fits: GlobalCloud os-cloud: a cluster there: label constraint 'tier=c' not met (tier: 'a')",
    );
    assert.match(lines[3], /^- ClusterTemplate 'beta': .*label constraint 'tier=c' not met \(tier: 'b'\)$/);
    assert.match(
      lines[4],
      /^- ClusterTemplate 'narrow': a new cluster: a pod needs cpu 3, .*; the largest worker has cpu 2, memory 4Gi$/,
    );
    assert.equal(degraded.status.auto_cluster_create_started, null);
    assert.equal((await autoClusters(ns)).length, 0);
  });

  it("emptied auto-created clusters are deleted after their retention, never below clusters.min", async () => {
    const ns = "retire";
    await template(ns, "short", { retention: 1, clusters: { min: 1, max: 3 } });
    // 3 CPUs each: one app per cluster of 4 CPUs.
    await createApp(ns, "first", "1", 3);
    await createApp(ns, "second", "1", 3);
    const [a, b] = await Promise.all([
      waitApp(ns, "first", "RUNNING", running, 90_000),
      waitApp(ns, "second", "RUNNING", running, 90_000),
    ]);
    assert.notEqual(a.status.scheduled_to.name, b.status.scheduled_to.name);
    assert.equal((await autoClusters(ns)).length, 2);

    await k(Application).delete("first", ns);
    await k(Application).delete("second", ns);
    const left = await eventually(
      async () => {
        const all = await autoClusters(ns);
        return all.length === 1 ? all[0] : null;
      },
      60_000,
      "one of the two clusters retired",
    );
    assert.equal(metric("krake_scheduler_clusters_retired_total", "retire/short"), 1);
    // The other one is kept however long it stays idle: clusters.min is 1.
    const idle = await eventually(
      async () =>
        (await k(Cluster).get(left.metadata.name, ns)).status.events.find((e: any) => e.reason === "Idle"),
      10_000,
      "the Idle event",
    );
    assert.match(
      idle.message,
      /deleted after 1 s unless one arrives \(at least 1 cluster\(s\) of ClusterTemplate 'short' are kept\)/,
    );
    await eventually(() => Date.now() > Date.parse(idle.time) + 3_000, 10_000, "three retention periods");
    const kept = await k(Cluster).get(left.metadata.name, ns);
    assert.equal(kept.metadata.deleted, null);
    assert.equal(metric("krake_scheduler_clusters_retired_total", "retire/short"), 1);
  });

  it("a new cluster nobody waits for (its creator crashed) is used instead of creating another", async () => {
    const ns = "crashed";
    const t = await template(ns, "again");
    // What a scheduler that died right after creating the cluster leaves behind: the cluster, no reservation.
    await stopScheduler();
    await k(Cluster).create(clusterFromTemplate(t, "again-zzzzz"), ns);
    await startScheduler();
    await createApp(ns, "late", "1", 3);
    const placed = await waitApp(ns, "late", "RUNNING", running, 60_000);
    assert.equal(placed.status.scheduled_to.name, "again-zzzzz");
    assert.deepEqual(
      (await autoClusters(ns)).map((c) => c.metadata.name),
      ["again-zzzzz"],
    );
  });

  it("a scheduler restart in the middle of a burst creates no extra cluster", async () => {
    const ns = "restart";
    await template(ns, "pool");
    // 8 × 1 CPU: 2 clusters of 4 CPUs.
    await Promise.all(Array.from({ length: 8 }, (_, i) => createApp(ns, `app-${i}`, "1", 1)));
    await eventually(async () => (await autoClusters(ns)).length > 0, 30_000, "the first cluster");
    await stopScheduler();
    await startScheduler();
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => waitApp(ns, `app-${i}`, "RUNNING", running, 90_000)),
    );
    assert.equal((await autoClusters(ns)).length, 2);
  });
});
