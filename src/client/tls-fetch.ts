/**
 * A `fetch` over node:https with client certificates and a private CA. Node 20's global fetch cannot take
 * either without the undici package, and the client's watch streams need a real streaming Response, which
 * node:https gives through Readable.toWeb.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";

export interface TlsFetchOptions {
  /** PEM contents (not paths). */
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

function toHeaders(res: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(res.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return headers;
}

export function tlsFetch(options: TlsFetchOptions): typeof fetch {
  const agent = new Agent({ ca: options.ca, cert: options.cert, key: options.key, keepAlive: true });
  const tlsFetchImpl = (input: string | URL | Request, init: RequestInit = {}): Promise<Response> =>
    new Promise((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      const method = init.method ?? "GET";
      const headers = Object.fromEntries(new Headers(init.headers).entries());
      const body = init.body === undefined || init.body === null ? undefined : String(init.body);
      const send = url.protocol === "https:" ? httpsRequest : httpRequest;
      const req = send(
        url,
        {
          method,
          headers,
          agent: url.protocol === "https:" ? agent : undefined,
          signal: init.signal ?? undefined,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          const empty = method === "HEAD" || status === 204 || status === 304;
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              statusText: res.statusMessage,
              headers: toHeaders(res),
            }),
          );
        },
      );
      req.on("error", (err) => {
        // The same shape as global fetch's failures, so callers handle both alike.
        if (err.name === "AbortError") reject(init.signal?.reason ?? err);
        else reject(new TypeError("fetch failed", { cause: err }));
      });
      req.end(body);
    });
  return tlsFetchImpl as typeof fetch;
}
