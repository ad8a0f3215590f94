/**
 * The infrastructure controller (controllers.md §4): builds the Kubernetes cluster a Cluster's TOSCA
 * describes on the cloud the scheduler chose, through that cloud's infrastructure provider, follows it until
 * it is configured, stores its kubeconfig (the cluster controller takes over from CONNECTING), applies TOSCA
 * changes (scaling), and tears it down on deletion behind the `infrastructure_resources_deletion` finalizer.
 *
 * Level-triggered and crash-safe:
 * - nothing sleeps in a worker: waiting is a re-queue with a growing delay (Krake's defect X21);
 * - before the create call the cluster is marked CREATING, so after a crash between the call and storing the
 *   id, the infrastructure is found again by the cluster's uid (the provider embeds it) instead of being
 *   created twice (X22);
 * - FAILING_RECONCILIATION is not terminal: reconfigure, with backoff, a bounded number of times (X20);
 *   an infrastructure that vanished is created again (X20);
 * - status writes carry the resource_version read (X25);
 * - what is sent is the effective TOSCA (effective.ts): with `spec.autoscaling`, the worker count is the
 *   autoscaler's `status.autoscaling.desired` and the workers' removal list the VMs it asked to remove. It is
 *   compared with `status.last_applied_tosca`, so each change is sent once, and re-sent whole after a crash.
 */
import { isDeepStrictEqual } from "node:util";
import { KrakeApiError } from "../../client/index.js";
import { Controller, type ControllerContext, type ReconcileResult } from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import type { Resource } from "../../resources/kind.js";
import {
  Cloud,
  Cluster,
  clusterHasKubeconfig,
  clusterHasTosca,
  GlobalCloud,
  GlobalInfrastructureProvider,
  InfrastructureProvider as ProviderKind,
} from "../../resources/registry.js";
import { ProviderError, type InfrastructureProvider } from "../../providers/provider.js";
import { alreadyApplied, effectiveTosca } from "./effective.js";
import { providerOf, UnusableProvider } from "./providers.js";
import { scrubText } from "../../util/log-redact.js";

export const INFRASTRUCTURE_FINALIZER = "infrastructure_resources_deletion";

export interface InfrastructureControllerOptions {
  workers?: number;
  /** First wait between two looks at a building infrastructure; grows by half each time. */
  pollMinMs?: number;
  /** Longest wait between two looks (Krake's poll_interval: 30 s). */
  pollMaxMs?: number;
  /** Reconfigure attempts of a FAILING_RECONCILIATION cluster before it is FAILED. */
  maxReconfigures?: number;
  /** Timeout of one provider call (scaling calls get longer: IM answers them once the VMs exist). */
  providerTimeoutMs?: number;
  /** Tests and the sandbox may swap the provider implementation. */
  providerFor?: (provider: Resource, cloud: Resource) => InfrastructureProvider;
}

export class InfrastructureController extends Controller {
  readonly name = "infrastructure";
  private readonly clusters;
  private readonly clouds;
  private readonly globalClouds;
  private readonly providers;
  private readonly globalProviders;
  private readonly queue;
  private readonly opts: Required<Omit<InfrastructureControllerOptions, "providerFor">> &
    Pick<InfrastructureControllerOptions, "providerFor">;
  /** Looks at a building infrastructure so far in the current state, per cluster: the poll backoff. */
  private readonly polls = new Map<string, { state: string; count: number }>();
  private readonly reconfigures = new Map<string, number>();
  /**
   * The template the provider refused, per cluster: a FAILED cluster is left alone until its TOSCA changes
   * (its own status write must not send the same template again, endlessly).
   */
  private readonly refused = new Map<string, unknown>();

  constructor(ctx: ControllerContext, options: InfrastructureControllerOptions = {}) {
    super(ctx);
    this.opts = {
      workers: 5,
      pollMinMs: 1_000,
      pollMaxMs: 30_000,
      maxReconfigures: 3,
      providerTimeoutMs: 30_000,
      ...options,
    };
    const log = ctx.log;
    this.clusters = this.informer(new Informer(ctx.client, Cluster, { log }));
    this.clouds = this.informer(new Informer(ctx.client, Cloud, { log }));
    this.globalClouds = this.informer(new Informer(ctx.client, GlobalCloud, { log }));
    this.providers = this.informer(new Informer(ctx.client, ProviderKind, { log }));
    this.globalProviders = this.informer(new Informer(ctx.client, GlobalInfrastructureProvider, { log }));
    this.queue = this.loop("clusters", (key, signal) => this.reconcile(key, signal), {
      workers: this.opts.workers,
    });
    const enqueue = (c: Resource) => {
      if (this.wanted(c)) this.queue.add(keyOf(c));
    };
    this.clusters.on({ add: enqueue, update: (_o, c) => enqueue(c), delete: (c) => this.forget(keyOf(c)) });
  }

