/**
 * What kube-controller-manager, kube-scheduler and the kubelets do in a real cluster, simulated: Deployments
 * make ReplicaSets, ReplicaSets/StatefulSets/DaemonSets/Jobs make Pods, the scheduler binds Pods to Nodes
 * that have room for their requests (or reports them Unschedulable with the real scheduler's message), the
 * "kubelet" starts bound Pods (after `podStartDelayMs`), completes Job Pods (after `jobDurationMs`) and
 * removes deleted ones, and every owner's status follows its Pods. LoadBalancer Services get an ingress IP.
 *
 * Everything is event-driven: store changes put keys on a queue that is drained on the next turn of the
 * event loop; delays are timers. Nothing scans the cluster periodically, so idle clusters cost nothing.
 */
import { createHash } from "node:crypto";
import { CONTROLLER_MANAGER, type ClusterState } from "./cluster.js";
import { canonical, rfc3339 } from "./fields.js";
import type { ResourceType } from "./resources.js";
import { parseQuantity } from "./selectors.js";
import { StatusError } from "./status.js";
import type { Entry, StoreEvent } from "./store.js";

export interface WorkloadOptions {
  /** Nodes the cluster starts with. Default 1. */
  nodes?: number;
  /** Allocatable (and capacity) of every node: cpu (default "4"), memory (default "8Gi"), pods (default 110). */
  nodeCpu?: string;
  nodeMemory?: string;
  nodePods?: number;
  /** How long a bound Pod takes to become Running and Ready. Default 0. */
  podStartDelayMs?: number;
  /** How long a Job's Pod runs before it succeeds. Default 0. */
  jobDurationMs?: number;
  /** How long a deleted Pod on a node takes to terminate. Default 0. */
  podStopDelayMs?: number;
  /** LoadBalancer Services get `status.loadBalancer.ingress` (as a cloud's controller would). Default true. */
  loadBalancers?: boolean;
}

export type ConditionStatus = "True" | "False" | "Unknown";

export interface NodeSpec {
  cpu?: string;
  memory?: string;
  pods?: number;
  labels?: Record<string, string>;
  /** E.g. a control-plane node's `node-role.kubernetes.io/master:NoSchedule`. */
  taints?: { key: string; value?: string; effect: "NoSchedule" | "PreferNoSchedule" | "NoExecute" }[];
}

interface Usage {
  node: string;
  cpu: number;
  memory: number;
}

const CONDITION_TEXT: Record<string, Record<string, [string, string]>> = {
  MemoryPressure: {
    False: ["KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
    True: ["KubeletHasInsufficientMemory", "kubelet has insufficient memory available"],
  },
  DiskPressure: {
    False: ["KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
    True: ["KubeletHasDiskPressure", "kubelet has disk pressure"],
  },
  PIDPressure: {
    False: ["KubeletHasSufficientPID", "kubelet has sufficient PID available"],
    True: ["KubeletHasInsufficientPID", "kubelet has insufficient PID available"],
  },
  Ready: {
    True: ["KubeletReady", "kubelet is posting ready status"],
    False: ["KubeletNotReady", "container runtime network not ready"],
  },
};

/** The taints the node lifecycle controller keeps in step with a node's conditions. */
function conditionTaints(conditions: any[]): any[] {
  const status = (t: string) => conditions.find((c) => c.type === t)?.status;
  const taints: any[] = [];
  if (status("Ready") === "False") taints.push({ key: "node.kubernetes.io/not-ready", effect: "NoSchedule" });
  if (status("Ready") === "Unknown")
    taints.push({ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" });
  if (status("MemoryPressure") === "True")
    taints.push({ key: "node.kubernetes.io/memory-pressure", effect: "NoSchedule" });
  if (status("DiskPressure") === "True")
    taints.push({ key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" });
  if (status("PIDPressure") === "True")
    taints.push({ key: "node.kubernetes.io/pid-pressure", effect: "NoSchedule" });
  return taints;
}

const MANAGED_TAINTS = new Set([
  "node.kubernetes.io/not-ready",
  "node.kubernetes.io/unreachable",
  "node.kubernetes.io/memory-pressure",
  "node.kubernetes.io/disk-pressure",
  "node.kubernetes.io/pid-pressure",
]);

/** The tolerations the DaemonSet controller gives its Pods. */
const DAEMON_TOLERATIONS = [
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
];

function tolerates(pod: any, taint: any): boolean {
  return (pod.spec?.tolerations ?? []).some((t: any) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.operator === "Exists") return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? "") === (taint.value ?? "");
  });
}

/** kube-scheduler's FitError text. */
function fitError(total: number, reasons: Map<string, number>): string {
  const parts = [...reasons.entries()].map(([r, n]) => `${n} ${r}`).sort();
  return `0/${total} nodes are available: ${parts.join(", ")}.`;
}

/** `rand.SafeEncodeString(fmt.Sprint(hash))`, the form of pod-template-hash. */
function templateHash(template: unknown): string {
  const n = createHash("sha256").update(canonical(template)).digest().readUInt32BE(0);
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  return [...String(n)].map((c) => alphabet[c.charCodeAt(0) % alphabet.length]).join("");
}

function randomSuffix(n = 5): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s;
}

function controllerOf(obj: any): any | undefined {
  return (obj.metadata?.ownerReferences ?? []).find((r: any) => r.controller);
}

function isReady(pod: any): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
}

function isTerminal(pod: any): boolean {
  return pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
}

function requests(pod: any): { cpu: number; memory: number } {
  let cpu = 0;
  let memory = 0;
  for (const c of pod.spec?.containers ?? []) {
    cpu += parseQuantity(c.resources?.requests?.cpu ?? 0) || 0;
    memory += parseQuantity(c.resources?.requests?.memory ?? 0) || 0;
  }
  for (const c of pod.spec?.initContainers ?? []) {
    cpu = Math.max(cpu, parseQuantity(c.resources?.requests?.cpu ?? 0) || 0);
    memory = Math.max(memory, parseQuantity(c.resources?.requests?.memory ?? 0) || 0);
  }
  return { cpu, memory };
}

/** The node a DaemonSet Pod is pinned to (node affinity on metadata.name). */
function pinnedNode(pod: any): string | undefined {
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  for (const t of terms ?? [])
    for (const f of t.matchFields ?? [])
      if (f.key === "metadata.name" && f.operator === "In") return f.values?.[0];
  return undefined;
}

/** A condition list with `type` set to the given values, keeping lastTransitionTime when nothing changed. */
function setCondition(
  conditions: any[] | undefined,
  next: Record<string, unknown>,
  now: string,
  extra: Record<string, unknown> = {},
): any[] {
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === next.type);
  const prev = i >= 0 ? list[i] : undefined;
  const same = prev && prev.status === next.status;
  const c = { ...extra, ...next, lastTransitionTime: same ? prev.lastTransitionTime : now };
  if (prev && same && prev.reason === next.reason && prev.message === next.message) return list;
  if (i >= 0) list[i] = { ...c };
  else list.push(c);
  return list;
}

