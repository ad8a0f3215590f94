import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { scalableNodes, withRemovalList } from "./scaling.js";

const doc = (wn: Record<string, unknown>, inputs: Record<string, unknown> = {}) => ({
  topology_template: {
    inputs,
    node_templates: {
      front: { type: "tosca.nodes.indigo.Compute" },
      fe_node: { type: "tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes" },
      wn: { type: "tosca.nodes.indigo.Compute", capabilities: { scalable: { properties: wn } } },
    },
  },
});

describe("scalableNodes", () => {
  it("lists Compute nodes only, with count from get_input defaults", () => {
    const nodes = scalableNodes(
      doc({ count: { get_input: "wn_num" } }, { wn_num: { type: "integer", default: 3 } }),
    );
    assert.deepEqual(nodes, [
      { name: "front", instances: 1, removalList: [] },
      { name: "wn", instances: 3, removalList: [] },
    ]);
  });

  it("falls back to default_instances, reads numeric strings, and stringifies removal_list entries", () => {
    assert.equal(scalableNodes(doc({ default_instances: 2 }))[1]!.instances, 2);
    assert.equal(scalableNodes(doc({ count: "4" }))[1]!.instances, 4);
    assert.deepEqual(scalableNodes(doc({ count: 0, removal_list: [2, "5"] }))[1]!.removalList, ["2", "5"]);
    const viaInput = doc({ removal_list: { get_input: "rm" } }, { rm: { default: [7] } });
    assert.deepEqual(scalableNodes(viaInput)[1]!.removalList, ["7"]);
  });

  it("an unresolvable input or a missing topology is not an error", () => {
    assert.equal(scalableNodes(doc({ count: { get_input: "nope" } }))[1]!.instances, 1);
    assert.deepEqual(scalableNodes({}), []);
    assert.deepEqual(scalableNodes({ topology_template: { node_templates: [] } }), []);
  });
});

describe("withRemovalList", () => {
  it("sets the list on a copy, creating the capability path when absent", () => {
    const original = doc({ count: 1 });
    const changed = withRemovalList(original, "front", ["0"]) as any;
    assert.deepEqual(changed.topology_template.node_templates.front.capabilities.scalable.properties, {
      removal_list: ["0"],
    });
    assert.equal((original as any).topology_template.node_templates.front.capabilities, undefined);
  });
});