  /** controllers.md §4.1, with deleted clusters handled whatever their state. */
  private wanted(c: Resource): boolean {
    const f = c.metadata.finalizers ?? [];
    if (c.metadata.deleted) return f[f.length - 1] === INFRASTRUCTURE_FINALIZER;
    if (c.status.state === "FAILED") {
      const { tosca } = effectiveTosca(c);
      if (
        isDeepStrictEqual(tosca, c.status.last_applied_tosca) ||
        isDeepStrictEqual(tosca, this.refused.get(keyOf(c)))
      )
        return false;
    }
    return Boolean(c.status.scheduled_to) && clusterHasTosca(c);
  }

  private forget(key: string) {
    this.polls.delete(key);
    this.reconfigures.delete(key);
    this.refused.delete(key);
  }

  /**
   * The provider refusing the request (bad template) fails the cluster with its message; refused
   * credentials and failed deletions are shown as the reason and retried (an operator may fix them);
   * anything else is retried.
   */
  private async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    try {
      return await this.reconcileOnce(key, signal);
    } catch (err) {
      if (!(err instanceof ProviderError) || signal.aborted) throw err;
      const cluster = this.clusters.get(key);
      if (!cluster) throw err;
      if (err.kind === "invalid" && !cluster.metadata.deleted) {
        const code = cluster.status.cluster_id ? "RECONCILE_FAILED" : "CREATE_FAILED";
        this.refused.set(key, effectiveTosca(cluster).tosca);
        return this.fail(cluster, code, err.message, signal);
      }
      // A deletion is never given up (the finalizer would hold the cluster for good): say why, retry with backoff.
      const code = cluster.metadata.deleted
        ? "DELETE_FAILED"
        : err.kind === "unauthorized"
          ? "INVALID_RESOURCE"
          : null;
      if (code && cluster.status.reason?.message !== err.message) {
        await this.setStatus(cluster, { reason: { code, message: err.message } }, signal).catch(() => {});
      }
      throw err;
    }
  }

  private async reconcileOnce(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    let cluster = this.clusters.get(key);
    if (!cluster || !this.wanted(cluster)) return;
    let provider: InfrastructureProvider;
    try {
      provider = this.providerOf(cluster);
    } catch (err) {
      if (!(err instanceof UnusableProvider)) throw err;
      // The cloud or provider may simply not exist yet: say why and look again later.
      if (cluster.metadata.deleted && !cluster.status.cluster_id) return this.dropFinalizer(cluster, signal);
      await this.setStatus(cluster, { reason: { code: "INVALID_RESOURCE", message: err.message } }, signal);
      return { requeueAfterMs: this.opts.pollMaxMs };
    }
    if (cluster.metadata.deleted) return this.deletePath(cluster, provider, signal);

    const uid = String(cluster.metadata.uid);
    const effective = effectiveTosca(cluster);
    const tosca = effective.tosca;
    const changed = !alreadyApplied(effective, cluster.status.last_applied_tosca);
    if (changed && effective.blocked) {
      this.ctx.log.warn({ cluster: key, why: effective.blocked }, "not sending the TOSCA");
    } else if (changed) {
      cluster = await this.ensureFinalizer(cluster, signal);
      if (!cluster.status.cluster_id) {
        // Marked before the call: a crash after it leaves CREATING without an id, which the lookup repairs.
        let id = cluster.status.state === "CREATING" ? await provider.findByMarker(uid, { signal }) : null;
        if (id)
          this.ctx.log.info({ cluster: key, id }, "adopting the infrastructure of an interrupted create");
        else {
          cluster = await this.setStatus(cluster, { state: "CREATING", reason: null }, signal);
          id = await provider.create(tosca, uid, { signal });
          this.ctx.log.info({ cluster: key, id }, "infrastructure creation started");
        }
        cluster = await this.setStatus(
          cluster,
          { cluster_id: id, running_on: cluster.status.scheduled_to, last_applied_tosca: tosca },
          signal,
        );
      } else {
        cluster = await this.setStatus(cluster, { state: "RECONCILING", reason: null }, signal);
        await provider.update(cluster!.status.cluster_id, tosca, uid, { signal });
        this.ctx.log.info(
          { cluster: key, id: cluster.status.cluster_id, removing: effective.removals },
          "infrastructure updated",
        );
        cluster = await this.setStatus(cluster, { last_applied_tosca: tosca }, signal);
      }
      return { requeueAfterMs: this.nextPoll(key, cluster.status.state) };
    }

    const id: string | null = cluster.status.cluster_id;
    if (!id) return;
    const state: string = cluster.status.state;
    const hasKubeconfig = clusterHasKubeconfig(cluster);
    // The cluster controller's states: the infrastructure is built and handed over.
    if (hasKubeconfig && !["CREATING", "RECONCILING", "FAILING_RECONCILIATION", "PENDING"].includes(state))
      return;

    if (state === "FAILING_RECONCILIATION") {
      const attempts = (this.reconfigures.get(key) ?? 0) + 1;
      if (attempts > this.opts.maxReconfigures) {
        return this.fail(
          cluster,
          "RECONFIGURE_FAILED",
          `still not configured after ${attempts - 1} reconfigure attempts; ${cluster.status.reason?.message ?? ""}`.trim(),
          signal,
        );
      }
      this.reconfigures.set(key, attempts);
      await provider.reconfigure(id, { signal });
      this.ctx.log.info({ cluster: key, id, attempt: attempts }, "reconfiguring the infrastructure");
      cluster = await this.setStatus(cluster, { state: "RECONCILING" }, signal);
      return { requeueAfterMs: this.nextPoll(key, "RECONCILING") };
    }

    let status;
    try {
      status = await provider.status(id, { signal });
    } catch (err) {
      if (err instanceof ProviderError && err.kind === "not-found") {
        // Gone behind Krake's back: build it again rather than giving up (Krake: PENDING, then FAILED).
        this.ctx.log.warn({ cluster: key, id }, "the infrastructure no longer exists; creating it again");
        await this.setStatus(
          cluster,
          {
            cluster_id: null,
            running_on: null,
            last_applied_tosca: {},
            state: "PENDING",
            reason: {
              code: "NOT_FOUND",
              message: `infrastructure ${id} disappeared from the provider; creating it again`,
            },
          },
          signal,
        );
        return;
      }
      throw err;
    }
    switch (status.phase) {
      case "ready": {
        this.reconfigures.delete(key);
        if (state !== "CONNECTING")
          cluster = await this.setStatus(cluster, { state: "CONNECTING", reason: null }, signal);
        const kubeconfig = await provider.kubeconfig(id, { signal });
        await this.storeKubeconfig(cluster, kubeconfig, signal);
        this.polls.delete(key);
        this.ctx.log.info({ cluster: key, id }, "infrastructure configured; kubeconfig stored");
        return;
      }
      case "degraded":
        await this.setStatus(
          cluster,
          {
            state: "FAILING_RECONCILIATION",
            reason: {
              code: "RECONCILE_FAILED",
              message: status.message ?? `configuration failed (${status.detail})`,
            },
          },
          signal,
        );
        return { requeueAfterMs: this.nextPoll(key, "FAILING_RECONCILIATION") };
      case "failed":
        return this.fail(
          cluster,
          "RECONCILE_FAILED",
          status.message ?? `the provider reports '${status.detail}'`,
          signal,
        );
      default: {
        // IM says `unknown` when the cloud would not tell a VM's state: transient, but worth showing.
        const unknown = Object.entries(status.machines)
          .filter(([, s]) => s === "unknown")
          .map(([vm]) => vm);
        const reason = unknown.length
          ? {
              code: "RETRIEVE_FAILED",
              message: `the provider cannot read the state of VM ${unknown.join(", ")}`,
            }
          : null;
        if (!isDeepStrictEqual(cluster.status.reason ?? null, reason))
          await this.setStatus(cluster, { reason }, signal);
        return { requeueAfterMs: this.nextPoll(key, state) };
      }
    }
  }

  private async deletePath(
    cluster: Resource,
    provider: InfrastructureProvider,
    signal: AbortSignal,
  ): Promise<ReconcileResult | void> {
    const key = keyOf(cluster);
    let id: string | null = cluster.status.cluster_id;
    // A create may have been sent without its id stored: find it before letting the cluster go.
    if (!id && cluster.status.state === "CREATING")
      id = await provider.findByMarker(String(cluster.metadata.uid), { signal });
    if (!id) return this.dropFinalizer(cluster, signal);
    if (cluster.status.state !== "DELETING") {
      await provider.delete(id!, { signal });
      this.ctx.log.info({ cluster: key, id }, "infrastructure deletion started");
      cluster = await this.setStatus(cluster, { state: "DELETING", cluster_id: id, reason: null }, signal);
      return { requeueAfterMs: this.nextPoll(key, "DELETING") };
    }
    try {
      const status = await provider.status(id, { signal });
      if (status.phase === "failed") {
        await this.setStatus(
          cluster,
          { reason: { code: "DELETE_FAILED", message: status.message ?? status.detail } },
          signal,
        );
        // Ask again: IM may accept a second delete of a failed infrastructure.
        await provider.delete(id!, { signal });
      }
      return { requeueAfterMs: this.nextPoll(key, "DELETING") };
    } catch (err) {
      if (!(err instanceof ProviderError && err.kind === "not-found")) throw err;
    }
    this.ctx.log.info({ cluster: key, id }, "infrastructure deleted");
    this.forget(key);
    return this.dropFinalizer(cluster, signal);
  }

  private providerOf(cluster: Resource): InfrastructureProvider {
    return providerOf(
      cluster,
      {
        cloud: (name, ns) => this.clouds.getByName(name, ns),
        globalCloud: (name) => this.globalClouds.getByName(name, null),
        provider: (name, ns) => this.providers.getByName(name, ns),
        globalProvider: (name) => this.globalProviders.getByName(name, null),
      },
      { timeoutMs: this.opts.providerTimeoutMs, providerFor: this.opts.providerFor },
    );
  }

  private nextPoll(key: string, state: string): number {
    const p = this.polls.get(key);
    const count = p && p.state === state ? p.count + 1 : 0;
    this.polls.set(key, { state, count });
    return Math.min(this.opts.pollMaxMs, Math.round(this.opts.pollMinMs * 1.5 ** count));
  }

  private async fail(cluster: Resource, code: string, why: string, signal: AbortSignal): Promise<void> {
    // IM's messages quote its contextualization log, which may echo credentials; the reason is readable by
    // everyone who may read the cluster.
    const message = scrubText(why);
    this.ctx.log.warn({ cluster: keyOf(cluster), code, message }, "infrastructure failed");
    await this.setStatus(cluster, { state: "FAILED", reason: { code, message } }, signal);
  }

  private async setStatus(
    cluster: Resource,
    changes: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<Resource> {
    // Shallow copies: the body is serialized, never mutated; cloning whole TOSCA documents cost more CPU
    // than the rest of a reconcile (bench:infra).
    const next = { ...cluster, status: { ...cluster.status, ...changes } };
    return this.wrote(await this.api(Cluster).updateStatus(next, { signal }));
  }

  /** The next reconcile of this cluster starts from what was just written, not from a lagging cache. */
  private wrote(cluster: Resource): Resource {
    this.clusters.observeWrite(cluster);
    return cluster;
  }

  private async ensureFinalizer(cluster: Resource, signal: AbortSignal): Promise<Resource> {
    if (cluster.metadata.finalizers.includes(INFRASTRUCTURE_FINALIZER)) return cluster;
    const next = {
      ...cluster,
      metadata: {
        ...cluster.metadata,
        finalizers: [...cluster.metadata.finalizers, INFRASTRUCTURE_FINALIZER],
      },
    };
    return this.wrote(await this.api(Cluster).update(next, { signal }));
  }

  private async storeKubeconfig(
    cluster: Resource,
    kubeconfig: Record<string, unknown>,
    signal: AbortSignal,
  ): Promise<void> {
    if (isDeepStrictEqual(cluster.spec.kubeconfig, kubeconfig)) return;
    const next = { ...cluster, spec: { ...cluster.spec, kubeconfig } };
    try {
      this.wrote(await this.api(Cluster).update(next, { signal }));
    } catch (err) {
      // Someone stored the same kubeconfig meanwhile: nothing to do.
      if (!(err instanceof KrakeApiError && err.status === 400 && /no update/i.test(err.detail ?? "")))
        throw err;
    }
  }

  private async dropFinalizer(cluster: Resource, signal: AbortSignal): Promise<void> {
    const f: string[] = cluster.metadata.finalizers;
    if (f[f.length - 1] !== INFRASTRUCTURE_FINALIZER) return;
    const next = { ...cluster, metadata: { ...cluster.metadata, finalizers: f.slice(0, -1) } };
    try {
      await this.api(Cluster).update(next, { signal });
    } catch (err) {
      if (!(err instanceof KrakeApiError && err.status === 404)) throw err;
    }
  }
}