const key = (kind: string, ns: string, name: string) => `${kind}\u0000${ns}\u0000${name}`;

export class Workloads {
  private readonly queue = new Set<string>();
  private draining = false;
  private readonly podTimers = new Map<string, NodeJS.Timeout>();
  /** Bound, running or starting Pods and what they take from their node. */
  private readonly usage = new Map<string, Usage>();
  /** The sums of `usage` per node. */
  private readonly totals = new Map<string, { cpu: number; memory: number; pods: number }>();
  /** Unschedulable Pods waiting for room, in arrival order. */
  private readonly pending = new Set<string>();
  private readonly crashed = new Set<string>();
  private readonly failingImages = new Map<string, string>();
  private readonly startAt = new Map<string, number>();
  private readonly nodeIndex = new Map<string, number>();
  private readonly nextPodIp = new Map<string, number>();
  private nodesCreated = 0;
  private lbNext = 1;
  private idleWaiters: (() => void)[] = [];
  private closed = false;
  private readonly unsubscribe: () => void;
  private readonly t: Record<string, ResourceType>;

  constructor(
    private readonly cluster: ClusterState,
    private readonly opts: WorkloadOptions,
    /** Distinguishes the clusters' node and load balancer addresses. */
    private readonly clusterIndex: number,
  ) {
    const type = (apiVersion: string, kind: string) => cluster.typeOf(apiVersion, kind)!;
    this.t = {
      pod: type("v1", "Pod"),
      node: type("v1", "Node"),
      service: type("v1", "Service"),
      deployment: type("apps/v1", "Deployment"),
      replicaset: type("apps/v1", "ReplicaSet"),
      statefulset: type("apps/v1", "StatefulSet"),
      daemonset: type("apps/v1", "DaemonSet"),
      job: type("batch/v1", "Job"),
    };
    this.unsubscribe = cluster.store.subscribe((ev) => this.onEvent(ev));
    for (let i = 0; i < (opts.nodes ?? 1); i++) this.addNode();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    for (const t of this.podTimers.values()) clearTimeout(t);
    this.podTimers.clear();
    this.queue.clear();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves once the queue is empty (timers still pending do not count). */
  idle(): Promise<void> {
    if (this.queue.size === 0 && !this.draining) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  // --- events and the queue ---------------------------------------------------------------------------------

  private onEvent(ev: StoreEvent): void {
    const obj = ev.entry.obj;
    const ns = obj.metadata.namespace ?? "";
    const name = obj.metadata.name;
    switch (ev.entry.rt.gk) {
      case "/Pod": {
        this.enqueue("pod", ns, name);
        const owner = controllerOf(obj) ?? (ev.prev ? controllerOf(ev.prev) : undefined);
        if (owner) this.enqueueOwner(owner, ns);
        break;
      }
      case "apps/ReplicaSet": {
        this.enqueue("replicaset", ns, name);
        const owner = controllerOf(obj);
        if (owner?.kind === "Deployment") this.enqueue("deployment", ns, owner.name);
        break;
      }
      case "apps/Deployment":
        if (ev.type !== "DELETED") this.enqueue("deployment", ns, name);
        break;
      case "apps/StatefulSet":
        if (ev.type !== "DELETED") this.enqueue("statefulset", ns, name);
        break;
      case "apps/DaemonSet":
        if (ev.type !== "DELETED") this.enqueue("daemonset", ns, name);
        break;
      case "batch/Job":
        if (ev.type !== "DELETED") this.enqueue("job", ns, name);
        break;
      case "/Node":
        this.enqueue("node", "", name);
        break;
      case "/Service":
        if (ev.type !== "DELETED" && this.opts.loadBalancers !== false) this.enqueue("service", ns, name);
        break;
    }
  }

  private enqueueOwner(owner: any, ns: string): void {
    const kind = { ReplicaSet: "replicaset", StatefulSet: "statefulset", DaemonSet: "daemonset", Job: "job" }[
      owner.kind as string
    ];
    if (kind) this.enqueue(kind, ns, owner.name);
  }

  private enqueue(kind: string, ns: string, name: string): void {
    if (this.closed) return;
    this.queue.add(key(kind, ns, name));
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => this.drain());
    }
  }

  private drain(): void {
    if (this.closed) return;
    // A bounded batch per turn keeps the event loop (and the API) responsive under a burst.
    for (let n = 0; n < 2000 && this.queue.size > 0; n++) {
      const k = this.queue.values().next().value as string;
      this.queue.delete(k);
      const [kind, ns, name] = k.split("\u0000");
      try {
        this.reconcile(kind, ns, name);
      } catch (err) {
        if (!(err instanceof StatusError)) throw err;
        // A write lost a race with a client (404, 409): the next event brings it back.
      }
    }
    if (this.queue.size > 0) setImmediate(() => this.drain());
    else {
      this.draining = false;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private reconcile(kind: string, ns: string, name: string): void {
    switch (kind) {
      case "pod":
        return this.syncPod(ns, name);
      case "pending":
        return this.retryPending();
      case "node":
        return this.syncNode(name);
      case "deployment":
        return this.syncDeployment(ns, name);
      case "replicaset":
        return this.syncReplicaSet(ns, name);
      case "statefulset":
        return this.syncStatefulSet(ns, name);
      case "daemonset":
        return this.syncDaemonSet(ns, name);
      case "job":
        return this.syncJob(ns, name);
      case "service":
        return this.syncService(ns, name);
    }
  }

  private podTimer(k: string, ms: number, ns: string, name: string): void {
    if (this.podTimers.has(k)) return;
    const t = setTimeout(() => {
      this.podTimers.delete(k);
      this.enqueue("pod", ns, name);
    }, ms);
    this.podTimers.set(k, t);
  }

  private clearPodTimer(k: string): void {
    const t = this.podTimers.get(k);
    if (t) clearTimeout(t);
    this.podTimers.delete(k);
  }

  // --- nodes ------------------------------------------------------------------------------------------------

  nodes(): Entry[] {
    return [...this.cluster.store.list(this.t.node)];
  }

  addNode(name?: string, spec: NodeSpec = {}): string {
    const index = ++this.nodesCreated;
    const nodeName = name ?? `node-${index}`;
    this.nodeIndex.set(nodeName, index);
    const now = rfc3339();
    const resources = {
      cpu: spec.cpu ?? this.opts.nodeCpu ?? "4",
      "ephemeral-storage": "100Gi",
      memory: spec.memory ?? this.opts.nodeMemory ?? "8Gi",
      pods: String(spec.pods ?? this.opts.nodePods ?? 110),
    };
    const conditions = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"].map((type) => {
      const status = type === "Ready" ? "True" : "False";
      const [reason, message] = CONDITION_TEXT[type][status];
      return { type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message };
    });
    this.cluster.create(
      this.t.node,
      "",
      {
        apiVersion: "v1",
        kind: "Node",
        metadata: {
          name: nodeName,
          labels: {
            "beta.kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": nodeName,
            "kubernetes.io/os": "linux",
            ...(spec.labels ?? {}),
          },
        },
        spec: {
          podCIDR: `10.244.${index}.0/24`,
          podCIDRs: [`10.244.${index}.0/24`],
          ...(spec.taints?.length ? { taints: spec.taints } : {}),
        },
        status: {
          capacity: resources,
          allocatable: resources,
          conditions,
          addresses: [
            { type: "InternalIP", address: this.nodeAddress(index) },
            { type: "Hostname", address: nodeName },
          ],
          daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
          nodeInfo: {
            machineID: createHash("md5").update(nodeName).digest("hex"),
            systemUUID: createHash("md5").update(`uuid-${nodeName}`).digest("hex"),
            bootID: createHash("md5").update(`boot-${nodeName}`).digest("hex"),
            kernelVersion: "5.10.0-krake-sim",
            osImage: "Krake simulated node",
            containerRuntimeVersion: "containerd://1.4.3",
            kubeletVersion: "v1.20.2",
            kubeProxyVersion: "v1.20.2",
            operatingSystem: "linux",
            architecture: "amd64",
          },
        },
      },
      { manager: "kubelet" },
      { internal: true },
    );
    return nodeName;
  }

