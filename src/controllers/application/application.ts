/**
 * The Kubernetes application controller (controllers.md §7–8): puts each application's manifest on the
 * cluster the scheduler bound it to, keeps it there, moves it when the scheduler rebinds it, and removes it
 * on deletion behind the `kubernetes_resources_deletion` finalizer.
 *
 * One reconcile both observes and acts (level-triggered): it reads every object of the app from its
 * cluster, applies with server-side apply (field manager `krake`) the ones that are missing, changed in the
 * manifest, or drifted on an observed field, deletes the ones that left the manifest, and writes what it saw
 * (`last_observed_manifest`, `container_health`, `services`, state) when that changed. Running apps are
 * looked at again every `observeIntervalMs` (Krake's observer), as a re-queue, never a sleeping loop.
 *
 * Where we differ from Krake, on purpose:
 * - a transient Kubernetes error (unreachable, 5xx, 409, 429) retries with the app's backoff settings and
 *   shows the reason; the app fails only when `backoff_limit` is exhausted (X14); a bad object (400/422, a
 *   kind the cluster does not serve) fails it at once, and a later edit of the app tries again;
 * - migration deploys on the new cluster, waits until it is healthy, then removes the old copy (X18); a
 *   target that does not become healthy in `migrationTimeoutMs` is abandoned and the app stays where it ran;
 * - the shutdown hook's acknowledgement is the app's own `PUT …/shutdown` (state READY_FOR_ACTION), the
 *   call to the workload has a timeout, and waiting for it never blocks a worker (X19);
 * - server-side apply owns only the fields the manifest sets, so server defaults need no copying into
 *   `last_applied_manifest`; a value the server normalises (`cpu: 0.5` → `500m`) is recognised as what the
 *   server made of the manifest, not drift, so it is not re-applied forever.
 */
import { isDeepStrictEqual } from "node:util";
import { KrakeApiError } from "../../client/index.js";
import { Controller, type ControllerContext, type ReconcileResult } from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import { KubeApiError, KubeClient, KubeUnreachableError, UnknownKindError } from "../../kube/client.js";
import { ClusterClients } from "../../kube/clients.js";
import { KubeconfigError } from "../../kube/kubeconfig.js";
import { firstDrift, identityOf, mangledObserverSchema, project, schemaFor } from "../../kube/observe.js";
import { ToscaError, translateApplication } from "../../kube/tosca.js";
import type { AddressGuard } from "../../kube/address-guard.js";
import type { Resource, ResourceRef } from "../../resources/kind.js";
import { Application, Cluster, clusterHasKubeconfig } from "../../resources/registry.js";
import { healthOf, servicesOf } from "./health.js";
import { ClusterReadCache } from "./read-cache.js";
import { hookCertificateIsCurrent, issueHookCertificate, type HookTlsConfig } from "./hook-tls.js";
import {
  APP_FINALIZER,
  hookUrl,
  injectHooks,
  inApplyOrder,
  newHookToken,
  refOf,
  removedObjects,
  withPortProtocols,
  type HookInjection,
  type HookName,
} from "./manifest.js";

type Obj = Record<string, any>;

export interface ApplicationControllerOptions {
  workers?: number;
  /** How often a running app's objects are read back (Krake's observer: 2 s). */
  observeIntervalMs?: number;
  /** Timeout of one call to a cluster's API. */
  timeoutMs?: number;
  /** The longest wait between two attempts after errors. */
  maxBackoffMs?: number;
  /** How long a migration target may take to become healthy before the move is abandoned. */
  migrationTimeoutMs?: number;
  /** Krake API URL as the workloads reach it, for the hook URLs; default: the URL this controller uses. */
  hookEndpoint?: string;
  /** Client certificates for the hooks, when the API demands them (TLS with a client CA). */
  hookTls?: HookTlsConfig;
  /** Default grace time of the shutdown hook (`spec.shutdown_grace_time` overrides). */
  shutdownGraceMs?: number;
  /** Default number of extra shutdown calls (`spec.shutdown_retry_count` overrides). */
  shutdownRetries?: number;
  /** Timeout of the call to the workload's shutdown endpoint. */
  shutdownCallTimeoutMs?: number;
  /** Which addresses TOSCA/CSAR downloads may not reach (default: link-local). */
  downloadGuard?: AddressGuard;
  /** Tests may swap how a kubeconfig becomes a client. */
  clientFor?: (kubeconfig: Record<string, unknown>) => KubeClient;
}

/** An error while changing the cluster (as opposed to reading it): it counts towards `backoff_limit`. */
class ChangeFailed extends Error {
  constructor(readonly error: unknown) {
    super((error as Error).message);
  }
}

const SHUTDOWN_GAVE_UP = "The shutdown hook was not acknowledged";

const sameRef = (a: ResourceRef | null | undefined, b: ResourceRef | null | undefined) =>
  Boolean(
    a && b && a.name === b.name && (a.namespace ?? null) === (b.namespace ?? null) && a.kind === b.kind,
  );

