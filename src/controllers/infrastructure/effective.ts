/**
 * The TOSCA the infrastructure controller sends IM for a cluster (docs/autoscaling.md, "One owner of the worker
 * count"). Without `spec.autoscaling`, or before the autoscaler took the cluster over, it is `spec.tosca` as the
 * user wrote it. With it, the worker input's default is `status.autoscaling.desired` and the workers'
 * `removal_list` names the VMs of the nodes whose removal was requested. It is an absolute document: sending
 * it twice (a crash between the call and recording it) asks IM for the same thing twice.
 */
import { isDeepStrictEqual } from "node:util";
import { withInputs } from "../../kube/cluster-tosca.js";
import type { Resource } from "../../resources/kind.js";
import { withRemovalList } from "../../providers/im/scaling.js";

type Doc = Record<string, unknown>;

export interface Effective {
  tosca: Doc;
  /** The worker system whose removal list the autoscaler owns; null when the cluster does not scale. */
  system: string | null;
  /** VM ids in that system's removal list (empty when nothing is being removed). */
  removals: string[];
  /**
   * Why the document must not be sent now: a requested removal without a VM id would have IM remove its
   * oldest worker instead. Never the case for what the autoscaler writes; guards against hand-edited status.
   */
  blocked: string | null;
}

export function effectiveTosca(cluster: Resource): Effective {
  const tosca: Doc = cluster.spec.tosca ?? {};
  const policy = cluster.spec.autoscaling;
  const desired = cluster.status?.autoscaling?.desired;
  if (!policy || desired === null || desired === undefined)
    return { tosca, system: null, removals: [], blocked: null };
  const requested: { node: string; vm_id: string | null }[] = (
    cluster.status.autoscaling.removing ?? []
  ).filter((r: { step: string }) => r.step === "requested");
  const missing = requested.filter((r) => !r.vm_id).map((r) => r.node);
  const removals = requested.filter((r) => r.vm_id).map((r) => String(r.vm_id));
  let doc = withInputs(tosca, { [policy.workers.input]: desired });
  if (removals.length > 0) doc = withRemovalList(doc, policy.workers.system, removals);
  return {
    tosca: doc,
    system: policy.workers.system,
    removals,
    blocked: missing.length
      ? `the removal of node ${missing.join(", ")} names no VM: IM would remove another one`
      : null,
  };
}

/**
 * Whether IM already has what `effective` asks for. A removal list that has done its work (the entries were
 * cleared once the nodes left) is no reason to send the document again: IM would have nothing to do.
 */
export function alreadyApplied(effective: Effective, lastApplied: Doc | null | undefined): boolean {
  const last = lastApplied ?? {};
  if (isDeepStrictEqual(effective.tosca, last)) return true;
  if (effective.system === null || effective.removals.length > 0) return false;
  return isDeepStrictEqual(
    withoutRemovalList(effective.tosca, effective.system),
    withoutRemovalList(last, effective.system),
  );
}

function withoutRemovalList(doc: Doc, system: string): Doc {
  const props = (doc as any)?.topology_template?.node_templates?.[system]?.capabilities?.scalable?.properties;
  if (!props || !("removal_list" in props)) return doc;
  const copy = structuredClone(doc) as any;
  delete copy.topology_template.node_templates[system].capabilities.scalable.properties.removal_list;
  return copy;
}
