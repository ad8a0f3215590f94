/**
 * Keeps simulated Kubernetes clusters in step with the IM simulator's infrastructures, so that a cluster Krake
 * builds through IM in the sandbox is a cluster Krake can then talk to: the kubeconfig IM hands out points at
 * the Kubernetes simulator, each contextualized VM is a node (the front end a tainted control-plane node),
 * a VM removed by a scale-down takes its node with it, and deleting the infrastructure removes the cluster.
 */
import { stringify } from "yaml";
import type { ImMachinesSnapshot, ImSimulator, ImVmSnapshot, VmState } from "./im/server.js";
import type { KubeSimulator, NodeSpec, SimulatedCluster } from "./kube/simulator.js";

export interface ClusterLinkOptions {
  /** How long a pod takes to become Running and Ready on the simulated clusters. */
  podStartDelayMs?: number;
  /** Told when a cluster or node appears or goes; the sandbox logs it. */
  onEvent?: (event: ClusterLinkEvent) => void;
}

export type ClusterLinkEvent =
  | { type: "cluster-added" | "cluster-removed"; infrastructure: string; cluster: string }
  | { type: "node-added" | "node-removed"; infrastructure: string; cluster: string; node: string };

/** VM states in which the machine is gone or not running: its node stops reporting (Ready Unknown). */
const DOWN: ReadonlySet<VmState> = new Set<VmState>(["stopped", "off", "failed", "unknown"]);

export class ClusterLink {
  private im: ImSimulator | undefined;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly kube: KubeSimulator,
    private readonly options: ClusterLinkOptions = {},
  ) {}

  /** The simulated cluster of an infrastructure is named after it. */
  static clusterName(infrastructureId: string): string {
    return `im-${infrastructureId}`;
  }

  /** Starts following an IM simulator (built with `onChange: () => link.changed()`). */
  attach(im: ImSimulator): void {
    this.im = im;
    this.changed();
  }

  /**
   * IM's state moved on. Changes come in bursts (one request moves several VMs), and the callback runs in the
   * middle of IM's own work, so the reconciliation runs once, on the next turn of the event loop.
   */
  changed(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (!this.closed) this.sync();
    });
  }

  /** The kubeconfig IM prints for the front end: the simulated cluster's, created if IM asks first. */
  kubeconfigFor(infrastructureId: string): string {
    return stringify(this.ensureCluster(infrastructureId).kubeconfig);
  }

  close(): void {
    this.closed = true;
  }

  /** Level-triggered: whatever happened, make the simulated clusters match IM's VMs now. */
  sync(): void {
    if (!this.im) return;
    const wanted = new Set<string>();
    for (const inf of this.im.machines()) {
      if (inf.kubernetesFrontEnds.length === 0 || inf.status !== "active") continue;
      const name = ClusterLink.clusterName(inf.id);
      const frontEnd = inf.vms.find((vm) => inf.kubernetesFrontEnds.includes(vm.system));
      // The API server exists once the front end has been contextualized (or IM already printed its kubeconfig).
      if (!this.kube.cluster(name) && frontEnd?.state !== "configured") continue;
      wanted.add(name);
      this.syncNodes(inf, this.ensureCluster(inf.id));
    }
    for (const cluster of this.kube.clusters()) {
      if (!cluster.name.startsWith("im-") || wanted.has(cluster.name)) continue;
      this.kube.removeCluster(cluster.name);
      this.emit({ type: "cluster-removed", infrastructure: cluster.name.slice(3), cluster: cluster.name });
    }
  }

  private ensureCluster(infrastructureId: string): SimulatedCluster {
    const name = ClusterLink.clusterName(infrastructureId);
    const existing = this.kube.cluster(name);
    if (existing) return existing;
    const cluster = this.kube.addCluster(name, {
      nodes: 0,
      podStartDelayMs: this.options.podStartDelayMs ?? 1000,
    });
    this.emit({ type: "cluster-added", infrastructure: infrastructureId, cluster: name });
    return cluster;
  }

  private syncNodes(inf: ImMachinesSnapshot, cluster: SimulatedCluster): void {
    const present = new Set(cluster.nodeNames());
    const live = new Map(inf.vms.map((vm) => [vm.hostname, vm]));
    for (const vm of inf.vms) {
      const controlPlane = inf.kubernetesFrontEnds.includes(vm.system);
      if (!present.has(vm.hostname)) {
        // A VM joins the cluster when its contextualization (kubeadm join) has run; re-runs keep it joined.
        if (vm.state !== "configured") continue;
        cluster.addNode(vm.hostname, nodeSpec(vm, controlPlane));
        this.emit({ type: "node-added", infrastructure: inf.id, cluster: cluster.name, node: vm.hostname });
        continue;
      }
      const ready = DOWN.has(vm.state) ? "Unknown" : "True";
      const node = cluster.get("v1", "Node", "", vm.hostname);
      const current = node?.status?.conditions?.find((c: { type: string }) => c.type === "Ready")?.status;
      if (current !== ready) cluster.setNodeCondition(vm.hostname, "Ready", ready);
    }
    for (const name of present) {
      if (live.has(name)) continue;
      cluster.removeNode(name);
      this.emit({ type: "node-removed", infrastructure: inf.id, cluster: cluster.name, node: name });
    }
  }

  private emit(event: ClusterLinkEvent): void {
    this.options.onEvent?.(event);
  }
}

/** A node sized like its VM; the front end is a control-plane node that takes no workloads, as kubeadm's. */
function nodeSpec(vm: ImVmSnapshot, controlPlane: boolean): NodeSpec {
  const spec: NodeSpec = {};
  if (vm.cpus !== null) spec.cpu = String(vm.cpus);
  if (vm.memoryBytes !== null) spec.memory = `${Math.max(1, Math.floor(vm.memoryBytes / 2 ** 20))}Mi`;
  if (controlPlane) {
    spec.labels = { "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "" };
    spec.taints = [{ key: "node-role.kubernetes.io/master", effect: "NoSchedule" }];
  }
  return spec;
}
