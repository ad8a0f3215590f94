/**
 * A small Kubernetes API client for the controllers: generic objects by apiVersion/kind (discovery finds
 * their paths), server-side apply, get, list, delete, and metav1.Status errors.
 *
 * Not @kubernetes/client-node: the controllers hold one client per cluster (hundreds of them) and only need
 * this generic subset; this one costs a keep-alive agent and a discovery cache per cluster and runs on the
 * same node:http layer as the Krake client (src/util/http.ts), with a timeout and an AbortSignal per call.
 */
import { startDeadline } from "../util/deadline.js";
import { nodeHttp, type HttpSend } from "../util/http.js";
import { connectionOf, type KubeConnection } from "./kubeconfig.js";
import { VERSION } from "../version.js";

/** A Kubernetes API answer other than 2xx, with the metav1.Status it carried. */
export class KubeApiError extends Error {
  constructor(
    readonly status: number,
    /** metav1.Status `reason`, e.g. NotFound, Conflict, AlreadyExists, Invalid, Forbidden. */
    readonly reason: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = "KubeApiError";
  }

  /** Whether trying again later can help (server trouble, throttling, conflicts), as opposed to a bad object. */
  get transient(): boolean {
    return this.status >= 500 || this.status === 429 || this.status === 409 || this.status === 408;
  }
}

/** The cluster could not be reached (connection refused, DNS, TLS, timeout). */
export class KubeUnreachableError extends Error {
  constructor(server: string, why: string, options?: ErrorOptions) {
    super(`cannot reach the Kubernetes API at ${server}: ${why}`, options);
    this.name = "KubeUnreachableError";
  }
}

/** The apiVersion/kind is not served by the cluster. */
export class UnknownKindError extends Error {
  constructor(apiVersion: string, kind: string) {
    super(`the cluster serves no kind '${kind}' in '${apiVersion}'`);
    this.name = "UnknownKindError";
  }
}

export interface ResourceInfo {
  apiVersion: string;
  kind: string;
  /** e.g. `deployments` */
  plural: string;
  namespaced: boolean;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export type ObjectRef = Pick<KubeObject, "apiVersion" | "kind"> & {
  metadata: { name: string; namespace?: string };
};

export interface KubeCallOptions {
  signal?: AbortSignal;
}

export interface KubeClientOptions {
  /** Per-call timeout, default 10 s. */
  timeoutMs?: number;
  http?: HttpSend;
}

/** How long a discovery answer is trusted before a miss fetches it again (a CRD may just have appeared). */
const DISCOVERY_RETRY_MS = 2_000;

export class KubeClient {
  readonly server: string;
  /** The context's namespace: where objects without one go. */
  readonly namespace: string;
  private readonly send: HttpSend;
  private readonly headers: Record<string, string>;
  private readonly discovery = new Map<string, { at: number; kinds: Map<string, ResourceInfo> | null }>();

  constructor(
    connection: KubeConnection,
    private readonly options: KubeClientOptions = {},
  ) {
    this.server = connection.server;
    this.namespace = connection.namespace;
    this.send =
      options.http ??
      nodeHttp({
        ca: connection.ca,
        cert: connection.cert,
        key: connection.key,
        rejectUnauthorized: !connection.insecure,
        servername: connection.servername,
      });
    // Cluster operators see in their API server's audit log which requests came from Krake.
    this.headers = { Accept: "application/json", "User-Agent": `krake/${VERSION}` };
    if (connection.authorization) this.headers.Authorization = connection.authorization;
  }

  static fromKubeconfig(kubeconfig: Record<string, unknown>, options?: KubeClientOptions): KubeClient {
    return new KubeClient(connectionOf(kubeconfig), options);
  }

  /** One call; JSON in and out. Non-2xx answers become KubeApiError, transport failures KubeUnreachableError. */
  async request<T = any>(
    method: string,
    path: string,
    opts: KubeCallOptions & {
      body?: unknown;
      contentType?: string;
      query?: Record<string, string | undefined>;
    } = {},
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers = { ...this.headers };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["Content-Type"] = opts.contentType ?? "application/json";
      body = JSON.stringify(opts.body);
    }
    const deadline = startDeadline(opts.signal, this.options.timeoutMs ?? 10_000);
    let status: number;
    let text: string;
    try {
      const res = await this.send(url, { method, headers, body, signal: deadline.signal });
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const why = deadline.timedOut()
        ? "timed out"
        : (((err as Error).cause as Error | undefined)?.message ?? (err as Error).message);
      throw new KubeUnreachableError(this.server, why, { cause: err });
    } finally {
      deadline.dispose();
    }
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    if (status >= 200 && status < 300) return parsed as T;
    const isStatus = parsed && typeof parsed === "object" && parsed.kind === "Status";
    const message = isStatus
      ? parsed.message
      : typeof parsed === "string" && parsed
        ? parsed.slice(0, 500)
        : "";
    throw new KubeApiError(
      status,
      (isStatus && parsed.reason) || `HTTP${status}`,
      `${method} ${path}: ${status}${message ? ` ${message}` : ""}`,
      parsed,
    );
  }

