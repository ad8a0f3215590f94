/**
 * Failures of the IM simulator, modelled on the exceptions IM itself raises so that every endpoint can turn
 * them into the same status code and message prefix IM 2.0.0 uses (`IM/rest/routers/infrastructures.py`).
 *
 * Two layers, as in IM:
 * - {@link ImFault}: a domain failure raised by the infrastructure logic (IM's `IncorrectInfrastructureException`,
 *   `UnauthorizedUserException`, …). It carries only IM's bare message; each endpoint decides the status code
 *   and prefixes its own text (`Error Getting Inf. prop: `), because IM maps the same exception differently per
 *   endpoint (an invalid user is a 401 when listing but a 400 when reading `/state`).
 * - {@link ImHttpError}: an already-decided HTTP answer (status + message), rendered by IM's `return_error`
 *   (JSON `{message, code}`, an HTML page or plain text, by `Accept`).
 * - {@link ValidationFailure}: FastAPI's 422 `{"detail": [...]}`, always JSON.
 */

/** The kinds of domain failure IM distinguishes; names follow IM's exception classes. */
export type ImFaultKind =
  | "incorrectInfrastructure" // IncorrectInfrastructureException: unknown id (or forgotten after a sync delete)
  | "deletedInfrastructure" // DeletedInfrastructureException: id known but deleted (async delete)
  | "unauthorized" // UnauthorizedUserException: another IM identity owns the infrastructure
  | "invalidUser" // InvaliddUserException: no/unknown IM credentials
  | "incorrectVm" // IncorrectVMException: unknown VM id
  | "deletedVm" // DeletedVMException: VM id known but destroyed
  | "incorrectState" // IncorrectStateException: e.g. DELETE while resources are being added
  | "generic"; // any other Exception (launch errors, parse errors, …) → 400 in almost every endpoint

/** IM's default messages for each exception class (`IM/InfrastructureManager.py`, `IM/InfrastructureInfo.py`). */
export const FAULT_MESSAGES: Readonly<Record<Exclude<ImFaultKind, "generic">, string>> = {
  incorrectInfrastructure: "Invalid infrastructure ID or access not granted.",
  deletedInfrastructure: "Deleted infrastructure.",
  unauthorized: "Access to this infrastructure not granted.",
  invalidUser: "Invalid InfrastructureManager credentials",
  incorrectVm: "Invalid VM ID",
  deletedVm: "Deleted VM.",
  incorrectState: "Invalid State to perform this operation.",
};

/** A domain failure; the endpoint that catches it picks status and prefix. */
export class ImFault extends Error {
  constructor(
    readonly kind: ImFaultKind,
    message?: string,
  ) {
    super(message ?? (kind === "generic" ? "Error" : FAULT_MESSAGES[kind]));
    this.name = "ImFault";
  }
}

/** A decided HTTP error answer, rendered like IM's `return_error(request, status, message)`. */
export class ImHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = "ImHttpError";
  }
}

/** One item of FastAPI's 422 `detail` list; the shape depends on the pydantic version (see im.md §8). */
export type ValidationItem = Record<string, unknown>;

/** FastAPI's request validation error: always `422 application/json {"detail": [...]}`. */
export class ValidationFailure extends Error {
  constructor(readonly detail: ValidationItem[]) {
    super("validation failed");
    this.name = "ValidationFailure";
  }
}

/**
 * Which pydantic major version shapes the 422 items. IM 2.0.0 declares pydantic 2, but the exchanges recorded
 * in im.md §12 came from a server running pydantic 1, so both are offered.
 */
export type ValidationStyle = "pydantic1" | "pydantic2";

/** The accepted spellings of a boolean query parameter under pydantic (1 and 2 agree), compared lower-cased. */
const PYDANTIC_TRUE = new Set(["1", "on", "t", "true", "y", "yes"]);
const PYDANTIC_FALSE = new Set(["0", "off", "f", "false", "n", "no"]);

/** Parses a boolean query value as pydantic does; undefined when it cannot be interpreted. */
export function parsePydanticBool(raw: string): boolean | undefined {
  const value = raw.trim().toLowerCase();
  if (PYDANTIC_TRUE.has(value)) return true;
  if (PYDANTIC_FALSE.has(value)) return false;
  return undefined;
}

/** Parses a boolean query value as IM 1.x's Flask code does (`yes/no/true/false/1/0`, any case). */
export function parseFlaskBool(raw: string): boolean | undefined {
  const value = raw.toLowerCase();
  if (value === "yes" || value === "true" || value === "1") return true;
  if (value === "no" || value === "false" || value === "0") return false;
  return undefined;
}

/** The 422 item for a query/path value that is not a boolean. */
export function boolItem(
  style: ValidationStyle,
  where: "query" | "path",
  name: string,
  input: string,
): ValidationItem {
  return style === "pydantic1"
    ? { loc: [where, name], msg: "value could not be parsed to a boolean", type: "type_error.bool" }
    : {
        type: "bool_parsing",
        loc: [where, name],
        msg: "Input should be a valid boolean, unable to interpret input",
        input,
      };
}

/** The 422 item for a value that is not an integer. */
export function intItem(
  style: ValidationStyle,
  where: "query" | "path",
  name: string,
  input: string,
): ValidationItem {
  return style === "pydantic1"
    ? { loc: [where, name], msg: "value is not a valid integer", type: "type_error.integer" }
    : {
        type: "int_parsing",
        loc: [where, name],
        msg: "Input should be a valid integer, unable to parse string as an integer",
        input,
      };
}

/** The 422 item for a required query parameter that is absent. */
export function missingItem(style: ValidationStyle, where: "query" | "path", name: string): ValidationItem {
  return style === "pydantic1"
    ? { loc: [where, name], msg: "field required", type: "value_error.missing" }
    : { type: "missing", loc: [where, name], msg: "Field required", input: null };
}

/** The 422 item for a path value outside a `Literal[...]` enumeration (e.g. `GET /infrastructures/x/foo`). */
export function literalItem(
  style: ValidationStyle,
  where: "query" | "path",
  name: string,
  input: string,
  permitted: readonly string[],
): ValidationItem {
  const quoted = permitted.map((p) => `'${p}'`);
  if (style === "pydantic1") {
    return {
      loc: [where, name],
      msg: `unexpected value; permitted: ${quoted.join(", ")}`,
      type: "value_error.const",
      ctx: { given: input, permitted: [...permitted] },
    };
  }
  const expected =
    quoted.length > 1 ? `${quoted.slice(0, -1).join(", ")} or ${quoted[quoted.length - 1]}` : quoted[0];
  return {
    type: "literal_error",
    loc: [where, name],
    msg: `Input should be ${expected}`,
    input,
    ctx: { expected },
  };
}
