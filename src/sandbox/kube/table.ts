/**
 * Server-side printing: kubectl asks for `application/json;as=Table;g=meta.k8s.io;v=v1` and shows the
 * columns the server chose. Without it `kubectl get` on the simulator shows only names and ages; with it, the
 * columns a real 1.20 kube-apiserver prints for the kinds people look at in the sandbox.
 */
import type { IncomingMessage } from "node:http";

interface Column {
  name: string;
  type: "string" | "integer" | "date";
  format?: string;
  description: string;
  cell: (obj: any, now: number) => string | number;
}

/** Whether the client prefers a Table (kubectl does; Krake's own client never asks). */
export function wantsTable(req: IncomingMessage): boolean {
  const accept = String(req.headers.accept ?? "");
  const first = accept.split(",")[0] ?? "";
  return /(^|;)\s*as=Table\b/.test(first) && /g=meta\.k8s\.io/.test(first);
}

/** kubectl's short ages: 45s, 12m, 5h, 3d. */
export function age(timestamp: string | undefined, now: number): string {
  if (!timestamp) return "<unknown>";
  const seconds = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h`;
  return `${Math.floor(hours / 24)}d`;
}

const name: Column = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace.",
  cell: (o) => o.metadata?.name ?? "",
};
const ageColumn: Column = {
  name: "Age",
  type: "string",
  description: "CreationTimestamp is a timestamp representing the server time when this object was created.",
  cell: (o, now) => age(o.metadata?.creationTimestamp, now),
};
const col = (title: string, cell: Column["cell"], type: Column["type"] = "string"): Column => ({
  name: title,
  type,
  description: title,
  cell,
});

function nodeStatus(node: any): string {
  const ready = (node.status?.conditions ?? []).find((c: any) => c.type === "Ready");
  const status = ready?.status === "True" ? "Ready" : ready?.status === "False" ? "NotReady" : "Unknown";
  return node.spec?.unschedulable ? `${status},SchedulingDisabled` : status;
}

function nodeRoles(node: any): string {
  const roles = Object.keys(node.metadata?.labels ?? {})
    .filter((l) => l.startsWith("node-role.kubernetes.io/"))
    .map((l) => l.slice("node-role.kubernetes.io/".length))
    .sort();
  return roles.length ? roles.join(",") : "<none>";
}

function podStatus(pod: any): string {
  if (pod.metadata?.deletionTimestamp) return "Terminating";
  for (const c of pod.status?.containerStatuses ?? []) {
    const reason = c.state?.waiting?.reason ?? c.state?.terminated?.reason;
    if (reason) return reason;
  }
  return pod.status?.phase ?? "Pending";
}

function podReady(pod: any): string {
  const statuses: any[] = pod.status?.containerStatuses ?? [];
  const total = (pod.spec?.containers ?? []).length;
  return `${statuses.filter((c) => c.ready).length}/${total}`;
}

function ports(svc: any): string {
  const list = (svc.spec?.ports ?? []).map(
    (p: any) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`,
  );
  return list.length ? list.join(",") : "<none>";
}

const COLUMNS: Record<string, Column[]> = {
  Node: [
    name,
    col("Status", nodeStatus),
    col("Roles", nodeRoles),
    ageColumn,
    col("Version", (o) => o.status?.nodeInfo?.kubeletVersion ?? ""),
  ],
  Pod: [
    name,
    col("Ready", podReady),
    col("Status", podStatus),
    col(
      "Restarts",
      (o) => (o.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0),
      "integer",
    ),
    ageColumn,
  ],
  Deployment: [
    name,
    col("Ready", (o) => `${o.status?.readyReplicas ?? 0}/${o.spec?.replicas ?? 1}`),
    col("Up-to-date", (o) => o.status?.updatedReplicas ?? 0, "integer"),
    col("Available", (o) => o.status?.availableReplicas ?? 0, "integer"),
    ageColumn,
  ],
  ReplicaSet: [
    name,
    col("Desired", (o) => o.spec?.replicas ?? 1, "integer"),
    col("Current", (o) => o.status?.replicas ?? 0, "integer"),
    col("Ready", (o) => o.status?.readyReplicas ?? 0, "integer"),
    ageColumn,
  ],
  Service: [
    name,
    col("Type", (o) => o.spec?.type ?? "ClusterIP"),
    col("Cluster-IP", (o) => o.spec?.clusterIP ?? "<none>"),
    col(
      "External-IP",
      (o) =>
        (o.status?.loadBalancer?.ingress ?? []).map((i: any) => i.ip ?? i.hostname).join(",") || "<none>",
    ),
    col("Port(s)", ports),
    ageColumn,
  ],
  Namespace: [name, col("Status", (o) => o.status?.phase ?? "Active"), ageColumn],
};

/** A `meta.k8s.io/v1` Table of `items` (of one kind), each row carrying the object's metadata. */
export function table(kind: string, items: any[], resourceVersion: string | undefined, now = Date.now()) {
  const columns = COLUMNS[kind] ?? [name, ageColumn];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: resourceVersion ? { resourceVersion } : {},
    columnDefinitions: columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.description,
      priority: 0,
    })),
    rows: items.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}
