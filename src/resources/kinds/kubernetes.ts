import { Type } from "@sinclair/typebox";
import {

  bool,
  constant,
  datetime,
  dict,
  enumOf,
  int,
  list,
  metricRef,
  nullable,
  obj,
  resourceRef,
  str,
  withCheck,
} from "../schema.js";
import { ActionRejected, defineKind, type Resource, type ResourceRef, type SubresourceAction } from "../kind.js";
import { baseColumns, metricRefsCell, reasonSchema, resourceSchema, statusField } from "./common.js";
import {
  autoscalingCell,
  autoscalingPolicy,
  clusterAutoscalingStatus,
  clusterCapacity,
  eventHistory,
  templateRef,
} from "./autoscaling.js";
import { checkWorkerPool } from "../validators/autoscaling.js";
import { workerCount } from "../../kube/cluster-tosca.js";
import { formatCpu, formatMemory } from "../../kube/quantity.js";
import {
  checkAppTosca,
  checkApplicationSpec,
  checkClusterSpec,
  checkClusterTosca,
  checkCsar,
  checkKubeconfig,
  checkLabelConstraints,
  checkManifest,
  checkMetricConstraints,
  isGiven,
} from "../validators/index.js";

export const applicationStates = [
  "PENDING",
  "CREATING",
  "RUNNING",
  "RECONCILING",
  "TRANSLATING",
  "RETRYING",
  "RESTARTING",
  "WAITING_FOR_CLEANING",
  "READY_FOR_ACTION",
  "MIGRATING",
  "WAITING_FOR_CLUSTER_CREATION",
  "DELETING",
  "DELETED",
  "DEGRADED",
  "FAILED",
  "COMPLETED",
] as const;

export const clusterStates = [
  "PENDING",
  "ONLINE",
  "CONNECTING",
  "OFFLINE",
  "UNHEALTHY",
  "NOTREADY",
  "FAILING_METRICS",
  "CREATING",
  "RECONCILING",
  "DELETING",
  "FAILING_RECONCILIATION",
  "FAILED",
  "DEGRADED",
] as const;

const labelConstraints = () => withCheck(nullable(list(str()), { default: null }), (l) => checkLabelConstraints(l));
const metricConstraints = () => withCheck(nullable(list(str()), { default: null }), (l) => checkMetricConstraints(l));
const hookNames = ["complete", "shutdown"];

const applicationSpec = () =>
  withCheck(
    obj({
      manifest: withCheck(list(dict()), (m) => checkManifest(m)),
      tosca: withCheck(Type.Union([dict(), str()], { default: {} }), (t) => (isGiven(t) ? checkAppTosca(t) : [])),
      csar: withCheck(nullable(str(), { default: null }), (c) => (isGiven(c) ? checkCsar(c) : [])),
      observer_schema: list(dict(), { default: [] }),
      constraints: obj({
        cluster: obj({
          labels: labelConstraints(),
          custom_resources: list(str(), { default: [] }),
          metrics: metricConstraints(),
        }),
        migration: bool({ default: true }),
      }),
      hooks: withCheck(list(str(), { default: [] }), (hooks: string[]) =>
        hooks.flatMap((h, i) =>
          hookNames.includes(h) ? [] : [{ path: [i], message: `Unknown hook '${h}'; expected one of: complete, shutdown.` }],
        ),
      ),
      shutdown_grace_time: nullable(int(), { default: null }),
      shutdown_failure_strategy: nullable(enumOf(["give_up", "delete"] as const), { default: null }),
      shutdown_retry_count: nullable(int(), { default: null }),
      backoff: int({ default: 1 }),
      backoff_delay: int({ default: 1 }),
      backoff_limit: int({ default: -1 }),
      storage_migration: str({ default: "none" }),
      auto_cluster_create: bool({ default: false }),
    }),
    checkApplicationSpec,
  );

