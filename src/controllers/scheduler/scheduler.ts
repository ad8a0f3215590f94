/**
 * The scheduler (controllers.md §2): binds Applications to Clusters and Krake-created Clusters to Clouds.
 *
 * Applications: filter ONLINE clusters of the app's namespace by label, custom-resource and metric
 * constraints (on labels and metrics inherited from the cluster's cloud), rank by the weighted metric
 * score with stickiness, bind; re-evaluate every `reschedule_after` seconds so metric changes migrate apps.
 * Clusters without a kubeconfig: pick a namespaced cloud, else a global one, by the cloud's constraints
 * and score. When nothing fits the reason names which constraint excluded which candidate.
 *
 * Capacity (docs/autoscaling.md, "Capacity model"; room.ts): after the constraints, a cluster whose
 * `status.capacity` is known must have room for the app's request (requests.ts); clusters whose capacity is
 * not known yet are not filtered, as before.
 *
 * New clusters (docs/autoscaling.md, "Goal 1"): an app with `spec.auto_cluster_create` that fits nowhere
 * waits for an auto-created cluster being built that has room for it, or for a new cluster made from the best
 * matching ClusterTemplate / GlobalClusterTemplate; those decisions are taken one at a time (`autoCreate`
 * holds one lock), from reservations read from the apps (`status.auto_cluster_create_started`). An emptied
 * auto-created cluster is retired after its template's retention.
 *
 * Krake's defects fixed here: X2/X3 (metric constraints), X5 (inheritance), X6 (cloud state writes), X7
 * (the periodic re-evaluation is a deadline events do not push back), X8 (DEGRADED retried on time), X9
 * (auto-created clusters bound to the chosen cloud, idleness over all apps), X10/X11 (empty or zero-weight
 * rankings), X12 (metric cache), X29 (clusters without a cloud are retried).
 */
import { randomInt } from "node:crypto";
import { KrakeApiError } from "../../client/index.js";
import { withEvent } from "../../controller/events.js";
import {
  Controller,
  StaleObjectError,
  type ControllerContext,
  type ReconcileResult,
} from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import type { Histogram, Counter } from "../../controller/metrics.js";
import { MetricsCache } from "../../metrics/index.js";
import { systemShape } from "../../kube/cluster-tosca.js";
import type { Resource, ResourceRef } from "../../resources/kind.js";
import {
  Application,
  Cloud,
  Cluster,
  ClusterTemplate,
  clusterHasKubeconfig,
  GlobalCloud,
  GlobalClusterTemplate,
  GlobalMetric,
  GlobalMetricsProvider,
  Metric,
  MetricsProvider,
} from "../../resources/registry.js";
import { MetricValues, type Collected, type MetricCatalog, type Reason } from "./collect.js";
import { cloudMetricRefs, effectiveCluster } from "./inherit.js";
import { applicationRequest, isEmpty, NO_RESOURCES, type AppRequest } from "./requests.js";
import {
  Commitments,
  newerVersion,
  observedRoom,
  predictedRoom,
  shortfall,
  type Room,
  type WorkerShape,
} from "./room.js";
import {
  chooseCloud,
  chooseCluster,
  cloudScore,
  explainNoFit,
  mismatch,
  parseConstraints,
  pickBest,
  type Candidate,
  type Decision,
  type MetricRef,
  type ParsedConstraints,
  type Scored,
} from "./select.js";
import {
  bestPlan,
  clusterFromTemplate,
  clusterName,
  clusterPrediction,
  EVENT_SOURCE,
  explainTemplates,
  isTemplateCluster,
  refOfTemplate,
  retentionStep,
  sameTemplate,
  stillBuilding,
  templateLabel,
  templateRefOf,
  templateShape,
  templateTitle,
  templateWorkers,
  type Plan,
  type TemplateRef,
} from "./templates.js";

export interface SchedulerOptions {
  /** Seconds between re-evaluations of a placed application (Krake: 60). */
  rescheduleAfterSeconds?: number;
  /** Score bonus of the current cluster, a migration-cost threshold (Krake: 0.1). */
  stickiness?: number;
  workers?: number;
  /** How long a metric value is used before it is fetched again (served stale meanwhile). */
  metricsTtlMs?: number;
  metricsCache?: MetricsCache;
  random?: () => number;
  /** Called with every application decision's duration in ms (benchmarks; the histogram is coarser). */
  onDecision?: (ms: number) => void;
}

interface ClusterCandidate extends Candidate {
  cluster: Resource;
}

interface CloudCandidate extends Candidate {
  cloud: Resource;
}

/** How often an app waiting for a cluster being built is looked at without an event (Krake: 30 s). */
const WAITING_RECHECK_MS = 30_000;
/** Retention of the clusters of a template that was deleted (the template's default). */
const DEFAULT_RETENTION_SECONDS = 600;

/** One decision at a time: the auto-create and retirement decisions hold it across their API writes. */
class Lock {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** A cluster's labels and metric refs with cloud inheritance applied, valid while neither changes. */
interface Evaluation {
  stamp: string;
  labels: Record<string, string>;
  metrics: MetricRef[];
  /** Its metric values, valid while MetricValues.generation equals `generation`. */
  collected: Collected | null;
  generation: number;
}

class NoFit extends Error {}

const ref = (o: Resource): ResourceRef => ({
  api: o.api,
  kind: o.kind,
  namespace: o.metadata.namespace ?? null,
  name: o.metadata.name,
});
/**
 * A scheduling failure put the app in DEGRADED (NO_SUITABLE_RESOURCE) and it waits for a place, or it waits
 * for a cluster being created for it (WAITING_FOR_CLUSTER_CREATION). Other DEGRADED apps are unhealthy
 * workloads, the application controller's business.
 */
const awaitingPlacement = (app: Resource) =>
  (app.status.state === "DEGRADED" || app.status.state === "WAITING_FOR_CLUSTER_CREATION") &&
  app.status.reason?.code === "NO_SUITABLE_RESOURCE";

/** The app's request (computed once by the informer's transform; computed here for a full object). */
const requestOf = (app: Resource): AppRequest => app.request ?? applicationRequest(app.spec?.manifest);

const sameRef = (a: ResourceRef | null | undefined, b: ResourceRef | null | undefined) =>
  Boolean(
    a && b && a.kind === b.kind && a.name === b.name && (a.namespace ?? null) === (b.namespace ?? null),
  );

export class Scheduler extends Controller {
  readonly name = "scheduler";
  private readonly apps;
  private readonly clusters;
  private readonly clouds;
  private readonly globalClouds;
  private readonly catalogInformers;
  private readonly appQueue;
  private readonly clusterQueue;
  private readonly cache: MetricsCache;
  private readonly evaluations = new Map<string, Evaluation>();
  private readonly values: MetricValues;
  /** Bumped by every cluster or cloud event: cached candidate lists are then stale. */
  private clusterVersion = 0;
  private readonly byNamespace = new Map<
    string,
    { version: number; generation: number; list: ClusterCandidate[] }
  >();
  /** Apps to look at now even if their DEGRADED retry is later: a new candidate appeared. */
  private readonly nudged = new Set<string>();
  private readonly rescheduleMs: number;
  private readonly stickiness: number;
  private readonly random: () => number;
  private readonly onDecision?: (ms: number) => void;
  private readonly decisionTime: Histogram;
  private readonly decisions: Counter;
  private readonly templates;
  private readonly globalTemplates;
  /** What the applications hold on each cluster: the capacity model's committed requests and reservations. */
  private readonly commitments: Commitments;
  /** The last room computed per cluster, with what it was computed from (see `roomOf`). */
  private readonly rooms = new Map<string, { rv: string | null; stamp: number; room: Room }>();
  private readonly lock = new Lock();
  /** Clusters this process created, until the informer has them (a decision right after must see them). */
  private readonly created = new Map<string, Resource>();
  /** Clusters being created and bound by autoCreate: the cluster loop neither binds nor retires them. */
  private readonly creating = new Set<string>();
  /** Clusters whose deletion this process asked for, until the informer shows them deleted. */
  private readonly retiring = new Set<string>();
  private readonly clustersCreated: Counter;
  private readonly clustersRetired: Counter;

