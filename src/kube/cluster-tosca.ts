/**
 * What automation reads from and writes into a cluster's TOSCA template: the worker-count input, the size of
 * one worker VM, and input values set for a cluster created from a template. Only inputs' defaults are
 * resolved (Krake's templates have no other inputs); remote `imports` are never fetched.
 */
import { cpuMillis } from "./quantity.js";

type Doc = Record<string, unknown>;

const isMap = (v: unknown): v is Doc => typeof v === "object" && v !== null && !Array.isArray(v);

function topology(tosca: Doc): Doc {
  return isMap(tosca.topology_template) ? tosca.topology_template : {};
}

export function inputsOf(tosca: Doc): Doc {
  const inputs = topology(tosca).inputs;
  return isMap(inputs) ? inputs : {};
}

function nodeTemplate(tosca: Doc, name: string): Doc | undefined {
  const templates = topology(tosca).node_templates;
  const node = isMap(templates) ? templates[name] : undefined;
  return isMap(node) ? node : undefined;
}

/** `{get_input: x}` → x's default (recursively), anything else as it is. */
function resolve(value: unknown, inputs: Doc): unknown {
  if (isMap(value) && Object.keys(value).length === 1 && typeof value.get_input === "string") {
    const input = inputs[value.get_input];
    return isMap(input) ? resolve(input.default, inputs) : undefined;
  }
  return value;
}

/** The value of an input: its default. */
export function inputValue(tosca: Doc, name: string): unknown {
  const input = inputsOf(tosca)[name];
  return isMap(input) ? input.default : undefined;
}

/** A copy of the template whose inputs default to `values` (IM takes the defaults: Krake sends no inputs). */
export function withInputs(tosca: Doc, values: Doc): Doc {
  const copy = structuredClone(tosca);
  const inputs = inputsOf(copy);
  for (const [name, value] of Object.entries(values)) {
    const input = inputs[name];
    if (isMap(input)) input.default = value;
    else inputs[name] = { type: typeof value === "number" ? "integer" : "string", default: value };
  }
  if (Object.keys(values).length > 0) (copy.topology_template as Doc).inputs = inputs;
  return copy;
}

/** Whether `system`'s `scalable.count` is `{get_input: input}`: the pool the worker input really drives. */
export function inputDrivesSystem(tosca: Doc, input: string, system: string): boolean {
  const node = nodeTemplate(tosca, system);
  const caps = isMap(node?.capabilities) ? node.capabilities : {};
  const scalable = isMap(caps.scalable) ? caps.scalable : {};
  const props = isMap(scalable.properties) ? scalable.properties : {};
  return isMap(props.count) && props.count.get_input === input;
}

/** The worker count the template asks for (the input's default), or null when it is not a whole number. */
export function workerCount(tosca: Doc, input: string): number | null {
  const raw = inputValue(tosca, input);
  const n = typeof raw === "string" ? Number(raw) : raw;
  return typeof n === "number" && Number.isInteger(n) && n >= 0 ? n : null;
}

/** TOSCA scalar-unit.size in bytes, decimal units as IM converts them (`4 GB` → 4e9, `4 GiB` → 4·2³⁰). */
export function sizeInBytes(value: unknown): number | null {
  if (typeof value === "number") return value;
  if (typeof value !== "string") return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)?\s*$/i.exec(value);
  if (!m) return null;
  const unit = (m[2] ?? "B").toUpperCase();
  const scale: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KIB: 2 ** 10,
    MIB: 2 ** 20,
    GIB: 2 ** 30,
    TIB: 2 ** 40,
  };
  return Number(m[1]) * (scale[unit] ?? NaN);
}

/** cpu and memory of one VM of `system`, from its `host` capability (inputs resolved); null when not given. */
export function systemShape(tosca: Doc, system: string): { cpuMillis: number; memoryBytes: number } | null {
  const node = nodeTemplate(tosca, system);
  const caps = isMap(node?.capabilities) ? node.capabilities : {};
  const host = isMap(caps.host) ? caps.host : {};
  const props = isMap(host.properties) ? host.properties : {};
  const inputs = inputsOf(tosca);
  const cpus = Number(resolve(props.num_cpus, inputs));
  const memory = sizeInBytes(resolve(props.mem_size, inputs));
  if (!Number.isFinite(cpus) || cpus <= 0 || memory === null || !Number.isFinite(memory) || memory <= 0)
    return null;
  return { cpuMillis: cpuMillis(cpus), memoryBytes: memory };
}
