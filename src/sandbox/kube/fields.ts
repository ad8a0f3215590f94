/**
 * Field ownership for server-side apply, after structured-merge-diff (the library behind kube-apiserver's
 * field manager): field sets as sets of paths, `managedFields` in FieldsV1 form, the apply merge with
 * removal of fields an applier dropped, and conflicts with other managers.
 *
 * A schema says only what differs from the defaults (maps are granular, lists atomic): associative lists
 * and their keys (`containers` by name, `ports` by containerPort+protocol), sets, atomic maps (label
 * selectors). The built-in kinds have theirs below; a CRD's comes from its OpenAPI v3 schema.
 *
 * Not modelled: per-version conversion of field sets, the cap on the number of Update managers, and the
 * exact "." membership of structs in Update entries (Go types decide it by omitempty; here every map and
 * list element created by an update is a member).
 */
import { StatusError } from "./status.js";

export interface Schema {
  /** Known fields of a struct. */
  fields?: Record<string, Schema>;
  /** The schema of every value of a map (or of fields not in `fields`). */
  values?: Schema;
  /** Replaced as a whole (x-kubernetes-map-type: atomic). */
  atomic?: boolean;
  /** Only the `fields` exist (a structural schema that does not preserve unknown fields). */
  closed?: boolean;
  /** How a list merges: atomic (default), set, or map (by `keys`). */
  list?: "atomic" | "set" | "map";
  keys?: string[];
  /** Defaults of key fields, used when an applied element omits them (container ports' protocol). */
  keyDefaults?: Record<string, unknown>;
  /** The element schema of a list. */
  elem?: Schema;
  /** Strategic merge patch: the list's patchMergeKey (lists without one are replaced). */
  mergeKey?: string;
  /** Strategic merge patch: a list of scalars that merges (patchStrategy merge). */
  mergeScalars?: boolean;
}

/** Separates the elements of a path in a path key. */
const SEP = "\u0001";

export type FieldSet = Set<string>;

