/**
 * Where `rok login` keeps its tokens: `rok-credentials.json` beside the configuration file (or in
 * $XDG_CONFIG_HOME when there is none), mode 0600, one login per API URL. Every command uses the login for
 * its API when no KRAKE_TOKEN or `token:` is set, refreshing the access token shortly before it expires.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import type { LoadedConfig } from "./config.js";
import { CliError } from "./errors.js";
import { discover, GrantError, refreshGrant, type OidcSettings, type TokenSet } from "./oidc.js";

export const CREDENTIALS_FILE = "rok-credentials.json";

/** Refresh when the access token has less than this left. */
const REFRESH_MARGIN_MS = 60_000;

export interface StoredLogin {
  issuer: string;
  client_id: string;
  client_secret?: string;
  scope: string;
  ca_file?: string;
  access_token: string;
  refresh_token?: string;
  /** ISO 8601. */
  expires_at: string;
}

interface CredentialsFile {
  logins: Record<string, StoredLogin>;
}

export function credentialsPath(
  config: Pick<LoadedConfig, "source">,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const dir = config.source ? dirname(config.source) : env.XDG_CONFIG_HOME || join(homedir(), ".config");
  return join(dir, CREDENTIALS_FILE);
}

function read(path: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { logins: {} };
    throw new CliError(
      `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed.logins === "object" && !Array.isArray(parsed.logins)) return parsed;
  } catch {
    // reported below
  }
  throw new CliError(`${path} is not a rok credentials file; remove it and run rok login again`);
}

function write(path: string, file: CredentialsFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  // Created 0600 from the start: the tokens are never readable by others, not even for a moment.
  writeFileSync(temp, JSON.stringify(file, null, 2) + "\n", { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
}

export function loadLogin(path: string, apiUrl: string): StoredLogin | null {
  return read(path).logins[apiUrl] ?? null;
}

export function saveLogin(path: string, apiUrl: string, login: StoredLogin): void {
  const file = read(path);
  file.logins[apiUrl] = login;
  write(path, file);
}

/** True when there was a login to remove. */
export function removeLogin(path: string, apiUrl: string): boolean {
  const file = read(path);
  if (!file.logins[apiUrl]) return false;
  delete file.logins[apiUrl];
  write(path, file);
  return true;
}

export function storedLogin(settings: OidcSettings & { caFile?: string }, tokens: TokenSet): StoredLogin {
  return {
    issuer: settings.issuer,
    client_id: settings.clientId,
    ...(settings.clientSecret ? { client_secret: settings.clientSecret } : {}),
    scope: settings.scope,
    ...(settings.caFile ? { ca_file: settings.caFile } : {}),
    access_token: tokens.access_token,
    ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
    expires_at: new Date(tokens.expires_at).toISOString(),
  };
}

/**
 * The access token of the login for `apiUrl`, refreshed first when it is about to expire; null when there is
 * no login. Refreshing is done once per process.
 */
export function loginTokenSource(path: string, apiUrl: string): (() => Promise<string | null>) | null {
  const login = loadLogin(path, apiUrl);
  if (!login) return null;
  let current: Promise<string> | null = null;
  return () => (current ??= freshToken(path, apiUrl, login));
}

async function freshToken(path: string, apiUrl: string, login: StoredLogin): Promise<string> {
  const expiresAt = Date.parse(login.expires_at);
  if (expiresAt - Date.now() > REFRESH_MARGIN_MS) return login.access_token;
  const expired = () =>
    new CliError(`your login to ${apiUrl} expired at ${login.expires_at}; run rok login again`);
  if (!login.refresh_token) {
    if (expiresAt > Date.now()) return login.access_token;
    throw expired();
  }
  const settings: OidcSettings = {
    issuer: login.issuer,
    clientId: login.client_id,
    clientSecret: login.client_secret,
    scope: login.scope,
    ca: login.ca_file ? readFileSync(login.ca_file) : undefined,
  };
  try {
    const tokens = await refreshGrant(settings, await discover(settings), login.refresh_token);
    saveLogin(path, apiUrl, { ...login, ...storedLogin({ ...settings, caFile: login.ca_file }, tokens) });
    return tokens.access_token;
  } catch (err) {
    // The issuer is down but the token still works for a moment: use it rather than fail.
    if (expiresAt > Date.now() && !(err instanceof GrantError)) return login.access_token;
    if (err instanceof GrantError) throw expired();
    throw err;
  }
}
