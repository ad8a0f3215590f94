/**
 * A cluster's room, as the scheduler and the autoscaler need it: what the schedulable worker nodes offer, what
 * the pods on them request, which pods wait for lack of resources, and since when each node has been idle.
 * Computed from one list of nodes and one of pods; units are millicores, bytes and pod slots.
 */
import { cpuMillis, memoryBytes } from "../../kube/quantity.js";

export interface Resources {
  cpu_millis: number;
  memory_bytes: number;
  pods: number;
}

export interface NodeCapacity {
  name: string;
  worker: boolean;
  schedulable: boolean;
  ready: boolean;
  allocatable: Resources;
  requested: Resources;
  workload_pods: number;
  idle_since: string | null;
}

export interface Capacity {
  observed: string;
  allocatable: Resources;
  requested: Resources;
  unschedulable: Resources;
  nodes: NodeCapacity[];
}

const none = (): Resources => ({ cpu_millis: 0, memory_bytes: 0, pods: 0 });

function add(a: Resources, b: Resources): Resources {
  return {
    cpu_millis: a.cpu_millis + b.cpu_millis,
    memory_bytes: a.memory_bytes + b.memory_bytes,
    pods: a.pods + b.pods,
  };
}

const finite = (n: number) => (Number.isFinite(n) ? n : 0);

/** What Kubernetes reserves for a pod: its containers' requests (limits when only those are set), or its
 * largest init container when that is more, one pod slot. */
export function podRequests(pod: any): Resources {
  const sum = (containers: any[] | undefined) =>
    (containers ?? []).reduce(
      (acc: { cpu: number; memory: number }, c: any) => {
        const req = { ...(c.resources?.limits ?? {}), ...(c.resources?.requests ?? {}) };
        return {
          cpu: acc.cpu + finite(cpuMillis(req.cpu ?? 0)),
          memory: acc.memory + finite(memoryBytes(req.memory ?? 0)),
        };
      },
      { cpu: 0, memory: 0 },
    );
  const app = sum(pod.spec?.containers);
  const init = (pod.spec?.initContainers ?? []).map((c: any) => sum([c]));
  const cpu = Math.max(app.cpu, ...init.map((i: { cpu: number }) => i.cpu));
  const memory = Math.max(app.memory, ...init.map((i: { memory: number }) => i.memory));
  return { cpu_millis: cpu, memory_bytes: memory, pods: 1 };
}

const TERMINATED = new Set(["Succeeded", "Failed"]);

/** Pending for lack of room (not for a selector, an affinity or a taint): what scale-up can help. */
export function unschedulableForResources(pod: any): boolean {
  if (pod.spec?.nodeName || pod.status?.phase !== "Pending") return false;
  const scheduled = (pod.status?.conditions ?? []).find((c: any) => c.type === "PodScheduled");
  if (!scheduled || scheduled.status !== "False" || scheduled.reason !== "Unschedulable") return false;
  return /Insufficient (cpu|memory)|Too many pods/.test(String(scheduled.message ?? ""));
}

/** DaemonSet pods and static (mirror) pods run on every node whatever happens: they do not make it busy. */
function isWorkload(pod: any): boolean {
  if (pod.metadata?.annotations?.["kubernetes.io/config.mirror"]) return false;
  return !(pod.metadata?.ownerReferences ?? []).some((o: any) => o.kind === "DaemonSet");
}

const SYSTEM_TAINTS = /^node\.kubernetes\.io\//;

export function computeCapacity(
  nodeItems: any[],
  podItems: any[],
  previous: Capacity | null,
  options: { now: Date; utilizationBelow: number },
): Capacity {
  const now = options.now.toISOString();
  const before = new Map((previous?.nodes ?? []).map((n) => [n.name, n]));
  const byNode = new Map<string, { requested: Resources; workload: number }>();
  let unschedulable = none();
  for (const pod of podItems) {
    if (TERMINATED.has(pod.status?.phase)) continue;
    const node = pod.spec?.nodeName;
    if (!node) {
      if (unschedulableForResources(pod)) unschedulable = add(unschedulable, podRequests(pod));
      continue;
    }
    const entry = byNode.get(node) ?? { requested: none(), workload: 0 };
    entry.requested = add(entry.requested, podRequests(pod));
    if (isWorkload(pod)) entry.workload += 1;
    byNode.set(node, entry);
  }
  const nodes: NodeCapacity[] = nodeItems.map((n) => {
    const name = String(n.metadata?.name ?? "");
    const alloc = n.status?.allocatable ?? {};
    const allocatable: Resources = {
      cpu_millis: finite(cpuMillis(alloc.cpu ?? 0)),
      memory_bytes: finite(memoryBytes(alloc.memory ?? 0)),
      pods: finite(Number(alloc.pods ?? 0)),
    };
    const taints: any[] = n.spec?.taints ?? [];
    // Control-plane and other dedicated nodes carry a NoSchedule taint of their own; the node lifecycle
    // controller's taints (not-ready, pressure) say nothing about the node's role.
    const worker = !taints.some(
      (t) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !SYSTEM_TAINTS.test(t.key),
    );
    const ready = (n.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
    const schedulable = worker && ready && !n.spec?.unschedulable;
    const use = byNode.get(name) ?? { requested: none(), workload: 0 };
    const share = (used: number, total: number) => (total > 0 ? used / total : 1);
    const idle =
      worker &&
      (use.workload === 0 ||
        (share(use.requested.cpu_millis, allocatable.cpu_millis) < options.utilizationBelow &&
          share(use.requested.memory_bytes, allocatable.memory_bytes) < options.utilizationBelow));
    return {
      name,
      worker,
      schedulable,
      ready,
      allocatable,
      requested: use.requested,
      workload_pods: use.workload,
      idle_since: idle ? (before.get(name)?.idle_since ?? now) : null,
    };
  });
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  const counted = nodes.filter((n) => n.schedulable);
  return {
    observed: now,
    allocatable: counted.reduce((acc, n) => add(acc, n.allocatable), none()),
    requested: counted.reduce((acc, n) => add(acc, n.requested), none()),
    unschedulable,
    nodes,
  };
}

/** Whether two observations differ in anything but their time (the status is written only on a change). */
export function sameCapacity(a: Capacity | null, b: Capacity | null): boolean {
  if (a === null || b === null) return a === b;
  return JSON.stringify({ ...a, observed: "" }) === JSON.stringify({ ...b, observed: "" });
}
