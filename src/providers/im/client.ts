/**
 * The IM (Infrastructure Manager) provider: IM's REST API exactly as im.md records it, for IM 1.x and 2.x.
 *
 * - JSON everywhere (`Accept: application/json`); the id from the `InfID` header, else from the JSON uri.
 * - Errors in all three shapes (`{message, code}`, FastAPI `{detail}`, plain text), classified so the
 *   controller knows what retrying can do: 400/422 invalid, 401/403 credentials, 404 gone, 409 busy,
 *   5xx/504/timeouts/connection errors unavailable.
 * - A timeout and the caller's AbortSignal on every call; scaling gets a longer timeout, IM answers it only
 *   once the new machines exist.
 * - Creation embeds a marker (the cluster uid) in the TOSCA `metadata`, so an infrastructure whose id was
 *   never stored can be found again (im.md §11.7) instead of being created twice.
 * - The Authorization header is built per call and never logged.
 */
import { parse } from "yaml";
import { startDeadline } from "../../util/deadline.js";
import {
  ProviderError,
  type CallOptions,
  type InfrastructureProvider,
  type InfrastructureStatus,
} from "../provider.js";
import { scalableNodes, withRemovalList } from "./scaling.js";
import { nodeHttp, type HttpSend } from "../../util/http.js";

export interface ImClientOptions {
  /** IM's base URL, e.g. http://localhost:8800 */
  url: string;
  /** The Authorization header value (see auth.ts). */
  authorization: string;
  /** Per-call timeout, default 30 s. */
  timeoutMs?: number;
  /** Timeout of scaling (IM answers when the new VMs exist), default 15 min. */
  updateTimeoutMs?: number;
  /** Sends the requests instead of node:http(s). */
  http?: HttpSend;
}

/** An IM answer, read whole. */
interface ImAnswer {
  status: number;
  statusText: string;
  ok: boolean;
  header(name: string): string | undefined;
  text: string;
  /** The body parsed as JSON; throws when it is not JSON. */
  json(): any;
}

/** The TOSCA `metadata` key that carries the cluster's uid. */
export const MARKER_KEY = "krake_cluster_uid";

const PHASES: Record<string, InfrastructureStatus["phase"]> = {
  pending: "pending",
  running: "creating",
  configured: "ready",
  unconfigured: "degraded",
  failed: "failed",
  deleting: "deleting",
  // Transient: IM could not read a VM's state; the controller retries (bounded by its own backoff).
  unknown: "creating",
  stopped: "failed",
  off: "failed",
};

export class ImProvider implements InfrastructureProvider {
  private readonly base: string;
  private readonly send: HttpSend;

  constructor(private readonly opts: ImClientOptions) {
    this.base = opts.url.replace(/\/+$/, "");
    this.send = opts.http ?? nodeHttp();
  }

  async create(template: Record<string, unknown>, marker: string, opts: CallOptions = {}): Promise<string> {
    const res = await this.call("POST", "/infrastructures", {
      ...opts,
      query: { async: "true" },
      tosca: withMarker(template, marker),
    });
    return idFrom(res);
  }

  async findByMarker(marker: string, opts: CallOptions = {}): Promise<string | null> {
    const list = await this.call("GET", "/infrastructures", opts);
    const uris: string[] = (list.json() as any)?.["uri-list"]?.map((u: { uri: string }) => u.uri) ?? [];
    for (const uri of uris) {
      const id = lastSegment(uri);
      try {
        const res = await this.call("GET", `/infrastructures/${encodeURIComponent(id)}/tosca`, opts);
        const body = res.json() as { tosca?: string };
        const doc = parse(body.tosca ?? "") as any;
        if (doc?.metadata?.[MARKER_KEY] === marker) return id;
      } catch (err) {
        // Deleted meanwhile, or created from RADL (403): not ours.
        if (err instanceof ProviderError && (err.kind === "not-found" || err.kind === "unauthorized"))
          continue;
        throw err;
      }
    }
    return null;
  }

