/**
 * The error catalogue: every error the API answers, with Krake's status codes, titles and detail texts.
 * Bodies are RFC 7807 problem+json. Titles are stable codes clients may branch on.
 */
import type { KindDef } from "../resources/kind.js";
import type { Issue } from "../resources/schema.js";

export interface FieldError {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string | null,
    readonly detail: string,
    readonly errors?: FieldError[],
    readonly headers?: Record<string, string>,
  ) {
    super(detail);
    this.name = "ApiError";
  }
}

export const DEFAULT_PROBLEM_BASE_URL = "https://rak-n-rok.readthedocs.io/projects/krake/en/latest/user/problem.html";

export function problemBody(err: ApiError, baseUrl: string | null, instance?: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    type: err.title && baseUrl ? `${baseUrl}#${err.title.toLowerCase().replace(/_/g, "-")}` : "about:blank",
  };
  if (err.title) body.title = err.title;
  body.status = err.status;
  body.detail = err.detail;
  if (instance) body.instance = instance;
  if (err.errors) body.errors = err.errors;
  return body;
}

export const MAX_REPORTED_ISSUES = 100;

/** RFC 6750: a 401 names the scheme the caller should use. */
const BEARER_CHALLENGE = { "WWW-Authenticate": 'Bearer realm="krake"' };

const where = (def: KindDef, ns: string | null) => `in namespace ${ns === null ? "None" : `'${ns}'`}`;

export function formatPath(path: (string | number)[]): string {
  return path.map(String).join(".");
}

export const Errors = {
  notFound: (def: KindDef, name: string, ns: string | null) =>
    new ApiError(404, "NOT_FOUND_ERROR", `'${def.kind}' '${name}' does not exist ${where(def, ns)}`),
  alreadyExists: (def: KindDef, name: string, ns: string | null) =>
    new ApiError(
      409,
      "RESOURCE_ALREADY_EXISTS",
      def.namespaced ? `${def.kind} '${name}' already exists in namespace '${ns}'` : `${def.kind} '${name}' already exists`,
    ),
  noUpdate: () => new ApiError(400, "UPDATE_ERROR", "The body contained no update."),
  immutable: (field: string) => new ApiError(400, "UPDATE_ERROR", `Trying to update an immutable field: ${field}`),
  finalizersDuringDeletion: () =>
    new ApiError(409, "UPDATE_ERROR", "Finalizers can only be removed if a deletion is in progress."),
  concurrentWrites: () => new ApiError(409, "TRANSACTION_ERROR", "Concurrent writes to database"),
  staleResourceVersion: (sent: string, current: string) =>
    new ApiError(
      409,
      "TRANSACTION_ERROR",
      `The object has been modified: metadata.resource_version is '${sent}' in the request but '${current}' in the store. Read the object again and reapply your change.`,
    ),
  resourceVersionExpired: (requested: number, oldest: number) =>
    new ApiError(
      410,
      "RESOURCE_VERSION_EXPIRED",
      `resource_version ${requested} is too old: the oldest revision still available is ${oldest}. List again and watch from the list's resource_version.`,
    ),
  validation: (issues: Issue[]) => {
    // A hostile body can fail in 100,000 places; the first ones are what a person can act on.
    const shown = issues.slice(0, MAX_REPORTED_ISSUES);
    const errors = shown.map((i) => ({ path: formatPath(i.path), message: i.message }));
    if (issues.length > shown.length) {
      errors.push({ path: "", message: `… and ${issues.length - shown.length} more errors` });
    }
    const summary = errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join("; ");
    const count = issues.length === 1 ? "1 validation error" : `${issues.length} validation errors`;
    return new ApiError(422, null, `${count}: ${summary}`, errors);
  },
  unsupportedMediaType: () => new ApiError(415, null, "415: Unsupported Media Type"),
  payloadTooLarge: (limit: number) =>
    new ApiError(413, null, `413: Payload Too Large: the request body exceeds the limit of ${limit} bytes`),
  objectTooLarge: (bytes: number, max: number) =>
    new ApiError(413, null, `413: Payload Too Large: the stored object would have ${bytes} bytes; the store accepts at most ${max}`),
  unauthenticated: () => new ApiError(401, null, "401: No user has been authenticated.", undefined, BEARER_CHALLENGE),
  /** A credential was sent but is not acceptable; `why` says why (expired, wrong audience…), never the credential. */
  credentialRejected: (why: string, title: string | null = null) =>
    new ApiError(401, title, `401: ${why}`, undefined, BEARER_CHALLENGE),
  invalidKeystoneToken: (status: string) =>
    new ApiError(401, "INVALID_KEYSTONE_TOKEN", `Invalid Keystone token (HTTP ${status})`, undefined, BEARER_CHALLENGE),
  invalidKeycloakToken: (status: string) =>
    new ApiError(401, "INVALID_KEYCLOAK_TOKEN", `Invalid Keycloak token (HTTP ${status})`, undefined, BEARER_CHALLENGE),
  /** The identity provider (OIDC issuer, Keystone, Keycloak) cannot be asked: the credential is not known bad. */
  authenticationUnavailable: (provider: string, why: string) =>
    new ApiError(503, "AUTHENTICATION_UNAVAILABLE", `Cannot verify the credential: ${provider} is unavailable (${why})`, undefined, {
      "Retry-After": "5",
    }),
  anonymousDenied: () => new ApiError(401, null, "401: Unauthorized"),
  invalidToken: (detail: string) => new ApiError(401, null, `401: ${detail}`),
  forbidden: () => new ApiError(403, null, "403: Forbidden"),
  routeNotFound: () => new ApiError(404, null, "404: Not Found"),
  methodNotAllowed: (allow: string[]) =>
    new ApiError(405, null, "405: Method Not Allowed", undefined, { Allow: allow.join(", ") }),
  storeUnavailable: (message: string) =>
    new ApiError(503, "STORE_UNAVAILABLE", `The store is unavailable: ${message}`, undefined, { "Retry-After": "1" }),
  internal: () => new ApiError(500, "INTERNAL_ERROR", "500: Internal Server Error"),
  rateLimited: (perSecond: number, burst: number, retryAfterSeconds: number) =>
    new ApiError(
      429,
      "RATE_LIMITED",
      `Too many requests: the limit is ${perSecond} requests per second per user (bursts of up to ${burst}). Retry after ${retryAfterSeconds} s.`,
      undefined,
      { "Retry-After": String(retryAfterSeconds) },
    ),
  tooManyWatches: (max: number, retryAfterSeconds: number) =>
    new ApiError(
      429,
      "TOO_MANY_WATCHES",
      `Too many open watches: at most ${max} watches per user may be open at once. Close one and retry.`,
      undefined,
      { "Retry-After": String(retryAfterSeconds) },
    ),
  /** A stored value that does not open with the encryption keys; the log names the key and store key. */
  storeDecryption: () =>
    new ApiError(
      500,
      "STORE_DECRYPTION_ERROR",
      "500: a stored value cannot be decrypted with this server's encryption keys; the server log names the key and the stored object",
    ),
};
