import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { load } from "../load.js";
import { ClusterTemplate } from "../kinds/autoscaling.js";
import { templateWorkerShape } from "./autoscaling.js";

const tosca = () => ({
  tosca_definitions_version: "tosca_simple_yaml_1_0",
  topology_template: {
    inputs: { wn_num: { type: "integer", default: 1 }, wn_cpus: { type: "integer", default: 2 } },
    node_templates: {
      front: { type: "tosca.nodes.indigo.Compute" },
      wn: {
        type: "tosca.nodes.indigo.Compute",
        capabilities: {
          scalable: { properties: { count: { get_input: "wn_num" } } },
          host: { properties: { num_cpus: { get_input: "wn_cpus" }, mem_size: "4 GB" } },
        },
      },
    },
    outputs: { kubeconfig: { value: "x" } },
  },
});

const issues = (spec: Record<string, unknown>) =>
  load(
    ClusterTemplate.schema,
    {
      api: "kubernetes",
      kind: "ClusterTemplate",
      metadata: { name: "t" },
      spec: { tosca: tosca(), ...spec },
    },
    "create",
  ).issues.map((i) => `${i.path.join(".")}: ${i.message}`);

describe("cluster template validation", () => {
  it("accepts a template whose worker input drives its pool, and derives the worker size", () => {
    assert.deepEqual(issues({}), []);
    const spec = load(
      ClusterTemplate.schema,
      { metadata: { name: "t" }, spec: { tosca: tosca(), inputs: { wn_cpus: 8 } } },
      "create",
    ).value.spec;
    assert.deepEqual(templateWorkerShape(spec), { cpuMillis: 8000, memoryBytes: 4e9, pods: 110 });
  });

  it("names each contradiction by its field", () => {
    assert.deepEqual(issues({ clusters: { min: 3, max: 1 } }), [
      "spec.clusters.max: Must not be below clusters.min (3).",
    ]);
    assert.match(
      issues({ workers: { input: "nodes" } })[0],
      /^spec\.workers\.input: The TOSCA template has no input 'nodes'/,
    );
    assert.match(
      issues({ workers: { system: "front" } })[0],
      /^spec\.workers\.system: Node 'front' .* not scaled by input 'wn_num'/,
    );
    assert.match(
      issues({ inputs: { nope: 1 } })[0],
      /^spec\.inputs\.nope: The TOSCA template has no input 'nope'/,
    );
    assert.match(
      issues({ workers: { cpu: "lots" } })[0],
      /^spec\.workers\.cpu: Not a positive resource quantity/,
    );
    assert.match(
      issues({ autoscaling: { workers: { min: 2, max: 4 } }, workers: { initial: 1 } })[0],
      /^spec\.workers\.initial: Must be within autoscaling\.workers\.min\.\.max \(2\.\.4\)/,
    );
    assert.match(
      issues({ autoscaling: { workers: { min: 5, max: 2 } } })[0],
      /^spec\.autoscaling\.workers\.max: Must not be below workers\.min/,
    );
    assert.match(
      issues({ autoscaling: { scale_down: { utilization_below: 2 } } }).join(),
      /scale_down\.utilization_below: Must be a share between 0 and 1/,
    );
  });

  it("asks for the worker size when the TOSCA does not give it", () => {
    const bare = tosca();
    delete (bare.topology_template.node_templates.wn.capabilities as any).host;
    const found = load(
      ClusterTemplate.schema,
      { metadata: { name: "t" }, spec: { tosca: bare } },
      "create",
    ).issues;
    assert.equal(found.length, 1);
    assert.deepEqual(found[0].path, ["spec", "workers", "cpu"]);
  });
});
