import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { checkAppTosca, checkClusterTosca, checkCsar } from "./tosca.js";

const CONTENT = "Invalid TOSCA template content.";

/** Shaped like Krake's templates/applications/tosca/im-cluster.yaml, trimmed. */
function clusterTemplate(): Record<string, any> {
  return {
    tosca_definitions_version: "tosca_simple_yaml_1_0",
    imports: [{ indigo_custom_types: "https://example.org/custom_types.yaml" }],
    description: "Kubernetes cluster",
    topology_template: {
      inputs: {
        wn_num: { type: "integer", default: 1, required: true },
        fe_mem: {
          type: "scalar-unit.size",
          default: "4 GB",
          constraints: [{ valid_values: ["4 GB", "8 GB"] }],
        },
        kube_version: { type: "string", default: "1.22.9" },
      },
      node_templates: {
        lrms_front_end: {
          type: "tosca.nodes.indigo.LRMS.FrontEnd.Kubernetes",
          properties: { admin_username: { get_input: "admin_username" } },
          requirements: [{ host: "front" }],
        },
        front: {
          type: "tosca.nodes.indigo.Compute",
          capabilities: { host: { properties: { num_cpus: 2 } } },
        },
        wn: {
          type: "tosca.nodes.indigo.Compute",
          capabilities: { scalable: { properties: { count: { get_input: "wn_num" } } } },
        },
      },
      outputs: {
        api_endpoint: {
          value: { concat: ["https://", { get_attribute: ["front", "public_address", 0] }, ":6443"] },
        },
        kubeconfig: { value: { get_attribute: ["front", "ansible_output", "kube_conf", "output"] } },
      },
    },
  };
}

/** Shaped like Krake's echo-demo-tosca.yaml. */
function appTemplate(): Record<string, any> {
  const t = clusterTemplate();
  delete t.topology_template.outputs;
  t.topology_template.node_templates = {
    "echo-demo": {
      type: "tosca.nodes.indigo.KubernetesObject",
      properties: { spec: "apiVersion: apps/v1\nkind: Deployment\n" },
    },
  };
  return t;
}

describe("checkClusterTosca", () => {
  it("accepts an IM cluster template, without resolving its imports", () => {
    assert.deepEqual(checkClusterTosca(clusterTemplate()), []);
  });

  it("accepts {} (no template)", () => assert.deepEqual(checkClusterTosca({}), []));

  it("requires the kubeconfig output (Krake's message)", () => {
    const t = clusterTemplate();
    delete t.topology_template.outputs.kubeconfig;
    assert.deepEqual(checkClusterTosca(t), [
      {
        path: ["topology_template", "outputs", "kubeconfig"],
        message: "Invalid TOSCA template content. The output `kubeconfig` is missing.",
      },
    ]);
    const bare = { tosca_definitions_version: "tosca_simple_yaml_1_0" };
    assert.deepEqual(checkClusterTosca(bare)[0].path, ["topology_template", "outputs", "kubeconfig"]);
  });

  it("also checks the rest of the document", () => {
    const t = clusterTemplate();
    t.tosca_definitions_version = "tosca_simple_yaml_9";
    const issues = checkClusterTosca(t);
    assert.deepEqual(
      issues.map((i) => i.path),
      [["tosca_definitions_version"]],
    );
    assert.match(
      issues[0].message,
      /^Invalid TOSCA template content\. The TOSCA version 'tosca_simple_yaml_9' is not supported/,
    );
  });
});

