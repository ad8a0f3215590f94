/**
 * The field vocabulary of resource definitions.
 *
 * Schemas are TypeBox schemas (so they are JSON Schema for OpenAPI and give static types), with a few
 * conventions the loader (load.ts) reads to reproduce Krake's marshmallow semantics:
 * - every property is present in a loaded object (responses always carry every field);
 * - a property whose schema has a `default` may be omitted on input; one without is required;
 * - `readOnly` fields are set by the server and ignored on create;
 * - `x-subresource` fields (status) are ignored on create and on ordinary update;
 * - `x-immutable` fields may not change on update;
 * - `x-extension` fields (not in Krake 1.0.1) survive updates from clients that do not send them;
 * - a function under the `Check` symbol adds semantic validation (label syntax, kubeconfig shape, ...).
 *   Symbol keys vanish from JSON.stringify, so OpenAPI output stays clean.
 */
import { Type, type TSchema, type TProperties, type TObject, type TUnion, type TNull } from "@sinclair/typebox";

export const Check = Symbol.for("krake.schema.check");

/** One validation failure. `path` is relative to the value the check was attached to. */
export interface Issue {
  path: (string | number)[];
  message: string;
}

export type CheckFn = (value: any) => Issue[];

export interface FieldOptions {
  default?: unknown;
  description?: string;
  readOnly?: boolean;
  "x-subresource"?: boolean;
  "x-immutable"?: boolean;
  /** Ours, unknown to Krake's clients: an update (or status write) that leaves it out keeps the stored value. */
  "x-extension"?: boolean;
  /** Read-only but required and non-null in PUT bodies (Krake: uid, created, modified). */
  "x-required-on-update"?: boolean;
  [Check]?: CheckFn;
  [k: string]: unknown;
}

export function withCheck<T extends TSchema>(schema: T, check: CheckFn): T {
  const previous = (schema as any)[Check] as CheckFn | undefined;
  (schema as any)[Check] = previous ? (v: any) => [...previous(v), ...check(v)] : check;
  return schema;
}

/** Attach defaults and flags to a schema (TypeBox keeps unknown options as schema keywords). */
export function field<T extends TSchema>(schema: T, options: FieldOptions): T {
  return Object.assign(schema, options);
}

export const nullable = <T extends TSchema>(schema: T, options: FieldOptions = {}): TUnion<[T, TNull]> =>
  Type.Union([schema, Type.Null()], options as object);

export const str = (options: FieldOptions = {}) => Type.String(options as object);
export const float = (options: FieldOptions = {}) => Type.Number(options as object);
export const int = (options: FieldOptions = {}) => Type.Integer(options as object);
export const bool = (options: FieldOptions = {}) => Type.Boolean(options as object);
export const datetime = (options: FieldOptions = {}) => Type.String({ format: "date-time", ...options } as object);
export const list = <T extends TSchema>(items: T, options: FieldOptions = {}) => Type.Array(items, options as object);
/** A free-form JSON object (labels values are typed, manifests and kubeconfigs are not). */
export const dict = (options: FieldOptions = {}) => Type.Record(Type.String(), Type.Unknown(), options as object);
export const strDict = (options: FieldOptions = {}) => Type.Record(Type.String(), Type.String(), options as object);
export const floatDict = (options: FieldOptions = {}) => Type.Record(Type.String(), Type.Number(), options as object);
export const anything = (options: FieldOptions = {}) => Type.Unknown(options as object);
export const obj = <P extends TProperties>(properties: P, options: FieldOptions = {}): TObject<P> =>
  Type.Object(properties, { additionalProperties: false, ...options } as object);

/** An enum serialised by member name, as Krake's marshmallow_enum does. */
export function enumOf<const N extends readonly string[]>(names: N, options: FieldOptions = {}) {
  return Type.Union(
    names.map((n) => Type.Literal(n)),
    { "x-enum": true, ...options } as object,
  ) as TUnion<{ [K in keyof N]: ReturnType<typeof Type.Literal<N[K] & string>> } & TSchema[]>;
}

/**
 * Krake's polymorphic container `{"type": "<t>", "<t>": {...}}`. The loader checks `type` first and then
 * only the matching variant's key, so the OpenAPI shape is a oneOf with a discriminator.
 */
export function polymorphic<V extends Record<string, TObject>>(variants: V, options: FieldOptions = {}) {
  const members = Object.entries(variants).map(([name, schema]) =>
    Type.Object({ type: Type.Literal(name), [name]: schema }, { additionalProperties: false }),
  );
  return Type.Union(members, {
    "x-polymorphic": Object.keys(variants),
    discriminator: { propertyName: "type" },
    ...options,
  } as object);
}

/** `api` and `kind` of a resource: optional on input, but if sent they must match. */
export const constant = (value: string) => Type.Literal(value, { default: value });

export const resourceRef = () =>
  obj({
    api: str(),
    namespace: nullable(str(), { default: null }),
    kind: str(),
    name: str(),
  });

export const metricRef = () =>
  obj({
    name: str(),
    weight: float(),
    namespaced: bool({ default: false }),
  });

export const reason = () =>
  obj({
    code: str(),
    message: nullable(str(), { default: null }),
  });

export function isRequired(schema: TSchema): boolean {
  return !("default" in schema) && !(schema as FieldOptions).readOnly && !(schema as FieldOptions)["x-subresource"];
}
