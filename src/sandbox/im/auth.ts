/**
 * IM's `Authorization` header: its parser (`IM/auth.py` `Authentication.read_auth_data` / `split_line`, and
 * `get_auth_header` in `IM/rest/routers/__init__.py`), the credential check (`check_auth_data`) and the
 * ownership rule (`InfrastructureInfo.is_authorized`).
 *
 * The header is IM's "auth file" on one line: lines joined by the two characters backslash + `n`, pairs split on
 * `;`, key and value on `=`. Re-implemented here rather than approximated because clients get it subtly wrong
 * (a real newline, an unquoted `=` in a password, an `id` starting with a digit) and the simulator must fail
 * them exactly where IM would.
 */
import { ImFault } from "./errors.js";

/** One credential line, e.g. `{id: "im", type: "InfrastructureManager", username: "u", password: "p"}`. */
export type AuthItem = Record<string, string>;

/**
 * The header could not even be turned into credential items. IM 2.0.0 lets this exception escape its
 * dependency, so the generic handler answers **500** with the message; IM 1.x answers 401
 * `No authentication data provided`.
 */
export class AuthHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AuthHeaderError";
  }
}

/** `[a-zA-Z_.][\w\d_.-]*` with Python's Unicode-aware `\w`, matched against the whole id. */
const CLOUD_ID = /^[a-zA-Z_.][\p{L}\p{N}_.-]*$/u;

/** Types that are not clouds (`CloudInfo.get_cloud_list`). */
const NON_CLOUD_TYPES = new Set(["InfrastructureManager", "VMRC", "EGIIS"]);

/** Keys whose values are secrets: masked in the simulator's request log. */
const SECRET_KEYS = new Set([
  "password",
  "token",
  "proxy",
  "auth_token",
  "private_key",
  "secret_key",
  "client_secret",
  "access_token",
  "refresh_token",
  "key",
]);

/**
 * IM's `split_line`: split on `separator` outside single or double quotes. With `maintainQuotes` the quote
 * characters stay in the tokens (first level, so the second-level split can still see them); without it they
 * are dropped — which is why `password = 'a;b'` yields the value `a;b`, without quotes. The last token is kept
 * only if it is not blank or had quotes (so a trailing `;` adds nothing).
 */
export function splitLine(line: string, separator = ";", maintainQuotes = false): string[] {
  const tokens: string[] = [];
  let token = "";
  let inSingle = false;
  let inDouble = false;
  let hasQuotes = false;
  for (const ch of line) {
    if (ch === '"' && !inSingle) {
      hasQuotes = true;
      inDouble = !inDouble;
      if (maintainQuotes) token += ch;
    } else if (ch === "'" && !inDouble) {
      hasQuotes = true;
      inSingle = !inSingle;
      if (maintainQuotes) token += ch;
    } else if (ch === separator && !inSingle && !inDouble) {
      tokens.push(token);
      token = "";
    } else {
      token += ch;
    }
  }
  if (token.trim() !== "" || hasQuotes) tokens.push(token);
  return tokens;
}

/**
 * IM's `read_auth_data` on a list of lines. Blank lines and `#` comments are skipped; within a line, a token
 * without exactly one unquoted `=` stops the parsing of the rest of that line (the pairs read so far are kept).
 * Values of the form `file(/path)` are **not** read: IM would read that file on its own host and keep the text
 * as-is when it cannot, which is what happens here.
 */
export function readAuthLines(lines: readonly string[]): AuthItem[] {
  const items: AuthItem[] = [];
  for (const raw of lines) {
    const line = raw.trim();
    if (line.length === 0 || line.startsWith("#")) continue;
    const item: AuthItem = {};
    for (const token of splitLine(line, ";", true)) {
      const keyValue = splitLine(token, "=");
      if (keyValue.length !== 2) break;
      item[keyValue[0].trim()] = keyValue[1].trim().replaceAll("\\n", "\n");
    }
    items.push(item);
  }
  return items;
}

