/**
 * The HTTP client under the Krake API client and the IM provider: node:http(s) with keep-alive agents.
 *
 * Node 20's global fetch costs about 0.6 ms of CPU per request more than node:http (undici's fetch layers and
 * web streams; measured in bench:infra, where a controller makes a dozen calls per cluster), and cannot take
 * client certificates or a private CA without the undici package. Answers with a fixed length are read whole;
 * streams (watches) are read chunk by chunk. Failures have fetch's shape — `TypeError("fetch failed")` with
 * the system error as `cause`, the signal's reason on abort — so callers treat both alike.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";

export interface HttpRequest {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  readonly ok: boolean;
  /** A header's value (name in any case); repeated headers joined with ", ". */
  header(name: string): string | undefined;
  /** The whole body as text. */
  text(): Promise<string>;
  /** The body as it arrives (watch streams); ends when the server ends it, throws when the signal aborts. */
  chunks(): AsyncIterable<Uint8Array>;
}

export type HttpSend = (url: URL, request: HttpRequest) => Promise<HttpResponse>;

export interface TlsOptions {
  /** PEM contents (not paths). */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** false accepts any server certificate (a kubeconfig's `insecure-skip-tls-verify`). */
  rejectUnauthorized?: boolean;
  /** The name to verify the server certificate against, when it differs from the URL's host. */
  servername?: string;
}

/**
 * Free sockets are closed after this long: shorter than Node's and uvicorn's 5 s server keep-alive, so that a
 * request is rarely sent on a socket the server is closing.
 */
const IDLE_SOCKET_MS = 4_000;
const IDEMPOTENT = new Set(["GET", "HEAD", "PUT", "DELETE", "OPTIONS"]);

let sharedHttpAgent: HttpAgent | undefined;
let sharedHttpsAgent: HttpsAgent | undefined;

/**
 * A sender over node:http(s). Senders share one keep-alive agent per protocol, so connections are reused
 * across senders (a controller builds an IM client per reconcile); one with its own `tls` material gets
 * its own HTTPS agent.
 */
export function nodeHttp(tls?: TlsOptions, connect?: { lookup?: LookupFunction }): HttpSend {
  // A sender with its own name resolution (e.g. one that refuses some addresses) gets its own agents:
  // a shared agent's kept-alive sockets were connected without that check.
  const lookup = connect?.lookup ? { lookup: connect.lookup } : null;
  const plain = lookup
    ? new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, ...lookup })
    : (sharedHttpAgent ??= new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }));
  const secure =
    tls || lookup
      ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS, ...tls, ...lookup })
      : (sharedHttpsAgent ??= new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS }));
  const send = (url: URL, req: HttpRequest, retried: boolean): Promise<HttpResponse> =>
    new Promise((resolve, reject) => {
      const https = url.protocol === "https:";
      const outgoing = (https ? httpsRequest : httpRequest)(
        url,
        {
          method: req.method,
          headers:
            req.body === undefined
              ? req.headers
              : { ...req.headers, "Content-Length": Buffer.byteLength(req.body) },
          agent: https ? secure : plain,
          signal: req.signal,
        },
        (res) => resolve(answer(res, req)),
      );
      outgoing.on("error", (err: NodeJS.ErrnoException) => {
        if (req.signal?.aborted) return reject(req.signal.reason ?? err);
        // The server closed a kept-alive socket just as it was reused: the request never reached it.
        if (outgoing.reusedSocket && err.code === "ECONNRESET" && !retried && IDEMPOTENT.has(req.method))
          return resolve(send(url, req, true));
        reject(new TypeError("fetch failed", { cause: err }));
      });
      outgoing.end(req.body);
    });
  return (url, req) => send(url, req, false);
}

function answer(res: IncomingMessage, req: HttpRequest): HttpResponse {
  const status = res.statusCode ?? 0;
  let consumed = false;
  const take = () => {
    if (consumed) throw new TypeError("the body has already been read");
    consumed = true;
  };
  const aborted = (err: unknown) => (req.signal?.aborted ? (req.signal.reason ?? err) : err);
  return {
    status,
    statusText: res.statusMessage ?? "",
    ok: status >= 200 && status < 300,
    header(name) {
      const value = res.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(", ") : value;
    },
    async text() {
      take();
      const parts: Buffer[] = [];
      try {
        for await (const chunk of res) parts.push(chunk as Buffer);
      } catch (err) {
        throw aborted(err);
      }
      return Buffer.concat(parts).toString("utf8");
    },
    chunks() {
      take();
      return (async function* () {
        try {
          for await (const chunk of res) yield chunk as Uint8Array;
        } catch (err) {
          throw aborted(err);
        }
      })();
    },
  };
}

/** A sender over a fetch implementation (tests that intercept requests, or a caller's own fetch). */
export function fromFetch(fetchImpl: typeof fetch): HttpSend {
  return async (url, req) => {
    const res = await fetchImpl(url, {
      method: req.method,
      headers: req.headers,
      body: req.body,
      signal: req.signal,
    });
    return {
      status: res.status,
      statusText: res.statusText,
      ok: res.ok,
      header: (name) => res.headers.get(name) ?? undefined,
      text: () => res.text(),
      chunks: () => {
        const body = res.body;
        return (async function* () {
          if (!body) return;
          const reader = body.getReader();
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) return;
              yield value;
            }
          } finally {
            await reader.cancel().catch(() => {});
          }
        })();
      },
    };
  };
}
