/**
 * The last line of defence for secrets in logs (api.md D6): every object a log line carries is walked, at
 * any depth, and the values of keys that name a credential are replaced. Code should not log objects that
 * hold secrets in the first place; this catches what slips through (pino's own `redact` paths match one
 * level only).
 */
import type { LoggerOptions } from "pino";
import type { KindDef } from "../resources/kind.js";
import { forEachSecret } from "../resources/secrets.js";

export const LOG_CENSOR = "<hidden>";

/** Keys whose values are credentials, whatever their shape (compared lower-case). */
const SECRET_KEYS = new Set([
  "password",
  "token",
  "secret",
  "authorization",
  "cookie",
  "kubeconfig",
  "client-key-data",
  "client-certificate-data",
  "client_key",
  "complete_key",
  "shutdown_key",
  "auth-provider",
  "exec",
  "x-auth-token",
  "x-subject-token",
  "private_key",
  "stringdata",
]);

/** Any key ending like these is a credential too: `access_token`, `client_secret`, `os_password`, … */
const SECRET_SUFFIX = /(password|secret|token)$/i;

/** Deep enough for any object a controller logs; a pathological cycle or depth is cut, not followed. */
const MAX_DEPTH = 12;

export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.has(key.toLowerCase()) || SECRET_SUFFIX.test(key);
}

/**
 * Secret values this process has seen (the controllers' informers report every object), so that free text
 * can be scrubbed too: an error message that quotes a provider's answer, an IM contextualization log. Values
 * shorter than MIN_SCRUBBED are left alone: replacing every `test` in every message would wreck the logs,
 * and a secret that short is no secret. Bounded: the oldest values are forgotten first.
 */
const knownSecrets = new Set<string>();
const MIN_SCRUBBED = 6;
const MAX_KNOWN = 20_000;

function remember(value: unknown): void {
  if (typeof value === "string") {
    if (value.length < MIN_SCRUBBED || knownSecrets.has(value)) return;
    knownSecrets.add(value);
    if (knownSecrets.size > MAX_KNOWN) knownSecrets.delete(knownSecrets.values().next().value!);
  } else if (value !== null && typeof value === "object") {
    for (const v of Object.values(value)) remember(v);
  }
}

/** Records the secret values of an object of `def`, for `scrubText`. */
export function rememberSecrets(def: KindDef, obj: unknown): void {
  if (!def.secrets?.length) return;
  forEachSecret(obj, def.secrets, (parent, key) => remember(parent[key]));
}

/** `text` with every known secret value replaced by the censor. */
export function scrubText(text: string): string {
  if (knownSecrets.size === 0 || text.length < MIN_SCRUBBED) return text;
  let out = text;
  for (const secret of knownSecrets) if (out.includes(secret)) out = out.split(secret).join(LOG_CENSOR);
  return out;
}

/** A copy of `value` with secret-named keys censored; values without any are returned as they are. */
export function redactForLog(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return scrubText(value);
  if (value instanceof Error) {
    const message = scrubText(value.message);
    return message === value.message ? value : { type: value.name, message };
  }
  if (value === null || typeof value !== "object") return value;
  if (depth >= MAX_DEPTH) return "[too deep]";
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redactForLog(v, depth + 1);
      if (r !== v) changed = true;
      return r;
    });
    return changed ? out : value;
  }
  // Class instances (Buffers, sockets, requests) are left to pino's serializers.
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(value)) {
    const r =
      isSecretKey(k) && v !== null && v !== undefined && v !== "" ? LOG_CENSOR : redactForLog(v, depth + 1);
    if (r !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = r;
    }
  }
  return out ?? value;
}

/** Logger options that censor secrets at any depth of every line's object, and known secret values in its message. */
export const secretRedactingLogOptions: Pick<LoggerOptions, "formatters" | "hooks"> = {
  formatters: {
    log: (obj) => redactForLog(obj) as Record<string, unknown>,
  },
  hooks: {
    logMethod(args, method) {
      const scrubbed = args.map((a) => (typeof a === "string" ? scrubText(a) : a)) as typeof args;
      return method.apply(this, scrubbed);
    },
  },
};
