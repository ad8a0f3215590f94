/**
 * metav1.Status errors as kube-apiserver 1.20 writes them: the same `reason`, `code`, `details` and message
 * phrasing (`deployments.apps "x" not found`, `Operation cannot be fulfilled on …`, `X "n" is invalid: …`).
 */

export interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

/** A failed request: thrown anywhere in the simulator, written as a metav1.Status by the server. */
export class StatusError extends Error {
  constructor(
    readonly code: number,
    /** Empty for the few answers the real server gives without one (500s from the apply machinery). */
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
    this.name = "StatusError";
  }

  toStatus(): Record<string, unknown> {
    const status: Record<string, unknown> = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
    };
    if (this.reason) status.reason = this.reason;
    if (this.details) status.details = this.details;
    status.code = this.code;
    return status;
  }
}

/** The qualified resource as messages show it: `deployments.apps`, `configmaps`. */
export function qualified(group: string, plural: string): string {
  return group ? `${plural}.${group}` : plural;
}

function details(group: string, plural: string, name?: string): StatusDetails {
  const d: StatusDetails = {};
  if (name !== undefined) d.name = name;
  if (group) d.group = group;
  d.kind = plural;
  return d;
}

export function notFound(group: string, plural: string, name: string): StatusError {
  return new StatusError(
    404,
    "NotFound",
    `${qualified(group, plural)} "${name}" not found`,
    details(group, plural, name),
  );
}

export function alreadyExists(group: string, plural: string, name: string): StatusError {
  return new StatusError(
    409,
    "AlreadyExists",
    `${qualified(group, plural)} "${name}" already exists`,
    details(group, plural, name),
  );
}

export function conflict(group: string, plural: string, name: string, why: string): StatusError {
  return new StatusError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(group, plural)} "${name}": ${why}`,
    details(group, plural, name),
  );
}

export const STALE_OBJECT =
  "the object has been modified; please apply your changes to the latest version and try again";

export function badRequest(message: string): StatusError {
  return new StatusError(400, "BadRequest", message);
}

export function forbidden(group: string, plural: string, name: string, why: string): StatusError {
  return new StatusError(
    403,
    "Forbidden",
    `${qualified(group, plural)} "${name}" is forbidden: ${why}`,
    details(group, plural, name),
  );
}

/** The generic 404 of an unknown resource or a path the API does not serve. */
export function resourceNotFound(): StatusError {
  return new StatusError(404, "NotFound", "the server could not find the requested resource", {});
}

export function methodNotAllowed(): StatusError {
  return new StatusError(
    405,
    "MethodNotAllowed",
    "the server does not allow this method on the requested resource",
    {},
  );
}

export function unsupportedMediaType(accepted: string[]): StatusError {
  return new StatusError(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(", ")}`,
  );
}

export function unauthorized(): StatusError {
  return new StatusError(401, "Unauthorized", "Unauthorized");
}

/** One field error of a 422, as field.ErrorList renders it. */
export interface FieldError {
  type:
    | "FieldValueRequired"
    | "FieldValueInvalid"
    | "FieldValueNotSupported"
    | "FieldValueForbidden"
    | "FieldValueDuplicate";
  field: string;
  /** The detail after the type's prefix (`must be between 1 and 65535, inclusive`). */
  detail?: string;
  /** The offending value, for Invalid/NotSupported/Duplicate. */
  value?: unknown;
  /** NotSupported: the allowed values. */
  supported?: string[];
}

/** A value printed as is in a field error (Go's %#v of a struct or map). */
export class GoValue {
  constructor(readonly text: string) {}
}

/** Go's %v / %q rendering of a bad value in a field error. */
function render(value: unknown): string {
  if (value instanceof GoValue) return value.text;
  if (typeof value === "string") return JSON.stringify(value);
  if (value === null || value === undefined) return "null";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function fieldErrorMessage(e: FieldError): string {
  switch (e.type) {
    case "FieldValueRequired":
      return e.detail ? `Required value: ${e.detail}` : "Required value";
    case "FieldValueForbidden":
      return e.detail ? `Forbidden: ${e.detail}` : "Forbidden";
    case "FieldValueDuplicate":
      return `Duplicate value: ${render(e.value)}`;
    case "FieldValueNotSupported":
      return (
        `Unsupported value: ${render(e.value)}` +
        (e.supported ? `: supported values: ${e.supported.map((s) => JSON.stringify(s)).join(", ")}` : "")
      );
    case "FieldValueInvalid":
      return `Invalid value: ${render(e.value)}${e.detail ? `: ${e.detail}` : ""}`;
  }
}

/** `Kind.group "name" is invalid: field: message` (one error) or `…: [a, b]` (several), code 422. */
export function invalid(kind: string, group: string, name: string, errors: FieldError[]): StatusError {
  const qualifiedKind = group ? `${kind}.${group}` : kind;
  const causes = errors.map((e) => ({ reason: e.type, message: fieldErrorMessage(e), field: e.field }));
  const parts = causes.map((c) => `${c.field}: ${c.message}`);
  const list = parts.length === 1 ? parts[0] : `[${parts.join(", ")}]`;
  const d: StatusDetails = {};
  if (name) d.name = name;
  if (group) d.group = group;
  d.kind = kind;
  d.causes = causes;
  return new StatusError(422, "Invalid", `${qualifiedKind} "${name}" is invalid: ${list}`, d);
}

/** A Status for a successful delete: `{status: Success, details: {name, group, kind, uid}}`. */
export function deleted(group: string, plural: string, name: string, uid: string): Record<string, unknown> {
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Success",
    details: { ...details(group, plural, name), uid },
  };
}
