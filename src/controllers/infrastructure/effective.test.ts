import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { alreadyApplied, effectiveTosca } from "./effective.js";

const tosca = (workers: number, removal?: string[]) => ({
  topology_template: {
    inputs: { wn_num: { type: "integer", default: workers }, kube_version: { default: "1.22.9" } },
    node_templates: {
      front: { type: "tosca.nodes.indigo.Compute" },
      wn: {
        type: "tosca.nodes.indigo.Compute",
        capabilities: {
          scalable: {
            properties: { count: { get_input: "wn_num" }, ...(removal ? { removal_list: removal } : {}) },
          },
        },
      },
    },
  },
});

const policy = { workers: { input: "wn_num", system: "wn", min: 1, max: 5 } };

const cluster = (spec: any, autoscaling: any = null) => ({
  api: "kubernetes",
  kind: "Cluster",
  metadata: { name: "c" } as any,
  spec,
  status: { autoscaling },
});

const removal = (node: string, step: string, vm_id: string | null) => ({ node, step, vm_id, since: "" });

describe("the TOSCA sent to IM", () => {
  it("is the user's template without autoscaling, or before the autoscaler took over", () => {
    const t = tosca(2);
    assert.equal(effectiveTosca(cluster({ tosca: t })).tosca, t);
    assert.equal(effectiveTosca(cluster({ tosca: t, autoscaling: policy }, { desired: null })).tosca, t);
    assert.equal(
      effectiveTosca(cluster({ tosca: t }, { desired: 4, removing: [] })).tosca,
      t,
      "policy removed",
    );
  });

  it("carries the autoscaler's count and the VMs of requested removals only", () => {
    const c = cluster(
      { tosca: tosca(2), autoscaling: policy },
      {
        desired: 3,
        removing: [removal("vnode-4", "requested", "4"), removal("vnode-5", "drained", "5")],
      },
    );
    const e = effectiveTosca(c);
    assert.deepEqual(e.tosca, tosca(3, ["4"]));
    assert.deepEqual(e.removals, ["4"]);
    assert.equal(e.blocked, null);
    assert.deepEqual(c.spec.tosca, tosca(2), "the stored template is not touched");
  });

  it("is blocked when a requested removal names no VM: IM would remove its oldest worker", () => {
    const c = cluster(
      { tosca: tosca(2), autoscaling: policy },
      { desired: 1, removing: [removal("vnode-2", "requested", null)] },
    );
    assert.match(effectiveTosca(c).blocked!, /vnode-2/);
  });

  it("is sent once: applied when IM has it, also after a finished removal's list was dropped", () => {
    const during = effectiveTosca(
      cluster(
        { tosca: tosca(2), autoscaling: policy },
        { desired: 1, removing: [removal("vnode-2", "requested", "2")] },
      ),
    );
    assert.equal(alreadyApplied(during, tosca(2)), false);
    assert.equal(alreadyApplied(during, during.tosca), true);
    const afterwards = effectiveTosca(
      cluster({ tosca: tosca(2), autoscaling: policy }, { desired: 1, removing: [] }),
    );
    assert.equal(alreadyApplied(afterwards, during.tosca), true, "nothing for IM to do");
    const next = effectiveTosca(
      cluster({ tosca: tosca(2), autoscaling: policy }, { desired: 2, removing: [] }),
    );
    assert.equal(alreadyApplied(next, during.tosca), false, "a new count is sent");
    const edited = cluster({ tosca: tosca(2), autoscaling: policy }, { desired: 1, removing: [] });
    edited.spec.tosca.topology_template.inputs.kube_version.default = "1.23.6";
    assert.equal(alreadyApplied(effectiveTosca(edited), during.tosca), false, "so is any other edit");
    assert.equal(alreadyApplied(effectiveTosca(cluster({ tosca: tosca(2) })), tosca(2, ["9"])), false);
  });
});
