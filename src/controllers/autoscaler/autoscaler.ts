/**
 * The autoscaler (docs/autoscaling.md, goals 2 and 3): grows a cluster with `spec.autoscaling` whose pods wait
 * for room (or whose nodes are under pressure, or whose metric is high) and shrinks it when a node sits idle
 * (or its metric is low), by owning one number, `status.autoscaling.desired`, that the infrastructure
 * controller sends IM as the TOSCA's worker count, with the workers' `removal_list` naming the VMs to remove.
 *
 * Level-triggered and crash-safe: every external effect is preceded by its intent in the cluster's status, and
 * every effect is idempotent, so a restarted autoscaler resumes from the status:
 * - take-over, once the cluster is built and has a kubeconfig: `desired` null → the template's count, raised to
 *   `min`; above `max` the extra workers go one drained node at a time, never by a bare lower count (IM would
 *   remove its oldest VMs, pods and all);
 * - scale-up: `desired += n` and `last_scale_up`, in one write; nothing else to do (the infrastructure
 *   controller sends the absolute count);
 * - scale-down: `removing: [{node, step: cordoned}]` → cordon → `step: drained` → delete the node's pods →
 *   find its VM through the provider → `step: requested, vm_id, desired −= 1` in one write → (the
 *   infrastructure controller sends it; IM removes that VM) → the node leaves → entry cleared,
 *   `last_scale_down`.
 * One change at a time: no new decision while the infrastructure controller has not yet sent the last one
 * (`status.last_applied_tosca` carries another worker count), so an increase and a removal are never merged
 * into one document that would add one VM fewer instead of removing the chosen one.
 * The autoscaler acts on clusters the cluster controller watches (ONLINE, NOTREADY, UNHEALTHY,
 * FAILING_METRICS): during CREATING, RECONCILING and CONNECTING the figures in `status.capacity` are those of
 * before the change being applied.
 */
import { KrakeApiError } from "../../client/index.js";
import { Controller, type ControllerContext, type ReconcileResult } from "../../controller/controller.js";
import { Informer, keyOf } from "../../controller/informer.js";
import type { Counter } from "../../controller/metrics.js";
import { KubeApiError, KubeClient } from "../../kube/client.js";
import { ClusterClients } from "../../kube/clients.js";
import { workerCount } from "../../kube/cluster-tosca.js";
import { formatMemory } from "../../kube/quantity.js";
import { MetricsCache } from "../../metrics/index.js";
import { scalableNodes } from "../../providers/im/scaling.js";
import { ProviderError } from "../../providers/provider.js";
import { withEvent } from "../../controller/events.js";
import type { Resource } from "../../resources/kind.js";
import {
  Cloud,
  Cluster,
  clusterHasKubeconfig,
  GlobalCloud,
  GlobalInfrastructureProvider,
  GlobalMetric,
  GlobalMetricsProvider,
  InfrastructureProvider as ProviderKind,
  Metric,
  MetricsProvider,
} from "../../resources/registry.js";
import {
  podRequests,
  unschedulableForResources,
  type Capacity,
  type Resources,
} from "../cluster/capacity.js";
import { providerOf, UnusableProvider, type ProviderOptions } from "../infrastructure/providers.js";
import { MetricValues, type MetricCatalog } from "../scheduler/collect.js";
import {
  checkDrain,
  cpus,
  describePending,
  emptyStatus,
  fitsOneWorker,
  initialDesired,
  planScaleUp,
  podsToMove,
  removalCandidates,
  workerShape,
  workersFor,
  type AutoscalingStatus,
  type ClusterEvent,
  type Policy,
  type Removal,
} from "./plan.js";

export interface AutoscalerOptions {
  workers?: number;
  /** How often each autoscaled cluster is looked at again without a change (metrics, idle times). */
  intervalMs?: number;
  /** How long evicted pods may take to leave a node before its VM is removed anyway. */
  drainTimeoutMs?: number;
  /** Timeout of one call to a cluster's Kubernetes API. */
  timeoutMs?: number;
  /** Timeout of one call to the infrastructure provider (the VM lookup). */
  providerTimeoutMs?: number;
  /** Tests may swap how a kubeconfig becomes a client. */
  clientFor?: (kubeconfig: Record<string, unknown>) => KubeClient;
  /** Tests and the sandbox may swap the provider implementation. */
  providerFor?: ProviderOptions["providerFor"];
  metricsCache?: MetricsCache;
  /**
   * Tests: called right after an intent was written and before it is acted on (`take-over`, `scale-up`, or
   * the removal step written). Awaited: a test can stop the controller there, as a crash would.
   */
  afterIntent?: (cluster: string, intent: string, signal: AbortSignal) => Promise<void> | void;
}

