/**
 * One Kubernetes client per cluster, for controllers that talk to many clusters: kept while the cluster's
 * kubeconfig stays the same (its keep-alive connections and discovery cache with it), rebuilt when it
 * changes.
 */
import { isDeepStrictEqual } from "node:util";
import { KubeClient } from "./client.js";

export class ClusterClients {
  private readonly clients = new Map<string, { kubeconfig: unknown; client: KubeClient }>();

  constructor(private readonly create: (kubeconfig: Record<string, unknown>) => KubeClient) {}

  /** The cluster's client; `fresh` when it was just built (new cluster or new kubeconfig). */
  get(key: string, kubeconfig: Record<string, unknown>): { client: KubeClient; fresh: boolean } {
    const known = this.clients.get(key);
    // Informers hand out the same object between events; compare in depth only when a new copy arrived.
    if (known && (known.kubeconfig === kubeconfig || isDeepStrictEqual(known.kubeconfig, kubeconfig))) {
      known.kubeconfig = kubeconfig;
      return { client: known.client, fresh: false };
    }
    const client = this.create(kubeconfig);
    this.clients.set(key, { kubeconfig, client });
    return { client, fresh: true };
  }

  forget(key: string): void {
    this.clients.delete(key);
  }
}
