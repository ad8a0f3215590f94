/**
 * The Krake API server: fastify, the routes derived from the kind definitions, and the store.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyRequest } from "fastify";
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import type { Store } from "../store/store.js";
import { StoreUnavailableError, ValueTooLargeError } from "../store/store.js";
import { DecryptionError } from "../store/encryption/keyring.js";
import { ApiError, Errors, problemBody } from "./errors.js";
import { parseJsonBody } from "./body.js";
import { registerRoutes } from "./routes.js";
import { registerBackupRoute } from "./backup-route.js";
import { registerEncryptionRoutes } from "./encryption-route.js";
import { ResourceService } from "./service.js";
import { WatchHub } from "./watch.js";
import { Auth, type Authenticator } from "./auth/index.js";
import { buildAuthenticators } from "./auth/chain.js";
import { RbacCache } from "./auth/rbac.js";
import { openApiDocument } from "./openapi.js";
import type { ApiConfig } from "./config.js";
import { VERSION } from "../version.js";
import { RequestLimits } from "./limits/request-limits.js";
import { AuditFile } from "./audit/audit-file.js";
import { registerAuditLog } from "./audit/audit-hooks.js";

export interface ApiServer {
  app: FastifyInstance;
  store: Store;
  /** `http://host:port` as actually bound (port 0 resolves to the chosen port). */
  url: string;
  close(): Promise<void>;
  /** What `bootstrap` created at startup, per source. */
  seeded?: import("./seed.js").Seeded[];
  /** Reopens the audit log file by name (SIGHUP after logrotate); nothing without `--audit-log`. */
  reopenAuditLog(): void;
}

/** Paths whose secrets must never reach the logs (D6), should anything ever log a body. */
const REDACT = [
  "req.headers.authorization",
  "req.headers.cookie",
  "*.password",
  "*.token",
  "*.secret",
];

export interface BuildOptions {
  /** Tried before the configured ones: identities of in-process callers (`krake up`'s controllers). */
  authenticators?: Authenticator[];
  /** Re-read the token file on SIGHUP (`krake api`; in-process servers of tests leave it off). */
  reloadOnSighup?: boolean;
}

/** The configured authenticators, in the configured order (static, when configured, first: it decides alone). */
export function configuredAuthenticators(config: ApiConfig, logger: Logger, reloadOnSighup = false): Authenticator[] {
  return buildAuthenticators(config.authentication, { logger, reloadOnSighup });
}

