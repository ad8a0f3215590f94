/**
 * The TOSCA side of the simulator: what a document asks for (Compute nodes and counts), what re-posting does
 * (merge, removals), and how outputs evaluate — including Krake's cluster templates in examples/.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  ToscaParseError,
  computeNodes,
  contextualizationEnabled,
  evaluateOutputs,
  mergeTosca,
  parseToscaText,
  planScale,
  softwareTasks,
  toscaSystems,
  type OutputVm,
} from "./tosca.js";
import { k8sYaml } from "./test-support.js";

const examples = join(process.cwd(), "examples");
const example = (name: string) => readFileSync(join(examples, name), "utf8");

function vm(id: number, extra: Partial<OutputVm> = {}): OutputVm {
  return {
    id,
    cloudVmId: `c-${id}`,
    privateIp: `10.0.0.${id + 1}`,
    publicIp: null,
    ctxtLog: "",
    ansible: null,
    ...extra,
  };
}

describe("TOSCA documents", () => {
  it("reads Krake's cluster templates without fetching their imports", () => {
    const doc = parseToscaText(example("im-cluster.yaml"));
    assert.deepEqual(
      computeNodes(doc).map((n) => [n.name, n.instances]),
      [
        ["front", 1],
        ["wn", 1],
      ],
    );
    assert.equal(computeNodes(parseToscaText(example("im-cluster-scale-up.yaml")))[1].instances, 2);
    const down = computeNodes(parseToscaText(example("im-cluster-scale-down.yaml")))[1];
    assert.deepEqual([down.instances, down.removalList], [1, ["2"]]);
    assert.ok(contextualizationEnabled(doc));
    assert.deepEqual(
      softwareTasks(doc).map((t) => [t.ctxtTask, t.kubernetesFrontEnd]),
      [
        ["lrms_front_end_front_conf_front", true],
        ["wn_node_wn_conf_wn", false],
      ],
    );
  });

  it("takes count, else default_instances, else min_instances, else 1", () => {
    const counts = (props: string) =>
      computeNodes(
        parseToscaText(`tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  inputs: { n: { type: integer, default: 4 } }
  node_templates:
    x:
      type: tosca.nodes.Compute
      capabilities: { scalable: { properties: ${props} } }
`),
      )[0].instances;
    assert.equal(counts("{ count: { get_input: n }, default_instances: 2 }"), 4);
    assert.equal(counts("{ default_instances: 2, min_instances: 1 }"), 2);
    assert.equal(counts("{ min_instances: 3 }"), 3);
    assert.equal(counts("{}"), 1);
  });

  it("derives RADL systems: sizes in bytes, os, ports to networks", () => {
    const [front] = toscaSystems(parseToscaText(k8sYaml()));
    assert.deepEqual(
      front.features.map((f) => `${f.name} ${f.op} ${f.value}${f.unit ?? ""}`),
      [
        "instance_name = front",
        "disk.0.os.name = linux",
        "disk.0.os.flavour = ubuntu",
        "cpu.count >= 2",
        "memory.size >= 2000000000B",
      ],
    );
    assert.deepEqual(front.interfaces, [{ index: 0, network: "private_net" }]);
    const cluster = toscaSystems(parseToscaText(example("im-cluster.yaml")));
    assert.deepEqual(cluster[0].interfaces, [
      { index: 0, network: "network_private" },
      { index: 1, network: "network_public" },
    ]);
  });

  it("rejects bad documents with the parser's error list", () => {
    const error = (text: string) => {
      try {
        parseToscaText(text);
      } catch (err) {
        assert.ok(err instanceof ToscaParseError);
        return err.message;
      }
      assert.fail("expected a parse error");
    };
    assert.match(error("a: [1, 2"), /^Error parsing TOSCA template: /);
    assert.equal(
      error("topology_template: {}\nfoo: 1\n"),
      'Error parsing TOSCA template: \nThe pre-parsed input failed validation with the following error(s): \n\n\tMissingRequiredFieldError: Template is missing required field "tosca_definitions_version".\n\tUnknownFieldError: Template contains unknown field "foo". Refer to the definition to verify valid values.',
    );
    assert.match(
      error(
        "tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates:\n    x: { type: tosca.nodes.Compute, properties: { a: { get_input: missing } } }\n",
      ),
      /UnknownInputError: Unknown input "missing"\./,
    );
    assert.match(
      error(
        "tosca_definitions_version: tosca_simple_yaml_1_0\ntopology_template:\n  node_templates:\n    x: {}\n",
      ),
      /Template "x" is missing required field "type"/,
    );
    assert.match(error("tosca_definitions_version: nope\n"), /InvalidTemplateVersion/);
  });
});

describe("re-posted documents", () => {
  it("merges maps key by key and lists index by index (a removal_list sent once stays)", () => {
    const stored = parseToscaText(example("im-cluster-scale-down.yaml"));
    const merged = mergeTosca(stored, parseToscaText(example("im-cluster-scale-up.yaml")));
    const wn = computeNodes(merged)[1];
    assert.deepEqual([wn.instances, wn.removalList], [2, ["2"]]);
  });

  it("removes the oldest VMs of the node without removal_list, the listed ids with it", () => {
    const three = parseToscaText(k8sYaml(3));
    assert.deepEqual(
      planScale(
        three,
        new Map([
          ["front", [0]],
          ["wn", [1]],
        ]),
      ),
      { remove: [], add: [{ system: "wn", count: 2 }] },
    );
    const one = parseToscaText(k8sYaml(1));
    assert.deepEqual(
      planScale(
        one,
        new Map([
          ["front", [0]],
          ["wn", [1, 2, 3]],
        ]),
      ),
      { remove: [1, 2], add: [] },
    );
    const down = parseToscaText(example("im-cluster-scale-down.yaml"));
    assert.deepEqual(
      planScale(
        down,
        new Map([
          ["front", [0]],
          ["wn", [1, 2]],
        ]),
      ),
      { remove: [2], add: [] },
    );
  });

  it("fails like Python's int() on a non-numeric removal_list entry", () => {
    const doc = parseToscaText(`tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  node_templates:
    wn: { type: tosca.nodes.Compute, capabilities: { scalable: { properties: { count: 0, removal_list: [vnode-1] } } } }
`);
    assert.throws(
      () => planScale(doc, new Map([["wn", [1]]])),
      /invalid literal for int\(\) with base 10: 'vnode-1'/,
    );
  });
});

describe("outputs", () => {
  it("give null and 'None' before VMs exist, values once they do (concat, get_attribute)", () => {
    const doc = parseToscaText(k8sYaml());
    assert.deepEqual(evaluateOutputs(doc, { vmsOf: () => [] }), {
      front_ip: null,
      kubeconfig:
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://None:6443\n",
    });
    const outputs = evaluateOutputs(doc, { vmsOf: (s) => (s === "front" ? [vm(0)] : [vm(1)]) });
    assert.equal(outputs.front_ip, "10.0.0.1");
    assert.equal(
      outputs.kubeconfig,
      "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n",
    );
  });

  it("reads the Ansible output of indigo Compute nodes, lists per VM, indexes", () => {
    const doc = parseToscaText(example("im-cluster.yaml"));
    const before = evaluateOutputs(doc, {
      vmsOf: (s) => (s === "front" ? [vm(0, { publicIp: "203.0.113.1" })] : []),
    });
    assert.deepEqual(before, {
      dashboard_endpoint: "https://203.0.113.1/dashboard/",
      api_endpoint: "https://203.0.113.1:6443",
      kubeconfig: null,
    });
    const ansible = {
      lrms_front_end_front_conf_front: { tasks: { kube_conf: { state: "ok", output: "KUBECONFIG" } } },
    };
    const after = evaluateOutputs(doc, { vmsOf: (s) => (s === "front" ? [vm(0, { ansible })] : []) });
    assert.equal(after.kubeconfig, "KUBECONFIG");
    assert.equal(after.api_endpoint, "https://None:6443");
  });

  it("evaluates literals, get_input, get_property and token", () => {
    const doc = parseToscaText(`tosca_definitions_version: tosca_simple_yaml_1_0
topology_template:
  inputs: { name: { type: string, default: demo } }
  node_templates:
    front: { type: tosca.nodes.indigo.Compute, properties: { role: master } }
  outputs:
    literal: { value: [1, "two", { three: 3 }] }
    input: { value: { get_input: name } }
    prop: { value: { get_property: [front, role] } }
    ips: { value: { get_attribute: [front, private_address] } }
    second: { value: { token: [{ concat: [a, ",", b] }, ",", 1] } }
`);
    assert.deepEqual(evaluateOutputs(doc, { vmsOf: () => [vm(0), vm(1)] }), {
      literal: [1, "two", { three: 3 }],
      input: "demo",
      prop: "master",
      ips: ["10.0.0.1", "10.0.0.2"],
      second: "b",
    });
  });
});
