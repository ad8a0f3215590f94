/**
 * Watch streams (api.md §7, D5): newline-delimited JSON events, heartbeats, replay from a resource version.
 *
 * A slow reader must never hold the server back: events go to the socket without waiting. A burst (one
 * group commit can carry many events) may briefly fill a fast reader's buffer, so a watcher is judged slow
 * only when its unsent bytes stay above `maxBufferedBytes` for `slowGraceMs` without draining, or exceed
 * four times that at once. A slow stream gets a final ERROR event naming the last revision it was sent and
 * is closed; the client resumes from there with `resource_version`.
 */
import type { ServerResponse } from "node:http";
import type { Store, StoreEvent, WatchHandle } from "../store/store.js";
import { CompactedError } from "../store/store.js";
import type { KindDef } from "../resources/kind.js";
import { Errors } from "./errors.js";
import { wireJson } from "./codec.js";
import { redactJson } from "./redaction.js";
import { kindPrefix, namespaceOfKey } from "./keys.js";
import type { NamespaceScope } from "./auth/rbac.js";

export interface WatchLimits {
  maxBufferedBytes: number;
  slowGraceMs: number;
  /** Sent with every stream (CORS): the stream bypasses fastify's reply. */
  headers: Record<string, string>;
}

export interface WatchRequest {
  def: KindDef;
  /** Null on a namespaced kind: every namespace allowed by `scope`. */
  namespace: string | null;
  scope: NamespaceScope;
  heartbeatSeconds: number;
  afterRevision: number | undefined;
  /** Called once when the stream ends, for whatever reason. */
  onEnd?: () => void;
  /** Whether the object at a store key is sent with its secrets redacted (absent: never). */
  redact?: (key: string) => boolean;
  /** Sent with the stream's headers (e.g. `Krake-Redacted`). */
  headers?: Record<string, string>;
}

/** Event lines are shared by every watcher of the same store event: serialise once. */
const lineCache = new WeakMap<StoreEvent, string>();

/** The same, with the object's secrets redacted: also once per event, whichever watchers need it. */
const redactedLineCache = new WeakMap<StoreEvent, string>();

function eventLine(e: StoreEvent, def: KindDef, redacted: boolean): string {
  const cache = redacted ? redactedLineCache : lineCache;
  let line = cache.get(e);
  if (line === undefined) {
    const type = e.type === "delete" ? "DELETED" : e.prev === null ? "ADDED" : "MODIFIED";
    const object = wireJson(e.kv.value, e.kv.modRevision);
    line = `{"type":"${type}","object":${redacted ? redactJson(def, object) : object}}\n`;
    cache.set(e, line);
  }
  return line;
}

export class WatchHub {
  private readonly open = new Set<() => void>();

  constructor(
    private readonly store: Store,
    private readonly limits: WatchLimits,
  ) {}

  get count(): number {
    return this.open.size;
  }

  /**
   * Establishes the store watch first (so a compacted resource version can still be answered with a 410
   * problem), then hands the socket over to the stream.
   */
  async start(req: WatchRequest, res: ServerResponse, beforeStream: () => void): Promise<void> {
    const { def, namespace, scope } = req;
    const prefix = kindPrefix(def, namespace);
    let lastRevision = req.afterRevision ?? 0;
    let closed = false;
    let handle: WatchHandle | null = null;
    let heartbeat: NodeJS.Timeout | null = null;
    const pending: StoreEvent[][] = [];
    let streaming = false;
    let slowTimer: NodeJS.Timeout | null = null;

    const finish = () => {
      if (closed) return;
      closed = true;
      this.open.delete(finish);
      handle?.cancel();
      if (heartbeat) clearInterval(heartbeat);
      if (slowTimer) clearTimeout(slowTimer);
      if (!res.writableEnded) res.end();
      req.onEnd?.();
    };

    const deliver = (events: StoreEvent[]) => {
      if (closed) return;
      let chunk = "";
      for (const e of events) {
        lastRevision = e.kv.modRevision;
        if (scope !== "all" && !scope.has(namespaceOfKey(def, e.kv.key) ?? "")) continue;
        chunk += eventLine(e, def, req.redact?.(e.kv.key) ?? false);
      }
      if (chunk === "") return;
      res.write(chunk);
      const unsent = res.writableLength;
      if (unsent > 4 * this.limits.maxBufferedBytes) disconnectSlow();
      else if (unsent > this.limits.maxBufferedBytes && slowTimer === null) {
        slowTimer = setTimeout(disconnectSlow, this.limits.slowGraceMs);
        res.once("drain", () => {
          if (slowTimer) clearTimeout(slowTimer);
          slowTimer = null;
        });
      }
    };

    const disconnectSlow = () => {
      if (closed) return;
      // Everything before this line reaches the client first, so lastRevision is a safe resume point.
      const problem = {
        type: "ERROR",
        object: {
          title: "WATCH_TOO_SLOW",
          status: 410,
          detail: `The watcher did not keep up and was disconnected. Resume with resource_version=${lastRevision}.`,
          resource_version: String(lastRevision),
        },
      };
      res.write(JSON.stringify(problem) + "\n");
      finish();
    };

    try {
      handle = await this.store.watch(prefix, {
        afterRevision: req.afterRevision,
        onEvents: (events) => {
          // Prefix ranges of namespaced kinds are exact; still guard against `/ns/` vs `/ns-other/` style keys.
          if (streaming) deliver(events);
          else pending.push(events);
        },
        onError: () => finish(),
      });
    } catch (err) {
      if (err instanceof CompactedError) throw Errors.resourceVersionExpired(err.requestedRevision, err.compactRevision + 1);
      throw err;
    }

    this.open.add(finish);
    beforeStream();
    res.on("close", finish);
    res.on("error", finish);
    // The client may have gone while the store watch was being set up: its "close" has been and gone.
    if (res.destroyed === true || res.socket?.destroyed === true) {
      finish();
      return;
    }
    res.writeHead(200, { ...this.limits.headers, ...req.headers, "Content-Type": "application/x-ndjson", "Cache-Control": "no-cache" });
    res.flushHeaders();
    streaming = true;
    for (const batch of pending.splice(0)) deliver(batch);
    if (req.heartbeatSeconds > 0) {
      heartbeat = setInterval(() => {
        if (!closed) res.write("\n");
      }, req.heartbeatSeconds * 1000);
      heartbeat.unref();
    }
  }

  /** Ends every open stream (graceful shutdown). */
  closeAll(): void {
    for (const finish of [...this.open]) finish();
  }
}
