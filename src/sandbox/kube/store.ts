/**
 * The object store of one simulated cluster: objects by type, namespace and name, one resourceVersion
 * counter for the cluster, an owner index (for garbage collection and the workload controllers), change
 * listeners (watches and controllers) and a bounded history of changes that watches resume from.
 *
 * Stored objects are never mutated: every write stores a new object. Their JSON text is computed once, on
 * the first read, so that a GET is a lookup and a write of a cached string.
 */
import type { ResourceType } from "./resources.js";

export interface Entry {
  readonly rt: ResourceType;
  readonly obj: any;
  /** JSON text of `obj`, made on first use. */
  json?: string;
}

export function jsonOf(e: Entry): string {
  return (e.json ??= JSON.stringify(e.obj));
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface StoreEvent {
  type: EventType;
  rv: number;
  entry: Entry;
  /** The object before a MODIFIED or DELETED. */
  prev?: any;
}

export type Listener = (ev: StoreEvent) => void;

/**
 * How many changes a cluster remembers, by default, for watches that resume from a resourceVersion (the real
 * server's watch cache keeps 100 per resource type, then asks etcd). Bounded: each holds an old object.
 */
export const DEFAULT_HISTORY = 1000;

function nsOf(obj: any): string {
  return obj.metadata?.namespace ?? "";
}

export class Store {
  private rv = 0;
  private readonly objects = new Map<string, Map<string, Map<string, Entry>>>();
  private readonly owned = new Map<string, Set<Entry>>();
  private readonly listeners = new Set<Listener>();
  private readonly history: StoreEvent[] = [];
  private historyStart = 0;

  constructor(private readonly historySize = DEFAULT_HISTORY) {}

  /** The latest resourceVersion. */
  get resourceVersion(): number {
    return this.rv;
  }

  /** The oldest resourceVersion a watch can resume from. */
  get oldestResumable(): number {
    return this.history.length === 0 ? this.rv : this.history[this.historyStart].rv - 1;
  }

  get(rt: ResourceType, namespace: string, name: string): Entry | undefined {
    return this.objects
      .get(rt.key)
      ?.get(rt.namespaced ? namespace : "")
      ?.get(name);
  }

  /** Objects of a type, in one namespace or (undefined) all. */
  *list(rt: ResourceType, namespace?: string): Iterable<Entry> {
    const byNs = this.objects.get(rt.key);
    if (!byNs) return;
    if (namespace !== undefined && rt.namespaced) {
      const names = byNs.get(namespace);
      if (names) yield* names.values();
      return;
    }
    for (const names of byNs.values()) yield* names.values();
  }

  count(rt: ResourceType, namespace?: string): number {
    const byNs = this.objects.get(rt.key);
    if (!byNs) return 0;
    if (namespace !== undefined && rt.namespaced) return byNs.get(namespace)?.size ?? 0;
    let n = 0;
    for (const names of byNs.values()) n += names.size;
    return n;
  }

  /** Namespaces that hold objects of some type (for namespace deletion). */
  typesIn(namespace: string): string[] {
    const out: string[] = [];
    for (const [key, byNs] of this.objects) if (byNs.get(namespace)?.size) out.push(key);
    return out;
  }

  /** Objects whose ownerReferences name `uid`. */
  dependents(uid: string): Entry[] {
    return [...(this.owned.get(uid) ?? [])];
  }

  /**
   * Stores a new version of an object (created when absent) with the next resourceVersion. `obj` must be
   * a fresh object the caller will not touch again; its metadata gets the resourceVersion.
   */
  put(rt: ResourceType, obj: any): Entry {
    const rv = ++this.rv;
    obj.metadata = { ...obj.metadata, resourceVersion: String(rv) };
    const entry: Entry = { rt, obj };
    const ns = rt.namespaced ? nsOf(obj) : "";
    let byNs = this.objects.get(rt.key);
    if (!byNs) this.objects.set(rt.key, (byNs = new Map()));
    let names = byNs.get(ns);
    if (!names) byNs.set(ns, (names = new Map()));
    const prev = names.get(obj.metadata.name);
    names.set(obj.metadata.name, entry);
    if (prev) this.unindex(prev);
    this.index(entry);
    this.emit({ type: prev ? "MODIFIED" : "ADDED", rv, entry, prev: prev?.obj });
    return entry;
  }

  /** Removes an object; the DELETED event carries it with a new resourceVersion. */
  remove(rt: ResourceType, namespace: string, name: string): Entry | undefined {
    const ns = rt.namespaced ? namespace : "";
    const names = this.objects.get(rt.key)?.get(ns);
    const prev = names?.get(name);
    if (!names || !prev) return undefined;
    names.delete(name);
    if (names.size === 0) this.objects.get(rt.key)!.delete(ns);
    this.unindex(prev);
    const rv = ++this.rv;
    const entry: Entry = {
      rt,
      obj: { ...prev.obj, metadata: { ...prev.obj.metadata, resourceVersion: String(rv) } },
    };
    this.emit({ type: "DELETED", rv, entry, prev: prev.obj });
    return entry;
  }

  /** Changes after `rv`, or undefined when they are no longer remembered. */
  since(rv: number): StoreEvent[] | undefined {
    if (rv >= this.rv) return [];
    if (rv < this.oldestResumable) return undefined;
    const out: StoreEvent[] = [];
    for (let i = 0; i < this.history.length; i++) {
      const ev = this.history[(this.historyStart + i) % this.history.length];
      if (ev.rv > rv) out.push(ev);
    }
    return out;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(ev: StoreEvent): void {
    if (this.history.length < this.historySize) this.history.push(ev);
    else {
      this.history[this.historyStart] = ev;
      this.historyStart = (this.historyStart + 1) % this.historySize;
    }
    for (const l of this.listeners) l(ev);
  }

  private index(e: Entry): void {
    for (const ref of e.obj.metadata?.ownerReferences ?? []) {
      if (!ref?.uid) continue;
      let set = this.owned.get(ref.uid);
      if (!set) this.owned.set(ref.uid, (set = new Set()));
      set.add(e);
    }
  }

  private unindex(e: Entry): void {
    for (const ref of e.obj.metadata?.ownerReferences ?? []) {
      const set = this.owned.get(ref?.uid);
      if (!set) continue;
      set.delete(e);
      if (set.size === 0) this.owned.delete(ref.uid);
    }
  }
}
