/**
 * Application `spec.manifest` (api.md §8.3): a list of Kubernetes objects. Krake only checks that each one
 * names itself; we also reject malformed identity fields and duplicates, which Krake's controller would
 * otherwise apply twice or fail on while deploying.
 */
import type { Issue } from "../schema.js";
import { depthIssue, isPlainObject, own, plain, quote, tooDeep } from "./util.js";

export { checkObserverSchema } from "./observer-schema.js";

/** Krake's message suffix: the resource's position, and its name when it has one. */
function where(index: number, name: unknown): string {
  const at = ` at index ${index}`;
  return typeof name === "string" && name !== "" ? `${at} (metadata.name: ${quote(name)})` : at;
}

function notFound(field: string, index: number, name: unknown): string {
  return `Field '${field}' not found in resource${where(index, name)}`;
}

function checkItem(item: unknown, i: number, issues: Issue[]): void {
  if (!isPlainObject(item)) {
    issues.push({ path: [i], message: `The resource at index ${i} must be an object.` });
    return;
  }
  const metadata = own(item, "metadata");
  const hasMetadata = metadata !== undefined && metadata !== null;
  const name = isPlainObject(metadata) ? own(metadata, "name") : undefined;

  // Krake's order: the name first, then apiVersion, kind and metadata.
  if (hasMetadata && !isPlainObject(metadata)) {
    issues.push({
      path: [i, "metadata"],
      message: `Field 'metadata' must be an object in resource${where(i, undefined)}`,
    });
  } else if (name === undefined || name === null || name === "") {
    issues.push({ path: [i, "metadata", "name"], message: notFound("metadata.name", i, name) });
  } else if (typeof name !== "string") {
    issues.push({
      path: [i, "metadata", "name"],
      message: `Field 'metadata.name' must be a string in resource${where(i, undefined)}`,
    });
  }
  for (const field of ["apiVersion", "kind"]) {
    const value = own(item, field);
    if (value === undefined) issues.push({ path: [i, field], message: notFound(field, i, name) });
    else if (typeof value !== "string" || value === "") {
      issues.push({
        path: [i, field],
        message: `Field '${field}' must be a non-empty string in resource${where(i, name)}`,
      });
    }
  }
  if (!hasMetadata) issues.push({ path: [i, "metadata"], message: notFound("metadata", i, name) });
  const namespace = isPlainObject(metadata) ? own(metadata, "namespace") : undefined;
  if (namespace !== undefined && namespace !== null && typeof namespace !== "string") {
    issues.push({
      path: [i, "metadata", "namespace"],
      message: `Field 'metadata.namespace' must be a string in resource${where(i, name)}`,
    });
  }
  const deep = tooDeep(item);
  if (deep) issues.push(depthIssue([i, ...deep], `The resource${where(i, name)}`));
}

/** The identity of a well-formed resource; `null` and a missing namespace are the same one. */
function identity(item: Record<string, unknown>): string {
  const metadata = item.metadata as Record<string, unknown>;
  return JSON.stringify([item.apiVersion, item.kind, metadata.namespace ?? null, metadata.name]);
}

export function checkManifest(items: object[]): Issue[] {
  if (!Array.isArray(items)) return [{ path: [], message: "Not a valid list." }];
  const issues: Issue[] = [];
  const firstIndex = new Map<string, number>();
  items.forEach((item, i) => {
    const before = issues.length;
    checkItem(item, i, issues);
    if (issues.length > before) return;
    const key = identity(item as Record<string, unknown>);
    const first = firstIndex.get(key);
    if (first === undefined) {
      firstIndex.set(key, i);
      return;
    }
    const r = item as Record<string, any>;
    issues.push({
      path: [i],
      message:
        `Duplicate resource at index ${i}: ${plain(r.kind)} ${quote(r.metadata.name)} (apiVersion ${quote(r.apiVersion)}, ` +
        `namespace ${r.metadata.namespace == null ? "not set" : quote(r.metadata.namespace)}) is already defined at index ${first}`,
    });
  });
  return issues;
}