  constructor(ctx: ControllerContext, options: SchedulerOptions = {}) {
    super(ctx);
    this.rescheduleMs = (options.rescheduleAfterSeconds ?? 60) * 1000;
    this.stickiness = options.stickiness ?? 0.1;
    this.random = options.random ?? Math.random;
    this.onDecision = options.onDecision;
    // The values layer below keeps each value for metricsTtlMs; this cache only merges concurrent queries.
    this.cache = options.metricsCache ?? new MetricsCache({ ttlMs: 1_000 });
    const log = ctx.log;
    this.apps = this.informer(new Informer(ctx.client, Application, { log, transform: trimApplication }));
    this.clusters = this.informer(new Informer(ctx.client, Cluster, { log }));
    this.templates = this.informer(new Informer(ctx.client, ClusterTemplate, { log }));
    this.globalTemplates = this.informer(new Informer(ctx.client, GlobalClusterTemplate, { log }));
    // A template cluster that became empty, or in use again, has a retention decision to take.
    this.commitments = new Commitments((key) => {
      const c = this.clusters.get(key);
      if (c && isTemplateCluster(c)) this.clusterQueue.add(key);
    });
    this.clouds = this.informer(new Informer(ctx.client, Cloud, { log }));
    this.globalClouds = this.informer(new Informer(ctx.client, GlobalCloud, { log }));
    this.catalogInformers = {
      metrics: this.informer(new Informer(ctx.client, Metric, { log })),
      globalMetrics: this.informer(new Informer(ctx.client, GlobalMetric, { log })),
      providers: this.informer(new Informer(ctx.client, MetricsProvider, { log })),
      globalProviders: this.informer(new Informer(ctx.client, GlobalMetricsProvider, { log })),
    };
    const c = this.catalogInformers;
    const catalog: MetricCatalog = {
      metric: (name, ns) => c.metrics.getByName(name, ns),
      globalMetric: (name) => c.globalMetrics.getByName(name, null),
      provider: (name, ns) => c.providers.getByName(name, ns),
      globalProvider: (name) => c.globalProviders.getByName(name, null),
    };
    this.values = new MetricValues(catalog, this.cache, options.metricsTtlMs ?? 10_000);
    const workers = options.workers ?? 5;
    this.appQueue = this.loop("applications", (key, signal) => this.reconcileApp(key, signal), { workers });
    this.clusterQueue = this.loop("clusters", (key, signal) => this.reconcileCluster(key, signal), {
      workers,
    });
    this.decisionTime = ctx.metrics.histogram(
      "krake_scheduler_decision_duration_seconds",
      "Time from picking up an object to the scheduling decision",
    );
    this.decisions = ctx.metrics.counter(
      "krake_scheduler_decisions_total",
      "Scheduling decisions by outcome",
    );
    this.clustersCreated = ctx.metrics.counter(
      "krake_scheduler_clusters_created_total",
      "Clusters created from a cluster template for applications that fit nowhere",
    );
    this.clustersRetired = ctx.metrics.counter(
      "krake_scheduler_clusters_retired_total",
      "Auto-created clusters deleted after their retention with nothing on them",
    );

    this.apps.on({
      add: (a) => {
        this.commitments.observe(keyOf(a), a, requestOf(a));
        this.appChanged(a);
      },
      update: (_old, a) => {
        this.commitments.observe(keyOf(a), a, requestOf(a));
        this.appChanged(a);
      },
      delete: (a) => this.commitments.remove(keyOf(a)),
    });
    this.clusters.on({
      add: (c) => {
        this.settleCreated(c);
        this.clusterChanged(c);
        if (isTemplateCluster(c)) this.templateClustersChanged(refOfTemplate(c)!);
      },
      update: (old, c) => {
        this.settleCreated(c);
        this.clusterChanged(c, old);
      },
      delete: (c) => {
        const key = keyOf(c);
        this.clusterVersion++;
        this.evaluations.delete(key);
        this.rooms.delete(key);
        this.created.delete(key);
        this.retiring.delete(key);
        // Apps waiting for it go back to looking for a place.
        this.nudgeUnplacedApps(c.metadata.namespace);
        if (isTemplateCluster(c)) this.templateClustersChanged(refOfTemplate(c)!);
      },
    });
    const templateChanged = (t: Resource) => {
      this.nudgeUnplacedApps(t.kind === "ClusterTemplate" ? t.metadata.namespace : null);
      this.templateClustersChanged(templateRefOf(t));
    };
    for (const informer of [this.templates, this.globalTemplates])
      informer.on({ add: templateChanged, update: (_o, t) => templateChanged(t), delete: templateChanged });
    const catalogChanged = () => {
      this.clusterVersion++;
      this.values.invalidate();
      this.nudgeUnplacedApps(null);
      for (const c of this.clusters.list()) if (this.needsCloud(c)) this.clusterQueue.add(keyOf(c));
    };
    for (const informer of [this.clouds, this.globalClouds, ...Object.values(c)]) {
      informer.on({ add: catalogChanged, update: catalogChanged, delete: catalogChanged });
    }
  }

  /**
   * A user edit (modified after the last handshake) or an unplaced app is decided now. Other changes —
   * mostly the application controller's status writes — only keep the periodic re-evaluation, whose
   * deadline they do not push back, so placed apps move at most once per reschedule_after (§11).
   */
  private appChanged(app: Resource): void {
    if (app.metadata.deleted || app.status.state === "FAILED") return;
    const key = keyOf(app);
    const triggered = app.status.kube_controller_triggered
      ? Date.parse(app.status.kube_controller_triggered)
      : 0;
    const settled = app.status.scheduled_to && triggered >= Date.parse(app.metadata.modified ?? "");
    if (!settled || awaitingPlacement(app)) this.appQueue.add(key);
    else if (app.spec.constraints.migration !== false) this.appQueue.addAfter(key, this.rescheduleMs);
  }

