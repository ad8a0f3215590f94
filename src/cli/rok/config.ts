/**
 * Where `rok` finds the API (cli.md §1.2). krakectl's files are accepted unchanged, so existing
 * `krakectl.yaml` configurations keep working; `rok.yaml` is our own name for the same file.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse } from "yaml";
import { CliError } from "./errors.js";

export interface TlsConfig {
  enabled: boolean;
  client_ca?: string;
  client_cert?: string;
  client_key?: string;
}

export interface RokConfig {
  api_url: string;
  /** The default namespace (krakectl sends no identity header). */
  user: string;
  tls: TlsConfig | null;
  /** Sent as `Authorization: Bearer …`: `token` in the file or KRAKE_TOKEN. */
  token: string | null;
  /** `oidc:` in the file: the issuer `rok login` uses, so a configured user types only `rok login`. */
  oidc: RokOidcConfig | null;
  /** The file the values came from, null when only defaults and environment apply. */
  source: string | null;
}

export interface RokOidcConfig {
  issuer?: string;
  client_id?: string;
  client_secret?: string;
  scope?: string;
  /** CA of the issuer's certificate; relative to the file. */
  ca_file?: string;
}

export const DEFAULT_URL = "http://localhost:8080";
export const DEFAULT_USER = "system:admin";

/** Candidate files in lookup order; the first existing one wins. */
export function configCandidates(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string[] {
  const xdg = env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return [
    join(cwd, "rok.yaml"),
    join(cwd, "krakectl.yaml"),
    join(xdg, "rok.yaml"),
    join(xdg, "krakectl.yaml"),
    "/etc/krakectl/krakectl.yaml",
  ];
}

export function findConfigFile(
  explicit: string | undefined,
  env = process.env,
  cwd = process.cwd(),
): string | null {
  if (explicit) {
    const path = resolve(cwd, explicit);
    // An explicit file that is missing is a mistake worth reporting, not a reason to fall back silently.
    if (!existsSync(path)) throw new CliError(`configuration file not found: ${explicit}`);
    return path;
  }
  return configCandidates(env, cwd).find((p) => existsSync(p)) ?? null;
}

export interface LoadedConfig extends RokConfig {
  warnings: string[];
}

export function loadConfig(
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): LoadedConfig {
  const source = findConfigFile(explicit, env, cwd);
  let raw: any = {};
  if (source) {
    try {
      raw = parse(readFileSync(source, "utf8")) ?? {};
    } catch (err) {
      throw new CliError(`cannot read configuration file ${source}: ${(err as Error).message}`);
    }
    if (typeof raw !== "object" || Array.isArray(raw))
      throw new CliError(`configuration file ${source} is not a mapping`);
  }
  const warnings: string[] = [];
  let apiUrl = String(env.KRAKE_URL || raw.api_url || DEFAULT_URL);
  const user = String(env.KRAKE_NAMESPACE || raw.user || DEFAULT_USER);
  const tls: TlsConfig | null =
    raw.tls && typeof raw.tls === "object" ? { ...raw.tls, enabled: raw.tls.enabled === true } : null;
  // Certificate paths in a file are relative to that file, as kubectl treats kubeconfig paths.
  if (tls && source) {
    for (const key of ["client_ca", "client_cert", "client_key"] as const) {
      const value = tls[key];
      if (value !== undefined && value !== null && typeof value !== "string")
        throw new CliError(`configuration file ${source}: tls.${key} must be a file path`);
      if (value) tls[key] = resolve(dirname(source), value);
    }
  }
  let oidc: RokOidcConfig | null = null;
  if (raw.oidc !== undefined && raw.oidc !== null) {
    if (typeof raw.oidc !== "object" || Array.isArray(raw.oidc))
      throw new CliError(`configuration file ${source}: oidc must be a mapping (issuer, client_id, …)`);
    oidc = {};
    for (const key of ["issuer", "client_id", "client_secret", "scope", "ca_file"] as const) {
      const value = raw.oidc[key];
      if (value === undefined || value === null) continue;
      if (typeof value !== "string") throw new CliError(`configuration file ${source}: oidc.${key} must be a string`);
      oidc[key] = key === "ca_file" && source ? resolve(dirname(source), value) : value;
    }
  }
  const token = env.KRAKE_TOKEN || (typeof raw.token === "string" ? raw.token : null) || null;
  // krakectl forces the scheme to match tls.enabled and warns about the change; we keep that behaviour.
  const wanted = tls?.enabled ? "https:" : "http:";
  try {
    const url = new URL(apiUrl);
    if (url.protocol !== wanted) {
      warnings.push(
        `api_url scheme changed to ${wanted.slice(0, -1)} to match tls.enabled=${tls?.enabled ? "true" : "false"}`,
      );
      url.protocol = wanted;
      apiUrl = url.toString().replace(/\/$/, "");
    }
  } catch {
    throw new CliError(`invalid api_url: ${apiUrl}`);
  }
  return { api_url: apiUrl, user, tls, token, oidc, source, warnings };
}
