/**
 * Semantic checks of cluster templates and autoscaling policies: bounds that contradict each other, a worker
 * input that does not drive the worker pool, a worker size that cannot be known. Each issue names its field.
 */
import {
  inputDrivesSystem,
  inputsOf,
  systemShape,
  withInputs,
  workerCount,
} from "../../kube/cluster-tosca.js";
import { parseQuantity } from "../../kube/quantity.js";
import type { Issue } from "../schema.js";

type Doc = Record<string, any>;

export function checkQuantity(q: unknown): Issue[] {
  const n = parseQuantity(q);
  return Number.isFinite(n) && n > 0
    ? []
    : [{ path: [], message: `Not a positive resource quantity: '${q}'.` }];
}

export function checkAutoscalingPolicy(policy: Doc): Issue[] {
  if (!policy || typeof policy !== "object") return [];
  const issues: Issue[] = [];
  const at = (path: (string | number)[], message: string) => issues.push({ path, message });
  const w = policy.workers ?? {};
  if (w.min < 0) at(["workers", "min"], "Must be 0 or more.");
  if (w.max < 1) at(["workers", "max"], "Must be at least 1.");
  if (w.max < w.min) at(["workers", "max"], `Must not be below workers.min (${w.min}).`);
  const up = policy.scale_up ?? {};
  if (up.cooldown < 0) at(["scale_up", "cooldown"], "Must be 0 or more seconds.");
  if (up.max_concurrent < 1) at(["scale_up", "max_concurrent"], "Must be at least 1.");
  const down = policy.scale_down ?? {};
  if (down.cooldown < 0) at(["scale_down", "cooldown"], "Must be 0 or more seconds.");
  if (down.idle_time < 0) at(["scale_down", "idle_time"], "Must be 0 or more seconds.");
  if (!(down.utilization_below >= 0 && down.utilization_below <= 1))
    at(["scale_down", "utilization_below"], "Must be a share between 0 and 1.");
  return issues;
}

/**
 * The worker input and pool of an autoscaled TOSCA: the input must exist and be the `scalable.count` of the
 * pool, or the autoscaler would change a number IM never reads.
 */
export function checkWorkerPool(
  tosca: Doc,
  workers: { input: string; system: string },
  path: (string | number)[],
): Issue[] {
  if (!tosca || Object.keys(tosca).length === 0) return [];
  if (!(workers.input in inputsOf(tosca)))
    return [{ path: [...path, "input"], message: `The TOSCA template has no input '${workers.input}'.` }];
  if (!inputDrivesSystem(tosca, workers.input, workers.system))
    return [
      {
        path: [...path, "system"],
        message: `Node '${workers.system}' of the TOSCA template is not scaled by input '${workers.input}' (its capabilities.scalable.properties.count must be {get_input: ${workers.input}}).`,
      },
    ];
  if (workerCount(tosca, workers.input) === null)
    return [{ path: [...path, "input"], message: `Input '${workers.input}' has no whole-number default.` }];
  return [];
}

/** The allocatable of one worker of a template: the explicit `workers.cpu/memory`, else the VM size in the TOSCA. */
export function templateWorkerShape(
  spec: Doc,
): { cpuMillis: number; memoryBytes: number; pods: number } | null {
  const tosca = withInputs(spec.tosca ?? {}, spec.inputs ?? {});
  const fromTosca = systemShape(tosca, spec.workers?.system ?? "wn");
  const cpu = spec.workers?.cpu != null ? parseQuantity(spec.workers.cpu) * 1000 : fromTosca?.cpuMillis;
  const memory = spec.workers?.memory != null ? parseQuantity(spec.workers.memory) : fromTosca?.memoryBytes;
  if (cpu === undefined || memory === undefined || !Number.isFinite(cpu) || !Number.isFinite(memory))
    return null;
  return { cpuMillis: Math.floor(cpu), memoryBytes: Math.floor(memory), pods: spec.workers?.pods ?? 110 };
}

export function checkClusterTemplateSpec(spec: Doc): Issue[] {
  if (!spec || typeof spec !== "object") return [];
  const issues: Issue[] = [];
  const at = (path: (string | number)[], message: string) => issues.push({ path, message });
  const { clusters, workers, autoscaling } = spec;
  if (clusters.min < 0) at(["clusters", "min"], "Must be 0 or more.");
  if (clusters.max < 1) at(["clusters", "max"], "Must be at least 1.");
  if (clusters.max < clusters.min)
    at(["clusters", "max"], `Must not be below clusters.min (${clusters.min}).`);
  if (spec.retention < 0) at(["retention"], "Must be 0 or more seconds.");
  if (workers.initial < 0) at(["workers", "initial"], "Must be 0 or more.");
  if (workers.pods < 1) at(["workers", "pods"], "Must be at least 1.");
  const tosca = withInputs(spec.tosca ?? {}, spec.inputs ?? {});
  issues.push(...checkWorkerPool(tosca, workers, ["workers"]));
  for (const name of Object.keys(spec.inputs ?? {})) {
    if (!(name in inputsOf(spec.tosca ?? {})))
      at(["inputs", name], `The TOSCA template has no input '${name}'.`);
  }
  if (issues.length === 0 && templateWorkerShape(spec) === null)
    at(
      ["workers", "cpu"],
      `Give the allocatable cpu and memory of one worker (workers.cpu, workers.memory): node '${workers.system}' of the TOSCA template has no host num_cpus/mem_size to derive them from.`,
    );
  if (autoscaling) {
    if (autoscaling.workers.input !== workers.input || autoscaling.workers.system !== workers.system)
      at(["autoscaling", "workers"], "Must name the same input and system as spec.workers.");
    if (workers.initial < autoscaling.workers.min || workers.initial > autoscaling.workers.max)
      at(
        ["workers", "initial"],
        `Must be within autoscaling.workers.min..max (${autoscaling.workers.min}..${autoscaling.workers.max}).`,
      );
  }
  return issues;
}