  private clusterChanged(c: Resource, old?: Resource): void {
    this.clusterVersion++;
    // A cluster being deleted: the apps on it that may move are placed elsewhere now (evacuation).
    if (c.metadata.deleted && !old?.metadata.deleted) {
      for (const app of this.apps.list()) {
        const to = app.status.scheduled_to;
        if (to && to.name === c.metadata.name && to.namespace === c.metadata.namespace)
          this.appQueue.add(keyOf(app));
      }
    }
    if (this.needsCloud(c) || isTemplateCluster(c)) this.clusterQueue.add(keyOf(c));
    // A cluster that became usable, or whose labels or metrics changed, may be where a waiting app fits.
    if (
      !old ||
      old.status.state !== c.status.state ||
      old.metadata.resource_version !== c.metadata.resource_version
    ) {
      this.nudgeUnplacedApps(c.metadata.namespace);
    }
  }

  /** Apps not placed (or waiting after a failed placement) get a prompt look instead of their backoff. */
  private nudgeUnplacedApps(namespace: string | null): void {
    for (const app of this.apps.list()) {
      if (namespace !== null && app.metadata.namespace !== namespace) continue;
      if (app.metadata.deleted || app.status.state === "FAILED") continue;
      if (app.status.scheduled_to && !awaitingPlacement(app)) continue;
      const key = keyOf(app);
      this.nudged.add(key);
      this.appQueue.add(key);
    }
  }

  /** The informer caught up with a cluster this process created: its own copy is no longer needed. */
  private settleCreated(c: Resource): void {
    const mine = this.created.get(keyOf(c));
    if (mine && !newerVersion(mine.metadata.resource_version, c.metadata.resource_version))
      this.created.delete(keyOf(c));
  }

  /** The clusters of a template have something to reconsider: their count (clusters.min) or its settings. */
  private templateClustersChanged(ref: TemplateRef): void {
    for (const c of this.clusters.list())
      if (sameTemplate(refOfTemplate(c), ref)) this.clusterQueue.add(keyOf(c));
  }

  private needsCloud(c: Resource): boolean {
    return (
      !c.metadata.deleted && !clusterHasKubeconfig(c) && c.status.state !== "FAILED" && !c.status.scheduled_to
    );
  }

  // -------------------------------------------------------------------------------------------------------
  // Applications

