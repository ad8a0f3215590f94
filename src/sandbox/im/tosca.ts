/**
 * The part of IM's TOSCA engine (`IM/tosca/Tosca.py` on top of tosca-parser) that decides what a client can
 * observe: which Compute nodes become VMs and how many, which VMs a re-posted document removes, how a re-posted
 * document is merged over the stored one, whether contextualization runs, and what `/outputs` evaluates to.
 *
 * Deliberately not a TOSCA implementation: imported type definitions are never fetched (Krake's cluster
 * templates import the INDIGO types from GitHub; a sandbox must not depend on the network), so node types are
 * recognised by name — `tosca.nodes.Compute`, `tosca.nodes.indigo.Compute` and any type whose last segment is
 * `Compute` make VMs; `*.network.Network` and `*.network.Port` describe networking; everything else that is
 * hosted on a Compute node is a software component that IM would configure with Ansible.
 */
import { parse as parseYaml, stringify as stringifyYaml, type Tags } from "yaml";
import { pyStr } from "./wire.js";
import { TOSCA_TOP_SECTIONS } from "../../resources/validators/tosca.js";

/** A parsed TOSCA document (the YAML mapping). */
export type ToscaDoc = Record<string, unknown>;

/**
 * The document could not be accepted. `message` is the text IM puts after `Error parsing request body: `:
 * `Error parsing TOSCA template: ` plus the YAML error, or tosca-parser's validation report.
 */
export class ToscaParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToscaParseError";
  }
}

const TOPOLOGY_KEYS = new Set([
  "description",
  "inputs",
  "node_templates",
  "relationship_templates",
  "outputs",
  "groups",
  "substitution_mappings",
  "policies",
  "workflows",
]);
const VALID_VERSIONS = [
  "tosca_simple_yaml_1_0",
  "tosca_simple_yaml_1_1",
  "tosca_simple_yaml_1_2",
  "tosca_simple_yaml_1_3",
  "tosca_simple_profile_for_nfv_1_0_0",
];

const isMap = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);

/**
 * PyYAML's YAML 1.1 booleans: `yes/no/true/false/on/off` in their three casings — but not `y`/`n`, which the
 * YAML 1.1 spec (and the `yaml` package's 1.1 schema) also treat as booleans. Without this an input named `n`
 * would silently become `false`.
 */
const PYYAML_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PYYAML_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
function pyyamlTags(tags: Tags): Tags {
  return tags.map((tag) => {
    if (typeof tag !== "object" || tag.tag !== "tag:yaml.org,2002:bool" || !("test" in tag) || !tag.test)
      return tag;
    return { ...tag, test: tag.test.test("true") ? PYYAML_TRUE : PYYAML_FALSE };
  });
}

/**
 * Parses and checks a TOSCA document the way IM's `Tosca(yaml_str)` fails: YAML 1.1 (PyYAML's dialect, so
 * `yes` is a boolean), then the structural checks tosca-parser reports in one multi-line list.
 */
export function parseToscaText(text: string): ToscaDoc {
  let doc: unknown;
  try {
    doc = parseYaml(text, { version: "1.1", customTags: pyyamlTags, prettyErrors: true });
  } catch (err) {
    throw new ToscaParseError(`Error parsing TOSCA template: ${(err as Error).message}`);
  }
  const errors = validate(doc);
  if (errors.length > 0) {
    throw new ToscaParseError(
      "Error parsing TOSCA template: \nThe pre-parsed input failed validation with the following error(s): \n\n\t" +
        errors.join("\n\t"),
    );
  }
  return doc as ToscaDoc;
}