  /** `GET /version`. */
  version(opts: KubeCallOptions = {}): Promise<{ major: string; minor: string; gitVersion: string }> {
    return this.request("GET", "/version", opts);
  }

  /** Where objects of a kind live, from the cluster's discovery documents (cached per group version). */
  async resource(apiVersion: string, kind: string, opts: KubeCallOptions = {}): Promise<ResourceInfo> {
    let cached = this.discovery.get(apiVersion);
    const found = cached?.kinds?.get(kind);
    if (found) return found;
    if (!cached || Date.now() - cached.at > DISCOVERY_RETRY_MS) {
      cached = { at: Date.now(), kinds: await this.discover(apiVersion, opts) };
      this.discovery.set(apiVersion, cached);
    }
    const info = cached.kinds?.get(kind);
    if (!info) throw new UnknownKindError(apiVersion, kind);
    return info;
  }

  private async discover(
    apiVersion: string,
    opts: KubeCallOptions,
  ): Promise<Map<string, ResourceInfo> | null> {
    const path = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let list: { resources?: { name: string; kind: string; namespaced: boolean }[] };
    try {
      list = await this.request("GET", path, opts);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
    const kinds = new Map<string, ResourceInfo>();
    for (const r of list.resources ?? []) {
      if (r.name.includes("/")) continue; // subresources (pods/status, deployments/scale…)
      kinds.set(r.kind, { apiVersion, kind: r.kind, plural: r.name, namespaced: r.namespaced });
    }
    return kinds;
  }

  /** The URL path of an object (or of its collection when `name` is omitted). */
  async pathOf(
    ref: { apiVersion: string; kind: string; metadata?: { name?: string; namespace?: string } },
    opts: KubeCallOptions = {},
  ): Promise<string> {
    const info = await this.resource(ref.apiVersion, ref.kind, opts);
    const base = ref.apiVersion.includes("/") ? `/apis/${ref.apiVersion}` : `/api/${ref.apiVersion}`;
    const ns = info.namespaced
      ? `/namespaces/${encodeURIComponent(ref.metadata?.namespace || this.namespace)}`
      : "";
    const name = ref.metadata?.name ? `/${encodeURIComponent(ref.metadata.name)}` : "";
    return `${base}${ns}/${info.plural}${name}`;
  }

  /** The object, or null when it does not exist. */
  async get<T = KubeObject>(ref: ObjectRef, opts: KubeCallOptions = {}): Promise<T | null> {
    try {
      return await this.request<T>("GET", await this.pathOf(ref, opts), opts);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * Server-side apply: the object becomes what `obj` says for the fields `fieldManager` owns, created if
   * missing. `force` takes over fields another manager set (Krake owns what its manifests say).
   */
  async apply<T = KubeObject>(
    obj: KubeObject,
    opts: KubeCallOptions & { fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    return this.request<T>("PATCH", await this.pathOf(obj, opts), {
      ...opts,
      body: obj,
      // JSON is YAML: the apply content type accepts it.
      contentType: "application/apply-patch+yaml",
      query: { fieldManager: opts.fieldManager ?? "krake", force: String(opts.force ?? true) },
    });
  }

  /** Deletes the object; false when it did not exist. Dependents go in the background (like kubectl). */
  async delete(ref: ObjectRef, opts: KubeCallOptions = {}): Promise<boolean> {
    try {
      await this.request("DELETE", await this.pathOf(ref, opts), {
        ...opts,
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Background" },
      });
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  /** Every object of a kind (in `namespace`, or in all namespaces when it is null). */
  async list<T = KubeObject>(
    apiVersion: string,
    kind: string,
    namespace: string | null,
    opts: KubeCallOptions = {},
  ): Promise<T[]> {
    const info = await this.resource(apiVersion, kind, opts);
    const base = apiVersion.includes("/") ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const ns = info.namespaced && namespace !== null ? `/namespaces/${encodeURIComponent(namespace)}` : "";
    const res = await this.request<{ items?: T[] }>("GET", `${base}${ns}/${info.plural}`, opts);
    return res.items ?? [];
  }
}