const applicationStatus = () =>
  statusField(
    obj({
      state: enumOf(applicationStates, { default: "PENDING" }),
      reason: nullable(reasonSchema(), { default: null }),
      container_health: obj(
        {
          desired_pods: int({ default: 0 }),
          running_pods: int({ default: 0 }),
          completed_pods: int({ default: 0 }),
          failed_pods: int({ default: 0 }),
        },
        { default: { desired_pods: 0, running_pods: 0, completed_pods: 0, failed_pods: 0 } },
      ),
      kube_controller_triggered: nullable(datetime(), { default: null }),
      scheduled: nullable(datetime(), { default: null }),
      scheduled_retry: nullable(datetime(), { default: null }),
      shutdown_grace_period: nullable(datetime(), { default: null }),
      scheduled_to: nullable(resourceRef(), { default: null }),
      running_on: nullable(resourceRef(), { default: null }),
      retries: nullable(int(), { default: null }),
      services: dict({ default: {} }),
      mangled_observer_schema: list(dict(), { default: [] }),
      last_observed_manifest: list(dict(), { default: [] }),
      last_applied_manifest: list(dict(), { default: [] }),
      complete_token: nullable(str(), { default: null }),
      complete_cert: nullable(str(), { default: null }),
      complete_key: nullable(str(), { default: null }),
      shutdown_token: nullable(str(), { default: null }),
      shutdown_cert: nullable(str(), { default: null }),
      shutdown_key: nullable(str(), { default: null }),
      auto_cluster_create_started: nullable(str(), { default: null }),
      migration_retries: int({ default: 0 }),
      migration_timeout: int({ default: 0 }),
    }),
  );

function addOwner(stored: Resource, ref: ResourceRef) {
  const owners = stored.metadata.owners;
  const same = (o: ResourceRef) =>
    o.api === ref.api && o.kind === ref.kind && o.name === ref.name && (o.namespace ?? null) === (ref.namespace ?? null);
  if (!owners.some(same)) owners.push(ref);
}

const INVALID_TOKEN = "No token has been provided or the provided one is invalid.";

/**
 * Krake's own client sends `kind: "Complete"` / `"Shutdown"` (its ApplicationComplete and ApplicationShutdown
 * models), while the spec names the models; accept both so every client works.
 */
const tokenBody = (kind: "Complete" | "Shutdown") =>
  obj({
    api: constant("kubernetes"),
    kind: Type.Union([Type.Literal(kind), Type.Literal(`Application${kind}`)], { default: kind }),
    token: nullable(str(), { default: null }),
  });

const applicationActions: SubresourceAction[] = [
  {
    name: "binding",
    rbacResource: "applications/binding",
    body: obj({ api: constant("kubernetes"), kind: constant("ClusterBinding"), cluster: resourceRef() }),
    apply(stored, body, now) {
      stored.status.scheduled = now;
      stored.status.kube_controller_triggered = now;
      stored.status.scheduled_to = body.cluster;
      addOwner(stored, body.cluster);
      return stored;
    },
  },
  {
    name: "complete",
    rbacResource: "applications/complete",
    body: tokenBody("Complete"),
    apply(stored, body, now) {
      const expected = stored.status.complete_token;
      if (expected === null || body.token !== expected) throw new ActionRejected(401, null, INVALID_TOKEN);
      stored.status.state = "READY_FOR_ACTION";
      stored.metadata.deleted = now;
      return stored;
    },
  },
  {
    name: "shutdown",
    rbacResource: "applications/shutdown",
    body: tokenBody("Shutdown"),
    apply(stored, body) {
      const expected = stored.status.shutdown_token;
      if (expected === null || body.token !== expected) throw new ActionRejected(401, null, INVALID_TOKEN);
      if (stored.status.state === "WAITING_FOR_CLEANING" || stored.status.state === "DEGRADED") {
        stored.status.state = "READY_FOR_ACTION";
        stored.status.shutdown_grace_period = null;
      }
      return stored;
    },
  },
  {
    name: "retry",
    rbacResource: "applications/status",
    apply(stored) {
      if (stored.status.state !== "DEGRADED")
        throw new ActionRejected(400, "UPDATE_ERROR", "No migration or deletion retry needed");
      stored.status.state = "WAITING_FOR_CLEANING";
      stored.status.shutdown_grace_period = null;
      return stored;
    },
  },
];

