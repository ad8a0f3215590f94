/**
 * Starting and stopping an API server process: open the store, listen, and on shutdown stop taking new
 * requests, end watches, let in-flight requests finish, then flush and close the store.
 */
import pino, { type Logger } from "pino";
import type { ApiConfig } from "./config.js";
import { buildApiApp, type ApiServer, type BuildOptions } from "./server.js";
import { openStore } from "../store/open.js";
import type { Store } from "../store/store.js";
import { ResourceService } from "./service.js";
import { seed, type Seeded } from "./seed.js";
import { secretRedactingLogOptions } from "../util/log-redact.js";

/** JSON lines to stdout, or to `destination` (`krake up` keeps stdout for people). */
export function createLogger(level: string, name = "krake-api", destination?: pino.DestinationStream): Logger {
  const options = {
    name,
    level,
    redact: ["*.password", "*.token", "*.secret", "req.headers.authorization"],
    ...secretRedactingLogOptions,
  };
  return destination ? pino(options, destination) : pino(options);
}

export async function startApiServer(
  config: ApiConfig,
  options: { logger?: Logger; store?: Store } & BuildOptions = {},
): Promise<ApiServer> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const store = options.store ?? (await openStore(config.store, logger));
  let built;
  let seeded: Seeded[] = [];
  try {
    const { files, objects } = config.bootstrap;
    if (files.length + objects.length > 0) {
      const service = new ResourceService(store, { retryTransactions: config.retryTransactions });
      const sources = [
        ...(objects.length > 0 ? [{ source: "default_roles/default_role_bindings", docs: objects }] : []),
        ...files.map((source) => ({ source })),
      ];
      seeded = await seed(service, sources, logger);
    }
    built = await buildApiApp(config, store, logger, {
      authenticators: options.authenticators,
      reloadOnSighup: options.reloadOnSighup,
    });
    await built.app.listen({ host: config.host, port: config.port });
  } catch (err) {
    built?.closeExtras();
    if (!options.store) await store.close();
    throw err;
  }
  const { app, closeExtras, reopenAuditLog } = built;
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const hostForUrl = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `${config.tls.enabled ? "https" : "http"}://${hostForUrl}:${port}`;
  if (config.authorization === "always-allow" && !["127.0.0.1", "localhost", "::1"].includes(config.host)) {
    logger.warn({ host: config.host }, "authorization is always-allow on a non-loopback address: anyone who reaches it is an administrator");
  }
  logger.info({ url, store: store.kind }, "Krake API server listening");

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      const timer = setTimeout(() => {
        logger.warn("in-flight requests did not finish in time; closing connections");
        app.server.closeAllConnections();
      }, config.shutdownTimeoutMs);
      timer.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(timer);
        closeExtras();
        if (!options.store) await store.close();
      }
    })());
  return { app, store, url, close, seeded, reopenAuditLog };
}