const time = (iso: string | null | undefined) => (iso ? Date.parse(iso) : 0);

/** ±10 %, so that apps created together are not all looked at in the same instant. */
const jitter = (ms: number) => Math.round(ms * (0.9 + Math.random() * 0.2));

/** A 4xx that retrying cannot fix: the object itself is wrong. */
function isPermanent(err: unknown): boolean {
  if (err instanceof ToscaError) return !err.transient;
  if (err instanceof UnknownKindError || err instanceof KubeconfigError) return true;
  return err instanceof KubeApiError && (err.status === 400 || err.status === 422);
}

function reasonOf(err: unknown): { code: string; message: string } {
  const message = String((err as Error)?.message ?? err).slice(0, 1000);
  if (err instanceof ToscaError)
    return {
      code: "INVALID_TOSCA_MANIFEST",
      message: err.field && !message.includes(err.field) ? `${err.field}: ${message}` : message,
    };
  if (err instanceof UnknownKindError) return { code: "UNSUPPORTED_RESOURCE", message };
  if (err instanceof KubeUnreachableError || err instanceof KubeconfigError)
    return { code: "CLUSTER_NOT_REACHABLE", message };
  return { code: "KUBERNETES_ERROR", message };
}

interface Pass {
  key: string;
  signal: AbortSignal;
  /** The app was updated (finalizer, owners, manifest) in this pass: its `modified` moved. */
  ownEdit: boolean;
}

export class ApplicationController extends Controller {
  readonly name = "application";
  private readonly apps;
  private readonly clusters;
  private readonly queue;
  private readonly opts: Required<
    Omit<ApplicationControllerOptions, "clientFor" | "hookEndpoint" | "hookTls" | "downloadGuard">
  > &
    Pick<ApplicationControllerOptions, "clientFor" | "hookEndpoint" | "hookTls" | "downloadGuard">;
  private readonly clients: ClusterClients;
  /** Consecutive failed passes per app: the backoff. */
  private readonly failures = new Map<string, number>();
  /**
   * Per app and object: what the server made of the last applied manifest (its projection right after the
   * apply). An observation equal to it is not drift, even where it differs from the manifest's spelling.
   */
  private readonly baselines = new Map<string, Map<string, { desired: Obj; observed: unknown }>>();
  /** Shutdown calls made in the current round, per app. */
  private readonly shutdownCalls = new Map<string, number>();
  /** Failed apps whose spec changed since: worth another try. */
  private readonly retryFailed = new Set<string>();
  /** Observation reads shared by the apps of a cluster. */
  private readonly reads: ClusterReadCache;
  private readonly clusterKeys = new WeakMap<KubeClient, string>();
  /** Resource versions of this process's own status writes, so their events do not cause a pass. */
  private readonly ownWrites = new Map<string, string>();

  constructor(ctx: ControllerContext, options: ApplicationControllerOptions = {}) {
    super(ctx);
    this.opts = {
      workers: 10,
      observeIntervalMs: 2_000,
      timeoutMs: 10_000,
      maxBackoffMs: 60_000,
      migrationTimeoutMs: 300_000,
      shutdownGraceMs: 30_000,
      shutdownRetries: 0,
      shutdownCallTimeoutMs: 5_000,
      ...options,
    };
    this.reads = new ClusterReadCache(this.opts.observeIntervalMs / 2);
    this.clients = new ClusterClients(
      this.opts.clientFor ?? ((kc) => KubeClient.fromKubeconfig(kc, { timeoutMs: this.opts.timeoutMs })),
    );
    this.apps = this.informer(new Informer(ctx.client, Application, { log: ctx.log }));
    this.clusters = this.informer(new Informer(ctx.client, Cluster, { log: ctx.log }));
    this.queue = this.loop("applications", (key, signal) => this.reconcile(key, signal), {
      workers: this.opts.workers,
    });
    this.apps.on({
      add: (a) => this.queue.add(keyOf(a)),
      update: (old, a) => {
        const key = keyOf(a);
        if (this.ownWrites.get(key) === String(a.metadata.resource_version)) return;
        if (a.status.state === "FAILED" && !a.metadata.deleted && !isDeepStrictEqual(old.spec, a.spec))
          this.retryFailed.add(key);
        this.queue.add(key);
      },
      delete: (a) => this.forget(keyOf(a)),
    });
    this.clusters.on({
      delete: (c) => {
        this.clients.forget(keyOf(c));
        this.reads.forgetCluster(keyOf(c));
      },
      update: (old, c) => {
        // A cluster being deleted, or whose kubeconfig changed: its apps have something to do now.
        if (
          Boolean(old.metadata.deleted) === Boolean(c.metadata.deleted) &&
          isDeepStrictEqual(old.spec, c.spec)
        )
          return;
        for (const app of this.apps.list()) {
          const s = app.status;
          if (sameRef(s.running_on, refOfCluster(c)) || sameRef(s.scheduled_to, refOfCluster(c)))
            this.queue.add(keyOf(app));
        }
      },
    });
  }

