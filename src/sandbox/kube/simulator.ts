/**
 * A Kubernetes API simulator for tests, benchmarks and the sandbox: one HTTPS server (node:https, a CA made at
 * start with src/util/x509.ts) that hosts many simulated clusters, each under its own path prefix —
 * `https://127.0.0.1:PORT/clusters/<name>` is that cluster's API root, with its own bearer token and
 * kubeconfig. It speaks the generic REST semantics of kube-apiserver 1.20 that Krake's controllers use and
 * passes the same client-level conformance suite as the real server (test/kube/conformance.ts).
 *
 * Simulated:
 * - discovery (`/version`, `/api`, `/api/v1`, `/apis`, `/apis/<group>[/<version>]`), with CRD versions
 *   appearing as soon as a CRD is created (it is Established at once);
 * - objects of the core, apps, batch, networking, policy, rbac, storage, coordination and apiextensions types
 *   and of CRDs: uid, resourceVersion (one counter per cluster), creationTimestamp, generation, managedFields;
 *   namespaces (default, kube-system, kube-public, kube-node-lease at start; deletion removes their objects);
 * - GET, LIST (label and field selectors), WATCH (from a resourceVersion, or with the current objects first),
 *   POST, PUT (409 on a stale resourceVersion), PATCH (merge, strategic merge, JSON patch), server-side apply
 *   (YAML or JSON; field ownership, removal of dropped fields, conflicts, force), DELETE (propagation
 *   policies, finalizers, graceful pod deletion), deletecollection, `/status`, `?dryRun=All`;
 * - metav1.Status errors with the real reasons, codes, details and messages; validation (422) and defaulting
 *   of the common fields (see defaults.ts); Service cluster IPs (10.96.0.0/12) and node ports (30000–32767);
 * - the workloads, event-driven (workloads.ts): Nodes with capacity and conditions, a scheduler that fits
 *   requests to allocatable resources, Deployments → ReplicaSets → Pods, StatefulSets, DaemonSets, Jobs,
 *   Pods becoming Running/Ready after a delay, LoadBalancer ingress IPs, garbage collection of dependents;
 * - for tests: unreachable clusters (sockets destroyed), injected failures, crashing pods, failing images.
 *
 * Not simulated: authentication beyond one bearer token per cluster (no RBAC, no client certificates),
 * admission webhooks, the scale subresource, pods/log/exec/attach/port-forward and proxies, Endpoints of
 * Services, ControllerRevisions, CronJob scheduling, HPA, eviction, resource quotas and limit ranges, network,
 * API priority and fairness, protobuf, chunked lists (`limit`/`continue`), conversion between CRD versions
 * beyond the apiVersion field, and the exact Update-operation field sets of Go's typed structs.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { parse as parseYaml } from "yaml";
import { createCertificate } from "../../util/x509.js";
import { ClusterState, PATCH_TYPES, type DeleteOptions, type WriteContext, type Written } from "./cluster.js";
import { BUILTIN_GROUPS, resourceList, type ResourceType } from "./resources.js";
import { parseFieldSelector, parseLabelSelector } from "./selectors.js";
import {
  StatusError,
  badRequest,
  methodNotAllowed,
  resourceNotFound,
  unauthorized,
  unsupportedMediaType,
} from "./status.js";
import { jsonOf, type Entry, type StoreEvent } from "./store.js";
import { table, wantsTable } from "./table.js";
import { Workloads, type ConditionStatus, type NodeSpec, type WorkloadOptions } from "./workloads.js";

export type { ConditionStatus, NodeSpec, WorkloadOptions } from "./workloads.js";

export interface ClusterOptions extends WorkloadOptions {
  /** The bearer token of the cluster's kubeconfig; random by default. */
  token?: string;
  /** How many changes a watch can resume across (older resourceVersions get 410 Expired). Default 1000. */
  watchHistory?: number;
}

export interface KubeSimulatorOptions {
  /** Listening address; default 127.0.0.1. */
  host?: string;
  /** Listening port; default 0 (any free port). */
  port?: number;
  /** Defaults for every cluster's options. */
  clusterDefaults?: ClusterOptions;
  /** `/version`'s gitVersion; default `v1.20.2-krake-sim`. */
  gitVersion?: string;
}

