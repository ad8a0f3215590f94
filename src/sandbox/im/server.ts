/**
 * An IM-compatible HTTP server for tests and the sandbox: it answers Infrastructure Manager's REST API as
 * IM 2.0.0 does (or as IM 1.19.2, on request) — same paths, status codes, headers, negotiated bodies and
 * error texts, as written down in `shared/spec/im.md` and checked against IM's source — so that Krake's IM
 * client and infrastructure controller can be exercised without a real IM or a cloud.
 *
 * On top of the protocol it offers a control API (delays, failure injection, pausing, snapshots and a request
 * log) so tests can provoke the situations a real IM produces only by accident and assert the exact requests a
 * client sent. Production code never imports this module.
 *
 * Routing imitates Starlette: routes are tried in IM's declaration order; a path that matches only with
 * another method answers 405, no match 404 (`{"detail": ...}`), a trailing slash redirects (307). Within a
 * route, checks run in FastAPI's order — body dependency, `Authorization` dependency, then path/query
 * validation (422) — and IM's handler then maps its exceptions per endpoint.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import {
  AuthHeaderError,
  parseAuthorizationHeader,
  redactAuthorization,
  redactItems,
  type AuthItem,
  type ImTokenUser,
  type ImUser,
} from "./auth.js";
import {
  ImFault,
  ImHttpError,
  ValidationFailure,
  boolItem,
  intItem,
  literalItem,
  missingItem,
  parseFlaskBool,
  parsePydanticBool,
  type ImFaultKind,
  type ValidationItem,
  type ValidationStyle,
} from "./errors.js";
import { emptyRadl, parseRadlJson, parseRadlText, RadlParseError } from "./radl.js";
import {
  DEFAULT_DELAYS,
  ImBackend,
  deploymentFromTosca,
  type Deployment,
  type ImDelays,
  type ImInfrastructureSnapshot,
  type ImMachinesSnapshot,
  type VmState,
} from "./state.js";
import { ToscaParseError, parseToscaText } from "./tosca.js";
import {
  Flavour,
  UnsupportedAccept,
  emptyText,
  errorResponse,
  formatOutput,
  mediaTypes,
  pyReprList,
  type ImVersion,
  type OutputValue,
  type WireResponse,
} from "./wire.js";

export type {
  ImDelays,
  ImInfrastructureSnapshot,
  ImMachinesSnapshot,
  ImVmSnapshot,
  VmState,
} from "./state.js";
export type { ImTokenUser, ImUser } from "./auth.js";
export type { ImVersion } from "./wire.js";
export type { ValidationStyle } from "./errors.js";

/** The IM operations, one per route, as named in the request log and in {@link ImSimulator.failNext}. */
export type ImOperation =
  | "version"
  | "list"
  | "create"
  | "import"
  | "info"
  | "delete"
  | "state"
  | "outputs"
  | "contmsg"
  | "radl"
  | "tosca"
  | "data"
  | "authorization"
  | "property"
  | "add"
  | "reconfigure"
  | "start"
  | "stop"
  | "changeAuthorization"
  | "vmInfo"
  | "vmDelete"
  | "vmAlter"
  | "vmProperty"
  | "vmOperation"
  | "diskSnapshot"
  | "cloudInfo"
  | "stats"
  | "openapi"
  | "docs"
  | "unknown";

/** Options of {@link startImSimulator}; every one has a default suitable for tests. */
export interface ImSimulatorOptions {
  /** Listening address; default `127.0.0.1`. */
  host?: string;
  /** Listening port; default 0 (any free port). */
  port?: number;
  /** Which IM to imitate; default `2.0.0`. `1.19.2` switches the differences listed in im.md §1. */
  version?: ImVersion;
  /** Shape of FastAPI 422 items; default `pydantic1`, the form recorded in im.md §12. */
  validationErrors?: ValidationStyle;
  /**
   * Accepted IM username/password pairs (IM's `USER_DB`); default `[{username: "test", password: "test"}]` like
   * the seed walkthrough. `"any"` is IM's default configuration: every pair is valid and is its own identity.
   */
  users?: "any" | ImUser[];
  /** Accepted OIDC access tokens (`token = …` lines) and their subjects. */
  tokens?: ImTokenUser[];
  /** Step durations; defaults in {@link DEFAULT_DELAYS} (50 ms each, 0 for add). */
  delays?: Partial<ImDelays>;
  /** API server URL written into generated kubeconfigs; default `https://127.0.0.1:6443`. */
  kubernetesUrl?: string;
  /** Base64 PEM CA for generated kubeconfigs; default a placeholder. */
  kubernetesCaData?: string;
  /** Admin token for generated kubeconfigs; default derived from the infrastructure id. */
  kubernetesToken?: string;
  /** Produces the kubeconfig output instead of the default document. */
  kubeconfigFor?: (infId: string, vmCount: number) => string;
  /**
   * Called (synchronously) after every change: a VM that moved on, an answered request. Lets the sandbox keep
   * simulated Kubernetes clusters in step with the VMs; read {@link ImSimulator.infrastructures} from it.
   */
  onChange?: () => void;
  /** Clock for `/contmsg` timestamps; default `() => new Date()`. */
  now?: () => Date;
  /** Infrastructure ids; default UUID v1 strings like IM's. */
  newId?: () => string;
}

/** One request as the simulator received it; secrets masked. */
export interface ImRequestRecord {
  seq: number;
  method: string;
  /** Path and query string exactly as sent. */
  path: string;
  op: ImOperation;
  /** Headers with lower-case names; `authorization` has its secret values replaced by `***`. */
  headers: Record<string, string>;
  /** The parsed `Authorization` lines with secrets masked, or undefined when absent/unparseable. */
  auth: AuthItem[] | undefined;
  body: string;
  /** The answer's status; 0 while unanswered (or never answered: hang, reset). */
  status: number;
}