  async status(id: string, opts: CallOptions = {}): Promise<InfrastructureStatus> {
    const res = await this.call("GET", `/infrastructures/${encodeURIComponent(id)}/state`, opts);
    const body = res.json() as { state?: { state?: string; vm_states?: Record<string, string> } };
    const aggregate = body.state?.state;
    if (!aggregate)
      throw new ProviderError(`IM answered an empty state for infrastructure ${id}`, "unavailable");
    const machines = body.state?.vm_states ?? {};
    let phase = PHASES[aggregate];
    if (!phase)
      throw new ProviderError(`IM answered an unknown state '${aggregate}' for ${id}`, "unavailable");
    // An aggregate `running` (or even `configured`) can hide an unconfigured VM (im.md §5): look at each.
    const vmStates = Object.values(machines);
    if (phase !== "failed" && phase !== "deleting" && vmStates.includes("failed")) phase = "failed";
    else if ((phase === "ready" || phase === "creating") && vmStates.includes("unconfigured")) {
      phase = vmStates.some((s) => s === "pending" || s === "running") ? "creating" : "degraded";
    }
    const status: InfrastructureStatus = { phase, detail: aggregate, machines };
    if (phase === "failed" || phase === "degraded") status.message = await this.contmsg(id, opts);
    return status;
  }

  /** The tail of IM's contextualization log: where the reason for a failure is. */
  private async contmsg(id: string, opts: CallOptions): Promise<string> {
    try {
      const res = await this.call("GET", `/infrastructures/${encodeURIComponent(id)}/contmsg`, opts);
      const text = (res.json() as { contmsg?: string }).contmsg ?? "";
      const trimmed = text.trim();
      return trimmed.length > 2000 ? `…${trimmed.slice(-2000)}` : trimmed || "IM gave no message";
    } catch (err) {
      return `IM's message could not be read: ${(err as Error).message}`;
    }
  }

  async kubeconfig(id: string, opts: CallOptions = {}): Promise<Record<string, unknown>> {
    const res = await this.call("GET", `/infrastructures/${encodeURIComponent(id)}/outputs`, opts);
    const outputs = (res.json() as { outputs?: Record<string, unknown> }).outputs ?? {};
    const value = outputs.kubeconfig;
    if (value === undefined || value === null || value === "")
      throw new ProviderError(`infrastructure ${id} has no 'kubeconfig' output (yet)`, "invalid");
    let doc: unknown = value;
    if (typeof value === "string") {
      try {
        doc = parse(value);
      } catch (err) {
        throw new ProviderError(
          `the 'kubeconfig' output of ${id} is not YAML: ${(err as Error).message.split("\n")[0]}`,
          "invalid",
        );
      }
    }
    const kc = doc as { clusters?: { cluster?: { server?: unknown } }[] } | null;
    const server = kc?.clusters?.[0]?.cluster?.server;
    // Before the VMs exist IM renders `None` or null into concatenated outputs (im.md §6).
    if (!kc || typeof kc !== "object" || typeof server !== "string" || /None|null/.test(server))
      throw new ProviderError(
        `the 'kubeconfig' output of ${id} has no usable cluster server (got ${JSON.stringify(server ?? null)})`,
        "invalid",
      );
    return kc as Record<string, unknown>;
  }

  async update(
    id: string,
    template: Record<string, unknown>,
    marker: string,
    opts: CallOptions = {},
  ): Promise<void> {
    const tosca = await this.pinRemovals(id, withMarker(template, marker), opts);
    await this.call("POST", `/infrastructures/${encodeURIComponent(id)}`, {
      ...opts,
      tosca,
      timeoutMs: this.opts.updateTimeoutMs ?? 15 * 60_000,
    });
  }

  /**
   * IM merges a posted TOSCA over the stored one list index by list index, so a `removal_list` sent once stays
   * in IM's document for good, and a later scale-down without a list would remove those (long gone) VMs and
   * fail. For each node whose stored list is longer than the one now sent, the list is completed with what IM
   * would remove without one — the node's oldest VMs — so the stale entries are overwritten.
   */
  private async pinRemovals(
    id: string,
    doc: Record<string, unknown>,
    opts: CallOptions,
  ): Promise<Record<string, unknown>> {
    const res = await this.call("GET", `/infrastructures/${encodeURIComponent(id)}/tosca`, opts);
    const stored = parse((res.json() as { tosca?: string }).tosca ?? "") as Record<string, unknown>;
    const storedLists = new Map(scalableNodes(stored ?? {}).map((n) => [n.name, n.removalList.length]));
    const affected = scalableNodes(doc).filter((n) => (storedLists.get(n.name) ?? 0) > n.removalList.length);
    if (affected.length === 0) return doc;
    const vms = await this.vmsBySystem(id, opts);
    for (const node of affected) {
      const existing = vms.get(node.name) ?? [];
      const excess = existing.length - node.instances;
      if (excess <= node.removalList.length) continue;
      const chosen = new Set(node.removalList);
      const oldest = existing.filter((vm) => !chosen.has(vm)).slice(0, excess - node.removalList.length);
      doc = withRemovalList(doc, node.name, [...node.removalList, ...oldest]);
    }
    return doc;
  }

