/**
 * An informer keeps a local copy of every object of one kind: it lists, then watches from the list's
 * `resource_version` (api.md D5) so nothing is missed, resumes from the last event after a disconnect, and
 * relists only when the history it needs is compacted (410). Handlers see adds, updates and deletes; a
 * relist emits the differences, so a handler never misses a delete that happened while disconnected.
 */
import { KrakeApiError, type KindClient, type KrakeClient } from "../client/index.js";
import type { KindDef, Resource } from "../resources/kind.js";
import type { Logger } from "./log.js";
import { linkedController } from "../util/deadline.js";
import { rememberSecrets } from "../util/log-redact.js";

export interface InformerHandlers<T> {
  add?(obj: T): void;
  update?(old: T, obj: T): void;
  delete?(obj: T): void;
}

export interface InformerOptions {
  /** Undefined: every namespace (or the global collection). */
  namespace?: string;
  /** Heartbeat asked from the server; no byte for 3 heartbeats means a dead stream. */
  heartbeatSeconds?: number;
  log?: Logger;
  /**
   * Applied to every object before it is cached or handed to handlers, e.g. to drop fields the controller
   * never reads (memory with many objects).
   */
  transform?: (obj: any) => any;
  /** Reconnect delays: first, and cap. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export const keyOf = (o: Pick<Resource, "metadata">) => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

export class Informer<T extends Resource = Resource> {
  private readonly cache = new Map<string, T>();
  /** Own writes newer than the cache, by key (see observeWrite). */
  private readonly written = new Map<string, T>();
  private readonly handlers: InformerHandlers<T>[] = [];
  private readonly kc: KindClient<T>;
  private syncedResolve!: () => void;
  /** Resolves after the first list has been delivered to the handlers. */
  readonly synced: Promise<void>;
  private lastRevision: string | null = null;
  /** Counters for the process metrics. */
  readonly stats = { lists: 0, watches: 0, events: 0, errors: 0 };

  constructor(
    client: KrakeClient,
    readonly def: KindDef<any>,
    private readonly opts: InformerOptions = {},
  ) {
    this.kc = client.kind(def) as KindClient<T>;
    this.synced = new Promise((r) => (this.syncedResolve = r));
  }

  on(handlers: InformerHandlers<T>): this {
    this.handlers.push(handlers);
    return this;
  }

  /** The cached object, or this process's own later write of it while the watch has not delivered it yet. */
  get(key: string): T | undefined {
    const cached = this.cache.get(key);
    const written = this.written.get(key);
    if (!written) return cached;
    if (cached && !newer(written, cached)) {
      this.written.delete(key);
      return cached;
    }
    return written;
  }

  getByName(name: string, namespace: string | null): T | undefined {
    return this.get(`${namespace ?? ""}/${name}`);
  }

  /**
   * Records an object as this process's write returned it. Until the watch catches up, `get` answers with it:
   * a reconcile that runs again right after its own write (the write's event re-queues the key) must not act
   * on the older cached copy — it would redo work already done, e.g. look for an infrastructure it just
   * created and stored the id of.
   */
  observeWrite(obj: T): void {
    const key = keyOf(obj);
    const cached = this.cache.get(key);
    // Not cached: not seen yet, or its deletion already arrived — the watch is the authority then.
    if (!cached || !newer(obj, cached)) return;
    this.written.set(key, this.opts.transform ? (this.opts.transform(obj) as T) : obj);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get size(): number {
    return this.cache.size;
  }

  /** Runs until the signal aborts; never throws for transient failures. */
  async run(signal: AbortSignal): Promise<void> {
    const log = this.opts.log;
    let failures = 0;
    let needList = true;
    while (!signal.aborted) {
      const started = Date.now();
      try {
        if (needList) {
          await this.relist(signal);
          needList = false;
        }
        await this.watch(signal);
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        if (err instanceof KrakeApiError && err.status === 410) {
          log?.info({ kind: this.def.kind }, "watch history compacted; relisting");
          needList = true;
          continue;
        }
        log?.warn({ kind: this.def.kind, err: (err as Error).message }, "watch failed; reconnecting");
      }
      if (signal.aborted) break;
      // A connection that lived a while was healthy: start the backoff over.
      if (Date.now() - started > 10_000) failures = 0;
      const min = this.opts.minBackoffMs ?? 200;
      const max = this.opts.maxBackoffMs ?? 30_000;
      const ceiling = Math.min(max, min * 2 ** Math.min(failures++, 20));
      await sleep(ceiling / 2 + (Math.random() * ceiling) / 2, signal);
    }
  }

  private async relist(signal: AbortSignal): Promise<void> {
    this.stats.lists++;
    const res =
      this.def.namespaced && this.opts.namespace === undefined
        ? await this.kc.listAll({ signal })
        : await this.kc.list(this.def.namespaced ? this.opts.namespace : null, { signal });
    const seen = new Set<string>();
    for (const raw of res.items) {
      const obj = this.opts.transform ? (this.opts.transform(raw) as T) : raw;
      const key = keyOf(obj);
      seen.add(key);
      this.apply(obj, false);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.written.delete(key);
        for (const h of this.handlers) h.delete?.(old);
      }
    }
    this.lastRevision = res.metadata.resource_version;
    this.syncedResolve();
  }

  private async watch(signal: AbortSignal): Promise<void> {
    this.stats.watches++;
    const heartbeat = this.opts.heartbeatSeconds ?? 10;
    // Aborted by the caller's signal, or when the stream goes silent.
    const { controller: idle, dispose } = linkedController(signal);
    const both = idle.signal;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new Error(`no data for ${3 * heartbeat}s`)), 3 * heartbeat * 1000);
      timer.unref();
    };
    arm();
    try {
      const ns = this.def.namespaced ? this.opts.namespace : null;
      for await (const event of this.kc.watch(ns, {
        resourceVersion: this.lastRevision ?? undefined,
        heartbeat,
        signal: both,
        onActivity: arm,
      })) {
        if (event.type === "ERROR") continue;
        this.stats.events++;
        const obj = this.opts.transform ? (this.opts.transform(event.object) as T) : event.object;
        if (obj.metadata.resource_version) this.lastRevision = obj.metadata.resource_version;
        if (event.type === "DELETED") {
          const key = keyOf(obj);
          const old = this.cache.get(key);
          this.cache.delete(key);
          this.written.delete(key);
          for (const h of this.handlers) h.delete?.(old ?? obj);
        } else this.apply(obj, true);
      }
      if (idle.signal.aborted && !signal.aborted) throw idle.signal.reason;
    } catch (err) {
      if (idle.signal.aborted && !signal.aborted) throw idle.signal.reason;
      throw err;
    } finally {
      clearTimeout(timer);
      dispose();
    }
  }

  private apply(obj: T, fromWatch: boolean): void {
    const key = keyOf(obj);
    const old = this.cache.get(key);
    // A relist re-delivers unchanged objects: only real changes reach the handlers.
    if (old && !fromWatch && old.metadata.resource_version === obj.metadata.resource_version) return;
    // Known secret values are scrubbed from any log line that quotes them (an error echoing a provider's answer).
    rememberSecrets(this.def, obj);
    this.cache.set(key, obj);
    for (const h of this.handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
  }
}

/** Whether `a` is a later version than `b` (resource versions are store revisions: decimal integers). */
function newer(a: Resource, b: Resource): boolean {
  const ra = a.metadata.resource_version ?? "";
  const rb = b.metadata.resource_version ?? "";
  if (!/^\d+$/.test(ra) || !/^\d+$/.test(rb)) return false;
  return ra.length !== rb.length ? ra.length > rb.length : ra > rb;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