/** A failure to inject into the next matching request(s). */
export type ImInjectedFailure = { times?: number } & (
  | { status: number; message?: string }
  | { status: number; body: string; contentType?: string; headers?: Record<string, string> }
  | { hang: true }
  | { reset: true }
  | { delayMs: number }
);

/** How {@link ImSimulator.pause} makes IM unavailable. */
export type PauseMode = "reset" | "hang" | "refuse";

/** A running simulator: its URL, the control API, and `close()`. */
export interface ImSimulator {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order (a live array). */
  readonly requests: readonly ImRequestRecord[];
  /** Stops the server, cancels every timer, drops held connections. */
  close(): Promise<void>;
  /**
   * Completes pending steps now (launches, state transitions, deletions, held sync answers), oldest first, as if
   * their delays had elapsed — all of them (including the steps they schedule), or at most `maxSteps` to walk a
   * progression one transition at a time. Resolves after in-flight requests had a chance to answer; returns
   * how many steps ran.
   */
  flush(maxSteps?: number): Promise<number>;
  /** Changes step durations from now on (running steps keep their timers). */
  setDelays(delays: Partial<ImDelays>): void;
  delays(): ImDelays;
  /** Makes the next request(s) of `op` (or of any op, `"*"`) fail as described. */
  failNext(op: ImOperation | "*", failure: ImInjectedFailure): void;
  /** Makes the next launch(es) fail like an unreachable cloud: sync create → 400, async → `failed` + `/contmsg`. */
  failNextLaunch(message: string, times?: number): void;
  /** Forgets every injected request and launch failure. */
  clearFailures(): void;
  /** The infrastructure fails: VMs `failed` (or `failed` without VMs during creation); `contmsg` appended to `/contmsg`. */
  failInfrastructure(id: string, contmsg: string): void;
  /** A VM's contextualization fails (`unconfigured`); with `persistent`, re-runs (reconfigure) fail too. */
  makeUnconfigured(
    id: string,
    vmId: number | string,
    options?: { message?: string; persistent?: boolean },
  ): void;
  /** Removes a persistent contextualization fault so that the next reconfigure succeeds. */
  clearContextualizationFault(id: string, vmId: number | string): void;
  /** Forces a VM's state (e.g. `unknown`, `stopped`, `off`, `failed`, `configured`). */
  setVmState(id: string, vmId: number | string, state: Exclude<VmState, "deleting">): void;
  /** Makes IM unavailable: `reset` (default) drops connections, `hang` holds requests until resume, `refuse` closes the port. */
  pause(mode?: PauseMode): Promise<void>;
  /** Answers again (held requests are processed in order). */
  resume(): Promise<void>;
  /** Snapshot of every infrastructure (owners, status, state, VMs, last TOSCA…), for assertions. */
  infrastructures(): ImInfrastructureSnapshot[];
  infrastructure(id: string): ImInfrastructureSnapshot | undefined;
  /** The VMs of every infrastructure, cheaply: for observers that look after every change. */
  machines(): ImMachinesSnapshot[];
  /** How many requests each operation received (e.g. `stats().create`). */
  stats(): Partial<Record<ImOperation, number>>;
  clearRequests(): void;
}

const INFRASTRUCTURE_PROPERTIES = [
  "contmsg",
  "radl",
  "tosca",
  "state",
  "outputs",
  "data",
  "authorization",
] as const;
const NOT_FOUND_V1 =
  "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.";
const METHOD_NOT_ALLOWED_V1 = "The method is not allowed for the requested URL.";

/** Starts the simulator and resolves once it listens. */
export async function startImSimulator(options: ImSimulatorOptions = {}): Promise<ImSimulator> {
  const simulator = new ImSimulatorServer(options);
  await simulator.listen(options.port ?? 0);
  return simulator;
}

interface Route {
  method: string;
  segments: string[];
  op: ImOperation;
  handle: (call: Call) => Promise<WireResponse> | WireResponse;
}

/** The per-request context: parsed request plus the FastAPI-style checks in the flavour's order. */
class Call {
  readonly invalid: ValidationItem[] = [];
  constructor(
    readonly server: ImSimulatorServer,
    readonly params: Record<string, string>,
    readonly query: URLSearchParams,
    readonly headers: IncomingMessage["headers"],
    readonly body: string,
  ) {}

  get flavour(): Flavour {
    return this.server.flavour;
  }

  get accept(): string | undefined {
    return headerValue(this.headers.accept);
  }

  /** `http://<Host header>`: IM builds every URI from the request's base URL. */
  get base(): string {
    return `http://${headerValue(this.headers.host) ?? `127.0.0.1:${this.server.port}`}`;
  }

  /** IM's `get_auth_header`: missing → 401; unparseable → 500 (2.x) / 401 (1.x). */
  auth(): AuthItem[] {
    const value = headerValue(this.headers.authorization);
    if (!value) throw new ImHttpError(401, "No authentication data provided");
    try {
      return parseAuthorizationHeader(value);
    } catch (err) {
      if (this.flavour.isV1) throw new ImHttpError(401, "No authentication data provided");
      if (err instanceof AuthHeaderError) throw new ImHttpError(500, err.message);
      throw err;
    }
  }

  /** IM's `parse_deployment`: body type from `Content-Type`; empty body = empty RADL. */
  deployment(): Deployment {
    const types = mediaTypes(headerValue(this.headers["content-type"]));
    const contentTypes = types.length > 0 ? types : ["text/plain"];
    try {
      if (!this.body) return { radl: emptyRadl() };
      if (contentTypes.includes("application/json")) return { radl: parseRadlJson(this.body) };
      if (contentTypes.includes("text/yaml"))
        return deploymentFromTosca(parseToscaText(this.body), this.body);
      if (contentTypes.some((t) => t === "text/plain" || t === "*/*" || t === "text/*")) {
        return { radl: parseRadlText(this.body) };
      }
    } catch (err) {
      if (err instanceof ToscaParseError || err instanceof RadlParseError) {
        throw new ImHttpError(400, `Error parsing request body: ${err.message}`);
      }
      throw err;
    }
    throw new ImHttpError(415, `Unsupported Media Type ${pyReprList(contentTypes)}`);
  }