describe("checkAppTosca: documents", () => {
  it("accepts a KubernetesObject template and empty values", () => {
    assert.deepEqual(checkAppTosca(appTemplate()), []);
    assert.deepEqual(checkAppTosca({}), []);
    assert.deepEqual(checkAppTosca(""), []);
  });

  it("accepts every version tosca-parser 2.6 knows", () => {
    for (const v of [
      "tosca_simple_yaml_1_0",
      "tosca_simple_yaml_1_2",
      "tosca_simple_profile_for_nfv_1_0_0",
    ]) {
      assert.deepEqual(checkAppTosca({ ...appTemplate(), tosca_definitions_version: v }), [], v);
    }
  });

  it("requires a known tosca_definitions_version", () => {
    const t = appTemplate();
    delete t.tosca_definitions_version;
    assert.deepEqual(checkAppTosca(t), [
      {
        path: ["tosca_definitions_version"],
        message: `${CONTENT} The field 'tosca_definitions_version' is missing.`,
      },
    ]);
    for (const v of ["tosca_simple_yaml_1_1", "tosca_simple_yaml_1_3", 1.0, ""]) {
      const issues = checkAppTosca({ ...appTemplate(), tosca_definitions_version: v });
      assert.deepEqual(
        issues.map((i) => i.path),
        [["tosca_definitions_version"]],
        String(v),
      );
    }
  });

  it("names the wrong part by path", () => {
    const t = appTemplate();
    delete t.topology_template.node_templates["echo-demo"].type;
    assert.deepEqual(checkAppTosca(t), [
      {
        path: ["topology_template", "node_templates", "echo-demo", "type"],
        message: `${CONTENT} Node template 'echo-demo' is missing the field 'type'.`,
      },
    ]);
  });

  const broken: [string, (t: Record<string, any>) => void, (string | number)[], RegExp][] = [
    [
      "unknown top-level section",
      (t) => (t.topology = {}),
      ["topology"],
      /The template has the unknown field 'topology'/,
    ],
    [
      "topology_template not an object",
      (t) => (t.topology_template = []),
      ["topology_template"],
      /must be an object, not a list/,
    ],
    [
      "unknown topology section",
      (t) => (t.topology_template.nodes = {}),
      ["topology_template", "nodes"],
      /unknown field 'nodes'/,
    ],
    [
      "node_templates not an object",
      (t) => (t.topology_template.node_templates = [1]),
      ["topology_template", "node_templates"],
      /'node_templates' must be an object/,
    ],
    [
      "node not an object",
      (t) => (t.topology_template.node_templates.x = "y"),
      ["topology_template", "node_templates", "x"],
      /Node template 'x' must be an object, not a string/,
    ],
    [
      "node type not a string",
      (t) => (t.topology_template.node_templates["echo-demo"].type = 5),
      ["topology_template", "node_templates", "echo-demo", "type"],
      /must have a type name/,
    ],
    [
      "unknown node field",
      (t) => (t.topology_template.node_templates["echo-demo"].props = {}),
      ["topology_template", "node_templates", "echo-demo", "props"],
      /unknown field 'props'/,
    ],
    [
      "properties not an object",
      (t) => (t.topology_template.node_templates["echo-demo"].properties = "x"),
      ["topology_template", "node_templates", "echo-demo", "properties"],
      /'properties' of Node template 'echo-demo' must be an object/,
    ],
    [
      "requirements not a list",
      (t) => (t.topology_template.node_templates["echo-demo"].requirements = {}),
      ["topology_template", "node_templates", "echo-demo", "requirements"],
      /must be a list, not an object/,
    ],
    [
      "input not an object",
      (t) => (t.topology_template.inputs.wn_num = 3),
      ["topology_template", "inputs", "wn_num"],
      /Input 'wn_num' must be an object/,
    ],
    [
      "input without type",
      (t) => delete t.topology_template.inputs.wn_num.type,
      ["topology_template", "inputs", "wn_num", "type"],
      /Input 'wn_num' is missing the field 'type'/,
    ],
    [
      "input of unknown type",
      (t) => (t.topology_template.inputs.wn_num.type = "int"),
      ["topology_template", "inputs", "wn_num", "type"],
      /unsupported type 'int'/,
    ],
    [
      "unknown input field",
      (t) => (t.topology_template.inputs.wn_num.key_schema = {}),
      ["topology_template", "inputs", "wn_num", "key_schema"],
      /unknown field 'key_schema'/,
    ],
    [
      "output without value",
      (t) => (t.topology_template.outputs = { x: { description: "d" } }),
      ["topology_template", "outputs", "x", "value"],
      /Output 'x' is missing the field 'value'/,
    ],
    [
      "imports not a list",
      (t) => (t.imports = "https://x/y.yaml"),
      ["imports"],
      /'imports' must be a list, not a string/,
    ],
    ["bad import entry", (t) => (t.imports = ["ok.yaml", 5]), ["imports", 1], /An import must be a URL/],
    [
      "description not a string",
      (t) => (t.description = ["x"]),
      ["description"],
      /'description' must be a string/,
    ],
    [
      "node_types not an object",
      (t) => (t.node_types = []),
      ["node_types"],
      /'node_types' must be an object/,
    ],
    [
      "policies not a list",
      (t) => (t.topology_template.policies = {}),
      ["topology_template", "policies"],
      /'policies' must be a list/,
    ],
  ];
  for (const [name, breakIt, path, why] of broken) {
    it(`reports: ${name}`, () => {
      const t = appTemplate();
      breakIt(t);
      const issues = checkAppTosca(t);
      assert.equal(issues.length, 1, JSON.stringify(issues));
      assert.deepEqual(issues[0].path, path);
      assert.ok(issues[0].message.startsWith(`${CONTENT} `), issues[0].message);
      assert.match(issues[0].message, why);
    });
  }

  it("accepts string imports, object imports and metadata", () => {
    const t = appTemplate();
    t.imports = ["https://x/types.yaml", { file: "types.yaml", repository: "r" }];
    t.metadata = { template_name: "x" };
    assert.deepEqual(checkAppTosca(t), []);
  });

  it("reports documents nested too deeply instead of crashing", () => {
    const t = appTemplate();
    let node: any = {};
    t.topology_template.node_templates["echo-demo"].properties = node;
    for (let i = 0; i < 10_000; i++) node = node.x = {};
    const issues = checkAppTosca(t);
    assert.equal(issues.length, 1);
    assert.match(issues[0].message, /nested too deeply/);
  });

  it("reports a non-dict, non-string TOSCA with Krake's message", () => {
    for (const v of [5, ["a.yaml"], true]) {
      assert.deepEqual(checkAppTosca(v as any), [{ path: [], message: "Invalid TOSCA template type." }]);
    }
  });
});

