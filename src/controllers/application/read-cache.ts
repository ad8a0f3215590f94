/**
 * Reads of application objects shared across the apps of a cluster. Reading each object back every two
 * seconds is one GET per object; with thousands of apps that alone kept a core busy (bench:apps). Here one
 * LIST per cluster, kind and namespace serves every app's read for `ttlMs`, and concurrent readers share the
 * request in flight. A kind the credentials may not list falls back to single GETs.
 *
 * Used for observation only: a pass that changes the cluster reads fresh, and every change invalidates the
 * lists it touched, so an app never judges its own write by an older list.
 */
import { KubeApiError, type KubeClient, type ObjectRef } from "../../kube/client.js";

type Obj = Record<string, any>;

interface Entry {
  at: number;
  /** null: listing is forbidden here; read one by one. */
  items: Promise<Map<string, Obj> | null>;
}

export class ClusterReadCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly ttlMs: number) {}

  async get(
    clusterKey: string,
    client: KubeClient,
    ref: ObjectRef,
    signal?: AbortSignal,
  ): Promise<Obj | null> {
    const key = await this.keyOf(clusterKey, client, ref, signal);
    let entry = this.entries.get(key);
    const now = Date.now();
    if (!entry || now - entry.at > this.ttlMs) {
      const namespace = key.slice(key.lastIndexOf("|") + 1);
      entry = { at: now, items: this.load(client, ref, namespace) };
      this.entries.set(key, entry);
      entry.items.catch(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      });
    }
    const items = await entry.items;
    if (items === null) return client.get<Obj>(ref, { signal });
    return items.get(ref.metadata.name) ?? null;
  }

  /** The lists holding `ref` are out of date (the controller just changed it). */
  async invalidate(clusterKey: string, client: KubeClient, ref: ObjectRef): Promise<void> {
    try {
      this.entries.delete(await this.keyOf(clusterKey, client, ref));
    } catch {
      // Unknown kind: nothing was cached for it.
    }
  }

  forgetCluster(clusterKey: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(`${clusterKey}|`)) this.entries.delete(key);
  }

  private async keyOf(
    clusterKey: string,
    client: KubeClient,
    ref: ObjectRef,
    signal?: AbortSignal,
  ): Promise<string> {
    const info = await client.resource(ref.apiVersion, ref.kind, { signal });
    const namespace = info.namespaced ? ref.metadata.namespace || client.namespace : "";
    return `${clusterKey}|${ref.apiVersion}|${ref.kind}|${namespace}`;
  }

  /** Shared by every reader: not tied to one reader's signal (the client's timeout bounds it). */
  private async load(
    client: KubeClient,
    ref: ObjectRef,
    namespace: string,
  ): Promise<Map<string, Obj> | null> {
    try {
      const items = await client.list<Obj>(ref.apiVersion, ref.kind, namespace || null);
      // A list's items carry no apiVersion and kind of their own; observations compare them.
      return new Map(
        items.map((o) => [String(o.metadata?.name), { apiVersion: ref.apiVersion, kind: ref.kind, ...o }]),
      );
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 403) return null;
      throw err;
    }
  }
}