/** A kubeconfig as kubectl reads it (JSON is YAML). */
export interface SimKubeconfig {
  apiVersion: "v1";
  kind: "Config";
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { token: string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace: string } }[];
  "current-context": string;
  preferences: Record<string, never>;
}

/** One simulated cluster: its connection details and the control API tests use. */
export interface SimulatedCluster {
  readonly name: string;
  /** The API root: `https://HOST:PORT/clusters/<name>`. */
  readonly url: string;
  readonly token: string;
  readonly kubeconfig: SimKubeconfig;
  readonly reachable: boolean;
  /** false: every request to the cluster fails at the transport level (its socket is destroyed). */
  setReachable(reachable: boolean): void;
  /** The next `n` requests answer `status` (500, 409, 429 or 503) with a matching metav1.Status. */
  failNext(n: number, status?: 500 | 409 | 429 | 503): void;
  /** Adds a Ready node (name `node-<n>` by default); returns its name. */
  addNode(name?: string, spec?: NodeSpec): string;
  removeNode(name: string): void;
  /** Sets a node condition (Ready, MemoryPressure, DiskPressure, PIDPressure…). */
  setNodeCondition(
    name: string,
    type: string,
    status: ConditionStatus,
    reason?: string,
    message?: string,
  ): void;
  setNodeCapacity(name: string, capacity: { cpu?: string; memory?: string; pods?: number }): void;
  nodeNames(): string[];
  /** The pod's first container goes into CrashLoopBackOff (a pod that never restarts fails). */
  crashPod(namespace: string, name: string): void;
  recoverPod(namespace: string, name: string): void;
  /** Pods with this image stay Pending, waiting with `reason`, until clearImage. */
  failImage(image: string, reason?: string): void;
  clearImage(image: string): void;
  /** An object as stored (no HTTP), or undefined. */
  get(apiVersion: string, kind: string, namespace: string, name: string): any | undefined;
  /** Objects of a kind, in one namespace or in all. */
  list(apiVersion: string, kind: string, namespace?: string): any[];
  /** Resolves once the simulated controllers have nothing left to do right now. */
  idle(): Promise<void>;
  /** Requests served, by verb. */
  stats(): { requests: number; byVerb: Record<string, number> };
}

export interface KubeSimulator {
  /** `https://HOST:PORT`. */
  readonly url: string;
  /** The CA that signed the serving certificate (PEM). */
  readonly caPem: string;
  addCluster(name: string, opts?: ClusterOptions): SimulatedCluster;
  removeCluster(name: string): boolean;
  cluster(name: string): SimulatedCluster | undefined;
  clusters(): SimulatedCluster[];
  close(): Promise<void>;
}

const MAX_BODY = 3 * 1024 * 1024;
const PLAIN_404 = "404 page not found\n";

interface Query {
  get(name: string): string | undefined;
  has(name: string): boolean;
}

function parseQuery(qs: string): Query {
  const map = new Map<string, string>();
  if (qs) for (const [k, v] of new URLSearchParams(qs)) if (!map.has(k)) map.set(k, v);
  return { get: (k) => map.get(k), has: (k) => map.has(k) };
}

function send(res: ServerResponse, code: number, text: string, contentType = "application/json"): void {
  res.writeHead(code, {
    "Content-Type": contentType,
    "Cache-Control": "no-cache, private",
    "Content-Length": Buffer.byteLength(text),
  });
  res.end(text);
}

function sendJson(res: ServerResponse, code: number, body: unknown): void {
  send(res, code, JSON.stringify(body));
}

function sendError(res: ServerResponse, err: StatusError): void {
  if (err.code === 429) res.setHeader("Retry-After", "1");
  sendJson(res, err.code, err.toStatus());
}

const INJECTED: Record<number, () => StatusError> = {
  500: () =>
    new StatusError(500, "InternalError", "Internal error occurred: injected failure", {
      causes: [{ reason: "", message: "injected failure" }],
    }),
  409: () =>
    new StatusError(
      409,
      "Conflict",
      "Operation cannot be fulfilled: injected conflict; please apply your changes to the latest version and try again",
      {},
    ),
  429: () =>
    new StatusError(429, "TooManyRequests", "Too many requests, please try again later.", {
      retryAfterSeconds: 1,
    }),
  503: () =>
    new StatusError(503, "ServiceUnavailable", "The server is currently unable to handle the request", {}),
};

