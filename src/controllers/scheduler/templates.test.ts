import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withEvent } from "../../controller/events.js";
import { workerCount } from "../../kube/cluster-tosca.js";
import type { Resource } from "../../resources/kind.js";
import { effectiveCluster } from "./inherit.js";
import {
  bestPlan,
  clusterFromTemplate,
  clusterName,
  clusterPrediction,
  explainTemplates,
  idleSince,
  retentionStep,
  sameTemplate,
  stillBuilding,
  templateLabel,
  templateRefOf,
  templateShape,
  templateWorkers,
  type ClusterEvent,
} from "./templates.js";

const GI = 2 ** 30;

const tosca = () => ({
  tosca_definitions_version: "tosca_simple_yaml_1_0",
  topology_template: {
    inputs: {
      wn_num: { type: "integer", default: 1 },
      wn_cpus: { type: "integer", default: 2 },
      wn_mem: { type: "scalar-unit.size", default: "4 GiB" },
    },
    node_templates: {
      front: { type: "tosca.nodes.indigo.Compute" },
      wn: {
        type: "tosca.nodes.indigo.Compute",
        capabilities: {
          scalable: { properties: { count: { get_input: "wn_num" } } },
          host: { properties: { num_cpus: { get_input: "wn_cpus" }, mem_size: { get_input: "wn_mem" } } },
        },
      },
    },
  },
});

function template(name: string, spec: Record<string, any> = {}, namespace: string | null = null): Resource {
  return {
    api: "kubernetes",
    kind: namespace ? "ClusterTemplate" : "GlobalClusterTemplate",
    metadata: { name, namespace } as Resource["metadata"],
    spec: {
      tosca: tosca(),
      inputs: { wn_cpus: 4 },
      labels: { tier: "burst" },
      metrics: [{ name: "green", weight: 1, namespaced: false }],
      inherit_labels: true,
      inherit_metrics: false,
      constraints: { cloud: { labels: ["location=DE"], metrics: null } },
      clusters: { min: 0, max: 3 },
      retention: 600,
      workers: { input: "wn_num", system: "wn", initial: 2, cpu: null, memory: null, pods: 110 },
      autoscaling: null,
      ...spec,
    },
  };
}

describe("a cluster made from a template", () => {
  it("carries the template's labels, metrics, flags, cloud constraints and its TOSCA with the inputs and initial workers", () => {
    const t = template("small");
    const c = clusterFromTemplate(t, "small-abcde");
    assert.equal(c.metadata.name, "small-abcde");
    assert.deepEqual(c.metadata.labels, { tier: "burst" });
    assert.equal(c.metadata.inherit_labels, true);
    assert.equal(c.spec.inherit_metrics, false);
    assert.equal(c.spec.auto_generated, true);
    assert.deepEqual(c.spec.template, {
      api: "kubernetes",
      kind: "GlobalClusterTemplate",
      name: "small",
      namespace: null,
    });
    assert.deepEqual(c.spec.constraints, { cloud: { labels: ["location=DE"], metrics: null } });
    assert.deepEqual(c.spec.metrics, [{ name: "green", weight: 1, namespaced: false }]);
    assert.equal(c.spec.autoscaling, null);
    assert.equal(workerCount(c.spec.tosca, "wn_num"), 2, "workers.initial written into the worker input");
    assert.equal(c.spec.tosca.topology_template.inputs.wn_cpus.default, 4, "the template's inputs");
    assert.equal(t.spec.tosca.topology_template.inputs.wn_num.default, 1, "the template itself is untouched");
    // With inherit_labels, the cloud's labels join the template's (the cloud wins a collision).
    const cloud = {
      api: "infrastructure",
      kind: "GlobalCloud",
      metadata: { name: "os", labels: { location: "DE", tier: "x" } },
      spec: { type: "openstack", openstack: { metrics: [] } },
    } as any;
    assert.deepEqual(effectiveCluster(c, cloud).labels, { tier: "x", location: "DE" });
  });

  it("is named <template>-<5 lowercase letters>, and the name stays valid for long template names", () => {
    let i = 0;
    const seq = [0, 0.04, 0.5, 0.99, 0.2];
    assert.equal(
      clusterName("small", () => seq[i++]),
      "small-abnzf",
    );
    assert.match(clusterName("x"), /^x-[a-z]{5}$/);
    assert.equal(clusterName("a".repeat(300)).length, 255);
  });

  it("references its template: the kind, name and, for a namespaced one, its namespace", () => {
    const ns = templateRefOf(template("t", {}, "team-a"));
    assert.deepEqual(ns, { api: "kubernetes", kind: "ClusterTemplate", name: "t", namespace: "team-a" });
    assert.ok(sameTemplate({ kind: "ClusterTemplate", name: "t", namespace: "team-a" }, ns));
    assert.ok(!sameTemplate({ kind: "ClusterTemplate", name: "t", namespace: "team-b" }, ns));
    assert.ok(!sameTemplate({ kind: "GlobalClusterTemplate", name: "t", namespace: null }, ns));
    assert.equal(templateLabel(ns), "team-a/t");
    assert.equal(templateLabel(templateRefOf(template("g"))), "g");
  });
});