  /** A boolean query parameter: pydantic parsing (2.x, 422 collected) or Flask's (1.x, 400 at once). */
  bool(name: string, fallback: boolean): boolean {
    const values = this.query.getAll(name);
    if (values.length === 0) return fallback;
    if (this.flavour.isV1) {
      const parsed = parseFlaskBool(values[0]);
      if (parsed === undefined) throw new ImHttpError(400, `Incorrect value in ${name} parameter`);
      return parsed;
    }
    const raw = values[values.length - 1];
    const parsed = parsePydanticBool(raw);
    if (parsed === undefined) {
      this.invalid.push(boolItem(this.server.validationStyle, "query", name, raw));
      return fallback;
    }
    return parsed;
  }

  /** An integer query or path value (422 when not an integer). */
  int(where: "query" | "path", name: string, raw: string | null, fallback?: number): number | undefined {
    if (raw === null) {
      if (fallback === undefined) this.invalid.push(missingItem(this.server.validationStyle, where, name));
      return fallback;
    }
    if (!/^\s*[-+]?\d+\s*$/.test(raw)) {
      this.invalid.push(intItem(this.server.validationStyle, where, name, raw));
      return fallback;
    }
    return Number.parseInt(raw, 10);
  }

  /** A `Literal[...]` path parameter. */
  literal<T extends string>(name: string, permitted: readonly T[]): T | undefined {
    const value = this.params[name];
    if ((permitted as readonly string[]).includes(value)) return value as T;
    this.invalid.push(literalItem(this.server.validationStyle, "path", name, value, permitted));
    return undefined;
  }

  /** Raises FastAPI's 422 if any parameter failed validation. */
  validated(): void {
    if (this.invalid.length > 0) throw new ValidationFailure(this.invalid);
  }

  output(
    value: OutputValue,
    defaultType: string,
    fieldName?: string,
    listFieldName?: string,
    extra: Record<string, string> = {},
  ): WireResponse {
    return formatOutput(this.flavour, this.accept, value, defaultType, fieldName, listFieldName, extra);
  }

  infIdHeader(id: string): Record<string, string> {
    return { [this.flavour.infIdHeader()]: id };
  }
}

/**
 * The endpoint-specific mapping of IM's exceptions (`except XException: return_error(code, prefix + msg)`).
 * Kinds an endpoint does not catch fall into its `except Exception` → 400 with `genericPrefix`.
 *
 * `passHttp` says whether the endpoint re-raises FastAPI's HTTPException (`except HTTPException: raise`). Several
 * IM 2.0.0 endpoints do not, so a 415 from content negotiation is swallowed by their catch-all and comes back
 * as `400 <prefix>: 415: Unsupported Accept Media Types: …` (Starlette's `str(HTTPException)`).
 */
function mapFault(
  err: unknown,
  prefix: string,
  caught: Partial<Record<ImFaultKind, number>>,
  options: { genericPrefix?: string; passHttp: boolean },
): never {
  const generic = options.genericPrefix ?? prefix;
  if (err instanceof ValidationFailure) throw err;
  if (err instanceof ImHttpError || err instanceof UnsupportedAccept) {
    if (options.passHttp) throw err;
    const status = err instanceof ImHttpError ? err.status : 415;
    throw new ImHttpError(400, `${generic}: ${status}: ${err.message}`);
  }
  if (err instanceof ImFault) {
    const status = caught[err.kind];
    if (status !== undefined) throw new ImHttpError(status, `${prefix}: ${err.message}`);
    throw new ImHttpError(400, `${generic}: ${err.message}`);
  }
  throw new ImHttpError(400, `${generic}: ${err instanceof Error ? err.message : String(err)}`);
}

const INF_FAULTS = { deletedInfrastructure: 404, incorrectInfrastructure: 404, unauthorized: 403 } as const;
const VM_FAULTS = { ...INF_FAULTS, deletedVm: 404, incorrectVm: 404 } as const;

class ImSimulatorServer implements ImSimulator {
  readonly flavour: Flavour;
  readonly validationStyle: ValidationStyle;
  readonly requests: ImRequestRecord[] = [];
  private readonly backend: ImBackend;
  private readonly server: Server;
  private readonly host: string;
  private readonly routes: Route[];
  private readonly failures: Array<{ op: ImOperation | "*"; failure: ImInjectedFailure; left: number }> = [];
  private readonly held: Array<() => void> = [];
  private readonly sockets = new Set<Socket>();
  private pauseMode: PauseMode | undefined;
  private currentDelays: ImDelays;
  private listeningPort = 0;
  private seq = 0;
  private closed = false;
  private readonly onChange: (() => void) | undefined;