export async function buildApiApp(config: ApiConfig, store: Store, logger: Logger, options: BuildOptions = {}): Promise<{
  app: FastifyInstance;
  closeExtras: () => void;
  reopenAuditLog: () => void;
}> {
  const https = config.tls.enabled
    ? {
        cert: readFileSync(config.tls.cert!),
        key: readFileSync(config.tls.key!),
        ...(config.tls.clientCa ? { ca: readFileSync(config.tls.clientCa), requestCert: true, rejectUnauthorized: false } : {}),
      }
    : null;
  const app = Fastify({
    loggerInstance: logger.child({}, { redact: REDACT }) as any,
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    bodyLimit: config.bodyLimit,
    // Names may hold `:` and other characters Krake allows; keep fastify's defaults otherwise.
    routerOptions: { maxParamLength: 512, ignoreTrailingSlash: true },
    ...(https ? { https } : {}),
    // Idle keep-alive sockets would otherwise hold close() open until they time out.
    forceCloseConnections: "idle",
    return503OnClosing: true,
  } as any) as unknown as FastifyInstance;

  if (!config.logRequests) {
    // A per-request child logger costs measurable CPU (redaction re-serialises its bindings each time);
    // without request logging, errors are logged with the request's method and URL instead.
    app.setChildLoggerFactory((logger) => logger);
  }

  const authenticators = configuredAuthenticators(config, logger, options.reloadOnSighup);
  logger.info(
    { authenticators: [...(options.authenticators ?? []).map((a) => a.name), ...config.authentication.order], anonymous: config.authentication.allowAnonymous },
    "authenticators active",
  );
  const rbac = new RbacCache(store, (err) => logger.warn({ err: err.message }, "RBAC cache lost its watch; relisting"));
  try {
    await rbac.start();
  } catch (err) {
    for (const a of authenticators) a.close?.();
    throw err;
  }
  const auth = new Auth(
    {
      authenticators: [...(options.authenticators ?? []), ...authenticators],
      allowAnonymous: config.authentication.allowAnonymous,
      authorization: config.authorization,
    },
    rbac,
  );
  const limits = new RequestLimits({
    rateLimit: config.rateLimit,
    rateBurst: config.rateBurst,
    exempt: config.rateLimitExempt,
    maxWatchesPerUser: config.maxWatchesPerUser,
  });
  let audit: AuditFile | null = null;
  if (config.auditLog) {
    try {
      audit = new AuditFile(config.auditLog, logger);
    } catch (err) {
      rbac.stop();
      auth.close();
      throw err;
    }
  }
  const service = new ResourceService(store, { retryTransactions: config.retryTransactions });
  const watches = new WatchHub(store, {
    maxBufferedBytes: config.watchMaxBufferedBytes,
    slowGraceMs: config.watchSlowGraceMs,
    headers: { "Access-Control-Allow-Origin": config.authentication.corsOrigin, "Access-Control-Allow-Credentials": "true" },
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, parseJsonBody(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.addHook("onRequest", async (req, reply) => {
    reply.header("Access-Control-Allow-Origin", config.authentication.corsOrigin);
    reply.header("Access-Control-Allow-Credentials", "true");
    if (req.method === "OPTIONS") {
      reply
        .code(200)
        .header("Access-Control-Allow-Methods", "DELETE, GET, OPTIONS, POST, PUT")
        .header("Access-Control-Allow-Headers", String(req.headers["access-control-request-headers"] ?? "*"))
        .send();
      return reply;
    }
  });

  if (audit) registerAuditLog(app, audit);

  app.setErrorHandler((error: FastifyError | Error, req, reply) => {
    let err: ApiError;
    if (error instanceof ApiError) err = error;
    else if (error instanceof ValueTooLargeError) err = Errors.objectTooLarge(error.bytes, error.maxBytes);
    else if (error instanceof StoreUnavailableError) {
      req.log.error({ err: error.message, method: req.method, url: req.url }, "store unavailable");
      err = Errors.storeUnavailable(error.message);
    } else if (error instanceof DecryptionError) {
      req.log.error({ err: error.message, keyName: error.keyName, storeKey: error.storeKey, method: req.method, url: req.url }, "stored value cannot be decrypted");
      err = Errors.storeDecryption();
    } else if ((error as FastifyError).code === "FST_ERR_CTP_BODY_TOO_LARGE") err = Errors.payloadTooLarge(config.bodyLimit);
    else if ((error as FastifyError).code?.startsWith("FST_ERR_CTP")) err = Errors.unsupportedMediaType();
    else {
      req.log.error({ err: error, method: req.method, url: req.url }, "unhandled error");
      err = Errors.internal();
    }
    if (err.headers) reply.headers(err.headers);
    return reply
      .code(err.status)
      .type("application/problem+json; charset=utf-8")
      .send(JSON.stringify(problemBody(err, err.title ? config.problemBaseUrl : null)));
  });

  app.setNotFoundHandler(async () => {
    throw Errors.routeNotFound();
  });

  const json = (payload: unknown) => JSON.stringify(payload);
  // Every authenticated route: who calls, then their rate limit (before authorization and the body).
  const identify = async (req: FastifyRequest) => {
    req.user = await auth.authenticate(req);
    limits.admit(req);
  };
  app.get("/", { onRequest: identify }, async (_req, reply) => reply.type("application/json").send(json({ version: VERSION })));
  app.get("/me", { onRequest: identify }, async (req: any, reply) =>
    reply.type("application/json").send(json({ user: req.user, roles: auth.rolesOf(req.user) })),
  );
  app.get("/release", { onRequest: identify }, async (_req, reply) =>
    reply.code(202).type("application/json").send(json("You released the Krake.")),
  );
  const openapi = json(openApiDocument());
  app.get("/openapi.json", async (_req, reply) => reply.type("application/json").send(openapi));
  app.get("/healthz", async (_req, reply) => {
    await store.revision();
    return reply.type("application/json").send(json({ status: "ok", store: store.kind }));
  });

  registerRoutes(app, { service, auth, watches, blockingTimeoutMs: config.blockingTimeoutMs, identify, limits });
  registerBackupRoute(app, { store, auth, identify });
  registerEncryptionRoutes(app, { store, auth, identify });

  app.addHook("onClose", async () => {
    watches.closeAll();
  });
  // Open watches never end by themselves; end them as soon as shutdown starts so close() can finish.
  app.addHook("preClose", async () => {
    watches.closeAll();
  });
  return {
    app,
    closeExtras: () => {
      rbac.stop();
      auth.close();
      audit?.close();
    },
    reopenAuditLog: () => audit?.reopen(),
  };
}
