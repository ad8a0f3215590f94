/**
 * rok's side of OpenID Connect: the issuer's discovery document, the resource-owner password grant, the
 * device authorization grant (RFC 8628) and refresh (RFC 6749 §6). Tokens are returned, never printed.
 */
import { providerClient, ProviderUnavailableError } from "../../util/provider-client.js";
import { CliError } from "./errors.js";

export const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  scope: string;
  /** PEM of the issuer's CA. */
  ca?: Buffer;
}

export interface Discovery {
  token_endpoint: string;
  device_authorization_endpoint?: string;
  grant_types_supported?: string[];
}

export interface TokenSet {
  access_token: string;
  refresh_token?: string;
  /** Milliseconds since the epoch. */
  expires_at: number;
}

/** The error an issuer answered (`error`, RFC 6749 §5.2). */
export class GrantError extends CliError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const OTHER_FLOW: Record<string, string> = {
  password: "rok login --device (device authorization)",
  [DEVICE_GRANT]: "rok login --username NAME (password)",
};
const FLOW_NAME: Record<string, string> = {
  password: "the password grant",
  [DEVICE_GRANT]: "device authorization",
};

async function call(
  settings: OidcSettings,
  url: string,
  form?: Record<string, string>,
  signal?: AbortSignal,
): Promise<{ status: number; body: any }> {
  const issuer = providerClient({ provider: "the OIDC issuer", ca: settings.ca, timeoutMs: 15_000 });
  try {
    const res = await issuer(
      url,
      form
        ? {
            method: "POST",
            headers: { "Content-Type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams(form).toString(),
            signal,
          }
        : { signal },
    );
    return { status: res.status, body: res.body };
  } catch (err) {
    if (!(err instanceof ProviderUnavailableError)) throw err;
    throw new CliError(`cannot reach the OIDC issuer at ${new URL(url).origin}: ${err.message}`);
  }
}

export async function discover(settings: OidcSettings): Promise<Discovery> {
  const url = `${settings.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
  const res = await call(settings, url);
  if (res.status !== 200 || typeof res.body?.token_endpoint !== "string")
    throw new CliError(
      `the OIDC issuer ${settings.issuer} has no usable discovery document (HTTP ${res.status} from ${url})`,
    );
  return res.body;
}

/** Refuses early when the discovery document says the issuer does not offer `grant`. */
export function checkGrantSupported(discovery: Discovery, grant: string): void {
  const supported = discovery.grant_types_supported;
  if (Array.isArray(supported) && !supported.includes(grant)) throw unsupported(grant);
  if (grant === DEVICE_GRANT && !discovery.device_authorization_endpoint) throw unsupported(grant);
}

function unsupported(grant: string): CliError {
  return new CliError(
    `the OIDC issuer does not allow ${FLOW_NAME[grant] ?? grant} for rok; try ${OTHER_FLOW[grant] ?? "another flow"}`,
  );
}

function clientForm(settings: OidcSettings): Record<string, string> {
  return {
    client_id: settings.clientId,
    ...(settings.clientSecret ? { client_secret: settings.clientSecret } : {}),
  };
}

function tokenSet(body: any, now: number): TokenSet {
  if (typeof body?.access_token !== "string" || !body.access_token)
    throw new CliError("the OIDC issuer answered without an access token");
  const lifetime = typeof body.expires_in === "number" ? body.expires_in : Number(body.expires_in ?? 300);
  return {
    access_token: body.access_token,
    ...(typeof body.refresh_token === "string" ? { refresh_token: body.refresh_token } : {}),
    expires_at: now + (Number.isFinite(lifetime) ? lifetime : 300) * 1000,
  };
}

async function tokenRequest(
  settings: OidcSettings,
  discovery: Discovery,
  grant: string,
  form: Record<string, string>,
): Promise<TokenSet> {
  const now = Date.now();
  const res = await call(settings, discovery.token_endpoint, {
    grant_type: grant,
    ...clientForm(settings),
    ...form,
  });
  if (res.status === 200) return tokenSet(res.body, now);
  const code = typeof res.body?.error === "string" ? res.body.error : `http_${res.status}`;
  if (code === "unsupported_grant_type" || code === "unauthorized_client") throw unsupported(grant);
  const description =
    typeof res.body?.error_description === "string" ? `: ${res.body.error_description}` : "";
  throw new GrantError(code, `the OIDC issuer refused the login (${code}${description})`);
}

export async function passwordGrant(
  settings: OidcSettings,
  discovery: Discovery,
  username: string,
  password: string,
): Promise<TokenSet> {
  checkGrantSupported(discovery, "password");
  return tokenRequest(settings, discovery, "password", { username, password, scope: settings.scope });
}

export async function refreshGrant(
  settings: OidcSettings,
  discovery: Discovery,
  refreshToken: string,
): Promise<TokenSet> {
  const set = await tokenRequest(settings, discovery, "refresh_token", { refresh_token: refreshToken });
  // An issuer may keep the refresh token as it is and not send it again.
  return { refresh_token: refreshToken, ...set };
}

export interface DevicePrompt {
  verification_uri: string;
  verification_uri_complete?: string;
  user_code: string;
  expires_in: number;
}

export type Sleep = (ms: number) => Promise<void>;
const sleepFor: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * RFC 8628: asks for a device code, shows where to approve it, then polls the token endpoint every
 * `interval` seconds (5 s more after each slow_down) until approved, denied or expired.
 */
export async function deviceGrant(
  settings: OidcSettings,
  discovery: Discovery,
  show: (prompt: DevicePrompt) => void,
  sleep: Sleep = sleepFor,
): Promise<TokenSet> {
  checkGrantSupported(discovery, DEVICE_GRANT);
  const res = await call(settings, discovery.device_authorization_endpoint!, {
    ...clientForm(settings),
    scope: settings.scope,
  });
  if (res.status !== 200 || typeof res.body?.device_code !== "string") {
    const code = typeof res.body?.error === "string" ? res.body.error : `HTTP ${res.status}`;
    if (code === "unauthorized_client" || code === "unsupported_grant_type") throw unsupported(DEVICE_GRANT);
    throw new CliError(`the OIDC issuer refused the device login (${code})`);
  }
  const start = res.body;
  show({
    verification_uri: start.verification_uri ?? start.verification_url,
    verification_uri_complete: start.verification_uri_complete,
    user_code: start.user_code,
    expires_in: start.expires_in,
  });
  let interval = typeof start.interval === "number" && start.interval > 0 ? start.interval : 5;
  const deadline = Date.now() + (typeof start.expires_in === "number" ? start.expires_in : 600) * 1000;
  for (;;) {
    await sleep(interval * 1000);
    try {
      return await tokenRequest(settings, discovery, DEVICE_GRANT, { device_code: start.device_code });
    } catch (err) {
      if (!(err instanceof GrantError)) throw err;
      if (err.code === "authorization_pending" && Date.now() < deadline) continue;
      if (err.code === "slow_down") {
        interval += 5;
        continue;
      }
      if (err.code === "expired_token" || err.code === "authorization_pending")
        throw new CliError(
          "the device code expired before the login was approved; run rok login --device again",
        );
      if (err.code === "access_denied") throw new CliError("the login was denied at the issuer");
      throw err;
    }
  }
}
