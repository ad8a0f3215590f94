/**
 * What a caller may see of a kind's secret fields. Under RBAC, reading them takes `get` on
 * `<plural>/secrets` (e.g. `clusters/secrets`) in the object's namespace; everyone else gets every secret
 * value replaced by the marker, and the answer carries the `Krake-Redacted` header. Callers with the
 * permission get the stored JSON untouched, byte for byte (Krake's wire format).
 */
import type { KindDef } from "../resources/kind.js";
import { redactInPlace } from "../resources/secrets.js";
import type { Auth } from "./auth/index.js";

export const REDACTED_HEADER = "Krake-Redacted";
export const REDACTED_HEADER_VALUE = "secrets";

export function secretsResource(def: KindDef): string {
  return `${def.plural}/secrets`;
}

export function hasSecrets(def: KindDef): boolean {
  return (def.secrets?.length ?? 0) > 0;
}

/** Whether objects of one namespace are answered with their secrets (null: a global kind). */
export type SecretsVisible = (namespace: string | null) => boolean;

const ALWAYS: SecretsVisible = () => true;

/**
 * The visibility for one request. `namespace` is the request's (null for a global kind or a list-all, whose
 * items are judged one namespace at a time).
 */
export function secretsVisibility(
  auth: Auth,
  user: string,
  def: KindDef,
  namespace: string | null,
): SecretsVisible {
  if (!hasSecrets(def)) return ALWAYS;
  const access = { verb: "get", api: def.group, resource: secretsResource(def) };
  if (!def.namespaced || namespace !== null) {
    const visible = auth.may(user, { ...access, namespace });
    return () => visible;
  }
  const scope = auth.namespaceScope(user, access.verb, access.api, access.resource);
  return (ns) => scope === "all" || scope.has(ns ?? "");
}

/**
 * Whether a response may hold an object whose secrets are hidden: decides the `Krake-Redacted` header before
 * the objects are known (a watch sends its headers first).
 */
export function mayRedact(auth: Auth, user: string, def: KindDef, namespace: string | null): boolean {
  if (!hasSecrets(def)) return false;
  if (!def.namespaced || namespace !== null) return !secretsVisibility(auth, user, def, namespace)(namespace);
  return auth.namespaceScope(user, "get", def.group, secretsResource(def)) !== "all";
}

/** The wire JSON of one object with every secret value replaced by the marker. */
export function redactJson(def: KindDef, json: string): string {
  const obj = JSON.parse(json);
  return redactInPlace(obj, def.secrets ?? []) ? JSON.stringify(obj) : json;
}