  private async reconcileApp(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const app = this.apps.get(key);
    if (!app || app.metadata.deleted || app.status.state === "FAILED") return;
    const started = process.hrtime.bigint();
    const now = Date.now();
    const nudged = this.nudged.delete(key);
    if (awaitingPlacement(app) && app.status.scheduled_retry && !nudged) {
      const at = Date.parse(app.status.scheduled_retry);
      if (at > now) return { requeueAfterMs: at - now };
    }
    const migration = app.spec.constraints.migration !== false;
    let decision: Decision<ClusterCandidate>;
    try {
      decision = await this.decideApp(app, now, signal);
    } catch (err) {
      if (!(err instanceof NoFit)) throw err;
      this.decisionTime.observe({ kind: "Application" }, Number(process.hrtime.bigint() - started) / 1e9);
      if (await this.mayCreateCluster(app, signal))
        return this.lock.run(() => this.autoCreate(key, app, signal));
      this.decisions.inc({ kind: "Application", outcome: "no_fit" });
      return this.appNoFit(app, err.message, now, signal);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.decisionTime.observe({ kind: "Application" }, seconds);
    this.onDecision?.(seconds * 1000);
    const chosen = decision.chosen!.candidate.cluster;
    const target = ref(chosen);
    const current = app.status.scheduled_to;
    if (sameRef(target, current)) {
      this.decisions.inc({ kind: "Application", outcome: decision.kept ? "kept" : "unchanged" });
      await this.releaseToController(app, now, signal);
    } else {
      this.decisions.inc({ kind: "Application", outcome: current ? "migrated" : "bound" });
      this.ctx.log.info(
        {
          app: key,
          cluster: chosen.metadata.name,
          from: current?.name ?? null,
          scores: topScores(decision.scores),
          ranked: decision.scores.length,
          excluded: decision.excluded.length,
        },
        current ? "migrating application" : "scheduled application",
      );
      // Counted on the cluster from now on, before the write returns: the next decision sees it.
      const request = requestOf(app);
      const intended = { ...app.status, scheduled_to: target, scheduled: new Date().toISOString() };
      this.commitments.assume(key, { ...app, status: intended }, request);
      let bound: Resource;
      try {
        bound = await this.api(Application).action(
          app.metadata.name,
          "binding",
          { api: "kubernetes", kind: "ClusterBinding", cluster: target },
          app.metadata.namespace,
          { signal },
        );
      } catch (err) {
        this.commitments.revert(key, this.apps.get(key), request);
        throw err;
      }
      this.commitments.assume(key, bound, request);
      await this.clearNoFit(bound, signal);
    }
    return migration ? { requeueAfterMs: this.rescheduleMs } : undefined;
  }

  private async decideApp(
    app: Resource,
    now: number,
    signal: AbortSignal,
  ): Promise<Decision<ClusterCandidate>> {
    const ns = app.metadata.namespace!;
    const current: ResourceRef | null = app.status.scheduled_to;
    const inNamespace = () => this.clusters.list().filter((c) => c.metadata.namespace === ns);
    // Pinned (migration disabled, or a failed move is cooling down): stays where it is while that cluster
    // exists.
    const coolingDown = (app.status.migration_timeout ?? 0) * 1000 > now;
    if (current && (app.spec.constraints.migration === false || coolingDown)) {
      const cur = inNamespace().find((c) => c.metadata.name === current.name && !c.metadata.deleted);
      if (cur) {
        const [candidate] = await this.candidates([cur], signal);
        return { chosen: { candidate, score: NaN }, scores: [], excluded: [], kept: true };
      }
    }
    const candidates = await this.onlineCandidates(ns, inNamespace, signal);
    const scheduled = app.status.scheduled ? Date.parse(app.status.scheduled) : 0;
    const input = {
      candidates,
      constraints: appConstraints(app),
      currentId: current ? current.name : null,
      recentlyScheduled: Boolean(current) && now - scheduled < this.rescheduleMs,
      stickiness: this.stickiness,
      random: this.random,
      room: this.roomCheck(app),
    };
    // The cluster created for the app, once usable and with room, is where it goes (Krake §2.3 step 4).
    const waitedFor: string | null = app.status.auto_cluster_create_started;
    if (waitedFor) {
      const mine = candidates.filter((c) => c.cluster.metadata.name === waitedFor);
      const decision = mine.length ? chooseCluster({ ...input, candidates: mine, explain: false }) : null;
      if (decision?.chosen) return decision;
    }
    let decision = chooseCluster({ ...input, explain: false });
    // Reasons are worth their cost only when they are shown.
    if (!decision.chosen) decision = chooseCluster(input);
    if (!decision.chosen) {
      const offline = inNamespace().length - candidates.length;
      const excluded = [...decision.excluded];
      if (offline > 0) excluded.push({ id: `${offline} cluster(s)`, reason: "not ONLINE or being deleted" });
      throw new NoFit(explainNoFit(excluded, `cluster in namespace '${ns}'`));
    }
    return decision;
  }

  /** The scheduler-first handshake (§2.3): a user edit reaches the application controller only now. */
  private async releaseToController(app: Resource, now: number, signal: AbortSignal): Promise<void> {
    const triggered = app.status.kube_controller_triggered
      ? Date.parse(app.status.kube_controller_triggered)
      : 0;
    const modified = Date.parse(app.metadata.modified ?? "");
    const degraded = awaitingPlacement(app) || Boolean(app.status.auto_cluster_create_started);
    if (triggered >= modified && !degraded) return;
    await this.writeAppStatus(app, signal, {
      ...(triggered < modified ? { kube_controller_triggered: new Date(now).toISOString() } : {}),
      ...(degraded ? this.afterNoFit(app) : {}),
    });
  }

  private async clearNoFit(app: Resource, signal: AbortSignal): Promise<void> {
    if (!awaitingPlacement(app) && !app.status.auto_cluster_create_started) return;
    await this.writeAppStatus(app, signal, this.afterNoFit(app));
  }

  /** Placed: the no-fit marker and the reservation of a cluster being created go. */
  private afterNoFit(app: Resource): Record<string, unknown> {
    return {
      state: app.status.running_on ? "RUNNING" : "PENDING",
      reason: null,
      retries: app.spec.backoff_limit,
      scheduled_retry: null,
      ...(app.status.auto_cluster_create_started ? { auto_cluster_create_started: null } : {}),
    };
  }

  /** No cluster fits: DEGRADED with a retry time while retries remain (−1: forever), else FAILED. */
  private async appNoFit(
    app: Resource,
    why: string,
    now: number,
    signal: AbortSignal,
  ): Promise<ReconcileResult | void> {
    const limit: number = app.spec.backoff_limit;
    let retries: number = app.status.retries ?? limit;
    const changes: Record<string, unknown> = { reason: { code: "NO_SUITABLE_RESOURCE", message: why } };
    const sameReason = app.status.reason?.message === why && app.status.state === "DEGRADED";
    // No cluster being created for it any more (failed, deleted, or no template can make one now).
    if (app.status.auto_cluster_create_started) changes.auto_cluster_create_started = null;
    let delayMs: number | undefined;
    if (limit === -1 || retries > 0) {
      if (limit > 0) retries--;
      delayMs = Math.max(1, app.spec.backoff_delay * app.spec.backoff) * 1000;
      changes.state = "DEGRADED";
      changes.scheduled_retry = new Date(now + delayMs).toISOString();
    } else changes.state = "FAILED";
    changes.retries = retries;
    if (!sameReason) this.ctx.log.warn({ app: keyOf(app), reason: why }, "no cluster fits the application");
    await this.writeAppStatus(app, signal, changes);
    return delayMs !== undefined ? { requeueAfterMs: delayMs } : undefined;
  }

  /**
   * Writes status fields. The informer keeps applications trimmed to what scheduling reads, so the whole
   * object is read first; a version other than the one decided on is a conflict, retried on fresh data.
   */
  private async writeAppStatus(
    app: Resource,
    signal: AbortSignal,
    changes: Record<string, unknown>,
  ): Promise<Resource> {
    const api = this.api(Application);
    const fresh = await api.get(app.metadata.name, app.metadata.namespace, { signal });
    if (fresh.metadata.resource_version !== app.metadata.resource_version) {
      throw new StaleObjectError(`application ${keyOf(app)} changed while it was being scheduled; deciding again`);
    }
    Object.assign(fresh.status, changes);
    // A reservation (or its end) counts from the moment it is decided, as a binding does.
    const key = keyOf(app);
    const request = requestOf(fresh);
    this.commitments.assume(key, fresh, request);
    try {
      const written = await api.updateStatus(fresh, { signal });
      this.commitments.assume(key, written, request);
      return written;
    } catch (err) {
      this.commitments.revert(key, this.apps.get(key), request);
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Capacity

  /** The capacity filter of one app's decision; undefined when the app asks for no room at all. */
  private roomCheck(app: Resource): ((c: ClusterCandidate) => string | null) | undefined {
    const request = requestOf(app);
    if (isEmpty(request)) return undefined;
    const key = keyOf(app);
    const current: ResourceRef | null = app.status.scheduled_to;
    return (c) => {
      // Where the app is already placed its pods are (or are being) put: running out of room there is for
      // the autoscaler to solve, not a reason to move.
      if (current && current.name === c.cluster.metadata.name) return null;
      const room = this.roomOf(c.cluster, key);
      return room ? shortfall(request, room) : null;
    };
  }

  /** A cluster's room for app `except` (its own holding not counted); null when its capacity is unknown. */
  private roomOf(cluster: Resource, except: string): Room | null {
    const capacity = cluster.status.capacity;
    if (!capacity) return null;
    const key = keyOf(cluster);
    const policy = cluster.spec.autoscaling;
    // Every decision weighs every cluster: the room of a cluster is computed once per change of the cluster
    // or of what the apps hold on it (bench:scheduler: median decision 2.3 → 0.6 ms with 1,000 clusters).
    // Not cached: autoscaled clusters (their room also follows their template) and the app's own clusters.
    const cacheable = !policy && !this.commitments.holds(key, except);
    const rv = cluster.metadata.resource_version;
    const stamp = this.commitments.stamp(key);
    const hit = cacheable ? this.rooms.get(key) : undefined;
    if (hit && hit.rv === rv && hit.stamp === stamp) return hit.room;
    const room = observedRoom(
      capacity,
      this.commitments.committed(key, except),
      this.commitments.seen(key, Date.parse(capacity.observed)),
      policy ? { maxWorkers: policy.workers.max, shape: this.workerShapeOf(cluster) } : undefined,
    );
    if (cacheable) this.rooms.set(key, { rv, stamp, room });
    return room;
  }

  /** One worker of a cluster as its template or TOSCA declares it (room.ts prefers the observed workers). */
  private workerShapeOf(cluster: Resource): WorkerShape | null {
    const template = this.templateOf(refOfTemplate(cluster));
    const shape = template ? templateShape(template) : null;
    if (shape) return shape;
    const vm = systemShape(cluster.spec.tosca ?? {}, cluster.spec.autoscaling?.workers.system ?? "wn");
    return vm ? { cpu_millis: vm.cpuMillis, memory_bytes: vm.memoryBytes, pods: 110 } : null;
  }

  private templateOf(ref: TemplateRef | null): Resource | undefined {
    if (!ref) return undefined;
    const t =
      ref.kind === "GlobalClusterTemplate"
        ? this.globalTemplates.getByName(ref.name, null)
        : this.templates.getByName(ref.name, ref.namespace);
    return t && !t.metadata.deleted ? t : undefined;
  }

  // -------------------------------------------------------------------------------------------------------
  // Goal 1: a new cluster for an app that fits nowhere (docs/autoscaling.md)

  /**
   * Whether the app may have a cluster made for it: it asks for it, and it is not placed on a living cluster
   * that still satisfies its constraints (an app on a cluster that is down for a while waits for it, as
   * before, rather than have a cluster built every time one blinks).
   */
  private async mayCreateCluster(app: Resource, signal: AbortSignal): Promise<boolean> {
    if (!app.spec.auto_cluster_create || app.metadata.deleted) return false;
    const to: ResourceRef | null = app.status.scheduled_to;
    if (!to) return true;
    const cluster = this.clusters.getByName(to.name, to.namespace ?? app.metadata.namespace);
    if (!cluster || cluster.metadata.deleted || cluster.status.state === "FAILED") return true;
    const [candidate] = await this.candidates([cluster], signal);
    return mismatch(candidate, appConstraints(app)) !== null;
  }

  /**
   * Steps 1–3 of Goal 1, under the lock: wait for a cluster being created that has room, else create one
   * from the best matching template and wait for it, else NO_SUITABLE_RESOURCE with a line per template.
   * Every input is read afresh here (reservations from the apps, clusters from the informer and this process's own
   * creations), so the apps of a burst fill one new cluster before the next is made.
   */
  private async autoCreate(key: string, app: Resource, signal: AbortSignal): Promise<ReconcileResult | void> {
    const now = Date.now();
    const latest = this.apps.get(key);
    if (!latest || latest.metadata.resource_version !== app.metadata.resource_version)
      throw new StaleObjectError(`application ${key} changed while it waited to be decided; deciding again`);
    // Decided again under the lock: while the app waited for it, a cluster may have come up (or been filled).
    let why: string;
    try {
      await this.decideApp(app, now, signal);
      return { requeueAfterMs: 0 };
    } catch (err) {
      if (!(err instanceof NoFit)) throw err;
      why = err.message;
    }
    const ns = app.metadata.namespace!;
    const request = requestOf(app);
    const constraints = appConstraints(app);

    const reuse = await this.clusterBeingCreated(key, request, constraints, ns, signal);
    if (reuse) {
      this.decisions.inc({ kind: "Application", outcome: "waiting" });
      return this.reserve(app, reuse.cluster, reuse.template, signal);
    }

    const { plan, verdicts } = await this.planTemplates(request, constraints, ns, signal);
    if (!plan) {
      this.decisions.inc({ kind: "Application", outcome: "no_fit" });
      return this.appNoFit(app, `${why}\n${explainTemplates(verdicts, ns)}`, now, signal);
    }
    const cluster = await this.createCluster(app, plan, signal);
    const clusterKey = keyOf(cluster);
    const template = templateRefOf(plan.template);
    try {
      this.decisions.inc({ kind: "Application", outcome: "waiting" });
      return await this.reserve(app, cluster, template, signal);
    } finally {
      const cloud = `${plan.cloud.kind} '${plan.cloud.metadata.name}'`;
      const message = `created from ${templateTitle(template)} on ${cloud} for application '${app.metadata.name}', which fits no existing cluster`;
      await this.appendEvent(cluster, "Normal", "Created", message, signal).catch((err) =>
        this.ctx.log.warn(
          { cluster: clusterKey, err: (err as Error).message },
          "cannot record a cluster event",
        ),
      );
      this.creating.delete(clusterKey);
      this.clusterQueue.add(clusterKey);
    }
  }

  /** Every cluster of the namespace: the informer's, with this process's newer copies of those it created. */
  private clustersOf(ns: string | null): Resource[] {
    const all = new Map<string, Resource>();
    for (const c of this.clusters.list())
      if (ns === null || c.metadata.namespace === ns) all.set(keyOf(c), c);
    for (const [key, c] of this.created) {
      if (ns !== null && c.metadata.namespace !== ns) continue;
      const known = all.get(key);
      if (!known || newerVersion(c.metadata.resource_version, known.metadata.resource_version))
        all.set(key, c);
    }
    return [...all.values()];
  }

  /** The clusters of a template that count towards clusters.min/max: not deleted, not being retired. */
  private aliveOf(ref: TemplateRef): Resource[] {
    return this.clustersOf(null).filter(
      (c) => sameTemplate(refOfTemplate(c), ref) && !c.metadata.deleted && !this.retiring.has(keyOf(c)),
    );
  }

  /**
   * Step 1: an auto-created cluster of the namespace still being built (not usable yet, or not every worker
   * joined yet; not failed) that satisfies the app's constraints and whose predicted room, minus what the
   * apps already waiting for it request, holds the app. The one the app already waits for comes first, then
   * the oldest: the first new cluster fills up before a second one is used. A new cluster nobody waits for
   * (its creator crashed before recording the wait) is found here too, so a crash never leads to a second
   * cluster.
   */
  private async clusterBeingCreated(
    key: string,
    request: AppRequest,
    constraints: ParsedConstraints,
    ns: string,
    signal: AbortSignal,
  ): Promise<{ cluster: Resource; template: TemplateRef } | null> {
    const own = this.commitments.waitingFor(key);
    const building = this.clustersOf(ns)
      .filter(
        (c) =>
          isTemplateCluster(c) &&
          !this.retiring.has(keyOf(c)) &&
          stillBuilding(c, this.templateOf(refOfTemplate(c))),
      )
      .sort(
        (a, b) =>
          Number(keyOf(b) === own) - Number(keyOf(a) === own) ||
          String(a.metadata.created ?? "").localeCompare(String(b.metadata.created ?? "")) ||
          a.metadata.name.localeCompare(b.metadata.name),
      );
    for (const cluster of building) {
      const [candidate] = await this.candidates([cluster], signal);
      if (mismatch(candidate, constraints)) continue;
      const template = refOfTemplate(cluster)!;
      const prediction = clusterPrediction(cluster, this.templateOf(template));
      if (!prediction) continue;
      const room = predictedRoom(
        prediction.workers,
        prediction.shape,
        this.commitments.committed(keyOf(cluster), key),
      );
      if (shortfall(request, room)) continue;
      return { cluster, template };
    }
    return null;
  }

  /**
   * Step 2: the templates that can serve the app, namespaced ones of its namespace first, then global ones;
   * within a scope the one whose cloud scores best. With each template that cannot, the reason why.
   */
  private async planTemplates(
    request: AppRequest,
    constraints: ParsedConstraints,
    ns: string,
    signal: AbortSignal,
  ): Promise<{ plan: Plan | null; verdicts: { template: TemplateRef; reason: string }[] }> {
    const verdicts: { template: TemplateRef; reason: string }[] = [];
    const byName = (a: Resource, b: Resource) => a.metadata.name.localeCompare(b.metadata.name);
    const scopes = [
      this.templates.list().filter((t) => t.metadata.namespace === ns && !t.metadata.deleted),
      this.globalTemplates.list().filter((t) => !t.metadata.deleted),
    ];
    const clouds = new Map<string, Promise<CloudCandidate>>();
    for (const scope of scopes) {
      const plans: Plan[] = [];
      for (const template of scope.sort(byName)) {
        const verdict = await this.judgeTemplate(template, request, constraints, ns, clouds, signal);
        if (typeof verdict === "string")
          verdicts.push({ template: templateRefOf(template), reason: verdict });
        else plans.push(verdict);
      }
      const best = bestPlan(plans);
      if (best) return { plan: best, verdicts };
    }
    return { plan: null, verdicts };
  }

  /**
   * A template's plan for the app, or why it cannot serve it: no cloud both satisfies the template's cloud
   * constraints and gives a cluster (the template's labels and metrics, with the cloud's when inherited) that
   * satisfies the app's constraints; a new cluster would be too small; or clusters.max of its clusters exist.
   * The cloud is chosen as for any cluster: namespaced clouds first, then global ones, best metric score.
   */
  private async judgeTemplate(
    template: Resource,
    request: AppRequest,
    constraints: ParsedConstraints,
    ns: string,
    clouds: Map<string, Promise<CloudCandidate>>,
    signal: AbortSignal,
  ): Promise<Plan | string> {
    const shape = templateShape(template);
    if (!shape) return "the allocatable of one worker is unknown (give workers.cpu and workers.memory)";
    const probe = clusterFromTemplate(template, template.metadata.name);
    probe.metadata.namespace = ns;
    const cloudConstraints = parseConstraints({
      labels: template.spec.constraints.cloud.labels,
      metrics: template.spec.constraints.cloud.metrics,
    });
    const excluded: { id: string; reason: string }[] = [];
    let chosen: Scored<CloudCandidate> | null = null;
    for (const [informer, scope] of [
      [this.clouds, "Cloud"],
      [this.globalClouds, "GlobalCloud"],
    ] as const) {
      const options: Scored<CloudCandidate>[] = [];
      for (const cloud of informer.list()) {
        if (cloud.metadata.deleted || (scope === "Cloud" && cloud.metadata.namespace !== ns)) continue;
        const id = `${scope} ${cloud.metadata.name}`;
        let pending = clouds.get(id);
        if (!pending) {
          pending = this.cloudCandidate(cloud, id, signal);
          clouds.set(id, pending);
        }
        const candidate = await pending;
        const why = mismatch(candidate, cloudConstraints);
        if (why) {
          excluded.push({ id, reason: why });
          continue;
        }
        const effective = effectiveCluster(probe, cloud);
        const collected = await this.values.collect(effective.metrics, ns, signal);
        const cluster: Candidate = {
          id,
          kind: "cluster",
          labels: effective.labels,
          customResources: [],
          metrics: collected.values,
        };
        const appWhy = mismatch(cluster, constraints);
        if (appWhy) {
          excluded.push({ id, reason: `a cluster there: ${appWhy}` });
          continue;
        }
        options.push({ candidate, score: cloudScore(candidate.metrics) });
      }
      chosen = pickBest(options, this.random);
      if (chosen) break;
    }
    if (!chosen) return explainNoFit(excluded, "cloud");
    const short = shortfall(request, predictedRoom(templateWorkers(template), shape, NO_RESOURCES));
    if (short) return `a new cluster: ${short}`;
    const alive = this.aliveOf(templateRefOf(template));
    if (alive.length >= template.spec.clusters.max)
      return `clusters.max (${template.spec.clusters.max}) reached: ${alive.map((c) => keyOf(c).replace(/^\//, "")).join(", ")}`;
    return { template, cloud: chosen.candidate.cloud, score: chosen.score };
  }

  private async cloudCandidate(cloud: Resource, id: string, signal: AbortSignal): Promise<CloudCandidate> {
    const collected = await this.values.collect(
      cloudMetricRefs(cloud),
      cloud.metadata.namespace ?? null,
      signal,
    );
    return { id, kind: "cloud", labels: cloud.metadata.labels ?? {}, metrics: collected.values, cloud };
  }

  /**
   * Creates the cluster a plan describes, named `<template>-<5 random letters>`, and binds it to the plan's
   * cloud at once (Krake's X9: the cloud chosen is the cloud used). Kept in `created` until the informer has
   * it, and in `creating` until the caller has recorded who waits for it.
   */
  private async createCluster(app: Resource, plan: Plan, signal: AbortSignal): Promise<Resource> {
    const ns = app.metadata.namespace!;
    const template = templateRefOf(plan.template);
    const api = this.api(Cluster);
    for (let attempt = 0; ; attempt++) {
      const name = clusterName(plan.template.metadata.name, () => randomInt(1 << 30) / (1 << 30));
      const key = `${ns}/${name}`;
      if (this.clusters.get(key) || this.created.has(key)) continue;
      this.creating.add(key);
      let created: Resource;
      try {
        created = await api.create(clusterFromTemplate(plan.template, name), ns, { signal });
      } catch (err) {
        this.creating.delete(key);
        if (err instanceof KrakeApiError && err.status === 409 && attempt < 3) continue;
        throw err;
      }
      this.created.set(key, created);
      this.clustersCreated.inc({ template: templateLabel(template) });
      this.ctx.log.info(
        {
          cluster: key,
          template: templateLabel(template),
          cloud: `${plan.cloud.kind} ${plan.cloud.metadata.name}`,
          app: keyOf(app),
        },
        "created a cluster from a template",
      );
      try {
        const bound = await api.action(
          name,
          "binding",
          { api: "infrastructure", kind: "CloudBinding", cloud: ref(plan.cloud) },
          ns,
          { signal },
        );
        this.created.set(key, bound);
        return bound;
      } catch (err) {
        // Unbound, it is bound by its cloud constraints like any cluster; the app finds it in step 1.
        this.creating.delete(key);
        this.clusterQueue.add(key);
        throw err;
      }
    }
  }

  /** The app waits for `cluster`: WAITING_FOR_CLUSTER_CREATION, with the cluster and the template named. */
  private async reserve(
    app: Resource,
    cluster: Resource,
    template: TemplateRef,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const name = cluster.metadata.name;
    const message = `waiting for cluster '${name}', being created from ${templateTitle(template)}: no existing cluster fits`;
    const s = app.status;
    if (
      s.state === "WAITING_FOR_CLUSTER_CREATION" &&
      s.reason?.code === "NO_SUITABLE_RESOURCE" &&
      s.reason.message === message &&
      s.auto_cluster_create_started === name
    )
      return { requeueAfterMs: WAITING_RECHECK_MS };
    this.ctx.log.info(
      { app: keyOf(app), cluster: name, template: templateLabel(template) },
      "application waits for a cluster being created",
    );
    await this.writeAppStatus(app, signal, {
      state: "WAITING_FOR_CLUSTER_CREATION",
      reason: { code: "NO_SUITABLE_RESOURCE", message },
      auto_cluster_create_started: name,
      scheduled_retry: null,
      retries: app.spec.backoff_limit,
    });
    return { requeueAfterMs: WAITING_RECHECK_MS };
  }

  // -------------------------------------------------------------------------------------------------------
  // Retention of auto-created clusters

  /**
   * Goal 1 step 5: an auto-created cluster with no application bound, scheduled or waiting is recorded idle
   * (an `Idle` event: the time survives a restart), and deleted once idle for its template's retention, as
   * long as more than clusters.min clusters of the template remain. An application arriving meanwhile ends
   * the idle time (an `InUse` event).
   */
  private async retain(key: string, cluster: Resource, signal: AbortSignal): Promise<ReconcileResult | void> {
    const ref = refOfTemplate(cluster)!;
    const template = this.templateOf(ref);
    const retention: number = template?.spec.retention ?? DEFAULT_RETENTION_SECONDS;
    const min: number = template?.spec.clusters.min ?? 0;
    const occupants = this.commitments.occupants(key);
    const occupied = occupants > 0 || this.creating.has(key);
    const step = retentionStep({
      occupied,
      events: cluster.status.events,
      now: Date.now(),
      retentionSeconds: retention,
      alive: occupied ? 0 : this.aliveOf(ref).length,
      min,
    });
    switch (step.step) {
      case "in-use":
        if (step.record)
          await this.appendEvent(
            cluster,
            "Normal",
            "InUse",
            `in use again: ${occupants} application(s)`,
            signal,
          );
        return;
      case "idle":
        if (step.record)
          await this.appendEvent(
            cluster,
            "Normal",
            "Idle",
            `no application bound, scheduled or waiting: deleted after ${retention} s unless one arrives` +
              (min > 0 ? ` (at least ${min} cluster(s) of ${templateTitle(ref)} are kept)` : ""),
            signal,
          );
        return { requeueAfterMs: step.dueInMs };
      case "keep":
        // Re-considered when another cluster of the template appears or the template changes.
        return;
      case "retire":
        return this.lock.run(() => this.retire(key, ref, min, retention, signal));
    }
  }

  private async retire(
    key: string,
    ref: TemplateRef,
    min: number,
    retention: number,
    signal: AbortSignal,
  ): Promise<void> {
    const cluster = this.clusters.get(key);
    // Looked at again under the lock: an app may have been bound or may wait for it by now.
    if (!cluster || cluster.metadata.deleted || this.commitments.occupants(key) > 0 || this.creating.has(key))
      return;
    const alive = this.aliveOf(ref).length;
    if (alive <= min) return;
    const message = `idle for ${retention} s with nothing bound, scheduled or waiting; ${alive - 1} cluster(s) of ${templateTitle(ref)} remain (clusters.min ${min})`;
    await this.appendEvent(cluster, "Normal", "Retired", message, signal);
    if (this.commitments.occupants(key) > 0) return;
    this.retiring.add(key);
    try {
      await this.api(Cluster).delete(cluster.metadata.name, cluster.metadata.namespace, { signal });
    } catch (err) {
      this.retiring.delete(key);
      if (err instanceof KrakeApiError && err.status === 404) return;
      throw err;
    }
    this.clustersRetired.inc({ template: templateLabel(ref) });
    this.ctx.log.info(
      { cluster: key, template: templateLabel(ref) },
      `retired an auto-created cluster: ${message}`,
    );
  }

  /** Appends one of the scheduler's events to a cluster's `status.events` (last 50 kept), on fresh data. */
  private async appendEvent(
    cluster: Resource,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
    signal: AbortSignal,
  ): Promise<void> {
    const api = this.api(Cluster);
    for (let attempt = 0; ; attempt++) {
      const fresh = await api.get(cluster.metadata.name, cluster.metadata.namespace, { signal });
      fresh.status.events = withEvent(fresh.status.events, {
        time: new Date().toISOString(),
        type,
        reason,
        message,
        source: EVENT_SOURCE,
      });
      try {
        this.clusters.observeWrite(await api.updateStatus(fresh, { signal }));
        return;
      } catch (err) {
        // Another controller wrote the status in between: add the event to theirs.
        if (err instanceof KrakeApiError && err.status === 409 && attempt < 5) continue;
        throw err;
      }
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Cluster evaluation (shared by every app decision)

  /**
   * The ONLINE candidates of a namespace, rebuilt only when a cluster, a cloud or a metric value changed:
   * a burst of applications shares one evaluation instead of redoing it per app. Every cluster is
   * evaluated, not only ONLINE ones: that is how a FAILING_METRICS cluster recovers.
   */
  private async onlineCandidates(
    ns: string,
    clusters: () => Resource[],
    signal: AbortSignal,
  ): Promise<ClusterCandidate[]> {
    this.values.refreshStale(signal);
    const cached = this.byNamespace.get(ns);
    if (cached && cached.version === this.clusterVersion && cached.generation === this.values.generation)
      return cached.list;
    const version = this.clusterVersion;
    const generation = this.values.generation;
    const list = (await this.candidates(clusters(), signal)).filter(
      (c) => !c.cluster.metadata.deleted && c.cluster.status.state === "ONLINE",
    );
    this.byNamespace.set(ns, { version, generation, list });
    return list;
  }

  /** Clusters as candidates: inherited labels and metrics with their values, synchronous when all known. */
  private async candidates(clusters: Resource[], signal: AbortSignal): Promise<ClusterCandidate[]> {
    this.values.refreshStale(signal);
    const out: ClusterCandidate[] = [];
    const waiting: Promise<void>[] = [];
    for (const cluster of clusters) {
      const ev = this.evaluation(cluster);
      const ns = cluster.metadata.namespace ?? null;
      const make = (collected: Collected): ClusterCandidate => {
        this.recordMetricState(cluster, collected.failures);
        return {
          id: cluster.metadata.name,
          kind: "cluster",
          labels: ev.labels,
          customResources: cluster.spec.custom_resources,
          metrics: collected.values,
          cluster,
        };
      };
      if (ev.collected && ev.generation === this.values.generation) {
        out.push(make(ev.collected));
        continue;
      }
      const generation = this.values.generation;
      const ready = this.values.collectIfReady(ev.metrics, ns, signal);
      if (ready) {
        ev.collected = ready;
        ev.generation = generation;
        out.push(make(ready));
      } else {
        const slot = out.push(null!) - 1;
        waiting.push(this.values.collect(ev.metrics, ns, signal).then((c) => void (out[slot] = make(c))));
      }
    }
    if (waiting.length) await Promise.all(waiting);
    return out;
  }

  private evaluation(cluster: Resource): Evaluation {
    const key = keyOf(cluster);
    const cloud = this.cloudOf(cluster);
    const stamp = `${cluster.metadata.resource_version}|${cloud?.metadata.resource_version ?? ""}`;
    const cached = this.evaluations.get(key);
    if (cached && cached.stamp === stamp) return cached;
    const effective = effectiveCluster(cluster, cloud);
    const ev: Evaluation = {
      stamp,
      labels: effective.labels,
      metrics: effective.metrics,
      collected: null,
      generation: -1,
    };
    this.evaluations.set(key, ev);
    return ev;
  }

  private cloudOf(cluster: Resource): Resource | undefined {
    const to: ResourceRef | null = cluster.status.scheduled_to;
    if (!to) return undefined;
    if (to.kind === "GlobalCloud") return this.globalClouds.getByName(to.name, null);
    if (to.kind === "Cloud") return this.clouds.getByName(to.name, to.namespace);
    return undefined;
  }

  /**
   * FAILING_METRICS for an ONLINE cluster whose metrics fail, back to ONLINE once they work; written only
   * on change (X6), in the background so a decision never waits for it. Other states belong to the
   * cluster's lifecycle controllers and are left alone; their metric reasons are still recorded.
   */
  private recordMetricState(o: Resource, failures: Record<string, Reason>): void {
    const failing = Object.keys(failures).length > 0;
    const state = o.status.state;
    // The common case, checked without serialising anything: nothing failed, nothing was failing.
    if (!failing && state !== "FAILING_METRICS" && Object.keys(o.status.metrics_reasons ?? {}).length === 0)
      return;
    const next = structuredClone(o);
    next.status.metrics_reasons = failures;
    if (failing && state === "ONLINE") next.status.state = "FAILING_METRICS";
    if (!failing && state === "FAILING_METRICS") next.status.state = "ONLINE";
    if (
      next.status.state === state &&
      JSON.stringify(o.status.metrics_reasons ?? {}) === JSON.stringify(failures)
    )
      return;
    const def = o.kind === "Cluster" ? Cluster : o.kind === "Cloud" ? Cloud : GlobalCloud;
    this.api(def)
      .updateStatus(next)
      .then(
        () =>
          this.ctx.log.info(
            { object: `${o.kind} ${keyOf(o)}`, state: next.status.state, failures },
            "metrics state changed",
          ),
        (err) => {
          // 409: someone else wrote first; the next evaluation sees their version and decides again.
          if (!(err instanceof KrakeApiError && err.status === 409))
            this.ctx.log.warn(
              { object: keyOf(o), err: (err as Error).message },
              "cannot record metrics state",
            );
        },
      );
  }

  // -------------------------------------------------------------------------------------------------------
  // Clusters → clouds

  private async reconcileCluster(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    let cluster = this.clusters.get(key);
    // Being created by autoCreate, which binds it and records who waits for it itself.
    if (!cluster || this.creating.has(key)) return;
    let result: ReconcileResult | void = undefined;
    if (this.needsCloud(cluster)) {
      result = await this.bindCluster(key, cluster, signal);
      cluster = this.clusters.get(key) ?? cluster;
    }
    if (isTemplateCluster(cluster) && !cluster.metadata.deleted && !this.retiring.has(key)) {
      const retention = await this.retain(key, cluster, signal);
      const a = result?.requeueAfterMs;
      const b = retention?.requeueAfterMs;
      if (a === undefined || (b !== undefined && b < a)) result = retention;
    }
    return result;
  }

  private async bindCluster(
    key: string,
    cluster: Resource,
    signal: AbortSignal,
  ): Promise<ReconcileResult | void> {
    const started = process.hrtime.bigint();
    const ns = cluster.metadata.namespace!;
    const constraints = parseConstraints({
      labels: cluster.spec.constraints.cloud.labels,
      metrics: cluster.spec.constraints.cloud.metrics,
    });
    const excluded: { id: string; reason: string }[] = [];
    // Namespaced clouds are preferred; global clouds are considered only when none of those fits.
    for (const [informer, scope] of [
      [this.clouds, "Cloud"],
      [this.globalClouds, "GlobalCloud"],
    ] as const) {
      const clouds = informer
        .list()
        .filter((c) => !c.metadata.deleted && (scope === "GlobalCloud" || c.metadata.namespace === ns));
      const candidates = await Promise.all(
        clouds.map(async (cloud) => {
          const collected = await this.values.collect(
            cloudMetricRefs(cloud),
            cloud.metadata.namespace ?? null,
            signal,
          );
          this.recordMetricState(cloud, collected.failures);
          return {
            id: `${scope} ${cloud.metadata.name}`,
            kind: "cloud" as const,
            labels: cloud.metadata.labels ?? {},
            metrics: collected.values,
            cloud,
          };
        }),
      );
      const decision = chooseCloud(candidates, constraints, this.random);
      excluded.push(...decision.excluded);
      if (!decision.chosen) continue;
      const cloud = decision.chosen.candidate.cloud;
      this.decisionTime.observe({ kind: "Cluster" }, Number(process.hrtime.bigint() - started) / 1e9);
      this.decisions.inc({ kind: "Cluster", outcome: "bound" });
      this.ctx.log.info(
        {
          cluster: key,
          cloud: `${scope} ${cloud.metadata.name}`,
          scores: topScores(decision.scores),
          ranked: decision.scores.length,
        },
        "scheduled cluster",
      );
      const bound = await this.api(Cluster).action(
        cluster.metadata.name,
        "binding",
        { api: "infrastructure", kind: "CloudBinding", cloud: ref(cloud) },
        ns,
        { signal },
      );
      if (bound.status.reason?.code === "NO_SUITABLE_RESOURCE") {
        const next = structuredClone(bound);
        next.status.reason = null;
        await this.api(Cluster).updateStatus(next, { signal });
      }
      return;
    }
    // Nothing fits: stay PENDING with the reason and retry (Krake made this terminal: defect X29). A new or
    // changed cloud re-queues the cluster at once.
    this.decisions.inc({ kind: "Cluster", outcome: "no_fit" });
    const why = explainNoFit(excluded, "cloud");
    if (cluster.status.reason?.message !== why) {
      this.ctx.log.warn({ cluster: key, reason: why }, "no cloud fits the cluster");
      const next = structuredClone(cluster);
      next.status.reason = { code: "NO_SUITABLE_RESOURCE", message: why };
      await this.api(Cluster).updateStatus(next, { signal });
    }
    return { requeueAfterMs: 30_000 };
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** The best few scores, for the decision log: with a thousand candidates the whole list is noise. */
function topScores(scores: { candidate: { id: string }; score: number }[], n = 5): Record<string, number> {
  const top: { candidate: { id: string }; score: number }[] = [];
  for (const s of scores) {
    if (top.length < n) top.push(s);
    else if (s.score > top[n - 1].score) top[n - 1] = s;
    else continue;
    top.sort((a, b) => b.score - a.score);
  }
  return Object.fromEntries(top.map((s) => [s.candidate.id, round(s.score)]));
}

/** An application's cluster constraints, parsed. */
function appConstraints(app: Resource): ParsedConstraints {
  return parseConstraints({
    labels: app.spec.constraints.cluster.labels,
    customResources: app.spec.constraints.cluster.custom_resources,
    metrics: app.spec.constraints.cluster.metrics,
  });
}

/**
 * What scheduling reads of an application. Manifests, observed state and hook secrets are dropped from the
 * cache: with tens of thousands of applications they are most of the memory.
 */
export function trimApplication(app: Resource): Resource {
  const { spec, status } = app;
  return {
    api: app.api,
    kind: app.kind,
    metadata: app.metadata,
    spec: {
      constraints: spec.constraints,
      backoff: spec.backoff,
      backoff_delay: spec.backoff_delay,
      backoff_limit: spec.backoff_limit,
      auto_cluster_create: spec.auto_cluster_create,
    },
    // The capacity model needs what the manifest requests, not the manifest.
    request: applicationRequest(spec.manifest),
    status: {
      state: status.state,
      reason: status.reason,
      retries: status.retries,
      scheduled: status.scheduled,
      scheduled_to: status.scheduled_to,
      scheduled_retry: status.scheduled_retry,
      kube_controller_triggered: status.kube_controller_triggered,
      running_on: status.running_on,
      auto_cluster_create_started: status.auto_cluster_create_started,
    },
  } as Resource;
}
