/**
 * OpenID Connect ID/access tokens (JWTs) from one issuer: Keycloak, Dex, Azure AD, Google… The issuer's
 * signing keys come from its JWKS (found through the discovery document), fetched lazily — the API must
 * start while the issuer is down — and cached; a token signed with a key we do not know makes us refetch the
 * JWKS, at most every few seconds, which is how issuers roll their keys.
 */
import type { FastifyRequest } from "fastify";
import type { KeyObject } from "node:crypto";
import type { Logger } from "pino";
import { Errors } from "../errors.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken } from "./credentials.js";
import {
  decodeJwt,
  isSupportedAlgorithm,
  keyFits,
  keyFromJwk,
  verifySignature,
  type DecodedJwt,
} from "./jwt.js";
import { providerClient, ProviderUnavailableError, type ProviderClient } from "../../util/provider-client.js";

export interface OidcOptions {
  /** Exactly as the tokens' `iss` (and the discovery document's `issuer`) spell it. */
  issuer: string;
  /** A token must name at least one of these in `aud`. */
  audiences: string[];
  /** The claim that names the user, default `sub` (Keycloak: `preferred_username`). */
  usernameClaim?: string;
  /** Put before every user name, e.g. `oidc:`, so OIDC users cannot pose as certificate or token users. */
  usernamePrefix?: string;
  /** PEM of the CA that signed the issuer's certificate. */
  ca?: string | Buffer;
  logger: Logger;
  /** Clock skew tolerated on exp, nbf and iat, default 60 s. */
  leewaySeconds?: number;
  /** The least time between two JWKS fetches caused by an unknown key id, default 10 s. */
  unknownKeyRefetchMs?: number;
  /** The JWKS is refetched when older than this, default 1 h (keys removed by the issuer stop working). */
  jwksMaxAgeMs?: number;
  /** After a failed fetch, requests fail fast (503) for this long instead of asking the issuer again, default 1 s. */
  retryAfterFailureMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

interface CachedKey {
  kid?: string;
  alg?: string;
  key: KeyObject;
}

const PROVIDER = "the OIDC issuer";

export class OidcAuthenticator implements Authenticator {
  readonly name = "oidc";
  private readonly issuer: string;
  private readonly fetchJson: ProviderClient;
  private readonly now: () => number;
  private jwksUri: string | null = null;
  private keys: CachedKey[] = [];
  /** When the keys were fetched; 0 = never. */
  private keysFetchedAt = 0;
  private failure: { at: number; why: string } | null = null;
  private inflight: Promise<void> | null = null;
  private readonly closer = new AbortController();

  constructor(private readonly options: OidcOptions) {
    this.issuer = options.issuer;
    this.fetchJson = providerClient({ provider: PROVIDER, ca: options.ca, timeoutMs: options.timeoutMs });
    this.now = options.now ?? Date.now;
  }

  async authenticate(req: FastifyRequest): Promise<string | null> {
    const token = bearerToken(req);
    if (token === null) return null;
    const jwt = decodeJwt(token);
    // Not a JWT, or another issuer's: some other authenticator's kind of token.
    if (jwt === null || jwt.payload.iss !== this.issuer) return null;
    const alg = jwt.header.alg;
    if (!isSupportedAlgorithm(alg)) throw reject(`tokens signed with ${describeAlg(alg)} are not accepted`);
    const kid = typeof jwt.header.kid === "string" ? jwt.header.kid : undefined;

    await this.ensureKeys();
    let keys = this.keysFor(kid, alg);
    if (
      keys.length === 0 &&
      this.now() - this.keysFetchedAt >= (this.options.unknownKeyRefetchMs ?? 10_000)
    ) {
      // Perhaps the issuer rolled its keys since we last looked.
      await this.refresh();
      keys = this.keysFor(kid, alg);
    }
    if (keys.length === 0) throw reject("it is signed with a key the issuer does not publish");
    if (!keys.some((k) => verifySignature(jwt, k))) throw reject("its signature is not valid");
    this.checkClaims(jwt);
    const user = jwt.payload[this.options.usernameClaim ?? "sub"];
    if (typeof user !== "string" || user === "")
      throw reject(`it has no ${this.options.usernameClaim ?? "sub"} claim naming the user`);
    return (this.options.usernamePrefix ?? "") + user;
  }

