/**
 * What every controller is made of: informers that keep local copies, one or more work loops (a queue of
 * keys and a reconcile function, level-triggered: it reads the current state and acts on it, so a crash at
 * any point is repaired by the next run), workers draining each queue, and process metrics.
 */
import { setMaxListeners } from "node:events";
import type { KindClient, KrakeClient } from "../client/index.js";
import type { KindDef, Resource } from "../resources/kind.js";
import type { Informer } from "./informer.js";
import type { Logger } from "./log.js";
import type { MetricsRegistry } from "./metrics.js";
import { WorkQueue, type QueueOptions } from "./queue.js";

/**
 * The object changed under a reconcile (someone else wrote it first). Expected with optimistic concurrency:
 * retried on fresh data and logged quietly, unlike real failures.
 */
export class StaleObjectError extends Error {
  override name = "StaleObjectError";
}

/** Conflicts (ours, or the API's 409) are routine; everything else deserves a warning. */
function isConflict(err: unknown): boolean {
  return err instanceof StaleObjectError || (err as { status?: number } | null)?.status === 409;
}

export interface ReconcileResult {
  /** Look at the key again after this long (periodic re-evaluation, polling something external). */
  requeueAfterMs?: number;
}

export interface WorkLoop {
  name: string;
  queue: WorkQueue;
  workers: number;
  reconcile(key: string, signal: AbortSignal): Promise<ReconcileResult | void>;
}

export interface ControllerContext {
  client: KrakeClient;
  log: Logger;
  metrics: MetricsRegistry;
}

export abstract class Controller {
  abstract readonly name: string;
  protected readonly informers: Informer<any>[] = [];
  protected readonly loops: WorkLoop[] = [];

  constructor(protected readonly ctx: ControllerContext) {}

  /** The API for a kind, untyped: controllers handle objects of several kinds through the same paths. */
  protected api(def: KindDef): KindClient<Resource> {
    return this.ctx.client.kind(def as KindDef) as KindClient<Resource>;
  }

  protected informer<I extends Informer<any>>(informer: I): I {
    this.informers.push(informer);
    return informer;
  }

  protected loop(
    name: string,
    reconcile: WorkLoop["reconcile"],
    options: { workers?: number; queue?: QueueOptions } = {},
  ): WorkQueue {
    const queue = new WorkQueue(options.queue);
    this.loops.push({ name, queue, workers: options.workers ?? 5, reconcile });
    return queue;
  }

  /** Hook run once every informer has its first list, before workers start. */
  protected async started(_signal: AbortSignal): Promise<void> {}

  /** Runs until the signal aborts, then stops taking work and lets running reconciles finish. */
  async run(signal: AbortSignal): Promise<void> {
    // Every worker and informer listens on the one signal; that is by design, not a leak.
    setMaxListeners(0, signal);
    const { log, metrics } = this.ctx;
    const depth = metrics.gauge("krake_controller_queue_depth", "Keys waiting in a work queue");
    depth.collect(() => this.loops.map((l) => [{ controller: this.name, queue: l.name }, l.queue.length]));
    const delayed = metrics.gauge(
      "krake_controller_queue_delayed",
      "Keys scheduled for later in a work queue",
    );
    delayed.collect(() =>
      this.loops.map((l) => [{ controller: this.name, queue: l.name }, l.queue.delayedCount]),
    );
    const duration = metrics.histogram(
      "krake_controller_reconcile_duration_seconds",
      "Time spent per reconcile",
    );
    const errors = metrics.counter(
      "krake_controller_reconcile_errors_total",
      "Reconciles that failed and were retried",
    );

    const informerRuns = this.informers.map((i) => i.run(signal));
    await Promise.race([Promise.all(this.informers.map((i) => i.synced)), aborted(signal)]);
    if (signal.aborted) {
      await Promise.all(informerRuns);
      return;
    }
    await this.started(signal);
    log.info({ loops: this.loops.map((l) => l.name) }, "controller started");

    const workers: Promise<void>[] = [];
    for (const loop of this.loops) {
      for (let i = 0; i < loop.workers; i++) {
        workers.push(
          (async () => {
            for (;;) {
              const key = await loop.queue.get(signal);
              if (key === undefined) return;
              const labels = { controller: this.name, queue: loop.name };
              let result: ReconcileResult | void = undefined;
              let failed = false;
              const start = process.hrtime.bigint();
              try {
                result = await loop.reconcile(key, signal);
              } catch (err) {
                failed = true;
                if (!signal.aborted) {
                  errors.inc(labels);
                  const delay = loop.queue.addRateLimited(key);
                  const fields = { ...labels, key, err: (err as Error).message, retryInMs: delay };
                  if (isConflict(err)) log.debug(fields, "reconcile met a concurrent change; retrying");
                  else log.warn(fields, "reconcile failed");
                }
              } finally {
                duration.observe(
                  { ...labels, result: failed ? "error" : "ok" },
                  Number(process.hrtime.bigint() - start) / 1e9,
                );
                loop.queue.done(key);
              }
              if (!failed) {
                loop.queue.forget(key);
                if (result?.requeueAfterMs !== undefined) loop.queue.addAfter(key, result.requeueAfterMs);
              }
            }
          })(),
        );
      }
    }
    await aborted(signal);
    for (const loop of this.loops) loop.queue.shutDown();
    await Promise.all([...workers, ...informerRuns]);
    log.info("controller stopped");
  }
}

export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
