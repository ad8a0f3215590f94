/**
 * Application `spec.observer_schema` (api.md §8.3, controllers.md §7.2): which fields of each manifest
 * resource the observer watches. Leaves are null, every list ends with a control dict giving the allowed
 * length, and every entry names a resource of the manifest. Krake's messages are kept, except that its
 * `'None'` reads `null` here. Krake answers these errors with an internal error; we report them as
 * validation issues with the path of the offending node.
 */
import type { Issue } from "../schema.js";
import { MAX_DEPTH, depthIssue, isPlainObject, own, quote, type Path } from "./util.js";

const MIN = "observer_schema_list_min_length";
const MAX = "observer_schema_list_max_length";

class Walk {
  readonly issues: Issue[] = [];
  private tooDeep = false;

  add(path: Path, message: string): void {
    this.issues.push({ path, message });
  }

  /** A nested value of a dict (`key` names it) or of a list (`key` is null). */
  value(value: unknown, path: Path, depth: number, key: string | null): void {
    if (isPlainObject(value)) this.dict(value, path, depth + 1);
    else if (Array.isArray(value)) this.list(value, path, depth + 1);
    else if (value !== null) {
      this.add(path, key === null ? "Element of a list is not null" : `Value of ${quote(key)} is not null`);
    }
  }

  /** Containers already walked: JSON bodies are trees, but a caller's object graph may share or loop. */
  private readonly seen = new Set<object>();

  private deep(node: object, path: Path, depth: number): boolean {
    if (this.seen.has(node)) return true;
    this.seen.add(node);
    if (depth <= MAX_DEPTH) return false;
    if (!this.tooDeep) this.add(path, depthIssue(path, "The observer schema").message);
    this.tooDeep = true;
    return true;
  }

  dict(node: Record<string, unknown>, path: Path, depth: number, skip: readonly string[] = []): void {
    if (this.deep(node, path, depth)) return;
    for (const [key, value] of Object.entries(node)) {
      if (!skip.includes(key)) this.value(value, [...path, key], depth, key);
    }
  }

  list(node: unknown[], path: Path, depth: number): void {
    if (this.deep(node, path, depth)) return;
    const control = node[node.length - 1];
    if (!isPlainObject(control)) {
      this.add(path, "Special list control dictionary not found");
      return;
    }
    this.control(control, node.length - 1, path);
    node.slice(0, -1).forEach((element, i) => this.value(element, [...path, i], depth, null));
  }

  private control(control: Record<string, unknown>, observed: number, path: Path): void {
    const controlPath = [...path, observed];
    if (!Object.hasOwn(control, MIN) || !Object.hasOwn(control, MAX)) {
      this.add(controlPath, "Special list control dictionary malformed");
      return;
    }
    const bounds: number[] = [];
    for (const field of [MIN, MAX]) {
      const v = control[field];
      if (typeof v !== "number" || !Number.isSafeInteger(v))
        this.add([...controlPath, field], `${field} should be an integer`);
      else if (v < 0) this.add([...controlPath, field], `Invalid value for ${field}`);
      else bounds.push(v);
    }
    if (bounds.length < 2) return;
    const [min, max] = bounds;
    // A maximum of 0 means "no upper bound".
    if (max === 0) return;
    if (max < min) this.add([...controlPath, MAX], `${MAX} is inferior to ${MIN}`);
    else if (max < observed)
      this.add([...controlPath, MAX], `${MAX} is inferior to the number of observed elements`);
  }
}

function isMissing(v: unknown): boolean {
  return v === undefined || v === null;
}

function checkEntry(walk: Walk, entry: unknown, i: number): boolean {
  if (!isPlainObject(entry)) {
    walk.add([i], `The observed resource at index ${i} must be an object`);
    return false;
  }
  let ok = true;
  for (const key of ["apiVersion", "kind"]) {
    if (isMissing(own(entry, key))) {
      walk.add([i, key], `${key} is not defined`);
      ok = false;
    }
  }
  const metadata = own(entry, "metadata");
  if (isMissing(metadata)) {
    walk.add([i, "metadata"], "metadata dictionary is not defined");
    ok = false;
  } else if (!isPlainObject(metadata)) {
    walk.add([i, "metadata"], "metadata must be a dictionary");
    ok = false;
  } else {
    if (isMissing(own(metadata, "name"))) {
      walk.add([i, "metadata", "name"], "name is not defined in the metadata dictionary");
      ok = false;
    }
    walk.dict(metadata, [i, "metadata"], 2, ["name"]);
  }
  walk.dict(entry, [i], 1, ["apiVersion", "kind", "metadata"]);
  return ok;
}

function inManifest(entry: Record<string, any>, manifest: unknown[]): boolean {
  return manifest.some(
    (r) =>
      isPlainObject(r) &&
      r.apiVersion === entry.apiVersion &&
      r.kind === entry.kind &&
      isPlainObject(r.metadata) &&
      r.metadata.name === entry.metadata.name,
  );
}

/**
 * The manifest is needed to match entries to resources. Krake skips the whole check while the manifest is
 * empty (a TOSCA or CSAR application before translation); we still check the structure then, and match
 * once there is a manifest.
 */
export function checkObserverSchema(schema: object[], manifest: object[]): Issue[] {
  if (!Array.isArray(schema)) return [{ path: [], message: "Not a valid list." }];
  const walk = new Walk();
  const resources = Array.isArray(manifest) ? manifest : [];
  schema.forEach((entry, i) => {
    const before = walk.issues.length;
    const identified = checkEntry(walk, entry, i);
    if (
      identified &&
      walk.issues.length === before &&
      resources.length > 0 &&
      !inManifest(entry as any, resources)
    ) {
      walk.add([i], "Observed resource must be in manifest");
    }
  });
  return walk.issues;
}
