/**
 * Loads a JSON body against a resource schema with Krake's (marshmallow's) semantics: unknown keys are
 * dropped at every level, omitted fields get their defaults, every failure is collected with its field
 * path and Krake's message wording. The result is a fresh object; the input is not modified.
 */
import { Kind, type TSchema } from "@sinclair/typebox";
import { Check, type FieldOptions, type Issue } from "./schema.js";
import { normalizeDatetime } from "./time.js";

export type LoadMode =
  /** Read-only and subresource fields are excluded (ignored if sent). */
  | "create"
  /** The full schema: read-only fields marked x-required-on-update must be present; status may be sent. */
  | "update";

export interface LoadResult<T = any> {
  value: T;
  issues: Issue[];
}

const MISSING = "Missing data for required field.";
const NOT_NULL = "Field may not be null.";

export function load<T = any>(schema: TSchema, input: unknown, mode: LoadMode): LoadResult<T> {
  const issues: Issue[] = [];
  const value = loadValue(schema, input, [], issues, mode, true);
  return { value: value as T, issues };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function defaultOf(schema: TSchema): unknown {
  const d = (schema as FieldOptions).default;
  if (d === null || typeof d !== "object") return d ?? null;
  // Defaults are shared schema constants; every loaded object needs its own copy. Most are empty.
  if (Array.isArray(d)) return d.length === 0 ? [] : structuredClone(d);
  return Object.keys(d).length === 0 ? {} : structuredClone(d);
}

function runCheck(schema: TSchema, value: unknown, path: (string | number)[], issues: Issue[]) {
  const check = (schema as any)[Check] as ((v: unknown) => Issue[]) | undefined;
  if (!check) return;
  for (const issue of check(value)) issues.push({ path: [...path, ...issue.path], message: issue.message });
}

function loadValue(
  schema: TSchema,
  input: unknown,
  path: (string | number)[],
  issues: Issue[],
  mode: LoadMode,
  root = false,
): unknown {
  const before = issues.length;
  const out = loadShape(schema, input, path, issues, mode, root);
  // Semantic checks only make sense on a value whose shape is right.
  if (issues.length === before && out !== null && out !== undefined) runCheck(schema, out, path, issues);
  return out;
}

function loadShape(
  schema: TSchema,
  input: unknown,
  path: (string | number)[],
  issues: Issue[],
  mode: LoadMode,
  root: boolean,
): unknown {
  const kind = (schema as any)[Kind] as string;
  if (input === null && kind !== "Null" && kind !== "Union" && kind !== "Unknown" && kind !== "Any") {
    issues.push({ path, message: NOT_NULL });
    return null;
  }
  switch (kind) {
    case "Object":
      return loadObject(schema, input, path, issues, mode, root);
    case "String": {
      if (typeof input !== "string") {
        issues.push({ path, message: (schema as any).format === "date-time" ? "Not a valid datetime." : "Not a valid string." });
        return null;
      }
      if ((schema as any).format === "date-time") {
        const normalized = normalizeDatetime(input);
        if (normalized === null) issues.push({ path, message: "Not a valid datetime." });
        return normalized;
      }
      return input;
    }
    case "Number": {
      const n = toNumber(input);
      if (n === null) issues.push({ path, message: "Not a valid number." });
      return n;
    }
    case "Integer": {
      const n = toNumber(input);
      if (n === null || !Number.isSafeInteger(n)) {
        issues.push({ path, message: "Not a valid integer." });
        return null;
      }
      return n;
    }
    case "Boolean": {
      const b = toBoolean(input);
      if (b === null) issues.push({ path, message: "Not a valid boolean." });
      return b;
    }
    case "Array": {
      if (!Array.isArray(input)) {
        issues.push({ path, message: "Not a valid list." });
        return null;
      }
      const items = (schema as any).items as TSchema;
      return input.map((item, i) => loadValue(items, item, [...path, i], issues, mode));
    }
    case "Record": {
      if (!isPlainObject(input)) {
        issues.push({ path, message: "Not a valid mapping type." });
        return null;
      }
      const valueSchema = Object.values((schema as any).patternProperties ?? {})[0] as TSchema | undefined;
      const valueKind = valueSchema ? ((valueSchema as any)[Kind] as string) : "Unknown";
      if (!valueSchema || valueKind === "Unknown" || valueKind === "Any") return input;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(input)) out[k] = loadValue(valueSchema, v, [...path, k], issues, mode);
      return out;
    }
    case "Literal": {
      const expected = (schema as any).const;
      if (input !== expected) issues.push({ path, message: `Must be equal to ${expected}.` });
      return expected;
    }
    case "Null":
      if (input !== null) issues.push({ path, message: "Field must be null." });
      return null;
    case "Union":
      return loadUnion(schema, input, path, issues, mode);
    case "Unknown":
    case "Any":
      return input;
    default:
      throw new Error(`schema kind ${kind} is not supported by the loader (at ${path.join(".")})`);
  }
}

