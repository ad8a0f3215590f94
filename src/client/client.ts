/**
 * The typed HTTP client of the Krake API, derived from the same kind definitions as the server. `rok`, the
 * controllers and the tests use it; every call takes an AbortSignal.
 */
import type { KindDef, Resource, ResourceOf } from "../resources/kind.js";
import { KrakeApiError, KrakeConnectionError } from "./errors.js";
import { ndjsonLines } from "./ndjson.js";
import { startDeadline } from "../util/deadline.js";
import { fromFetch, nodeHttp, type HttpResponse, type HttpSend, type TlsOptions } from "../util/http.js";

export interface ClientOptions {
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
  /** Sent as `Authorization: Bearer <token>` (Keystone-style raw tokens: set `authorization` instead). */
  token?: string;
  /** Asked before each request when `token` is not set (rok's stored login, refreshed when due). */
  tokenSource?: () => Promise<string | null>;
  authorization?: string;
  headers?: Record<string, string>;
  /** Per-request timeout for non-watch calls, default 30 s. */
  timeoutMs?: number;
  /** Client certificate and private CA for an https URL. */
  tls?: TlsOptions;
  /** Sends the requests instead of node:http(s) (tests that intercept them). */
  fetch?: typeof fetch;
  /**
   * A 429 answer (over a rate or watch limit) is retried after its Retry-After, at most `retries` times and
   * `maxWaitMs` of waiting in all (defaults 5 and 60 s); false gives up at once.
   */
  retryTooManyRequests?: { retries?: number; maxWaitMs?: number } | false;
}

const RETRY_429_DEFAULTS = { retries: 5, maxWaitMs: 60_000 };

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface ListResult<T = Resource> {
  api: string;
  kind: string;
  metadata: { resource_version: string };
  items: T[];
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "ERROR";

export interface WatchEvent<T = Resource> {
  type: WatchEventType;
  object: T;
}

export interface WatchOptions extends CallOptions {
  /** Replay every change after this revision first (a list's metadata.resource_version). */
  resourceVersion?: string | number;
  heartbeat?: number;
  /** Called whenever bytes arrive, heartbeats included. */
  onActivity?: () => void;
}

export class KrakeClient {
  private readonly base: string;
  private readonly send: HttpSend;

  constructor(readonly options: ClientOptions) {
    this.base = options.url.replace(/\/+$/, "");
    this.send = options.fetch ? fromFetch(options.fetch) : nodeHttp(options.tls);
  }

  private headers(extra?: Record<string, string>, sourcedToken?: string | null): Record<string, string> {
    const h: Record<string, string> = { Accept: "application/json", ...this.options.headers, ...extra };
    const token = this.options.token ?? sourcedToken;
    if (this.options.authorization) h.Authorization = this.options.authorization;
    else if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  /** One HTTP request; non-2xx answers become KrakeApiError. A 429 is retried as the server asks. */
  async request<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    opts: CallOptions & { query?: Record<string, string | number | undefined>; stream?: boolean } = {},
  ): Promise<T> {
    const setting = this.options.retryTooManyRequests;
    const retry = setting === false ? null : { ...RETRY_429_DEFAULTS, ...setting };
    let waitedMs = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.requestOnce<T>(method, path, body, opts);
      } catch (err) {
        if (!(err instanceof KrakeApiError) || err.status !== 429 || retry === null) throw err;
        // A little jitter, so that clients throttled together do not come back together.
        const delayMs = Math.max(1, err.retryAfterSeconds ?? 1) * 1000 * (1 + Math.random() * 0.1);
        if (attempt > retry.retries || waitedMs + delayMs > retry.maxWaitMs) {
          err.attempts = attempt;
          throw err;
        }
        await pause(delayMs, opts.signal);
        waitedMs += delayMs;
      }
    }
  }

  private async requestOnce<T>(
    method: string,
    path: string,
    body: unknown,
    opts: CallOptions & { query?: Record<string, string | number | undefined>; stream?: boolean },
  ): Promise<T> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(opts.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const sourcedToken = !this.options.token && this.options.tokenSource ? await this.options.tokenSource() : null;
    // Streams (watches) end only through the caller's signal; everything else also has a timeout.
    const deadline = opts.stream ? null : startDeadline(opts.signal, this.options.timeoutMs ?? 30_000);
    let res: HttpResponse;
    try {
      res = await this.send(url, {
        method,
        headers: this.headers(body === undefined ? undefined : { "Content-Type": "application/json" }, sourcedToken),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: deadline?.signal ?? opts.signal,
      });
    } catch (err) {
      deadline?.dispose();
      if (opts.signal?.aborted) throw opts.signal.reason ?? err;
      if ((err as Error).name === "AbortError" || (err as Error).name === "TimeoutError") throw err;
      throw new KrakeConnectionError(this.base, (err as Error).cause ?? err);
    }
    try {
      return await this.answer<T>(res, Boolean(opts.stream));
    } finally {
      deadline?.dispose();
    }
  }

  private async answer<T>(res: HttpResponse, stream: boolean): Promise<T> {
    if (!res.ok) throw await toApiError(res);
    if (stream) return res as unknown as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : null) as T;
  }

  root(opts?: CallOptions) {
    return this.request<{ version: string }>("GET", "/", undefined, opts);
  }

  me(opts?: CallOptions) {
    return this.request<{ user: string; roles: string[] }>("GET", "/me", undefined, opts);
  }

  /** The operations of one kind. */
  kind<D extends KindDef<any>>(def: D): KindClient<ResourceOf<D>> {
    return new KindClient<ResourceOf<D>>(this, def);
  }
}

