/**
 * The data model of Krake's automation (docs/autoscaling.md): cluster templates, a cluster's autoscaling
 * policy, and what the controllers record about capacity, scaling and their decisions. None of this exists in
 * Krake 1.0.1; every field is an extension (`x-extension`), kept on updates by clients that do not know it.
 */
import {
  bool,
  constant,
  datetime,
  dict,
  enumOf,
  float,
  int,
  list,
  metricRef,
  nullable,
  obj,
  str,
  strDict,
  withCheck,
} from "../schema.js";
import { defineKind, type Column } from "../kind.js";
import { baseColumns, metricRefsCell, resourceSchema } from "./common.js";
import {
  checkClusterTosca,
  checkLabelConstraints,
  checkMetricConstraints,
  isGiven,
} from "../validators/index.js";
import {
  checkAutoscalingPolicy,
  checkClusterTemplateSpec,
  checkQuantity,
} from "../validators/autoscaling.js";

const labelConstraints = () =>
  withCheck(nullable(list(str()), { default: null }), (l) => checkLabelConstraints(l));
const metricConstraints = () =>
  withCheck(nullable(list(str()), { default: null }), (l) => checkMetricConstraints(l));

/** A metric threshold that triggers scaling: a Metric (or GlobalMetric) and the value that trips it. */
const metricTrigger = (comparison: "above" | "below") =>
  nullable(
    obj({
      name: str(),
      namespaced: bool({ default: false }),
      [comparison]: float(),
    }),
    { default: null },
  );

/** Which TOSCA input counts the workers, which Compute node they are, and the bounds. */
const workerPool = () =>
  obj(
    {
      input: str({ default: "wn_num" }),
      system: str({ default: "wn" }),
      min: int({ default: 1 }),
      max: int({ default: 10 }),
    },
    { default: { input: "wn_num", system: "wn", min: 1, max: 10 } },
  );

export const autoscalingPolicy = () =>
  withCheck(
    obj({
      workers: workerPool(),
      scale_up: obj(
        {
          unschedulable_pods: bool({ default: true }),
          pressure: bool({ default: false }),
          metric: metricTrigger("above"),
          cooldown: int({ default: 60 }),
          max_concurrent: int({ default: 2 }),
        },
        {
          default: {
            unschedulable_pods: true,
            pressure: false,
            metric: null,
            cooldown: 60,
            max_concurrent: 2,
          },
        },
      ),
      scale_down: obj(
        {
          enabled: bool({ default: true }),
          idle_time: int({ default: 600 }),
          utilization_below: float({ default: 0.5 }),
          metric: metricTrigger("below"),
          cooldown: int({ default: 300 }),
        },
        { default: { enabled: true, idle_time: 600, utilization_below: 0.5, metric: null, cooldown: 300 } },
      ),
    }),
    checkAutoscalingPolicy,
  );

/** cpu in millicores, memory in bytes, pods: the units every capacity figure is kept in. */
const resources = () =>
  obj({
    cpu_millis: int({ default: 0 }),
    memory_bytes: float({ default: 0 }),
    pods: int({ default: 0 }),
  });

/** What the cluster controller observes of a cluster's room: the scheduler and the autoscaler decide on it. */
export const clusterCapacity = () =>
  nullable(
    obj({
      observed: datetime(),
      /** Schedulable worker nodes: not cordoned, not tainted NoSchedule, Ready. */
      allocatable: resources(),
      /** Requests of the pods bound to those nodes (terminated pods excluded). */
      requested: resources(),
      /** Pods the Kubernetes scheduler could not place for lack of cpu, memory or pod slots. */
      unschedulable: resources(),
      nodes: list(
        obj({
          name: str(),
          /** false for control-plane and other NoSchedule-tainted nodes. */
          worker: bool(),
          schedulable: bool(),
          ready: bool(),
          allocatable: resources(),
          requested: resources(),
          /** Pods other than DaemonSet and mirror pods. */
          workload_pods: int({ default: 0 }),
          /** Since when the node has been idle (no workload pods, or under the utilisation threshold). */
          idle_since: nullable(datetime(), { default: null }),
        }),
        { default: [] },
      ),
    }),
    { default: null, "x-extension": true },
  );