  /** The VM ids of each system (TOSCA node), oldest first, from the VM list and each VM's RADL. */
  private async vmsBySystem(id: string, opts: CallOptions): Promise<Map<string, string[]>> {
    const bySystem = new Map<string, string[]>();
    for (const vm of await this.vms(id, opts)) {
      if (!vm.system) continue;
      bySystem.set(vm.system, [...(bySystem.get(vm.system) ?? []), vm.id]);
    }
    return bySystem;
  }

  /**
   * The id of the VM whose host name is `hostname` (a Kubernetes node's name): the VM RADL's
   * `net_interface.0.dns_name` with `#N#` replaced by the VM id, IM's default being `vnode-#N#` (im.md §3).
   * A name with a domain also matches its first label (`vnode-2.example.org` is node `vnode-2`). `system`
   * restricts the search to one Compute node (the workers). Null when no VM has that name; a name several VMs
   * share is refused (removing one at random is what this lookup exists to avoid).
   */
  async vmIdOfHost(
    id: string,
    hostname: string,
    opts: CallOptions & { system?: string } = {},
  ): Promise<string | null> {
    const wanted = hostname.toLowerCase();
    const matches = (await this.vms(id, opts)).filter((vm) => {
      if (opts.system !== undefined && vm.system !== opts.system) return false;
      const name = vm.hostname.toLowerCase();
      return name === wanted || name.split(".")[0] === wanted;
    });
    if (matches.length > 1)
      throw new ProviderError(
        `VMs ${matches.map((vm) => vm.id).join(", ")} of infrastructure ${id} are all named '${hostname}'`,
        "invalid",
      );
    return matches[0]?.id ?? null;
  }

  /** Every VM of an infrastructure, oldest first, with its system and host name from its RADL. */
  private async vms(
    id: string,
    opts: CallOptions,
  ): Promise<{ id: string; system: string | undefined; hostname: string }[]> {
    const base = `/infrastructures/${encodeURIComponent(id)}`;
    const list = await this.call("GET", base, opts);
    const uris: string[] = (list.json() as any)?.["uri-list"]?.map((u: { uri: string }) => u.uri) ?? [];
    const ids = uris.map(lastSegment).sort((a, b) => Number(a) - Number(b));
    const vms = [];
    for (const vm of ids) {
      let res: ImAnswer;
      try {
        res = await this.call("GET", `${base}/vms/${encodeURIComponent(vm)}`, opts);
      } catch (err) {
        // Removed between the list and this read.
        if (err instanceof ProviderError && err.kind === "not-found") continue;
        throw err;
      }
      const radl = (res.json() as { radl?: Record<string, unknown>[] }).radl ?? [];
      const system = radl.find((item) => item.class === "system");
      const dns = system?.["net_interface.0.dns_name"];
      const hostname = (typeof dns === "string" && dns !== "" ? dns : "vnode-#N#").replaceAll("#N#", vm);
      vms.push({ id: vm, system: typeof system?.id === "string" ? system.id : undefined, hostname });
    }
    return vms;
  }

  async reconfigure(id: string, opts: CallOptions = {}): Promise<void> {
    await this.call("PUT", `/infrastructures/${encodeURIComponent(id)}/reconfigure`, opts);
  }

  async delete(id: string, opts: CallOptions = {}): Promise<void> {
    try {
      await this.call("DELETE", `/infrastructures/${encodeURIComponent(id)}`, {
        ...opts,
        query: { async: "true" },
      });
    } catch (err) {
      if (err instanceof ProviderError && err.kind === "not-found") return;
      throw err;
    }
  }