export function isObject(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function child(s: Schema | undefined, key: string): Schema | undefined {
  return s?.fields?.[key] ?? s?.values;
}

const join = (p: string, seg: string) => (p ? p + SEP + seg : seg);

/** The `k:{...}` segment of a list-map element; undefined when it lacks a key with no default. */
function keySegment(el: unknown, s: Schema): string | undefined {
  if (!isObject(el)) return undefined;
  const key: Record<string, unknown> = {};
  for (const k of s.keys ?? []) {
    const v = el[k] ?? s.keyDefaults?.[k];
    if (v === undefined || v === null) return undefined;
    key[k] = v;
  }
  return `k:${JSON.stringify(key)}`;
}

/** Canonical JSON (sorted keys): the identity of a set element or a comparison. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(",")}}`;
  return JSON.stringify(v) ?? "null";
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    if (ka.length !== kb.length) return false;
    for (const k of ka) if (!deepEqual(a[k], b[k])) return false;
    return true;
  }
  return false;
}

function typedError(path: string, what: string): StatusError {
  return new StatusError(500, "", `failed to create typed patch object: ${path}: ${what}`);
}

/** Path of a field in messages: `.spec.ports`. */
function dotted(parts: string[]): string {
  return parts.map((p) => (p.startsWith("[") ? p : `.${p}`)).join("");
}

/**
 * The fields an applied configuration sets: leaves, list-map elements, set values and empty maps. Throws the
 * real server's 500 when a list-map element omits a key without a default.
 */
function collectApplied(v: unknown, s: Schema | undefined, p: string, out: FieldSet, where: string[]): void {
  if (v === null || v === undefined) return;
  if (isObject(v) && !s?.atomic) {
    const keys = Object.keys(v);
    if (keys.length === 0) out.add(p);
    for (const k of keys) {
      if (s?.closed && !s.values && !(s.fields && k in s.fields))
        throw typedError(dotted([...where, k]), "field not declared in schema");
      collectApplied(v[k], child(s, k), join(p, `f:${k}`), out, [...where, k]);
    }
    return;
  }
  if (Array.isArray(v) && s?.list === "map") {
    v.forEach((el, i) => {
      const seg = keySegment(el, s);
      if (seg === undefined) {
        const missing = (s.keys ?? []).find((k) => !isObject(el) || (el[k] ?? s.keyDefaults?.[k]) == null);
        throw typedError(
          dotted(where),
          `element ${i}: associative list with keys has an element that omits key field "${missing}" (and doesn't have default value)`,
        );
      }
      const ep = join(p, seg);
      out.add(ep);
      for (const k of Object.keys(el as object))
        collectApplied((el as any)[k], child(s.elem, k), join(ep, `f:${k}`), out, [...where, `[${i}]`, k]);
    });
    return;
  }
  if (Array.isArray(v) && s?.list === "set") {
    for (const el of v) out.add(join(p, `v:${canonical(el)}`));
    return;
  }
  out.add(p);
}

/** Every field of a value that an update created: like collectApplied, with maps and elements as members. */
function collectCreated(v: unknown, s: Schema | undefined, p: string, out: FieldSet): void {
  if (v === null || v === undefined) return;
  if (isObject(v) && !s?.atomic) {
    if (p) out.add(p);
    for (const k of Object.keys(v)) collectCreated(v[k], child(s, k), join(p, `f:${k}`), out);
    return;
  }
  if (Array.isArray(v) && s?.list === "map") {
    out.add(p);
    for (const el of v) {
      const seg = keySegment(el, s);
      if (seg === undefined) continue; // the real field manager gives up (and logs) here
      const ep = join(p, seg);
      out.add(ep);
      for (const k of Object.keys(el as object))
        collectCreated((el as any)[k], child(s.elem, k), join(ep, `f:${k}`), out);
    }
    return;
  }
  if (Array.isArray(v) && s?.list === "set") {
    out.add(p);
    for (const el of v) out.add(join(p, `v:${canonical(el)}`));
    return;
  }
  out.add(p);
}

/** The fields whose values differ from `a` to `b`, or that `b` adds (structured-merge-diff's Modified ∪ Added). */
function collectChanged(a: unknown, b: unknown, s: Schema | undefined, p: string, out: FieldSet): void {
  if (b === null || b === undefined) return;
  if (a === null || a === undefined) {
    collectCreated(b, s, p, out);
    return;
  }
  if (isObject(b) && !s?.atomic) {
    if (!isObject(a)) {
      collectCreated(b, s, p, out);
      return;
    }
    for (const k of Object.keys(b)) collectChanged(a[k], b[k], child(s, k), join(p, `f:${k}`), out);
    return;
  }
  if (Array.isArray(b) && s?.list === "map") {
    if (!Array.isArray(a)) {
      collectCreated(b, s, p, out);
      return;
    }
    const before = new Map<string, unknown>();
    for (const el of a) {
      const seg = keySegment(el, s);
      if (seg !== undefined) before.set(seg, el);
    }
    for (const el of b) {
      const seg = keySegment(el, s);
      if (seg === undefined) continue;
      const ep = join(p, seg);
      const old = before.get(seg);
      if (old === undefined) {
        out.add(ep);
        for (const k of Object.keys(el as object))
          collectCreated((el as any)[k], child(s.elem, k), join(ep, `f:${k}`), out);
      } else {
        for (const k of Object.keys(el as object))
          collectChanged((old as any)[k], (el as any)[k], child(s.elem, k), join(ep, `f:${k}`), out);
      }
    }
    return;
  }
  if (Array.isArray(b) && s?.list === "set") {
    const had = new Set(Array.isArray(a) ? a.map(canonical) : []);
    for (const el of b) {
      const c = canonical(el);
      if (!had.has(c)) out.add(join(p, `v:${c}`));
    }
    return;
  }
  if (!deepEqual(a, b)) out.add(p);
}

/** Every field of a value (leaves, elements, set values): what exists, for finding what an update removed. */
function collectAll(v: unknown, s: Schema | undefined, p: string, out: FieldSet): void {
  collectCreated(v, s, p, out);
}

/** The part of an object that field sets cover: spec-like fields and a few of metadata. */
function tracked(obj: any, withStatus: boolean): Record<string, unknown> {
  const view: Record<string, unknown> = {};
  const meta: Record<string, unknown> = {};
  for (const k of ["labels", "annotations", "ownerReferences", "finalizers"])
    if (obj?.metadata?.[k] !== undefined && obj.metadata[k] !== null) meta[k] = obj.metadata[k];
  if (Object.keys(meta).length > 0) view.metadata = meta;
  for (const k of Object.keys(obj ?? {})) {
    if (k === "apiVersion" || k === "kind" || k === "metadata") continue;
    if (k === "status" && !withStatus) continue;
    view[k] = obj[k];
  }
  return view;
}

// --- managedFields ------------------------------------------------------------------------------------------

export interface ManagerEntry {
  manager: string;
  operation: "Apply" | "Update";
  apiVersion: string;
  time: string;
  fields: FieldSet;
}

interface Trie {
  member: boolean;
  children: Map<string, Trie>;
}

export function encodeFields(set: FieldSet): Record<string, unknown> {
  const root: Trie = { member: false, children: new Map() };
  for (const path of set) {
    let node = root;
    for (const seg of path.split(SEP)) {
      let next = node.children.get(seg);
      if (!next) node.children.set(seg, (next = { member: false, children: new Map() }));
      node = next;
    }
    node.member = true;
  }
  const encode = (node: Trie): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (node.member && node.children.size > 0) out["."] = {};
    for (const key of [...node.children.keys()].sort()) out[key] = encode(node.children.get(key)!);
    return out;
  };
  return encode(root);
}