describe("checkAppTosca: URLs", () => {
  it("accepts http(s) URLs of YAML files", () => {
    for (const url of [
      "https://example.org/app.yaml",
      "http://10.0.0.1:8000/t/app.yml",
      "https://x/a.yaml?x=1.yaml",
    ]) {
      assert.deepEqual(checkAppTosca(url), [], url);
    }
  });
  it("rejects other suffixes with Krake's message", () => {
    for (const url of [
      "https://example.org/app.json",
      "https://example.org/app.YAML",
      "app",
      "https://x/a.yaml?x=1",
    ]) {
      assert.deepEqual(checkAppTosca(url), [{ path: [], message: "Invalid TOSCA template URL." }], url);
    }
  });
  it("rejects files and other schemes", () => {
    assert.match(
      checkAppTosca("/etc/app.yaml")[0].message,
      /^Invalid TOSCA template URL\. It must be an absolute http or https URL\.$/,
    );
    assert.match(checkAppTosca("file:///etc/app.yaml")[0].message, /Only http and https URLs are supported/);
  });
});

describe("checkCsar", () => {
  it("accepts empty values and http(s) URLs of .csar and .zip files", () => {
    assert.deepEqual(checkCsar(null), []);
    assert.deepEqual(checkCsar(""), []);
    assert.deepEqual(checkCsar("https://example.org/app.csar"), []);
    assert.deepEqual(checkCsar("http://example.org/app.zip"), []);
  });
  it("rejects other suffixes with Krake's message", () => {
    for (const url of ["https://example.org/app.tar", "https://example.org/app.csar.gz", "app.CSAR"]) {
      assert.deepEqual(checkCsar(url), [{ path: [], message: "Invalid CSAR archive URL." }], url);
    }
    assert.deepEqual(checkCsar(5 as any), [{ path: [], message: "Invalid CSAR archive URL." }]);
  });
  it("rejects local files", () => {
    assert.match(checkCsar("./app.csar")[0].message, /^Invalid CSAR archive URL\. /);
    assert.match(checkCsar("ftp://x/app.zip")[0].message, /Only http and https/);
  });
});