  private forget(key: string) {
    this.failures.delete(key);
    this.baselines.delete(key);
    this.shutdownCalls.delete(key);
    this.retryFailed.delete(key);
    this.ownWrites.delete(key);
  }

  // -------------------------------------------------------------------------------------------------------
  // Dispatch

  private async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const app = this.apps.get(key);
    if (!app) {
      this.forget(key);
      return;
    }
    const pass: Pass = { key, signal, ownEdit: false };
    try {
      if (app.metadata.deleted) return await this.onDeleted(app, pass);
      if (this.stranded(app)) return await this.release(app, pass);
      if (app.status.state === "FAILED") {
        if (this.retryFailed.delete(key)) {
          this.failures.delete(key);
          await this.writeStatus(app, pass, {
            state: app.status.running_on ? "RUNNING" : "PENDING",
            reason: null,
          });
        }
        return;
      }
      // The scheduler-first handshake (§7.1): an edit reaches the cluster only after the scheduler saw it.
      if (time(app.status.kube_controller_triggered) < time(app.metadata.modified)) return;
      if (!app.status.scheduled_to) return;
      return await this.onPlaced(app, pass);
    } catch (err) {
      if (signal.aborted) throw err;
      return this.onError(key, err, pass);
    }
  }

  private async onError(key: string, err: unknown, pass: Pass): Promise<ReconcileResult | void> {
    const cause = err instanceof ChangeFailed ? err.error : err;
    // The API's own answers (conflicts on our writes, a vanished app) are for the framework's quick retry.
    if (cause instanceof KrakeApiError) {
      if (cause.status === 404) return;
      throw cause;
    }
    const app = this.apps.get(key);
    if (!app) return;
    const failures = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, failures);
    const reason = reasonOf(cause);
    const limit: number = app.spec.backoff_limit ?? -1;
    const exhausted = limit >= 0 && failures > limit;
    const changing = err instanceof ChangeFailed || cause instanceof ToscaError;
    if (!app.metadata.deleted && changing && (isPermanent(cause) || exhausted)) {
      this.ctx.log.warn({ app: key, reason: reason.code, err: reason.message }, "application failed");
      await this.writeStatus(app, pass, { state: "FAILED", reason });
      return;
    }
    if (failures === 1 || !isDeepStrictEqual(app.status.reason, reason))
      this.ctx.log.warn(
        { app: key, reason: reason.code, err: reason.message, failures },
        "application: will retry",
      );
    if (!isDeepStrictEqual(app.status.reason, reason)) await this.writeStatus(app, pass, { reason });
    const base = Math.max(1, app.spec.backoff_delay ?? 1) * Math.max(1, app.spec.backoff ?? 1) * 1000;
    return {
      requeueAfterMs: Math.min(this.opts.maxBackoffMs, jitter(base * 2 ** Math.min(failures - 1, 16))),
    };
  }

  private async onPlaced(app: Resource, pass: Pass): Promise<ReconcileResult | void> {
    if (!app.spec.manifest?.length && (hasValue(app.spec.tosca) || app.spec.csar)) {
      const translated = await this.translate(app, pass);
      if (!translated) return;
      app = translated;
    }
    const target = this.usableCluster(app.status.scheduled_to);
    if (!target) {
      // Bound to a cluster that is gone or has no kubeconfig yet: the scheduler or the cluster's owner moves
      // next; look again later.
      return { requeueAfterMs: jitter(this.opts.observeIntervalMs * 2) };
    }
    const from: ResourceRef | null = app.status.running_on;
    if (from && !sameRef(from, app.status.scheduled_to)) return this.onMigration(app, from, target, pass);
    return this.converge(app, target, pass);
  }

  // -------------------------------------------------------------------------------------------------------
  // Deploy, observe, repair

  private async converge(app: Resource, cluster: Resource, pass: Pass): Promise<ReconcileResult> {
    const client = this.clientOf(cluster);
    app = await this.ensureHookTokens(app, pass);
    const desired = this.desiredOf(app, client);
    const schema = mangledObserverSchema(desired, app.spec.observer_schema ?? []);
    const previous: Obj[] = app.status.last_applied_manifest ?? [];
    const removed = removedObjects(previous, desired);
    // Reading the cluster is part of a change when one is pending (a new or edited manifest): an app whose
    // change cannot even start must count its failures towards backoff_limit like any other.
    const pending = removed.length > 0 || !sameObjects(previous, desired);
    let observed: (Obj | null)[];
    try {
      observed = await this.observeAll(client, desired, pass.signal, !pending);
    } catch (err) {
      throw pending ? new ChangeFailed(err) : err;
    }
    const stale = desired.flatMap((d, i) =>
      this.needsApply(pass.key, d, observed[i], schema, previous) ? [i] : [],
    );
    if (stale.length || removed.length) {
      app = await this.ensureFinalizer(app, pass);
      const prevOf = new Map(previous.map((p) => [identityOf(p), p]));
      // Recorded before touching the cluster, so that a crash midway forgets neither what is to be removed
      // nor that a changed object still needs its change (its previous version stays recorded).
      const intent = [
        ...desired.map((d, i) => (stale.includes(i) ? (prevOf.get(identityOf(d)) ?? d) : d)),
        ...removed,
      ];
      const state = app.status.running_on ? "RECONCILING" : "CREATING";
      if (app.status.state !== state || !isDeepStrictEqual(previous, intent))
        app = await this.writeStatus(app, pass, { state, last_applied_manifest: intent });
      try {
        await this.deleteAll(client, removed, pass.signal);
        for (const i of stale)
          observed[i] = await this.apply(pass.key, client, desired[i], schema, pass.signal);
      } catch (err) {
        throw new ChangeFailed(err);
      }
      this.ctx.log.info(
        { app: pass.key, cluster: cluster.metadata.name, applied: stale.length, deleted: removed.length },
        "application deployed",
      );
    }
    await this.writeObservation(app, cluster, client, desired, schema, observed, pass, {});
    this.failures.delete(pass.key);
    return { requeueAfterMs: jitter(this.opts.observeIntervalMs) };
  }

  /** Missing, changed in the manifest since it was applied, or drifted on an observed field. */
  private needsApply(
    key: string,
    desired: Obj,
    observed: Obj | null,
    schema: Obj[],
    previous: Obj[],
  ): boolean {
    if (!observed) return true;
    const id = identityOf(desired);
    const applied = previous.find((p) => identityOf(p) === id);
    if (!applied || !isDeepStrictEqual(applied, desired)) return true;
    const objSchema = schemaFor(schema, desired);
    if (!objSchema) return false;
    const seen = project(observed, objSchema);
    if (firstDrift(desired, seen, objSchema) === null) return false;
    const baseline = this.baselines.get(key)?.get(id);
    return !(
      baseline &&
      isDeepStrictEqual(baseline.desired, desired) &&
      isDeepStrictEqual(baseline.observed, seen)
    );
  }

  private async apply(
    key: string,
    client: KubeClient,
    desired: Obj,
    schema: Obj[],
    signal: AbortSignal,
  ): Promise<Obj> {
    const result = await client.apply<Obj>(withPortProtocols(desired) as any, { signal });
    await this.invalidate(client, desired);
    const objSchema = schemaFor(schema, desired);
    if (objSchema) {
      let perApp = this.baselines.get(key);
      if (!perApp) this.baselines.set(key, (perApp = new Map()));
      perApp.set(identityOf(desired), { desired, observed: project(result, objSchema) });
    }
    return result;
  }

  /** Every object as the cluster has it (null: missing); `shared` reads from the cluster's recent lists. */
  private async observeAll(
    client: KubeClient,
    objects: Obj[],
    signal: AbortSignal,
    shared = false,
  ): Promise<(Obj | null)[]> {
    const cluster = this.clusterKeys.get(client);
    return Promise.all(
      objects.map((o) =>
        shared && cluster
          ? this.reads.get(cluster, client, refOf(o), signal)
          : client.get<Obj>(refOf(o), { signal }),
      ),
    );
  }

  private async invalidate(client: KubeClient, obj: Obj): Promise<void> {
    const cluster = this.clusterKeys.get(client);
    if (cluster) await this.reads.invalidate(cluster, client, refOf(obj));
  }

  /** Writes what was seen when it differs from what the app shows. */
  private async writeObservation(
    app: Resource,
    cluster: Resource,
    client: KubeClient,
    desired: Obj[],
    schema: Obj[],
    observed: (Obj | null)[],
    pass: Pass,
    extra: Record<string, unknown>,
  ): Promise<Resource> {
    const health = healthOf(observed, desired);
    const lastObserved = observed.flatMap((o, i) => {
      const s = o && schemaFor(schema, desired[i]);
      return o && s ? [project(o, s) as Obj] : [];
    });
    const next: Record<string, unknown> = {
      state: health.state,
      reason: null,
      running_on: refOfCluster(cluster),
      last_applied_manifest: desired,
      last_observed_manifest: lastObserved,
      mangled_observer_schema: schema,
      services: servicesOf(observed, hostOf(client.server)),
      container_health: health.health,
      ...extra,
    };
    const s = app.status;
    // The scheduler found no place for the app (or waits for a cluster being created for it) and says so in
    // its state; that marker is the scheduler's.
    if (awaitingPlacement(s)) {
      next.state = s.state;
      next.reason = s.reason;
    }
    if (Object.entries(next).every(([k, v]) => isDeepStrictEqual(s[k] ?? null, v ?? null))) return app;
    if (s.state !== health.state)
      this.ctx.log.info(
        { app: pass.key, from: s.state, to: health.state, problems: health.problems.slice(0, 3) },
        "application state",
      );
    return this.writeStatus(app, pass, next);
  }

  // -------------------------------------------------------------------------------------------------------
  // Migration

  private async onMigration(app: Resource, from: ResourceRef, target: Resource, pass: Pass) {
    if (app.spec.hooks?.includes("shutdown") && app.status.state !== "MIGRATING") {
      if (app.status.state !== "READY_FOR_ACTION") {
        if (app.status.state === "DEGRADED" && app.status.reason?.message?.startsWith(SHUTDOWN_GAVE_UP))
          return;
        if (app.status.state !== "WAITING_FOR_CLEANING")
          app = await this.writeStatus(app, pass, {
            state: "WAITING_FOR_CLEANING",
            shutdown_grace_period: null,
          });
        const waiting = await this.shutdownRound(app, pass);
        if (waiting) return waiting;
        app = this.apps.get(pass.key) ?? app;
      }
    }
    return this.migrate(app, from, target, pass);
  }

  /**
   * Deploys on the target first and removes the old copy only once the new one is healthy (X18). A target
   * that stays unhealthy past `migrationTimeoutMs` is cleaned up and the app is bound back where it runs.
   */
  private async migrate(
    app: Resource,
    from: ResourceRef,
    target: Resource,
    pass: Pass,
  ): Promise<ReconcileResult | void> {
    app = await this.ensureFinalizer(app, pass);
    if (app.status.state !== "MIGRATING") {
      this.ctx.log.info(
        { app: pass.key, from: from.name, to: target.metadata.name },
        "migrating application",
      );
      app = await this.writeStatus(app, pass, { state: "MIGRATING", reason: null });
    }
    const client = this.clientOf(target);
    app = await this.ensureHookTokens(app, pass);
    const desired = this.desiredOf(app, client);
    const schema = mangledObserverSchema(desired, app.spec.observer_schema ?? []);
    const observed = await this.observeAll(client, desired, pass.signal);
    try {
      for (let i = 0; i < desired.length; i++) {
        const seen = observed[i];
        const s = schemaFor(schema, desired[i]);
        if (!seen || (s && firstDrift(desired[i], project(seen, s), s) !== null))
          observed[i] = await this.apply(pass.key, client, desired[i], schema, pass.signal);
      }
    } catch (err) {
      throw new ChangeFailed(err);
    }
    const health = healthOf(observed, desired);
    if (health.state === "DEGRADED" || health.state === "RESTARTING") {
      const since = time(app.status.scheduled);
      if (Date.now() - since < this.opts.migrationTimeoutMs)
        return { requeueAfterMs: jitter(this.opts.observeIntervalMs) };
      return this.abandonMigration(app, from, target, desired, health.problems, pass);
    }
    // Healthy on the target: the old copy goes.
    const source = this.usableCluster(from);
    if (source) {
      const old = mergeByIdentity(
        app.status.last_applied_manifest ?? [],
        app.status.last_observed_manifest ?? [],
      );
      try {
        await this.deleteAll(this.clientOf(source), old, pass.signal);
      } catch (err) {
        if (!(err instanceof KubeUnreachableError)) throw new ChangeFailed(err);
        // The old cluster is down (often why the app moves): its copy cannot be removed now.
        this.ctx.log.warn(
          { app: pass.key, cluster: from.name, err: (err as Error).message },
          "migration: the old cluster is unreachable; its copy of the application was left there",
        );
      }
    }
    app = await this.dropOwner(app, from, pass);
    this.ctx.log.info({ app: pass.key, from: from.name, to: target.metadata.name }, "application migrated");
    await this.writeObservation(app, target, client, desired, schema, observed, pass, {
      shutdown_grace_period: null,
      migration_retries: 0,
      migration_timeout: 0,
    });
    this.shutdownCalls.delete(pass.key);
    this.failures.delete(pass.key);
    return { requeueAfterMs: jitter(this.opts.observeIntervalMs) };
  }

  private async abandonMigration(
    app: Resource,
    from: ResourceRef,
    target: Resource,
    desired: Obj[],
    problems: string[],
    pass: Pass,
  ): Promise<ReconcileResult> {
    const why = `moving to cluster '${target.metadata.name}' was abandoned: not healthy within ${Math.round(this.opts.migrationTimeoutMs / 1000)} s (${problems.slice(0, 3).join("; ")})`;
    this.ctx.log.warn(
      { app: pass.key, from: from.name, to: target.metadata.name, problems },
      "migration abandoned",
    );
    try {
      await this.deleteAll(this.clientOf(target), desired, pass.signal);
    } catch (err) {
      if (!(err instanceof KubeUnreachableError)) throw new ChangeFailed(err);
    }
    const retries = (app.status.migration_retries ?? 0) + 1;
    let bound = await this.api(Application).action(
      app.metadata.name,
      "binding",
      { api: "kubernetes", kind: "ClusterBinding", cluster: from },
      app.metadata.namespace,
      { signal: pass.signal },
    );
    this.apps.observeWrite(bound);
    bound = await this.dropOwner(bound, refOfCluster(target), pass);
    await this.writeStatus(bound, pass, {
      state: "RUNNING",
      reason: { code: "KUBERNETES_ERROR", message: why },
      migration_retries: retries,
      // The scheduler leaves the app where it is until then (seconds since the epoch).
      migration_timeout: Math.floor(Date.now() / 1000) + 60 * retries,
    });
    return { requeueAfterMs: 0 };
  }

  // -------------------------------------------------------------------------------------------------------
  // Evacuation: the app's cluster is deleted and the scheduler found no other place

  /**
   * Bound to a cluster that is being deleted (or is gone) while the scheduler has no other place for it: the
   * app lets go of that cluster — the garbage collector waits for that — and keeps waiting for a place,
   * instead of being deleted with the cluster as in Krake (X28).
   */
  private stranded(app: Resource): boolean {
    const s = app.status;
    const bound: ResourceRef[] = [s.scheduled_to, s.running_on].filter(Boolean);
    if (!bound.length || !bound.every((ref) => this.dying(ref))) return false;
    return s.state === "FAILED" || awaitingPlacement(s);
  }

  private dying(ref: ResourceRef): boolean {
    const cluster = this.clusters.getByName(ref.name, ref.namespace ?? null);
    return !cluster || Boolean(cluster.metadata.deleted);
  }

  private async release(app: Resource, pass: Pass): Promise<void> {
    const running: ResourceRef | null = app.status.running_on;
    const cluster = this.usableCluster(running);
    if (cluster) {
      const objects = mergeByIdentity(
        app.status.last_applied_manifest ?? [],
        app.status.last_observed_manifest ?? [],
      );
      try {
        await this.deleteAll(this.clientOf(cluster), objects, pass.signal);
      } catch (err) {
        if (!(err instanceof KubeUnreachableError)) throw new ChangeFailed(err);
        this.ctx.log.warn(
          { app: pass.key, cluster: running!.name },
          "evacuation: the cluster is unreachable; its copy was left there",
        );
      }
    }
    const gone = [app.status.scheduled_to, running].filter(Boolean) as ResourceRef[];
    let owners: ResourceRef[] = app.metadata.owners ?? [];
    owners = owners.filter((o) => !gone.some((g) => sameRef(o, g)));
    if (owners.length !== (app.metadata.owners ?? []).length) {
      app = await this.api(Application).update(
        { ...app, metadata: { ...app.metadata, owners } },
        { signal: pass.signal },
      );
      this.apps.observeWrite(app);
      pass.ownEdit = true;
    }
    this.ctx.log.info(
      { app: pass.key, cluster: gone[0]?.name },
      "application released from a deleted cluster; waiting for a place",
    );
    await this.writeStatus(app, pass, {
      scheduled_to: null,
      running_on: null,
      last_applied_manifest: [],
      last_observed_manifest: [],
      services: {},
      container_health: { desired_pods: 0, running_pods: 0, completed_pods: 0, failed_pods: 0 },
    });
    this.baselines.delete(pass.key);
  }

  // -------------------------------------------------------------------------------------------------------
  // Deletion and the shutdown hook

  private async onDeleted(app: Resource, pass: Pass): Promise<ReconcileResult | void> {
    const finalizers: string[] = app.metadata.finalizers ?? [];
    // Last in, first out: the garbage collector's cascade goes first.
    if (finalizers[finalizers.length - 1] !== APP_FINALIZER) return;
    const running: ResourceRef | null = app.status.running_on;
    if (running && app.spec.hooks?.includes("shutdown") && app.status.state !== "READY_FOR_ACTION") {
      if (app.status.state === "DEGRADED" && app.status.reason?.message?.startsWith(SHUTDOWN_GAVE_UP)) return;
      if (app.status.state !== "WAITING_FOR_CLEANING" && app.status.state !== "DELETING")
        app = await this.writeStatus(app, pass, {
          state: "WAITING_FOR_CLEANING",
          shutdown_grace_period: null,
        });
      if (app.status.state === "WAITING_FOR_CLEANING") {
        const waiting = await this.shutdownRound(app, pass);
        if (waiting) return waiting;
        app = this.apps.get(pass.key) ?? app;
      }
    }
    const cluster = this.usableCluster(running);
    if (running && cluster) {
      if (app.status.state !== "DELETING") app = await this.writeStatus(app, pass, { state: "DELETING" });
      const objects = mergeByIdentity(
        app.status.last_applied_manifest ?? [],
        app.status.last_observed_manifest ?? [],
      );
      await this.deleteAll(this.clientOf(cluster), objects, pass.signal);
      this.ctx.log.info(
        { app: pass.key, cluster: running.name, objects: objects.length },
        "application removed",
      );
    }
    const rest = finalizers.slice(0, -1);
    const owners = (app.metadata.owners ?? []).filter((o: ResourceRef) => !sameRef(o, running));
    if (rest.length)
      app = await this.writeStatus(app, pass, { running_on: null, last_observed_manifest: [], services: {} });
    try {
      await this.api(Application).update(
        { ...app, metadata: { ...app.metadata, finalizers: rest, owners } },
        { signal: pass.signal },
      );
    } catch (err) {
      if (!(err instanceof KrakeApiError && err.status === 404)) throw err;
    }
    this.forget(pass.key);
  }

  /**
   * One step of the shutdown hook: ask the workload to shut down (its Service named `shutdown`), give it the
   * grace time to acknowledge, retry, and apply the failure strategy. Returns a re-queue while waiting, or
   * nothing when the caller may go on (acknowledged, or the `delete` strategy after the last attempt).
   */
  private async shutdownRound(app: Resource, pass: Pass): Promise<ReconcileResult | undefined> {
    const grace = (app.spec.shutdown_grace_time ?? this.opts.shutdownGraceMs / 1000) * 1000;
    const retries: number = app.spec.shutdown_retry_count ?? this.opts.shutdownRetries;
    const deadline = time(app.status.shutdown_grace_period);
    const now = Date.now();
    if (deadline && now < deadline) return { requeueAfterMs: deadline - now + 50 };
    if (!deadline) this.shutdownCalls.delete(pass.key);
    const calls = this.shutdownCalls.get(pass.key) ?? 0;
    if (deadline && calls > retries) {
      const message = `${SHUTDOWN_GAVE_UP} after ${calls} call(s) and ${Math.round(grace / 1000)} s each`;
      if ((app.spec.shutdown_failure_strategy ?? "delete") === "give_up") {
        this.ctx.log.warn({ app: pass.key }, message);
        await this.writeStatus(app, pass, {
          state: "DEGRADED",
          reason: { code: "KUBERNETES_ERROR", message },
        });
        return {};
      }
      this.ctx.log.warn({ app: pass.key }, `${message}; going on without it`);
      this.shutdownCalls.delete(pass.key);
      return undefined;
    }
    this.shutdownCalls.set(pass.key, calls + 1);
    const endpoint: string | undefined = app.status.services?.shutdown;
    if (endpoint) await this.callShutdown(pass.key, endpoint, pass.signal);
    else
      this.ctx.log.warn(
        { app: pass.key },
        "shutdown hook: the application has no Service named 'shutdown' to call",
      );
    await this.writeStatus(app, pass, { shutdown_grace_period: new Date(Date.now() + grace).toISOString() });
    return { requeueAfterMs: grace + 50 };
  }

  private async callShutdown(key: string, endpoint: string, signal: AbortSignal): Promise<void> {
    const timeout = AbortSignal.timeout(this.opts.shutdownCallTimeoutMs);
    try {
      const res = await fetch(`http://${endpoint}/shutdown`, {
        method: "PUT",
        signal: AbortSignal.any([signal, timeout]),
      });
      await res.arrayBuffer().catch(() => undefined);
      this.ctx.log.info({ app: key, status: res.status }, "shutdown hook called");
    } catch (err) {
      if (signal.aborted) throw err;
      this.ctx.log.warn(
        { app: key, err: String((err as Error).cause ?? (err as Error).message) },
        "shutdown hook call failed",
      );
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Helpers

  private async translate(app: Resource, pass: Pass): Promise<Resource | null> {
    if (app.status.state !== "TRANSLATING") app = await this.writeStatus(app, pass, { state: "TRANSLATING" });
    const manifest = await translateApplication(app.spec, {
      signal: pass.signal,
      guard: this.opts.downloadGuard,
    });
    if (!manifest) return app;
    this.ctx.log.info({ app: pass.key, objects: manifest.length }, "application translated from TOSCA");
    const updated = await this.api(Application).update(
      { ...app, spec: { ...app.spec, manifest } },
      { signal: pass.signal },
    );
    this.apps.observeWrite(updated);
    pass.ownEdit = true;
    return updated;
  }

  /** The manifest as it goes to the cluster: hooks injected, in apply order. */
  private desiredOf(app: Resource, client: KubeClient): Obj[] {
    const hooks: HookInjection[] = [];
    const endpoint = this.opts.hookEndpoint ?? this.ctx.client.options.url;
    for (const hook of (app.spec.hooks ?? []) as HookName[]) {
      const token = app.status[`${hook}_token`];
      if (!token) continue;
      const url = hookUrl(endpoint, app.metadata.namespace!, app.metadata.name, hook);
      const tls = this.opts.hookTls;
      const cert = app.status[`${hook}_cert`];
      const key = app.status[`${hook}_key`];
      hooks.push(
        tls && cert && key
          ? { hook, token, url, tls: { mountPath: tls.mountPaths[hook], caBundle: tls.caBundlePem, cert, key } }
          : { hook, token, url },
      );
    }
    return inApplyOrder(injectHooks(app.spec.manifest ?? [], app.metadata.name, hooks, client.namespace));
  }

  private async ensureHookTokens(app: Resource, pass: Pass): Promise<Resource> {
    const missing: Record<string, string> = {};
    const tls = this.opts.hookTls;
    for (const hook of (app.spec.hooks ?? []) as HookName[]) {
      if (!app.status[`${hook}_token`]) missing[`${hook}_token`] = newHookToken();
      if (tls && !hookCertificateIsCurrent(app.status[`${hook}_cert`], hook, tls)) {
        const issued = issueHookCertificate(hook, tls);
        missing[`${hook}_cert`] = issued.cert;
        missing[`${hook}_key`] = issued.key;
      }
    }
    return Object.keys(missing).length ? this.writeStatus(app, pass, missing) : app;
  }

  private async ensureFinalizer(app: Resource, pass: Pass): Promise<Resource> {
    if (app.metadata.finalizers?.includes(APP_FINALIZER)) return app;
    const updated = await this.api(Application).update(
      {
        ...app,
        metadata: { ...app.metadata, finalizers: [...(app.metadata.finalizers ?? []), APP_FINALIZER] },
      },
      { signal: pass.signal },
    );
    this.apps.observeWrite(updated);
    pass.ownEdit = true;
    return updated;
  }

  private async dropOwner(app: Resource, owner: ResourceRef, pass: Pass): Promise<Resource> {
    const owners: ResourceRef[] = app.metadata.owners ?? [];
    if (!owners.some((o) => sameRef(o, owner))) return app;
    const updated = await this.api(Application).update(
      { ...app, metadata: { ...app.metadata, owners: owners.filter((o) => !sameRef(o, owner)) } },
      { signal: pass.signal },
    );
    this.apps.observeWrite(updated);
    pass.ownEdit = true;
    return updated;
  }

  private async deleteAll(client: KubeClient, objects: Obj[], signal: AbortSignal): Promise<void> {
    for (const o of inApplyOrder(objects).reverse()) {
      await client.delete(refOf(o), { signal });
      await this.invalidate(client, o);
    }
  }

  /**
   * A status write with the resource_version read (a concurrent change is a 409 and a new pass). After the
   * controller's own edit of the app in this pass, the handshake time moves past that edit: it was not a
   * user's change for the scheduler to see first.
   */
  private async writeStatus(app: Resource, pass: Pass, changes: Record<string, unknown>): Promise<Resource> {
    const status = { ...app.status, ...changes };
    if (pass.ownEdit) {
      const at = Math.max(Date.now(), time(app.metadata.modified));
      status.kube_controller_triggered = new Date(at).toISOString();
    }
    const written = await this.api(Application).updateStatus({ ...app, status }, { signal: pass.signal });
    this.apps.observeWrite(written);
    this.ownWrites.set(pass.key, String(written.metadata.resource_version));
    return written;
  }

  private usableCluster(ref: ResourceRef | null | undefined): Resource | null {
    if (!ref) return null;
    const cluster = this.clusters.getByName(ref.name, ref.namespace ?? null);
    return cluster && clusterHasKubeconfig(cluster) ? cluster : null;
  }

  private clientOf(cluster: Resource): KubeClient {
    const key = keyOf(cluster);
    const { client, fresh } = this.clients.get(key, cluster.spec.kubeconfig);
    if (fresh) {
      this.clusterKeys.set(client, key);
      this.reads.forgetCluster(key);
    }
    return client;
  }
}

function refOfCluster(c: Resource): ResourceRef {
  return { api: "kubernetes", kind: "Cluster", name: c.metadata.name, namespace: c.metadata.namespace };
}

function hostOf(server: string): string {
  try {
    return new URL(server).hostname.replace(/^\[|\]$/g, "");
  } catch {
    return server;
  }
}

function hasValue(v: unknown): boolean {
  if (typeof v === "string") return v.length > 0;
  return Boolean(v && typeof v === "object" && Object.keys(v).length);
}

/** The same objects with the same content, in any order. */
function sameObjects(a: Obj[], b: Obj[]): boolean {
  if (a.length !== b.length) return false;
  const byId = new Map(a.map((o) => [identityOf(o), o]));
  return b.every((o) => isDeepStrictEqual(byId.get(identityOf(o)), o));
}

/** Both lists' objects, once each (what was applied and what was seen may differ after a crash). */
function mergeByIdentity(a: Obj[], b: Obj[]): Obj[] {
  const seen = new Map<string, Obj>();
  for (const o of [...a, ...b]) if (o?.metadata?.name && !seen.has(identityOf(o))) seen.set(identityOf(o), o);
  return [...seen.values()];
}

/** The scheduler's marker (its state to set): no place for the app, or a cluster being created for it. */
function awaitingPlacement(s: { state?: string; reason?: { code?: string } | null }): boolean {
  return (
    (s.state === "DEGRADED" || s.state === "WAITING_FOR_CLUSTER_CREATION") &&
    s.reason?.code === "NO_SUITABLE_RESOURCE"
  );
}