function validate(doc: unknown): string[] {
  if (!isMap(doc)) return ["ValidationError: The template is not a YAML mapping."];
  const errors: string[] = [];
  const version = doc.tosca_definitions_version;
  if (version === undefined) {
    errors.push('MissingRequiredFieldError: Template is missing required field "tosca_definitions_version".');
  } else if (typeof version !== "string" || !VALID_VERSIONS.includes(version)) {
    errors.push(
      `InvalidTemplateVersion: The template version "${pyStr(version)}" is invalid. Valid versions are "${VALID_VERSIONS.join(", ")}".`,
    );
  }
  for (const key of Object.keys(doc)) {
    if (!TOSCA_TOP_SECTIONS.has(key)) {
      errors.push(
        `UnknownFieldError: Template contains unknown field "${key}". Refer to the definition to verify valid values.`,
      );
    }
  }
  const topology = doc.topology_template;
  if (topology === undefined || topology === null) return errors;
  if (!isMap(topology)) return [...errors, 'ValidationError: "topology_template" must be a map.'];
  for (const key of Object.keys(topology)) {
    if (!TOPOLOGY_KEYS.has(key)) {
      errors.push(
        `UnknownFieldError: Template "topology_template" contains unknown field "${key}". Refer to the definition to verify valid values.`,
      );
    }
  }
  const inputs = isMap(topology.inputs) ? topology.inputs : {};
  const nodes = topology.node_templates ?? {};
  if (!isMap(nodes)) errors.push('ValidationError: "node_templates" must be a map.');
  else {
    for (const [name, node] of Object.entries(nodes)) {
      if (!isMap(node) || typeof node.type !== "string") {
        errors.push(`MissingRequiredFieldError: Template "${name}" is missing required field "type".`);
      }
    }
  }
  const seen = new Set<string>();
  for (const name of inputReferences(topology)) {
    if (!(name in inputs) && !seen.has(name)) {
      seen.add(name);
      errors.push(`UnknownInputError: Unknown input "${name}".`);
    }
  }
  return errors;
}

/** Every input name referenced by a `get_input` anywhere in the value. */
function inputReferences(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => inputReferences(v, out));
  else if (isMap(value)) {
    const keys = Object.keys(value);
    if (keys.length === 1 && keys[0] === "get_input") {
      const arg = value.get_input;
      const name = Array.isArray(arg) ? arg[0] : arg;
      if (typeof name === "string") out.push(name);
    } else Object.values(value).forEach((v) => inputReferences(v, out));
  }
  return out;
}

/**
 * IM's `Tosca._merge_yaml`: the new document deep-merged over the stored one — maps key by key, lists index by
 * index, anything else replaced. Consequence worth knowing: a `removal_list` sent once stays in the stored
 * document until a later document overwrites its entries.
 */
export function mergeTosca(stored: ToscaDoc, update: ToscaDoc): ToscaDoc {
  return mergeValue(structuredClone(stored), structuredClone(update)) as ToscaDoc;
}

function mergeValue(base: unknown, update: unknown): unknown {
  if (update === null || update === undefined) return base;
  if (isMap(base) && isMap(update)) {
    for (const [k, v] of Object.entries(update)) base[k] = k in base ? mergeValue(base[k], v) : v;
    return base;
  }
  if (Array.isArray(base) && Array.isArray(update)) {
    update.forEach((v, i) => {
      if (i < base.length) base[i] = mergeValue(base[i], v);
      else base.push(v);
    });
    return base;
  }
  return update;
}

/** IM's `Tosca.serialize()` is PyYAML's `safe_dump`: block style, sorted keys, list items not indented. */
export function serializeTosca(doc: ToscaDoc): string {
  return stringifyYaml(doc, {
    sortMapEntries: true,
    indentSeq: false,
    singleQuote: true,
    version: "1.1",
    customTags: pyyamlTags,
  });
}

function topology(doc: ToscaDoc): Record<string, unknown> {
  return isMap(doc.topology_template) ? doc.topology_template : {};
}

function nodeTemplates(doc: ToscaDoc): Array<[string, Record<string, unknown>]> {
  const nodes = topology(doc).node_templates;
  if (!isMap(nodes)) return [];
  return Object.entries(nodes).filter((entry): entry is [string, Record<string, unknown>] => isMap(entry[1]));
}

const typeOf = (node: Record<string, unknown>): string => (typeof node.type === "string" ? node.type : "");

/** Compute node types by name (imports are never resolved). */
export function isComputeType(type: string): boolean {
  return (
    type === "tosca.nodes.Compute" || type === "tosca.nodes.indigo.Compute" || /(^|\.)Compute$/.test(type)
  );
}
const isNetworkType = (type: string) => /(^|\.)network\.Network$/.test(type);
const isPortType = (type: string) => /(^|\.)network\.Port$/.test(type);

/** Resolves `get_input` (to the input's default, as IM does when no input values are passed), recursively. */
export function resolveInputs(value: unknown, doc: ToscaDoc): unknown {
  if (Array.isArray(value)) return value.map((v) => resolveInputs(v, doc));
  if (!isMap(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1 && keys[0] === "get_input") {
    const arg = value.get_input;
    const [name, ...path] = Array.isArray(arg) ? arg : [arg];
    const inputs = topology(doc).inputs;
    const input = isMap(inputs) && typeof name === "string" ? inputs[name] : undefined;
    let result: unknown = isMap(input) ? resolveInputs(input.default, doc) : undefined;
    for (const step of path) result = pick(result, step);
    return result ?? null;
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveInputs(v, doc)]));
}

