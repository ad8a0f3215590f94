/** Small helpers shared by the validators. Every helper tolerates any input: they run on request bodies. */
import type { Issue } from "../schema.js";

export type Path = (string | number)[];

/** Deepest nesting accepted in free-form documents (manifests, observer schemas, TOSCA). */
export const MAX_DEPTH = 100;

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Own property lookup: request bodies may carry keys such as `__proto__` or `constructor`. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

const QUOTE_LIMIT = 80;

/**
 * Quotes a value for a message the way Krake's Python repr does for strings ('x'), so messages stay
 * recognisable, but cut to a readable length and with control characters escaped: the value comes from
 * the request and may be huge or contain line breaks.
 */
export function quote(value: unknown): string {
  if (typeof value !== "string") {
    let text: string;
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
    return text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}...` : text;
  }
  const cut = value.length > QUOTE_LIMIT ? value.slice(0, QUOTE_LIMIT) : value;
  const q = cut.includes("'") && !cut.includes('"') ? '"' : "'";
  let out = "";
  for (const ch of cut) {
    const code = ch.codePointAt(0)!;
    if (ch === "\\") out += "\\\\";
    else if (ch === q) out += `\\${q}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x2028 && code <= 0x2029) out += `\\u${code.toString(16)}`;
    else out += ch;
  }
  return `${q}${out}${q}${value.length > QUOTE_LIMIT ? "..." : ""}`;
}

/**
 * A value as Krake's `%s` formatting shows it (no quotes), unless it is long or holds characters that would
 * garble the message; then it is quoted like {@link quote}.
 */
export function plain(value: unknown): string {
  if (
    typeof value === "string" &&
    value.length > 0 &&
    value.length <= QUOTE_LIMIT &&
    /^[\x21-\x7e]+$/.test(value)
  ) {
    return value;
  }
  return quote(value);
}

/** A word for the JSON type of a value, for "expected an object, got a list" messages. */
export function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  switch (typeof v) {
    case "object":
      return "an object";
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    default:
      return typeof v;
  }
}

/**
 * The path of the first container nested deeper than `maxDepth` levels below `root` (the root is level 0),
 * or null. Iterative, and each container is visited once, so shared or cyclic references (possible when a
 * caller hands in YAML with aliases) cannot make it loop or blow up.
 */
export function tooDeep(root: unknown, maxDepth = MAX_DEPTH): Path | null {
  if (typeof root !== "object" || root === null) return null;
  const seen = new Set<object>();
  const stack: { value: object; path: Path }[] = [{ value: root, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    if (path.length > maxDepth) return path;
    const entries: [string | number, unknown][] = Array.isArray(value)
      ? value.map((v, i) => [i, v])
      : Object.entries(value as Record<string, unknown>);
    for (const [k, child] of entries) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, path: [...path, k] });
    }
  }
  return null;
}

export function depthIssue(path: Path, what: string, maxDepth = MAX_DEPTH): Issue {
  return { path, message: `${what} is nested too deeply (more than ${maxDepth} levels).` };
}

/** Runs a check and turns an unexpected exception into an issue: check functions must never throw. */
export function guarded(what: string, check: () => Issue[]): Issue[] {
  try {
    return check();
  } catch {
    return [{ path: [], message: `${what} could not be validated.` }];
  }
}
