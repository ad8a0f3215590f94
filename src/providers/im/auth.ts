/**
 * IM's Authorization header (im.md §2): one line for IM itself, one per cloud, joined by the literal two
 * characters backslash and `n` (not a newline byte). Fixes Krake's defect X23: the user domain, project
 * domain and region are sent, Keystone versions map to what IM knows, and values are quoted when they
 * contain `;` or `=` (unquoted, IM stops reading the line there).
 */
import { SECRET_MARKER } from "../../resources/secrets.js";

export interface ImCredentials {
  /** The provider's name: the IM line's id. */
  id: string;
  username?: string | null;
  password?: string | null;
  token?: string | null;
}

export interface OpenStackCredentials {
  /** The cloud's name: the cloud line's id. */
  id: string;
  /** Keystone URL. */
  url: string;
  /** Keystone API version of the password method: "2" or "3". */
  version: string;
  username: string;
  password: string;
  userDomainName?: string | null;
  project: string;
  projectDomainId?: string | null;
  region?: string | null;
}

export class ImAuthError extends Error {
  override name = "ImAuthError";
}

const ID = /^[a-zA-Z_.][\w.-]*$/;

/** IM cloud ids must start with a letter, `_` or `.`; Krake names may not, so map them safely. */
export function imId(name: string): string {
  if (ID.test(name)) return name;
  const cleaned = name.replace(/[^\w.-]/g, "_");
  return ID.test(cleaned) ? cleaned : `_${cleaned}`;
}

function value(key: string, v: string): string {
  // A reader without `get` on the provider's or cloud's secrets got the marker instead (src/api/redaction.ts).
  if (v === SECRET_MARKER)
    throw new ImAuthError(`${key} is redacted ('${SECRET_MARKER}'): this identity may not get the secrets it needs`);
  // IM replaces `file(/path)` with a file of the IM host: never forward that from a user.
  if (/^\s*file\(/.test(v)) throw new ImAuthError(`${key}: a value starting with 'file(' is not allowed`);
  if (/[\r\n]/.test(v)) throw new ImAuthError(`${key}: line breaks are not allowed`);
  if (!/[;=]/.test(v) && v.trim() === v) return v;
  // Quoted values may contain ';' and '='; IM keeps the quotes, so pick a quote the value does not use.
  if (!v.includes("'")) return `'${v}'`;
  if (!v.includes('"')) return `"${v}"`;
  throw new ImAuthError(
    `${key}: a value containing ';' or '=' and both quote characters cannot be sent to IM`,
  );
}

function line(pairs: [string, string | null | undefined][]): string {
  return pairs
    .filter((p): p is [string, string] => p[1] !== undefined && p[1] !== null && p[1] !== "")
    .map(([k, v]) => `${k} = ${value(k, v)}`)
    .join("; ");
}

export function imLine(im: ImCredentials): string {
  if (im.token)
    return line([
      ["id", imId(im.id)],
      ["type", "InfrastructureManager"],
      ["token", im.token],
    ]);
  if (!im.username || !im.password)
    throw new ImAuthError("the IM provider needs a token, or a username and a password");
  return line([
    ["id", imId(im.id)],
    ["type", "InfrastructureManager"],
    ["username", im.username],
    ["password", im.password],
  ]);
}

const AUTH_VERSIONS: Record<string, string> = {
  "2": "2.0_password",
  "2.0": "2.0_password",
  "3": "3.x_password",
};

export function openStackLine(os: OpenStackCredentials): string {
  const authVersion = AUTH_VERSIONS[os.version.trim()];
  if (!authVersion) throw new ImAuthError(`Keystone version '${os.version}' is not supported (use 2 or 3)`);
  return line([
    ["id", imId(os.id)],
    ["type", "OpenStack"],
    ["host", os.url],
    ["username", os.username],
    ["password", os.password],
    ["tenant", os.project],
    ["auth_version", authVersion],
    ["domain", authVersion === "3.x_password" ? os.userDomainName : null],
    ["tenant_domain_id", authVersion === "3.x_password" ? os.projectDomainId : null],
    ["service_region", os.region],
  ]);
}

/** The whole header value: IM line, then the cloud line, joined by backslash-n. */
export function imAuthorization(im: ImCredentials, cloud: OpenStackCredentials): string {
  return `${imLine(im)}\\n${openStackLine(cloud)}`;
}