/**
 * Turns an `Authorization` header value into credential items as IM 2.0.0's `get_auth_header` does:
 * - `\\n` (backslash, backslash, n) becomes a real newline inside values (PEM keys);
 * - lines are split on the two characters backslash + `n` — a real newline is **not** a separator (HTTP cannot
 *   carry one in a header anyway);
 * - a header that is one JSON array is read as JSON (IM ≥ 1.19.1);
 * - `Basic …` / `Bearer …` only mean something with a Vault server, which the simulator does not have: the value
 *   falls through to the line parser (and yields no IM credentials), except that a Basic value whose decoded
 *   text has no `:` crashes IM's unpacking (a 500), reproduced here;
 * - every item's non-empty `id` must match `[a-zA-Z_.][\w.-]*`.
 */
export function parseAuthorizationHeader(value: string): AuthItem[] {
  if (value.startsWith("Basic ")) {
    const decoded = Buffer.from(value.slice(6), "base64").toString("utf8");
    if (!decoded.includes(":")) throw new AuthHeaderError("list index out of range");
  }
  const text = value.replaceAll("\\\\n", "\n");
  const lines = text.split("\\n");
  let items: AuthItem[] | undefined;
  if (lines.length === 1) items = readJsonAuth(lines[0]);
  items ??= readAuthLines(lines);
  for (const item of items) {
    const id = item.id;
    if (id !== undefined && id !== "" && !CLOUD_ID.test(id)) {
      throw new AuthHeaderError(`Incorrect value in auth item id: ${id}`);
    }
  }
  return items;
}

/** The JSON form: one array of objects. Anything else that parses as JSON yields no usable credentials. */
function readJsonAuth(line: string): AuthItem[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((entry): entry is Record<string, unknown> => typeof entry === "object" && entry !== null)
    .map((entry) => {
      const item: AuthItem = {};
      for (const [k, v] of Object.entries(entry)) {
        if (v === null || typeof v === "object") continue;
        item[k] = String(v);
      }
      return item;
    });
}

/** The `InfrastructureManager` items of a credential list. */
export function imItems(items: readonly AuthItem[]): AuthItem[] {
  return items.filter((item) => item.type === "InfrastructureManager");
}

/** A cloud credential line (OpenStack, Dummy, …), with IM's generated id when the line has none. */
export interface CloudLine {
  id: string;
  type: string;
  item: AuthItem;
}

/** `CloudInfo.get_cloud_list`: every item whose type is not IM's own; ids default to `<type><index>`. */
export function cloudLines(items: readonly AuthItem[]): CloudLine[] {
  const clouds: CloudLine[] = [];
  items.forEach((item, index) => {
    if (item.type === undefined || NON_CLOUD_TYPES.has(item.type)) return;
    clouds.push({ id: item.id ? item.id : `${item.type}${index}`, type: item.type, item });
  });
  return clouds;
}

/**
 * An IM identity: IM owns infrastructures by username + password (the `id` plays no part). OIDC users get
 * IM's synthetic username `__OPENID__<sub>` and a password derived from issuer + subject, so the same person
 * keeps access with a fresh token.
 */
export interface ImIdentity {
  username: string;
  password: string;
  viaToken: boolean;
}

/** A user the simulated IM accepts (its `USER_DB`). */
export interface ImUser {
  username: string;
  password: string;
}

/** An OIDC access token the simulated IM accepts, and whose subject it belongs to. */
export interface ImTokenUser {
  token: string;
  subject: string;
}

/** IM's prefix for OIDC users' synthetic usernames (`InfrastructureInfo.OPENID_USER_PREFIX`). */
export const OPENID_USER_PREFIX = "__OPENID__";
const SIMULATED_ISSUER = "https://oidc.im-simulator.invalid/";

/** The accepted credentials: `"any"` is IM's default (empty `USER_DB`: every pair is valid and is an identity). */
export interface CredentialPolicy {
  users: "any" | readonly ImUser[];
  tokens: readonly ImTokenUser[];
}

