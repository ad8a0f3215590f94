/**
 * The scheduler against a real API (cli.md §4 user stories 2, 3, 7 and 8; controllers.md §2, §11).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../support/api.js";
import { freePort } from "../support/daemon.js";
import { clusterTosca, deployment, kubeconfig } from "../support/fixtures.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import {
  Application,
  Cloud,
  Cluster,
  GlobalCloud,
  GlobalMetric,
  GlobalMetricsProvider,
} from "../../src/resources/registry.js";
import type { Resource } from "../../src/resources/kind.js";

const NS = "system:admin";
let cp: ControlPlane;
before(async () => {
  // A short reschedule interval so that metric-driven migration is observable in a test.
  cp = await startControlPlane(["scheduler", "gc"], {
    scheduler: { rescheduleAfterSeconds: 1, metricsTtlMs: 0 },
  });
});
after(() => cp.close());

const k = <D>(def: D) => cp.api.client.kind(def as any) as any;

async function onlineCluster(name: string, labels: Record<string, string>, metrics: any[] = [], ns = NS) {
  await k(Cluster).create(
    { metadata: { name, labels }, spec: { kubeconfig: kubeconfig(), metrics, constraints: { cloud: {} } } },
    ns,
  );
  const o = await k(Cluster).get(name, ns);
  o.status.state = "ONLINE";
  return k(Cluster).updateStatus(o);
}

async function createApp(
  name: string,
  cluster: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  ns = NS,
) {
  return k(Application).create(
    { metadata: { name }, spec: { manifest: [deployment(name)], constraints: { cluster }, ...extra } },
    ns,
  );
}

const scheduledTo = async (name: string, ns = NS) =>
  (await k(Application).get(name, ns)).status.scheduled_to?.name ?? null;
const waitScheduledTo = (name: string, cluster: string, ns = NS, ms = 10_000) =>
  eventually(async () => (await scheduledTo(name, ns)) === cluster, ms, `${name} scheduled to ${cluster}`);

async function staticMetrics(values: { electricity_cost_1: number; green_energy_ratio_1: number }) {
  const existing = await k(GlobalMetricsProvider)
    .get("static_provider", null)
    .catch(() => null);
  if (existing) {
    existing.spec.static.metrics = values;
    return k(GlobalMetricsProvider).update(existing);
  }
  await k(GlobalMetricsProvider).create({
    metadata: { name: "static_provider" },
    spec: { type: "static", static: { metrics: values } },
  });
  for (const m of ["electricity_cost_1", "green_energy_ratio_1"]) {
    await k(GlobalMetric).create({
      metadata: { name: m },
      spec: { allowed_values: [], min: 0, max: 1, provider: { name: "static_provider", metric: m } },
    });
  }
}

const metricRefs = (cost: number, green: number) => [
  { name: "electricity_cost_1", weight: cost, namespaced: false },
  { name: "green_energy_ratio_1", weight: green, namespaced: false },
];

describe("applications → clusters", () => {
  it("story 2: label constraints place the app; changing them migrates it", async () => {
    await onlineCluster("s2-de", { location: "DE" }, [], "story2");
    await onlineCluster("s2-sk", { location: "SK" }, [], "story2");
    await createApp("echo-demo", { labels: ["location=DE"] }, {}, "story2");
    await waitScheduledTo("echo-demo", "s2-de", "story2");
    const app = await k(Application).get("echo-demo", "story2");
    assert.deepEqual(
      app.metadata.owners.map((o: any) => o.name),
      ["s2-de"],
      "the binding makes the cluster an owner",
    );
    assert.ok(app.status.kube_controller_triggered, "released to the application controller");
    app.spec.constraints.cluster.labels = ["location=SK"];
    await k(Application).update(app);
    await waitScheduledTo("echo-demo", "s2-sk", "story2");
  });

  it("story 3: the metric score decides (9.1/11 vs 1.9/11), and a metric change migrates the app", async () => {
    await staticMetrics({ electricity_cost_1: 0.9, green_energy_ratio_1: 0.1 });
    await onlineCluster("cluster-1", {}, metricRefs(10, 1), "story3");
    await onlineCluster("cluster-2", {}, metricRefs(1, 10), "story3");
    await createApp("echo-demo", {}, {}, "story3");
    await waitScheduledTo("echo-demo", "cluster-1", "story3");
    const first = await k(Application).get("echo-demo", "story3");
    await staticMetrics({ electricity_cost_1: 0.1, green_energy_ratio_1: 0.9 });
    await waitScheduledTo("echo-demo", "cluster-2", "story3");
    const second = await k(Application).get("echo-demo", "story3");
    // Migrations are at least reschedule_after (1 s here) apart.
    assert.ok(Date.parse(second.status.scheduled) - Date.parse(first.status.scheduled) >= 1000);
    await staticMetrics({ electricity_cost_1: 0.9, green_energy_ratio_1: 0.1 });
  });

  it("nothing fits: DEGRADED naming which constraint excluded which cluster; a fitting cluster ends it", async () => {
    await onlineCluster("nf-sk", { location: "SK" }, [], "nofit");
    await createApp("lonely", { labels: ["location=FR"] }, {}, "nofit");
    const degraded = await eventually(
      async () => {
        const a = await k(Application).get("lonely", "nofit");
        return a.status.state === "DEGRADED" ? a : null;
      },
      10_000,
      "DEGRADED",
    );
    assert.equal(degraded.status.reason.code, "NO_SUITABLE_RESOURCE");
    assert.match(
      degraded.status.reason.message,
      /nf-sk: label constraint 'location=FR' not met \(location: 'SK'\)/,
    );
    assert.ok(degraded.status.scheduled_retry);
    await onlineCluster("nf-fr", { location: "FR" }, [], "nofit");
    await waitScheduledTo("lonely", "nf-fr", "nofit");
    const placed = await eventually(
      async () => {
        const a = await k(Application).get("lonely", "nofit");
        return a.status.state === "PENDING" && a.status.reason === null ? a : null;
      },
      10_000,
      "the NO_SUITABLE_RESOURCE reason cleared",
    );
    assert.equal(placed.status.retries, -1);
  });

  it("backoff_limit exhausted: FAILED; clusters of other namespaces and non-ONLINE ones are never used", async () => {
    await onlineCluster("other-ns", {}, [], "elsewhere");
    await k(Cluster).create(
      { metadata: { name: "offline" }, spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} } } },
      "lonelyns",
    );
    await createApp("nowhere", {}, { backoff_limit: 1, backoff_delay: 1 }, "lonelyns");
    const failed = await eventually(
      async () => {
        const a = await k(Application).get("nowhere", "lonelyns");
        return a.status.state === "FAILED" ? a : null;
      },
      15_000,
      "FAILED after the retries",
    );
    assert.match(failed.status.reason.message, /1 cluster\(s\): not ONLINE or being deleted/);
    assert.equal(failed.status.scheduled_to, null);
  });

  it("migration disabled pins the app; custom-resource constraints filter", async () => {
    await onlineCluster("pin-a", { zone: "a" }, [], "pin");
    await createApp("pinned", { labels: ["zone=a"], custom_resources: [] }, {}, "pin");
    await waitScheduledTo("pinned", "pin-a", "pin");
    const app = await k(Application).get("pinned", "pin");
    app.spec.constraints.migration = false;
    app.spec.constraints.cluster.labels = ["zone=b"];
    await k(Application).update(app);
    await onlineCluster("pin-b", { zone: "b" }, [], "pin");
    // The edit is handed to the application controller, but the app stays.
    await eventually(
      async () => {
        const a = await k(Application).get("pinned", "pin");
        return Date.parse(a.status.kube_controller_triggered) >= Date.parse(a.metadata.modified);
      },
      10_000,
      "the handshake",
    );
    assert.equal(await scheduledTo("pinned", "pin"), "pin-a");

    const crd = await k(Cluster).create(
      {
        metadata: { name: "crd" },
        spec: { kubeconfig: kubeconfig(), custom_resources: ["x.example.com"], constraints: { cloud: {} } },
      },
      "pin",
    );
    crd.status.state = "ONLINE";
    await k(Cluster).updateStatus(crd);
    await createApp("needs-crd", { custom_resources: ["x.example.com"] }, {}, "pin");
    await waitScheduledTo("needs-crd", "crd", "pin");
  });

  it("a metrics provider that is down marks its clusters FAILING_METRICS and scheduling goes on", async () => {
    const deadPort = await freePort();
    await k(GlobalMetricsProvider).create({
      metadata: { name: "prom-down" },
      spec: { type: "prometheus", prometheus: { url: `http://127.0.0.1:${deadPort}` } },
    });
    await k(GlobalMetric).create({
      metadata: { name: "load" },
      spec: { allowed_values: [], min: 0, max: 100, provider: { name: "prom-down", metric: "node_load1" } },
    });
    await onlineCluster("down-metrics", {}, [{ name: "load", weight: 1, namespaced: false }], "down");
    await onlineCluster("no-metrics", {}, [], "down");
    await createApp("survivor", {}, {}, "down");
    await waitScheduledTo("survivor", "no-metrics", "down");
    const failing = await eventually(
      async () => {
        const c = await k(Cluster).get("down-metrics", "down");
        return c.status.state === "FAILING_METRICS" ? c : null;
      },
      10_000,
      "FAILING_METRICS",
    );
    assert.equal(failing.status.metrics_reasons.load.code, "UNREACHABLE_METRICS_PROVIDER");
    assert.match(failing.status.metrics_reasons.load.message, new RegExp(`127\\.0\\.0\\.1:${deadPort}`));

    // The provider is fixed (here: made static): the cluster recovers to ONLINE.
    const p = await k(GlobalMetricsProvider).get("prom-down", null);
    await k(GlobalMetricsProvider).update({
      ...p,
      spec: { type: "static", static: { metrics: { node_load1: 5 } } },
    });
    await eventually(
      async () => (await k(Cluster).get("down-metrics", "down")).status.state === "ONLINE",
      10_000,
      "ONLINE again",
    );
  });
});

describe("clusters → clouds", () => {
  async function cloud(
    name: string,
    labels: Record<string, string>,
    metrics: any[] = [],
    ns: string | null = NS,
  ) {
    const body = {
      metadata: { name, labels },
      spec: {
        type: "openstack",
        openstack: {
          url: "https://keystone.example:5000/v3",
          auth: {
            type: "password",
            password: { user: { username: "u", password: "p" }, project: { name: "p" } },
          },
          infrastructure_provider: { name: "im-provider", namespaced: ns !== null },
          metrics,
        },
      },
    };
    return ns === null ? k(GlobalCloud).create(body) : k(Cloud).create(body, ns);
  }
  async function toscaCluster(
    name: string,
    ns: string,
    extra: { labels?: Record<string, string>; constraints?: any; inherit?: boolean } = {},
  ) {
    return k(Cluster).create(
      {
        metadata: { name, labels: extra.labels ?? {}, inherit_labels: Boolean(extra.inherit) },
        spec: {
          tosca: clusterTosca(),
          inherit_metrics: Boolean(extra.inherit),
          constraints: { cloud: extra.constraints ?? {} },
        },
      },
      ns,
    );
  }
  const boundCloud = (name: string, ns: string) =>
    eventually(
      async () => (await k(Cluster).get(name, ns)).status.scheduled_to,
      10_000,
      `${name} bound to a cloud`,
    );

  it("story 7: a cloud label constraint picks the cloud; owners and scheduled_to are set", async () => {
    await cloud("os-cloud-1", { location: "DE" }, [], "story7");
    await cloud("os-cloud-2", { location: "SK" }, [], "story7");
    await toscaCluster("my-cluster", "story7", { constraints: { labels: ["location=SK"] } });
    const to: Resource["status"] = await boundCloud("my-cluster", "story7");
    assert.deepEqual(to, { api: "infrastructure", kind: "Cloud", namespace: "story7", name: "os-cloud-2" });
    const c = await k(Cluster).get("my-cluster", "story7");
    assert.deepEqual(
      c.metadata.owners.map((o: any) => o.name),
      ["os-cloud-2"],
    );
  });

  it("story 8: cloud metrics rank the clouds (9.1/11 vs 1.9/11)", async () => {
    await staticMetrics({ electricity_cost_1: 0.9, green_energy_ratio_1: 0.1 });
    await cloud("os-cloud-1", {}, metricRefs(1, 10), "story8");
    await cloud("os-cloud-2", {}, metricRefs(10, 1), "story8");
    await toscaCluster("my-cluster", "story8");
    assert.equal((await boundCloud("my-cluster", "story8")).name, "os-cloud-2");
  });

  it("namespaced clouds are preferred; global ones are used when none fits; registered clusters are never bound", async () => {
    await cloud("g-cloud", { location: "DE" }, [], null);
    await cloud("ns-cloud", { location: "SK" }, [], "prefer");
    await toscaCluster("any", "prefer");
    assert.equal((await boundCloud("any", "prefer")).name, "ns-cloud");
    await toscaCluster("de", "prefer", { constraints: { labels: ["location=DE"] } });
    assert.deepEqual(await boundCloud("de", "prefer"), {
      api: "infrastructure",
      kind: "GlobalCloud",
      namespace: null,
      name: "g-cloud",
    });
    await onlineCluster("registered", {}, [], "prefer");
    await eventually(async () => (await k(Cluster).get("de", "prefer")).status.scheduled_to, 5000, "sanity");
    assert.equal((await k(Cluster).get("registered", "prefer")).status.scheduled_to, null);
  });

  it("no cloud fits: the cluster stays PENDING with the reason (not FAILED) and is bound once one appears", async () => {
    await toscaCluster("waiting", "nocloud", { constraints: { labels: ["location=FR"] } });
    const pending = await eventually(
      async () => {
        const c = await k(Cluster).get("waiting", "nocloud");
        return c.status.reason ? c : null;
      },
      10_000,
      "a reason",
    );
    assert.equal(pending.status.state, "PENDING");
    assert.equal(pending.status.reason.code, "NO_SUITABLE_RESOURCE");
    assert.match(
      pending.status.reason.message,
      /GlobalCloud g-cloud: label constraint 'location=FR' not met/,
    );
    await cloud("fr-cloud", { location: "FR" }, [], "nocloud");
    assert.equal((await boundCloud("waiting", "nocloud")).name, "fr-cloud");
    await eventually(
      async () => (await k(Cluster).get("waiting", "nocloud")).status.reason === null,
      10_000,
      "reason cleared",
    );
  });

  it("inheritance: an app's constraint matches a label the cluster inherits from its cloud", async () => {
    await cloud("inh-cloud", { location: "DE" }, [], "inherit");
    await toscaCluster("inheriting", "inherit", { inherit: true });
    await boundCloud("inheriting", "inherit");
    const c = await k(Cluster).get("inheriting", "inherit");
    c.status.state = "ONLINE";
    await k(Cluster).updateStatus(c);
    await createApp("follows-label", { labels: ["location=DE"] }, {}, "inherit");
    await waitScheduledTo("follows-label", "inheriting", "inherit");
    assert.deepEqual(
      (await k(Cluster).get("inheriting", "inherit")).metadata.labels,
      {},
      "inheritance is never persisted",
    );
  });
});

describe("process metrics", () => {
  it("decisions, their latency and queue depth are exported in Prometheus format", () => {
    const text = cp.metrics.render();
    assert.match(text, /# TYPE krake_scheduler_decision_duration_seconds histogram/);
    assert.match(text, /krake_scheduler_decisions_total\{kind="Application",outcome="bound"\} [1-9]/);
    assert.match(text, /krake_scheduler_decisions_total\{kind="Cluster",outcome="bound"\} [1-9]/);
    assert.match(text, /krake_controller_queue_depth\{controller="scheduler",queue="applications"\} \d+/);
    assert.match(
      text,
      /krake_controller_reconcile_duration_seconds_count\{controller="scheduler",queue="applications",result="ok"\} [1-9]/,
    );
  });
});
