import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { withEvent } from "../../controller/events.js";
import type { NodeCapacity } from "../cluster/capacity.js";
import {
  checkDrain,
  describePending,
  fitsOneWorker,
  initialDesired,
  planScaleUp,
  podsToMove,
  removalCandidates,
  workerShape,
  workersFor,
  type ClusterEvent,
} from "./plan.js";

const GI = 2 ** 30;
const res = (cpu: number, memGi: number, pods = 0) => ({ cpu_millis: cpu, memory_bytes: memGi * GI, pods });

const node = (name: string, over: Partial<NodeCapacity> = {}): NodeCapacity => ({
  name,
  worker: true,
  schedulable: true,
  ready: true,
  allocatable: res(2000, 4, 110),
  requested: res(0, 0, 0),
  workload_pods: 0,
  idle_since: null,
  ...over,
});

const pod = (name: string, cpu: string, owner: { kind: string; name?: string } | null, extra: any = {}) => ({
  metadata: {
    name,
    namespace: "default",
    ...(owner ? { ownerReferences: [{ kind: owner.kind, name: owner.name ?? "o", controller: true }] } : {}),
    ...(extra.metadata ?? {}),
  },
  spec: { nodeName: "n", containers: [{ name: "c", resources: { requests: { cpu, memory: "64Mi" } } }] },
  status: { phase: "Running", ...(extra.status ?? {}) },
});

const tosca = {
  topology_template: {
    inputs: { wn_num: { default: 1 }, wn_cpus: { default: 4 }, wn_mem: { default: "8 GB" } },
    node_templates: {
      wn: {
        type: "tosca.nodes.indigo.Compute",
        capabilities: {
          scalable: { properties: { count: { get_input: "wn_num" } } },
          host: { properties: { num_cpus: { get_input: "wn_cpus" }, mem_size: { get_input: "wn_mem" } } },
        },
      },
    },
  },
};