describe("predicted size", () => {
  it("a template's workers: initial, or max with autoscaling; one worker from workers.cpu/memory or the TOSCA", () => {
    const t = template("t");
    assert.equal(templateWorkers(t), 2);
    assert.deepEqual(templateShape(t), { cpu_millis: 4000, memory_bytes: 4 * GI, pods: 110 });
    const explicit = template("t", {
      workers: { input: "wn_num", system: "wn", initial: 1, cpu: "3500m", memory: "6Gi", pods: 50 },
      autoscaling: { workers: { input: "wn_num", system: "wn", min: 1, max: 5 } },
    });
    assert.equal(templateWorkers(explicit), 5);
    assert.deepEqual(templateShape(explicit), { cpu_millis: 3500, memory_bytes: 6 * GI, pods: 50 });
  });

  it("a cluster being created: its TOSCA's worker count (or autoscaling max), its template's worker", () => {
    const t = template("t");
    const c = clusterFromTemplate(t, "t-aaaaa");
    assert.deepEqual(clusterPrediction(c, t), {
      workers: 2,
      shape: { cpu_millis: 4000, memory_bytes: 4 * GI, pods: 110 },
    });
    // Template gone: the VM size in the cluster's own TOSCA.
    assert.deepEqual(clusterPrediction(c, undefined), {
      workers: 2,
      shape: { cpu_millis: 4000, memory_bytes: 4 * GI, pods: 110 },
    });
    c.spec.autoscaling = { workers: { input: "wn_num", system: "wn", min: 1, max: 6 } };
    assert.equal(clusterPrediction(c, t)?.workers, 6);
  });
});

describe("being built", () => {
  const worker = (schedulable: boolean) => ({ schedulable });
  const cluster = (state: string, workers: boolean[] | null, extra: Record<string, unknown> = {}) => {
    const c = clusterFromTemplate(template("t"), "t-aaaaa");
    c.status = {
      state,
      capacity: workers ? { nodes: workers.map(worker) } : null,
      autoscaling: null,
      ...extra,
    };
    return c;
  };

  it("until ONLINE with every worker of its TOSCA (or autoscaling's desired count) schedulable", () => {
    assert.ok(stillBuilding(cluster("CREATING", null), undefined));
    assert.ok(stillBuilding(cluster("CONNECTING", null), undefined));
    assert.ok(stillBuilding(cluster("ONLINE", [true]), undefined), "one of two workers joined");
    assert.ok(stillBuilding(cluster("ONLINE", [true, false]), undefined), "one not schedulable yet");
    assert.ok(!stillBuilding(cluster("ONLINE", [true, true]), undefined));
    assert.ok(!stillBuilding(cluster("FAILING_METRICS", [true, true]), undefined));
    assert.ok(
      stillBuilding(cluster("ONLINE", [true, true], { autoscaling: { desired: 3 } }), undefined),
      "the autoscaler asked for a third",
    );
  });

  it("never once FAILED or deleted", () => {
    assert.ok(!stillBuilding(cluster("FAILED", null), undefined));
    const deleted = cluster("CREATING", null);
    deleted.metadata.deleted = "2024-01-01T00:00:00Z";
    assert.ok(!stillBuilding(deleted, undefined));
  });
});

