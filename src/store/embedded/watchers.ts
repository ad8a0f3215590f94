/**
 * Watch registry: watchers grouped by prefix, so that a batch is filtered once per distinct prefix however
 * many watchers share it (the API server opens one store watch per client watch stream).
 *
 * Delivery goes through a per-watcher queue drained in a microtask: the replay is handed over after `watch`
 * has returned its handle, live batches can never overtake it, and onEvents is never re-entered.
 */
import type { StoreEvent, WatchHandle, WatchOptions } from "../store.js";

export interface WatchLogger {
  warn(o: object, msg?: string): void;
}

class Watcher implements WatchHandle {
  private queue: Array<StoreEvent[] | Error> = [];
  private scheduled = false;
  ended = false;

  constructor(
    readonly prefix: string,
    /** Live events at or below this revision were already covered (replayed, or asked to be skipped). */
    readonly minRevision: number,
    private readonly opts: WatchOptions,
    private readonly registry: WatchRegistry,
  ) {}

  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.registry.remove(this);
  }

  deliver(events: StoreEvent[]): void {
    if (this.ended) return;
    if (events[0].kv.modRevision <= this.minRevision) {
      events = events.filter((e) => e.kv.modRevision > this.minRevision);
      if (events.length === 0) return;
    }
    this.queue.push(events);
    this.schedule();
  }

  /** Ends the watch after everything already queued has been delivered. */
  fail(err: Error): void {
    if (this.ended) return;
    this.ended = true;
    this.registry.remove(this);
    this.queue.push(err);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => this.drain());
  }

  private drain(): void {
    this.scheduled = false;
    while (this.queue.length > 0) {
      const item = this.queue.shift()!;
      if (item instanceof Error) {
        this.queue = [];
        this.call(() => this.opts.onError(item), "onError");
        return;
      }
      try {
        this.opts.onEvents(item);
      } catch (err) {
        // The watcher's view is now unknown (it may have dropped part of the batch): end it loudly rather
        // than keep feeding it, so that it re-lists. Other watchers are not affected.
        this.registry.logger.warn(
          { err, prefix: this.prefix },
          "store watcher threw in onEvents; ending the watch",
        );
        this.ended = true;
        this.registry.remove(this);
        this.queue = [];
        this.call(() => this.opts.onError(err instanceof Error ? err : new Error(String(err))), "onError");
        return;
      }
    }
  }

  private call(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.registry.logger.warn({ err, prefix: this.prefix }, `store watcher threw in ${what}`);
    }
  }
}

export class WatchRegistry {
  private readonly byPrefix = new Map<string, Set<Watcher>>();

  constructor(readonly logger: WatchLogger) {}

  add(prefix: string, minRevision: number, replay: StoreEvent[], opts: WatchOptions): WatchHandle {
    const w = new Watcher(prefix, minRevision, opts, this);
    let set = this.byPrefix.get(prefix);
    if (!set) this.byPrefix.set(prefix, (set = new Set()));
    set.add(w);
    if (replay.length > 0) w.deliver(replay);
    return w;
  }

  remove(w: Watcher): void {
    const set = this.byPrefix.get(w.prefix);
    if (!set) return;
    set.delete(w);
    if (set.size === 0) this.byPrefix.delete(w.prefix);
  }

  get size(): number {
    let n = 0;
    for (const set of this.byPrefix.values()) n += set.size;
    return n;
  }

  /** One durable batch, in revision order: at most one onEvents call per watcher. */
  dispatch(events: StoreEvent[]): void {
    for (const [prefix, set] of this.byPrefix) {
      const matching = prefix === "" ? events : events.filter((e) => e.kv.key.startsWith(prefix));
      if (matching.length === 0) continue;
      for (const w of set) w.deliver(matching);
    }
  }

  failAll(err: Error): void {
    for (const set of [...this.byPrefix.values()]) for (const w of [...set]) w.fail(err);
  }
}