/** A reference in a table: the name, marked when it points at a global (namespace-less) object. */
const refCell = (r: ResourceRef | null) => (r ? (r.namespace ? r.name : `${r.name} (global)`) : null);

function reasonCell(r: { code?: string | null; message?: string | null } | null): string | null {
  if (!r) return null;
  return [r.code, r.message].filter(Boolean).join(": ") || null;
}

/** krakectl's "R active / F failed / C succeeded / D desired". */
function containerHealth(h: { running_pods: number; failed_pods: number; completed_pods: number; desired_pods: number }) {
  return `${h.running_pods} active / ${h.failed_pods} failed / ${h.completed_pods} succeeded / ${h.desired_pods} desired`;
}

/** `free cpu / free memory of allocatable`, from what the cluster controller saw. */
function capacityCell(c: any): string | null {
  if (!c) return null;
  const free = (k: "cpu_millis" | "memory_bytes") => Math.max(0, c.allocatable[k] - c.requested[k]);
  return `cpu ${formatCpu(free("cpu_millis"))} of ${formatCpu(c.allocatable.cpu_millis)} free, memory ${formatMemory(free("memory_bytes"))} of ${formatMemory(c.allocatable.memory_bytes)} free`;
}

/** `ready/total` (or `under pressure/total`): nodes whose condition of that type is "True". */
function nodeCount(nodes: { status: { conditions: { type: string; status: string }[] } | null }[], type: string) {
  const hits = nodes.filter((n) => n.status?.conditions.some((c) => c.type === type && c.status === "True"));
  return `${hits.length}/${nodes.length}`;
}

function failingMetrics(reasons: Record<string, { code?: string | null; message?: string | null }>) {
  const lines = Object.entries(reasons).map(([metric, r]) => `${metric}: ${reasonCell(r) ?? "failing"}`);
  return lines.length ? lines.join("\n") : null;
}

export const Application = defineKind({
  group: "kubernetes",
  kind: "Application",
  plural: "applications",
  namespaced: true,
  schema: resourceSchema("kubernetes", "Application", { spec: applicationSpec(), status: applicationStatus() }),
  hasStatus: true,
  actions: applicationActions,
  blocking: true,
  noUpdateIsOk: false,
  createCheck: "atomic",
  onDeleteMark(stored) {
    if (stored.spec.hooks.includes("shutdown")) stored.status.state = "WAITING_FOR_CLEANING";
  },
  // The hook tokens authenticate the application's own calls; the keys are the private halves of its certificates.
  secrets: [
    "status.complete_token",
    "status.complete_key",
    "status.shutdown_token",
    "status.shutdown_key",
    // Kubernetes Secrets in the manifest, as sent and as applied or observed on the cluster.
    ...["spec.manifest", "status.last_applied_manifest", "status.last_observed_manifest"].flatMap((list) => [
      `${list}.*[kind=Secret].data`,
      `${list}.*[kind=Secret].stringData`,
    ]),
  ],
  columns: [
    ...baseColumns,
    { header: "state", value: "status.state" },
    { header: "reason", value: (o) => reasonCell(o.status.reason), wide: true },
    { header: "container_health", value: (o) => containerHealth(o.status.container_health), detail: true },
    { header: "services", value: "status.services", detail: true },
    { header: "allow migration", value: (o) => String(o.spec.constraints.migration), detail: true },
    { header: "label constraints", value: "spec.constraints.cluster.labels", detail: true },
    { header: "resources constraints", value: "spec.constraints.cluster.custom_resources", detail: true },
    { header: "metric constraints", value: "spec.constraints.cluster.metrics", detail: true },
    { header: "hooks", value: "spec.hooks", detail: true },
    { header: "scheduled_to", value: (o) => refCell(o.status.scheduled_to), wide: true },
    { header: "scheduled", value: "status.scheduled", detail: true },
    { header: "running_on", value: (o) => refCell(o.status.running_on), wide: true },
    { header: "backoff", value: "spec.backoff", detail: true },
    { header: "backoff_delay", value: "spec.backoff_delay", detail: true },
    { header: "backoff_limit", value: "spec.backoff_limit", detail: true },
  ],
});