function pick(value: unknown, step: unknown): unknown {
  if (Array.isArray(value) && typeof step === "number") return value[step];
  if (isMap(value) && typeof step === "string") return value[step];
  return undefined;
}

function capabilityProperties(
  node: Record<string, unknown>,
  capability: string,
  doc: ToscaDoc,
): Record<string, unknown> {
  const caps = node.capabilities;
  const cap = isMap(caps) ? caps[capability] : undefined;
  const props = isMap(cap) ? cap.properties : undefined;
  return isMap(props) ? (resolveInputs(props, doc) as Record<string, unknown>) : {};
}

function toInt(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return Math.trunc(value);
  if (typeof value === "string" && /^\s*[-+]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}

/** The scaling view of one Compute node. */
export interface ComputeNode {
  name: string;
  type: string;
  /** IM's rule: `count`, else `default_instances`, else `min_instances`, else 1. */
  instances: number;
  /** `scalable.properties.removal_list` as given (IM converts the entries with `int()` only when it needs them). */
  removalList: unknown[];
}

/** Every Compute node in document order with its requested instance count. */
export function computeNodes(doc: ToscaDoc): ComputeNode[] {
  return nodeTemplates(doc)
    .filter(([, node]) => isComputeType(typeOf(node)))
    .map(([name, node]) => {
      const props = capabilityProperties(node, "scalable", doc);
      const instances =
        toInt(props.count) ?? toInt(props.default_instances) ?? toInt(props.min_instances) ?? 1;
      const removal = props.removal_list;
      return { name, type: typeOf(node), instances, removalList: Array.isArray(removal) ? removal : [] };
    });
}

/** What re-posting a document does to the existing VMs of one Compute node. */
export interface ScalePlan {
  /** VM ids to remove, in IM's order. */
  remove: number[];
  /** Systems and how many new VMs each gets. */
  add: Array<{ system: string; count: number }>;
}

/** The existing VMs of one system, oldest first. */
export type ExistingVms = ReadonlyMap<string, readonly number[]>;

/**
 * IM's `to_radl(inf_info)` scaling arithmetic: per Compute node, requested − existing. More → new VMs. Fewer →
 * the first |difference| entries of `removal_list` (converted with Python's `int()`; a non-number is an error
 * the endpoint turns into a 400), or without a list the oldest VMs of that node.
 */
export function planScale(doc: ToscaDoc, existing: ExistingVms): ScalePlan {
  const plan: ScalePlan = { remove: [], add: [] };
  for (const node of computeNodes(doc)) {
    const current = existing.get(node.name) ?? [];
    const difference = node.instances - current.length;
    if (difference > 0) plan.add.push({ system: node.name, count: difference });
    if (difference < 0) {
      const excess = -difference;
      if (node.removalList.length > 0) {
        for (const entry of node.removalList.slice(0, excess)) plan.remove.push(pythonInt(entry));
      } else plan.remove.push(...current.slice(0, excess));
    }
  }
  return plan;
}

function pythonInt(value: unknown): number {
  const parsed = toInt(value);
  if (parsed === undefined)
    throw new Error(
      `invalid literal for int() with base 10: ${pyStr(value) === "None" ? "None" : `'${pyStr(value)}'`}`,
    );
  return parsed;
}

/** A RADL feature: `name op value`, e.g. `cpu.count >= 2`. Memory sizes keep a unit, as RADL prints them. */
export interface RadlFeature {
  name: string;
  op: "=" | ">=" | "<=";
  value: string | number;
  unit?: string;
}

/** A RADL network. */
export interface RadlNetwork {
  id: string;
  outbound: boolean;
}

/** A RADL system: the template of one group of VMs. */
export interface RadlSystem {
  name: string;
  features: RadlFeature[];
  /** `net_interface.<index>.connection`, by interface index. */
  interfaces: Array<{ index: number; network: string }>;
  /** Node type (TOSCA) — IM treats `tosca.nodes.indigo.Compute` specially in outputs. */
  nodeType?: string;
}

/** Sizes in TOSCA's scalar-unit.size, converted to bytes as IM does (`2 GB` → `2000000000B`). */
const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  KIB: 1024,
  MB: 1e6,
  MIB: 1024 ** 2,
  GB: 1e9,
  GIB: 1024 ** 3,
  TB: 1e12,
  TIB: 1024 ** 4,
};

