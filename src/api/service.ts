/**
 * The resource operations of api.md §3, §10 and §11, independent of HTTP: the routes translate requests into
 * these calls. Every write is a compare-and-swap on the object's modRevision, so concurrent writers never
 * lose each other's changes silently.
 */
import { randomUUID } from "node:crypto";
import type { TSchema } from "@sinclair/typebox";
import type { KeyValue, Store } from "../store/store.js";
import { ActionRejected, type KindDef, type Resource, type SubresourceAction } from "../resources/kind.js";
import { load } from "../resources/load.js";
import { now } from "../resources/time.js";
import { checkResourceNamespace } from "../resources/validators/index.js";
import { ApiError, Errors } from "./errors.js";
import { decode, encodeForStore, kvWireJson } from "./codec.js";
import { kindPrefix, namespaceOfKey, objectKey } from "./keys.js";
import { deepEqual, mergeStatus, mergeUpdate } from "./merge.js";
import type { NamespaceScope } from "./auth/rbac.js";
import { keepStoredSecrets, markedSecrets, markerIssue, setAt, storedAt } from "../resources/secrets.js";

export interface ServiceOptions {
  /** Krake's `etcd.retry_transactions`: extra attempts of a read-modify-write after a conflict. */
  retryTransactions: number;
}

/** A stored object: its wire JSON and, when the caller needs it, the parsed object. */
export interface Stored {
  kv: KeyValue;
  json: string;
}

export class ResourceService {
  constructor(
    readonly store: Store,
    private readonly options: ServiceOptions,
  ) {}

  validate(schema: TSchema, body: unknown, mode: "create" | "update"): any {
    const result = load(schema, body, mode);
    if (result.issues.length > 0) throw Errors.validation(result.issues);
    return result.value;
  }

  async create(def: KindDef, namespace: string | null, body: unknown): Promise<Stored> {
    // A new object has no stored secret a marker could stand for.
    const marked = markedSecrets(body, def.secrets ?? []);
    if (marked.length > 0) throw Errors.validation(marked.map((path) => markerIssue(path, true)));
    const obj = this.validate(def.schema, body, "create") as Resource;
    if (def.namespaced) {
      const nsIssues = checkResourceNamespace(namespace);
      if (nsIssues.length > 0) throw Errors.validation(nsIssues.map((i) => ({ ...i, path: ["metadata", "namespace"] })));
      obj.metadata.namespace = namespace;
    }
    const timestamp = now();
    Object.assign(obj.metadata, { uid: randomUUID(), created: timestamp, modified: timestamp, deleted: null });
    const key = objectKey(def, obj.metadata.namespace, obj.metadata.name);
    const result = await this.store.put(key, encodeForStore(obj), { expectModRevision: 0 });
    if (!result.ok) throw Errors.alreadyExists(def, obj.metadata.name, obj.metadata.namespace);
    return { kv: result.kv, json: kvWireJson(result.kv) };
  }

  async read(def: KindDef, namespace: string | null, name: string): Promise<Stored> {
    const kv = await this.store.get(objectKey(def, namespace, name));
    if (!kv) throw Errors.notFound(def, name, namespace);
    return { kv, json: kvWireJson(kv) };
  }

  /**
   * `namespace` null on a namespaced kind means list-all, restricted to `scope`. `present` turns an item's
   * wire JSON into what the caller may see (secrets redacted), by its store key.
   */
  async list(
    def: KindDef,
    namespace: string | null,
    scope: NamespaceScope = "all",
    present?: (key: string, json: string) => string,
  ): Promise<string> {
    const { kvs, revision } = await this.store.range(kindPrefix(def, namespace));
    const items: string[] = [];
    for (const kv of kvs) {
      if (scope !== "all" && !scope.has(namespaceOfKey(def, kv.key) ?? "")) continue;
      items.push(present ? present(kv.key, kvWireJson(kv)) : kvWireJson(kv));
    }
    return `{"api":"${def.group}","kind":"${def.kind}List","metadata":{"resource_version":"${revision}"},"items":[${items.join(",")}]}`;
  }

  async update(def: KindDef, namespace: string | null, name: string, body: unknown): Promise<Stored> {
    const kept = await this.keepSecrets(def, namespace, name, body);
    const incoming = this.validate(def.schema, body, "update") as Resource;
    if (def.namespaced && incoming.metadata.namespace === null) incoming.metadata.namespace = namespace;
    const sentVersion = incoming.metadata.resource_version;
    return this.readModifyWrite(def, namespace, name, sentVersion, (stored) => {
      refreshKept(incoming, stored, kept);
      if (stored.metadata.deleted !== null && !isSubset(incoming.metadata.finalizers, stored.metadata.finalizers)) {
        throw Errors.finalizersDuringDeletion();
      }
      if (equalIgnoringVersion(incoming, stored)) {
        if (def.noUpdateIsOk) return null;
        throw Errors.noUpdate();
      }
      const merged = mergeUpdate(def.schema, stored, incoming, body) as Resource;
      const issues = def.updateCheck?.(stored, merged) ?? [];
      if (issues.length > 0) throw Errors.validation(issues);
      merged.metadata.modified = now();
      return merged;
    }, { removeWhenFinalized: true });
  }

