/**
 * Several API processes on one port (node:cluster), for the etcd store: each worker is a complete API
 * server holding no authoritative state (compare-and-swap happens in etcd; watches and the RBAC cache follow
 * etcd), so requests may land on any of them. The primary only supervises: it restarts a worker that dies
 * and forwards SIGTERM/SIGINT so every worker shuts down gracefully.
 */
import cluster, { type Worker } from "node:cluster";
import type { Logger } from "pino";

export function isWorkerProcess(): boolean {
  return cluster.isWorker;
}

export function superviseWorkers(
  count: number,
  logger: Logger,
  shutdownTimeoutMs: number,
  options: { forwardHangup?: boolean } = {},
): void {
  let stopping = false;
  let restarts = 0;
  let announced = false;
  const listening = new Set<number>();
  const fork = () => {
    const worker = cluster.fork();
    worker.on("message", (msg: unknown) => {
      const url = (msg as { listening?: string })?.listening;
      if (!url) return;
      restarts = 0;
      listening.add(worker.id);
      if (!announced && listening.size === count) {
        announced = true;
        logger.info({ url, workers: count }, "Krake API server listening");
      }
    });
    return worker;
  };
  for (let i = 0; i < count; i++) fork();

  cluster.on("exit", (worker: Worker, code, signal) => {
    listening.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
      return;
    }
    restarts++;
    const delay = Math.min(30_000, 250 * 2 ** Math.min(restarts, 7));
    logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, "API worker died; restarting it");
    setTimeout(() => {
      if (!stopping) fork();
    }, delay).unref();
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down API workers");
    const workers = Object.values(cluster.workers ?? {}).filter(Boolean) as Worker[];
    if (workers.length === 0) process.exit(0);
    for (const w of workers) w.process.kill("SIGTERM");
    setTimeout(() => {
      logger.warn("API workers did not stop in time; killing them");
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGKILL");
      process.exit(1);
    }, shutdownTimeoutMs + 5000).unref();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Each worker appends to the audit log itself, so each must reopen it after logrotate.
  if (options.forwardHangup) {
    process.on("SIGHUP", () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill("SIGHUP");
    });
  }
}

/** A worker tells the primary where it listens, so the primary can announce the server once. */
export function reportListening(url: string): void {
  process.send?.({ listening: url });
}