class Cluster implements SimulatedCluster {
  readonly state: ClusterState;
  readonly workloads: Workloads;
  readonly kubeconfig: SimKubeconfig;
  reachable = true;
  private failures: number[] = [];
  readonly watches = new Set<ServerResponse>();
  private requests = 0;
  private readonly byVerb: Record<string, number> = {};

  constructor(
    readonly name: string,
    readonly url: string,
    readonly token: string,
    caData: string,
    opts: ClusterOptions,
    index: number,
  ) {
    this.state = new ClusterState(opts.watchHistory);
    this.workloads = new Workloads(this.state, opts, index);
    const user = `${name}-admin`;
    this.kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name, cluster: { server: url, "certificate-authority-data": caData } }],
      users: [{ name: user, user: { token } }],
      contexts: [{ name, context: { cluster: name, user, namespace: "default" } }],
      "current-context": name,
      preferences: {},
    };
  }

  count(verb: string): void {
    this.requests++;
    this.byVerb[verb] = (this.byVerb[verb] ?? 0) + 1;
  }

  stats() {
    return { requests: this.requests, byVerb: { ...this.byVerb } };
  }

  setReachable(reachable: boolean): void {
    this.reachable = reachable;
    if (!reachable) this.dropWatches();
  }

  dropWatches(): void {
    for (const w of this.watches) w.socket?.destroy();
    this.watches.clear();
  }

  failNext(n: number, status: 500 | 409 | 429 | 503 = 500): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  takeFailure(): number | undefined {
    return this.failures.shift();
  }

  addNode(name?: string, spec?: NodeSpec): string {
    return this.workloads.addNode(name, spec);
  }
  removeNode(name: string): void {
    this.workloads.removeNode(name);
  }
  setNodeCondition(
    name: string,
    type: string,
    status: ConditionStatus,
    reason?: string,
    message?: string,
  ): void {
    this.workloads.setNodeCondition(name, type, status, reason, message);
  }
  setNodeCapacity(name: string, capacity: { cpu?: string; memory?: string; pods?: number }): void {
    this.workloads.setNodeCapacity(name, capacity);
  }
  nodeNames(): string[] {
    return this.workloads.nodes().map((n) => n.obj.metadata.name);
  }
  crashPod(namespace: string, name: string): void {
    this.workloads.crashPod(namespace, name);
  }
  recoverPod(namespace: string, name: string): void {
    this.workloads.recoverPod(namespace, name);
  }
  failImage(image: string, reason?: string): void {
    this.workloads.failImage(image, reason);
  }
  clearImage(image: string): void {
    this.workloads.clearImage(image);
  }
  get(apiVersion: string, kind: string, namespace: string, name: string): any | undefined {
    const rt = this.state.typeOf(apiVersion, kind);
    return rt ? this.state.store.get(rt, namespace, name)?.obj : undefined;
  }
  list(apiVersion: string, kind: string, namespace?: string): any[] {
    const rt = this.state.typeOf(apiVersion, kind);
    return rt ? [...this.state.store.list(rt, namespace)].map((e) => e.obj) : [];
  }
  idle(): Promise<void> {
    return this.workloads.idle();
  }

  close(): void {
    this.dropWatches();
    this.workloads.close();
    this.state.close();
  }
}

/** The user agent's product (`kubectl/v1.20 …` → kubectl): the default field manager. */
function managerOf(req: IncomingMessage): string {
  const ua = req.headers["user-agent"];
  if (!ua) return "unknown";
  const product = ua.split("/")[0].trim();
  return product || "unknown";
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) {
        reject(
          new StatusError(413, "RequestEntityTooLarge", `Request entity too large: limit is ${MAX_BODY}`),
        );
        req.destroy();
        return;
      }
      parts.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(parts).toString("utf8")));
    req.on("error", reject);
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`json parse error: ${(err as Error).message}`);
  }
}

function parseApplyBody(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    try {
      return parseYaml(text);
    } catch (err) {
      throw badRequest(`error decoding YAML: ${(err as Error).message}`);
    }
  }
}