/** The cluster controller's states: the cluster is built, reachable or being looked at, and observed. */
const ACTIVE = new Set(["ONLINE", "NOTREADY", "UNHEALTHY", "FAILING_METRICS"]);
const SOURCE = "autoscaler";

type Event = Omit<ClusterEvent, "time" | "source">;

export class Autoscaler extends Controller {
  readonly name = "autoscaler";
  private readonly clusters;
  private readonly infra;
  private readonly values: MetricValues;
  private readonly queue;
  private readonly clients: ClusterClients;
  private readonly opts: Required<
    Omit<AutoscalerOptions, "clientFor" | "providerFor" | "metricsCache" | "afterIntent">
  > &
    Pick<AutoscalerOptions, "providerFor" | "afterIntent">;
  private readonly scaled: Counter;

  constructor(ctx: ControllerContext, options: AutoscalerOptions = {}) {
    super(ctx);
    this.opts = {
      workers: 5,
      intervalMs: 10_000,
      drainTimeoutMs: 120_000,
      timeoutMs: 10_000,
      providerTimeoutMs: 30_000,
      ...options,
    };
    const log = ctx.log;
    this.clients = new ClusterClients(
      options.clientFor ?? ((kc) => KubeClient.fromKubeconfig(kc, { timeoutMs: this.opts.timeoutMs })),
    );
    this.clusters = this.informer(new Informer(ctx.client, Cluster, { log }));
    this.infra = {
      clouds: this.informer(new Informer(ctx.client, Cloud, { log })),
      globalClouds: this.informer(new Informer(ctx.client, GlobalCloud, { log })),
      providers: this.informer(new Informer(ctx.client, ProviderKind, { log })),
      globalProviders: this.informer(new Informer(ctx.client, GlobalInfrastructureProvider, { log })),
    };
    const m = {
      metrics: this.informer(new Informer(ctx.client, Metric, { log })),
      globalMetrics: this.informer(new Informer(ctx.client, GlobalMetric, { log })),
      providers: this.informer(new Informer(ctx.client, MetricsProvider, { log })),
      globalProviders: this.informer(new Informer(ctx.client, GlobalMetricsProvider, { log })),
    };
    const catalog: MetricCatalog = {
      metric: (name, ns) => m.metrics.getByName(name, ns),
      globalMetric: (name) => m.globalMetrics.getByName(name, null),
      provider: (name, ns) => m.providers.getByName(name, ns),
      globalProvider: (name) => m.globalProviders.getByName(name, null),
    };
    this.values = new MetricValues(
      catalog,
      options.metricsCache ?? new MetricsCache({ ttlMs: 1_000 }),
      10_000,
    );
    for (const informer of Object.values(m))
      informer.on({
        add: () => this.values.invalidate(),
        update: () => this.values.invalidate(),
        delete: () => this.values.invalidate(),
      });

    this.queue = this.loop("clusters", (key, signal) => this.reconcile(key, signal), {
      workers: this.opts.workers,
    });
    const enqueue = (c: Resource) => {
      if (this.wanted(c)) this.queue.add(keyOf(c));
    };
    this.clusters.on({
      add: enqueue,
      update: (_old, c) => enqueue(c),
      delete: (c) => this.clients.forget(keyOf(c)),
    });

    this.scaled = ctx.metrics.counter(
      "krake_autoscaler_scale_total",
      "Worker count changes decided by the autoscaler, by cluster and direction (up, down)",
    );
    ctx.metrics
      .gauge("krake_autoscaler_desired_workers", "The worker count the autoscaler wants for a cluster")
      .collect(() =>
        this.clusters
          .list()
          .filter((c) => c.spec.autoscaling && typeof c.status.autoscaling?.desired === "number")
          .map((c) => [{ cluster: keyOf(c) }, c.status.autoscaling.desired as number]),
      );
  }

