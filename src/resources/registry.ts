import type { KindDef } from "./kind.js";
import { GlobalMetric, GlobalMetricsProvider, Lease, Metric, MetricsProvider, Role, RoleBinding } from "./kinds/core.js";
import { Cloud, GlobalCloud, GlobalInfrastructureProvider, InfrastructureProvider } from "./kinds/infrastructure.js";
import { Application, Cluster } from "./kinds/kubernetes.js";
import { ClusterTemplate, GlobalClusterTemplate } from "./kinds/autoscaling.js";

export const KINDS: readonly KindDef[] = [
  Role,
  RoleBinding,
  GlobalMetric,
  GlobalMetricsProvider,
  Metric,
  MetricsProvider,
  Lease,
  GlobalInfrastructureProvider,
  InfrastructureProvider,
  GlobalCloud,
  Cloud,
  Application,
  Cluster,
  GlobalClusterTemplate,
  ClusterTemplate,
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byPlural = new Map(KINDS.map((k) => [`${k.group}/${k.plural}`, k]));

export function kindByName(kind: string): KindDef | undefined {
  return byKind.get(kind);
}

export function kindByPlural(group: string, plural: string): KindDef | undefined {
  return byPlural.get(`${group}/${plural}`);
}

export { ClusterTemplate, GlobalClusterTemplate };
export { Application, Cluster, Cloud, GlobalCloud, GlobalInfrastructureProvider, InfrastructureProvider };
export { clusterHasKubeconfig, clusterHasTosca } from "./kinds/kubernetes.js";
export { GlobalMetric, GlobalMetricsProvider, Lease, Metric, MetricsProvider, Role, RoleBinding };
