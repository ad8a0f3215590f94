/**
 * JSON calls to an identity provider (OIDC issuer, Keystone, Keycloak), from the API server's authenticators
 * and from `rok login`. Each call has a deadline; a provider that cannot be reached becomes
 * ProviderUnavailableError, which the authenticators turn into 503 (the caller's credential is not known to
 * be bad, so 401 would mislead) and rok into one line naming the issuer.
 */
import { startDeadline } from "./deadline.js";
import { nodeHttp, type HttpSend } from "./http.js";

export class ProviderUnavailableError extends Error {
  constructor(
    readonly provider: string,
    reason: string,
  ) {
    super(reason);
    this.name = "ProviderUnavailableError";
  }
}

export interface ProviderAnswer {
  status: number;
  statusText: string;
  /** Parsed JSON, or null when the body is empty or not JSON. */
  body: any;
}

export interface ProviderRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface ProviderClientOptions {
  /** Named in errors and logs, e.g. `the OIDC issuer`. */
  provider: string;
  /** PEM of a private CA that signed the provider's certificate. */
  ca?: string | Buffer;
  timeoutMs?: number;
}

export type ProviderClient = (url: string, request?: ProviderRequest) => Promise<ProviderAnswer>;

export function providerClient(options: ProviderClientOptions): ProviderClient {
  const send: HttpSend = nodeHttp(options.ca ? { ca: options.ca } : undefined);
  const timeoutMs = options.timeoutMs ?? 5_000;
  return async (url, request = {}) => {
    const deadline = startDeadline(request.signal, timeoutMs);
    try {
      const res = await send(new URL(url), {
        method: request.method ?? "GET",
        headers: { Accept: "application/json", ...request.headers },
        body: request.body,
        signal: deadline.signal,
      });
      const text = await res.text();
      let body: any = null;
      try {
        body = text ? JSON.parse(text) : null;
      } catch {
        body = null;
      }
      return { status: res.status, statusText: res.statusText, body };
    } catch (err) {
      if (request.signal?.aborted) throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = deadline.timedOut()
        ? `no answer within ${timeoutMs} ms`
        : (cause?.code ?? cause?.message ?? (err as Error).message);
      throw new ProviderUnavailableError(options.provider, why);
    } finally {
      deadline.dispose();
    }
  };
}
