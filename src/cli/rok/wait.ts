/**
 * `--wait [state]`: follows the object through a watch (never polling) until it reaches the state, shows
 * progress on stderr (a spinner on a terminal, one line per state change otherwise), and fails with the
 * reason when the object goes FAILED, disappears, or the timeout passes.
 */
import { KrakeApiError } from "../../client/index.js";
import type { KrakeClient } from "../../client/index.js";
import type { KindDef, Resource } from "../../resources/kind.js";
import { CliError } from "./errors.js";

export interface WaitOptions {
  /** Upper-case state, or DELETED for "gone from the store". */
  state: string;
  timeoutMs: number;
  /**
   * After an update the object may already be in the wanted state; only a state reached through a status
   * change made after the update counts then, so that `update --wait running` waits for the controller.
   */
  requireStatusChange?: boolean;
  progress?: Progress;
}

export interface Progress {
  update(state: string, elapsedMs: number): void;
  done(): void;
}

const FAILED_STATES = new Set(["FAILED"]);

/** `30s`, `15m`, `1h`, `1h30m` or plain seconds → milliseconds. */
export function parseDuration(text: string, flag = "--timeout"): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"];
    consumed = re.lastIndex;
  }
  if (consumed === 0 || consumed !== s.length)
    throw new CliError(`${flag}: expected a duration such as 90s, 15m or 1h, got '${text}'`, 2);
  return total;
}

export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h) return `${h}h${String(m).padStart(2, "0")}m${String(s).padStart(2, "0")}s`;
  if (m) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

const stateOf = (o: Resource | undefined): string => String(o?.status?.state ?? "").toUpperCase();

function reasonOf(o: Resource): string {
  const r = o.status?.reason;
  if (!r) return "no reason given";
  return [r.code, r.message].filter(Boolean).join(": ") || "no reason given";
}

/** The state, and for an object being deleted what still holds it: what an operator looks at next. */
function whereItIs(o: Resource): string {
  const parts = [`state: ${stateOf(o) || "unknown"}`];
  if (o.status?.reason) parts.push(`reason: ${reasonOf(o)}`);
  if (o.metadata.deleted && o.metadata.finalizers?.length)
    parts.push(`waiting for finalizers: ${o.metadata.finalizers.join(", ")}`);
  return parts.join(", ");
}

function describe(def: KindDef, o: Resource): string {
  const ns = o.metadata.namespace ? `${o.metadata.namespace}/` : "";
  return `${def.kind} ${ns}${o.metadata.name}`;
}

/**
 * Resolves with the object once it is in `opts.state` (for DELETED: its last version, state DELETED).
 * `start` is the object as the create/update/delete call returned it.
 */
export async function waitFor(
  client: KrakeClient,
  def: KindDef,
  start: Resource,
  opts: WaitOptions,
): Promise<Resource> {
  const wanted = opts.state.toUpperCase();
  const started = Date.now();
  const kc = client.kind(def);
  const ns = def.namespaced ? start.metadata.namespace : null;
  const initialStatus = JSON.stringify(start.status ?? null);
  let latest = start;
  let statusChanged = !opts.requireStatusChange;
  /** The state the progress display shows; the ticker repeats it with a fresh elapsed time. */
  let shown = "";
  const show = (o: Resource) => {
    shown = stateOf(o) || "UNKNOWN";
    opts.progress?.update(shown, Date.now() - started);
  };

  const check = (o: Resource): Resource | null => {
    latest = o;
    if (!statusChanged && JSON.stringify(o.status ?? null) !== initialStatus) statusChanged = true;
    show(o);
    const state = stateOf(o);
    if (wanted !== "DELETED" && state === wanted && statusChanged) return o;
    if (FAILED_STATES.has(state) && !FAILED_STATES.has(wanted) && statusChanged) {
      throw new CliError(`${describe(def, o)} is ${state}: ${reasonOf(o)}`);
    }
    return null;
  };

  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(new WaitTimeout()), opts.timeoutMs);
  const ticker = setInterval(() => opts.progress?.update(shown, Date.now() - started), 250);
  try {
    const immediate = check(start);
    if (immediate) return immediate;
    let from: string | undefined = start.metadata.resource_version ?? undefined;
    for (;;) {
      try {
        for await (const event of kc.watch(ns, {
          resourceVersion: from,
          signal: abort.signal,
          heartbeat: 10,
        })) {
          const o = event.object;
          if (o?.metadata?.name !== start.metadata.name) continue;
          if (event.type === "ERROR") continue;
          from = o.metadata.resource_version ?? from;
          if (event.type === "DELETED") {
            if (wanted === "DELETED") return { ...o, status: { ...o.status, state: "DELETED" } };
            throw new CliError(`${describe(def, o)} was deleted while waiting for ${wanted}`);
          }
          const hit = check(o);
          if (hit) return hit;
        }
      } catch (err) {
        if (abort.signal.aborted) throw abort.signal.reason;
        // The history we asked for is compacted (410): catch up from the object itself.
        if (!(err instanceof KrakeApiError && err.status === 410)) throw err;
      }
      // The stream ended (server restart, proxy timeout) or history was compacted: resume from a fresh GET.
      let fresh: Resource;
      try {
        fresh = await kc.get(start.metadata.name, ns, { signal: abort.signal });
      } catch (err) {
        if (abort.signal.aborted) throw abort.signal.reason;
        if (err instanceof KrakeApiError && err.status === 404) {
          if (wanted === "DELETED") return { ...latest, status: { ...latest.status, state: "DELETED" } };
          throw new CliError(`${describe(def, latest)} was deleted while waiting for ${wanted}`);
        }
        throw err;
      }
      const hit = check(fresh);
      if (hit) return hit;
      from = fresh.metadata.resource_version ?? undefined;
    }
  } catch (err) {
    if (err instanceof WaitTimeout || abort.signal.reason instanceof WaitTimeout) {
      throw new CliError(
        `timed out after ${formatElapsed(opts.timeoutMs)} waiting for ${describe(def, latest)} to be ${wanted}` +
          ` (${whereItIs(latest)})`,
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
    clearInterval(ticker);
    abort.abort();
    opts.progress?.done();
  }
}

class WaitTimeout extends Error {
  constructor() {
    super("wait timed out");
  }
}

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/** A spinner line rewritten in place on a terminal. */
export function spinnerProgress(label: string, out: NodeJS.WriteStream = process.stderr): Progress {
  let frame = 0;
  return {
    update(state, elapsed) {
      out.write(`\r\x1b[2K${FRAMES[frame++ % FRAMES.length]} ${label}: ${state} (${formatElapsed(elapsed)})`);
    },
    done() {
      out.write("\r\x1b[2K");
    },
  };
}

/** One line per state change, for logs and pipes. */
export function lineProgress(
  label: string,
  write: (s: string) => void = (s) => process.stderr.write(s),
): Progress {
  let last = "";
  return {
    update(state, elapsed) {
      if (state === last) return;
      last = state;
      write(`${label}: ${state} (${formatElapsed(elapsed)})\n`);
    },
    done() {},
  };
}

export function progressFor(label: string): Progress {
  return process.stderr.isTTY ? spinnerProgress(label) : lineProgress(label);
}