  private nodeAddress(index: number): string {
    return `172.${16 + (Math.floor(this.clusterIndex / 256) % 16)}.${this.clusterIndex % 256}.${index + 1}`;
  }

  private node(name: string): Entry {
    const e = this.cluster.store.get(this.t.node, "", name);
    if (!e) throw new Error(`no node '${name}'`);
    return e;
  }

  removeNode(name: string): void {
    const e = this.node(name);
    this.cluster.remove(this.t.node, e.obj);
  }

  setNodeCondition(
    name: string,
    type: string,
    status: ConditionStatus,
    reason?: string,
    message?: string,
  ): void {
    const e = this.node(name);
    const now = rfc3339();
    const [defReason, defMessage] =
      CONDITION_TEXT[type]?.[status] ??
      (status === "Unknown" ? ["NodeStatusUnknown", "Kubelet stopped posting node status."] : [type, ""]);
    const conditions = [...(e.obj.status?.conditions ?? [])];
    const i = conditions.findIndex((c) => c.type === type);
    const prev = i >= 0 ? conditions[i] : undefined;
    const next = {
      type,
      status,
      lastHeartbeatTime: now,
      lastTransitionTime: prev?.status === status ? prev.lastTransitionTime : now,
      reason: reason ?? defReason,
      message: message ?? defMessage,
    };
    if (i >= 0) conditions[i] = next;
    else conditions.push(next);
    this.cluster.writeInternal(this.t.node, e, { ...e.obj, status: { ...e.obj.status, conditions } });
  }

  setNodeCapacity(name: string, capacity: { cpu?: string; memory?: string; pods?: number }): void {
    const e = this.node(name);
    const next = { ...e.obj.status.allocatable };
    if (capacity.cpu !== undefined) next.cpu = capacity.cpu;
    if (capacity.memory !== undefined) next.memory = capacity.memory;
    if (capacity.pods !== undefined) next.pods = String(capacity.pods);
    this.cluster.writeInternal(this.t.node, e, {
      ...e.obj,
      status: { ...e.obj.status, capacity: next, allocatable: next },
    });
  }

  private syncNode(name: string): void {
    const e = this.cluster.store.get(this.t.node, "", name);
    if (!e) {
      // The pod garbage collector: pods bound to a node that is gone are deleted.
      for (const [k, u] of [...this.usage]) {
        if (u.node !== name) continue;
        const [, ns, pod] = k.split("\u0000");
        const p = this.cluster.store.get(this.t.pod, ns, pod);
        if (p) this.cluster.remove(this.t.pod, p.obj);
      }
    } else {
      const taints = [
        ...(e.obj.spec?.taints ?? []).filter((t: any) => !MANAGED_TAINTS.has(t.key)),
        ...conditionTaints(e.obj.status?.conditions ?? []).map((t) => ({ ...t, timeAdded: rfc3339() })),
      ];
      const strip = (ts: any[]) => ts.map((t) => `${t.key}=${t.value ?? ""}:${t.effect}`).join(",");
      if (strip(taints) !== strip(e.obj.spec?.taints ?? [])) {
        const spec = { ...e.obj.spec, taints };
        if (taints.length === 0) delete spec.taints;
        this.cluster.writeInternal(this.t.node, e, { ...e.obj, spec });
        return; // the write brings us back
      }
      // Pods on the node follow its readiness.
      for (const [k, u] of this.usage) {
        if (u.node !== name) continue;
        const [, ns, pod] = k.split("\u0000");
        this.enqueue("pod", ns, pod);
      }
    }
    this.enqueue("pending", "", "");
    for (const ds of this.cluster.store.list(this.t.daemonset))
      this.enqueue("daemonset", ds.obj.metadata.namespace, ds.obj.metadata.name);
  }

