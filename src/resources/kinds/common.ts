import { Type, type TProperties, type TSchema } from "@sinclair/typebox";
import { load } from "../load.js";
import {
  bool,
  constant,
  datetime,
  field,
  list,
  nullable,
  obj,
  resourceRef,
  str,
  strDict,
  withCheck,
  type FieldOptions,
} from "../schema.js";
import { checkLabels, checkResourceName, checkResourceNamespace } from "../validators/index.js";
import type { Column } from "../kind.js";

export function metadataSchema() {
  const serverSet = (s: TSchema, requiredOnUpdate: boolean) =>
    field(nullable(s), { readOnly: true, default: null, "x-required-on-update": requiredOnUpdate });
  return obj({
    name: withCheck(str({ "x-immutable": true }), checkResourceName),
    namespace: nullable(withCheck(str(), checkResourceNamespace), { default: null, "x-immutable": true }),
    labels: withCheck(strDict({ default: {} }), checkLabels),
    inherit_labels: bool({ default: false }),
    finalizers: list(str(), { default: [] }),
    uid: serverSet(str(), true),
    created: serverSet(datetime(), true),
    modified: serverSet(datetime(), true),
    deleted: serverSet(datetime(), false),
    owners: list(resourceRef(), { default: [] }),
    resource_version: serverSet(str(), false),
  });
}

/** A top-level resource schema. `metadata` comes first: the API relies on it to splice resource versions. */
export function resourceSchema<P extends TProperties>(group: string, kind: string, body: P) {
  return obj({ metadata: metadataSchema(), api: constant(group), kind: constant(kind), ...body });
}

/** The status of a kind: edited only through the status subresource; defaults come from its own schema. */
export function statusField<T extends TSchema>(schema: T, options: FieldOptions = {}): T {
  const defaults = load(schema, {}, "create");
  if (defaults.issues.length > 0) throw new Error(`status schema has required fields: ${JSON.stringify(defaults.issues)}`);
  return field(schema, { "x-subresource": true, default: defaults.value, ...options });
}

export const reasonCodes = [
  "INTERNAL_ERROR",
  "INVALID_RESOURCE",
  "UNSUPPORTED_RESOURCE",
  "INVALID_CUSTOM_RESOURCE",
  "INVALID_TOSCA_MANIFEST",
  "CLUSTER_NOT_REACHABLE",
  "NO_SUITABLE_RESOURCE",
  "KUBERNETES_ERROR",
  "CREATE_FAILED",
  "RECONCILE_FAILED",
  "RECONFIGURE_FAILED",
  "DELETE_FAILED",
  "RETRIEVE_FAILED",
  "NOT_FOUND",
  "OPENSTACK_ERROR",
  "INVALID_CLUSTER_TEMPLATE",
  "INVALID_METRIC",
  "UNREACHABLE_METRICS_PROVIDER",
  "UNKNOWN_METRIC",
  "UNKNOWN_METRICS_PROVIDER",
] as const;

export const reasonSchema = () =>
  obj({
    code: Type.Union(
      reasonCodes.map((c) => Type.Literal(c)),
      { "x-enum": true } as object,
    ),
    message: nullable(str(), { default: null }),
  });

/** cli.md §3: every kind's tables start with these, global kinds included (their namespace is None). */
export const baseColumns: Column[] = [
  { header: "name", value: "metadata.name" },
  { header: "namespace", value: "metadata.namespace" },
  { header: "labels", value: "metadata.labels" },
  { header: "created", value: "metadata.created" },
  { header: "modified", value: "metadata.modified" },
  { header: "deleted", value: "metadata.deleted" },
];

/**
 * Metric references one per line: `name: weight`, with `(global)` for GlobalMetrics and `(inherited)` for
 * those `rok kube cluster get` merged in from the cloud.
 */
export function metricRefsCell(refs: { name: string; weight: number; namespaced?: boolean; inherited?: boolean }[]) {
  if (!refs?.length) return null;
  return refs
    .map((m) => {
      const marks = [m.namespaced === false ? "global" : null, m.inherited ? "inherited" : null].filter(Boolean);
      return `${m.name}: ${m.weight}${marks.length ? ` (${marks.join(", ")})` : ""}`;
    })
    .join("\n");
}
