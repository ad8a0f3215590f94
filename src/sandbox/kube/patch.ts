/**
 * The three patch formats of PATCH besides apply: JSON merge patch (RFC 7386), strategic merge patch
 * (lists with a patchMergeKey merge by it; `$patch: delete|replace` and `$setElementOrder`/`$retainKeys`
 * directives are understood, `$deleteFromPrimitiveList` too) and JSON patch (RFC 6902).
 */
import { canonical, child, deepEqual, isObject, type Schema } from "./fields.js";
import { StatusError } from "./status.js";

/** RFC 7386: objects merge recursively, null deletes, everything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Strategic merge patch, with the merge keys of `schema`. */
export function strategicMergePatch(target: unknown, patch: unknown, schema: Schema | undefined): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const rest = { ...patch };
    delete rest.$patch;
    return stripDirectives(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$")) continue;
    if (k.startsWith("$setElementOrder/")) continue;
    const s = child(schema, k);
    if (v === null) {
      delete out[k];
      continue;
    }
    if (Array.isArray(v)) {
      out[k] = mergeList(out[k], v, s, patch[`$deleteFromPrimitiveList/${k}`]);
      continue;
    }
    if (isObject(v) && !s?.atomic) {
      const merged = strategicMergePatch(out[k], v, s);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
      continue;
    }
    out[k] = structuredClone(v);
  }
  for (const [k, v] of Object.entries(patch)) {
    if (!k.startsWith("$deleteFromPrimitiveList/") || !Array.isArray(v)) continue;
    const field = k.slice("$deleteFromPrimitiveList/".length);
    if (Array.isArray(out[field]) && !(field in patch)) {
      const drop = new Set(v.map(canonical));
      out[field] = (out[field] as unknown[]).filter((x) => !drop.has(canonical(x)));
    }
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith("$")) out[k] = stripDirectives(x);
  return out;
}

function mergeList(
  target: unknown,
  patch: unknown[],
  s: Schema | undefined,
  deleteFromPrimitive: unknown,
): unknown[] {
  const current = Array.isArray(target) ? target : [];
  // `$patch: replace` as an element replaces the whole list with the other elements.
  if (patch.some((el) => isObject(el) && el.$patch === "replace"))
    return patch.filter((el) => !(isObject(el) && el.$patch === "replace")).map(stripDirectives);
  if (s?.mergeScalars) {
    const out = [...current];
    const seen = new Set(out.map(canonical));
    for (const el of patch)
      if (!seen.has(canonical(el))) {
        seen.add(canonical(el));
        out.push(structuredClone(el));
      }
    if (Array.isArray(deleteFromPrimitive)) {
      const drop = new Set(deleteFromPrimitive.map(canonical));
      return out.filter((x) => !drop.has(canonical(x)));
    }
    return out;
  }
  const key = s?.mergeKey;
  if (!key) return patch.map(stripDirectives);
  // Elements of the patch first, in the patch's order; then the elements only the target has.
  const byKey = new Map<string, unknown>();
  for (const el of current) if (isObject(el)) byKey.set(canonical(el[key]), el);
  const out: unknown[] = [];
  const used = new Set<string>();
  for (const el of patch) {
    if (!isObject(el)) continue;
    const id = canonical(el[key]);
    used.add(id);
    if (el.$patch === "delete") continue;
    const merged = strategicMergePatch(byKey.get(id), el, s?.elem);
    if (merged !== undefined) out.push(merged);
  }
  for (const el of current) if (!(isObject(el) && used.has(canonical(el[key])))) out.push(el);
  return out;
}

// --- JSON patch ---------------------------------------------------------------------------------------------

function parsePointer(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw invalidPatch(`invalid JSON pointer ${JSON.stringify(pointer)}`);
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function invalidPatch(_why: string): StatusError {
  // kube-apiserver hides the reason behind its generic message.
  return new StatusError(
    422,
    "Invalid",
    "the server rejected our request due to an error in our request",
    {},
  );
}

function cloneContainer(v: unknown): any {
  return Array.isArray(v) ? [...v] : isObject(v) ? { ...v } : v;
}

/** Returns the document with `value` set at / removed from / read at the path (copying along the path). */
function at(doc: unknown, path: string[], op: (parent: any, key: string) => void): unknown {
  if (path.length === 0) throw invalidPatch("the root cannot be the target");
  const root = cloneContainer(doc);
  let node: any = root;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i];
    const next = Array.isArray(node) ? node[Number(k)] : isObject(node) ? node[k] : undefined;
    if (next === undefined || next === null || typeof next !== "object")
      throw invalidPatch(`no path ${path.join("/")}`);
    const copy = cloneContainer(next);
    if (Array.isArray(node)) node[Number(k)] = copy;
    else node[k] = copy;
    node = copy;
  }
  op(node, path[path.length - 1]);
  return root;
}

function read(doc: unknown, path: string[]): unknown {
  let node: any = doc;
  for (const k of path) {
    if (Array.isArray(node)) node = node[Number(k)];
    else if (isObject(node)) node = node[k];
    else return undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

function index(arr: unknown[], k: string, forAdd: boolean): number {
  if (forAdd && k === "-") return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(k)) throw invalidPatch(`bad index ${k}`);
  const i = Number(k);
  if (i > arr.length || (!forAdd && i === arr.length)) throw invalidPatch(`index ${k} out of range`);
  return i;
}

export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new StatusError(500, "", "Invalid JSON Patch");
  let out = doc;
  for (const raw of ops) {
    if (!isObject(raw) || typeof raw.op !== "string" || typeof raw.path !== "string")
      throw new StatusError(500, "", "Invalid JSON Patch");
    const path = parsePointer(raw.path);
    const add = (d: unknown, p: string[], value: unknown) =>
      at(d, p, (parent, k) => {
        if (Array.isArray(parent)) parent.splice(index(parent, k, true), 0, structuredClone(value));
        else if (isObject(parent)) parent[k] = structuredClone(value);
        else throw invalidPatch("no parent");
      });
    const remove = (d: unknown, p: string[]) =>
      at(d, p, (parent, k) => {
        if (Array.isArray(parent)) parent.splice(index(parent, k, false), 1);
        else if (isObject(parent) && k in parent) delete parent[k];
        else throw invalidPatch(`no path ${raw.path}`);
      });
    switch (raw.op) {
      case "add":
        out = add(out, path, raw.value);
        break;
      case "remove":
        out = remove(out, path);
        break;
      case "replace":
        if (read(out, path) === undefined) throw invalidPatch(`no path ${raw.path}`);
        out = add(remove(out, path), path, raw.value);
        break;
      case "move":
      case "copy": {
        const from = parsePointer(String(raw.from ?? ""));
        const value = read(out, from);
        if (value === undefined) throw invalidPatch(`no path ${raw.from}`);
        if (raw.op === "move") out = remove(out, from);
        out = add(out, path, value);
        break;
      }
      case "test":
        if (!deepEqual(read(out, path), raw.value)) throw invalidPatch("test failed");
        break;
      default:
        throw new StatusError(500, "", `Unexpected kind: ${raw.op}`);
    }
  }
  return out;
}
