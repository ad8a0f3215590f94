/**
 * Krake's update merge (api.md §10): nested objects merge field by field, lists and free-form dicts are
 * replaced wholesale, polymorphic containers are replaced by the body's type and content; read-only and
 * subresource fields are skipped; an immutable field that differs is an error.
 */
import { Kind, type TSchema } from "@sinclair/typebox";
import type { FieldOptions } from "../resources/schema.js";
import { Errors } from "./errors.js";

/**
 * `raw` is the body as the client sent it (before defaults were filled in): a field marked `x-extension` (ours,
 * unknown to Krake's clients) that the client did not send keeps its stored value, so a Krake client's
 * GET-modify-PUT does not wipe it.
 */
export function mergeUpdate(schema: TSchema, stored: any, body: any, raw: unknown = body): any {
  const properties = (schema as any).properties as Record<string, TSchema & FieldOptions>;
  const out: any = { ...stored };
  for (const [name, prop] of Object.entries(properties)) {
    if (prop.readOnly || prop["x-subresource"]) continue;
    if (!(name in body)) continue;
    if (prop["x-extension"] && !sent(raw, name)) continue;
    const next = body[name];
    if (prop["x-immutable"]) {
      if (!deepEqual(stored[name], next)) throw Errors.immutable(name);
      continue;
    }
    const isObject = (prop as any)[Kind] === "Object";
    out[name] =
      isObject && next !== null && stored[name] !== null && typeof stored[name] === "object"
        ? mergeUpdate(prop, stored[name], next, sent(raw, name) ? (raw as any)[name] : undefined)
        : next;
  }
  return out;
}

function sent(raw: unknown, name: string): boolean {
  return typeof raw === "object" && raw !== null && name in raw;
}

/** Merges the body's status into the stored status field by field (the status subresource). */
export function mergeStatus(statusSchema: TSchema, stored: any, body: any, raw: unknown = body): any {
  if (body === null || body === undefined) return stored;
  if ((statusSchema as any)[Kind] !== "Object" || stored === null) return body;
  const properties = (statusSchema as any).properties as Record<string, TSchema & FieldOptions>;
  const out: any = { ...stored };
  for (const [name, prop] of Object.entries(properties)) {
    if (!(name in body)) continue;
    if (prop["x-extension"] && !sent(raw, name)) continue;
    const isObject = (prop as any)[Kind] === "Object";
    out[name] =
      isObject && body[name] !== null && stored[name] !== null && typeof stored[name] === "object"
        ? mergeStatus(prop, stored[name], body[name], sent(raw, name) ? (raw as any)[name] : undefined)
        : body[name];
  }
  return out;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ak = Object.keys(a as object);
  const bk = Object.keys(b as object);
  if (ak.length !== bk.length) return false;
  for (const k of ak) {
    if (!Object.prototype.hasOwnProperty.call(b, k)) return false;
    if (!deepEqual((a as any)[k], (b as any)[k])) return false;
  }
  return true;
}