function sizeInBytes(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return undefined;
  const match = /^\s*([\d.]+)\s*([a-zA-Z]*)\s*$/.exec(value);
  if (!match) return undefined;
  const factor = SIZE_UNITS[(match[2] || "B").toUpperCase()];
  return factor === undefined ? undefined : Math.round(Number(match[1]) * factor);
}

/** The networks a TOSCA document declares, or IM's default private network when it declares none. */
export function toscaNetworks(doc: ToscaDoc): RadlNetwork[] {
  const nets = nodeTemplates(doc)
    .filter(([, node]) => isNetworkType(typeOf(node)))
    .map(([name, node]) => {
      const props = isMap(node.properties)
        ? (resolveInputs(node.properties, doc) as Record<string, unknown>)
        : {};
      return { id: name, outbound: props.network_type === "public" };
    });
  if (nets.length > 0) return nets;
  const anyPublic = nodeTemplates(doc).some(
    ([, node]) =>
      isComputeType(typeOf(node)) && capabilityProperties(node, "endpoint", doc).network_name === "PUBLIC",
  );
  return anyPublic
    ? [
        { id: "public_net", outbound: true },
        { id: "private_net", outbound: false },
      ]
    : [{ id: "private_net", outbound: false }];
}

/** The RADL systems IM derives from the Compute nodes (only the features a client is likely to look at). */
export function toscaSystems(doc: ToscaDoc): RadlSystem[] {
  const networks = toscaNetworks(doc);
  const ports = nodeTemplates(doc).filter(([, node]) => isPortType(typeOf(node)));
  return computeNodes(doc).map(({ name }) => {
    const node = nodeTemplates(doc).find(([n]) => n === name)?.[1] ?? {};
    const host = capabilityProperties(node, "host", doc);
    const os = capabilityProperties(node, "os", doc);
    const endpoint = capabilityProperties(node, "endpoint", doc);
    const features: RadlFeature[] = [{ name: "instance_name", op: "=", value: name }];
    if (os.type !== undefined && os.type !== null)
      features.push({ name: "disk.0.os.name", op: "=", value: pyStr(os.type) });
    if (os.distribution) features.push({ name: "disk.0.os.flavour", op: "=", value: pyStr(os.distribution) });
    if (os.version) features.push({ name: "disk.0.os.version", op: "=", value: pyStr(os.version) });
    if (os.image) features.push({ name: "disk.0.image.url", op: "=", value: pyStr(os.image) });
    const cpus = toInt(host.num_cpus);
    if (cpus !== undefined) features.push({ name: "cpu.count", op: ">=", value: cpus });
    const memory = sizeInBytes(host.mem_size);
    if (memory !== undefined) features.push({ name: "memory.size", op: ">=", value: memory, unit: "B" });
    if (typeof host.instance_type === "string" && host.instance_type !== "") {
      features.push({ name: "instance_type", op: "=", value: host.instance_type });
    }
    if (typeof endpoint.dns_name === "string" && endpoint.dns_name !== "") {
      features.push({ name: "net_interface.0.dns_name", op: "=", value: endpoint.dns_name });
    }
    const interfaces = ports
      .map(([, port]) => port)
      .filter((port) => requirementTarget(port, "binding") === name)
      .map((port) => {
        const props = isMap(port.properties)
          ? (resolveInputs(port.properties, doc) as Record<string, unknown>)
          : {};
        return { index: toInt(props.order) ?? 0, network: requirementTarget(port, "link") ?? networks[0].id };
      })
      .sort((a, b) => a.index - b.index);
    if (interfaces.length === 0) {
      interfaces.push({ index: 0, network: networks.find((n) => !n.outbound)?.id ?? networks[0].id });
      if (endpoint.network_name === "PUBLIC") {
        const pub = networks.find((n) => n.outbound);
        if (pub) interfaces.push({ index: 1, network: pub.id });
      }
    }
    return { name, features, interfaces, nodeType: typeOf(node) };
  });
}

function requirementTarget(node: Record<string, unknown>, requirement: string): string | undefined {
  const reqs = Array.isArray(node.requirements) ? node.requirements : [];
  for (const req of reqs) {
    if (!isMap(req) || !(requirement in req)) continue;
    const target = req[requirement];
    if (typeof target === "string") return target;
    if (isMap(target) && typeof target.node === "string") return target.node;
  }
  return undefined;
}