export async function startKubeSimulator(opts: KubeSimulatorOptions = {}): Promise<KubeSimulator> {
  const host = opts.host ?? "127.0.0.1";
  const ca = createCertificate({ commonName: "krake-kube-simulator-ca", isCA: true, validityDays: 3650 });
  const serving = createCertificate({
    commonName: "kube-apiserver",
    dnsNames: ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
    ipAddresses: [
      ...new Set([
        "127.0.0.1",
        "::1",
        ...(/^[\d.]+$|:/.test(host) && host !== "0.0.0.0" && host !== "::" ? [host] : []),
      ]),
    ],
    issuer: ca,
    extKeyUsage: ["serverAuth"],
    validityDays: 3650,
  });
  const caData = Buffer.from(ca.certPem).toString("base64");
  const gitVersion = opts.gitVersion ?? "v1.20.2-krake-sim";
  const clusters = new Map<string, Cluster>();
  const sockets = new Set<Socket>();
  let baseUrl = "";
  let clusterCount = 0;

  const server: Server = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
    handle(req, res).catch((err) => {
      if (err instanceof StatusError) {
        if (!res.headersSent) sendError(res, err);
        return;
      }
      if (!res.headersSent)
        sendError(
          res,
          new StatusError(500, "InternalError", `Internal error occurred: ${(err as Error).message}`),
        );
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  // Watches are long requests: no limit on how long a request may take as a whole.
  server.requestTimeout = 0;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("tlsClientError", () => undefined);

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = req.url ?? "/";
    const q = raw.indexOf("?");
    const path = q < 0 ? raw : raw.slice(0, q);
    const query = parseQuery(q < 0 ? "" : raw.slice(q + 1));
    if (!path.startsWith("/clusters/")) {
      if (path === "/healthz" || path === "/readyz" || path === "/livez")
        return send(res, 200, "ok", "text/plain; charset=utf-8");
      return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");
    }
    const slash = path.indexOf("/", 10);
    const name = decodeURIComponent(slash < 0 ? path.slice(10) : path.slice(10, slash));
    const cluster = clusters.get(name);
    if (!cluster) return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");
    if (!cluster.reachable) {
      req.socket.destroy();
      return;
    }
    if (req.headers.authorization !== `Bearer ${cluster.token}`) return sendError(res, unauthorized());
    const method = req.method ?? "GET";
    const failure = cluster.takeFailure();
    if (failure !== undefined) {
      cluster.count(method);
      return sendError(res, (INJECTED[failure] ?? INJECTED[500])());
    }
    const rest = slash < 0 ? "/" : path.slice(slash);
    cluster.count(method);
    try {
      await route(cluster, method, rest, query, req, res);
    } catch (err) {
      if (err instanceof StatusError) return sendError(res, err);
      throw err;
    }
  }

  function clusterRootPaths(): string[] {
    return [
      "/api",
      "/api/v1",
      "/apis",
      ...BUILTIN_GROUPS.flatMap((g) => [`/apis/${g.name}`, ...g.versions.map((v) => `/apis/${g.name}/${v}`)]),
      "/healthz",
      "/livez",
      "/readyz",
      "/version",
    ];
  }

  function groups(cluster: Cluster): { name: string; versions: string[] }[] {
    const custom = [...cluster.state.customGroups()].sort((a, b) => a[0].localeCompare(b[0]));
    const out = BUILTIN_GROUPS.map((g) => ({ ...g, versions: [...g.versions] }));
    for (const [name, versions] of custom) {
      const builtin = out.find((g) => g.name === name);
      if (builtin) builtin.versions.push(...versions.filter((v) => !builtin.versions.includes(v)));
      else out.push({ name, versions });
    }
    return out;
  }

  function apiGroup(g: { name: string; versions: string[] }): Record<string, unknown> {
    return {
      name: g.name,
      versions: g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${g.name}/${g.versions[0]}`, version: g.versions[0] },
    };
  }

  async function route(
    cluster: Cluster,
    method: string,
    path: string,
    query: Query,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
    const state = cluster.state;
    if (segs.length === 0) return sendJson(res, 200, { paths: clusterRootPaths() });
    if (segs.length === 1 && segs[0] === "version") {
      const [major, minor] = gitVersion.replace(/^v/, "").split(".");
      return sendJson(res, 200, {
        major,
        minor,
        gitVersion,
        gitCommit: "faecb196815e248d3ecfb03c680a4507229c2a56",
        gitTreeState: "clean",
        buildDate: "2021-01-13T13:20:00Z",
        goVersion: "go1.15.5",
        compiler: "gc",
        platform: "linux/amd64",
      });
    }
    if (segs.length === 1 && ["healthz", "readyz", "livez"].includes(segs[0]))
      return send(res, 200, "ok", "text/plain; charset=utf-8");
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === "api") {
      if (segs.length === 1) {
        const address = baseUrl.replace(/^https:\/\//, "");
        return sendJson(res, 200, {
          kind: "APIVersions",
          versions: ["v1"],
          serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: address }],
        });
      }
      if (segs[1] !== "v1") return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");
      group = "";
      version = "v1";
      rest = segs.slice(2);
    } else if (
      segs[0] === "apis" &&
      segs.length > 3 &&
      state.typeAt(segs[1], segs[2], segs[3] === "namespaces" ? (segs[5] ?? "") : segs[3])
    ) {
      // The common case, a served resource: no need to look at the group list.
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else if (segs[0] === "apis") {
      const all = groups(cluster);
      if (segs.length === 1)
        return sendJson(res, 200, { kind: "APIGroupList", apiVersion: "v1", groups: all.map(apiGroup) });
      const g = all.find((x) => x.name === segs[1]);
      if (!g) return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");
      if (segs.length === 2)
        return sendJson(res, 200, { kind: "APIGroup", apiVersion: "v1", ...apiGroup(g) });
      if (!g.versions.includes(segs[2])) return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");
      group = segs[1];
      version = segs[2];
      rest = segs.slice(3);
    } else return send(res, 404, PLAIN_404, "text/plain; charset=utf-8");

    const gv = group ? `${group}/${version}` : version;
    if (rest.length === 0) {
      if (method !== "GET") throw methodNotAllowed();
      const list = resourceList(gv, state.typesOf(group, version));
      if (!group) delete list.apiVersion;
      return sendJson(res, 200, list);
    }

    // [namespaces, ns, plural, name?, sub?] or [plural, name?, sub?]
    let ns: string | undefined;
    let parts = rest;
    if (rest[0] === "namespaces" && rest.length >= 3 && !group) {
      const candidate = state.typeAt(group, version, rest[2]);
      if (candidate?.namespaced || rest.length >= 4) {
        ns = rest[1];
        parts = rest.slice(2);
      }
    } else if (rest[0] === "namespaces" && rest.length >= 3) {
      ns = rest[1];
      parts = rest.slice(2);
    }
    const rt = state.typeAt(group, version, parts[0]);
    if (!rt || parts.length > 3) throw resourceNotFound();
    if (ns !== undefined && !rt.namespaced) throw resourceNotFound();
    const name = parts[1];
    const sub = parts[2];
    if (sub !== undefined && !rt.subresources.some((s) => s.name === sub)) throw resourceNotFound();
    if (sub !== undefined && sub !== "status") throw methodNotAllowed();
    const namespace = rt.namespaced ? ns : "";
    const ctx: WriteContext = {
      manager: query.get("fieldManager") ?? managerOf(req),
      dryRun: query.get("dryRun") === "All",
    };

    if (name === undefined) {
      switch (method) {
        case "GET": {
          const selectors = {
            labelSelector: query.get("labelSelector"),
            fieldSelector: query.get("fieldSelector"),
          };
          const w = query.get("watch");
          if (w === "1" || w === "true") return watch(cluster, rt, namespace, version, query, req, res);
          const list = state.listJson(rt, namespace, selectors, version);
          if (wantsTable(req)) {
            const parsed = JSON.parse(list);
            return send(res, 200, JSON.stringify(table(rt.kind, parsed.items ?? [], parsed.metadata?.resourceVersion)));
          }
          return send(res, 200, list);
        }
        case "POST": {
          if (rt.namespaced && namespace === undefined) throw methodNotAllowed();
          const body = parseJson(await readBody(req));
          return written(res, rt, version, state.create(rt, namespace ?? "", body, ctx));
        }
        case "DELETE": {
          if (!rt.verbs.includes("deletecollection")) throw methodNotAllowed();
          const options = await deleteOptions(req, query);
          return written(
            res,
            rt,
            version,
            state.deleteCollection(
              rt,
              namespace,
              { labelSelector: query.get("labelSelector"), fieldSelector: query.get("fieldSelector") },
              options,
              ctx,
            ),
          );
        }
        default:
          throw methodNotAllowed();
      }
    }
    if (rt.namespaced && namespace === undefined) throw resourceNotFound();
    if (sub !== undefined && method !== "GET" && method !== "PUT" && method !== "PATCH")
      throw methodNotAllowed();
    const objNs = namespace ?? "";
    switch (method) {
      case "GET": {
        const e = state.get(rt, objNs, name);
        if (wantsTable(req) && sub === undefined)
          return send(res, 200, JSON.stringify(table(rt.kind, [e.obj], e.obj.metadata?.resourceVersion)));
        return send(
          res,
          200,
          version === rt.version
            ? jsonOf(e)
            : JSON.stringify({ ...e.obj, apiVersion: `${rt.group}/${version}` }),
        );
      }
      case "PUT": {
        const body = parseJson(await readBody(req));
        return written(res, rt, version, state.replace(rt, objNs, name, body, ctx, sub));
      }
      case "PATCH": {
        const contentType = String(req.headers["content-type"] ?? "")
          .split(";")[0]
          .trim();
        const type = PATCH_TYPES[contentType];
        if (!type || (type === "strategic" && rt.custom))
          throw unsupportedMediaType(
            rt.custom
              ? [
                  "application/json-patch+json",
                  "application/merge-patch+json",
                  "application/apply-patch+yaml",
                ]
              : [
                  "application/json-patch+json",
                  "application/merge-patch+json",
                  "application/apply-patch+yaml",
                  "application/strategic-merge-patch+json",
                ],
          );
        const text = await readBody(req);
        const body = type === "apply" ? parseApplyBody(text) : parseJson(text);
        const force = query.get("force");
        if (force !== undefined && type !== "apply")
          throw new StatusError(
            422,
            "Invalid",
            `PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch`,
            {
              group: "meta.k8s.io",
              kind: "PatchOptions",
              causes: [
                {
                  reason: "FieldValueForbidden",
                  message: "Forbidden: may not be specified for non-apply patch",
                  field: "force",
                },
              ],
            },
          );
        return written(
          res,
          rt,
          version,
          state.patch(rt, objNs, name, type, body, ctx, {
            force: force === "true",
            subresource: sub,
            fieldManager: query.get("fieldManager"),
          }),
        );
      }
      case "DELETE": {
        const options = await deleteOptions(req, query);
        return written(res, rt, version, state.delete(rt, objNs, name, options, ctx));
      }
      default:
        throw methodNotAllowed();
    }
  }

  async function deleteOptions(req: IncomingMessage, query: Query): Promise<DeleteOptions> {
    const text = await readBody(req);
    const body: any = text.trim() ? parseJson(text) : {};
    const options: DeleteOptions = {
      propagationPolicy: body?.propagationPolicy ?? query.get("propagationPolicy"),
      orphanDependents:
        body?.orphanDependents ??
        (query.has("orphanDependents") ? query.get("orphanDependents") === "true" : undefined),
      gracePeriodSeconds:
        body?.gracePeriodSeconds ??
        (query.has("gracePeriodSeconds") ? Number(query.get("gracePeriodSeconds")) : undefined),
      preconditions: body?.preconditions,
    };
    return options;
  }

  function written(res: ServerResponse, rt: ResourceType, version: string, w: Written): void {
    if (w.entry) {
      const text =
        version === rt.version
          ? jsonOf(w.entry)
          : JSON.stringify({ ...w.entry.obj, apiVersion: `${rt.group}/${version}` });
      return send(res, w.code, text);
    }
    sendJson(res, w.code, w.body);
  }

  function watch(
    cluster: Cluster,
    rt: ResourceType,
    ns: string | undefined,
    version: string,
    query: Query,
    req: IncomingMessage,
    res: ServerResponse,
  ): void {
    const labels = query.get("labelSelector") ? parseLabelSelector(query.get("labelSelector")!) : undefined;
    const fields = query.get("fieldSelector") ? parseFieldSelector(query.get("fieldSelector")!) : undefined;
    const matches = (obj: any) =>
      (ns === undefined || (obj.metadata?.namespace ?? "") === ns) &&
      (!labels || labels(obj.metadata?.labels)) &&
      (!fields || fields(obj));
    const store = cluster.state.store;
    const rvText = query.get("resourceVersion");
    const rv = rvText === undefined || rvText === "" || rvText === "0" ? undefined : Number(rvText);
    if (rv !== undefined && !Number.isFinite(rv)) throw badRequest(`invalid resource version: ${rvText}`);
    const objectText = (e: Entry) =>
      version === rt.version ? jsonOf(e) : JSON.stringify({ ...e.obj, apiVersion: `${rt.group}/${version}` });
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Cache-Control": "no-cache, private",
      "Transfer-Encoding": "chunked",
    });
    // The headers go now, as the real server's do: a client waits for them before the first event.
    res.flushHeaders();
    const write = (type: string, e: Entry) => res.write(`{"type":"${type}","object":${objectText(e)}}\n`);
    const deliver = (ev: StoreEvent) => {
      if (ev.entry.rt.key !== rt.key) return;
      const now = matches(ev.entry.obj);
      const before = ev.prev !== undefined && matches(ev.prev);
      if (ev.type === "ADDED") {
        if (now) write("ADDED", ev.entry);
      } else if (ev.type === "MODIFIED") {
        if (before && now) write("MODIFIED", ev.entry);
        else if (now) write("ADDED", ev.entry);
        else if (before) write("DELETED", ev.entry);
      } else if (before || now) write("DELETED", ev.entry);
    };
    if (rv === undefined) {
      for (const e of cluster.state.select(rt, ns, {})) if (matches(e.obj)) write("ADDED", e);
    } else {
      const events = store.since(rv);
      if (!events) {
        res.end(
          `${JSON.stringify({
            type: "ERROR",
            object: {
              kind: "Status",
              apiVersion: "v1",
              metadata: {},
              status: "Failure",
              message: `too old resource version: ${rv} (${store.oldestResumable})`,
              reason: "Expired",
              code: 410,
            },
          })}\n`,
        );
        return;
      }
      for (const ev of events) deliver(ev);
    }
    const unsubscribe = store.subscribe(deliver);
    cluster.watches.add(res);
    const timeoutSeconds = Number(query.get("timeoutSeconds") ?? 0);
    const timer = timeoutSeconds > 0 ? setTimeout(() => res.end(), timeoutSeconds * 1000) : undefined;
    const done = () => {
      unsubscribe();
      cluster.watches.delete(res);
      if (timer) clearTimeout(timer);
    };
    // Not req's 'close': that fires once the request has been read, while the watch goes on.
    res.on("close", done);
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  baseUrl = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;

  let closed: Promise<void> | undefined;
  const sim: KubeSimulator = {
    url: baseUrl,
    caPem: ca.certPem,
    addCluster(name: string, clusterOpts: ClusterOptions = {}): SimulatedCluster {
      if (clusters.has(name)) throw new Error(`cluster '${name}' exists already`);
      if (!name || name.includes("/")) throw new Error(`bad cluster name '${name}'`);
      const o = { ...(opts.clusterDefaults ?? {}), ...clusterOpts };
      const token = o.token ?? `sim-${randomBytes(18).toString("base64url")}`;
      const cluster = new Cluster(
        name,
        `${baseUrl}/clusters/${encodeURIComponent(name)}`,
        token,
        caData,
        o,
        clusterCount++,
      );
      clusters.set(name, cluster);
      return cluster;
    },
    removeCluster(name: string): boolean {
      const cluster = clusters.get(name);
      if (!cluster) return false;
      clusters.delete(name);
      cluster.close();
      return true;
    },
    cluster: (name) => clusters.get(name),
    clusters: () => [...clusters.values()],
    close() {
      closed ??= (async () => {
        for (const c of clusters.values()) c.close();
        clusters.clear();
        for (const s of sockets) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closed;
    },
  };
  return sim;
}
