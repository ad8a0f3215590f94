/**
 * What an application's objects say about its containers (controllers.md §8.1 step 3): pod counts and the
 * app state they imply, and the Service endpoints shown in `status.services`.
 */
type Obj = Record<string, any>;

export interface ContainerHealth {
  desired_pods: number;
  running_pods: number;
  completed_pods: number;
  failed_pods: number;
}

export interface Health {
  health: ContainerHealth;
  /** RUNNING, DEGRADED (fewer ready than desired, crash loops), COMPLETED (every job done), RESTARTING. */
  state: "RUNNING" | "DEGRADED" | "COMPLETED" | "RESTARTING";
  /** Why it is not RUNNING, one phrase per object. */
  problems: string[];
}

const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** One object's contribution; null for kinds without pods. */
function objectHealth(o: Obj): { h: ContainerHealth; state: Health["state"]; problem?: string } | null {
  const spec = o.spec ?? {};
  const status = o.status ?? {};
  const name = `${o.kind} ${o.metadata?.name}`;
  switch (o.kind) {
    case "Pod": {
      const statuses: Obj[] = status.containerStatuses ?? [];
      const h = { desired_pods: 1, running_pods: 0, completed_pods: 0, failed_pods: 0 };
      const crashLoop = statuses.some((c) => c.state?.waiting?.reason === "CrashLoopBackOff");
      if (status.phase === "Succeeded" || status.phase === "Failed") {
        if (status.phase === "Succeeded") h.completed_pods = 1;
        else h.failed_pods = 1;
        return spec.restartPolicy === "Never"
          ? {
              h,
              state: status.phase === "Succeeded" ? "COMPLETED" : "DEGRADED",
              problem: status.phase === "Failed" ? `${name} failed` : undefined,
            }
          : { h, state: "RESTARTING", problem: `${name} terminated and restarts` };
      }
      if (crashLoop) return { h, state: "DEGRADED", problem: `${name} is in CrashLoopBackOff` };
      const ready = (status.conditions ?? []).some((c: Obj) => c.type === "Ready" && c.status === "True");
      if (status.phase === "Running" && ready) return { h: { ...h, running_pods: 1 }, state: "RUNNING" };
      return { h, state: "DEGRADED", problem: `${name} is ${status.phase ?? "Pending"}` };
    }
    case "Deployment":
    case "StatefulSet":
    case "ReplicaSet":
    case "ReplicationController": {
      const desired = spec.replicas ?? 1;
      const ready = num(status.readyReplicas);
      const h = { desired_pods: desired, running_pods: ready, completed_pods: 0, failed_pods: 0 };
      return ready >= desired
        ? { h, state: "RUNNING" }
        : { h, state: "DEGRADED", problem: `${name}: ${ready}/${desired} replicas ready` };
    }
    case "DaemonSet": {
      // Krake compared the wrong two fields (X15): desired against ready is what tells health.
      const desired = num(status.desiredNumberScheduled);
      const ready = num(status.numberReady);
      const h = { desired_pods: desired, running_pods: ready, completed_pods: 0, failed_pods: 0 };
      return ready >= desired
        ? { h, state: "RUNNING" }
        : { h, state: "DEGRADED", problem: `${name}: ${ready}/${desired} pods ready` };
    }
    case "Job": {
      const completions = spec.completions ?? 1;
      const h = {
        desired_pods: completions,
        running_pods: num(status.active),
        completed_pods: num(status.succeeded),
        failed_pods: num(status.failed),
      };
      if (h.completed_pods >= completions) return { h, state: "COMPLETED" };
      const failedCondition = (status.conditions ?? []).some(
        (c: Obj) => c.type === "Failed" && c.status === "True",
      );
      if (failedCondition) return { h, state: "DEGRADED", problem: `${name} failed` };
      return { h, state: "RUNNING" };
    }
    default:
      return null;
  }
}

/** The sum over every object the cluster returned (null entries: missing objects, which count as desired). */
export function healthOf(objects: (Obj | null)[], desired: Obj[]): Health {
  const health: ContainerHealth = { desired_pods: 0, running_pods: 0, completed_pods: 0, failed_pods: 0 };
  const problems: string[] = [];
  let workloads = 0;
  let completed = 0;
  let restarting = false;
  objects.forEach((o, i) => {
    if (!o) {
      const want = desired[i];
      if (want && objectHealth({ ...want, status: {} })) {
        problems.push(`${want.kind} ${want.metadata?.name} is missing`);
        workloads++;
      }
      return;
    }
    const one = objectHealth(o);
    if (!one) return;
    workloads++;
    for (const k of Object.keys(health) as (keyof ContainerHealth)[]) health[k] += one.h[k];
    if (one.problem) problems.push(one.problem);
    if (one.state === "COMPLETED") completed++;
    if (one.state === "RESTARTING") restarting = true;
  });
  const state: Health["state"] = problems.length
    ? restarting && problems.length === 1
      ? "RESTARTING"
      : "DEGRADED"
    : workloads > 0 && completed === workloads
      ? "COMPLETED"
      : "RUNNING";
  return { health, state, problems };
}

/**
 * `status.services`: `<load balancer ingress or <pending>>:<port>` for LoadBalancer Services,
 * `<cluster API host>:<nodePort>` for NodePort ones; Services without either get no entry.
 */
export function servicesOf(objects: (Obj | null)[], clusterHost: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const o of objects) {
    if (!o || o.kind !== "Service") continue;
    const port = (o.spec?.ports ?? [])[0];
    if (!port) continue;
    const name = String(o.metadata?.name);
    if (o.spec?.type === "LoadBalancer") {
      const ingress = (o.status?.loadBalancer?.ingress ?? [])[0];
      const host = ingress?.ip ?? ingress?.hostname ?? "<pending>";
      out[name] = `${host}:${port.port}`;
    } else if (port.nodePort) {
      out[name] = `${clusterHost}:${port.nodePort}`;
    }
  }
  return out;
}
