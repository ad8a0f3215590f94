/**
 * OpenStack Keystone tokens (api.md §12). Krake reads the raw `Authorization: <token>` header; we also take
 * `X-Auth-Token` (OpenStack's own header) and `Authorization: Bearer <token>` (what rok sends). The token is
 * validated by Keystone itself (`GET /auth/tokens`), and the answer cached briefly so that a busy client does
 * not cost one Keystone call per request.
 */
import type { FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { Errors } from "../errors.js";
import type { Authenticator } from "./authenticator.js";
import { bearerToken, rawAuthorization, tokenDigest, xAuthToken } from "./credentials.js";
import { providerClient, ProviderUnavailableError, type ProviderClient } from "../../util/provider-client.js";
import { TtlCache } from "./ttl-cache.js";

export const DEFAULT_KEYSTONE_ENDPOINT = "http://localhost:5000/v3";

export interface KeystoneOptions {
  endpoint: string;
  logger: Logger;
  /** How long an accepted token is trusted without asking again, default 30 s (never past its expires_at). */
  cacheTtlMs?: number;
  /** How long a refused token is refused without asking again, default 5 s. */
  negativeTtlMs?: number;
  /** Tokens remembered at most, default 10 000. */
  cacheSize?: number;
  ca?: string | Buffer;
  timeoutMs?: number;
  now?: () => number;
}

type Verdict = { user: string } | { refused: string };

const PROVIDER = "Keystone";

export class KeystoneAuthenticator implements Authenticator {
  readonly name = "keystone";
  private readonly fetchJson: ProviderClient;
  private readonly cache: TtlCache<Verdict>;
  private readonly inflight = new Map<string, Promise<Verdict>>();
  private readonly now: () => number;
  private readonly closer = new AbortController();

  constructor(private readonly options: KeystoneOptions) {
    this.fetchJson = providerClient({ provider: PROVIDER, ca: options.ca, timeoutMs: options.timeoutMs });
    this.now = options.now ?? Date.now;
    this.cache = new TtlCache(options.cacheSize ?? 10_000, this.now);
  }

  async authenticate(req: FastifyRequest): Promise<string | null> {
    const token = xAuthToken(req) ?? bearerToken(req) ?? rawAuthorization(req);
    if (token === null) return null;
    const digest = tokenDigest(token);
    let verdict = this.cache.get(digest);
    if (!verdict) {
      let pending = this.inflight.get(digest);
      if (!pending) {
        pending = this.validate(token, digest).finally(() => this.inflight.delete(digest));
        this.inflight.set(digest, pending);
      }
      verdict = await pending;
    }
    if ("refused" in verdict) throw Errors.invalidKeystoneToken(verdict.refused);
    return verdict.user;
  }

  private async validate(token: string, digest: string): Promise<Verdict> {
    let res;
    try {
      res = await this.fetchJson(`${this.options.endpoint.replace(/\/+$/, "")}/auth/tokens`, {
        headers: { "X-Auth-Token": token, "X-Subject-Token": token },
        signal: this.closer.signal,
      });
    } catch (err) {
      if (!(err instanceof ProviderUnavailableError)) throw err;
      this.options.logger.warn({ endpoint: this.options.endpoint, err: err.message }, "Keystone unavailable");
      throw Errors.authenticationUnavailable(PROVIDER, err.message);
    }
    // Keystone failing is not the token failing: no verdict, and nothing cached.
    if (res.status >= 500) throw Errors.authenticationUnavailable(PROVIDER, `HTTP ${res.status}`);
    if (res.status !== 200) {
      const verdict = { refused: `${res.status} ${res.statusText}`.trim() };
      this.cache.set(digest, verdict, this.options.negativeTtlMs ?? 5_000);
      return verdict;
    }
    const user = res.body?.token?.user?.name;
    if (typeof user !== "string" || !user)
      throw Errors.authenticationUnavailable(PROVIDER, "its answer names no user");
    const expires = Date.parse(res.body.token.expires_at ?? "");
    const left = Number.isFinite(expires) ? expires - this.now() : Infinity;
    if (left <= 0) return { refused: "401 token expired" };
    const ttl = Math.min(this.options.cacheTtlMs ?? 30_000, left);
    if (ttl > 0) this.cache.set(digest, { user }, ttl);
    return { user };
  }

  close(): void {
    this.closer.abort();
  }
}