function loadObject(
  schema: TSchema,
  input: unknown,
  path: (string | number)[],
  issues: Issue[],
  mode: LoadMode,
  root: boolean,
): unknown {
  if (!isPlainObject(input)) {
    issues.push({ path, message: root ? "Invalid input type." : "Invalid input type." });
    return null;
  }
  const out: Record<string, unknown> = {};
  const properties = (schema as any).properties as Record<string, TSchema & FieldOptions>;
  for (const [name, prop] of Object.entries(properties)) {
    const serverOwned = prop.readOnly || prop["x-subresource"];
    if (mode === "create" && serverOwned) {
      out[name] = defaultOf(prop);
      continue;
    }
    if (!(name in input) || input[name] === undefined) {
      const requiredHere = mode === "update" && prop["x-required-on-update"];
      if (requiredHere || (!("default" in prop) && !serverOwned)) {
        issues.push({ path: [...path, name], message: MISSING });
        out[name] = null;
      } else {
        out[name] = defaultOf(prop);
      }
      continue;
    }
    if (input[name] === null && mode === "update" && prop["x-required-on-update"]) {
      issues.push({ path: [...path, name], message: NOT_NULL });
      out[name] = null;
      continue;
    }
    out[name] = loadValue(prop, input[name], [...path, name], issues, mode);
  }
  return out;
}

function loadUnion(
  schema: TSchema,
  input: unknown,
  path: (string | number)[],
  issues: Issue[],
  mode: LoadMode,
): unknown {
  const members = (schema as any).anyOf as TSchema[];
  const nullable = members.some((m) => (m as any)[Kind] === "Null");
  if (input === null) {
    if (!nullable) issues.push({ path, message: NOT_NULL });
    return null;
  }
  const variants = members.filter((m) => (m as any)[Kind] !== "Null");
  const polymorphic = (schema as any)["x-polymorphic"] as string[] | undefined;
  if (polymorphic) return loadPolymorphic(variants, polymorphic, input, path, issues, mode);
  if ((schema as any)["x-enum"]) {
    const names = variants.map((v) => (v as any).const as string);
    if (typeof input === "string" && names.includes(input)) return input;
    issues.push({ path, message: `Invalid enum member ${typeof input === "string" ? input : JSON.stringify(input)}` });
    return null;
  }
  if (variants.length === 1) return loadValue(variants[0], input, path, issues, mode);
  // An untagged union (e.g. TOSCA as a dict or a URL string): the first variant that loads cleanly wins.
  let firstIssues: Issue[] | null = null;
  for (const variant of variants) {
    const attempt: Issue[] = [];
    const value = loadValue(variant, input, path, attempt, mode);
    if (attempt.length === 0) return value;
    firstIssues ??= attempt;
  }
  issues.push(...(firstIssues ?? [{ path, message: "Invalid value." }]));
  return null;
}

function loadPolymorphic(
  variants: TSchema[],
  names: string[],
  input: unknown,
  path: (string | number)[],
  issues: Issue[],
  mode: LoadMode,
): unknown {
  if (!isPlainObject(input)) {
    issues.push({ path, message: "Invalid input type." });
    return null;
  }
  const type = input.type;
  if (type === undefined || type === null) {
    issues.push({ path: [...path, "type"], message: MISSING });
    return null;
  }
  const index = typeof type === "string" ? names.indexOf(type) : -1;
  if (index < 0) {
    issues.push({ path: [...path, "type"], message: `Unknown type '${String(type)}'` });
    return null;
  }
  if (input[type as string] === undefined || input[type as string] === null) {
    issues.push({ path: [...path, type as string], message: "Field is required" });
    return null;
  }
  return loadValue(variants[index], input, path, issues, mode);
}

function toNumber(input: unknown): number | null {
  if (typeof input === "number") return Number.isFinite(input) ? input : null;
  // marshmallow accepts numeric strings; Krake's clients rely on it for flags passed as text.
  if (typeof input === "string" && input.trim() !== "" && Number.isFinite(Number(input))) return Number(input);
  return null;
}

const TRUTHY = new Set(["true", "True", "TRUE", "1", "yes", "Yes", "on", "On", "t", "T", "y", "Y"]);
const FALSY = new Set(["false", "False", "FALSE", "0", "no", "No", "off", "Off", "f", "F", "n", "N"]);

function toBoolean(input: unknown): boolean | null {
  if (typeof input === "boolean") return input;
  if (input === 1) return true;
  if (input === 0) return false;
  if (typeof input === "string") {
    if (TRUTHY.has(input)) return true;
    if (FALSY.has(input)) return false;
  }
  return null;
}