export function decodeFields(fieldsV1: unknown): FieldSet {
  const out: FieldSet = new Set();
  const walk = (node: unknown, p: string) => {
    if (!isObject(node)) return;
    for (const [k, v] of Object.entries(node)) {
      if (k === ".") continue;
      const cp = join(p, k);
      if (!isObject(v) || Object.keys(v).length === 0 || "." in v) out.add(cp);
      walk(v, cp);
    }
  };
  walk(fieldsV1, "");
  return out;
}

export function decodeManagers(obj: any): ManagerEntry[] {
  const list = obj?.metadata?.managedFields;
  if (!Array.isArray(list)) return [];
  return list
    .filter((e: any) => isObject(e) && typeof e.manager === "string")
    .map((e: any) => ({
      manager: e.manager,
      operation: e.operation === "Apply" ? "Apply" : "Update",
      apiVersion: String(e.apiVersion ?? ""),
      time: String(e.time ?? ""),
      fields: decodeFields(e.fieldsV1),
    }));
}

/** managedFields as the server writes them: empty entries dropped, Apply before Update, then by time. */
export function encodeManagers(entries: ManagerEntry[]): Record<string, unknown>[] | undefined {
  const kept = entries.filter((e) => e.fields.size > 0);
  if (kept.length === 0) return undefined;
  kept.sort(
    (a, b) =>
      a.operation.localeCompare(b.operation) ||
      a.time.localeCompare(b.time) ||
      a.manager.localeCompare(b.manager) ||
      a.apiVersion.localeCompare(b.apiVersion),
  );
  return kept.map((e) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    time: e.time,
    fieldsType: "FieldsV1",
    fieldsV1: encodeFields(e.fields),
  }));
}

/** The time format of managedFields and timestamps: RFC 3339 in seconds. */
export function rfc3339(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d+Z$/, "Z");
}

function sameSet(a: FieldSet, b: FieldSet): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/**
 * The managedFields after an Update-operation write (create, replace, patch) by `manager`: it gains the
 * fields it changed (taken from the others), fields that disappeared are no one's. `undefined` when the
 * object is not tracked: an existing object without managedFields stays untracked (kube-apiserver 1.20
 * starts tracking such an object at its first apply).
 */