/** A software component IM configures on a VM, and the name of the contextualization task that does it. */
export interface SoftwareTask {
  node: string;
  type: string;
  /** The Compute node it ends up on (following `host` requirements). */
  system: string;
  /** IM's task name: `<node>_<compute>_conf_<compute>` (e.g. `lrms_front_end_front_conf_front`). */
  ctxtTask: string;
  /** A Kubernetes front end: its Ansible run prints the cluster's kubeconfig in the `kube_conf` task. */
  kubernetesFrontEnd: boolean;
}

/** Every software component hosted (directly or transitively) on a Compute node. */
export function softwareTasks(doc: ToscaDoc): SoftwareTask[] {
  const nodes = new Map(nodeTemplates(doc));
  const hostOf = (name: string, depth = 0): string | undefined => {
    const node = nodes.get(name);
    if (!node || depth > 20) return undefined;
    if (isComputeType(typeOf(node))) return name;
    const target = requirementTarget(node, "host");
    return target === undefined ? undefined : hostOf(target, depth + 1);
  };
  const tasks: SoftwareTask[] = [];
  for (const [name, node] of nodes) {
    const type = typeOf(node);
    if (isComputeType(type) || isNetworkType(type) || isPortType(type)) continue;
    const system = hostOf(name);
    if (system === undefined) continue;
    tasks.push({
      node: name,
      type,
      system,
      ctxtTask: `${name}_${system}_conf_${system}`,
      kubernetesFrontEnd: /FrontEnd/i.test(type) && /Kubernetes/i.test(type),
    });
  }
  return tasks;
}

/**
 * Whether IM would contextualize (run Ansible on) the VMs: only when some software component is hosted on a
 * Compute node or a node declares interfaces. A document of bare Compute nodes gets IM's "Contextualization
 * disabled by the RADL/TOSCA template." log.
 */
export function contextualizationEnabled(doc: ToscaDoc): boolean {
  return (
    softwareTasks(doc).length > 0 ||
    nodeTemplates(doc).some(([, node]) => isMap(node.interfaces) || isMap(node.artifacts))
  );
}

/** What IM's Ansible log parser (`_get_ansible_output`) extracts: per contextualization task, per Ansible task. */
export type AnsibleTree = Record<
  string,
  { tasks: Record<string, { state: string | null; output: unknown }> }
>;

/** The runtime facts of one VM that output functions can read. */
export interface OutputVm {
  id: number;
  cloudVmId: string;
  privateIp: string | null;
  publicIp: string | null;
  ctxtLog: string;
  /** Parsed Ansible output, or null while contextualization has not produced any. */
  ansible: AnsibleTree | null;
}

/** The live VMs by system (Compute node) name, oldest first, as outputs see them. */
export interface OutputContext {
  vmsOf(system: string): readonly OutputVm[];
}

/**
 * IM's `Tosca.get_outputs`: every output's `value` evaluated now, against the current VMs. Not gated on state:
 * before a node has VMs `get_attribute` yields null and `concat` embeds Python's `None`.
 */
export function evaluateOutputs(doc: ToscaDoc, context: OutputContext): Record<string, unknown> {
  const outputs = topology(doc).outputs;
  if (!isMap(outputs)) return {};
  const result: Record<string, unknown> = {};
  for (const [name, output] of Object.entries(outputs)) {
    result[name] = evaluate(isMap(output) ? output.value : null, doc, context);
  }
  return result;
}

const FUNCTIONS = new Set(["get_attribute", "get_input", "get_property", "concat", "token"]);

function functionCall(value: unknown): [string, unknown] | undefined {
  if (!isMap(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && FUNCTIONS.has(keys[0]) ? [keys[0], value[keys[0]]] : undefined;
}

function evaluate(value: unknown, doc: ToscaDoc, context: OutputContext): unknown {
  if (Array.isArray(value)) return value.map((v) => evaluate(v, doc, context));
  const call = functionCall(value);
  if (!call) {
    if (isMap(value))
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, evaluate(v, doc, context)]));
    return value === undefined ? null : value;
  }
  const [fn, args] = call;
  switch (fn) {
    case "get_input":
      return resolveInputs(value, doc);
    case "get_property":
      return getProperty(Array.isArray(args) ? args : [], doc);
    case "concat":
      return (Array.isArray(args) ? args : []).map((item) => pyStr(evaluate(item, doc, context))).join("");
    case "token": {
      const list = Array.isArray(args) ? args : [];
      if (list.length !== 3) return null;
      const text = pyStr(evaluate(list[0], doc, context));
      const parts = text.split(String(list[1]));
      const index = toInt(list[2]) ?? 0;
      return index < parts.length ? parts[index] : null;
    }
    default:
      return getAttribute(Array.isArray(args) ? args : [], doc, context);
  }
}

