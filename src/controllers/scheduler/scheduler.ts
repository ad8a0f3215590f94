/**
 * The scheduler (controllers.md §2): binds Applications to Clusters and Krake-created Clusters to Clouds.
 *
 * Applications: filter ONLINE clusters of the app's namespace by label, custom-resource and metric
 * constraints (on labels and metrics inherited from the cluster's cloud), rank by the weighted metric
 * score with stickiness, bind; re-evaluate every `reschedule_after` seconds so metric changes migrate apps.
 * Clusters without a kubeconfig: pick a namespaced cloud, else a global one, by the cloud's constraints
 * and score. When nothing fits the reason names which constraint excluded which candidate.
 *
 * Krake's defects fixed here: X2/X3 (metric constraints), X5 (inheritance), X6 (cloud state writes), X7
 * (the periodic re-evaluation is a deadline events do not push back), X8 (DEGRADED retried on time), X10/X11
 * (empty or zero-weight rankings), X12 (metric cache), X29 (clusters without a cloud are retried).
 */
import { KrakeApiError } from "../../client/index.js";
import {
  Controller,
  StaleObjectError,
  type ControllerContext,
  type ReconcileResult,
} from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import type { Histogram, Counter } from "../../controller/metrics.js";
import { MetricsCache } from "../../metrics/index.js";
import type { Resource, ResourceRef } from "../../resources/kind.js";
import {
  Application,
  Cloud,
  Cluster,
  clusterHasKubeconfig,
  GlobalCloud,
  GlobalMetric,
  GlobalMetricsProvider,
  Metric,
  MetricsProvider,
} from "../../resources/registry.js";
import { MetricValues, type Collected, type MetricCatalog, type Reason } from "./collect.js";
import { cloudMetricRefs, effectiveCluster } from "./inherit.js";
import {
  chooseCloud,
  chooseCluster,
  explainNoFit,
  parseConstraints,
  type Candidate,
  type Decision,
  type MetricRef,
} from "./select.js";

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
 * A scheduling failure put the app in DEGRADED (NO_SUITABLE_RESOURCE) and it waits for a place. Other
 * DEGRADED apps are unhealthy workloads, the application controller's business.
 */
const awaitingPlacement = (app: Resource) =>
  app.status.state === "DEGRADED" && app.status.reason?.code === "NO_SUITABLE_RESOURCE";

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

    this.apps.on({ add: (a) => this.appChanged(a), update: (_old, a) => this.appChanged(a) });
    this.clusters.on({
      add: (c) => this.clusterChanged(c),
      update: (old, c) => this.clusterChanged(c, old),
      delete: (c) => {
        this.clusterVersion++;
        this.evaluations.delete(keyOf(c));
      },
    });
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
    if (this.needsCloud(c)) this.clusterQueue.add(keyOf(c));
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
      this.decisions.inc({ kind: "Application", outcome: "no_fit" });
      this.decisionTime.observe({ kind: "Application" }, Number(process.hrtime.bigint() - started) / 1e9);
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
      const bound = await this.api(Application).action(
        app.metadata.name,
        "binding",
        { api: "kubernetes", kind: "ClusterBinding", cluster: target },
        app.metadata.namespace,
        { signal },
      );
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
      constraints: parseConstraints({
        labels: app.spec.constraints.cluster.labels,
        customResources: app.spec.constraints.cluster.custom_resources,
        metrics: app.spec.constraints.cluster.metrics,
      }),
      currentId: current ? current.name : null,
      recentlyScheduled: Boolean(current) && now - scheduled < this.rescheduleMs,
      stickiness: this.stickiness,
      random: this.random,
    };
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
    const degraded = awaitingPlacement(app);
    if (triggered >= modified && !degraded) return;
    await this.writeAppStatus(app, signal, {
      ...(triggered < modified ? { kube_controller_triggered: new Date(now).toISOString() } : {}),
      ...(degraded ? this.afterNoFit(app) : {}),
    });
  }

  private async clearNoFit(app: Resource, signal: AbortSignal): Promise<void> {
    if (!awaitingPlacement(app)) return;
    await this.writeAppStatus(app, signal, this.afterNoFit(app));
  }

  private afterNoFit(app: Resource): Record<string, unknown> {
    return {
      state: app.status.running_on ? "RUNNING" : "PENDING",
      reason: null,
      retries: app.spec.backoff_limit,
      scheduled_retry: null,
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
  ): Promise<void> {
    const api = this.api(Application);
    const fresh = await api.get(app.metadata.name, app.metadata.namespace, { signal });
    if (fresh.metadata.resource_version !== app.metadata.resource_version) {
      throw new StaleObjectError(`application ${keyOf(app)} changed while it was being scheduled; deciding again`);
    }
    Object.assign(fresh.status, changes);
    await api.updateStatus(fresh, { signal });
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
    const cluster = this.clusters.get(key);
    if (!cluster || !this.needsCloud(cluster)) return;
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
    },
    status: {
      state: status.state,
      reason: status.reason,
      retries: status.retries,
      scheduled: status.scheduled,
      scheduled_to: status.scheduled_to,
      scheduled_retry: status.scheduled_retry,
      kube_controller_triggered: status.kube_controller_triggered,
      running_on: status.running_on,
    },
  } as Resource;
}