/** What the autoscaler decided and is doing; the infrastructure controller reads `desired` and `removing`. */
export const clusterAutoscalingStatus = () =>
  nullable(
    obj({
      /** The worker count IM is to build; null until the autoscaler first takes the cluster over. */
      desired: nullable(int(), { default: null }),
      /** Nodes on their way out, with the step reached: a restarted autoscaler resumes from it. */
      removing: list(
        obj({
          node: str(),
          vm_id: nullable(str(), { default: null }),
          step: enumOf(["cordoned", "drained", "requested"] as const),
          since: datetime(),
        }),
        { default: [] },
      ),
      last_scale_up: nullable(datetime(), { default: null }),
      last_scale_down: nullable(datetime(), { default: null }),
      /** The autoscaler's latest verdict in words ("at max workers", "node vnode-2 pinned by pod …"). */
      message: nullable(str(), { default: null }),
    }),
    { default: null, "x-extension": true },
  );

export const EVENTS_KEPT = 50;

/** The decisions taken about an object, newest last, the last {@link EVENTS_KEPT} kept. */
export const eventHistory = () =>
  list(
    obj({
      time: datetime(),
      type: enumOf(["Normal", "Warning"] as const),
      reason: str(),
      message: str(),
      /** Which controller decided. */
      source: str(),
    }),
    { default: [], "x-extension": true },
  );

export const templateRef = () =>
  nullable(
    obj({
      api: constant("kubernetes"),
      kind: enumOf(["ClusterTemplate", "GlobalClusterTemplate"] as const),
      name: str(),
      namespace: nullable(str(), { default: null }),
    }),
    { default: null, "x-extension": true },
  );

const templateSpec = () =>
  withCheck(
    obj({
      tosca: withCheck(dict(), (t) => (isGiven(t) ? checkClusterTosca(t) : [])),
      inputs: dict({ default: {} }),
      labels: strDict({ default: {} }),
      metrics: list(metricRef(), { default: [] }),
      inherit_labels: bool({ default: true }),
      inherit_metrics: bool({ default: true }),
      constraints: obj(
        { cloud: obj({ labels: labelConstraints(), metrics: metricConstraints() }) },
        { default: { cloud: { labels: null, metrics: null } } },
      ),
      clusters: obj({ min: int({ default: 0 }), max: int({ default: 3 }) }, { default: { min: 0, max: 3 } }),
      retention: int({ default: 600 }),
      workers: obj(
        {
          input: str({ default: "wn_num" }),
          system: str({ default: "wn" }),
          initial: int({ default: 1 }),
          cpu: withCheck(nullable(str(), { default: null }), (q) => (q === null ? [] : checkQuantity(q))),
          memory: withCheck(nullable(str(), { default: null }), (q) => (q === null ? [] : checkQuantity(q))),
          pods: int({ default: 110 }),
        },
        {
          default: { input: "wn_num", system: "wn", initial: 1, cpu: null, memory: null, pods: 110 },
        },
      ),
      autoscaling: nullable(autoscalingPolicy(), { default: null }),
    }),
    checkClusterTemplateSpec,
  );

const templateColumns: Column[] = [
  ...baseColumns,
  { header: "clusters", value: (o) => `${o.spec.clusters.min}..${o.spec.clusters.max}` },
  { header: "workers", value: (o) => `${o.spec.workers.initial} (${o.spec.workers.input})` },
  { header: "labels_given", value: "spec.labels", wide: true },
  { header: "inputs", value: "spec.inputs", detail: true },
  { header: "metrics", value: (o) => metricRefsCell(o.spec.metrics), detail: true },
  { header: "cloud label constraints", value: "spec.constraints.cloud.labels", detail: true },
  { header: "cloud metric constraints", value: "spec.constraints.cloud.metrics", detail: true },
  { header: "autoscaling", value: (o) => autoscalingCell(o.spec.autoscaling), wide: true },
  { header: "retention", value: "spec.retention", detail: true },
];

export function autoscalingCell(policy: { workers: { min: number; max: number } } | null): string | null {
  return policy ? `${policy.workers.min}..${policy.workers.max} workers` : null;
}

export const GlobalClusterTemplate = defineKind({
  group: "kubernetes",
  kind: "GlobalClusterTemplate",
  plural: "globalclustertemplates",
  namespaced: false,
  schema: resourceSchema("kubernetes", "GlobalClusterTemplate", { spec: templateSpec() }),
  hasStatus: false,
  actions: [],
  blocking: false,
  noUpdateIsOk: false,
  createCheck: "atomic",
  columns: templateColumns,
});

export const ClusterTemplate = defineKind({
  ...GlobalClusterTemplate,
  kind: "ClusterTemplate",
  plural: "clustertemplates",
  namespaced: true,
  schema: resourceSchema("kubernetes", "ClusterTemplate", { spec: templateSpec() }),
});
