/**
 * Keycloak as Krake 1.0.1 uses it (api.md §12): every request's token is sent to the realm's userinfo
 * endpoint and the user is its `preferred_username`. Kept for existing Krake configurations; the OIDC
 * authenticator (`oidc`) is the better way to use Keycloak: it verifies tokens locally against the realm's
 * keys, with no Keycloak call per request, and checks the audience.
 */
import type { FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { Errors } from "../errors.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken, rawAuthorization } from "./credentials.js";
import { providerClient, ProviderUnavailableError, type ProviderClient } from "../../util/provider-client.js";

export const DEFAULT_KEYCLOAK_ENDPOINT = "http://localhost:9080";
export const DEFAULT_KEYCLOAK_REALM = "krake";

export interface KeycloakOptions {
  endpoint: string;
  realm: string;
  logger: Logger;
  ca?: string | Buffer;
  timeoutMs?: number;
}

const PROVIDER = "Keycloak";

export class KeycloakAuthenticator implements Authenticator {
  readonly name = "keycloak";
  private readonly fetchJson: ProviderClient;
  private readonly closer = new AbortController();

  constructor(private readonly options: KeycloakOptions) {
    this.fetchJson = providerClient({ provider: PROVIDER, ca: options.ca, timeoutMs: options.timeoutMs });
  }

  private get userinfoUrl(): string {
    const base = this.options.endpoint.replace(/\/+$/, "");
    return `${base}/auth/realms/${encodeURIComponent(this.options.realm)}/protocol/openid-connect/userinfo`;
  }

  async authenticate(req: FastifyRequest): Promise<string | null> {
    const token = bearerToken(req) ?? rawAuthorization(req);
    if (token === null) return null;
    let res;
    try {
      res = await this.fetchJson(this.userinfoUrl, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ access_token: token }).toString(),
        signal: this.closer.signal,
      });
    } catch (err) {
      if (!(err instanceof ProviderUnavailableError)) throw err;
      this.options.logger.warn({ endpoint: this.options.endpoint, err: err.message }, "Keycloak unavailable");
      throw Errors.authenticationUnavailable(PROVIDER, err.message);
    }
    if (res.status >= 500) throw Errors.authenticationUnavailable(PROVIDER, `HTTP ${res.status}`);
    if (res.status !== 200) throw Errors.invalidKeycloakToken(`${res.status} ${res.statusText}`.trim());
    const user = res.body?.preferred_username;
    if (typeof user !== "string" || !user)
      throw Errors.invalidKeycloakToken("200 without preferred_username");
    return user;
  }

  close(): void {
    this.closer.abort();
  }
}
