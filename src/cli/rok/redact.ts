/**
 * api.md D6: tables never show secrets, although the API returns them (and `-o json|yaml` print them as
 * returned, because users pipe them into jq). Used only for table output. The kind's declared secret
 * fields (KindDef.secrets) decide first; the key heuristics below are a safety net for anything else.
 */
import type { KindDef } from "../../resources/kind.js";
import { redactInPlace } from "../../resources/secrets.js";

export const REDACTED = "<hidden>";

/** Keys whose string values are secrets wherever they appear (IM, OpenStack, influx, kubeconfig users, hooks). */
const SECRET_KEYS = new Set([
  "password",
  "token",
  "secret",
  "client-key-data",
  "client-certificate-data",
  "client-key",
  "key",
]);
/** Keys whose whole value (any shape) is a credential: kubeconfig plugins carry secrets in free-form maps. */
const SECRET_SUBTREES = new Set(["auth-provider", "exec"]);

/** A deep copy of `obj` with every secret value replaced: the fields `def` declares, and any key that looks secret. */
export function redactSecrets<T>(obj: T, def?: KindDef): T {
  const out = walk(obj) as any;
  if (def?.secrets) redactInPlace(out, def.secrets, REDACTED);
  // metadata holds no secrets, and a label may well be called `token`: keep it as it is.
  if (out && typeof out === "object" && !Array.isArray(out) && "metadata" in out)
    out.metadata = (obj as any).metadata;
  return out as T;
}

function walk(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(walk);
  if (!value || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (SECRET_SUBTREES.has(k) && v !== null && v !== undefined) out[k] = REDACTED;
    // `auth.password` in an OpenStack spec is an object (the auth method): recurse, only strings are secrets.
    else if (SECRET_KEYS.has(k) && typeof v === "string" && v !== "") out[k] = REDACTED;
    else out[k] = walk(v);
  }
  return out;
}
