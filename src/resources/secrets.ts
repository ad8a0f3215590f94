/**
 * Secret fields, declared per kind (`KindDef.secrets`). The one declaration drives what the API hides from
 * readers without the `<plural>/secrets` permission, what a PUT carrying the marker keeps, and what `rok`
 * tables never print.
 *
 * A secret path is a dot path into the object; `*` stands for every element of a list or every key of a
 * map, e.g. `spec.kubeconfig.users.*.user.token`, and `*[kind=Secret]` only the elements of that kind. The value at the end of a path is a secret whatever its
 * shape: a string (a password) or a whole subtree (a kubeconfig `exec` block).
 */
import type { Issue } from "./schema.js";

/** A dot path; `*` matches every list element or map key, `*[field=value]` only those whose field is value. */
export type SecretPath = string;

/** What a reader without permission sees in place of every secret value, and what a PUT may send back. */
export const SECRET_MARKER = "<redacted>";

type Segment = string | number;

/** `*[field=value]`: the elements (or map values) whose `field` is `value`, e.g. `*[kind=Secret]`. */
const FILTER = /^\*\[([^=\]]+)=([^\]]*)\]$/;

/** Calls `visit` for every non-null value at one of `paths`, with its parent, key and concrete path. */
export function forEachSecret(
  obj: unknown,
  paths: readonly SecretPath[],
  visit: (parent: any, key: Segment, path: Segment[]) => void,
): void {
  for (const p of paths) walk(obj, p.split("."), 0, [], visit);
}

function walk(
  node: unknown,
  segments: string[],
  i: number,
  at: Segment[],
  visit: (parent: any, key: Segment, path: Segment[]) => void,
): void {
  if (node === null || typeof node !== "object") return;
  const segment = segments[i];
  const filter = FILTER.exec(segment);
  const keys: Segment[] =
    segment !== "*" && !filter
      ? [segment]
      : Array.isArray(node)
        ? node.map((_, index) => index)
        : Object.keys(node);
  for (const key of keys) {
    if (!Object.prototype.hasOwnProperty.call(node, key)) continue;
    const value = (node as any)[key];
    if (value === null || value === undefined) continue;
    if (filter && (typeof value !== "object" || value[filter[1]] !== filter[2])) continue;
    if (i === segments.length - 1) visit(node, key, [...at, key]);
    else walk(value, segments, i + 1, [...at, key], visit);
  }
}

/** Replaces every secret value of `obj` (in place) with the marker; answers whether any was replaced. */
export function redactInPlace(
  obj: unknown,
  paths: readonly SecretPath[],
  marker: unknown = SECRET_MARKER,
): boolean {
  let replaced = false;
  forEachSecret(obj, paths, (parent, key) => {
    parent[key] = marker;
    replaced = true;
  });
  return replaced;
}

/** Concrete paths of `body` where a secret field holds the marker. */
export function markedSecrets(body: unknown, paths: readonly SecretPath[]): Segment[][] {
  const marked: Segment[][] = [];
  forEachSecret(body, paths, (parent, key, path) => {
    if (parent[key] === SECRET_MARKER) marked.push(path);
  });
  return marked;
}

/**
 * The stored counterpart of a path of the body. List elements that carry a `name` (kubeconfig users and
 * clusters) are matched by name, so reordering a list does not move a secret to another entry; other list
 * elements by position.
 */
export function storedAt(
  stored: unknown,
  body: unknown,
  path: readonly Segment[],
): { found: boolean; value?: unknown } {
  let s: any = stored;
  let b: any = body;
  for (const segment of path) {
    if (s === null || typeof s !== "object") return { found: false };
    if (Array.isArray(s) && typeof segment === "number") {
      const name = b?.[segment]?.name;
      s = typeof name === "string" ? s.find((e: any) => e?.name === name) : s[segment];
    } else {
      s = Object.prototype.hasOwnProperty.call(s, segment) ? s[segment] : undefined;
    }
    b = b?.[segment];
  }
  return s === undefined || s === null ? { found: false } : { found: true, value: s };
}

/** Sets the value at `path` when every node above it exists; answers whether it did. */
export function setAt(obj: any, path: readonly Segment[], value: unknown): boolean {
  let node = obj;
  for (const segment of path.slice(0, -1)) {
    node = node?.[segment];
    if (node === null || typeof node !== "object") return false;
  }
  node[path[path.length - 1]] = value;
  return true;
}

export function markerIssue(path: Segment[], nothingStored: boolean): Issue {
  return {
    path,
    message: nothingStored
      ? `Holds the redaction marker '${SECRET_MARKER}', but there is no stored value to keep: send the real value.`
      : `Holds the redaction marker '${SECRET_MARKER}': send the real value.`,
  };
}

/**
 * The GET-then-PUT rule: a secret field of `body` holding the marker takes the stored value, so a client
 * that read the redacted object and sends it back changes nothing it could not see. Modifies `body` in
 * place; answers the replaced paths and issues for markers with nothing stored to keep.
 */
export function keepStoredSecrets(
  body: unknown,
  stored: unknown,
  paths: readonly SecretPath[],
): { kept: Segment[][]; issues: Issue[] } {
  const kept: Segment[][] = [];
  const issues: Issue[] = [];
  for (const path of markedSecrets(body, paths)) {
    const counterpart = storedAt(stored, body, path);
    if (!counterpart.found) issues.push(markerIssue(path, true));
    else {
      setAt(body, path, structuredClone(counterpart.value));
      kept.push(path);
    }
  }
  return { kept, issues };
}
