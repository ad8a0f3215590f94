/**
 * TOSCA templates of Clusters and Applications, and CSAR URLs (api.md §8.3, §8.4).
 *
 * Krake validates dicts with tosca-parser 2.6, which downloads every `imports:` URL; we check the same
 * structure without any network access (node types from imports cannot be resolved, so a node's `type`
 * is only required to be a name). Versions, section names and input types follow tosca-parser 2.6, so a
 * template we accept is not rejected by Krake's own controllers when they read it back.
 */
import type { Issue } from "../schema.js";
import { depthIssue, guarded, isPlainObject, own, quote, tooDeep, typeName, type Path } from "./util.js";

export const TOSCA_VERSIONS = [
  "tosca_simple_yaml_1_0",
  "tosca_simple_yaml_1_2",
  "tosca_simple_profile_for_nfv_1_0_0",
  "tosca_simple_profile_for_mec_1_0_0",
] as const;

/** The top-level keys tosca-parser accepts (IM's parser accepts the same ones). */
export const TOSCA_TOP_SECTIONS: ReadonlySet<string> = new Set([
  "tosca_definitions_version",
  "tosca_default_namespace",
  "template_name",
  "topology_template",
  "template_author",
  "template_version",
  "description",
  "imports",
  "dsl_definitions",
  "node_types",
  "relationship_types",
  "relationship_templates",
  "capability_types",
  "artifact_types",
  "data_types",
  "interface_types",
  "policy_types",
  "group_types",
  "repositories",
  "metadata",
]);
const TOP_MAPS = [
  "node_types",
  "relationship_types",
  "relationship_templates",
  "capability_types",
  "artifact_types",
  "data_types",
  "interface_types",
  "policy_types",
  "group_types",
  "repositories",
  "metadata",
];
const TOPOLOGY_SECTIONS = new Set([
  "description",
  "inputs",
  "node_templates",
  "relationship_templates",
  "outputs",
  "groups",
  "substitution_mappings",
  "policies",
]);
const NODE_SECTIONS = new Set([
  "derived_from",
  "properties",
  "requirements",
  "interfaces",
  "capabilities",
  "type",
  "description",
  "directives",
  "attributes",
  "artifacts",
  "node_filter",
  "copy",
  "metadata",
]);
const NODE_MAPS = [
  "properties",
  "attributes",
  "capabilities",
  "interfaces",
  "artifacts",
  "node_filter",
  "metadata",
];
const INPUT_FIELDS = new Set([
  "type",
  "description",
  "default",
  "constraints",
  "required",
  "status",
  "entry_schema",
]);
const INPUT_TYPES = new Set([
  "integer",
  "string",
  "boolean",
  "float",
  "range",
  "number",
  "timestamp",
  "list",
  "map",
  "scalar-unit.size",
  "scalar-unit.frequency",
  "scalar-unit.time",
  "version",
  "PortDef",
  "PortSpec",
]);
const OUTPUT_FIELDS = new Set(["description", "value"]);

export const INVALID_CONTENT = "Invalid TOSCA template content.";
const MISSING_KUBECONFIG = `${INVALID_CONTENT} The output \`kubeconfig\` is missing.`;

class Collector {
  readonly issues: Issue[] = [];
  add(path: Path, detail: string): void {
    this.issues.push({ path, message: `${INVALID_CONTENT} ${detail}` });
  }

  /** Reports and returns false unless `value` is an object (absent values are the caller's business). */
  object(value: unknown, path: Path, what: string): value is Record<string, unknown> {
    if (isPlainObject(value)) return true;
    this.add(path, `${what} must be an object, not ${typeName(value)}.`);
    return false;
  }

  unknownFields(obj: Record<string, unknown>, allowed: ReadonlySet<string>, path: Path, what: string): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key)) this.add([...path, key], `${what} has the unknown field ${quote(key)}.`);
    }
  }
}

function checkImports(c: Collector, imports: unknown): void {
  // Only the shape: the entries name URLs that are resolved by whoever deploys the template, never by us.
  if (!Array.isArray(imports)) {
    c.add(["imports"], `'imports' must be a list, not ${typeName(imports)}.`);
    return;
  }
  imports.forEach((entry, i) => {
    if (typeof entry === "string" && entry !== "") return;
    if (isPlainObject(entry) && Object.values(entry).every((v) => typeof v === "string" || isPlainObject(v)))
      return;
    c.add(["imports", i], "An import must be a URL or file name, or an object of named imports.");
  });
}

