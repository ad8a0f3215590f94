import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ToscaYamlError, TOSCA_YAML_MAX_BYTES, parseToscaYaml } from "./tosca-yaml.js";
import { checkClusterTosca } from "./tosca.js";

const TEMPLATE = `tosca_definitions_version: tosca_simple_yaml_1_0
imports:
  - indigo_custom_types: https://example.org/custom_types.yaml
description: TOSCA template for launching a Kubernetes Cluster.
topology_template:
  inputs:
    wn_num:
      type: integer
      default: 1
      required: yes
    fe_mem:
      type: scalar-unit.size
      default: 4 GB
    kube_version:
      type: string
      default: "1.22.9"
  node_templates:
    front:
      type: tosca.nodes.indigo.Compute
      capabilities:
        scalable:
          properties:
            count: { get_input: wn_num }
            removal_list: ['2']
  outputs:
    kubeconfig:
      value: { get_attribute: [ front, ansible_output, kube_conf, output ] }
`;

function fails(text: string, why: RegExp): void {
  assert.throws(
    () => parseToscaYaml(text),
    (err: unknown) => err instanceof ToscaYamlError && why.test(err.message),
  );
}

describe("parseToscaYaml", () => {
  it("reads a cluster template into a dict that passes the cluster check", () => {
    const t = parseToscaYaml(TEMPLATE);
    assert.equal((t.topology_template as any).inputs.wn_num.default, 1);
    assert.deepEqual(
      (t.topology_template as any).node_templates.front.capabilities.scalable.properties.removal_list,
      ["2"],
    );
    assert.deepEqual(checkClusterTosca(t), []);
  });

  it("reads YAML 1.1 booleans like PyYAML", () => {
    const t = parseToscaYaml(TEMPLATE) as any;
    assert.equal(t.topology_template.inputs.wn_num.required, true);
    assert.deepEqual(parseToscaYaml("a: no\nb: On\nc: 'yes'\nd: y\ne: N\nf: FALSE\n"), {
      a: false,
      b: true,
      c: "yes",
      d: "y",
      e: "N",
      f: false,
    });
  });

  it("keeps JSON types only: timestamps, binary and sets stay text", () => {
    const t = parseToscaYaml("a: 2001-12-14\nb: !!binary aGVsbG8=\nc: 1.5\nd: null\n");
    assert.equal(t.a, "2001-12-14");
    assert.equal(typeof t.b, "string");
    assert.equal(t.c, 1.5);
    assert.equal(t.d, null);
    assert.doesNotThrow(() => JSON.stringify(t));
  });

  it("lets a later duplicate key win, as PyYAML does", () => {
    assert.deepEqual(parseToscaYaml("a: 1\na: 2\n"), { a: 2 });
  });

  it("expands a few aliases", () => {
    const t = parseToscaYaml("base: &b {type: string}\ninputs:\n  x: *b\n  y: *b\n") as any;
    assert.deepEqual(t.inputs.y, { type: "string" });
  });

  it("stops alias bombs", () => {
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d]",
    ].join("\n");
    fails(bomb, /could not be read: .*alias/i);
  });

  it("rejects more than 1 MiB", () => {
    fails(`a: "${"x".repeat(TOSCA_YAML_MAX_BYTES)}"\n`, /too large: \d+ bytes, at most 1048576/);
  });

  it("rejects invalid YAML with the parser's reason", () => {
    fails("a: [unclosed\n", /not valid YAML: .*line 2/s);
    fails("a: 1\n---\nb: 2\n", /not valid YAML: .*multiple documents/);
  });

  it("rejects documents that are not mappings", () => {
    for (const text of ["- a\n- b\n", "just text", "", "42", "null"]) fails(text, /must be a YAML mapping/);
  });

  it("rejects deep nesting, without a stack overflow", () => {
    fails(`${"[".repeat(5000)}${"]".repeat(5000)}`, /./);
    let text = "";
    for (let i = 0; i < 150; i++) text += `${"  ".repeat(i)}k:\n`;
    fails(text + `${"  ".repeat(150)}v: 1\n`, /nested too deeply/);
  });

  it("keeps __proto__ as an ordinary key", () => {
    const t = parseToscaYaml("__proto__: {polluted: 1}\n");
    assert.equal(({} as any).polluted, undefined);
    assert.ok(Object.hasOwn(t, "__proto__"));
  });

  it("rejects non-text input", () => fails(5 as any, /given as text/));
});
