/**
 * The authentication part of the API configuration: which authenticators are on, in which order, and
 * whether anonymous callers get in. Every mistake names the option (flag / api.yaml key) at fault.
 */
import {
  AUTHENTICATOR_NAMES,
  bool,
  ConfigError,
  seconds,
  type ApiOptions,
  type AuthenticationConfig,
  type AuthenticatorName,
} from "../config.js";
import { DEFAULT_KEYCLOAK_REALM } from "./keycloak.js";

/** The order when none is configured; `static`, when configured, comes first and so decides alone (as in Krake). */
export const DEFAULT_ORDER: AuthenticatorName[] = ["static", "tls", "token", "oidc", "keystone", "keycloak"];

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/;

export function isLoopback(host: string): boolean {
  return LOOPBACK.test(host);
}

function list(value: string | string[] | undefined): string[] {
  const items = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return items
    .flatMap((v) => String(v).split(","))
    .map((v) => v.trim())
    .filter(Boolean);
}

function url(value: string, key: string, loopbackHttp: boolean): string {
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(`${key}: expected a URL, got ${JSON.stringify(value)}`);
  }
  const plainOk = parsed.protocol === "http:" && (loopbackHttp ? isLoopback(parsed.hostname) : true);
  if (parsed.protocol !== "https:" && !plainOk)
    throw new ConfigError(
      `${key}: expected ${loopbackHttp ? "an https URL (http only on a loopback address)" : "an http or https URL"}, got ${JSON.stringify(value)}`,
    );
  return value;
}

export function resolveAuthentication(
  o: ApiOptions,
  host: string,
  clientCertificates: boolean,
): AuthenticationConfig {
  const audiences = list(o.oidcAudience);
  if (!o.oidcIssuerUrl) {
    for (const [key, value] of [
      ["oidc-audience", o.oidcAudience],
      ["oidc-username-claim", o.oidcUsernameClaim],
      ["oidc-username-prefix", o.oidcUsernamePrefix],
      ["oidc-ca-file", o.oidcCaFile],
    ] as const)
      if (value !== undefined) throw new ConfigError(`${key}: needs oidc-issuer-url`);
  } else if (audiences.length === 0) {
    throw new ConfigError(
      "oidc-audience: required with oidc-issuer-url (the client id the tokens are issued for)",
    );
  }
  const oidc = o.oidcIssuerUrl
    ? {
        // Tokens carry the issuer exactly as the issuer spells it (OIDC: https, except a local test issuer).
        issuer: url(o.oidcIssuerUrl, "oidc-issuer-url", true),
        audiences,
        usernameClaim: o.oidcUsernameClaim || "sub",
        usernamePrefix: o.oidcUsernamePrefix ?? "",
        caFile: o.oidcCaFile ?? null,
      }
    : null;
  if (o.keystoneCacheTtl !== undefined && !o.keystoneEndpoint)
    throw new ConfigError("keystone-cache-ttl: needs keystone-endpoint");
  if (o.keycloakRealm !== undefined && !o.keycloakEndpoint)
    throw new ConfigError("keycloak-realm: needs keycloak-endpoint");
  if (o.keystoneEndpoint && o.keycloakEndpoint)
    throw new ConfigError(
      "keystone-endpoint and keycloak-endpoint: enable one of them (each accepts any raw token, so only one can decide); use oidc-issuer-url for Keycloak",
    );
  const keystone = o.keystoneEndpoint
    ? {
        endpoint: url(o.keystoneEndpoint, "keystone-endpoint", false),
        cacheTtlMs: seconds(o.keystoneCacheTtl ?? 30, "keystone-cache-ttl"),
      }
    : null;
  const keycloak = o.keycloakEndpoint
    ? {
        endpoint: url(o.keycloakEndpoint, "keycloak-endpoint", false),
        realm: o.keycloakRealm || DEFAULT_KEYCLOAK_REALM,
      }
    : null;
  const tokenFile = o.tokenFile || null;
  const staticUser = o.staticUser ?? null;

  const configured: Record<AuthenticatorName, boolean> = {
    static: staticUser !== null,
    tls: clientCertificates,
    token: tokenFile !== null,
    oidc: oidc !== null,
    keystone: keystone !== null,
    keycloak: keycloak !== null,
  };
  let order: AuthenticatorName[];
  if (o.authenticationOrder === undefined) {
    order = DEFAULT_ORDER.filter((name) => configured[name]);
  } else {
    const names = list(o.authenticationOrder);
    const seen = new Set<string>();
    for (const name of names) {
      if (!(AUTHENTICATOR_NAMES as readonly string[]).includes(name))
        throw new ConfigError(
          `authentication-order: unknown authenticator ${JSON.stringify(name)} (choose from ${AUTHENTICATOR_NAMES.join(", ")})`,
        );
      if (seen.has(name)) throw new ConfigError(`authentication-order: ${name} is named twice`);
      seen.add(name);
      if (!configured[name as AuthenticatorName])
        throw new ConfigError(
          `authentication-order: ${name} is named but not configured (${HOW_TO_CONFIGURE[name as AuthenticatorName]})`,
        );
    }
    for (const name of AUTHENTICATOR_NAMES)
      if (configured[name] && !seen.has(name))
        throw new ConfigError(
          `authentication-order: ${name} is configured but not named; add it or remove its configuration`,
        );
    order = names as AuthenticatorName[];
  }
  return {
    // Anonymous access is for the one-machine developer setup; anything reachable from elsewhere must opt in.
    allowAnonymous:
      o.allowAnonymous === undefined ? isLoopback(host) : bool(o.allowAnonymous, "allow-anonymous"),
    staticUser,
    corsOrigin: o.corsOrigin ?? "*",
    order,
    tokenFile,
    oidc,
    keystone,
    keycloak,
  };
}

const HOW_TO_CONFIGURE: Record<AuthenticatorName, string> = {
  static: "set static-user",
  tls: "set tls-client-ca",
  token: "set token-file",
  oidc: "set oidc-issuer-url and oidc-audience",
  keystone: "set keystone-endpoint",
  keycloak: "set keycloak-endpoint",
};