describe("autoscaler decisions", () => {
  it("takes over at the template's count, raised to min, kept above max", () => {
    const workers = { input: "wn_num", system: "wn", min: 2, max: 4 };
    assert.equal(initialDesired(1, workers), 2);
    assert.equal(initialDesired(3, workers), 3);
    assert.equal(initialDesired(6, workers), 6, "extra workers go through drained removals");
    assert.equal(initialDesired(null, workers), 2);
  });

  it("sizes a worker from its nodes, else from the TOSCA host capability", () => {
    const capacity = {
      nodes: [
        node("front", { worker: false, allocatable: res(8000, 16, 110) }),
        node("a", { allocatable: res(1900, 3.5, 110) }),
        node("b", { allocatable: res(2000, 3.6, 100) }),
      ],
    };
    assert.deepEqual(workerShape(capacity, tosca, "wn"), res(1900, 3.5, 100));
    assert.deepEqual(workerShape({ nodes: [] }, tosca, "wn"), {
      cpu_millis: 4000,
      memory_bytes: 8e9,
      pods: 110,
    });
    assert.equal(workerShape(null, {}, "wn"), null);
  });

  it("counts the workers pending pods need: the scarcest resource decides, at least one", () => {
    const shape = res(2000, 4, 110);
    assert.equal(workersFor(res(4500, 1, 3), shape), 3, "cpu");
    assert.equal(workersFor(res(100, 9, 3), shape), 3, "memory");
    assert.equal(workersFor(res(100, 0.1, 230), shape), 3, "pod slots");
    assert.equal(workersFor(res(0, 0, 1), shape), 1);
    assert.equal(workersFor(res(4000, 0, 2), shape), 2, "exactly two workers' worth");
    assert.equal(workersFor(res(0, 0, 0), shape), 0);
    assert.equal(workersFor(res(9000, 0, 5), null), 1, "unknown worker size: one at a time");
    assert.equal(fitsOneWorker(res(2500, 1), shape), false);
    assert.equal(fitsOneWorker(res(2000, 4), shape), true);
    assert.equal(describePending(res(4500, 0.5, 3)), "3 pods need 4.5 CPU and 512Mi");
    assert.equal(describePending(res(1500, 0, 1)), "1 pod needs 1.5 CPU");
  });

  describe("scale-up", () => {
    const base = {
      desired: 2,
      max: 10,
      maxConcurrent: 2,
      booting: 0,
      needed: 3,
      why: "3 pods need 4.5 CPU",
      sinceLastScaleUpMs: Infinity,
      cooldownMs: 60_000,
    };

    it("adds what is needed, bounded by max_concurrent and max", () => {
      assert.deepEqual(planScaleUp({ ...base, maxConcurrent: 5 }), {
        add: 3,
        message: "scaling up from 2 to 5 workers: 3 pods need 4.5 CPU",
      });
      const concurrent = planScaleUp(base);
      assert.equal(concurrent.add, 2);
      assert.match(concurrent.message!, /\(3 wanted; max_concurrent allows 2\)$/);
      const max = planScaleUp({ ...base, maxConcurrent: 5, max: 3 });
      assert.equal(max.add, 1);
      assert.match(max.message!, /\(3 wanted; max allows 1\)$/);
    });

    it("counts the workers already booting, and never goes above max", () => {
      assert.deepEqual(planScaleUp({ ...base, booting: 1, maxConcurrent: 3 }).add, 2);
      const covered = planScaleUp({ ...base, booting: 3, maxConcurrent: 5 });
      assert.equal(covered.add, 0);
      assert.match(covered.message!, /^waiting for 3 booting workers/);
      const busy = planScaleUp({ ...base, booting: 2 });
      assert.equal(busy.add, 0);
      assert.match(busy.message!, /^2 workers booting, max_concurrent is 2/);
      const atMax = planScaleUp({ ...base, desired: 10 });
      assert.deepEqual(atMax, { add: 0, message: "at max workers (10): 3 pods need 4.5 CPU" });
      assert.deepEqual(planScaleUp({ ...base, needed: 0 }), { add: 0, message: null });
    });

    it("waits out the cooldown and says how long", () => {
      const cooling = planScaleUp({ ...base, sinceLastScaleUpMs: 45_000 });
      assert.equal(cooling.add, 0);
      assert.equal(cooling.retryAfterMs, 15_000);
      assert.match(cooling.message!, /^scale-up cooling down for 15 s/);
      assert.equal(planScaleUp({ ...base, sinceLastScaleUpMs: 60_000 }).add, 2);
    });
  });

  describe("scale-down", () => {
    const now = Date.parse("2026-11-23T10:00:00Z");
    const ago = (s: number) => new Date(now - s * 1000).toISOString();

    it("offers Ready, schedulable workers idle long enough, least loaded first; never the control plane", () => {
      const nodes = [
        node("front", { worker: false, idle_since: ago(900) }),
        node("busy", { idle_since: null, workload_pods: 3 }),
        node("recent", { idle_since: ago(10) }),
        node("light", { idle_since: ago(700), workload_pods: 1, requested: res(100, 0.1, 2) }),
        node("empty", { idle_since: ago(600) }),
        node("cordoned", { idle_since: ago(900), schedulable: false }),
        node("leaving", { idle_since: ago(900) }),
      ];
      const opts = { now, idleTimeMs: 600_000, anyLoad: false, exclude: new Set(["leaving"]) };
      assert.deepEqual(
        removalCandidates(nodes, opts).map((n) => n.name),
        ["empty", "light"],
      );
      assert.deepEqual(
        removalCandidates(nodes, { ...opts, anyLoad: true }).map((n) => n.name),
        ["recent", "empty", "light", "busy"],
        "a metric or a lowered max takes any worker, the least loaded first",
      );
    });

    it("lets a node go only if every pod has a controller that recreates it elsewhere", () => {
      const others = [node("other", { requested: res(500, 1, 5) })];
      assert.deepEqual(checkDrain([pod("bare", "100m", null)], others), {
        ok: false,
        why: "pod default/bare has no controller",
      });
      const sts = checkDrain([pod("db-0", "100m", { kind: "StatefulSet", name: "db" })], others);
      assert.equal(sts.ok, true);
      const custom = checkDrain([pod("x", "100m", { kind: "Workflow", name: "w" })], others);
      assert.deepEqual(custom, {
        ok: false,
        why: "pod default/x is controlled by Workflow w, not a ReplicaSet, StatefulSet or Job",
      });
      const ds = pod("agent", "100m", { kind: "DaemonSet" });
      const mirror = pod("etcd", "100m", null, {
        metadata: { annotations: { "kubernetes.io/config.mirror": "x" } },
      });
      const done = pod("job-1", "100m", null, { status: { phase: "Succeeded" } });
      assert.deepEqual(podsToMove([ds, mirror, done]), [], "DaemonSet, mirror and finished pods stay");
      assert.deepEqual(checkDrain([ds, mirror, done], []), { ok: true, pods: [] });
    });

    it("lets a node go only if its pods fit on the other nodes' free room together", () => {
      const others = [node("a", { requested: res(1200, 1, 3) }), node("b", { requested: res(1500, 1, 3) })];
      const rs = { kind: "ReplicaSet" };
      const fits = checkDrain([pod("p1", "800m", rs), pod("p2", "500m", rs)], others);
      assert.equal(fits.ok, true);
      const tooMuch = checkDrain(
        [pod("p1", "800m", rs), pod("p2", "500m", rs), pod("p3", "300m", rs)],
        others,
      );
      assert.deepEqual(tooMuch, { ok: false, why: "pod default/p3 (0.3 CPU, 64Mi) fits on no other node" });
      const full = [node("c", { allocatable: res(2000, 4, 3), requested: res(0, 0, 3) })];
      assert.equal(checkDrain([pod("p", "10m", rs)], full).ok, false, "no pod slot left");
    });
  });

  it("keeps the last events", () => {
    const e = (i: number): ClusterEvent => ({
      time: new Date(i * 1000).toISOString(),
      type: "Normal",
      reason: "ScaleUp",
      message: String(i),
      source: "autoscaler",
    });
    let events: ClusterEvent[] = [];
    for (let i = 0; i < 55; i++) events = withEvent(events, e(i));
    assert.equal(events.length, 50);
    assert.equal(events[0].message, "5");
    assert.equal(events.at(-1)!.message, "54");
  });
});
