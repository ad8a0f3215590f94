/**
 * The autoscaler's decisions as pure functions of what the cluster's status says (docs/autoscaling.md, goals 2
 * and 3): how large one worker is, how many workers pending pods need, whether and by how much to grow now,
 * which node may go, and whether its pods can go elsewhere. The controller (autoscaler.ts) reads the inputs,
 * writes the intents and takes the actions.
 */
import { systemShape } from "../../kube/cluster-tosca.js";
import { formatMemory } from "../../kube/quantity.js";
import { podRequests, type Capacity, type NodeCapacity, type Resources } from "../cluster/capacity.js";

export interface WorkerPolicy {
  input: string;
  system: string;
  min: number;
  max: number;
}

export interface Policy {
  workers: WorkerPolicy;
  scale_up: {
    unschedulable_pods: boolean;
    pressure: boolean;
    metric: { name: string; namespaced: boolean; above: number } | null;
    cooldown: number;
    max_concurrent: number;
  };
  scale_down: {
    enabled: boolean;
    idle_time: number;
    utilization_below: number;
    metric: { name: string; namespaced: boolean; below: number } | null;
    cooldown: number;
  };
}

export type Step = "cordoned" | "drained" | "requested";

export interface Removal {
  node: string;
  vm_id: string | null;
  step: Step;
  since: string;
}

export interface AutoscalingStatus {
  desired: number | null;
  removing: Removal[];
  last_scale_up: string | null;
  last_scale_down: string | null;
  message: string | null;
}

import type { ObjectEvent as ClusterEvent } from "../../controller/events.js";
export type { ClusterEvent };

export const PODS_PER_NODE = 110;

export function emptyStatus(): AutoscalingStatus {
  return { desired: null, removing: [], last_scale_up: null, last_scale_down: null, message: null };
}

/**
 * The worker count the autoscaler starts from when it takes a built cluster over: the template's, raised to
 * `min`. Above `max` it is kept: the extra workers go one drained node at a time, never by a bare lower count
 * (IM would remove its oldest VMs, pods and all).
 */
export function initialDesired(templateCount: number | null, workers: WorkerPolicy): number {
  return Math.max(templateCount ?? workers.min, workers.min);
}

/**
 * What one worker offers: the smallest allocatable among the cluster's worker nodes (what the kubelet really
 * leaves for pods), else the VM size the TOSCA gives the worker system; null when neither is known.
 */
export function workerShape(
  capacity: Pick<Capacity, "nodes"> | null,
  tosca: Record<string, unknown>,
  system: string,
): Resources | null {
  const workers = (capacity?.nodes ?? []).filter((n) => n.worker && n.allocatable.cpu_millis > 0);
  if (workers.length > 0) {
    return {
      cpu_millis: Math.min(...workers.map((n) => n.allocatable.cpu_millis)),
      memory_bytes: Math.min(...workers.map((n) => n.allocatable.memory_bytes)),
      pods: Math.min(...workers.map((n) => n.allocatable.pods || PODS_PER_NODE)),
    };
  }
  const shape = systemShape(tosca, system);
  return shape ? { cpu_millis: shape.cpuMillis, memory_bytes: shape.memoryBytes, pods: PODS_PER_NODE } : null;
}

/** Whether a pod could run on one empty worker at all: if not, no number of new workers helps it. */
export function fitsOneWorker(request: Resources, shape: Resources | null): boolean {
  if (!shape) return true;
  return request.cpu_millis <= shape.cpu_millis && request.memory_bytes <= shape.memory_bytes;
}

/** `ceil(max(cpu / worker cpu, memory / worker memory, pods / worker pods))`, at least 1 for any pod. */
export function workersFor(pending: Resources, shape: Resources | null): number {
  if (pending.pods <= 0) return 0;
  if (!shape) return 1;
  const share = (need: number, unit: number) => (unit > 0 ? need / unit : 0);
  const n = Math.max(
    share(pending.cpu_millis, shape.cpu_millis),
    share(pending.memory_bytes, shape.memory_bytes),
    share(pending.pods, shape.pods),
  );
  return Math.max(1, Math.ceil(n - 1e-9));
}

/** CPUs as people say them: 1500 millicores → "1.5 CPU". */
export function cpus(millis: number): string {
  return `${Math.round(millis / 10) / 100} CPU`;
}

/** "3 pods need 4.5 CPU and 48Mi". */
export function describePending(pending: Resources): string {
  const cpu = pending.cpu_millis > 0 ? cpus(pending.cpu_millis) : null;
  const memory = pending.memory_bytes > 0 ? formatMemory(pending.memory_bytes) : null;
  const what = [cpu, memory].filter(Boolean).join(" and ");
  const pods = pending.pods === 1 ? "1 pod needs" : `${pending.pods} pods need`;
  return `${pods} ${what || "room"}`;
}

export interface ScaleUpInput {
  desired: number;
  max: number;
  maxConcurrent: number;
  /** Workers asked for and not Ready yet (desired minus Ready workers not being removed). */
  booting: number;
  /** Workers the triggers call for (0: no trigger). */
  needed: number;
  /** Why, in words: "3 pods need 2.5 CPU", "node vnode-1 under MemoryPressure". */
  why: string;
  /** Milliseconds since the last scale-up (Infinity: never), and the cooldown. */
  sinceLastScaleUpMs: number;
  cooldownMs: number;
}

export interface ScaleUpDecision {
  /** Workers to add now; 0 when the trigger has to wait or cannot be helped. */
  add: number;
  message: string | null;
  /** When waiting for the cooldown: how long. */
  retryAfterMs?: number;
}