  async updateStatus(def: KindDef, namespace: string | null, name: string, body: unknown): Promise<Stored> {
    const kept = await this.keepSecrets(def, namespace, name, body);
    const incoming = this.validate(def.schema, body, "update") as Resource;
    const statusSchema = (def.schema as any).properties.status as TSchema;
    const sentVersion = incoming.metadata.resource_version;
    return this.readModifyWrite(def, namespace, name, sentVersion, (stored) => {
      refreshKept(incoming, stored, kept);
      const raw = (body as { status?: unknown } | null)?.status;
      stored.status = mergeStatus(statusSchema, stored.status, incoming.status, raw);
      return stored;
    });
  }

  /**
   * The GET-then-PUT rule (src/resources/secrets.ts): secret fields sent back as the marker take the stored
   * values, before validation, so that a marker in place of an object validates. Answers the kept paths.
   */
  private async keepSecrets(def: KindDef, namespace: string | null, name: string, body: unknown) {
    const paths = def.secrets ?? [];
    if (markedSecrets(body, paths).length === 0) return [];
    const stored = decode((await this.read(def, namespace, name)).kv);
    const { kept, issues } = keepStoredSecrets(body, stored, paths);
    if (issues.length > 0) throw Errors.validation(issues);
    return kept;
  }

  async action(
    def: KindDef,
    action: SubresourceAction,
    namespace: string | null,
    name: string,
    body: unknown,
  ): Promise<Stored> {
    const parsed = action.body ? this.validate(action.body, body ?? {}, "create") : null;
    return this.readModifyWrite(def, namespace, name, null, (stored) => action.apply(stored, parsed, now()));
  }

  async delete(def: KindDef, namespace: string | null, name: string, force: boolean): Promise<Stored> {
    if (force) {
      const key = objectKey(def, namespace, name);
      for (;;) {
        const kv = await this.store.get(key);
        if (!kv) throw Errors.notFound(def, name, namespace);
        const obj = decode(kv);
        obj.metadata.deleted ??= now();
        const result = await this.store.delete(key, { expectModRevision: kv.modRevision });
        if (result.ok) return { kv, json: JSON.stringify(obj) };
      }
    }
    return this.readModifyWrite(def, namespace, name, null, (stored) => {
      if (stored.metadata.deleted !== null) return null;
      stored.metadata.deleted = now();
      stored.metadata.finalizers.push("cascade_deletion");
      def.onDeleteMark?.(stored);
      return stored;
    });
  }

  /**
   * Reads the object, lets `change` compute the next version (null: nothing to write), and writes it with a
   * compare-and-swap. A conflict is retried `retryTransactions` times when the client did not pin a
   * resource_version; a pinned one that is stale is the client's conflict to resolve (409).
   */
  private async readModifyWrite(
    def: KindDef,
    namespace: string | null,
    name: string,
    sentVersion: string | null,
    change: (stored: Resource) => Resource | null,
    /** Only an ordinary update removes the key when a deleted object's finalizers become empty (§10 step 8). */
    { removeWhenFinalized = false } = {},
  ): Promise<Stored> {
    const key = objectKey(def, namespace, name);
    for (let attempt = 0; ; attempt++) {
      const kv = await this.store.get(key);
      if (!kv) throw Errors.notFound(def, name, namespace);
      const current = String(kv.modRevision);
      if (sentVersion !== null && sentVersion !== "" && sentVersion !== current) {
        throw Errors.staleResourceVersion(sentVersion, current);
      }
      const next = change(decode(kv));
      if (next === null) return { kv, json: kvWireJson(kv) };
      if (removeWhenFinalized && next.metadata.deleted !== null && next.metadata.finalizers.length === 0) {
        const result = await this.store.delete(key, { expectModRevision: kv.modRevision });
        if (result.ok) {
          next.metadata.resource_version = String(result.revision);
          return { kv: { ...kv, modRevision: result.revision }, json: JSON.stringify(next) };
        }
      } else {
        const result = await this.store.put(key, encodeForStore(next), { expectModRevision: kv.modRevision });
        if (result.ok) return { kv: result.kv, json: kvWireJson(result.kv) };
      }
      if (sentVersion !== null && sentVersion !== "") {
        const latest = await this.store.get(key);
        throw Errors.staleResourceVersion(sentVersion, latest ? String(latest.modRevision) : "deleted");
      }
      if (attempt >= this.options.retryTransactions) throw Errors.concurrentWrites();
    }
  }
}

/**
 * A kept secret takes the value stored at the time of the write, not at the time of the first read: a
 * secret rotated in between is not rolled back by a client that never saw it.
 */
function refreshKept(incoming: Resource, stored: Resource, kept: (string | number)[][]): void {
  for (const path of kept) {
    const current = storedAt(stored, incoming, path);
    if (current.found) setAt(incoming, path, structuredClone(current.value));
  }
}

function isSubset(a: string[], b: string[]): boolean {
  return a.every((x) => b.includes(x));
}

function equalIgnoringVersion(incoming: Resource, stored: Resource): boolean {
  const a = { ...incoming, metadata: { ...incoming.metadata, resource_version: null } };
  const b = { ...stored, metadata: { ...stored.metadata, resource_version: null } };
  return deepEqual(a, b);
}

export { ActionRejected, ApiError };