  private nodeReady(node: any): boolean {
    return (node.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
  }

  // --- scheduler --------------------------------------------------------------------------------------------

  private account(k: string, pod: any | undefined): void {
    const before = this.usage.get(k);
    if (!pod || isTerminal(pod) || !pod.spec?.nodeName) this.setUsage(k, undefined);
    else {
      const r = requests(pod);
      this.setUsage(k, { node: pod.spec.nodeName, cpu: r.cpu, memory: r.memory });
    }
    // Room freed on a node: pods waiting for room try again.
    if (before && !this.usage.has(k) && this.pending.size > 0) this.enqueue("pending", "", "");
  }

  /** Records what a pod takes, keeping every node's sum in step. */
  private setUsage(k: string, usage: Usage | undefined): void {
    const before = this.usage.get(k);
    if (before) {
      const t = this.totals.get(before.node)!;
      t.cpu -= before.cpu;
      t.memory -= before.memory;
      t.pods--;
      this.usage.delete(k);
    }
    if (usage) {
      let t = this.totals.get(usage.node);
      if (!t) this.totals.set(usage.node, (t = { cpu: 0, memory: 0, pods: 0 }));
      t.cpu += usage.cpu;
      t.memory += usage.memory;
      t.pods++;
      this.usage.set(k, usage);
    }
  }

  private used(node: string): { cpu: number; memory: number; pods: number } {
    return this.totals.get(node) ?? { cpu: 0, memory: 0, pods: 0 };
  }

  private retryPending(): void {
    for (const k of [...this.pending]) {
      const [, ns, name] = k.split("\u0000");
      const e = this.cluster.store.get(this.t.pod, ns, name);
      if (!e || e.obj.spec?.nodeName || e.obj.metadata.deletionTimestamp) {
        this.pending.delete(k);
        continue;
      }
      this.schedule(k, e);
    }
  }

  /** Binds a pod to the node with the most room that fits it, or marks it Unschedulable. */
  private schedule(k: string, e: Entry): void {
    const pod = e.obj;
    const want = requests(pod);
    const nodes = this.nodes();
    const reasons = new Map<string, number>();
    const reason = (r: string) => reasons.set(r, (reasons.get(r) ?? 0) + 1);
    let best: { name: string; score: number } | undefined;
    const selector: Record<string, string> = pod.spec?.nodeSelector ?? {};
    const pinned = pinnedNode(pod);
    for (const n of nodes) {
      const node = n.obj;
      const name = node.metadata.name;
      if (
        node.spec?.unschedulable &&
        !tolerates(pod, { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" })
      ) {
        reason("node(s) were unschedulable");
        continue;
      }
      const taint = (node.spec?.taints ?? []).find(
        (t: any) => (t.effect === "NoSchedule" || t.effect === "NoExecute") && !tolerates(pod, t),
      );
      if (taint) {
        reason(`node(s) had taint {${taint.key}: ${taint.value ?? ""}}, that the pod didn't tolerate`);
        continue;
      }
      if (
        (pinned && pinned !== name) ||
        Object.entries(selector).some(([lk, lv]) => node.metadata.labels?.[lk] !== lv)
      ) {
        reason("node(s) didn't match node selector");
        continue;
      }
      const alloc = node.status?.allocatable ?? {};
      const cpu = parseQuantity(alloc.cpu ?? "0");
      const memory = parseQuantity(alloc.memory ?? "0");
      const maxPods = Number(alloc.pods ?? 110);
      const used = this.used(name);
      let fits = true;
      if (used.pods + 1 > maxPods) {
        reason("Too many pods");
        fits = false;
      }
      if (want.cpu > 0 && used.cpu + want.cpu > cpu + 1e-9) {
        reason("Insufficient cpu");
        fits = false;
      }
      if (want.memory > 0 && used.memory + want.memory > memory) {
        reason("Insufficient memory");
        fits = false;
      }
      if (!fits) continue;
      const score =
        (cpu > 0 ? (used.cpu + want.cpu) / cpu : 0) +
        (memory > 0 ? (used.memory + want.memory) / memory : 0) +
        used.pods / maxPods;
      if (!best || score < best.score) best = { name, score };
    }
    const now = rfc3339();
    if (best) {
      this.pending.delete(k);
      const conditions = setCondition(pod.status?.conditions, { type: "PodScheduled", status: "True" }, now, {
        lastProbeTime: null,
      });
      // Counted at once, so the next pod scheduled in this turn sees the room this one takes.
      this.setUsage(k, { node: best.name, cpu: want.cpu, memory: want.memory });
      this.cluster.writeInternal(this.t.pod, e, {
        ...pod,
        spec: { ...pod.spec, nodeName: best.name },
        status: { ...pod.status, conditions },
      });
      return;
    }
    this.pending.add(k);
    const message =
      nodes.length === 0 ? "no nodes available to schedule pods" : fitError(nodes.length, reasons);
    const conditions = setCondition(
      pod.status?.conditions,
      { type: "PodScheduled", status: "False", reason: "Unschedulable", message },
      now,
      { lastProbeTime: null },
    );
    this.cluster.writeInternal(this.t.pod, e, { ...pod, status: { ...pod.status, conditions } });
  }

  // --- the kubelet ------------------------------------------------------------------------------------------

  private syncPod(ns: string, name: string): void {
    const k = key("pod", ns, name);
    const e = this.cluster.store.get(this.t.pod, ns, name);
    this.account(k, e?.obj);
    if (!e) {
      this.pending.delete(k);
      this.crashed.delete(k);
      this.startAt.delete(k);
      this.clearPodTimer(k);
      return;
    }
    const pod = e.obj;
    if (pod.metadata.deletionTimestamp) {
      this.pending.delete(k);
      const delay = this.opts.podStopDelayMs ?? 0;
      const due = (this.startAt.get(`stop:${k}`) ?? Date.now() + delay) - Date.now();
      if (!this.startAt.has(`stop:${k}`)) this.startAt.set(`stop:${k}`, Date.now() + delay);
      if (due > 0) {
        this.podTimer(k, due, ns, name);
        return;
      }
      this.startAt.delete(`stop:${k}`);
      this.cluster.remove(this.t.pod, pod);
      return;
    }
    if (isTerminal(pod)) return;
    if (!pod.spec?.nodeName) {
      this.schedule(k, e);
      return;
    }
    const node = this.cluster.store.get(this.t.node, "", pod.spec.nodeName);
    if (!node) return; // no kubelet for it: the pod stays Pending
    const ready = this.nodeReady(node.obj);
    const phase = pod.status?.phase;
    if (phase === "Pending" && !pod.status?.startTime) {
      if (!ready) return;
      const failing = (pod.spec.containers ?? []).find((c: any) => this.failingImages.has(c.image));
      if (failing) return this.write(e, this.waitingStatus(pod, failing));
      const at = this.startAt.get(k) ?? Date.now() + (this.opts.podStartDelayMs ?? 0);
      this.startAt.set(k, at);
      if (at > Date.now()) {
        this.podTimer(k, at - Date.now(), ns, name);
        if (pod.status?.containerStatuses === undefined) this.write(e, this.creatingStatus(pod));
        return;
      }
      this.startAt.delete(k);
      this.write(e, this.runningStatus(pod, node.obj));
      return;
    }
    if (
      phase === "Pending" &&
      (pod.spec.containers ?? []).every((c: any) => !this.failingImages.has(c.image)) &&
      ready
    ) {
      // Its image came back: it starts.
      this.write(e, this.runningStatus(pod, node.obj));
      return;
    }
    if (phase !== "Running") return;
    const owner = controllerOf(pod);
    if (this.crashed.has(k)) {
      if (pod.spec.restartPolicy === "Never") return this.write(e, this.finishedStatus(pod, 1));
      return this.write(e, this.crashStatus(pod));
    }
    if (owner?.kind === "Job" && pod.spec.restartPolicy !== "Always") {
      const started = Date.parse(pod.status.startTime);
      const due = started + (this.opts.jobDurationMs ?? 0) - Date.now();
      if (due > 0) this.podTimer(k, due, ns, name);
      else return this.write(e, this.finishedStatus(pod, 0));
    }
    this.write(e, this.readiness(pod, ready));
  }

  private write(e: Entry, status: any): void {
    this.cluster.writeInternal(this.t.pod, e, { ...e.obj, status });
  }

  private podIp(nodeName: string): string {
    const n = (this.nextPodIp.get(nodeName) ?? 1) + 1;
    this.nextPodIp.set(nodeName, n > 254 ? 2 : n);
    return `10.244.${this.nodeIndex.get(nodeName) ?? 0}.${n}`;
  }

  private containerId(pod: any, c: any): string {
    return `containerd://${createHash("sha256").update(`${pod.metadata.uid}/${c.name}`).digest("hex")}`;
  }

  private podConditions(pod: any, ready: boolean, reason?: string, message?: string): any[] {
    const now = rfc3339();
    let conditions = pod.status?.conditions ?? [];
    const notReady = ready
      ? {}
      : { reason: reason ?? "ContainersNotReady", message: message ?? this.unready(pod) };
    conditions = setCondition(conditions, { type: "Initialized", status: "True" }, now, {
      lastProbeTime: null,
    });
    conditions = setCondition(
      conditions,
      { type: "Ready", status: ready ? "True" : "False", ...notReady },
      now,
      { lastProbeTime: null },
    );
    conditions = setCondition(
      conditions,
      { type: "ContainersReady", status: ready ? "True" : "False", ...notReady },
      now,
      { lastProbeTime: null },
    );
    conditions = setCondition(conditions, { type: "PodScheduled", status: "True" }, now, {
      lastProbeTime: null,
    });
    const order = ["Initialized", "Ready", "ContainersReady", "PodScheduled"];
    return conditions
      .map((c: any) => {
        if (c.status !== "True") return c;
        const { reason: _r, message: _m, ...rest } = c;
        return rest;
      })
      .sort((a: any, b: any) => order.indexOf(a.type) - order.indexOf(b.type));
  }

  private unready(pod: any): string {
    return `containers with unready status: [${(pod.spec.containers ?? []).map((c: any) => c.name).join(" ")}]`;
  }

  private creatingStatus(pod: any): any {
    return {
      ...pod.status,
      conditions: this.podConditions(pod, false),
      hostIP: this.hostIp(pod),
      startTime: undefined,
      containerStatuses: (pod.spec.containers ?? []).map((c: any) => ({
        name: c.name,
        state: { waiting: { reason: "ContainerCreating" } },
        lastState: {},
        ready: false,
        restartCount: 0,
        image: c.image,
        imageID: "",
        started: false,
      })),
    };
  }

  private hostIp(pod: any): string | undefined {
    const node = this.cluster.store.get(this.t.node, "", pod.spec.nodeName);
    return node?.obj.status?.addresses?.find((a: any) => a.type === "InternalIP")?.address;
  }

  private waitingStatus(pod: any, failing: any): any {
    const reason = this.failingImages.get(failing.image)!;
    const status = this.creatingStatus(pod);
    status.containerStatuses = status.containerStatuses.map((cs: any) =>
      cs.image === failing.image
        ? { ...cs, state: { waiting: { reason, message: `Back-off pulling image "${failing.image}"` } } }
        : cs,
    );
    return status;
  }

  private runningStatus(pod: any, node: any): any {
    const now = rfc3339();
    const ip = pod.status?.podIP ?? this.podIp(node.metadata.name);
    return {
      phase: "Running",
      conditions: this.podConditions(pod, this.nodeReady(node)),
      hostIP: this.hostIp(pod),
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      containerStatuses: (pod.spec.containers ?? []).map((c: any) => ({
        name: c.name,
        state: { running: { startedAt: now } },
        lastState: {},
        ready: true,
        restartCount: 0,
        image: c.image,
        imageID: `docker.io/library/${c.image}@sha256:${createHash("sha256").update(String(c.image)).digest("hex")}`,
        containerID: this.containerId(pod, c),
        started: true,
      })),
      qosClass: pod.status?.qosClass,
    };
  }

  /** A running pod's Ready condition: containers ready and the node Ready. */
  private readiness(pod: any, nodeReady: boolean): any {
    const containersOk = (pod.status.containerStatuses ?? []).every((cs: any) => cs.state?.running);
    const containerStatuses = (pod.status.containerStatuses ?? []).map((cs: any) => ({
      ...cs,
      ready: Boolean(cs.state?.running),
    }));
    return {
      ...pod.status,
      conditions: this.podConditions(
        pod,
        containersOk && nodeReady,
        containersOk ? "" : undefined,
        containersOk ? "" : undefined,
      ),
      containerStatuses,
    };
  }

  private crashStatus(pod: any): any {
    const now = rfc3339();
    const containerStatuses = (pod.status.containerStatuses ?? []).map((cs: any, i: number) => {
      if (i !== 0 || cs.state?.waiting?.reason === "CrashLoopBackOff") return cs;
      return {
        ...cs,
        state: {
          waiting: {
            reason: "CrashLoopBackOff",
            message: `back-off 10s restarting failed container=${cs.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
          },
        },
        lastState: {
          terminated: {
            exitCode: 1,
            reason: "Error",
            startedAt: cs.state?.running?.startedAt ?? now,
            finishedAt: now,
            containerID: cs.containerID,
          },
        },
        ready: false,
        restartCount: (cs.restartCount ?? 0) + 1,
        started: false,
      };
    });
    const names = containerStatuses.filter((cs: any) => !cs.state?.running).map((cs: any) => cs.name);
    return {
      ...pod.status,
      conditions: this.podConditions(
        pod,
        false,
        "ContainersNotReady",
        `containers with unready status: [${names.join(" ")}]`,
      ),
      containerStatuses,
    };
  }

  private finishedStatus(pod: any, exitCode: number): any {
    const now = rfc3339();
    const reason = exitCode === 0 ? "Completed" : "Error";
    return {
      ...pod.status,
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      conditions: this.podConditions(pod, false, "PodCompleted", ""),
      containerStatuses: (pod.status.containerStatuses ?? []).map((cs: any) => ({
        ...cs,
        state: {
          terminated: {
            exitCode,
            reason,
            startedAt: cs.state?.running?.startedAt ?? now,
            finishedAt: now,
            containerID: cs.containerID,
          },
        },
        ready: false,
        started: false,
      })),
    };
  }

  /** Control: the pod's first container crashes (CrashLoopBackOff), or the pod fails if it never restarts. */
  crashPod(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.pod, ns, name);
    if (!e) throw new Error(`no pod ${ns}/${name}`);
    this.crashed.add(key("pod", ns, name));
    this.enqueue("pod", ns, name);
  }

  recoverPod(ns: string, name: string): void {
    const k = key("pod", ns, name);
    this.crashed.delete(k);
    const e = this.cluster.store.get(this.t.pod, ns, name);
    if (!e || e.obj.status?.phase !== "Running") return;
    const now = rfc3339();
    this.write(e, {
      ...e.obj.status,
      containerStatuses: (e.obj.status.containerStatuses ?? []).map((cs: any) =>
        cs.state?.running
          ? cs
          : { ...cs, state: { running: { startedAt: now } }, ready: true, started: true },
      ),
    });
  }

  /** Control: pods with this image cannot pull it (stay Pending with the reason) until clearImage. */
  failImage(image: string, reason = "ImagePullBackOff"): void {
    this.failingImages.set(image, reason);
  }

  clearImage(image: string): void {
    if (!this.failingImages.delete(image)) return;
    for (const e of this.cluster.store.list(this.t.pod))
      if (e.obj.status?.phase === "Pending" && e.obj.spec?.nodeName)
        this.enqueue("pod", e.obj.metadata.namespace, e.obj.metadata.name);
  }

  // --- controllers ------------------------------------------------------------------------------------------

  private owned(owner: any, rt: ResourceType): Entry[] {
    return this.cluster.store
      .dependents(owner.metadata.uid)
      .filter((d) => d.rt === rt && controllerOf(d.obj)?.uid === owner.metadata.uid);
  }

  private ownerRef(owner: any, apiVersion: string, kind: string): any {
    return {
      apiVersion,
      kind,
      name: owner.metadata.name,
      uid: owner.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    };
  }

  private createPod(
    owner: any,
    ownerKind: string,
    ownerApiVersion: string,
    template: any,
    name: string,
    extra: { labels?: Record<string, string>; spec?: Record<string, unknown> } = {},
  ): void {
    const meta: any = {
      name,
      namespace: owner.metadata.namespace,
      labels: { ...(template?.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      ownerReferences: [this.ownerRef(owner, ownerApiVersion, ownerKind)],
    };
    if (template?.metadata?.annotations) meta.annotations = template.metadata.annotations;
    if (ownerKind !== "StatefulSet") meta.generateName = `${owner.metadata.name}-`;
    try {
      this.cluster.create(
        this.t.pod,
        owner.metadata.namespace,
        {
          apiVersion: "v1",
          kind: "Pod",
          metadata: meta,
          spec: { ...structuredClone(template?.spec ?? {}), ...(extra.spec ?? {}) },
        },
        CONTROLLER_MANAGER,
      );
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
    }
  }

  private deletePod(e: Entry): void {
    try {
      this.cluster.delete(
        this.t.pod,
        e.obj.metadata.namespace,
        e.obj.metadata.name,
        { propagationPolicy: "Background" },
        CONTROLLER_MANAGER,
      );
    } catch (err) {
      if (!(err instanceof StatusError)) throw err;
    }
  }

  private writeStatus(rt: ResourceType, e: Entry, status: any, metadata?: any): void {
    const clean: any = {};
    for (const [k, v] of Object.entries(status))
      if (v !== undefined && v !== 0 && !(Array.isArray(v) && v.length === 0)) clean[k] = v;
    for (const k of [
      "replicas",
      "currentNumberScheduled",
      "numberMisscheduled",
      "desiredNumberScheduled",
      "numberReady",
    ])
      if (status[k] === 0) clean[k] = 0;
    if (rt === this.t.deployment && status.replicas === 0) delete clean.replicas;
    this.cluster.writeInternal(rt, e, { ...e.obj, ...(metadata ? { metadata } : {}), status: clean });
  }

  private active(pods: Entry[]): Entry[] {
    return pods.filter((p) => !p.obj.metadata.deletionTimestamp && !isTerminal(p.obj));
  }

  private syncReplicaSet(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.replicaset, ns, name);
    if (!e || e.obj.metadata.deletionTimestamp) return;
    const rs = e.obj;
    let pods = this.active(this.owned(rs, this.t.pod));
    const want = rs.spec?.replicas ?? 1;
    if (pods.length < want) {
      for (let i = pods.length; i < want; i++)
        this.createPod(
          rs,
          "ReplicaSet",
          "apps/v1",
          rs.spec.template,
          `${rs.metadata.name}-${randomSuffix()}`,
        );
    } else if (pods.length > want) {
      const rank = (p: any) => (p.spec?.nodeName ? 0 : 2) + (isReady(p) ? 0 : 1);
      const victims = [...pods]
        .sort(
          (a, b) =>
            rank(b.obj) - rank(a.obj) ||
            (b.obj.metadata.creationTimestamp < a.obj.metadata.creationTimestamp ? -1 : 1),
        )
        .slice(0, pods.length - want);
      for (const v of victims) this.deletePod(v);
    }
    pods = this.active(this.owned(rs, this.t.pod));
    const ready = pods.filter((p) => isReady(p.obj)).length;
    const cur = this.cluster.store.get(this.t.replicaset, ns, name)!;
    this.writeStatus(this.t.replicaset, cur, {
      replicas: pods.length,
      fullyLabeledReplicas: pods.length,
      readyReplicas: ready,
      availableReplicas: ready,
      observedGeneration: rs.metadata.generation,
    });
  }

  private syncDeployment(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.deployment, ns, name);
    if (!e || e.obj.metadata.deletionTimestamp) return;
    const d = e.obj;
    const desired = d.spec?.replicas ?? 1;
    const hash = templateHash(d.spec.template);
    const all = this.owned(d, this.t.replicaset);
    let current = all.find((r) => r.obj.metadata.labels?.["pod-template-hash"] === hash);
    const revisions = all.map((r) =>
      Number(r.obj.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0),
    );
    const maxSurge =
      d.spec.strategy?.type === "Recreate"
        ? 0
        : this.resolve(d.spec.strategy?.rollingUpdate?.maxSurge ?? "25%", desired, true);
    const annotations = (revision: number) => ({
      "deployment.kubernetes.io/desired-replicas": String(desired),
      "deployment.kubernetes.io/max-replicas": String(desired + maxSurge),
      "deployment.kubernetes.io/revision": String(revision),
    });
    if (!current && !d.spec.paused) {
      const revision = Math.max(0, ...revisions) + 1;
      const labels = { ...(d.spec.template?.metadata?.labels ?? {}), "pod-template-hash": hash };
      const template = structuredClone(d.spec.template);
      template.metadata = { ...template.metadata, labels };
      try {
        const w = this.cluster.create(
          this.t.replicaset,
          ns,
          {
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            metadata: {
              name: `${d.metadata.name}-${hash}`,
              labels,
              annotations: annotations(revision),
              ownerReferences: [this.ownerRef(d, "apps/v1", "Deployment")],
            },
            spec: {
              replicas: desired,
              selector: {
                ...d.spec.selector,
                matchLabels: { ...(d.spec.selector?.matchLabels ?? {}), "pod-template-hash": hash },
              },
              template,
            },
          },
          CONTROLLER_MANAGER,
        );
        current = w.entry;
      } catch (err) {
        if (!(err instanceof StatusError)) throw err;
        return;
      }
    }
    const olds = all.filter((r) => r !== current);
    if (current) {
      const rs = current.obj;
      const want =
        d.spec.strategy?.type === "Recreate" && olds.some((o) => (o.obj.status?.replicas ?? 0) > 0)
          ? 0
          : desired;
      const ann = {
        ...(rs.metadata.annotations ?? {}),
        ...annotations(Number(rs.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 1)),
      };
      if (
        rs.spec.replicas !== want ||
        JSON.stringify(ann) !== JSON.stringify(rs.metadata.annotations ?? {})
      ) {
        current = this.cluster.writeInternal(this.t.replicaset, current, {
          ...rs,
          metadata: { ...rs.metadata, annotations: ann },
          spec: { ...rs.spec, replicas: want },
        });
      }
      // Old ReplicaSets go to zero once the new one is available (at once for Recreate).
      const newAvailable = current.obj.status?.availableReplicas ?? 0;
      for (const o of olds) {
        if ((o.obj.spec?.replicas ?? 0) === 0) continue;
        if (d.spec.strategy?.type === "Recreate" || newAvailable >= desired)
          this.cluster.writeInternal(this.t.replicaset, o, {
            ...o.obj,
            spec: { ...o.obj.spec, replicas: 0 },
          });
      }
      // Old ReplicaSets beyond revisionHistoryLimit go.
      const limit = d.spec.revisionHistoryLimit ?? 10;
      const idle = olds.filter(
        (o) => (o.obj.spec?.replicas ?? 0) === 0 && (o.obj.status?.replicas ?? 0) === 0,
      );
      if (idle.length > limit) {
        idle.sort(
          (a, b) =>
            Number(a.obj.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0) -
            Number(b.obj.metadata.annotations?.["deployment.kubernetes.io/revision"] ?? 0),
        );
        for (const o of idle.slice(0, idle.length - limit))
          this.cluster.delete(
            this.t.replicaset,
            ns,
            o.obj.metadata.name,
            { propagationPolicy: "Background" },
            CONTROLLER_MANAGER,
          );
      }
    }
    const sets = this.owned(d, this.t.replicaset);
    const newSet = sets.find((r) => r.obj.metadata.labels?.["pod-template-hash"] === hash);
    const sum = (f: (s: any) => number) => sets.reduce((n, r) => n + (f(r.obj.status ?? {}) ?? 0), 0);
    const replicas = sum((s) => s.replicas ?? 0);
    const available = sum((s) => s.availableReplicas ?? 0);
    const ready = sum((s) => s.readyReplicas ?? 0);
    const updated = newSet?.obj.status?.replicas ?? 0;
    const total = sets.reduce((n, r) => n + (r.obj.spec?.replicas ?? 0), 0);
    const maxUnavailable =
      d.spec.strategy?.type === "Recreate"
        ? 0
        : this.resolve(d.spec.strategy?.rollingUpdate?.maxUnavailable ?? "25%", desired, false);
    const now = rfc3339();
    let conditions = d.status?.conditions ?? [];
    const availableOk = available >= desired - maxUnavailable;
    conditions = this.deploymentCondition(
      conditions,
      "Available",
      availableOk ? "True" : "False",
      availableOk ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
      availableOk ? "Deployment has minimum availability." : "Deployment does not have minimum availability.",
      now,
    );
    const complete = newSet && updated === desired && replicas === desired && available === desired;
    const rsName = newSet?.obj.metadata.name ?? `${d.metadata.name}-${hash}`;
    conditions = this.deploymentCondition(
      conditions,
      "Progressing",
      "True",
      complete ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
      complete
        ? `ReplicaSet "${rsName}" has successfully progressed.`
        : `ReplicaSet "${rsName}" is progressing.`,
      now,
    );
    const cur = this.cluster.store.get(this.t.deployment, ns, name)!;
    const revision = newSet?.obj.metadata.annotations?.["deployment.kubernetes.io/revision"];
    const metadata =
      revision && cur.obj.metadata.annotations?.["deployment.kubernetes.io/revision"] !== revision
        ? {
            ...cur.obj.metadata,
            annotations: {
              ...(cur.obj.metadata.annotations ?? {}),
              "deployment.kubernetes.io/revision": revision,
            },
          }
        : undefined;
    this.writeStatus(
      this.t.deployment,
      cur,
      {
        observedGeneration: d.metadata.generation,
        replicas,
        updatedReplicas: updated,
        readyReplicas: ready,
        availableReplicas: available,
        unavailableReplicas: Math.max(0, total - available),
        conditions,
        collisionCount: d.status?.collisionCount,
      },
      metadata,
    );
  }

  private deploymentCondition(
    conditions: any[],
    type: string,
    status: string,
    reason: string,
    message: string,
    now: string,
  ): any[] {
    const list = [...conditions];
    const i = list.findIndex((c) => c.type === type);
    const prev = i >= 0 ? list[i] : undefined;
    if (prev && prev.status === status && prev.reason === reason && prev.message === message) return list;
    const next = {
      type,
      status,
      lastUpdateTime: now,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : now,
      reason,
      message,
    };
    if (i >= 0) list[i] = next;
    else list.push(next);
    return list;
  }

  /** An int-or-percent of `total` (maxSurge rounds up, maxUnavailable down). */
  private resolve(v: unknown, total: number, roundUp: boolean): number {
    if (typeof v === "number") return v;
    const m = /^(\d+)%$/.exec(String(v));
    if (!m) return Number(v) || 0;
    const x = (Number(m[1]) * total) / 100;
    return roundUp ? Math.ceil(x) : Math.floor(x);
  }

  private syncStatefulSet(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.statefulset, ns, name);
    if (!e || e.obj.metadata.deletionTimestamp) return;
    const sts = e.obj;
    const want = sts.spec?.replicas ?? 1;
    const revision = `${sts.metadata.name}-${templateHash(sts.spec.template)}`;
    const ordered = sts.spec.podManagementPolicy !== "Parallel";
    const pods = this.owned(sts, this.t.pod);
    const byOrdinal = new Map<number, Entry>();
    for (const p of pods) {
      const m = /-(\d+)$/.exec(p.obj.metadata.name);
      if (m) byOrdinal.set(Number(m[1]), p);
    }
    let busy = false;
    for (let i = 0; i < want; i++) {
      const p = byOrdinal.get(i);
      if (!p) {
        const podName = `${sts.metadata.name}-${i}`;
        this.createPod(sts, "StatefulSet", "apps/v1", sts.spec.template, podName, {
          labels: { "controller-revision-hash": revision, "statefulset.kubernetes.io/pod-name": podName },
          spec: { hostname: podName, ...(sts.spec.serviceName ? { subdomain: sts.spec.serviceName } : {}) },
        });
        busy = true;
        if (ordered) break;
        continue;
      }
      if (ordered && (!isReady(p.obj) || p.obj.metadata.deletionTimestamp)) {
        busy = true;
        break;
      }
    }
    const extra = [...byOrdinal.entries()].filter(([i]) => i >= want).sort((a, b) => b[0] - a[0]);
    for (const [, p] of ordered ? extra.slice(0, 1) : extra)
      if (!p.obj.metadata.deletionTimestamp) this.deletePod(p);
    if (!busy && extra.length === 0 && sts.spec.updateStrategy?.type !== "OnDelete") {
      // Rolling update: the highest ordinal with an old revision is replaced, one at a time.
      const stale = [...byOrdinal.entries()]
        .filter(([i, p]) => i < want && p.obj.metadata.labels?.["controller-revision-hash"] !== revision)
        .sort((a, b) => b[0] - a[0]);
      const allReady = [...byOrdinal.values()].every(
        (p) => isReady(p.obj) && !p.obj.metadata.deletionTimestamp,
      );
      if (stale.length > 0 && allReady) this.deletePod(stale[0][1]);
    }
    const live = this.active(this.owned(sts, this.t.pod));
    const updated = live.filter(
      (p) => p.obj.metadata.labels?.["controller-revision-hash"] === revision,
    ).length;
    const cur = this.cluster.store.get(this.t.statefulset, ns, name)!;
    const currentRevision =
      updated === live.length && live.length === want ? revision : (sts.status?.currentRevision ?? revision);
    this.writeStatus(this.t.statefulset, cur, {
      observedGeneration: sts.metadata.generation,
      replicas: live.length,
      readyReplicas: live.filter((p) => isReady(p.obj)).length,
      currentReplicas: live.filter(
        (p) => p.obj.metadata.labels?.["controller-revision-hash"] === currentRevision,
      ).length,
      updatedReplicas: updated,
      currentRevision,
      updateRevision: revision,
      collisionCount: 0,
    });
  }

  private syncDaemonSet(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.daemonset, ns, name);
    if (!e || e.obj.metadata.deletionTimestamp) return;
    const ds = e.obj;
    const revision = templateHash(ds.spec.template);
    const selector: Record<string, string> = ds.spec.template?.spec?.nodeSelector ?? {};
    const eligible = this.nodes()
      .map((n) => n.obj)
      .filter((n) => Object.entries(selector).every(([k, v]) => n.metadata.labels?.[k] === v));
    const eligibleNames = new Set(eligible.map((n) => n.metadata.name));
    const pods = this.active(this.owned(ds, this.t.pod));
    const byNode = new Map<string, Entry[]>();
    for (const p of pods) {
      const node = p.obj.spec?.nodeName ?? pinnedNode(p.obj) ?? "";
      byNode.set(node, [...(byNode.get(node) ?? []), p]);
    }
    for (const node of eligibleNames) {
      if (byNode.has(node)) continue;
      const template = ds.spec.template;
      const tolerations = [...(template?.spec?.tolerations ?? []), ...DAEMON_TOLERATIONS];
      this.createPod(ds, "DaemonSet", "apps/v1", template, `${ds.metadata.name}-${randomSuffix()}`, {
        labels: {
          "controller-revision-hash": revision,
          "pod-template-generation": String(ds.metadata.generation ?? 1),
        },
        spec: {
          affinity: {
            ...(template?.spec?.affinity ?? {}),
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: [
                  { matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] },
                ],
              },
            },
          },
          tolerations,
        },
      });
    }
    for (const [node, list] of byNode) {
      if (!eligibleNames.has(node)) for (const p of list) this.deletePod(p);
      else for (const p of list.slice(1)) this.deletePod(p);
    }
    if (ds.spec.updateStrategy?.type !== "OnDelete") {
      const stale = pods.filter((p) => p.obj.metadata.labels?.["controller-revision-hash"] !== revision);
      const unavailable = pods.filter((p) => !isReady(p.obj)).length;
      if (stale.length > 0 && unavailable === 0) this.deletePod(stale[0]);
    }
    const live = this.active(this.owned(ds, this.t.pod)).filter((p) =>
      eligibleNames.has(p.obj.spec?.nodeName ?? ""),
    );
    const ready = live.filter((p) => isReady(p.obj)).length;
    const cur = this.cluster.store.get(this.t.daemonset, ns, name)!;
    this.writeStatus(this.t.daemonset, cur, {
      currentNumberScheduled: new Set(live.map((p) => p.obj.spec.nodeName)).size,
      numberMisscheduled: 0,
      desiredNumberScheduled: eligible.length,
      numberReady: ready,
      observedGeneration: ds.metadata.generation,
      updatedNumberScheduled: live.filter(
        (p) => p.obj.metadata.labels?.["controller-revision-hash"] === revision,
      ).length,
      numberAvailable: ready,
      numberUnavailable: Math.max(0, eligible.length - ready),
    });
  }

  private syncJob(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.job, ns, name);
    if (!e || e.obj.metadata.deletionTimestamp) return;
    const job = e.obj;
    const status = job.status ?? {};
    const finished = (status.conditions ?? []).some(
      (c: any) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
    );
    const pods = this.owned(job, this.t.pod);
    const active = this.active(pods);
    const succeeded = pods.filter((p) => p.obj.status?.phase === "Succeeded").length;
    const failed = pods.filter((p) => p.obj.status?.phase === "Failed").length;
    const now = rfc3339();
    const next: any = {
      ...status,
      startTime: status.startTime ?? now,
      active: active.length,
      succeeded,
      failed,
    };
    if (!finished) {
      const completions: number | undefined = job.spec.completions;
      const parallelism: number = job.spec.parallelism ?? 1;
      if (failed > (job.spec.backoffLimit ?? 6)) {
        for (const p of active) this.deletePod(p);
        next.active = 0;
        next.conditions = [
          ...(status.conditions ?? []),
          {
            type: "Failed",
            status: "True",
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
          },
        ];
      } else if (
        (completions !== undefined && succeeded >= completions) ||
        (completions === undefined && succeeded > 0 && active.length === 0)
      ) {
        next.completionTime = now;
        next.conditions = [
          ...(status.conditions ?? []),
          { type: "Complete", status: "True", lastProbeTime: now, lastTransitionTime: now },
        ];
      } else {
        const want =
          completions !== undefined
            ? Math.min(parallelism, completions - succeeded)
            : succeeded > 0
              ? 0
              : parallelism;
        for (let i = active.length; i < want; i++)
          this.createPod(job, "Job", "batch/v1", job.spec.template, `${job.metadata.name}-${randomSuffix()}`);
        next.active = Math.max(active.length, want);
      }
    }
    this.writeStatus(this.t.job, this.cluster.store.get(this.t.job, ns, name)!, next);
  }

  private syncService(ns: string, name: string): void {
    const e = this.cluster.store.get(this.t.service, ns, name);
    if (!e) return;
    const svc = e.obj;
    const ingress = svc.status?.loadBalancer?.ingress;
    if (svc.spec?.type === "LoadBalancer" && !ingress?.length) {
      const n = this.lbNext++;
      const ip = `198.18.${(this.clusterIndex * 4 + Math.floor(n / 250)) % 256}.${(n % 250) + 1}`;
      this.cluster.writeInternal(this.t.service, e, {
        ...svc,
        status: { ...svc.status, loadBalancer: { ingress: [{ ip }] } },
      });
    } else if (svc.spec?.type !== "LoadBalancer" && ingress?.length) {
      this.cluster.writeInternal(this.t.service, e, { ...svc, status: { ...svc.status, loadBalancer: {} } });
    }
  }
}
