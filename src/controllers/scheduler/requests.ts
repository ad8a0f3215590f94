/**
 * What an application asks of a cluster, read from its manifest (docs/autoscaling.md, "Capacity model"): the
 * sum over its pod templates of what Kubernetes reserves per pod (container requests, limits where requests
 * are absent, the largest init container when that is more: `podRequests`) times the pods the workload runs
 * at once. Known as soon as the app exists, with no wait for pods to appear, so a burst of applications is
 * counted before any of them runs.
 *
 * Counted: Pods (1), Deployments, ReplicaSets, StatefulSets and ReplicationControllers (`replicas`,
 * default 1), Jobs (`parallelism`, default 1, never more than `completions`), CronJobs (one Job's worth). Not
 * counted: DaemonSets (one pod per node, whatever the node count: they are in the cluster's observed requests
 * instead), and everything that runs no pod. An application still given as TOSCA or CSAR (translated only
 * once placed) asks for nothing yet.
 */
import { podRequests, type Resources } from "../cluster/capacity.js";

export type { Resources } from "../cluster/capacity.js";

export interface AppRequest extends Resources {
  /** The largest single pod: a cluster with no worker that holds it cannot run the app, whatever its total. */
  largest: { cpu_millis: number; memory_bytes: number };
}

export const NO_RESOURCES: Readonly<Resources> = Object.freeze({ cpu_millis: 0, memory_bytes: 0, pods: 0 });
export const NO_REQUEST: Readonly<AppRequest> = Object.freeze({
  cpu_millis: 0,
  memory_bytes: 0,
  pods: 0,
  largest: Object.freeze({ cpu_millis: 0, memory_bytes: 0 }),
});

type Obj = Record<string, any>;

const count = (n: unknown, fallback: number): number =>
  n === undefined || n === null
    ? fallback
    : typeof n === "number" && Number.isFinite(n) && n > 0
      ? Math.floor(n)
      : 0;

/** Pods a Job runs at once: its parallelism, but never more than the completions it still needs. */
function jobPods(spec: Obj | undefined): number {
  const parallel = count(spec?.parallelism, 1);
  const completions = spec?.completions;
  return typeof completions === "number" ? Math.min(parallel, count(completions, 1)) : parallel;
}

/** The pod template and how many of its pods run at once, for kinds that run pods (DaemonSets excluded). */
export function podsOf(obj: Obj): { pod: Obj; count: number } | null {
  switch (obj?.kind) {
    case "Pod":
      return { pod: obj, count: 1 };
    case "Deployment":
    case "ReplicaSet":
    case "StatefulSet":
    case "ReplicationController":
      return obj.spec?.template ? { pod: obj.spec.template, count: count(obj.spec.replicas, 1) } : null;
    case "Job":
      return obj.spec?.template ? { pod: obj.spec.template, count: jobPods(obj.spec) } : null;
    case "CronJob": {
      const job = obj.spec?.jobTemplate?.spec;
      return job?.template ? { pod: job.template, count: jobPods(job) } : null;
    }
    default:
      return null;
  }
}

/** The request of a manifest (a list of Kubernetes objects). */
export function applicationRequest(manifest: unknown): AppRequest {
  if (!Array.isArray(manifest) || manifest.length === 0) return NO_REQUEST;
  const total = { cpu_millis: 0, memory_bytes: 0, pods: 0, largest: { cpu_millis: 0, memory_bytes: 0 } };
  for (const obj of manifest) {
    const pods = podsOf(obj as Obj);
    if (!pods || pods.count === 0) continue;
    const one = podRequests(pods.pod);
    total.cpu_millis += one.cpu_millis * pods.count;
    total.memory_bytes += one.memory_bytes * pods.count;
    total.pods += pods.count;
    total.largest.cpu_millis = Math.max(total.largest.cpu_millis, one.cpu_millis);
    total.largest.memory_bytes = Math.max(total.largest.memory_bytes, one.memory_bytes);
  }
  return total;
}

export function isEmpty(r: Resources): boolean {
  return r.cpu_millis <= 0 && r.memory_bytes <= 0 && r.pods <= 0;
}

export function addResources(a: Resources, b: Resources, times = 1): Resources {
  return {
    cpu_millis: a.cpu_millis + b.cpu_millis * times,
    memory_bytes: a.memory_bytes + b.memory_bytes * times,
    pods: a.pods + b.pods * times,
  };
}