export function trackUpdate(
  before: any | undefined,
  after: any,
  manager: string,
  apiVersion: string,
  schema: Schema | undefined,
  withStatus: boolean,
  now: string,
): Record<string, unknown>[] | undefined {
  const entries = decodeManagers(before);
  if (before !== undefined && entries.length === 0) return undefined;
  const oldView = before === undefined ? undefined : tracked(before, withStatus);
  const newView = tracked(after, withStatus);
  const changed: FieldSet = new Set();
  collectChanged(oldView, newView, schema, "", changed);
  // Fields that no longer exist are no one's.
  let removedAny = false;
  if (oldView !== undefined) {
    // Status fields count as existing even when this write cannot change them.
    const existing: FieldSet = new Set();
    collectAll(tracked(after, true), schema, "", existing);
    for (const e of entries)
      for (const f of e.fields)
        if (!existing.has(f)) {
          e.fields.delete(f);
          removedAny = true;
        }
  }
  if (changed.size === 0 && !removedAny) return before?.metadata?.managedFields;
  let mine = entries.find(
    (e) => e.manager === manager && e.operation === "Update" && e.apiVersion === apiVersion,
  );
  for (const e of entries) {
    if (e === mine) continue;
    for (const f of changed) e.fields.delete(f);
  }
  if (!mine)
    entries.push((mine = { manager, operation: "Update", apiVersion, time: now, fields: new Set() }));
  const had = mine.fields.size;
  for (const f of changed) mine.fields.add(f);
  if (mine.fields.size !== had) mine.time = now;
  return encodeManagers(entries);
}

/** Whether some path of `set` lies below `p` (a member node whose subtree still exists). */
function isAncestorOf(p: string, set: FieldSet): boolean {
  const prefix = p + SEP;
  for (const f of set) if (f.startsWith(prefix)) return true;
  return false;
}

// --- apply --------------------------------------------------------------------------------------------------

/** Merges an applied configuration into the live object (structured-merge-diff's merge). */
function mergeValue(live: unknown, config: unknown, s: Schema | undefined): unknown {
  if (isObject(config) && !s?.atomic) {
    if (!isObject(live)) return structuredClone(config);
    const out: Record<string, unknown> = { ...live };
    for (const k of Object.keys(config)) {
      if (config[k] === null) delete out[k];
      else out[k] = mergeValue(live[k], config[k], child(s, k));
    }
    return out;
  }
  if (Array.isArray(config) && s?.list === "map" && Array.isArray(live)) {
    const out = [...live];
    const index = new Map<string, number>();
    out.forEach((el, i) => {
      const seg = keySegment(el, s);
      if (seg !== undefined) index.set(seg, i);
    });
    for (const el of config) {
      const seg = keySegment(el, s)!;
      const at = index.get(seg);
      if (at === undefined) {
        index.set(seg, out.length);
        out.push(structuredClone(el));
      } else out[at] = mergeValue(out[at], el, s.elem);
    }
    return out;
  }
  if (Array.isArray(config) && s?.list === "set" && Array.isArray(live)) {
    const out = [...live];
    const seen = new Set(live.map(canonical));
    for (const el of config) if (!seen.has(canonical(el))) out.push(structuredClone(el));
    return out;
  }
  return structuredClone(config);
}

/** Removes one path from a (freshly merged, hence unshared) object; true when something was removed. */
function removePath(root: any, path: string, s: Schema | undefined): boolean {
  const segs = path.split(SEP);
  let node: any = root;
  let schema = s;
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i];
    const last = i === segs.length - 1;
    if (seg.startsWith("f:")) {
      const k = seg.slice(2);
      if (!isObject(node) || !(k in node)) return false;
      if (last) {
        delete node[k];
        return true;
      }
      node = node[k];
      schema = child(schema, k);
    } else if (seg.startsWith("k:") && Array.isArray(node) && schema) {
      const at = node.findIndex((el) => keySegment(el, schema!) === seg);
      if (at < 0) return false;
      if (last) {
        node.splice(at, 1);
        return true;
      }
      node = node[at];
      schema = schema.elem;
    } else if (seg.startsWith("v:") && Array.isArray(node)) {
      const at = node.findIndex((el) => `v:${canonical(el)}` === seg);
      if (at < 0 || !last) return false;
      node.splice(at, 1);
      return true;
    } else return false;
  }
  return false;
}