describe("choosing and explaining", () => {
  it("the best plan is the best cloud score, then the template name", () => {
    const plan = (name: string, score: number) => ({
      template: template(name),
      cloud: {} as Resource,
      score,
    });
    assert.equal(bestPlan([]), null);
    assert.equal(bestPlan([plan("b", 0.5), plan("a", 0.2), plan("c", 0.5)])!.template.metadata.name, "b");
    assert.equal(bestPlan([plan("b", 0), plan("a", 0)])!.template.metadata.name, "a");
  });

  it("one line per template", () => {
    const text = explainTemplates(
      [
        { template: templateRefOf(template("gpu", {}, "ns")), reason: "no cloud fits: …" },
        { template: templateRefOf(template("small")), reason: "clusters.max (3) reached" },
      ],
      "ns",
    );
    assert.deepEqual(text.split("\n"), [
      "no cluster template fits:",
      "- ClusterTemplate 'gpu': no cloud fits: …",
      "- GlobalClusterTemplate 'small': clusters.max (3) reached",
    ]);
    assert.match(
      explainTemplates([], "ns"),
      /no ClusterTemplate in namespace 'ns', no GlobalClusterTemplate/,
    );
  });
});

describe("retention", () => {
  const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s)).toISOString();
  const ev = (reason: string, s: number, source = "scheduler"): ClusterEvent => ({
    time: at(s),
    type: "Normal",
    reason,
    message: "",
    source,
  });
  const now = Date.parse(at(100));
  const base = { now, retentionSeconds: 30, alive: 2, min: 1 };

  it("idle since the last Idle event of the scheduler; other events do not count", () => {
    assert.equal(idleSince(undefined), null);
    assert.equal(idleSince([ev("Created", 1)]), null);
    assert.equal(
      idleSince([ev("Created", 1), ev("Idle", 5), ev("ScaledUp", 9, "autoscaler")]),
      Date.parse(at(5)),
    );
    assert.equal(idleSince([ev("Idle", 5), ev("InUse", 7)]), null);
  });

  it("in use: records InUse only after an Idle record", () => {
    assert.deepEqual(retentionStep({ ...base, occupied: true, events: [ev("Created", 1)] }), {
      step: "in-use",
      record: false,
    });
    assert.deepEqual(retentionStep({ ...base, occupied: true, events: [ev("Idle", 1)] }), {
      step: "in-use",
      record: true,
    });
  });

  it("empty: records Idle once, waits out the retention, then retires unless at clusters.min", () => {
    assert.deepEqual(retentionStep({ ...base, occupied: false, events: [ev("Created", 1)] }), {
      step: "idle",
      record: true,
      dueInMs: 30_000,
    });
    assert.deepEqual(retentionStep({ ...base, occupied: false, events: [ev("Idle", 90)] }), {
      step: "idle",
      record: false,
      dueInMs: 20_000,
    });
    assert.deepEqual(retentionStep({ ...base, occupied: false, events: [ev("Idle", 60)] }), {
      step: "retire",
    });
    assert.deepEqual(retentionStep({ ...base, alive: 1, occupied: false, events: [ev("Idle", 60)] }), {
      step: "keep",
      alive: 1,
    });
  });

  it("keeps the last 50 events", () => {
    let events: ClusterEvent[] = [];
    for (let i = 0; i < 60; i++) events = withEvent(events, ev(`e${i}`, i));
    assert.equal(events.length, 50);
    assert.equal(events[0].reason, "e10");
    assert.equal(events[49].reason, "e59");
  });
});
