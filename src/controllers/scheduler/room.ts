/**
 * A cluster's room for one more application (docs/autoscaling.md, "Capacity model"), as pure functions and
 * one index, so that every rule is unit-tested on its own.
 *
 * Free capacity of an observed cluster (one with `status.capacity`), per resource (cpu, memory, pod slots):
 *
 *     free      = allocatable − committed − foreign
 *     committed = Σ requests of the applications bound to it (scheduled_to or running_on) or waiting for it
 *                 (auto_cluster_create_started), from their manifests; the application being placed excluded
 *     foreign   = max(0, observed requested − seen)
 *     seen      = Σ requests of the applications whose pods the observation may include: those running there
 *                 (running_on) and those bound to it (scheduled_to) before the observation was made
 *
 * `observed requested` (status.capacity.requested) is what the cluster controller saw the pods on the
 * schedulable workers request at `status.capacity.observed`: Krake's pods and the others (DaemonSets,
 * kube-system, anything deployed without Krake). Krake's own share is counted from the manifests instead, so
 * an application bound a moment ago counts at once, before its pods exist: ten applications placed in one
 * burst do not all take the same last free CPU, and pods of others (`foreign`) are not forgotten meanwhile,
 * since apps bound after the observation cannot be in it. The estimate is off only for an application bound
 * shortly before an observation whose pods were not created yet when it was made (foreign share underestimated
 * by at most their requests, until the next observation: every few seconds for clusters Krake created or
 * scales, every 30 s for registered ones). Binding times are the API server's clock, observation times the
 * cluster controller's: they are compared as they are.
 *
 * A cluster with `spec.autoscaling` counts its potential: the allocatable it would have at `workers.max`
 * (missing workers × the allocatable of one worker: its largest schedulable worker as observed, else one
 * worker as its template or TOSCA declares it), so growing it is preferred to creating a cluster.
 * A cluster not built yet (an auto-created one on its way) is predicted: its worker count × one worker's
 * allocatable (system pods not counted) minus what is committed to it.
 */
import type { Capacity } from "../cluster/capacity.js";
import { formatCpu, formatMemory } from "../../kube/quantity.js";
import { addResources, NO_REQUEST, NO_RESOURCES, type AppRequest, type Resources } from "./requests.js";
import type { Resource, ResourceRef } from "../../resources/kind.js";

/** The allocatable of one worker. */
export interface WorkerShape {
  cpu_millis: number;
  memory_bytes: number;
  pods: number;
}

export interface Room {
  /** What is still free (negative when more is committed than there is). */
  free: Resources;
  /** The largest worker (per resource): no pod larger than this can run. Null: unknown, not checked. */
  largest: { cpu_millis: number; memory_bytes: number } | null;
  /** How the figure was made, for messages (`at 10 workers`, `2 workers of …`); null for a plain look. */
  basis: string | null;
}

const minus = (a: Resources, b: Resources): Resources => addResources(a, b, -1);
const floor0 = (r: Resources): Resources => ({
  cpu_millis: Math.max(0, r.cpu_millis),
  memory_bytes: Math.max(0, r.memory_bytes),
  pods: Math.max(0, r.pods),
});

/** Room of a cluster the cluster controller observes; `growth` for one with an autoscaling policy. */
export function observedRoom(
  capacity: Pick<Capacity, "allocatable" | "requested" | "nodes">,
  committed: Resources,
  seen: Resources,
  growth?: { maxWorkers: number; shape: WorkerShape | null },
): Room {
  const workers = (capacity.nodes ?? []).filter((n) => n.schedulable);
  let allocatable: Resources = capacity.allocatable;
  let largest: Room["largest"] = workers.length
    ? {
        cpu_millis: Math.max(...workers.map((n) => n.allocatable.cpu_millis)),
        memory_bytes: Math.max(...workers.map((n) => n.allocatable.memory_bytes)),
      }
    : null;
  let basis: string | null = null;
  if (growth) {
    // A worker as the cluster's own nodes show it, else as its template or TOSCA declares it.
    const shape = largest ? { ...largest, pods: growth.shape?.pods ?? 110 } : growth.shape;
    const missing = Math.max(0, growth.maxWorkers - workers.length);
    if (shape && missing > 0) {
      allocatable = addResources(allocatable, shape, missing);
      largest = {
        cpu_millis: Math.max(largest?.cpu_millis ?? 0, shape.cpu_millis),
        memory_bytes: Math.max(largest?.memory_bytes ?? 0, shape.memory_bytes),
      };
      basis = `at ${growth.maxWorkers} workers`;
    }
  }
  const foreign = floor0(minus(capacity.requested, seen));
  return { free: minus(minus(allocatable, foreign), committed), largest, basis };
}