/** Drops maps and lists left empty by removals, unless someone owns them. */
function pruneEmpty(root: any, path: string, owned: (p: string) => boolean): void {
  const segs = path.split(SEP);
  for (let n = segs.length - 1; n > 0; n--) {
    const parentPath = segs.slice(0, n).join(SEP);
    if (owned(parentPath)) return;
    // Find the container and key of the parent.
    let node: any = root;
    let holder: any = null;
    let key: string | number = "";
    for (let i = 0; i < n; i++) {
      const seg = segs[i];
      holder = node;
      if (seg.startsWith("f:")) {
        key = seg.slice(2);
        node = isObject(node) ? node[key] : undefined;
      } else return; // only fields of maps are pruned
      if (node === undefined) return;
    }
    const empty =
      (isObject(node) && Object.keys(node).length === 0) || (Array.isArray(node) && node.length === 0);
    if (!empty || !isObject(holder)) return;
    delete holder[key as string];
  }
}

export interface ApplyResult {
  object: any;
  managedFields: Record<string, unknown>[] | undefined;
  /** Whether the manager's own field set changed (a re-apply of the same configuration changes nothing). */
  fieldsChanged: boolean;
}

function segToText(seg: string): string {
  if (seg.startsWith("f:")) return `.${seg.slice(2)}`;
  if (seg.startsWith("k:")) {
    const key = JSON.parse(seg.slice(2)) as Record<string, unknown>;
    return `[${Object.entries(key)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(",")}]`;
  }
  if (seg.startsWith("v:")) return `[=${seg.slice(2)}]`;
  return seg;
}

export function pathText(path: string): string {
  return path.split(SEP).map(segToText).join("");
}

function managerText(e: ManagerEntry): string {
  return e.operation === "Update" ? `"${e.manager}" using ${e.apiVersion}` : `"${e.manager}"`;
}

function conflictError(conflicts: { entry: ManagerEntry; path: string }[]): StatusError {
  const causes = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with ${managerText(c.entry)}`,
    field: pathText(c.path),
  }));
  let message: string;
  if (conflicts.length === 1) {
    message = `Apply failed with 1 conflict: conflict with ${managerText(conflicts[0].entry)}: ${pathText(conflicts[0].path)}`;
  } else {
    const byManager = new Map<string, string[]>();
    for (const c of conflicts) {
      const k = managerText(c.entry);
      byManager.set(k, [...(byManager.get(k) ?? []), pathText(c.path)]);
    }
    const lines: string[] = [];
    for (const k of [...byManager.keys()].sort()) {
      lines.push(`conflicts with ${k}:`);
      for (const p of byManager.get(k)!) lines.push(`- ${p}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new StatusError(409, "Conflict", message, { causes });
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined: the object is created). Returns the
 * merged object (before defaulting) and its managedFields; throws 409 on conflicts unless `force`.
 */
