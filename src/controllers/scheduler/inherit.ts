/**
 * Inheritance from the cloud a Krake-created cluster runs on (controllers.md §2.6, with defect X5 fixed):
 * `inherit_labels` overlays every cloud label (the cloud wins a collision), a cloud label constraint
 * inherits the label its key names; `inherit_metrics` adds every cloud metric the cluster lacks, a cloud
 * metric constraint adds the metric it names. Computed on the fly, never persisted.
 */
import { parseLabelConstraint, parseMetricConstraint } from "../../resources/validators/constraints.js";
import type { Resource } from "../../resources/kind.js";
import type { MetricRef } from "./select.js";

export interface Effective {
  labels: Record<string, string>;
  metrics: MetricRef[];
}

export function cloudMetricRefs(cloud: Resource): MetricRef[] {
  return cloud.spec?.[cloud.spec?.type]?.metrics ?? [];
}

export function effectiveCluster(cluster: Resource, cloud: Resource | undefined): Effective {
  const labels: Record<string, string> = { ...(cluster.metadata.labels ?? {}) };
  const metrics: MetricRef[] = [...(cluster.spec?.metrics ?? [])];
  if (!cloud) return { labels, metrics };
  const cloudLabels: Record<string, string> = cloud.metadata.labels ?? {};
  if (cluster.metadata.inherit_labels) Object.assign(labels, cloudLabels);
  for (const text of cluster.spec?.constraints?.cloud?.labels ?? []) {
    const key = safely(() => parseLabelConstraint(text).key);
    if (key !== undefined && Object.hasOwn(cloudLabels, key)) labels[key] = cloudLabels[key];
  }
  const wanted = new Set<string>();
  const all = cluster.spec?.inherit_metrics === true;
  for (const text of cluster.spec?.constraints?.cloud?.metrics ?? []) {
    const name = safely(() => parseMetricConstraint(text).metric);
    if (name !== undefined) wanted.add(name);
  }
  for (const ref of cloudMetricRefs(cloud)) {
    if ((all || wanted.has(ref.name)) && !metrics.some((m) => m.name === ref.name)) metrics.push(ref);
  }
  return { labels, metrics };
}

function safely<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch {
    // Stored constraints passed admission; one that no longer parses inherits nothing.
    return undefined;
  }
}
