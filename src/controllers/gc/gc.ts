/**
 * The garbage collector (controllers.md §9): deleting an object deletes its dependents first — every object
 * that lists it in `metadata.owners` — and only then drops its `cascade_deletion` finalizer, so a Cloud
 * disappears after its Clusters, a Cluster after its Applications. Finalizers are LIFO: the GC acts only
 * when `cascade_deletion` is the last one.
 *
 * Ownership cycles (A owns B, B owns A) would make each wait for the other forever; a dependent that is
 * itself a (transitive) owner of the object does not block it. Owners that do not exist are ignored.
 */
import { KrakeApiError } from "../../client/index.js";
import { Controller, type ControllerContext } from "../../controller/controller.js";
import { Informer } from "../../controller/informer.js";
import type { KindDef, Resource, ResourceRef } from "../../resources/kind.js";
import { KINDS, kindByName } from "../../resources/registry.js";

export const CASCADE = "cascade_deletion";

const nodeKey = (kind: string, namespace: string | null | undefined, name: string) =>
  `${kind}/${namespace ?? ""}/${name}`;
const objKey = (o: Resource) => nodeKey(o.kind, o.metadata.namespace, o.metadata.name);
const refKey = (r: ResourceRef) => nodeKey(r.kind, r.namespace, r.name);

export class GarbageCollector extends Controller {
  readonly name = "gc";
  private readonly informersByKind = new Map<string, Informer>();
  /** owner key → dependent keys, from every object's metadata.owners. */
  private readonly dependents = new Map<string, Set<string>>();
  /** dependent key → its owner keys (to undo edges on update and delete). */
  private readonly owners = new Map<string, string[]>();
  private readonly queue;
  private readonly deleted;

  private readonly evacuate: boolean;

  constructor(ctx: ControllerContext, options: { workers?: number; evacuate?: boolean } = {}) {
    super(ctx);
    this.evacuate = options.evacuate ?? true;
    this.queue = this.loop("cascade", (key, signal) => this.reconcile(key, signal), {
      workers: options.workers ?? 5,
    });
    this.deleted = ctx.metrics.counter(
      "krake_gc_deletions_total",
      "Dependents deleted by the garbage collector",
    );
    for (const def of KINDS) {
      const informer = this.informer(new Informer(ctx.client, def, { log: ctx.log }));
      this.informersByKind.set(def.kind, informer);
      informer.on({
        add: (o) => this.observe(o),
        update: (_old, o) => this.observe(o),
        delete: (o) => this.forget(o),
      });
    }
  }

  private observe(o: Resource): void {
    const key = objKey(o);
    const before = this.owners.get(key) ?? [];
    this.unlink(key);
    const ownerKeys = (o.metadata.owners ?? []).map(refKey);
    this.owners.set(key, ownerKeys);
    for (const owner of ownerKeys) {
      let set = this.dependents.get(owner);
      if (!set) this.dependents.set(owner, (set = new Set()));
      set.add(key);
    }
    if (this.wantsCascade(o)) this.queue.add(key);
    // An owner this object left (an app evacuated off a cluster being deleted) may finish now.
    for (const owner of before) if (!ownerKeys.includes(owner)) this.queue.add(owner);
  }

  /**
   * Apps that allow migration are not deleted with their cluster (Krake's X28): the scheduler moves them
   * and the application controller lets go of the cluster; the cluster waits for that.
   */
  private evacuates(owner: KindDef, dependent: { def: KindDef; obj: Resource }): boolean {
    return (
      this.evacuate &&
      owner.kind === "Cluster" &&
      dependent.def.kind === "Application" &&
      dependent.obj.spec?.constraints?.migration !== false
    );
  }

  private forget(o: Resource): void {
    const key = objKey(o);
    const ownerKeys = this.owners.get(key) ?? [];
    this.unlink(key);
    this.owners.delete(key);
    // An owner waiting for its last dependent can finish now.
    for (const owner of ownerKeys) this.queue.add(owner);
  }

  private unlink(key: string): void {
    for (const owner of this.owners.get(key) ?? []) {
      const set = this.dependents.get(owner);
      set?.delete(key);
      if (set?.size === 0) this.dependents.delete(owner);
    }
  }

  private wantsCascade(o: Resource): boolean {
    const f = o.metadata.finalizers ?? [];
    return Boolean(o.metadata.deleted) && f[f.length - 1] === CASCADE;
  }

  private lookup(key: string): { def: KindDef; obj: Resource } | undefined {
    const [kind, namespace, ...rest] = key.split("/");
    const def = kindByName(kind);
    const obj = this.informersByKind.get(kind)?.getByName(rest.join("/"), namespace || null);
    return def && obj ? { def, obj } : undefined;
  }

  /** Whether `target` is reachable from `from` through dependents edges (i.e. `from` transitively owns it). */
  private owns(from: string, target: string): boolean {
    const seen = new Set<string>([from]);
    const stack = [from];
    while (stack.length) {
      for (const next of this.dependents.get(stack.pop()!) ?? []) {
        if (next === target) return true;
        if (!seen.has(next)) {
          seen.add(next);
          stack.push(next);
        }
      }
    }
    return false;
  }

  private async reconcile(key: string, signal: AbortSignal): Promise<void> {
    const found = this.lookup(key);
    if (!found || !this.wantsCascade(found.obj)) return;
    const { def, obj } = found;
    const blocking: string[] = [];
    for (const dep of this.dependents.get(key) ?? []) {
      const d = this.lookup(dep);
      if (!d) continue;
      // In a cycle the dependent is deleted too, but neither waits for the other.
      if (!this.owns(dep, key)) blocking.push(dep);
      if (this.evacuates(def, d)) continue;
      if (!d.obj.metadata.deleted) {
        try {
          await this.ctx.client.kind(d.def).delete(d.obj.metadata.name, d.obj.metadata.namespace, { signal });
          this.deleted.inc({ kind: d.def.kind });
          this.ctx.log.info({ owner: key, dependent: dep }, "deleting dependent");
        } catch (err) {
          if (!(err instanceof KrakeApiError && err.status === 404)) throw err;
        }
      }
    }
    // Each dependent's removal re-enqueues us (forget()); nothing to do until the last one is gone.
    if (blocking.length > 0) return;
    const next = structuredClone(obj);
    next.metadata.finalizers = next.metadata.finalizers.slice(0, -1);
    try {
      // The resource_version makes this a compare-and-swap: a concurrent change gives 409 and a retry.
      await this.ctx.client.kind(def).update(next, { signal });
      this.ctx.log.info({ object: key }, "dependents gone; removed cascade_deletion");
    } catch (err) {
      if (err instanceof KrakeApiError && err.status === 404) return;
      throw err;
    }
  }
}