function getProperty(args: unknown[], doc: ToscaDoc): unknown {
  const node = nodeTemplates(doc).find(([name]) => name === args[0])?.[1];
  if (!node || args.length < 2) return null;
  if (args.length >= 3 && typeof args[1] === "string") {
    const fromCap = capabilityProperties(node, args[1], doc)[String(args[2])];
    if (fromCap !== undefined) return fromCap;
  }
  const props = isMap(node.properties)
    ? (resolveInputs(node.properties, doc) as Record<string, unknown>)
    : {};
  return props[String(args[1])] ?? null;
}

const COMPUTE_CAPABILITIES = new Set(["host", "endpoint", "os", "scalable", "binding", "feature"]);

/** `get_attribute: [node, (capability)?, attribute, (index)?, ...]` for the attributes IM computes from VMs. */
function getAttribute(args: unknown[], doc: ToscaDoc, context: OutputContext): unknown {
  if (args.length < 2) return null;
  const nodes = new Map(nodeTemplates(doc));
  const nodeName = String(args[0]);
  const node = nodes.get(nodeName);
  if (!node) return null;
  let rest = args.slice(1);
  const caps = isMap(node.capabilities) ? Object.keys(node.capabilities) : [];
  let capability: string | undefined;
  if (typeof rest[0] === "string" && (COMPUTE_CAPABILITIES.has(rest[0]) || caps.includes(rest[0]))) {
    if (rest.length < 2) return null;
    capability = rest[0];
    rest = rest.slice(1);
  }
  const attribute = String(rest[0]);
  const params = rest.slice(1);
  let index: number | undefined;
  if (params.length > 0) {
    const asInt = toInt(params[0]);
    if (asInt !== undefined) {
      index = asInt;
      params.shift();
    }
  }
  const hostName = hostSystem(nodeName, nodes);
  if (hostName === undefined) return null;
  const vms = context.vmsOf(hostName);
  if (vms.length === 0) return null;
  if (index !== undefined && vms.length < index) index = vms.length - 1;
  const vm = vms[0];
  const indigo = typeOf(node) === "tosca.nodes.indigo.Compute";
  const perVm = (values: unknown[]) => {
    if (index === undefined) return values;
    if (index >= values.length || index < -values.length) throw new Error("list index out of range");
    return values.at(index);
  };
  switch (attribute) {
    case "tosca_id":
      return vm.cloudVmId;
    case "tosca_name":
      return nodeName;
    case "private_address":
      return indigo ? perVm(vms.map((v) => v.privateIp)) : vm.privateIp;
    case "public_address":
      return indigo ? perVm(vms.map((v) => v.publicIp)) : vm.publicIp;
    case "ip_address":
      return vm.publicIp ?? vm.privateIp;
    case "ctxt_log":
      return indigo ? vm.ctxtLog : null;
    case "ansible_output":
      return indigo && vm.ansible ? objectValues(vm.ansible, params) : null;
    case "credential":
      if (capability === "endpoint" && indigo) {
        return perVm(
          vms.map(() =>
            objectValues({ user: "username", token: "password", token_type: "password" }, params),
          ),
        );
      }
      return null;
    default:
      return null;
  }
}

function hostSystem(
  name: string,
  nodes: Map<string, Record<string, unknown>>,
  depth = 0,
): string | undefined {
  const node = nodes.get(name);
  if (!node || depth > 20) return undefined;
  if (isComputeType(typeOf(node))) return name;
  const target = requirementTarget(node, "host");
  return target === undefined ? undefined : hostSystem(target, nodes, depth + 1);
}

/** IM's `_get_object_values`: walk nested keys; a missing key gives null. */
function objectValues(value: unknown, params: unknown[]): unknown {
  let current: unknown = value;
  for (const param of params) {
    if (isMap(current) && String(param) in current) current = current[String(param)];
    else return null;
  }
  return current ?? null;
}