function checkInputs(c: Collector, inputs: unknown, base: Path): void {
  if (!c.object(inputs, base, "'inputs'")) return;
  for (const [name, input] of Object.entries(inputs)) {
    const path = [...base, name];
    const what = `Input ${quote(name)}`;
    if (!c.object(input, path, what)) continue;
    c.unknownFields(input, INPUT_FIELDS, path, what);
    const type = own(input, "type");
    if (type === undefined || type === null) c.add([...path, "type"], `${what} is missing the field 'type'.`);
    else if (typeof type !== "string" || !INPUT_TYPES.has(type)) {
      c.add(
        [...path, "type"],
        `${what} has the unsupported type ${quote(type)}; expected one of: ${[...INPUT_TYPES].join(", ")}.`,
      );
    }
  }
}

function checkNodeTemplates(c: Collector, nodes: unknown, base: Path): void {
  if (!c.object(nodes, base, "'node_templates'")) return;
  for (const [name, node] of Object.entries(nodes)) {
    const path = [...base, name];
    const what = `Node template ${quote(name)}`;
    if (!c.object(node, path, what)) continue;
    c.unknownFields(node, NODE_SECTIONS, path, what);
    const type = own(node, "type");
    if (type === undefined || type === null) c.add([...path, "type"], `${what} is missing the field 'type'.`);
    else if (typeof type !== "string" || type === "")
      c.add([...path, "type"], `${what} must have a type name.`);
    for (const section of NODE_MAPS) {
      const value = own(node, section);
      if (value !== undefined && value !== null)
        c.object(value, [...path, section], `${quote(section)} of ${what}`);
    }
    for (const section of ["requirements", "directives"]) {
      const value = own(node, section);
      if (value !== undefined && value !== null && !Array.isArray(value)) {
        c.add([...path, section], `${quote(section)} of ${what} must be a list, not ${typeName(value)}.`);
      }
    }
  }
}

function checkRelationshipTemplates(c: Collector, templates: unknown, base: Path): void {
  if (!c.object(templates, base, "'relationship_templates'")) return;
  for (const [name, rel] of Object.entries(templates)) {
    const path = [...base, name];
    const what = `Relationship template ${quote(name)}`;
    if (!c.object(rel, path, what)) continue;
    if (typeof own(rel, "type") !== "string")
      c.add([...path, "type"], `${what} is missing the field 'type'.`);
  }
}

function checkOutputs(c: Collector, outputs: unknown, base: Path): void {
  if (!c.object(outputs, base, "'outputs'")) return;
  for (const [name, output] of Object.entries(outputs)) {
    const path = [...base, name];
    const what = `Output ${quote(name)}`;
    if (!c.object(output, path, what)) continue;
    c.unknownFields(output, OUTPUT_FIELDS, path, what);
    const value = own(output, "value");
    if (value === undefined || value === null)
      c.add([...path, "value"], `${what} is missing the field 'value'.`);
  }
}

function checkTopology(c: Collector, topology: unknown): void {
  const base: Path = ["topology_template"];
  if (!c.object(topology, base, "'topology_template'")) return;
  c.unknownFields(topology, TOPOLOGY_SECTIONS, base, "'topology_template'");
  const section = (name: string) => {
    const value = own(topology, name);
    return value === undefined || value === null ? undefined : value;
  };
  const description = section("description");
  if (description !== undefined && typeof description !== "string") {
    c.add([...base, "description"], "'description' must be a string.");
  }
  if (section("inputs") !== undefined) checkInputs(c, section("inputs"), [...base, "inputs"]);
  if (section("node_templates") !== undefined)
    checkNodeTemplates(c, section("node_templates"), [...base, "node_templates"]);
  if (section("relationship_templates") !== undefined) {
    checkRelationshipTemplates(c, section("relationship_templates"), [...base, "relationship_templates"]);
  }
  if (section("outputs") !== undefined) checkOutputs(c, section("outputs"), [...base, "outputs"]);
  for (const name of ["groups", "substitution_mappings"]) {
    if (section(name) !== undefined) c.object(section(name), [...base, name], quote(name));
  }
  const policies = section("policies");
  if (policies !== undefined && !Array.isArray(policies)) {
    c.add([...base, "policies"], `'policies' must be a list, not ${typeName(policies)}.`);
  }
}

