/**
 * The part of a cluster TOSCA that scaling acts on: per Compute node, how many instances it asks for and which
 * VMs a scale-down should remove. `get_input` is resolved against the template's input defaults (the only
 * inputs Krake's templates have); remote `imports` are never looked at.
 */

export interface ScalableNode {
  name: string;
  /** Requested instances (`scalable.count`, else `default_instances`, else 1). */
  instances: number;
  /** `scalable.removal_list` resolved to strings; empty when absent. */
  removalList: string[];
}

type Doc = Record<string, unknown>;

function isMap(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Resolves `{get_input: name}` to the input's default, recursively in lists. */
function resolve(value: unknown, inputs: Doc): unknown {
  if (isMap(value) && "get_input" in value && Object.keys(value).length === 1) {
    const name = value.get_input;
    const input = typeof name === "string" ? inputs[name] : undefined;
    return isMap(input) ? resolve(input.default, inputs) : undefined;
  }
  if (Array.isArray(value)) return value.map((v) => resolve(v, inputs));
  return value;
}

function isCompute(node: Doc): boolean {
  return typeof node.type === "string" && /(^|\.)Compute$/.test(node.type);
}

/** The Compute nodes of a template with their resolved scaling properties, in template order. */
export function scalableNodes(doc: Doc): ScalableNode[] {
  const topology = isMap(doc.topology_template) ? doc.topology_template : {};
  const inputs = isMap(topology.inputs) ? topology.inputs : {};
  const templates = isMap(topology.node_templates) ? topology.node_templates : {};
  const nodes: ScalableNode[] = [];
  for (const [name, node] of Object.entries(templates)) {
    if (!isMap(node) || !isCompute(node)) continue;
    const caps = isMap(node.capabilities) ? node.capabilities : {};
    const scalable = isMap(caps.scalable) ? caps.scalable : {};
    const props = isMap(scalable.properties) ? scalable.properties : {};
    const count = resolve(props.count, inputs) ?? resolve(props.default_instances, inputs);
    const parsed = typeof count === "string" ? Number.parseInt(count, 10) : count;
    const instances = typeof parsed === "number" && Number.isFinite(parsed) ? parsed : 1;
    const list = resolve(props.removal_list, inputs);
    nodes.push({
      name,
      instances,
      removalList: Array.isArray(list) ? list.filter((v) => v !== null && v !== undefined).map(String) : [],
    });
  }
  return nodes;
}

/**
 * A copy of `doc` in which node `name` removes exactly `vmIds` on scale-down. IM merges lists index by index,
 * so these entries overwrite a stale list IM kept from an earlier update.
 */
export function withRemovalList(doc: Doc, name: string, vmIds: readonly string[]): Doc {
  const copy = structuredClone(doc);
  const node = (copy.topology_template as Doc).node_templates as Record<string, Doc>;
  const target = node[name]!;
  const caps = (target.capabilities ??= {}) as Doc;
  const scalable = (caps.scalable ??= {}) as Doc;
  const props = (scalable.properties ??= {}) as Doc;
  props.removal_list = [...vmIds];
  return copy;
}