async function toApiError(res: HttpResponse): Promise<KrakeApiError> {
  const err = await problemOf(res);
  const retryAfter = res.header("retry-after");
  if (retryAfter !== undefined) {
    const seconds = /^\d+$/.test(retryAfter.trim())
      ? Number(retryAfter)
      : (Date.parse(retryAfter) - Date.now()) / 1000;
    if (Number.isFinite(seconds)) err.retryAfterSeconds = Math.max(0, Math.ceil(seconds));
  }
  return err;
}

async function problemOf(res: HttpResponse): Promise<KrakeApiError> {
  const text = await res.text().catch(() => "");
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  if (body && typeof body === "object") {
    return new KrakeApiError(
      res.status,
      body.title ?? null,
      body.detail ?? res.statusText,
      body.errors ?? [],
      body,
    );
  }
  return new KrakeApiError(
    res.status,
    null,
    typeof body === "string" && body ? body : res.statusText,
    [],
    body,
  );
}

export class KindClient<T extends Resource = Resource> {
  constructor(
    private readonly client: KrakeClient,
    readonly def: KindDef<any>,
  ) {}

  private collection(namespace?: string | null): string {
    const d = this.def;
    if (!d.namespaced) return `/${d.group}/${d.plural}`;
    if (namespace === undefined || namespace === null)
      throw new Error(`${d.kind} is namespaced: a namespace is required`);
    return `/${d.group}/namespaces/${encodeURIComponent(namespace)}/${d.plural}`;
  }

  private item(name: string, namespace?: string | null): string {
    return `${this.collection(namespace)}/${encodeURIComponent(name)}`;
  }

  create(
    body: unknown,
    namespace?: string | null,
    opts: CallOptions & { blocking?: string } = {},
  ): Promise<T> {
    return this.client.request("POST", this.collection(namespace), body, {
      ...opts,
      query: { blocking: opts.blocking },
    });
  }

  get(name: string, namespace?: string | null, opts?: CallOptions): Promise<T> {
    return this.client.request("GET", this.item(name, namespace), undefined, opts);
  }

  /** Lists one namespace (namespaced kinds) or all objects (global kinds). */
  list(namespace?: string | null, opts?: CallOptions): Promise<ListResult<T>> {
    return this.client.request("GET", this.collection(namespace), undefined, opts);
  }

  /** Every namespace the caller may list (namespaced kinds only). */
  listAll(opts?: CallOptions): Promise<ListResult<T>> {
    return this.client.request("GET", `/${this.def.group}/${this.def.plural}`, undefined, opts);
  }

  update(obj: T, opts?: CallOptions): Promise<T> {
    return this.client.request("PUT", this.item(obj.metadata.name, obj.metadata.namespace), obj, opts);
  }

  updateStatus(obj: T, opts?: CallOptions): Promise<T> {
    return this.client.request(
      "PUT",
      `${this.item(obj.metadata.name, obj.metadata.namespace)}/status`,
      obj,
      opts,
    );
  }

  /** A subresource action (`binding`, `complete`, `shutdown`, `retry`). */
  action(
    name: string,
    action: string,
    body: unknown,
    namespace?: string | null,
    opts?: CallOptions,
  ): Promise<T> {
    return this.client.request("PUT", `${this.item(name, namespace)}/${action}`, body, opts);
  }

  delete(
    name: string,
    namespace?: string | null,
    opts: CallOptions & { force?: boolean; blocking?: string } = {},
  ): Promise<T> {
    return this.client.request("DELETE", this.item(name, namespace), undefined, {
      ...opts,
      query: {
        force: opts.force === undefined ? undefined : opts.force ? "True" : "False",
        blocking: opts.blocking,
      },
    });
  }

  /**
   * Streams events until the signal aborts or the server closes the stream. `namespace` undefined on a
   * namespaced kind watches every namespace.
   */
  async *watch(namespace: string | null | undefined, opts: WatchOptions = {}): AsyncGenerator<WatchEvent<T>> {
    const path =
      this.def.namespaced && (namespace === undefined || namespace === null)
        ? `/${this.def.group}/${this.def.plural}`
        : this.collection(namespace);
    const res = await this.client.request<HttpResponse>("GET", path, undefined, {
      signal: opts.signal,
      stream: true,
      query: { watch: "true", resource_version: opts.resourceVersion, heartbeat: opts.heartbeat },
    });
    for await (const line of ndjsonLines(res.chunks(), opts.signal, opts.onActivity))
      yield JSON.parse(line) as WatchEvent<T>;
  }
}