  private async call(
    method: string,
    path: string,
    opts: CallOptions & {
      query?: Record<string, string>;
      tosca?: Record<string, unknown>;
      timeoutMs?: number;
    } = {},
  ): Promise<ImAnswer> {
    const url = new URL(this.base + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = {
      Accept: "application/json",
      Authorization: this.opts.authorization,
    };
    let body: string | undefined;
    if (opts.tosca) {
      headers["Content-Type"] = "text/yaml";
      body = toscaText(opts.tosca);
    }
    const deadline = startDeadline(opts.signal, opts.timeoutMs ?? this.opts.timeoutMs ?? 30_000);
    let res: ImAnswer;
    try {
      const answer = await this.send(url, { method, headers, body, signal: deadline.signal });
      // Read the body under the same deadline; callers parse the buffered copy.
      const text = await answer.text();
      res = {
        status: answer.status,
        statusText: answer.statusText,
        ok: answer.ok,
        header: (name) => answer.header(name),
        text,
        json: () => {
          try {
            return JSON.parse(text);
          } catch {
            throw new ProviderError(
              `IM ${method} ${path} answered ${answer.status} with a body that is not JSON: ${text.slice(0, 200)}`,
              "unavailable",
            );
          }
        },
      };
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const why = deadline.timedOut()
        ? "timed out"
        : (((err as Error).cause as Error | undefined)?.message ?? (err as Error).message);
      throw new ProviderError(`IM at ${this.base} unreachable (${method} ${path}): ${why}`, "unavailable", {
        cause: err,
      });
    } finally {
      deadline.dispose();
    }
    if (res.ok) return res;
    throw imError(res, method, path);
  }
}

function imError(res: ImAnswer, method: string, path: string): ProviderError {
  const text = res.text;
  let message = text.trim();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.message === "string") message = body.message;
    else if (body && Array.isArray(body.detail))
      message = body.detail
        .map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).join(".")}: ${d.msg}`)
        .join("; ");
  } catch {
    // Plain text (IM 1.x, or a proxy's page): keep it.
  }
  // IM answers 400 for missing credentials on most endpoints (only list and create say 401).
  const credentials =
    /credentials|Access to this infrastructure not granted|Invalid user|Invalid token|No authentication data/i.test(
      message,
    );
  const kind =
    credentials && (res.status === 400 || res.status === 401 || res.status === 403)
      ? "unauthorized"
      : res.status === 404
        ? "not-found"
        : res.status === 401 || res.status === 403
          ? "unauthorized"
          : res.status === 409
            ? "conflict"
            : res.status === 400 || res.status === 415 || res.status === 422
              ? "invalid"
              : "unavailable";
  return new ProviderError(
    `IM ${method} ${path} answered ${res.status}: ${message.slice(0, 1000) || res.statusText}`,
    kind,
  );
}

/** The new infrastructure's id: the `InfID` header, else the last segment of the JSON `uri` (im.md §3). */
function idFrom(res: ImAnswer): string {
  const header = res.header("InfID");
  if (header) return header.trim();
  let body: { uri?: string } | null = null;
  try {
    body = res.json() as { uri?: string } | null;
  } catch {
    // Neither header nor JSON: reported below.
  }
  if (body?.uri) return lastSegment(body.uri);
  throw new ProviderError("IM's create answer carried neither an InfID header nor a uri", "unavailable");
}

function lastSegment(uri: string): string {
  return uri.replace(/\/+$/, "").split("/").pop() ?? uri;
}

/**
 * The TOSCA body: JSON, which is YAML. IM reads it with PyYAML (YAML 1.1), and JSON quotes every string, so
 * values like `yes`, `on` or `0755` that a YAML 1.2 writer leaves bare cannot turn into booleans or octal
 * numbers on IM's side. It is also ~40x cheaper to produce than YAML (bench:infra). The one thing PyYAML
 * reads differently is a number in exponent form (JSON writes 1e+21 for huge values), absent from templates.
 */
export function toscaText(doc: Record<string, unknown>): string {
  return JSON.stringify(doc, null, 2);
}

/** The template with the marker in `metadata`, which IM keeps and returns from `/tosca`. */
export function withMarker(template: Record<string, unknown>, marker: string): Record<string, unknown> {
  const metadata = {
    ...((template.metadata as Record<string, unknown> | undefined) ?? {}),
    [MARKER_KEY]: marker,
  };
  return { ...template, metadata };
}
