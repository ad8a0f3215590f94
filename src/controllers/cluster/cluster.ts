/**
 * The Kubernetes cluster controller (controllers.md §6): watches over every cluster that has a kubeconfig —
 * registered ones, and those the infrastructure controller handed over in CONNECTING — and keeps its state
 * and `status.nodes` true to what the cluster's API says.
 *
 * Each cluster is looked at every `observeIntervalMs` (a re-queue, never a sleeping loop per cluster):
 * - API unreachable or answering errors → OFFLINE with the reason, looked at again with a growing delay;
 * - a node under Memory/Disk/PID pressure → UNHEALTHY; a node not Ready, or no node at all → NOTREADY;
 * - otherwise ONLINE (FAILING_METRICS is the scheduler's and is kept);
 * - `spec.custom_resources` naming a CRD the cluster does not serve → reason INVALID_CUSTOM_RESOURCE;
 * - `status.capacity` (allocatable, requested, pods waiting for room, idle nodes) at every look for clusters
 *   that scale or were created by Krake, every `capacityIntervalMs` for the others (a pod list is not free).
 * Only changes are written (Krake's X17), with the resource_version read.
 * While the infrastructure controller works on it (CREATING, RECONCILING, …) a cluster is left alone.
 */
import { isDeepStrictEqual } from "node:util";
import { KrakeApiError } from "../../client/index.js";
import { Controller, type ControllerContext, type ReconcileResult } from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import { KubeApiError, KubeClient } from "../../kube/client.js";
import { ClusterClients } from "../../kube/clients.js";
import { KubeconfigError } from "../../kube/kubeconfig.js";
import type { Resource } from "../../resources/kind.js";
import { Cluster, clusterHasKubeconfig, clusterHasTosca } from "../../resources/registry.js";
import { computeCapacity, sameCapacity, type Capacity } from "./capacity.js";

export interface ClusterControllerOptions {
  workers?: number;
  /** How often a reachable cluster is looked at (Krake: 2 s). */
  observeIntervalMs?: number;
  /** The longest wait between two looks at an unreachable cluster. */
  maxOfflineIntervalMs?: number;
  /** Timeout of one call to a cluster's API. */
  timeoutMs?: number;
  /** How often the capacity of a cluster without autoscaling is re-read (it lists every pod). */
  capacityIntervalMs?: number;
  /** Tests may swap how a kubeconfig becomes a client. */
  clientFor?: (kubeconfig: Record<string, unknown>) => KubeClient;
}

/** States in which the infrastructure controller owns the cluster. */
const INFRASTRUCTURE_STATES = new Set([
  "PENDING",
  "CREATING",
  "RECONCILING",
  "FAILING_RECONCILIATION",
  "DELETING",
]);
const PRESSURE = /Pressure$/;

interface ClusterNode {
  api: "kubernetes";
  kind: "ClusterNode";
  metadata: { name: string };
  status: { conditions: { type: string; status: string; reason: string; message: string }[] };
}

interface Observation {
  state: string;
  nodes: ClusterNode[];
  reason: { code: string; message: string } | null;
  /** Undefined: not looked at this time (the stored figures stay). */
  capacity?: Capacity;
}

export class ClusterController extends Controller {
  readonly name = "cluster";
  private readonly clusters;
  private readonly queue;
  private readonly opts: Required<Omit<ClusterControllerOptions, "clientFor">> &
    Pick<ClusterControllerOptions, "clientFor">;
  /** Per cluster: its client, rebuilt when the kubeconfig changes. */
  private readonly clients: ClusterClients;
  /** Consecutive failed looks per cluster: the OFFLINE backoff. */
  private readonly failures = new Map<string, number>();
  /** When each cluster's pods were last listed for its capacity. */
  private readonly capacityAt = new Map<string, number>();

  constructor(ctx: ControllerContext, options: ClusterControllerOptions = {}) {
    super(ctx);
    this.opts = {
      workers: 5,
      observeIntervalMs: 2_000,
      maxOfflineIntervalMs: 60_000,
      timeoutMs: 10_000,
      capacityIntervalMs: 30_000,
      ...options,
    };
    this.clients = new ClusterClients(
      this.opts.clientFor ?? ((kc) => KubeClient.fromKubeconfig(kc, { timeoutMs: this.opts.timeoutMs })),
    );
    this.clusters = this.informer(new Informer(ctx.client, Cluster, { log: ctx.log }));
    this.queue = this.loop("clusters", (key, signal) => this.reconcile(key, signal), {
      workers: this.opts.workers,
    });
    const enqueue = (c: Resource) => {
      if (this.wanted(c)) this.queue.add(keyOf(c));
    };
    this.clusters.on({
      add: enqueue,
      update: (old, c) => {
        // Its own status writes need no extra look (one is already scheduled); a changed spec (a new
        // kubeconfig) or a hand-over from the infrastructure controller does.
        if (!this.wanted(old) || !isDeepStrictEqual(old.spec, c.spec)) enqueue(c);
      },
      delete: (c) => this.forget(keyOf(c)),
    });
  }

  private wanted(c: Resource): boolean {
    if (c.metadata.deleted || c.status.state === "FAILED") return false;
    if (!clusterHasKubeconfig(c)) return false;
    // A registered cluster starts PENDING and is ours at once; a built one only once handed over.
    if (INFRASTRUCTURE_STATES.has(c.status.state))
      return c.status.state === "PENDING" && !c.status.cluster_id && !clusterHasTosca(c);
    return true;
  }

  private forget(key: string) {
    this.clients.forget(key);
    this.failures.delete(key);
    this.capacityAt.delete(key);
  }

