/**
 * The garbage collector against a real API (controllers.md §9): cascades through metadata.owners, LIFO
 * finalizers, ownership cycles and missing owners.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../support/api.js";
import { bodies, deployment, kubeconfig } from "../support/fixtures.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import { Application, Cloud, Cluster, Role } from "../../src/resources/registry.js";

let cp: ControlPlane;
before(async () => {
  cp = await startControlPlane(["gc"]);
});
after(() => cp.close());

const k = <D>(def: D) => cp.api.client.kind(def as any) as any;
const gone = (def: unknown, name: string, ns: string | null) =>
  eventually(
    async () => {
      try {
        await k(def).get(name, ns);
        return false;
      } catch (err) {
        return (err as { status?: number }).status === 404;
      }
    },
    10_000,
    `${name} to disappear`,
  );
const ref = (o: any) => ({
  api: o.api,
  kind: o.kind,
  namespace: o.metadata.namespace,
  name: o.metadata.name,
});

describe("garbage collector", () => {
  it("deleting a Cloud deletes its Cluster, which deletes its pinned Application; children go first", async () => {
    const ns = "cascade";
    const cloud = await k(Cloud).create(bodies.Cloud("os-cloud"), ns);
    const cluster = await k(Cluster).create(
      { metadata: { name: "c1" }, spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} } } },
      ns,
    );
    await k(Cluster).action(
      "c1",
      "binding",
      { api: "infrastructure", kind: "CloudBinding", cloud: ref(cloud) },
      ns,
    );
    await k(Application).create(
      // Pinned (migration disabled): it cannot be moved, so it goes with its cluster.
      {
        metadata: { name: "a1" },
        spec: { manifest: [deployment()], constraints: { cluster: {}, migration: false } },
      },
      ns,
    );
    await k(Application).action(
      "a1",
      "binding",
      { api: "kubernetes", kind: "ClusterBinding", cluster: ref(cluster) },
      ns,
    );
    // Another controller's finalizer on the app: the GC acts only when cascade_deletion is the last one.
    const app = await k(Application).get("a1", ns);
    app.metadata.finalizers = ["kubernetes_resources_deletion"];
    await k(Application).update(app);

    await k(Cloud).delete("os-cloud", ns);
    // The GC marks the app deleted and pops only its own finalizer; the controller's one stays.
    await eventually(
      async () => {
        const a = await k(Application).get("a1", ns);
        return a.metadata.deleted && a.metadata.finalizers.join() === "kubernetes_resources_deletion";
      },
      10_000,
      "the app deleted, with cascade_deletion popped and the other finalizer kept",
    );
    // The cluster and cloud wait for the app, whose own finalizer is still there.
    assert.ok((await k(Cluster).get("c1", ns)).metadata.deleted);
    assert.ok((await k(Cloud).get("os-cloud", ns)).metadata.deleted);

    // The application controller's part (simulated): it removes its finalizer; then everything goes.
    const last = await k(Application).get("a1", ns);
    last.metadata.finalizers = [];
    await k(Application).update(last);
    await gone(Application, "a1", ns);
    await gone(Cluster, "c1", ns);
    await gone(Cloud, "os-cloud", ns);
  });

  it("an app that may migrate is not deleted with its cluster: the cluster waits until the app leaves it", async () => {
    const ns = "evacuate";
    const cluster = await k(Cluster).create(
      { metadata: { name: "c2" }, spec: { kubeconfig: kubeconfig(), constraints: { cloud: {} } } },
      ns,
    );
    await k(Application).create(
      { metadata: { name: "mover" }, spec: { manifest: [deployment()], constraints: { cluster: {} } } },
      ns,
    );
    await k(Application).action(
      "mover",
      "binding",
      { api: "kubernetes", kind: "ClusterBinding", cluster: ref(cluster) },
      ns,
    );
    await k(Cluster).delete("c2", ns);
    // Nothing deletes the app; the cluster stays marked while the app is bound to it.
    const waiting = await eventually(
      async () => {
        const c = await k(Cluster).get("c2", ns);
        return c.metadata.deleted ? c : null;
      },
      5_000,
      "c2 marked deleted",
    );
    assert.deepEqual(waiting.metadata.finalizers, ["cascade_deletion"]);
    const app = await k(Application).get("mover", ns);
    assert.equal(app.metadata.deleted, null);
    // The scheduler and application controller's part (simulated): the app leaves the cluster.
    app.metadata.owners = [];
    await k(Application).update(app);
    await gone(Cluster, "c2", ns);
    assert.equal((await k(Application).get("mover", ns)).metadata.deleted, null);
  });

  it("an ownership cycle does not deadlock the deletion", async () => {
    const a = await k(Role).create(bodies.Role("cycle-a"));
    const b = await k(Role).create({
      ...bodies.Role("cycle-b"),
      metadata: { name: "cycle-b", owners: [ref(a)] },
    });
    a.metadata.owners = [ref(b)];
    await k(Role).update(a);
    await k(Role).delete("cycle-a", null);
    await gone(Role, "cycle-a", null);
    await gone(Role, "cycle-b", null);
  });

  it("an owner that does not exist is ignored; objects without dependents lose cascade_deletion at once", async () => {
    await k(Role).create({
      ...bodies.Role("orphan"),
      metadata: {
        name: "orphan",
        owners: [{ api: "core", kind: "Role", namespace: null, name: "never-existed" }],
      },
    });
    await k(Role).delete("orphan", null);
    await gone(Role, "orphan", null);
  });

  it("an object with an owner that is not being deleted stays", async () => {
    const parent = await k(Role).create(bodies.Role("parent"));
    await k(Role).create({ ...bodies.Role("child"), metadata: { name: "child", owners: [ref(parent)] } });
    await k(Role).delete("child", null);
    await gone(Role, "child", null);
    assert.equal((await k(Role).get("parent", null)).metadata.deleted, null);
    assert.match(cp.metrics.render(), /krake_gc_deletions_total\{kind="Application"\} 1/);
  });
});