/**
 * IM's `check_auth_data`: at least one IM item; each with a known token or a valid username/password, else
 * {@link ImFault} `invalidUser` with IM's exact message. Returns the identities the call acts as.
 */
export function checkAuthData(items: readonly AuthItem[], policy: CredentialPolicy): ImIdentity[] {
  const im = imItems(items);
  if (im.length === 0)
    throw new ImFault("invalidUser", "No credentials provided for the InfrastructureManager.");
  return im.map((item) => {
    if (item.token !== undefined) {
      const known = policy.tokens.find((t) => t.token === item.token);
      if (!known) {
        throw new ImFault(
          "invalidUser",
          "Invalid InfrastructureManager credentials. Invalid token or Client credentials.",
        );
      }
      return {
        username: `${OPENID_USER_PREFIX}${known.subject}`,
        password: `${SIMULATED_ISSUER}${known.subject}`,
        viaToken: true,
      };
    }
    if (item.username !== undefined) {
      if (item.username.startsWith(OPENID_USER_PREFIX)) {
        throw new ImFault("invalidUser", "Invalid username used for the InfrastructureManager.");
      }
      const password = item.password;
      const valid =
        policy.users === "any" ||
        policy.users.some((user) => user.username === item.username && user.password === password);
      if (!valid || password === undefined) throw new ImFault("invalidUser");
      return { username: item.username, password, viaToken: false };
    }
    throw new ImFault("invalidUser", "No username nor token for the InfrastructureManager.");
  });
}

/**
 * IM's `is_authorized`: some owner matches some caller identity by username and password; an owner that came
 * from a token only matches callers that also used a token.
 */
export function isAuthorized(owners: readonly ImIdentity[], callers: readonly ImIdentity[]): boolean {
  return owners.some((owner) =>
    callers.some(
      (caller) =>
        (!owner.viaToken || caller.viaToken) &&
        owner.username === caller.username &&
        owner.password === caller.password,
    ),
  );
}

/**
 * The header with every secret value replaced by `***`, keeping keys, order and separators, so a test can
 * assert the exact wire form a client sends without the log ever holding a password.
 */
export function redactAuthorization(value: string): string {
  if (value.startsWith("Basic ") || value.startsWith("Bearer ")) return `${value.split(" ")[0]} ***`;
  if (value.trimStart().startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (Array.isArray(parsed)) return JSON.stringify(redactItems(readJsonAuth(value) ?? []));
    } catch {
      // not JSON: redact it as lines below
    }
  }
  return value
    .split("\\n")
    .map((line) =>
      splitKeepingQuotes(line)
        .map((pair) => {
          const eq = pair.indexOf("=");
          if (eq === -1) return pair;
          const key = pair.slice(0, eq).trim();
          if (!SECRET_KEYS.has(key)) return pair;
          const spaced = pair.slice(eq + 1).startsWith(" ") ? " " : "";
          return `${pair.slice(0, eq + 1)}${spaced}***`;
        })
        .join(";"),
    )
    .join("\\n");
}

/** Splits on `;` outside quotes, keeping every token (even a trailing empty one) so the line can be rejoined. */
function splitKeepingQuotes(line: string): string[] {
  const tokens: string[] = [];
  let token = "";
  let quote: string | undefined;
  for (const ch of line) {
    if ((ch === "'" || ch === '"') && (quote === undefined || quote === ch)) quote = quote ? undefined : ch;
    if (ch === ";" && quote === undefined) {
      tokens.push(token);
      token = "";
    } else token += ch;
  }
  tokens.push(token);
  return tokens;
}

/** The credential items with secret values masked, for the request log. */
export function redactItems(items: readonly AuthItem[]): AuthItem[] {
  return items.map((item) =>
    Object.fromEntries(Object.entries(item).map(([k, v]) => [k, SECRET_KEYS.has(k) ? "***" : v])),
  );
}
