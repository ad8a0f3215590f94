import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Resource } from "../../resources/kind.js";
import type { AppRequest, Resources } from "./requests.js";
import { Commitments, contributionOf, newerVersion, observedRoom, predictedRoom, shortfall } from "./room.js";

const GI = 2 ** 30;
const res = (cpu: number, memGi = 0, pods = 0): Resources => ({
  cpu_millis: cpu * 1000,
  memory_bytes: memGi * GI,
  pods,
});
const req = (cpu: number, memGi = 0, pods = 1, largest?: [number, number]): AppRequest => ({
  ...res(cpu, memGi, pods),
  largest: largest
    ? { cpu_millis: largest[0] * 1000, memory_bytes: largest[1] * GI }
    : { cpu_millis: (cpu * 1000) / Math.max(1, pods), memory_bytes: (memGi * GI) / Math.max(1, pods) },
});
const node = (name: string, cpu: number, memGi: number, schedulable = true) => ({
  name,
  worker: true,
  schedulable,
  ready: true,
  allocatable: res(cpu, memGi, 110),
  requested: res(0),
  workload_pods: 0,
  idle_since: null,
});
const capacity = (nodes: ReturnType<typeof node>[], requested: Resources) => ({
  allocatable: nodes
    .filter((n) => n.schedulable)
    .reduce(
      (a, n) => ({
        cpu_millis: a.cpu_millis + n.allocatable.cpu_millis,
        memory_bytes: a.memory_bytes + n.allocatable.memory_bytes,
        pods: a.pods + n.allocatable.pods,
      }),
      res(0),
    ),
  requested,
  nodes,
});

describe("free capacity of an observed cluster", () => {
  const twoWorkers = [node("w1", 2, 4), node("w2", 2, 4)];

  it("allocatable minus what Krake's apps hold (from manifests) minus what others' pods request", () => {
    // Observed: 1.5 CPU requested, 1 CPU of it by Krake apps the observation saw → 0.5 CPU foreign.
    const room = observedRoom(capacity(twoWorkers, res(1.5, 1, 6)), res(2, 1, 3), res(1, 1, 2));
    // cpu 4 − 0.5 − 2; memory 8Gi − 0 − 1Gi; pods 220 − (6 − 2) − 3.
    assert.deepEqual(room.free, { cpu_millis: 1500, memory_bytes: 7 * GI, pods: 213 });
    assert.equal(shortfall(req(1.5), room), null);
    assert.match(
      shortfall(req(2, 1, 2), room)!,
      /^not enough room: needs cpu 2, memory 1Gi, 2 pods; free cpu 1500m, memory 7Gi, 213 pods$/,
    );
  });

  it("apps bound a moment ago count before their pods exist (a burst does not overfill one cluster)", () => {
    // Nothing observed yet, but 3.5 CPU bound: only 500m left.
    const room = observedRoom(capacity(twoWorkers, res(0)), res(3.5, 0, 4), res(0));
    assert.equal(room.free.cpu_millis, 500);
    assert.notEqual(shortfall(req(1), room), null);
  });

  it("apps bound after the observation do not hide the pods of others it saw", () => {
    // 2 CPUs of pods not Krake's; 1.5 CPUs bound since (not in the observation): 500m left, not 2.5.
    const room = observedRoom(capacity(twoWorkers, res(2, 0, 2)), res(1.5, 0, 2), res(0));
    assert.equal(room.free.cpu_millis, 500);
  });

  it("foreign requests never go below zero; a resource the app does not ask for never excludes", () => {
    const room = observedRoom(capacity(twoWorkers, res(1)), res(4.5), res(3));
    assert.equal(room.free.cpu_millis, -500, "over-committed");
    assert.equal(shortfall({ ...req(0, 0, 0) }, room), null, "a Service-only app fits anywhere");
  });

  it("a pod larger than every worker does not fit, whatever the total", () => {
    const room = observedRoom(capacity(twoWorkers, res(0)), res(0), res(0));
    assert.match(
      shortfall(req(3, 0, 1), room)!,
      /a pod needs cpu 3, memory 0; the largest worker has cpu 2, memory 4Gi/,
    );
    assert.equal(shortfall(req(3, 0, 3, [1, 0]), room), null);
  });

  it("an autoscaled cluster counts its potential at workers.max, with its observed worker size", () => {
    const room = observedRoom(capacity([node("w1", 2, 4), node("w2", 2, 4, false)], res(0)), res(1), res(0), {
      maxWorkers: 4,
      shape: { cpu_millis: 8000, memory_bytes: 16 * GI, pods: 110 },
    });
    // One schedulable worker (2 CPU) + 3 more of its observed size = 8 CPU, minus 1 committed.
    assert.equal(room.free.cpu_millis, 7000);
    assert.equal(room.basis, "at 4 workers");
    assert.match(shortfall(req(8), room)!, /\(at 4 workers\)$/);
    // No schedulable worker seen: the declared size.
    const declared = observedRoom(capacity([], res(0)), res(0), res(0), {
      maxWorkers: 2,
      shape: { cpu_millis: 4000, memory_bytes: 8 * GI, pods: 110 },
    });
    assert.equal(declared.free.cpu_millis, 8000);
  });

  it("a cluster not built yet is predicted from its workers", () => {
    const shape = { cpu_millis: 2000, memory_bytes: 4 * GI, pods: 110 };
    const room = predictedRoom(2, shape, res(3, 0, 3));
    assert.equal(room.free.cpu_millis, 1000);
    assert.equal(room.basis, "2 workers of cpu 2, memory 4Gi");
    assert.equal(shortfall(req(1), room), null);
    assert.match(shortfall(req(1.5, 0, 2), room)!, /free cpu 1, .* \(2 workers of cpu 2, memory 4Gi\)/);
  });
});

