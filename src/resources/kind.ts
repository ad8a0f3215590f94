/**
 * The one declarative definition of a resource kind. Routes, validation, serialisation, OpenAPI, the typed
 * client and the CLI tables are all derived from it, so adding a kind means adding one of these.
 */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { SecretPath } from "./secrets.js";

export type Group = "core" | "infrastructure" | "kubernetes";

export interface ResourceRef {
  api: string;
  namespace: string | null;
  kind: string;
  name: string;
}

export interface Metadata {
  name: string;
  namespace: string | null;
  labels: Record<string, string>;
  inherit_labels: boolean;
  finalizers: string[];
  uid: string | null;
  created: string | null;
  modified: string | null;
  deleted: string | null;
  owners: ResourceRef[];
  resource_version: string | null;
}

/** Every stored resource has at least this shape; kind-specific fields are reached through the schema. */
export interface Resource {
  api: string;
  kind: string;
  metadata: Metadata;
  [field: string]: any;
}

/** What a subresource action may answer instead of the updated object. */
export class ActionRejected extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly title: string | null,
    message: string,
  ) {
    super(message);
  }
}

export interface SubresourceAction {
  /** URL segment after the object name: `binding`, `complete`, ... */
  name: string;
  /** RBAC resource checked for `update`, e.g. `applications/binding` (retry uses `applications/status`). */
  rbacResource: string;
  /** Schema of the request body; absent when the action takes none. */
  body?: TSchema;
  /**
   * Computes the new object from the stored one. Throws ActionRejected for a refused action.
   * Returns the object to store (it may be the same reference, mutated).
   */
  apply(stored: Resource, body: any, now: string): Resource;
  /** Whether the action bumps metadata.modified (Krake: subresource writes do not). */
  bumpsModified?: boolean;
}

export interface Column {
  header: string;
  /** Dot path into the object, or a function for derived cells. */
  value: string | ((o: Resource) => unknown);
  /** In lists only with `-o wide`; always in the single-object table. */
  wide?: boolean;
  /** Only in the single-object table (cli.md §3: "single-object table adds"). */
  detail?: boolean;
}

export interface KindDef<S extends TObject = TObject> {
  group: Group;
  kind: string;
  plural: string;
  namespaced: boolean;
  /** The full resource schema; `metadata` is its first property. */
  schema: S;
  /** A `status` field edited only through the `/status` subresource. */
  hasStatus: boolean;
  actions: SubresourceAction[];
  /** Supports `?blocking=<state>` on create/delete and `?force=True` on delete. */
  blocking: boolean;
  /** Krake quirk kept for client compatibility: GlobalMetricsProvider answers 200 to a PUT without changes. */
  noUpdateIsOk: boolean;
  /** Krake's duplicate-create check order differs by group; the answer is the same, we keep it for the record. */
  createCheck: "atomic" | "read-then-put";
  /** Rules that compare the update with the stored object (who owns a field); issues → 422 naming it. */
  updateCheck?: (stored: Resource, updated: Resource) => { path: (string | number)[]; message: string }[];
  /** Side effects of the DELETE mark on the object (Application shutdown hook). */
  onDeleteMark?: (stored: Resource) => void;
  columns: Column[];
  /**
   * Fields holding credentials (src/resources/secrets.ts): shown only to callers with `get` on
   * `<plural>/secrets`, kept when a PUT sends the marker back, never printed in tables.
   */
  secrets?: SecretPath[];
}

export function refOf(def: KindDef, name: string, namespace: string | null): ResourceRef {
  return { api: def.group, namespace, kind: def.kind, name };
}

/** Keeps the schema's static type, so that clients of a kind get typed objects. */
export function defineKind<S extends TObject>(def: KindDef<S>): KindDef<S> {
  return def;
}

/** The object type of a kind, as the API returns it. */
export type ResourceOf<D extends KindDef<any>> = D extends KindDef<infer S> ? Static<S> & Resource : Resource;