/**
 * How many workers to add now: what the triggers need beyond the workers already booting, at most up to
 * `max`, at most `max_concurrent` booting at once, and nothing within the cooldown of the last scale-up.
 */
export function planScaleUp(input: ScaleUpInput): ScaleUpDecision {
  const { desired, max, maxConcurrent, booting, needed, why } = input;
  if (needed <= 0) return { add: 0, message: null };
  if (desired >= max) return { add: 0, message: `at max workers (${max}): ${why}` };
  const beyondBooting = needed - booting;
  if (beyondBooting <= 0)
    return {
      add: 0,
      message: `waiting for ${booting} booting worker${booting === 1 ? "" : "s"}: ${why}`,
    };
  const room = Math.min(max - desired, maxConcurrent - booting);
  if (room <= 0)
    return {
      add: 0,
      message: `${booting} worker${booting === 1 ? "" : "s"} booting, max_concurrent is ${maxConcurrent}: ${why}`,
    };
  if (input.sinceLastScaleUpMs < input.cooldownMs) {
    const left = input.cooldownMs - input.sinceLastScaleUpMs;
    return {
      add: 0,
      message: `scale-up cooling down for ${Math.ceil(left / 1000)} s: ${why}`,
      retryAfterMs: left,
    };
  }
  const add = Math.min(beyondBooting, room);
  const limit =
    add < beyondBooting
      ? ` (${beyondBooting} wanted; ${add === max - desired ? "max" : "max_concurrent"} allows ${add})`
      : "";
  return { add, message: `scaling up from ${desired} to ${desired + add} workers: ${why}${limit}` };
}

/**
 * Nodes that may be removed, best first: Ready, schedulable workers not already on their way out, idle for
 * `idleTimeMs` (unless `anyLoad`: a metric or a lowered `max` asks for a node whatever its load), the least
 * loaded first.
 */
export function removalCandidates(
  nodes: readonly NodeCapacity[],
  options: { now: number; idleTimeMs: number; anyLoad: boolean; exclude: ReadonlySet<string> },
): NodeCapacity[] {
  const load = (n: NodeCapacity) =>
    (n.allocatable.cpu_millis > 0 ? n.requested.cpu_millis / n.allocatable.cpu_millis : 1) +
    (n.allocatable.memory_bytes > 0 ? n.requested.memory_bytes / n.allocatable.memory_bytes : 1);
  return nodes
    .filter((n) => n.worker && n.ready && n.schedulable && !options.exclude.has(n.name))
    .filter(
      (n) =>
        options.anyLoad ||
        (n.idle_since !== null && options.now - Date.parse(n.idle_since) >= options.idleTimeMs),
    )
    .sort((a, b) => a.workload_pods - b.workload_pods || load(a) - load(b) || b.name.localeCompare(a.name));
}

const MOVABLE_CONTROLLERS = new Set(["ReplicaSet", "StatefulSet", "Job"]);
const TERMINATED = new Set(["Succeeded", "Failed"]);

const podName = (pod: any) => `${pod.metadata?.namespace ?? "default"}/${pod.metadata?.name ?? "?"}`;

/** DaemonSet and mirror pods stay with the node (they run on every node); everything else must move. */
export function podsToMove(pods: readonly any[]): any[] {
  return pods.filter((pod) => {
    if (TERMINATED.has(pod.status?.phase)) return false;
    if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"]) return false;
    return !(pod.metadata?.ownerReferences ?? []).some((o: any) => o.kind === "DaemonSet" && o.controller);
  });
}

export type DrainCheck = { ok: true; pods: any[] } | { ok: false; why: string };

/**
 * Whether a node's pods can leave it: each is recreated by its controller (ReplicaSet, StatefulSet, Job) and
 * fits, with the others, on the free room of the remaining schedulable nodes (first fit, largest first).
 */
export function checkDrain(
  pods: readonly any[],
  others: readonly Pick<NodeCapacity, "name" | "allocatable" | "requested">[],
): DrainCheck {
  const moving = podsToMove(pods);
  for (const pod of moving) {
    const controller = (pod.metadata?.ownerReferences ?? []).find((o: any) => o.controller);
    if (!controller) return { ok: false, why: `pod ${podName(pod)} has no controller` };
    if (!MOVABLE_CONTROLLERS.has(controller.kind))
      return {
        ok: false,
        why: `pod ${podName(pod)} is controlled by ${controller.kind} ${controller.name}, not a ReplicaSet, StatefulSet or Job`,
      };
  }
  const free = others.map((n) => ({
    name: n.name,
    cpu: n.allocatable.cpu_millis - n.requested.cpu_millis,
    memory: n.allocatable.memory_bytes - n.requested.memory_bytes,
    pods: n.allocatable.pods - n.requested.pods,
  }));
  const sized = moving
    .map((pod) => ({ pod, req: podRequests(pod) }))
    .sort((a, b) => b.req.cpu_millis - a.req.cpu_millis || b.req.memory_bytes - a.req.memory_bytes);
  for (const { pod, req } of sized) {
    const node = free.find((n) => n.cpu >= req.cpu_millis && n.memory >= req.memory_bytes && n.pods >= 1);
    if (!node)
      return {
        ok: false,
        why: `pod ${podName(pod)} (${cpus(req.cpu_millis)}, ${formatMemory(req.memory_bytes)}) fits on no other node`,
      };
    node.cpu -= req.cpu_millis;
    node.memory -= req.memory_bytes;
    node.pods -= 1;
  }
  return { ok: true, pods: moving };
}
