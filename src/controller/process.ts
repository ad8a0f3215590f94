/**
 * A controller process: one or more controllers against one API, each behind its own leader election (so
 * copies of the process can run for availability and only one acts per controller), with `/metrics` and
 * `/healthz` for the operator.
 */
import { setMaxListeners } from "node:events";
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { KrakeClient } from "../client/index.js";
import type { Controller, ControllerContext } from "./controller.js";
import { LeaderElector } from "./leader.js";
import type { Logger } from "./log.js";
import { MetricsRegistry, serveMetrics, type MetricsServer } from "./metrics.js";

export type ControllerFactory = (ctx: ControllerContext) => Controller;

export interface ControllerProcessOptions {
  client: KrakeClient;
  log: Logger;
  /** Each controller may bring its own client (its own identity); the rest share `client`. */
  controllers: { name: string; create: ControllerFactory; client?: KrakeClient }[];
  /** Leader election; false runs every controller at once (only safe with a single copy). */
  leaderElection?: { durationMs: number; identity?: string } | false;
  /** `host:port` for /metrics and /healthz; null disables. */
  metricsAddress?: string | null;
  metrics?: MetricsRegistry;
}

export interface RunningControllers {
  metricsUrl: string | null;
  identity: string;
  /** Names of the controllers this process leads right now. */
  leading(): string[];
  stop(): Promise<void>;
  /** Settles when every controller has stopped. */
  done: Promise<void>;
}

export async function startControllers(opts: ControllerProcessOptions): Promise<RunningControllers> {
  const metrics = opts.metrics ?? new MetricsRegistry();
  const identity =
    (opts.leaderElection && opts.leaderElection.identity) ||
    `${hostname()}/${process.pid}/${randomBytes(3).toString("hex")}`;
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const ctx: ControllerContext = { client: opts.client, log: opts.log, metrics };
  const electors = new Map<string, LeaderElector>();
  const leaderGauge = metrics.gauge("krake_controller_leader", "1 when this process leads the controller");
  leaderGauge.collect(() =>
    opts.controllers.map((c) => [
      { controller: c.name },
      opts.leaderElection === false || electors.get(c.name)?.isLeader ? 1 : 0,
    ]),
  );

  const runs = opts.controllers.map(async ({ name, create, client = opts.client }) => {
    const log = opts.log.child({ controller: name });
    if (opts.leaderElection === false) {
      await create({ ...ctx, client, log }).run(stop.signal);
      return;
    }
    const elector = new LeaderElector(client, {
      name: `controller-${name}`,
      identity,
      durationMs: opts.leaderElection?.durationMs ?? 15_000,
      log,
    });
    electors.set(name, elector);
    // Every term starts from scratch (fresh informers and queues): nothing carries over from a lost term.
    await elector.run(stop.signal, ({ signal }) => create({ ...ctx, client, log }).run(signal));
  });
  const done = Promise.all(runs).then(() => undefined);

  let server: MetricsServer | null = null;
  if (opts.metricsAddress) {
    const i = opts.metricsAddress.lastIndexOf(":");
    const host = opts.metricsAddress.slice(0, i).replace(/^\[|\]$/g, "") || "127.0.0.1";
    const port = Number(opts.metricsAddress.slice(i + 1));
    server = await serveMetrics(metrics, host, port);
  }
  return {
    metricsUrl: server?.url ?? null,
    identity,
    leading: () =>
      opts.controllers
        .filter((c) => opts.leaderElection === false || electors.get(c.name)?.isLeader)
        .map((c) => c.name),
    async stop() {
      stop.abort();
      await done;
      await server?.close();
    },
    done,
  };
}