const app = (
  name: string,
  rv: string,
  status: { scheduled_to?: string; running_on?: string; waiting?: string; scheduled?: number } = {},
): Resource => {
  const ref = (n?: string) => (n ? { api: "kubernetes", kind: "Cluster", namespace: "ns", name: n } : null);
  return {
    api: "kubernetes",
    kind: "Application",
    metadata: { name, namespace: "ns", resource_version: rv } as Resource["metadata"],
    spec: {},
    status: {
      scheduled_to: ref(status.scheduled_to),
      running_on: ref(status.running_on),
      auto_cluster_create_started: status.waiting ?? null,
      scheduled: status.scheduled === undefined ? null : new Date(status.scheduled).toISOString(),
    },
  };
};

describe("commitments: what applications hold on each cluster", () => {
  it("counts scheduled, running and waiting apps once per cluster, and what is deployed there", () => {
    assert.deepEqual(
      contributionOf(app("a", "1", { scheduled_to: "c1", running_on: "c1" }), req(1)).clusters,
      ["ns/c1"],
    );
    const c = new Commitments();
    c.observe("ns/a", app("a", "1", { scheduled_to: "c1", running_on: "c1", scheduled: 100 }), req(1));
    c.observe("ns/b", app("b", "2", { scheduled_to: "c2", running_on: "c1", scheduled: 200 }), req(2));
    c.observe("ns/w", app("w", "3", { waiting: "new" }), req(4));
    c.observe("ns/n", app("n", "4", { scheduled_to: "c1", scheduled: 300 }), req(8));
    assert.equal(c.committed("ns/c1").cpu_millis, 11_000, "a migrating app holds both clusters");
    assert.equal(c.committed("ns/c2").cpu_millis, 2000);
    // What an observation may have seen: apps running there, and apps bound before it.
    assert.equal(c.seen("ns/c1", 250).cpu_millis, 3000);
    assert.equal(c.seen("ns/c1", 300).cpu_millis, 11_000);
    assert.equal(c.seen("ns/c2", 150).cpu_millis, 0);
    assert.equal(c.seen("ns/c2", 250).cpu_millis, 2000);
    c.remove("ns/n");
    assert.equal(
      c.committed("ns/c1", "ns/a").cpu_millis,
      2000,
      "the app being placed is not counted against itself",
    );
    assert.deepEqual(c.waiting("ns/new"), ["ns/w"]);
    assert.equal(c.waitingFor("ns/w"), "ns/new");
    assert.equal(c.occupants("ns/c1"), 2);
    c.remove("ns/b");
    assert.equal(c.committed("ns/c1").cpu_millis, 1000);
    assert.equal(c.occupants("ns/c2"), 0);
  });

  it("stamps every change of a cluster's holdings, never reusing a stamp after the cluster emptied", () => {
    const c = new Commitments();
    assert.equal(c.stamp("ns/c1"), 0);
    c.observe("ns/a", app("a", "1", { scheduled_to: "c1" }), req(1));
    const first = c.stamp("ns/c1");
    assert.ok(first > 0);
    assert.equal(c.holds("ns/c1", "ns/a"), true);
    c.observe("ns/x", app("x", "2", { scheduled_to: "c2" }), req(1));
    assert.equal(c.stamp("ns/c1"), first, "another cluster's change leaves it alone");
    c.remove("ns/a");
    assert.equal(c.stamp("ns/c1"), 0);
    c.observe("ns/b", app("b", "3", { scheduled_to: "c1" }), req(2));
    assert.ok(c.stamp("ns/c1") > first, "a cached figure of the old holdings can never match again");
    assert.equal(c.holds("ns/c1", "ns/a"), false);
  });

  it("a decision counts at once; only a newer version from the informer replaces it; a failed write reverts", () => {
    const c = new Commitments();
    c.observe("ns/a", app("a", "5"), req(1));
    c.assume("ns/a", app("a", "5", { scheduled_to: "c1" }), req(1));
    assert.equal(c.committed("ns/c1").cpu_millis, 1000);
    // The informer re-delivers the version the decision was taken on: ignored.
    c.observe("ns/a", app("a", "5"), req(1));
    assert.equal(c.committed("ns/c1").cpu_millis, 1000);
    // The write's own version arrives.
    c.observe("ns/a", app("a", "6", { scheduled_to: "c1" }), req(1));
    assert.equal(c.committed("ns/c1").cpu_millis, 1000);
    c.assume("ns/a", app("a", "6", { scheduled_to: "c2" }), req(1));
    c.revert("ns/a", app("a", "6", { scheduled_to: "c1" }), req(1));
    assert.equal(c.committed("ns/c2").cpu_millis, 0);
    assert.equal(c.committed("ns/c1").cpu_millis, 1000);
  });

  it("tells when a cluster becomes empty or occupied, not on every change", () => {
    const changes: string[] = [];
    const c = new Commitments((cluster) => changes.push(cluster));
    c.observe("ns/a", app("a", "1", { waiting: "c1" }), req(1));
    c.observe("ns/a", app("a", "2", { scheduled_to: "c1", waiting: "c1" }), req(1));
    c.observe("ns/a", app("a", "3", { scheduled_to: "c1" }), req(1));
    assert.deepEqual(changes, ["ns/c1"]);
    c.remove("ns/a");
    assert.deepEqual(changes, ["ns/c1", "ns/c1"]);
  });

  it("compares resource versions as numbers", () => {
    assert.ok(newerVersion("10", "9"));
    assert.ok(!newerVersion("9", "10"));
    assert.ok(!newerVersion("7", "7"));
  });
});