  /** Clusters with a policy, and those whose policy was just removed (their status is handed back). */
  private wanted(c: Resource): boolean {
    if (c.metadata.deleted || c.status.state === "FAILED" || c.status.state === "DELETING") return false;
    return Boolean(c.spec.autoscaling) || (c.status.autoscaling ?? null) !== null;
  }

  private async reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void> {
    const cluster = this.clusters.get(key);
    if (!cluster || !this.wanted(cluster)) {
      this.clients.forget(key);
      return;
    }
    try {
      if (!cluster.spec.autoscaling) return await this.handBack(key, cluster, signal);
      const status: AutoscalingStatus = { ...emptyStatus(), ...(cluster.status.autoscaling ?? {}) };
      // Built and handed over first: the create call uses the template's own count.
      if (!clusterHasKubeconfig(cluster)) return;
      if (status.desired === null) return await this.takeOver(key, cluster, signal);
      if (!ACTIVE.has(cluster.status.state) || !cluster.status.capacity)
        return { requeueAfterMs: this.opts.intervalMs };
      return await this.decide(key, cluster, status, signal);
    } catch (err) {
      // Deleted meanwhile: nothing left to scale.
      if (err instanceof KrakeApiError && err.status === 404) return;
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------ hand-over

  /** Take-over: the count the autoscaler starts from, written before anything is decided on it. */
  private async takeOver(key: string, cluster: Resource, signal: AbortSignal): Promise<ReconcileResult> {
    const policy: Policy = cluster.spec.autoscaling;
    const { min, max, input } = policy.workers;
    const count = workerCount(cluster.spec.tosca ?? {}, input);
    const desired = initialDesired(count, policy.workers);
    const changed = count !== desired ? `; the template asked for ${count ?? "no number"}` : "";
    const message = `managing the worker count: ${desired} workers (${min}..${max})${changed}`;
    await this.write(
      cluster,
      { ...emptyStatus(), ...(cluster.status.autoscaling ?? {}), desired, message },
      { type: "Normal", reason: "AutoscalingEnabled", message },
      signal,
    );
    this.ctx.log.info({ cluster: key, desired, template: count }, "autoscaling takes over the worker count");
    await this.opts.afterIntent?.(key, "take-over", signal);
    return { requeueAfterMs: this.opts.intervalMs };
  }

  /** `spec.autoscaling` removed: the TOSCA's count rules again; nodes on their way out are let back in. */
  private async handBack(key: string, cluster: Resource, signal: AbortSignal): Promise<void> {
    const removing: Removal[] = cluster.status.autoscaling?.removing ?? [];
    const pending = removing.filter((r) => r.step !== "requested");
    if (pending.length > 0 && clusterHasKubeconfig(cluster)) {
      const client = this.clientOf(key, cluster);
      for (const r of pending) await this.cordon(client, r.node, false, signal);
    }
    const message = "autoscaling removed: the worker count is the TOSCA's again";
    const next = { ...cluster, status: { ...cluster.status, autoscaling: null } };
    next.status.events = withEvent(cluster.status.events, {
      time: new Date().toISOString(),
      type: "Normal",
      reason: "AutoscalingDisabled",
      message,
      source: SOURCE,
    });
    this.clusters.observeWrite(await this.api(Cluster).updateStatus(next, { signal }));
    this.ctx.log.info({ cluster: key }, "autoscaling handed the worker count back");
  }

  // ------------------------------------------------------------------------------------------ decisions

  private async decide(
    key: string,
    cluster: Resource,
    status: AutoscalingStatus,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const policy: Policy = cluster.spec.autoscaling;
    const capacity: Capacity = cluster.status.capacity;
    const desired = status.desired as number;
    const now = Date.now();
    const client = this.clientOf(key, cluster);
    // The infrastructure controller has sent every change so far: IM's count is ours.
    const applied = workerCount(cluster.status.last_applied_tosca ?? {}, policy.workers.input) === desired;

    // 1. A removal under way goes on from the step it reached.
    const removal = status.removing[0];
    if (removal) {
      const done = await this.continueRemoval(key, cluster, status, removal, applied, client, signal);
      if (done) return done;
    }

    // 2. Scale up.
    const requested = new Set(status.removing.filter((r) => r.step === "requested").map((r) => r.node));
    const readyWorkers = capacity.nodes.filter((n) => n.worker && n.ready && !requested.has(n.name)).length;
    const booting = Math.max(0, desired - readyWorkers);
    if (desired < policy.workers.min) {
      if (!applied) return this.say(cluster, status, this.waitingMessage(cluster, policy), signal);
      return this.scaleUp(
        key,
        cluster,
        status,
        policy.workers.min - desired,
        {
          message: `raising the worker count from ${desired} to the minimum ${policy.workers.min}`,
          reason: "BelowMinimum",
        },
        signal,
      );
    }
    const trigger = await this.scaleUpTrigger(key, cluster, policy, capacity, client, signal);
    if (trigger.needed > 0) {
      if (!applied)
        return this.say(cluster, status, `${this.waitingMessage(cluster, policy)}: ${trigger.why}`, signal);
      const last = status.last_scale_up ? Date.parse(status.last_scale_up) : -Infinity;
      const plan = planScaleUp({
        desired,
        max: policy.workers.max,
        maxConcurrent: policy.scale_up.max_concurrent,
        booting,
        needed: trigger.needed,
        why: trigger.why,
        sinceLastScaleUpMs: now - last,
        cooldownMs: policy.scale_up.cooldown * 1000,
      });
      if (plan.add > 0)
        return this.scaleUp(
          key,
          cluster,
          status,
          plan.add,
          { message: plan.message!, reason: "ScaleUp" },
          signal,
        );
      const result = await this.say(cluster, status, plan.message, signal);
      if (plan.retryAfterMs !== undefined)
        return { requeueAfterMs: Math.min(result.requeueAfterMs!, plan.retryAfterMs + 50) };
      return result;
    }

    // 3. Scale down: one node at a time, nothing booting, no pod waiting for room, everything sent.
    if (status.removing.length > 0 || !applied || booting > 0 || trigger.waiting > 0)
      return { requeueAfterMs: this.opts.intervalMs };
    return this.scaleDown(key, cluster, status, policy, capacity, trigger.note, client, signal);
  }

  private waitingMessage(cluster: Resource, policy: Policy): string {
    const sent = workerCount(cluster.status.last_applied_tosca ?? {}, policy.workers.input);
    return `waiting for the infrastructure controller to apply ${cluster.status.autoscaling?.desired} workers (${sent ?? "?"} sent so far)`;
  }

  /** What calls for more workers, and how many: pods waiting for room, node pressure, the metric. */
  private async scaleUpTrigger(
    key: string,
    cluster: Resource,
    policy: Policy,
    capacity: Capacity,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<{ needed: number; why: string; note: string | null; waiting: number }> {
    const why: string[] = [];
    const notes: string[] = [];
    let needed = 0;
    // Pods waiting for room that a worker could host (all of them, when the trigger is off).
    let waiting = capacity.unschedulable.pods;
    if (policy.scale_up.unschedulable_pods && capacity.unschedulable.pods > 0) {
      const shape = workerShape(capacity, cluster.spec.tosca ?? {}, policy.workers.system);
      const pods = await this.pendingPods(client, signal);
      const sum: Resources = { cpu_millis: 0, memory_bytes: 0, pods: 0 };
      let tooBig = 0;
      for (const pod of pods) {
        const req = podRequests(pod);
        if (!fitsOneWorker(req, shape)) {
          tooBig++;
          continue;
        }
        sum.cpu_millis += req.cpu_millis;
        sum.memory_bytes += req.memory_bytes;
        sum.pods += 1;
      }
      waiting = sum.pods;
      if (sum.pods > 0) {
        needed = Math.max(needed, workersFor(sum, shape));
        why.push(describePending(sum));
      }
      if (tooBig > 0 && shape)
        notes.push(
          `${tooBig === 1 ? "1 pod needs" : `${tooBig} pods need`} more than one worker offers (${cpus(shape.cpu_millis)}, ${formatMemory(shape.memory_bytes)}): more workers would not help`,
        );
    }
    if (policy.scale_up.pressure) {
      for (const node of cluster.status.nodes ?? []) {
        const pressed = (node.status?.conditions ?? []).filter(
          (c: { type: string; status: string }) => /Pressure$/.test(c.type) && c.status === "True",
        );
        if (pressed.length === 0) continue;
        needed = Math.max(needed, 1);
        why.push(
          `node ${node.metadata.name} under ${pressed.map((c: { type: string }) => c.type).join(", ")}`,
        );
      }
    }
    const metric = policy.scale_up.metric;
    if (metric) {
      const value = await this.metricValue(key, cluster, metric, signal);
      if (typeof value === "string") notes.push(value);
      else if (value > metric.above) {
        needed = Math.max(needed, 1);
        why.push(`metric ${metric.name} at ${round(value)}, above ${metric.above}`);
      }
    }
    const note = notes.length ? notes.join("; ") : null;
    return { needed, why: [...why, ...notes].join("; "), note, waiting };
  }

  private async scaleUp(
    key: string,
    cluster: Resource,
    status: AutoscalingStatus,
    add: number,
    what: { message: string; reason: string },
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const desired = (status.desired as number) + add;
    const now = new Date().toISOString();
    await this.write(
      cluster,
      { ...status, desired, last_scale_up: now, message: what.message },
      { type: "Normal", reason: what.reason, message: what.message },
      signal,
      now,
    );
    this.scaled.inc({ cluster: key, direction: "up" }, add);
    this.ctx.log.info({ cluster: key, from: status.desired, to: desired, why: what.message }, "scaling up");
    await this.opts.afterIntent?.(key, "scale-up", signal);
    return { requeueAfterMs: this.opts.intervalMs };
  }

  private async scaleDown(
    key: string,
    cluster: Resource,
    status: AutoscalingStatus,
    policy: Policy,
    capacity: Capacity,
    note: string | null,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    const desired = status.desired as number;
    const now = Date.now();
    const { min, max } = policy.workers;
    const steady = `${desired} worker${desired === 1 ? "" : "s"} (${min}..${max})${note ? `; ${note}` : ""}`;
    const aboveMax = desired > max;
    if (!policy.scale_down.enabled && !aboveMax) return this.say(cluster, status, steady, signal);
    let reason: string | null = aboveMax ? `above the maximum (${desired} > ${max} workers)` : null;
    if (!reason && policy.scale_down.metric) {
      const metric = policy.scale_down.metric;
      const value = await this.metricValue(key, cluster, metric, signal);
      if (typeof value === "number" && value < metric.below)
        reason = `metric ${metric.name} at ${round(value)}, below ${metric.below}`;
    }
    const idleTimeMs = policy.scale_down.idle_time * 1000;
    const candidates = removalCandidates(capacity.nodes, {
      now,
      idleTimeMs,
      anyLoad: reason !== null,
      exclude: new Set(),
    });
    // When the next node will have been idle long enough: look again then.
    const soonest = capacity.nodes
      .filter((n) => n.worker && n.idle_since !== null)
      .map((n) => Date.parse(n.idle_since!) + idleTimeMs - now)
      .filter((ms) => ms > 0);
    const wake = soonest.length ? Math.min(...soonest) + 50 : Infinity;
    const later = (r: ReconcileResult) => ({ requeueAfterMs: Math.min(r.requeueAfterMs!, wake) });
    if (candidates.length === 0) return later(await this.say(cluster, status, steady, signal));
    if (desired - 1 < min)
      return later(
        await this.say(
          cluster,
          status,
          `at min workers (${min}): node ${candidates[0].name} is idle but kept`,
          signal,
        ),
      );
    if (!aboveMax) {
      const lastChange = Math.max(
        status.last_scale_up ? Date.parse(status.last_scale_up) : -Infinity,
        status.last_scale_down ? Date.parse(status.last_scale_down) : -Infinity,
      );
      const left = lastChange + policy.scale_down.cooldown * 1000 - now;
      if (left > 0) {
        const r = await this.say(
          cluster,
          status,
          `scale-down cooling down for ${Math.ceil(left / 1000)} s: node ${candidates[0].name} is idle`,
          signal,
        );
        return { requeueAfterMs: Math.min(r.requeueAfterMs!, left + 50) };
      }
    }
    let kept: string | null = null;
    for (const node of candidates) {
      const pods = await this.podsOn(client, node.name, signal);
      const check = checkDrain(pods, this.otherNodes(capacity, node.name, status));
      if (!check.ok) {
        kept ??= `${node.name} kept: ${check.why}`;
        continue;
      }
      // The VM first: a node whose machine cannot be named is never cordoned or drained.
      const vm = await this.findVm(cluster, node.name, policy.workers.system, signal);
      if (typeof vm !== "string") {
        kept ??= `${node.name} kept: ${vm.why}`;
        continue;
      }
      const why =
        reason ??
        `idle since ${node.idle_since} (${node.workload_pods} workload pod${node.workload_pods === 1 ? "" : "s"})`;
      const message = `removing node ${node.name} (VM ${vm}): ${why}`;
      const removal: Removal = {
        node: node.name,
        vm_id: vm,
        step: "cordoned",
        since: new Date().toISOString(),
      };
      const written = await this.write(
        cluster,
        { ...status, removing: [removal], message },
        { type: "Normal", reason: "ScaleDown", message: `${message}; cordoning and draining it` },
        signal,
      );
      this.ctx.log.info({ cluster: key, node: node.name, vm, why }, "scaling down");
      await this.opts.afterIntent?.(key, "cordoned", signal);
      const next: AutoscalingStatus = { ...emptyStatus(), ...written.status.autoscaling };
      const applied = true;
      return (
        (await this.continueRemoval(key, written, next, next.removing[0], applied, client, signal)) ?? {
          requeueAfterMs: this.opts.intervalMs,
        }
      );
    }
    return later(await this.say(cluster, status, kept, signal, "ScaleDownBlocked"));
  }

  /**
   * One removal, from the step it reached. Returns the reconcile's result when it acted or has to wait, null
   * when the cluster is free for other decisions (the removal was requested and IM is on it).
   */
  private async continueRemoval(
    key: string,
    cluster: Resource,
    status: AutoscalingStatus,
    removal: Removal,
    applied: boolean,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<ReconcileResult | null> {
    const policy: Policy = cluster.spec.autoscaling;
    const capacity: Capacity = cluster.status.capacity;
    const node = capacity.nodes.find((n) => n.name === removal.node);
    const rest = status.removing.filter((r) => r !== removal);
    if (!node) {
      // Gone from the cluster: done (or, before the request, gone by itself).
      const done = removal.step === "requested";
      const now = new Date().toISOString();
      const message = done
        ? `removed node ${removal.node} (VM ${removal.vm_id})`
        : `node ${removal.node} left the cluster before its removal was requested`;
      await this.write(
        cluster,
        {
          ...status,
          removing: rest,
          message,
          ...(done ? { last_scale_down: now } : {}),
        },
        { type: done ? "Normal" : "Warning", reason: done ? "ScaleDownDone" : "ScaleDownAborted", message },
        signal,
        now,
      );
      if (done) this.scaled.inc({ cluster: key, direction: "down" });
      this.ctx.log.info(
        { cluster: key, node: removal.node, vm: removal.vm_id, done },
        "node removal finished",
      );
      return { requeueAfterMs: this.opts.intervalMs };
    }

    if (removal.step === "requested") {
      // IM has removed the VM when the document naming it was sent; a node whose machine is gone stops being
      // Ready, and its object stays until someone deletes it (kubeadm clusters have no cloud controller).
      if (!node.ready && applied && this.sent(cluster, policy, removal.vm_id)) {
        await this.deleteNode(client, removal.node, signal);
        this.ctx.log.info({ cluster: key, node: removal.node }, "deleted the node object of a removed VM");
      }
      return null;
    }

    if (removal.step === "cordoned") {
      await this.cordon(client, removal.node, true, signal);
      // Looked at again now that nothing new can land on it: a pod may have arrived since the decision.
      const check = checkDrain(
        await this.podsOn(client, removal.node, signal),
        this.otherNodes(capacity, removal.node, status),
      );
      if (!check.ok) return this.abort(cluster, status, removal, check.why, client, signal);
      const drained: Removal = { ...removal, step: "drained", since: new Date().toISOString() };
      const written = await this.write(cluster, { ...status, removing: [drained, ...rest] }, null, signal);
      await this.opts.afterIntent?.(key, "drained", signal);
      status = { ...emptyStatus(), ...written.status.autoscaling };
      cluster = written;
      removal = status.removing[0];
    }

    // step "drained": evict what is still there, wait for it to leave, then request the VM's removal.
    let moving = podsToMove(await this.podsOn(client, removal.node, signal));
    const evict = moving.filter((pod) => !pod.metadata?.deletionTimestamp);
    if (evict.length > 0) {
      for (const pod of evict) await this.deletePod(client, pod, signal);
      moving = podsToMove(await this.podsOn(client, removal.node, signal));
    }
    const draining = Date.now() - Date.parse(removal.since);
    if (moving.length > 0) {
      if (draining < this.opts.drainTimeoutMs) return { requeueAfterMs: Math.min(this.opts.intervalMs, 500) };
      this.ctx.log.warn(
        { cluster: key, node: removal.node, pods: moving.length },
        "pods still leaving after the drain timeout; removing the node anyway",
      );
    }
    if (!applied) return this.say(cluster, status, this.waitingMessage(cluster, policy), signal);
    const vm = removal.vm_id ?? (await this.findVm(cluster, removal.node, policy.workers.system, signal));
    if (typeof vm !== "string") return this.abort(cluster, status, removal, vm.why, client, signal);
    const desired = (status.desired as number) - 1;
    const message = `removing node ${removal.node} (VM ${vm}): ${status.desired} → ${desired} workers`;
    await this.write(
      cluster,
      {
        ...status,
        desired,
        removing: [{ ...removal, vm_id: vm, step: "requested", since: new Date().toISOString() }, ...rest],
        message,
      },
      { type: "Normal", reason: "ScaleDownRequested", message },
      signal,
    );
    this.ctx.log.info({ cluster: key, node: removal.node, vm, desired }, "VM removal requested");
    await this.opts.afterIntent?.(key, "requested", signal);
    return { requeueAfterMs: this.opts.intervalMs };
  }

  /** Gives a removal up before it was requested: the node is let back in and stays. */
  private async abort(
    cluster: Resource,
    status: AutoscalingStatus,
    removal: Removal,
    why: string,
    client: KubeClient,
    signal: AbortSignal,
  ): Promise<ReconcileResult> {
    await this.cordon(client, removal.node, false, signal);
    const message = `${removal.node} kept: ${why}`;
    await this.write(
      cluster,
      { ...status, removing: status.removing.filter((r) => r !== removal), message },
      { type: "Warning", reason: "ScaleDownBlocked", message },
      signal,
    );
    return { requeueAfterMs: this.opts.intervalMs };
  }

  /** Whether the last document sent IM named `vm` in the workers' removal list. */
  private sent(cluster: Resource, policy: Policy, vm: string | null): boolean {
    if (!vm) return false;
    const pool = scalableNodes(cluster.status.last_applied_tosca ?? {}).find(
      (n) => n.name === policy.workers.system,
    );
    return pool?.removalList.includes(vm) ?? false;
  }

  /** The schedulable workers other than `node` and those on their way out: where its pods may go. */
  private otherNodes(capacity: Capacity, node: string, status: AutoscalingStatus) {
    const leaving = new Set(status.removing.map((r) => r.node));
    return capacity.nodes.filter((n) => n.worker && n.schedulable && n.name !== node && !leaving.has(n.name));
  }

  /** The provider's id of the VM hosting `node`, or why it cannot be told. */
  private async findVm(
    cluster: Resource,
    node: string,
    system: string,
    signal: AbortSignal,
  ): Promise<string | { why: string }> {
    const id = cluster.status.cluster_id;
    if (!id) return { why: "the cluster has no infrastructure id" };
    try {
      const provider = providerOf(
        cluster,
        {
          cloud: (name, ns) => this.infra.clouds.getByName(name, ns),
          globalCloud: (name) => this.infra.globalClouds.getByName(name, null),
          provider: (name, ns) => this.infra.providers.getByName(name, ns),
          globalProvider: (name) => this.infra.globalProviders.getByName(name, null),
        },
        { timeoutMs: this.opts.providerTimeoutMs, providerFor: this.opts.providerFor },
      );
      if (!provider.vmIdOfHost)
        return { why: "its infrastructure provider cannot tell which VM hosts a node" };
      const vm = await provider.vmIdOfHost(id, node, { system, signal });
      return vm ?? { why: `no VM of '${system}' in infrastructure ${id} is named ${node}` };
    } catch (err) {
      if (signal.aborted) throw err;
      if (err instanceof UnusableProvider || err instanceof ProviderError)
        return { why: `its VM cannot be looked up: ${err.message}` };
      throw err;
    }
  }

  // ------------------------------------------------------------------------------------------ the cluster

  private clientOf(key: string, cluster: Resource): KubeClient {
    return this.clients.get(key, cluster.spec.kubeconfig).client;
  }

  private async pendingPods(client: KubeClient, signal: AbortSignal): Promise<any[]> {
    const list = await client.request<{ items?: any[] }>("GET", "/api/v1/pods", {
      signal,
      query: { fieldSelector: "status.phase=Pending" },
    });
    return (list.items ?? []).filter(unschedulableForResources);
  }

  private async podsOn(client: KubeClient, node: string, signal: AbortSignal): Promise<any[]> {
    const list = await client.request<{ items?: any[] }>("GET", "/api/v1/pods", {
      signal,
      query: { fieldSelector: `spec.nodeName=${node}` },
    });
    return list.items ?? [];
  }

  /** Cordons (or uncordons) a node; a node that is gone needs neither. */
  private async cordon(client: KubeClient, node: string, on: boolean, signal: AbortSignal): Promise<void> {
    try {
      await client.request("PATCH", `/api/v1/nodes/${encodeURIComponent(node)}`, {
        signal,
        body: { spec: { unschedulable: on ? true : null } },
        contentType: "application/merge-patch+json",
      });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  private async deletePod(client: KubeClient, pod: any, signal: AbortSignal): Promise<void> {
    const ns = encodeURIComponent(pod.metadata?.namespace ?? "default");
    try {
      await client.request(
        "DELETE",
        `/api/v1/namespaces/${ns}/pods/${encodeURIComponent(pod.metadata.name)}`,
        {
          signal,
        },
      );
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  private async deleteNode(client: KubeClient, node: string, signal: AbortSignal): Promise<void> {
    try {
      await client.request("DELETE", `/api/v1/nodes/${encodeURIComponent(node)}`, { signal });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
    }
  }

  /** A metric's normalised value, or why it is unknown. */
  private async metricValue(
    key: string,
    cluster: Resource,
    metric: { name: string; namespaced: boolean },
    signal: AbortSignal,
  ): Promise<number | string> {
    const collected = await this.values.collect(
      [{ name: metric.name, weight: 1, namespaced: metric.namespaced }],
      cluster.metadata.namespace ?? null,
      signal,
    );
    const value = collected.values?.[0]?.value;
    if (typeof value === "number") return value;
    const failure = collected.failures[metric.name];
    this.ctx.log.debug({ cluster: key, metric: metric.name, failure }, "autoscaling metric unknown");
    return `metric ${metric.name} unknown: ${failure?.message ?? "no value"}`;
  }

  // ------------------------------------------------------------------------------------------ status

  /** Records the verdict when it changed (an event with it when `warning` names a reason); nothing else. */
  private async say(
    cluster: Resource,
    status: AutoscalingStatus,
    message: string | null,
    signal: AbortSignal,
    warning?: string,
  ): Promise<ReconcileResult> {
    if (message !== null && message !== status.message)
      await this.write(
        cluster,
        { ...status, message },
        warning ? { type: "Warning", reason: warning, message } : null,
        signal,
      );
    return { requeueAfterMs: this.opts.intervalMs };
  }

  private async write(
    cluster: Resource,
    autoscaling: AutoscalingStatus,
    event: Event | null,
    signal: AbortSignal,
    time = new Date().toISOString(),
  ): Promise<Resource> {
    const status = { ...cluster.status, autoscaling };
    if (event) status.events = withEvent(cluster.status.events, { time, source: SOURCE, ...event });
    const written = await this.api(Cluster).updateStatus({ ...cluster, status }, { signal });
    this.clusters.observeWrite(written);
    return written;
  }
}

const round = (v: number) => Math.round(v * 100) / 100;
