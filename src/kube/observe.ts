/**
 * Observer schemas (controllers.md §7.2 step 3, §8.1): which fields of each applied Kubernetes object the
 * application controller watches, what it saw of them (`last_observed_manifest`), and whether what it saw
 * still matches what it applied.
 *
 * A schema mirrors an object: `null` leaves are observed fields; every list ends with a control dict giving
 * its allowed length; a projection of an object ends each list with the length actually seen. The default
 * schema of an object observes every field its manifest sets, with lists of exactly the manifest's length.
 */
import { isDeepStrictEqual } from "node:util";

export const LIST_MIN = "observer_schema_list_min_length";
export const LIST_MAX = "observer_schema_list_max_length";
export const LIST_CURRENT = "observer_schema_list_current_length";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Identity of a manifest object: apiVersion, kind, name, and namespace when it has one. */
export function identityOf(o: { apiVersion?: unknown; kind?: unknown; metadata?: unknown }): string {
  const md = isObj(o.metadata) ? o.metadata : {};
  return `${String(o.apiVersion)}/${String(o.kind)}/${md.namespace ? `${String(md.namespace)}/` : ""}${String(md.name)}`;
}

/** Same object, ignoring the namespace (schemas do not name one; the manifest may). */
function sameResource(a: Obj, b: Obj): boolean {
  const an = isObj(a.metadata) ? a.metadata.name : undefined;
  const bn = isObj(b.metadata) ? b.metadata.name : undefined;
  return a.apiVersion === b.apiVersion && a.kind === b.kind && an === bn;
}

function schemaOfValue(value: unknown): unknown {
  if (isObj(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, schemaOfValue(v)]));
  if (Array.isArray(value))
    return [...value.map(schemaOfValue), { [LIST_MIN]: value.length, [LIST_MAX]: value.length }];
  return null;
}

/**
 * The default schema of one manifest object: every field it sets, its identity kept as values. A
 * LoadBalancer Service also observes the ingress the cloud assigns (camelCase `loadBalancer`, as the API
 * serves it; Krake wrote `load_balancer`, which never matched).
 */
export function defaultObserverSchema(resource: Obj): Obj {
  const schema = schemaOfValue(resource) as Obj;
  schema.apiVersion = resource.apiVersion;
  schema.kind = resource.kind;
  schema.metadata = { ...(schema.metadata as Obj), name: (resource.metadata as Obj).name };
  const spec = isObj(resource.spec) ? resource.spec : {};
  if (resource.kind === "Service" && spec.type === "LoadBalancer")
    schema.status = { loadBalancer: { ingress: null } };
  return schema;
}

/** The user's schemas, plus a default one for every manifest object the user gave none for. */
export function mangledObserverSchema(manifest: Obj[], custom: Obj[] = []): Obj[] {
  const schemas = custom.map((s) => structuredClone(s));
  for (const resource of manifest)
    if (!schemas.some((s) => sameResource(s, resource))) schemas.push(defaultObserverSchema(resource));
  return schemas;
}

/** The schema of a manifest object, if any. */
export function schemaFor(schemas: Obj[], resource: Obj): Obj | undefined {
  return schemas.find((s) => sameResource(s, resource));
}

/** What of `observed` the schema watches: observed leaves copied, lists cut and ended with their length. */
export function project(observed: unknown, schema: unknown): unknown {
  if (isObj(schema)) {
    if (!isObj(observed)) return undefined;
    const out: Obj = {};
    for (const [key, sub] of Object.entries(schema)) {
      if (!(key in observed)) continue;
      const value = sub === null ? structuredClone(observed[key]) : project(observed[key], sub);
      if (value !== undefined) out[key] = value;
    }
    return out;
  }
  if (Array.isArray(schema)) {
    if (!Array.isArray(observed)) return undefined;
    const elements = schema.slice(0, -1);
    const out: unknown[] = [];
    elements.forEach((sub, i) => {
      if (i < observed.length)
        out.push(sub === null ? structuredClone(observed[i]) : project(observed[i], sub));
    });
    out.push({ [LIST_CURRENT]: observed.length });
    return out;
  }
  return structuredClone(observed);
}

/**
 * Whether `observed` (a projection) still matches `desired` (what was applied) on the fields `schema`
 * watches: a watched field that differs, is missing on one side, or a list whose length left its
 * [min, max] range means the object must be applied again. Returns the path of the first difference, or
 * null when they match.
 */
export function firstDrift(desired: unknown, observed: unknown, schema: unknown, path = ""): string | null {
  if (isObj(schema)) {
    if (!isObj(desired) || !isObj(observed)) return isObj(desired) === isObj(observed) ? null : path || "/";
    for (const [key, sub] of Object.entries(schema)) {
      const inDesired = key in desired;
      const inObserved = key in observed;
      if (!inDesired && !inObserved) continue;
      // A field only the server sets (status, defaults) is observed but not desired.
      if (!inDesired) continue;
      if (!inObserved) return `${path}/${key}`;
      const drift = firstDrift(desired[key], observed[key], sub, `${path}/${key}`);
      if (drift) return drift;
    }
    return null;
  }
  if (Array.isArray(schema)) {
    if (!Array.isArray(observed)) return path || "/";
    const control = (schema[schema.length - 1] ?? {}) as Obj;
    const seen = (observed[observed.length - 1] ?? {}) as Obj;
    const length = typeof seen[LIST_CURRENT] === "number" ? (seen[LIST_CURRENT] as number) : observed.length;
    const min = typeof control[LIST_MIN] === "number" ? (control[LIST_MIN] as number) : 0;
    const max = typeof control[LIST_MAX] === "number" ? (control[LIST_MAX] as number) : Infinity;
    if (length < min || length > max) return `${path} (length ${length} outside [${min}, ${max}])`;
    const wanted = Array.isArray(desired) ? desired : [];
    const elements = schema.slice(0, -1);
    for (let i = 0; i < elements.length && i < wanted.length; i++) {
      if (i >= observed.length - 1) return `${path}/${i}`;
      const drift = firstDrift(wanted[i], observed[i], elements[i], `${path}/${i}`);
      if (drift) return drift;
    }
    return null;
  }
  return isDeepStrictEqual(desired, observed) ? null : path || "/";
}