/** Structural issues of a TOSCA document given as a dict; the document must be non-empty. */
function checkDocument(t: unknown): Issue[] {
  const c = new Collector();
  if (!c.object(t, [], "The template")) return c.issues;
  const deep = tooDeep(t);
  if (deep) return [depthIssue(deep, "The TOSCA template")];
  c.unknownFields(t, TOSCA_TOP_SECTIONS, [], "The template");
  const version = own(t, "tosca_definitions_version");
  if (version === undefined || version === null) {
    c.add(["tosca_definitions_version"], "The field 'tosca_definitions_version' is missing.");
  } else if (!(TOSCA_VERSIONS as readonly unknown[]).includes(version)) {
    c.add(
      ["tosca_definitions_version"],
      `The TOSCA version ${quote(version)} is not supported; expected one of: ${TOSCA_VERSIONS.join(", ")}.`,
    );
  }
  const description = own(t, "description");
  if (description !== undefined && description !== null && typeof description !== "string") {
    c.add(["description"], "'description' must be a string.");
  }
  const imports = own(t, "imports");
  if (imports !== undefined && imports !== null) checkImports(c, imports);
  for (const name of TOP_MAPS) {
    const value = own(t, name);
    if (value !== undefined && value !== null) c.object(value, [name], quote(name));
  }
  const topology = own(t, "topology_template");
  if (topology !== undefined && topology !== null) checkTopology(c, topology);
  return c.issues;
}

const isEmpty = (v: unknown) =>
  v === null || v === undefined || v === "" || (isPlainObject(v) && Object.keys(v).length === 0);

/** Cluster `spec.tosca`: `{}` means "no template"; otherwise it must deliver the `kubeconfig` output. */
export function checkClusterTosca(t: Record<string, unknown>): Issue[] {
  if (isEmpty(t)) return [];
  return guarded("The TOSCA template", () => {
    const issues: Issue[] = [];
    const topology = isPlainObject(t) ? own(t, "topology_template") : undefined;
    const outputs = isPlainObject(topology) ? own(topology, "outputs") : undefined;
    const kubeconfig = isPlainObject(outputs) ? own(outputs, "kubeconfig") : undefined;
    if (!kubeconfig)
      issues.push({ path: ["topology_template", "outputs", "kubeconfig"], message: MISSING_KUBECONFIG });
    issues.push(...checkDocument(t));
    return issues;
  });
}

/** The URL forms Krake's controllers can download: http(s) URLs, never files on the controller's host. */
function urlProblem(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "It must be an absolute http or https URL.";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:")
    return "Only http and https URLs are supported.";
  return null;
}

/** Application `spec.tosca`: a template dict, or the URL of a YAML template; empty means "none". */
export function checkAppTosca(t: Record<string, unknown> | string): Issue[] {
  if (isEmpty(t)) return [];
  if (typeof t === "string") {
    if (!t.endsWith(".yaml") && !t.endsWith(".yml"))
      return [{ path: [], message: "Invalid TOSCA template URL." }];
    const problem = urlProblem(t);
    return problem ? [{ path: [], message: `Invalid TOSCA template URL. ${problem}` }] : [];
  }
  if (!isPlainObject(t)) return [{ path: [], message: "Invalid TOSCA template type." }];
  return guarded("The TOSCA template", () => checkDocument(t));
}

/** Application `spec.csar`: the URL of a CSAR archive; empty means "none". */
export function checkCsar(s: string | null): Issue[] {
  if (s === null || s === undefined || s === "") return [];
  if (typeof s !== "string" || (!s.endsWith(".csar") && !s.endsWith(".zip"))) {
    return [{ path: [], message: "Invalid CSAR archive URL." }];
  }
  const problem = urlProblem(s);
  return problem ? [{ path: [], message: `Invalid CSAR archive URL. ${problem}` }] : [];
}