/** Room of a cluster not built yet: `workers` workers of `shape`, minus what is committed to it. */
export function predictedRoom(workers: number, shape: WorkerShape, committed: Resources): Room {
  const allocatable = addResources(NO_RESOURCES, shape, workers);
  return {
    free: minus(allocatable, committed),
    largest: workers > 0 ? { cpu_millis: shape.cpu_millis, memory_bytes: shape.memory_bytes } : null,
    basis: `${workers} worker${workers === 1 ? "" : "s"} of ${describe(shape, false)}`,
  };
}

/** `cpu 2, memory 1.5Gi, 3 pods` (negative figures shown as 0). */
export function describe(r: Resources, pods = true): string {
  const f = floor0(r);
  const text = `cpu ${formatCpu(f.cpu_millis)}, memory ${formatMemory(f.memory_bytes)}`;
  return pods ? `${text}, ${f.pods} pod${f.pods === 1 ? "" : "s"}` : text;
}

/**
 * Why `request` does not fit `room`, or null when it does. A resource the app does not ask for never
 * excludes a cluster (a Service-only app fits even a full one).
 */
export function shortfall(request: AppRequest, room: Room): string | null {
  const over = (want: number, have: number) => want > 0 && want > have;
  const { free } = room;
  if (
    over(request.cpu_millis, free.cpu_millis) ||
    over(request.memory_bytes, free.memory_bytes) ||
    over(request.pods, free.pods)
  ) {
    const where = room.basis ? ` (${room.basis})` : "";
    return `not enough room: needs ${describe(request)}; free ${describe(free)}${where}`;
  }
  const big = request.largest;
  if (
    room.largest &&
    (over(big.cpu_millis, room.largest.cpu_millis) || over(big.memory_bytes, room.largest.memory_bytes))
  )
    return `a pod needs ${describe({ ...big, pods: 1 }, false)}; the largest worker has ${describe({ ...room.largest, pods: 0 }, false)}`;
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// What applications hold on each cluster

/** What one application holds: its request, on which clusters (keys `namespace/name`). */
export interface Contribution {
  request: AppRequest;
  /** scheduled_to, running_on and the cluster it waits for, without repeats. */
  clusters: string[];
  scheduledTo: string | null;
  /** When it was bound to scheduledTo (ms since the epoch; 0 when unknown). */
  scheduledAt: number;
  running: string | null;
  waitingFor: string | null;
}

const clusterKey = (ref: ResourceRef | null | undefined, ns: string | null): string | null =>
  ref && ref.kind === "Cluster" ? `${ref.namespace ?? ns ?? ""}/${ref.name}` : null;

export function contributionOf(app: Resource, request: AppRequest): Contribution {
  const ns = app.metadata.namespace ?? null;
  const s = app.status ?? {};
  const scheduledTo = clusterKey(s.scheduled_to, ns);
  const running = clusterKey(s.running_on, ns);
  const waitingFor = s.auto_cluster_create_started ? `${ns ?? ""}/${s.auto_cluster_create_started}` : null;
  const clusters = [...new Set([scheduledTo, running, waitingFor].filter((k) => k !== null))];
  const at = s.scheduled ? Date.parse(s.scheduled) : NaN;
  return { request, clusters, scheduledTo, scheduledAt: Number.isFinite(at) ? at : 0, running, waitingFor };
}

interface Totals {
  committed: Resources;
  apps: Set<string>;
  waiting: Set<string>;
  /** Stamped on every change from one clock for all clusters, so a stamp is never reused (see `stamp`). */
  version: number;
  seen?: { version: number; at: number; sum: Resources };
}

interface Entry {
  contribution: Contribution;
  rv: string | null;
  /** From a decision of this process (a write on its way or just made): only a newer version replaces it. */
  assumed: boolean;
}

/** Whether resource version `a` is later than `b` (store revisions: decimal integers). */
export function newerVersion(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return a !== b;
  return a.length !== b.length ? a.length > b.length : a > b;
}

/**
 * Per cluster, what the applications hold: kept up to date from the application informer's events, and from
 * the scheduler's own decisions the moment they are taken (before the write that records them returns), so a
 * decision taken right after sees the one before it. An informer event replaces an assumed entry only once it
 * is newer than the version the decision produced.
 */
export class Commitments {
  private readonly apps = new Map<string, Entry>();
  private readonly totals = new Map<string, Totals>();
  private clock = 0;

  /** `onOccupancy(cluster)`: the cluster went from no application to some, or back. */
  constructor(private readonly onOccupancy: (cluster: string) => void = () => {}) {}

  /** An application as the informer has it. */
  observe(key: string, app: Resource, request: AppRequest): void {
    const entry = this.apps.get(key);
    if (entry?.assumed && !newerVersion(app.metadata.resource_version, entry.rv)) return;
    this.set(key, {
      contribution: contributionOf(app, request),
      rv: app.metadata.resource_version,
      assumed: false,
    });
  }

  /** A decision of this process: the application as it will be (or as the write returned it). */
  assume(key: string, app: Resource, request: AppRequest): void {
    this.set(key, {
      contribution: contributionOf(app, request),
      rv: app.metadata.resource_version,
      assumed: true,
    });
  }

  /** Undo an assumption whose write failed: back to what the informer has (or nothing). */
  revert(key: string, app: Resource | undefined, request: AppRequest): void {
    if (!app) return this.remove(key);
    this.set(key, {
      contribution: contributionOf(app, request),
      rv: app.metadata.resource_version,
      assumed: false,
    });
  }

  remove(key: string): void {
    const entry = this.apps.get(key);
    if (!entry) return;
    this.changing(entry.contribution.clusters, () => {
      this.apply(key, entry.contribution, -1);
      this.apps.delete(key);
    });
  }

  /** What the applications other than `except` hold on the cluster. */
  committed(cluster: string, except?: string): Resources {
    const t = this.totals.get(cluster);
    if (!t) return NO_RESOURCES;
    const own =
      except !== undefined && t.apps.has(except) ? this.apps.get(except)?.contribution.request : undefined;
    return own ? addResources(t.committed, own, -1) : t.committed;
  }

  /**
   * Requests of the applications whose pods an observation made at `observedAt` may include: running there,
   * or bound to it no later than then.
   */
  seen(cluster: string, observedAt: number): Resources {
    const t = this.totals.get(cluster);
    if (!t) return NO_RESOURCES;
    if (t.seen && t.seen.version === t.version && t.seen.at === observedAt) return t.seen.sum;
    let sum = NO_RESOURCES;
    for (const app of t.apps) {
      const c = this.apps.get(app)?.contribution;
      if (c && (c.running === cluster || (c.scheduledTo === cluster && c.scheduledAt <= observedAt)))
        sum = addResources(sum, c.request);
    }
    t.seen = { version: t.version, at: observedAt, sum };
    return sum;
  }

  /**
   * Changes whenever what the applications hold on the cluster changes (0: nothing held), and never comes
   * back to an earlier value: a figure computed at one stamp is valid as long as the stamp is the same.
   */
  stamp(cluster: string): number {
    return this.totals.get(cluster)?.version ?? 0;
  }

  /** Whether the application holds something on the cluster. */
  holds(cluster: string, app: string): boolean {
    return this.totals.get(cluster)?.apps.has(app) ?? false;
  }

  /** How many applications are bound to, scheduled to or waiting for the cluster. */
  occupants(cluster: string): number {
    return this.totals.get(cluster)?.apps.size ?? 0;
  }

  /** The applications waiting for the cluster (auto_cluster_create_started). */
  waiting(cluster: string): string[] {
    return [...(this.totals.get(cluster)?.waiting ?? [])];
  }

  /** The cluster an application waits for, as this index has it. */
  waitingFor(app: string): string | null {
    return this.apps.get(app)?.contribution.waitingFor ?? null;
  }

  private set(key: string, entry: Entry): void {
    const old = this.apps.get(key);
    this.changing([...(old?.contribution.clusters ?? []), ...entry.contribution.clusters], () => {
      if (old) this.apply(key, old.contribution, -1);
      this.apps.set(key, entry);
      this.apply(key, entry.contribution, 1);
    });
  }

  /** Runs `change`, then tells which of `clusters` went from empty to occupied or back. */
  private changing(clusters: string[], change: () => void): void {
    const before = new Map(clusters.map((c) => [c, this.occupants(c) > 0]));
    change();
    for (const [cluster, was] of before) if (was !== this.occupants(cluster) > 0) this.onOccupancy(cluster);
  }

  private apply(app: string, c: Contribution, sign: 1 | -1): void {
    for (const cluster of c.clusters) {
      let t = this.totals.get(cluster);
      if (!t) {
        t = { committed: NO_RESOURCES, apps: new Set(), waiting: new Set(), version: 0 };
        this.totals.set(cluster, t);
      }
      t.version = ++this.clock;
      t.committed = addResources(t.committed, c.request, sign);
      if (sign > 0) {
        t.apps.add(app);
        if (c.waitingFor === cluster) t.waiting.add(app);
      } else {
        t.apps.delete(app);
        t.waiting.delete(app);
      }
      if (t.apps.size === 0) this.totals.delete(cluster);
    }
  }
}

export { NO_REQUEST };