  constructor(options: ImSimulatorOptions) {
    this.onChange = options.onChange;
    this.flavour = new Flavour(options.version ?? "2.0.0");
    this.validationStyle = options.validationErrors ?? "pydantic1";
    this.host = options.host ?? "127.0.0.1";
    this.currentDelays = { ...DEFAULT_DELAYS, ...options.delays };
    // the backend reads the delays live, so setDelays() applies to every step scheduled afterwards
    const currentDelays = () => this.currentDelays;
    this.backend = new ImBackend({
      policy: {
        users: options.users ?? [{ username: "test", password: "test" }],
        tokens: options.tokens ?? [],
      },
      get delays() {
        return currentDelays();
      },
      kubeconfig: {
        server: options.kubernetesUrl ?? "https://127.0.0.1:6443",
        caData: options.kubernetesCaData,
        token: options.kubernetesToken,
      },
      kubeconfigFor: options.kubeconfigFor,
      onChange: options.onChange,
      now: options.now ?? (() => new Date()),
      newId: options.newId ?? uuidV1Factory(),
    });
    this.routes = this.buildRoutes();
    this.server = createServer((req, res) => this.onRequest(req, res));
    this.server.on("connection", (socket: Socket) => {
      if (this.pauseMode === "reset") {
        socket.destroy();
        return;
      }
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    return `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${this.listeningPort}`;
  }

  get port(): number {
    return this.listeningPort;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, this.host, () => {
        this.server.off("error", reject);
        this.listeningPort = (this.server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  // ------------------------------------------------------------------------------------------ control API

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.backend.close();
    this.held.length = 0;
    for (const socket of this.sockets) socket.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async flush(maxSteps?: number): Promise<number> {
    const ran = this.backend.scheduler.flush(maxSteps);
    await new Promise((resolve) => setImmediate(resolve));
    return ran;
  }

  setDelays(delays: Partial<ImDelays>): void {
    this.currentDelays = { ...this.currentDelays, ...delays };
  }

  delays(): ImDelays {
    return { ...this.currentDelays };
  }

  failNext(op: ImOperation | "*", failure: ImInjectedFailure): void {
    this.failures.push({ op, failure, left: failure.times ?? 1 });
  }

  failNextLaunch(message: string, times = 1): void {
    this.backend.queueLaunchFailure(message, times);
  }

  clearFailures(): void {
    this.failures.length = 0;
    this.backend.clearLaunchFailures();
  }

  failInfrastructure(id: string, contmsg: string): void {
    this.backend.failInfrastructure(id, contmsg);
    this.onChange?.();
  }

  makeUnconfigured(
    id: string,
    vmId: number | string,
    options: { message?: string; persistent?: boolean } = {},
  ): void {
    this.backend.makeUnconfigured(
      id,
      Number(vmId),
      options.message ?? "Simulated contextualization failure",
      options.persistent ?? false,
    );
    this.onChange?.();
  }

  clearContextualizationFault(id: string, vmId: number | string): void {
    this.backend.clearContextualizationFault(id, Number(vmId));
  }

  setVmState(id: string, vmId: number | string, state: Exclude<VmState, "deleting">): void {
    this.backend.setVmState(id, Number(vmId), state);
    this.onChange?.();
  }

  async pause(mode: PauseMode = "reset"): Promise<void> {
    this.pauseMode = mode;
    if (mode === "reset") {
      for (const socket of this.sockets) socket.destroy();
    } else if (mode === "refuse") {
      for (const socket of this.sockets) socket.destroy();
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
  }

  async resume(): Promise<void> {
    const mode = this.pauseMode;
    this.pauseMode = undefined;
    if (mode === "refuse") await this.listen(this.listeningPort);
    for (const release of this.held.splice(0)) release();
  }

  infrastructures(): ImInfrastructureSnapshot[] {
    return this.backend.snapshot();
  }

  infrastructure(id: string): ImInfrastructureSnapshot | undefined {
    return this.backend.snapshot().find((inf) => inf.id === id);
  }

  machines(): ImMachinesSnapshot[] {
    return this.backend.machines();
  }

  stats(): Partial<Record<ImOperation, number>> {
    const counts: Partial<Record<ImOperation, number>> = {};
    for (const request of this.requests) counts[request.op] = (counts[request.op] ?? 0) + 1;
    return counts;
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  // ------------------------------------------------------------------------------------------ HTTP

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.pauseMode === "reset") {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const accept = headerValue(req.headers.accept);
      const record = this.record(req, body);
      const run = () => {
        this.dispatch(req, res, body, record).catch((err: unknown) => {
          const message = err instanceof Error ? err.message : String(err);
          record.status = 500;
          this.write(res, errorResponse(this.flavour, accept, 500, message));
        });
      };
      // held requests are logged on arrival (status 0) so a test can see the client tried
      if (this.pauseMode === "hang") this.held.push(run);
      else run();
    });
  }

  /** Logs a request as it arrives; the status is filled in when it is answered. */
  private record(req: IncomingMessage, body: string): ImRequestRecord {
    const rawUrl = req.url ?? "/";
    const method = (req.method ?? "GET").toUpperCase();
    const match = this.match(
      method === "HEAD" ? "GET" : method,
      new URL(rawUrl, "http://simulator.invalid").pathname,
    );
    const record: ImRequestRecord = {
      seq: ++this.seq,
      method,
      path: rawUrl,
      op: match.route ? operationOf(match.route, match.params) : "unknown",
      headers: loggedHeaders(req.headers),
      auth: loggedAuth(headerValue(req.headers.authorization)),
      body,
      status: 0,
    };
    this.requests.push(record);
    return record;
  }

  private async dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    body: string,
    record: ImRequestRecord,
  ): Promise<void> {
    const method = record.method;
    const url = new URL(record.path, "http://simulator.invalid");
    const match = this.match(method === "HEAD" ? "GET" : method, url.pathname);

    const injected = this.takeFailure(record.op);
    if (injected) {
      if ("hang" in injected) return;
      if ("reset" in injected) {
        req.socket.destroy();
        return;
      }
      if ("delayMs" in injected) await this.backend.scheduler.sleep(injected.delayMs);
      else {
        record.status = injected.status;
        if ("body" in injected) {
          this.write(res, {
            status: injected.status,
            headers: {
              "content-type": injected.contentType ?? "text/plain; charset=utf-8",
              ...injected.headers,
            },
            body: injected.body,
          });
        } else {
          const message = injected.message ?? `Simulated failure of ${record.op}`;
          this.write(
            res,
            errorResponse(this.flavour, headerValue(req.headers.accept), injected.status, message),
          );
        }
        return;
      }
    }

    let answer: WireResponse;
    if (match.route) {
      const call = new Call(this, match.params, url.searchParams, req.headers, body);
      answer = await this.run(call, match.route);
    } else if (match.redirect) {
      answer = {
        status: 307,
        headers: {
          location: `http://${headerValue(req.headers.host) ?? `127.0.0.1:${this.port}`}${match.redirect}${url.search}`,
        },
        body: "",
      };
    } else if (match.allowed.length > 0) {
      answer = this.flavour.isV1
        ? errorResponse(this.flavour, headerValue(req.headers.accept), 405, METHOD_NOT_ALLOWED_V1, {
            allow: match.allowed.join(", "),
          })
        : {
            status: 405,
            headers: { "content-type": "application/json", allow: match.allowed.join(", ") },
            body: JSON.stringify({ detail: "Method Not Allowed" }),
          };
    } else {
      answer = this.flavour.isV1
        ? errorResponse(this.flavour, headerValue(req.headers.accept), 404, NOT_FOUND_V1)
        : {
            status: 404,
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ detail: "Not Found" }),
          };
    }
    if (this.closed) return;
    record.status = answer.status;
    this.write(res, answer, method === "HEAD");
  }

  private async run(call: Call, route: Route): Promise<WireResponse> {
    try {
      return await route.handle(call);
    } catch (err) {
      const accept = call.accept;
      if (err instanceof ValidationFailure) {
        return {
          status: 422,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ detail: err.detail }),
        };
      }
      if (err instanceof UnsupportedAccept) return errorResponse(this.flavour, accept, 415, err.message);
      if (err instanceof ImHttpError)
        return errorResponse(this.flavour, accept, err.status, err.message, { ...err.headers });
      return errorResponse(this.flavour, accept, 500, err instanceof Error ? err.message : String(err));
    }
  }

  private write(res: ServerResponse, answer: WireResponse, headOnly = false): void {
    if (res.headersSent || res.destroyed) return;
    const body = Buffer.from(answer.body, "utf8");
    const headers: Record<string, string> = {};
    if (!this.flavour.isV1) headers.server = "uvicorn";
    Object.assign(headers, answer.headers);
    headers["content-length"] = String(body.length);
    res.writeHead(answer.status, headers);
    res.end(headOnly ? undefined : body);
    this.onChange?.();
  }

  private takeFailure(op: ImOperation): ImInjectedFailure | undefined {
    const index = this.failures.findIndex((f) => f.op === op || f.op === "*");
    if (index === -1) return undefined;
    const entry = this.failures[index];
    entry.left -= 1;
    if (entry.left <= 0) this.failures.splice(index, 1);
    return entry.failure;
  }

  /** Starlette's matching: first full match wins; a path-only match means 405; a trailing slash redirects. */
  private match(
    method: string,
    pathname: string,
  ): { route?: Route; params: Record<string, string>; allowed: string[]; redirect?: string } {
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      decoded = pathname;
    }
    const attempt = (path: string) => {
      const segments = path.split("/").slice(1);
      const allowed: string[] = [];
      for (const route of this.routes) {
        const params = matchSegments(route.segments, segments);
        if (!params) continue;
        if (route.method === method) return { route, params, allowed };
        if (!allowed.includes(route.method)) allowed.push(route.method);
      }
      return { params: {}, allowed };
    };
    const result = attempt(decoded);
    if (result.route || result.allowed.length > 0) return result;
    if (decoded.length > 1 && decoded.endsWith("/")) {
      const stripped = decoded.replace(/\/+$/, "");
      const retry = attempt(stripped);
      if (retry.route || retry.allowed.length > 0) return { params: {}, allowed: [], redirect: stripped };
    }
    return result;
  }

  // ------------------------------------------------------------------------------------------ endpoints

  private buildRoutes(): Route[] {
    const b = this.backend;
    const route = (method: string, path: string, op: ImOperation, handle: Route["handle"]): Route => ({
      method,
      segments: path.split("/").slice(1),
      op,
      handle,
    });
    const v1 = this.flavour.isV1;

    return [
      route("GET", "/infrastructures", "list", (call) => {
        const items = call.auth();
        call.validated();
        try {
          const filter = v1 ? (call.query.get("filter") ?? undefined) : undefined;
          const uris = b.list(items, filter).map((id) => `${call.base}/infrastructures/${id}`);
          return call.output({ kind: "list", value: uris }, "text/uri-list", "uri-list", "uri");
        } catch (err) {
          return mapFault(err, "Error Getting Inf. List", { invalidUser: 401 }, { passHttp: v1 });
        }
      }),

      route("POST", "/infrastructures", "create", async (call) => {
        const [deployment, items] = v1 ? this.authThenBody(call) : [call.deployment(), call.auth()];
        const async = call.bool("async", false);
        const dryRun = call.bool("dry_run", false);
        call.validated();
        try {
          if (dryRun)
            return call.output({ kind: "json", value: b.estimate(deployment, items) }, "application/json");
          const id = await b.create(deployment, items, async);
          return call.output(
            { kind: "text", value: `${call.base}/infrastructures/${id}` },
            "text/uri-list",
            "uri",
            undefined,
            call.infIdHeader(id),
          );
        } catch (err) {
          return mapFault(err, "Error Creating Inf.", { invalidUser: 401 }, { passHttp: true });
        }
      }),

      route("PUT", "/infrastructures", "import", (call) => {
        const items = call.auth();
        call.validated();
        try {
          const types = mediaTypes(headerValue(call.headers["content-type"]));
          if (types.length > 0 && !types.includes("application/json")) {
            throw new ImHttpError(415, `Unsupported Media Type ${pyReprList(types)}`);
          }
          const id = b.importData(call.body, items);
          return call.output(
            { kind: "text", value: `${call.base}/infrastructures/${id}` },
            "text/uri-list",
            "uri",
          );
        } catch (err) {
          return mapFault(err, "Error Importing Inf.", { invalidUser: 401 }, { passHttp: v1 });
        }
      }),

      route("GET", "/infrastructures/{infid}", "info", (call) => {
        const items = call.auth();
        call.validated();
        try {
          const id = call.params.infid;
          const uris = b.vmIds(id, items).map((vm) => `${call.base}/infrastructures/${id}/vms/${vm}`);
          return call.output({ kind: "list", value: uris }, "text/uri-list", "uri-list", "uri");
        } catch (err) {
          return mapFault(err, "Error Getting Inf. info", INF_FAULTS, { passHttp: v1 });
        }
      }),

      route("DELETE", "/infrastructures/{infid}", "delete", async (call) => {
        const items = call.auth();
        call.bool("force", false);
        const async = call.bool("async", false);
        call.validated();
        try {
          await b.destroy(call.params.infid, items, async);
          return emptyText(this.flavour);
        } catch (err) {
          return mapFault(
            err,
            "Error Destroying Inf",
            { ...INF_FAULTS, incorrectState: 409 },
            { passHttp: v1 },
          );
        }
      }),

      route("GET", "/infrastructures/{infid}/{prop}", "property", (call) => this.getProperty(call)),

      route("POST", "/infrastructures/{infid}", "add", async (call) => {
        const [deployment, items] = v1 ? this.authThenBody(call) : [call.deployment(), call.auth()];
        const context = call.bool("context", true);
        call.validated();
        const id = call.params.infid;
        try {
          const { newVmIds, removeList, removed } = await b.addResource(id, deployment, items, context);
          if (newVmIds.length === 0 && removeList.length > 0 && removeList.length !== removed) {
            return errorBodyOnly(
              call,
              404,
              `Error deleting resources [${removeList.join(", ")}] (removed ${removed})`,
            );
          }
          const uris = newVmIds.map((vm) => `${call.base}/infrastructures/${id}/vms/${vm}`);
          return call.output(
            { kind: "list", value: uris },
            "text/uri-list",
            "uri-list",
            "uri",
            context ? call.infIdHeader(id) : {},
          );
        } catch (err) {
          return mapFault(err, "Error Adding resources", INF_FAULTS, { passHttp: true });
        }
      }),

      route("PUT", "/infrastructures/{infid}/reconfigure", "reconfigure", (call) => {
        if (!v1) call.deployment();
        const items = call.auth();
        if (v1) call.deployment();
        call.validated();
        const id = call.params.infid;
        try {
          const raw = call.query.get("vm_list");
          let vmList: number[] | undefined;
          if (raw) {
            const parts = raw.split(",");
            if (!parts.every((p) => /^\s*[-+]?\d+\s*$/.test(p)))
              throw new ImHttpError(400, "Incorrect vm_list format.");
            vmList = parts.map((p) => Number.parseInt(p, 10));
          }
          b.reconfigure(id, items, vmList);
          return emptyText(this.flavour, call.infIdHeader(id));
        } catch (err) {
          return mapFault(err, "Error reconfiguring infrastructure", INF_FAULTS, { passHttp: true });
        }
      }),

      route("PUT", "/infrastructures/{infid}/{op}", "start", (call) => {
        const items = call.auth();
        const op = v1
          ? this.v1Literal(call, "op", ["start", "stop"])
          : call.literal("op", ["start", "stop"] as const);
        call.validated();
        const name = op ?? "start";
        try {
          b.operate(call.params.infid, items, name);
          return emptyText(this.flavour);
        } catch (err) {
          return mapFault(err, `Error in ${name} operation`, INF_FAULTS, { passHttp: true });
        }
      }),

      route("POST", "/infrastructures/{infid}/authorization", "changeAuthorization", (call) => {
        const types = mediaTypes(headerValue(call.headers["content-type"]));
        const contentTypes = types.length > 0 ? types : ["application/json"];
        if (!contentTypes.includes("application/json")) {
          throw new ImHttpError(415, `Unsupported Media Type ${pyReprList(contentTypes)}`);
        }
        let newOwner: AuthItem;
        try {
          const parsed = JSON.parse(call.body) as Record<string, unknown>;
          newOwner = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
          newOwner.type ??= "InfrastructureManager";
        } catch (err) {
          throw new ImHttpError(400, `Error parsing auth data: ${(err as Error).message}`);
        }
        const items = call.auth();
        const overwrite = call.bool("overwrite", false);
        call.validated();
        try {
          b.changeOwners(call.params.infid, newOwner, items, overwrite);
          return emptyText(this.flavour);
        } catch (err) {
          if (err instanceof ImFault && err.kind === "incorrectInfrastructure") {
            return mapFault(err, "Error modifying infrastructure owners", INF_FAULTS, { passHttp: true });
          }
          return mapFault(err, "Error modifying infrastructure owner", INF_FAULTS, { passHttp: true });
        }
      }),

      route("GET", "/infrastructures/{infid}/vms/{vmid}", "vmInfo", (call) => {
        const items = call.auth();
        call.validated();
        try {
          const radl = b.vmInfo(call.params.infid, call.params.vmid, items);
          return call.output({ kind: "radl", text: radl.text, simple: radl.simple }, "text/plain", "radl");
        } catch (err) {
          return mapFault(err, "Error Getting VM. info", VM_FAULTS, {
            genericPrefix: "Error Getting VM info",
            passHttp: v1,
          });
        }
      }),

      route("DELETE", "/infrastructures/{infid}/vms/{vmid}", "vmDelete", (call) => {
        const items = call.auth();
        const context = call.bool("context", true);
        call.validated();
        try {
          b.removeResource(call.params.infid, call.params.vmid, items, context);
          return emptyText(this.flavour);
        } catch (err) {
          return mapFault(err, "Error Removing resources", VM_FAULTS, { passHttp: v1 });
        }
      }),

      route("PUT", "/infrastructures/{infid}/vms/{vmid}", "vmAlter", (call) => {
        const [deployment, items] = v1 ? this.authThenBody(call) : [call.deployment(), call.auth()];
        call.validated();
        try {
          const radl = b.alterVm(call.params.infid, call.params.vmid, deployment.radl, items);
          return call.output({ kind: "radl", text: radl.text, simple: radl.simple }, "text/plain", "radl");
        } catch (err) {
          return mapFault(err, "Error modifying resources", VM_FAULTS, { passHttp: true });
        }
      }),

      route("GET", "/infrastructures/{infid}/vms/{vmid}/{prop}", "vmProperty", (call) => {
        const items = call.auth();
        call.int("query", "step", call.query.get("step"), 1);
        call.validated();
        const { infid, vmid, prop } = call.params;
        try {
          const value = b.vmProperty(infid, vmid, prop, items);
          if (value === undefined || value === null) {
            throw new ImHttpError(404, `Incorrect property ${prop} for VM ID ${vmid}`);
          }
          const output: OutputValue =
            typeof value === "string" ? { kind: "text", value } : { kind: "json", value };
          return call.output(output, "text/plain", prop);
        } catch (err) {
          return mapFault(err, "Error Getting VM. property", VM_FAULTS, {
            genericPrefix: "Error Getting VM property",
            passHttp: true,
          });
        }
      }),

      route("PUT", "/infrastructures/{infid}/vms/{vmid}/{op}", "vmOperation", (call) => {
        const items = call.auth();
        const ops = ["start", "stop", "reboot"] as const;
        const op = v1 ? this.v1Literal(call, "op", ops) : call.literal("op", ops);
        call.validated();
        const name = op ?? "start";
        try {
          b.operateVmById(call.params.infid, call.params.vmid, items, name);
          return emptyText(this.flavour);
        } catch (err) {
          return mapFault(err, `Error in ${name} op in VM`, VM_FAULTS, { passHttp: true });
        }
      }),

      route("PUT", "/infrastructures/{infid}/vms/{vmid}/disks/{disknum}/snapshot", "diskSnapshot", (call) => {
        const items = call.auth();
        call.int("path", "disknum", call.params.disknum);
        const image = call.query.get("image_name");
        if (image === null && !v1) call.int("query", "image_name", null);
        call.bool("auto_delete", false);
        call.validated();
        try {
          b.vmInfo(call.params.infid, call.params.vmid, items);
          return {
            status: 200,
            headers: { "content-type": this.flavour.successType("text/plain") },
            body: `mock0://linux.for.ev.er/${image ?? ""}`,
          };
        } catch (err) {
          return mapFault(err, "Error creating snapshot", VM_FAULTS, { passHttp: v1 });
        }
      }),

      route("GET", "/clouds/{cloudid}/{param}", "cloudInfo", (call) => {
        const items = call.auth();
        const param = call.literal("param", ["images", "quotas"] as const);
        call.validated();
        try {
          const value = b.cloudInfo(call.params.cloudid, items, param ?? "images");
          return call.output({ kind: "json", value }, "application/json", param);
        } catch (err) {
          return mapFault(err, "Error getting cloud info", { invalidUser: 401 }, { passHttp: true });
        }
      }),

      route("GET", "/stats", "stats", (call) => {
        const items = call.auth();
        call.validated();
        try {
          b.authenticate(items);
          return call.output({ kind: "json", value: [] }, "application/json", "stats");
        } catch (err) {
          return mapFault(err, "Error getting stats", { invalidUser: 401 }, { passHttp: true });
        }
      }),

      route("GET", "/version", "version", (call) => {
        try {
          return call.output({ kind: "text", value: this.flavour.version }, "text/plain", "version");
        } catch (err) {
          return mapFault(err, "Error getting IM version", {}, { passHttp: v1 });
        }
      }),

      route("GET", "/openapi.json", "openapi", () => ({
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(openApiDocument(this.flavour.version)),
      })),

      route("GET", "/", "docs", () => ({
        status: 200,
        headers: { "content-type": this.flavour.successType("text/html") },
        body: "<!DOCTYPE html><html><head><title>Infrastructure Manager API - Swagger UI</title></head><body><p>IM simulator: see /openapi.json</p></body></html>",
      })),
    ];
  }

  /** IM 1.x reads the `Authorization` header before anything else. */
  private authThenBody(call: Call): [Deployment, AuthItem[]] {
    const items = call.auth();
    return [call.deployment(), items];
  }

  /** IM 1.x has fixed routes instead of enumerations: an unknown operation is an unknown URL. */
  private v1Literal<T extends string>(call: Call, name: string, permitted: readonly T[]): T {
    const value = call.params[name];
    if (!(permitted as readonly string[]).includes(value)) throw new ImHttpError(404, NOT_FOUND_V1);
    return value as T;
  }

  /** `GET /infrastructures/<id>/<prop>` — the property endpoint's order of checks differs per property. */
  private getProperty(call: Call): WireResponse {
    const b = this.backend;
    const items = call.auth();
    const v1 = this.flavour.isV1;
    let prop: (typeof INFRASTRUCTURE_PROPERTIES)[number] | undefined;
    if (v1) {
      const value = call.params.prop;
      prop = (INFRASTRUCTURE_PROPERTIES as readonly string[]).includes(value)
        ? (value as (typeof INFRASTRUCTURE_PROPERTIES)[number])
        : undefined;
    } else prop = call.literal("prop", INFRASTRUCTURE_PROPERTIES);
    const headerOnly = v1 && prop !== "contmsg" ? false : call.bool("headeronly", false);
    const forget = v1 && prop !== "data" ? false : call.bool("delete", false);
    call.validated();
    const id = call.params.infid;
    const notTosca = (what: string) =>
      v1
        ? new ImFault(
            "generic",
            `403 Forbidden: '${what}' infrastructure property is not valid in this infrastructure`,
          )
        : new ImHttpError(403, `'${what}' infrastructure property is not valid in this infrastructure`);
    try {
      switch (prop) {
        case undefined:
          throw new ImHttpError(404, "Incorrect infrastructure property");
        case "contmsg":
          return call.output({ kind: "text", value: b.contMsg(id, items, headerOnly) }, "text/plain", prop);
        case "radl":
          return call.output({ kind: "text", value: b.radl(id, items) }, "text/plain", prop);
        case "tosca": {
          if (v1) this.requireJsonAccept(call);
          const tosca = b.tosca(id, items);
          if (tosca === undefined) throw notTosca("tosca");
          return call.output({ kind: "text", value: tosca }, "text/plain", prop);
        }
        case "authorization":
          return call.output({ kind: "list", value: b.owners(id, items) }, "text/plain", prop);
        default:
          break;
      }
      this.requireJsonAccept(call);
      let value: unknown;
      if (prop === "state") value = b.state(id, items);
      else if (prop === "outputs") {
        value = b.outputs(id, items);
        if (value === undefined) throw notTosca("outputs");
      } else value = b.exportData(id, items, forget);
      return call.output({ kind: "json", value }, "application/json", prop);
    } catch (err) {
      return mapFault(err, "Error Getting Inf. prop", INF_FAULTS, { passHttp: true });
    }
  }

  /** `/state`, `/outputs`, `/data` only speak JSON: IM checks `Accept` first (415 with the list's repr). */
  private requireJsonAccept(call: Call): void {
    const given = mediaTypes(call.accept);
    if (this.flavour.isV1 && given.length === 0) return;
    const types = given.length > 0 ? given : ["application/json"];
    if (!types.includes("application/json") && !types.includes("*/*") && !types.includes("application/*")) {
      throw new ImHttpError(415, `Unsupported Accept Media Types: ${pyReprList(types)}`);
    }
  }
}