const clusterNode = () =>
  obj({
    api: constant("kubernetes"),
    kind: constant("ClusterNode"),
    metadata: obj({ name: str() }),
    status: nullable(
      obj({
        conditions: list(
          obj({
            message: str(),
            reason: str(),
            status: enumOf(["True", "False", "Unknown"] as const),
            type: str(),
          }),
        ),
      }),
      { default: null },
    ),
  });

const clusterSpec = () =>
  withCheck(
    obj({
      kubeconfig: withCheck(dict({ default: {} }), (kc) => (isGiven(kc) ? checkKubeconfig(kc) : [])),
      tosca: withCheck(dict({ default: {} }), (t) => (isGiven(t) ? checkClusterTosca(t) : [])),
      custom_resources: list(str(), { default: [] }),
      constraints: obj({ cloud: obj({ labels: labelConstraints(), metrics: metricConstraints() }) }),
      metrics: list(metricRef(), { default: [] }),
      inherit_metrics: bool({ default: false }),
      backoff: int({ default: 1 }),
      backoff_delay: int({ default: 1 }),
      backoff_limit: int({ default: -1 }),
      auto_generated: bool({ default: false }),
      template: templateRef(),
      autoscaling: nullable(autoscalingPolicy(), { default: null, "x-extension": true }),
    }),
    (spec) => [...checkClusterSpec(spec), ...checkClusterAutoscaling(spec)],
  );

/** Krake can only scale what it builds, and only through the input that really sizes the worker pool. */
function checkClusterAutoscaling(spec: any) {
  if (!spec?.autoscaling) return [];
  if (!isGiven(spec.tosca))
    return [
      { path: ["autoscaling"], message: "Autoscaling needs spec.tosca: Krake can only scale clusters it builds." },
    ];
  return checkWorkerPool(spec.tosca, spec.autoscaling.workers, ["autoscaling", "workers"]);
}

/**
 * One owner of the worker count: while `spec.autoscaling` is set, the autoscaler decides it, and an update that
 * changes the TOSCA's worker input is refused rather than fought over.
 */
function checkWorkerCountOwner(stored: Resource, updated: Resource) {
  const before = stored.spec.autoscaling;
  const after = updated.spec.autoscaling;
  if (!before || !after) return [];
  const input = after.workers.input;
  const was = workerCount(stored.spec.tosca, input);
  const now = workerCount(updated.spec.tosca, input);
  if (was === now) return [];
  return [
    {
      path: ["spec", "tosca", "topology_template", "inputs", input, "default"],
      message: `The worker count is managed by spec.autoscaling (${after.workers.min}..${after.workers.max} workers): change spec.autoscaling.workers.min/max instead, or remove spec.autoscaling to set it yourself.`,
    },
  ];
}

const clusterStatus = () =>
  statusField(
    obj({
      kube_controller_triggered: nullable(datetime(), { default: null }),
      state: enumOf(clusterStates, { default: "PENDING" }),
      reason: nullable(reasonSchema(), { default: null }),
      metrics_reasons: Type.Record(Type.String(), reasonSchema(), { default: {} }),
      last_applied_tosca: dict({ default: {} }),
      nodes: list(clusterNode(), { default: [] }),
      cluster_id: nullable(str(), { default: null }),
      scheduled: nullable(datetime(), { default: null }),
      scheduled_to: nullable(resourceRef(), { default: null }),
      running_on: nullable(resourceRef(), { default: null }),
      retries: int({ default: 0 }),
      capacity: clusterCapacity(),
      autoscaling: clusterAutoscalingStatus(),
      events: eventHistory(),
    }),
  );