export function applyConfig(
  live: any | undefined,
  config: any,
  opts: {
    manager: string;
    force: boolean;
    apiVersion: string;
    schema: Schema | undefined;
    withStatus: boolean;
    now: string;
  },
): ApplyResult {
  const { schema, withStatus } = opts;
  const configView = tracked(config, withStatus);
  const applied: FieldSet = new Set();
  collectApplied(configView, schema, "", applied, []);

  let entries = decodeManagers(live);
  if (live !== undefined && entries.length === 0) {
    // Fields of an untracked object belong to "before-first-apply" (kube-apiserver 1.20's skipNonApplied).
    const all: FieldSet = new Set();
    collectCreated(tracked(live, withStatus), schema, "", all);
    entries = [
      {
        manager: "before-first-apply",
        operation: "Update",
        apiVersion: opts.apiVersion,
        time: opts.now,
        fields: all,
      },
    ];
  }

  // The merge: live fields, overwritten and extended by the configuration's.
  const base = live === undefined ? {} : live;
  const merged: any = { ...base, metadata: { ...(base.metadata ?? {}) } };
  for (const k of Object.keys(configView)) {
    if (k === "metadata") {
      const m = configView.metadata as Record<string, unknown>;
      for (const mk of Object.keys(m))
        merged.metadata[mk] = mergeValue(base.metadata?.[mk], m[mk], child(child(schema, "metadata"), mk));
    } else merged[k] = mergeValue(base[k], configView[k], child(schema, k));
  }

  // Conflicts: fields this apply changes that others own.
  const changed: FieldSet = new Set();
  collectChanged(tracked(live ?? {}, withStatus), tracked(merged, withStatus), schema, "", changed);
  const conflicts: { entry: ManagerEntry; path: string }[] = [];
  for (const e of entries) {
    if (e.manager === opts.manager && e.operation === "Apply") continue;
    for (const f of e.fields) if (changed.has(f) && applied.has(f)) conflicts.push({ entry: e, path: f });
  }
  if (conflicts.length > 0 && !opts.force) {
    conflicts.sort((a, b) => (pathText(a.path) < pathText(b.path) ? -1 : 1));
    throw conflictError(conflicts);
  }
  for (const c of conflicts) c.entry.fields.delete(c.path);

  // Fields this manager applied before and no longer does go, unless someone else owns them.
  let mine = entries.find((e) => e.manager === opts.manager && e.operation === "Apply");
  const previous = mine?.fields ?? new Set<string>();
  const others = entries.filter((e) => e !== mine);
  const ownedByOthers = (p: string) => others.some((e) => e.fields.has(p));
  const owned = (p: string) => applied.has(p) || ownedByOthers(p);
  let target = merged;
  let copied = false;
  for (const f of previous) {
    if (applied.has(f) || ownedByOthers(f)) continue;
    // An element or map someone else still owns fields inside stays.
    if (others.some((e) => isAncestorOf(f, e.fields)) || isAncestorOf(f, applied)) continue;
    // The merge shares untouched subtrees with the stored object: copy before removing anything.
    if (!copied) {
      target = structuredClone(merged);
      copied = true;
    }
    if (removePath(target, f, schema)) pruneEmpty(target, f, owned);
  }

  const fieldsChanged = !mine || !sameSet(previous, applied);
  if (!mine)
    entries.push(
      (mine = {
        manager: opts.manager,
        operation: "Apply",
        apiVersion: opts.apiVersion,
        time: opts.now,
        fields: applied,
      }),
    );
  else {
    mine.fields = applied;
    if (fieldsChanged || mine.apiVersion !== opts.apiVersion) mine.time = opts.now;
    mine.apiVersion = opts.apiVersion;
  }
  return { object: target, managedFields: encodeManagers(entries), fieldsChanged };
}

// --- schemas of the built-in kinds --------------------------------------------------------------------------

const listMap = (keys: string[], elem?: Schema, extra: Partial<Schema> = {}): Schema => ({
  list: "map",
  keys,
  elem,
  mergeKey: keys[0],
  ...extra,
});

const METADATA: Schema = {
  fields: {
    ownerReferences: listMap(["uid"]),
    finalizers: { list: "set", mergeScalars: true },
  },
};

const CONTAINER: Schema = {
  fields: {
    ports: listMap(["containerPort", "protocol"], undefined, { keyDefaults: { protocol: "TCP" } }),
    env: listMap(["name"]),
    volumeMounts: listMap(["mountPath"]),
    volumeDevices: listMap(["devicePath"]),
  },
};

const POD_SPEC: Schema = {
  fields: {
    containers: listMap(["name"], CONTAINER),
    initContainers: listMap(["name"], CONTAINER),
    ephemeralContainers: listMap(["name"], CONTAINER),
    volumes: listMap(["name"]),
    imagePullSecrets: listMap(["name"]),
    hostAliases: listMap(["ip"]),
    topologySpreadConstraints: listMap(["topologyKey", "whenUnsatisfiable"]),
  },
};