/** An IM error answer built inside a handler (not raised): IM's `return_error` as a value. */
function errorBodyOnly(call: Call, status: number, message: string): WireResponse {
  return errorResponse(call.flavour, call.accept, status, message);
}

/** The operation name of a matched request: the property or the start/stop verb where the route is generic. */
function operationOf(route: Route, params: Record<string, string>): ImOperation {
  if (route.op === "property" && (INFRASTRUCTURE_PROPERTIES as readonly string[]).includes(params.prop)) {
    return params.prop as ImOperation;
  }
  if (route.op === "start") return params.op === "stop" || params.op === "start" ? params.op : "unknown";
  return route.op;
}

function matchSegments(
  pattern: readonly string[],
  segments: readonly string[],
): Record<string, string> | undefined {
  if (pattern.length !== segments.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i += 1) {
    const p = pattern[i];
    if (p.startsWith("{") && p.endsWith("}")) {
      if (segments[i] === "") return undefined;
      params[p.slice(1, -1)] = segments[i];
    } else if (p !== segments[i]) return undefined;
  }
  return params;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

function loggedHeaders(headers: IncomingMessage["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const text = headerValue(value) as string;
    out[name] = name === "authorization" ? redactAuthorization(text) : text;
  }
  return out;
}

function loggedAuth(value: string | undefined): AuthItem[] | undefined {
  if (!value) return undefined;
  try {
    return redactItems(parseAuthorizationHeader(value));
  } catch {
    return undefined;
  }
}

/**
 * UUID v1 strings like IM's (`uuid1()`): time-based, so ids sort by creation, with a fixed clock sequence and
 * node (those of the ids recorded in im.md §12) and a counter that keeps ids unique within one millisecond.
 */
export function uuidV1Factory(): () => string {
  let lastMs = 0;
  let counter = 0;
  return () => {
    const ms = Date.now();
    if (ms === lastMs) counter += 1;
    else {
      lastMs = ms;
      counter = 0;
    }
    const ticks = (BigInt(ms) + 12219292800000n) * 10000n + BigInt(counter % 10000);
    const timeLow = (ticks & 0xffffffffn).toString(16).padStart(8, "0");
    const timeMid = ((ticks >> 32n) & 0xffffn).toString(16).padStart(4, "0");
    const timeHi = (((ticks >> 48n) & 0x0fffn) | 0x1000n).toString(16).padStart(4, "0");
    return `${timeLow}-${timeMid}-${timeHi}-8b87-374104366016`;
  };
}

/** A minimal OpenAPI document listing IM 2.0's paths (im.md §4). */
function openApiDocument(version: string): unknown {
  const op = (summary: string) => ({ summary });
  return {
    openapi: "3.1.0",
    info: { title: "Infrastructure Manager API", version: version === "2.0.0" ? "2.0" : version },
    paths: {
      "/infrastructures": {
        get: op("Get infrastructure List"),
        post: op("Create new infrastructure"),
        put: op("Import infrastructure"),
      },
      "/infrastructures/{infid}": {
        get: op("Get infrastructure information"),
        post: op("Add resources to infrastructure"),
        delete: op("Destroy infrastructure"),
      },
      "/infrastructures/{infid}/{prop}": { get: op("Get infrastructure property") },
      "/infrastructures/{infid}/reconfigure": { put: op("Reconfigure infrastructure") },
      "/infrastructures/{infid}/{op}": { put: op("Start or stop infrastructure") },
      "/infrastructures/{infid}/authorization": { post: op("Change infrastructure authorization") },
      "/infrastructures/{infid}/vms/{vmid}": {
        get: op("Get VM information"),
        put: op("Alter VM information"),
        delete: op("Remove VM from infrastructure"),
      },
      "/infrastructures/{infid}/vms/{vmid}/{prop}": { get: op("Get VM property") },
      "/infrastructures/{infid}/vms/{vmid}/{op}": { put: op("Start, stop or reboot VM") },
      "/infrastructures/{infid}/vms/{vmid}/disks/{disknum}/snapshot": { put: op("Create disk snapshot") },
      "/clouds/{cloudid}/{param}": { get: op("Get cloud information (images or quotas)") },
      "/stats": { get: op("Get statistics") },
      "/version": { get: op("Get IM version") },
    },
  };
}
