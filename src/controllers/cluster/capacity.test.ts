import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { computeCapacity, podRequests, sameCapacity, unschedulableForResources } from "./capacity.js";

const node = (
  name: string,
  opts: { cpu?: string; memory?: string; taint?: string; ready?: boolean; cordoned?: boolean } = {},
) => ({
  metadata: { name },
  spec: {
    ...(opts.taint ? { taints: [{ key: opts.taint, effect: "NoSchedule" }] } : {}),
    ...(opts.cordoned ? { unschedulable: true } : {}),
  },
  status: {
    allocatable: { cpu: opts.cpu ?? "2", memory: opts.memory ?? "4Gi", pods: "110" },
    conditions: [{ type: "Ready", status: opts.ready === false ? "False" : "True" }],
  },
});

const pod = (
  name: string,
  nodeName: string | null,
  requests: { cpu?: string; memory?: string },
  extra: any = {},
) => ({
  metadata: { name, namespace: "default", ...(extra.metadata ?? {}) },
  spec: {
    ...(nodeName ? { nodeName } : {}),
    containers: [{ name: "c", resources: { requests } }],
    ...(extra.spec ?? {}),
  },
  status: { phase: nodeName ? "Running" : "Pending", ...(extra.status ?? {}) },
});

const now = new Date("2026-11-23T10:00:00Z");
const GI = 2 ** 30;

describe("cluster capacity", () => {
  it("sums requests, with limits standing in for missing requests and the larger init container", () => {
    assert.deepEqual(podRequests(pod("p", "n", { cpu: "250m", memory: "64Mi" })), {
      cpu_millis: 250,
      memory_bytes: 64 * 2 ** 20,
      pods: 1,
    });
    const withInit = {
      spec: {
        containers: [{ resources: { limits: { cpu: "1" } } }, { resources: { requests: { cpu: "100m" } } }],
        initContainers: [{ resources: { requests: { cpu: "2", memory: "1Gi" } } }],
      },
    };
    assert.deepEqual(podRequests(withInit), { cpu_millis: 2000, memory_bytes: GI, pods: 1 });
  });

  it("counts schedulable workers only: not the tainted control plane, a cordoned or a NotReady node", () => {
    const cap = computeCapacity(
      [
        node("kubeserver", { taint: "node-role.kubernetes.io/master" }),
        node("vnode-1"),
        node("vnode-2", { cordoned: true }),
        node("vnode-3", { ready: false }),
      ],
      [pod("a", "vnode-1", { cpu: "500m", memory: "1Gi" }), pod("b", "kubeserver", { cpu: "1" })],
      null,
      { now, utilizationBelow: 0.5 },
    );
    assert.deepEqual(cap.allocatable, { cpu_millis: 2000, memory_bytes: 4 * GI, pods: 110 });
    assert.deepEqual(cap.requested, { cpu_millis: 500, memory_bytes: GI, pods: 1 });
    const byName = Object.fromEntries(cap.nodes.map((n) => [n.name, n]));
    assert.equal(byName.kubeserver.worker, false);
    assert.equal(byName["vnode-2"].schedulable, false);
    assert.equal(byName["vnode-3"].schedulable, false);
    assert.equal(byName["vnode-3"].ready, false);
  });

  it("adds up pods pending for lack of room, not those pending for a selector", () => {
    const unschedulable = (message: string) => ({
      status: { conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable", message }] },
    });
    const big = pod(
      "big",
      null,
      { cpu: "3", memory: "1Gi" },
      unschedulable("0/2 nodes are available: 2 Insufficient cpu."),
    );
    const picky = pod(
      "picky",
      null,
      { cpu: "1" },
      unschedulable("0/2 nodes are available: 2 node(s) didn't match node selector."),
    );
    assert.equal(unschedulableForResources(big), true);
    assert.equal(unschedulableForResources(picky), false);
    const cap = computeCapacity([node("vnode-1")], [big, picky], null, { now, utilizationBelow: 0.5 });
    assert.deepEqual(cap.unschedulable, { cpu_millis: 3000, memory_bytes: GI, pods: 1 });
  });

  it("keeps a node's idle_since while it stays idle, ignoring DaemonSet pods, and clears it when busy", () => {
    const daemon = pod(
      "ds",
      "vnode-1",
      { cpu: "100m" },
      { metadata: { ownerReferences: [{ kind: "DaemonSet", name: "d" }] } },
    );
    const first = computeCapacity(
      [node("vnode-1"), node("vnode-2")],
      [daemon, pod("busy", "vnode-2", { cpu: "1500m" })],
      null,
      { now, utilizationBelow: 0.5 },
    );
    const idle = (c: typeof first, name: string) => c.nodes.find((n) => n.name === name)!.idle_since;
    assert.equal(idle(first, "vnode-1"), now.toISOString());
    assert.equal(idle(first, "vnode-2"), null, "75 % of its cpu requested");
    const later = new Date(now.getTime() + 60_000);
    const second = computeCapacity([node("vnode-1"), node("vnode-2")], [daemon], first, {
      now: later,
      utilizationBelow: 0.5,
    });
    assert.equal(idle(second, "vnode-1"), now.toISOString(), "idle since the first look");
    assert.equal(idle(second, "vnode-2"), later.toISOString());
    const third = computeCapacity([node("vnode-1")], [pod("w", "vnode-1", { cpu: "100m" })], second, {
      now: later,
      utilizationBelow: 0.01,
    });
    assert.equal(idle(third, "vnode-1"), null, "a workload above the threshold makes it busy");
  });

  it("compares observations without their time", () => {
    const a = computeCapacity([node("n")], [], null, { now, utilizationBelow: 0.5 });
    const b = computeCapacity([node("n")], [], a, {
      now: new Date(now.getTime() + 1000),
      utilizationBelow: 0.5,
    });
    assert.equal(sameCapacity(a, b), true);
    const c = computeCapacity([node("n", { cpu: "4" })], [], a, { now, utilizationBelow: 0.5 });
    assert.equal(sameCapacity(a, c), false);
  });
});