  private checkClaims(jwt: DecodedJwt): void {
    const now = this.now() / 1000;
    const leeway = this.options.leewaySeconds ?? 60;
    const { exp, nbf, iat, aud } = jwt.payload;
    if (typeof exp !== "number") throw reject("it has no expiry (exp)");
    if (now > exp + leeway) throw reject(`it expired at ${new Date(exp * 1000).toISOString()}`);
    if (nbf !== undefined && (typeof nbf !== "number" || now + leeway < nbf))
      throw reject("it is not valid yet (nbf)");
    if (iat !== undefined && (typeof iat !== "number" || iat > now + leeway))
      throw reject("it was issued in the future (iat)");
    const audiences = typeof aud === "string" ? [aud] : Array.isArray(aud) ? aud : [];
    if (!audiences.some((a) => this.options.audiences.includes(a)))
      throw reject(
        `it is not meant for this API: its audience (aud) is none of ${this.options.audiences.join(", ")}`,
      );
  }

  private keysFor(kid: string | undefined, alg: string): KeyObject[] {
    return this.keys
      .filter(
        (k) =>
          (kid === undefined || k.kid === kid) &&
          (k.alg === undefined || k.alg === alg) &&
          keyFits(k.key, alg),
      )
      .map((k) => k.key);
  }

  /** Keys to verify with: fetched on first use, refreshed when old (old keys serve on while the issuer is down). */
  private async ensureKeys(): Promise<void> {
    const age = this.now() - this.keysFetchedAt;
    if (this.keysFetchedAt > 0 && age < (this.options.jwksMaxAgeMs ?? 3_600_000)) return;
    try {
      await this.refresh();
    } catch (err) {
      if (this.keys.length === 0) throw err;
      this.options.logger.warn(
        { issuer: this.issuer },
        "OIDC issuer unavailable; verifying with the keys fetched earlier",
      );
    }
  }

  /** Fetches discovery (once) and the JWKS; one fetch at a time; throws 503 while the issuer is unavailable. */
  private async refresh(): Promise<void> {
    if (this.failure && this.now() - this.failure.at < (this.options.retryAfterFailureMs ?? 1_000))
      throw Errors.authenticationUnavailable(PROVIDER, this.failure.why);
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = null));
    await this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    try {
      this.jwksUri ??= await this.discover();
      const res = await this.fetchJson(this.jwksUri, { signal: this.closer.signal });
      if (res.status !== 200 || !Array.isArray(res.body?.keys))
        throw new ProviderUnavailableError(
          PROVIDER,
          `its JWKS answered HTTP ${res.status} without a key set`,
        );
      const keys: CachedKey[] = [];
      for (const jwk of res.body.keys) {
        const key = jwk && typeof jwk === "object" ? keyFromJwk(jwk) : null;
        if (key)
          keys.push({
            key,
            kid: typeof jwk.kid === "string" ? jwk.kid : undefined,
            alg: typeof jwk.alg === "string" ? jwk.alg : undefined,
          });
      }
      this.keys = keys;
      this.keysFetchedAt = this.now();
      this.failure = null;
      this.options.logger.info({ issuer: this.issuer, keys: keys.length }, "OIDC issuer keys fetched");
    } catch (err) {
      if (!(err instanceof ProviderUnavailableError)) throw err;
      this.failure = { at: this.now(), why: err.message };
      this.options.logger.warn({ issuer: this.issuer, err: err.message }, "OIDC issuer unavailable");
      throw Errors.authenticationUnavailable(PROVIDER, err.message);
    }
  }

  private async discover(): Promise<string> {
    const url = `${this.issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`;
    const res = await this.fetchJson(url, { signal: this.closer.signal });
    if (res.status !== 200 || !res.body || typeof res.body !== "object")
      throw new ProviderUnavailableError(PROVIDER, `discovery answered HTTP ${res.status}`);
    // OpenID Connect Discovery §4.3: a document naming another issuer must not be used.
    if (res.body.issuer !== this.issuer)
      throw new ProviderUnavailableError(
        PROVIDER,
        `its discovery document names the issuer ${JSON.stringify(res.body.issuer)}, not ${JSON.stringify(this.issuer)}`,
      );
    if (typeof res.body.jwks_uri !== "string")
      throw new ProviderUnavailableError(PROVIDER, "its discovery document has no jwks_uri");
    return res.body.jwks_uri;
  }

  close(): void {
    this.closer.abort();
  }
}

function reject(why: string) {
  return Errors.credentialRejected(`invalid OIDC token: ${why}`);
}

/** The token's `alg`, safe to echo: attacker-chosen text is cut short and quoted. */
function describeAlg(alg: unknown): string {
  return JSON.stringify(String(alg).slice(0, 16));
}