  private clientOf(key: string, cluster: Resource): KubeClient {
    const { client, fresh } = this.clients.get(key, cluster.spec.kubeconfig);
    // A new kubeconfig starts the OFFLINE backoff over.
    if (fresh) this.failures.delete(key);
    return client;
  }

  private async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const cluster = this.clusters.get(key);
    if (!cluster || !this.wanted(cluster)) {
      this.forget(key);
      return;
    }
    let seen: Observation;
    let reachable = true;
    try {
      seen = await this.observe(key, cluster, this.clientOf(key, cluster), signal);
    } catch (err) {
      if (signal.aborted) throw err;
      reachable = false;
      const message =
        err instanceof KubeconfigError ? err.message : `${(err as Error).message}`.slice(0, 1000);
      seen = {
        state: "OFFLINE",
        nodes: cluster.status.nodes ?? [],
        reason: { code: "CLUSTER_NOT_REACHABLE", message },
      };
    }
    if (cluster.status.state === "FAILING_METRICS" && seen.state === "ONLINE") seen.state = "FAILING_METRICS";
    await this.write(cluster, seen, signal);
    if (reachable) {
      if (this.failures.delete(key))
        this.ctx.log.info({ cluster: key, state: seen.state }, "cluster reachable again");
      return { requeueAfterMs: jitter(this.opts.observeIntervalMs) };
    }
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    if (failures === 1) this.ctx.log.warn({ cluster: key, err: seen.reason?.message }, "cluster unreachable");
    return {
      requeueAfterMs: Math.min(
        this.opts.maxOfflineIntervalMs,
        jitter(this.opts.observeIntervalMs * 2 ** (failures - 1)),
      ),
    };
  }

  /** What the cluster's API says now. Throws when it cannot be asked. */
  private async observe(
    key: string,
    cluster: Resource,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<Observation> {
    const list = await client.request<{ items?: any[] }>("GET", "/api/v1/nodes", { signal });
    const nodes: ClusterNode[] = (list.items ?? []).map((n) => ({
      api: "kubernetes",
      kind: "ClusterNode",
      metadata: { name: String(n.metadata?.name ?? "") },
      status: {
        conditions: (n.status?.conditions ?? []).map((c: any) => ({
          type: String(c.type ?? ""),
          status: String(c.status ?? "Unknown"),
          reason: String(c.reason ?? ""),
          message: String(c.message ?? ""),
        })),
      },
    }));
    nodes.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const conditions = nodes.flatMap((n) => n.status.conditions);
    const ready = (n: ClusterNode) =>
      n.status.conditions.some((c) => c.type === "Ready" && c.status === "True");
    const state = conditions.some((c) => PRESSURE.test(c.type) && c.status === "True")
      ? "UNHEALTHY"
      : nodes.length === 0 || !nodes.every(ready)
        ? "NOTREADY"
        : "ONLINE";
    const reason = await this.missingCustomResources(cluster, client, signal);
    const capacity = await this.capacity(key, cluster, list.items ?? [], client, signal);
    return { state, nodes, reason, capacity };
  }

  private async capacity(
    key: string,
    cluster: Resource,
    nodeItems: any[],
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<Capacity | undefined> {
    const automated = Boolean(cluster.spec.autoscaling || cluster.spec.auto_generated);
    const last = this.capacityAt.get(key);
    if (!automated && last !== undefined && Date.now() - last < this.opts.capacityIntervalMs)
      return undefined;
    const pods = await client.request<{ items?: any[] }>("GET", "/api/v1/pods", { signal });
    this.capacityAt.set(key, Date.now());
    return computeCapacity(nodeItems, pods.items ?? [], cluster.status.capacity ?? null, {
      now: new Date(),
      utilizationBelow: cluster.spec.autoscaling?.scale_down?.utilization_below ?? 0.5,
    });
  }

  private async missingCustomResources(
    cluster: Resource,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<Observation["reason"]> {
    const missing: string[] = [];
    for (const name of (cluster.spec.custom_resources ?? []) as string[]) {
      try {
        await client.request(
          "GET",
          `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${encodeURIComponent(name)}`,
          {
            signal,
          },
        );
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) missing.push(name);
        else throw err;
      }
    }
    return missing.length
      ? {
          code: "INVALID_CUSTOM_RESOURCE",
          message: `spec.custom_resources names ${missing.map((m) => `'${m}'`).join(", ")}, which the cluster does not serve`,
        }
      : null;
  }

  private async write(cluster: Resource, seen: Observation, signal: AbortSignal): Promise<void> {
    const s = cluster.status;
    const capacity = seen.capacity === undefined ? (s.capacity ?? null) : seen.capacity;
    if (
      s.state === seen.state &&
      isDeepStrictEqual(s.nodes, seen.nodes) &&
      isDeepStrictEqual(s.reason ?? null, seen.reason) &&
      sameCapacity(s.capacity ?? null, capacity)
    )
      return;
    if (s.state !== seen.state)
      this.ctx.log.info(
        { cluster: keyOf(cluster), from: s.state, to: seen.state, reason: seen.reason?.message },
        "cluster state",
      );
    const next = {
      ...cluster,
      status: {
        ...s,
        state: seen.state,
        nodes: seen.nodes,
        reason: seen.reason,
        capacity,
        kube_controller_triggered: new Date().toISOString(),
      },
    };
    try {
      this.clusters.observeWrite(await this.api(Cluster).updateStatus(next, { signal }));
    } catch (err) {
      // Deleted meanwhile: nothing to report on.
      if (!(err instanceof KrakeApiError && err.status === 404)) throw err;
    }
  }
}

/** ±10 %, so that hundreds of clusters registered together are not all looked at in the same instant. */
function jitter(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}