/** Whether a cluster is (to be) built from a TOSCA template by an infrastructure provider. */
export function clusterHasTosca(c: Resource): boolean {
  return isNonEmptyMap(c.spec?.tosca);
}

/** Whether a cluster has a kubeconfig: registered, or built and handed over. */
export function clusterHasKubeconfig(c: Resource): boolean {
  return isNonEmptyMap(c.spec?.kubeconfig);
}

function isNonEmptyMap(v: unknown): boolean {
  return typeof v === "object" && v !== null && Object.keys(v).length > 0;
}

/** The credentials of a kubeconfig user entry; `auth-provider` and `exec` are hidden whole. */
export const KUBECONFIG_USER_SECRETS = [
  "token",
  "password",
  "client-key-data",
  "client-certificate-data",
  "auth-provider",
  "exec",
];

export const Cluster = defineKind({
  group: "kubernetes",
  kind: "Cluster",
  plural: "clusters",
  namespaced: true,
  schema: resourceSchema("kubernetes", "Cluster", { spec: clusterSpec(), status: clusterStatus() }),
  hasStatus: true,
  actions: [
    {
      name: "binding",
      rbacResource: "clusters/binding",
      body: obj({ api: constant("infrastructure"), kind: constant("CloudBinding"), cloud: resourceRef() }),
      apply(stored, body, now) {
        stored.status.scheduled = now;
        stored.status.scheduled_to = body.cloud;
        addOwner(stored, body.cloud);
        return stored;
      },
    },
  ],
  blocking: true,
  noUpdateIsOk: false,
  createCheck: "atomic",
  updateCheck: checkWorkerCountOwner,
  // The server URL and CA stay visible: they say where the cluster is, not how to get in.
  secrets: KUBECONFIG_USER_SECRETS.map((field) => `spec.kubeconfig.users.*.user.${field}`),
  columns: [
    ...baseColumns,
    { header: "state", value: "status.state" },
    { header: "reason", value: (o) => reasonCell(o.status.reason), wide: true },
    { header: "custom_resources", value: "spec.custom_resources", detail: true },
    { header: "metrics", value: (o) => metricRefsCell(o.spec.metrics), detail: true },
    { header: "failing_metrics", value: (o) => failingMetrics(o.status.metrics_reasons), detail: true },
    { header: "label constraints", value: "spec.constraints.cloud.labels", detail: true },
    { header: "metric constraints", value: "spec.constraints.cloud.metrics", detail: true },
    { header: "scheduled_to", value: (o) => refCell(o.status.scheduled_to), wide: true },
    { header: "scheduled", value: "status.scheduled", detail: true },
    { header: "running_on", value: (o) => refCell(o.status.running_on), detail: true },
    { header: "nodes", value: (o) => nodeCount(o.status.nodes, "Ready"), wide: true },
    { header: "nodes_pid_pressure", value: (o) => nodeCount(o.status.nodes, "PIDPressure"), detail: true },
    { header: "nodes_memory_pressure", value: (o) => nodeCount(o.status.nodes, "MemoryPressure"), detail: true },
    { header: "nodes_disk_pressure", value: (o) => nodeCount(o.status.nodes, "DiskPressure"), detail: true },
    { header: "autoscaling", value: (o) => autoscalingCell(o.spec.autoscaling), detail: true },
    { header: "desired_workers", value: "status.autoscaling.desired", detail: true },
    { header: "capacity", value: (o) => capacityCell(o.status.capacity), detail: true },
    { header: "template", value: "spec.template.name", detail: true },
    { header: "backoff", value: "spec.backoff", detail: true },
    { header: "backoff_delay", value: "spec.backoff_delay", detail: true },
    { header: "backoff_limit", value: "spec.backoff_limit", detail: true },
  ],
});