const CONDITIONS: Schema = listMap(["type"]);
const SELECTOR: Schema = { atomic: true };
const TEMPLATE: Schema = { fields: { metadata: METADATA, spec: POD_SPEC } };

const withMeta = (fields: Record<string, Schema>): Schema => ({ fields: { metadata: METADATA, ...fields } });

const WORKLOAD = (extra: Record<string, Schema> = {}): Schema =>
  withMeta({
    spec: { fields: { selector: SELECTOR, template: TEMPLATE, ...extra } },
    status: { fields: { conditions: CONDITIONS } },
  });

const BUILTIN_SCHEMAS: Record<string, Schema> = {
  "/Pod": withMeta({
    spec: POD_SPEC,
    status: {
      fields: {
        conditions: CONDITIONS,
        podIPs: listMap(["ip"]),
      },
    },
  }),
  "/Service": withMeta({
    spec: {
      fields: { ports: listMap(["port", "protocol"]) },
    },
  }),
  "/Node": withMeta({
    spec: { fields: { podCIDRs: { list: "set", mergeScalars: true } } },
    status: { fields: { conditions: CONDITIONS, addresses: listMap(["type"]) } },
  }),
  "/PodTemplate": withMeta({ template: TEMPLATE }),
  "/ReplicationController": withMeta({
    spec: { fields: { template: TEMPLATE } },
    status: { fields: { conditions: CONDITIONS } },
  }),
  "apps/Deployment": WORKLOAD(),
  "apps/ReplicaSet": WORKLOAD(),
  "apps/DaemonSet": WORKLOAD(),
  "apps/StatefulSet": WORKLOAD(),
  "batch/Job": WORKLOAD(),
  "batch/CronJob": withMeta({
    spec: {
      fields: {
        jobTemplate: {
          fields: { metadata: METADATA, spec: { fields: { selector: SELECTOR, template: TEMPLATE } } },
        },
      },
    },
  }),
  "apiextensions.k8s.io/CustomResourceDefinition": withMeta({
    status: { fields: { conditions: CONDITIONS } },
  }),
};

export function builtinSchema(gk: string): Schema {
  return BUILTIN_SCHEMAS[gk] ?? withMeta({});
}

/** The list types of a CRD's structural schema. */
export function schemaFromOpenAPI(s: any): Schema {
  const out: Schema = {};
  if (!isObject(s)) return out;
  if (isObject(s.properties)) {
    out.fields = {};
    for (const [k, v] of Object.entries(s.properties)) out.fields[k] = schemaFromOpenAPI(v);
  }
  if (isObject(s.additionalProperties)) out.values = schemaFromOpenAPI(s.additionalProperties);
  if (s["x-kubernetes-map-type"] === "atomic") out.atomic = true;
  if (
    s.type === "object" &&
    s.additionalProperties === undefined &&
    s["x-kubernetes-preserve-unknown-fields"] !== true &&
    s["x-kubernetes-embedded-resource"] !== true
  )
    out.closed = true;
  if (s.type === "array") {
    const t = s["x-kubernetes-list-type"];
    out.list = t === "set" || t === "map" ? t : "atomic";
    if (out.list === "map" && Array.isArray(s["x-kubernetes-list-map-keys"])) {
      out.keys = s["x-kubernetes-list-map-keys"];
      const defaults: Record<string, unknown> = {};
      for (const k of out.keys ?? []) {
        const d = s.items?.properties?.[k]?.default;
        if (d !== undefined) defaults[k] = d;
      }
      if (Object.keys(defaults).length > 0) out.keyDefaults = defaults;
    }
    if (s.items) out.elem = schemaFromOpenAPI(s.items);
  }
  return out;
}

export function withMetadata(s: Schema): Schema {
  return { ...s, fields: { ...(s.fields ?? {}), metadata: METADATA } };
}
