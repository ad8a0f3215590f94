/**
 * `krake api`: the API server. Its flags are shared with `krake up`, which runs the same server in-process.
 */
import { Command, Option } from "commander";
import {
  ConfigError,
  ENV_VARIABLES,
  optionsFromEnv,
  optionsFromFile,
  resolveApiConfig,
  type ApiConfig,
  type ApiOptions,
} from "../api/config.js";
import { createLogger, startApiServer } from "../api/start.js";
import { isWorkerProcess, reportListening, superviseWorkers } from "../api/workers.js";
import { exitOnSignals } from "./shutdown.js";
import { checkAuditLogWritable } from "../api/audit/audit-file.js";
import { TokenFileError } from "../api/auth/token-file.js";

/** Flags of `krake api` that `krake up` does not take: it runs one process, and its logging is its own. */
const NOT_FOR_UP = new Set(["--workers", "--log-level", "--log-requests", "--bootstrap"]);

/** Adds the API server's flags; `forUp` leaves out those that make no sense inside `krake up`. */
export function addApiOptions(cmd: Command, forUp = false): Command {
  const env = (key: Exclude<keyof ApiOptions, "defaultObjects">) => `(env ${ENV_VARIABLES[key]})`;
  const all = new Command()
    .option(
      "-c, --config <file>",
      "YAML configuration file (Krake's api.yaml keys; flags and environment override it)",
    )
    .option("--host <host>", `address to listen on, default 127.0.0.1 ${env("host")}`)
    .option("--port <port>", `port to listen on (0 = any free port), default 8080 ${env("port")}`)
    .option("--workers <n>", `API processes sharing the port (etcd only), default 1 ${env("workers")}`)
    .option("--data-dir <dir>", `embedded store directory, default ./data ${env("dataDir")}`)
    .option(
      "--no-fsync",
      `embedded store: do not fsync writes (faster, loses the last writes on power loss) ${env("fsync")}`,
    )
    .option(
      "--etcd <urls>",
      `use etcd instead of the embedded store: comma-separated client URLs ${env("etcd")}`,
    )
    .option(
      "--etcd-prefix <prefix>",
      `key prefix in etcd, to share one etcd between installations ${env("etcdPrefix")}`,
    )
    .option("--etcd-ca <file>", `CA that signed etcd's certificate (PEM; needs https:// URLs) ${env("etcdCa")}`)
    .option("--etcd-cert <file>", `client certificate for etcd (PEM) ${env("etcdCert")}`)
    .option("--etcd-key <file>", `private key of --etcd-cert (PEM) ${env("etcdKey")}`)
    .option("--etcd-user <name>", `etcd user (etcd's own authentication) ${env("etcdUser")}`)
    .option(
      "--etcd-password-file <file>",
      `file holding the password of --etcd-user ${env("etcdPasswordFile")}`,
    )
    .option(
      "--encryption-key-file <file>",
      `encrypt stored values at rest with the first key of this YAML key list; every key decrypts (mode 0600) ${env("encryptionKeyFile")}`,
    )
    .option(
      "--retry-transactions <n>",
      `retries of a read-modify-write after a conflicting write, default 5 ${env("retryTransactions")}`,
    )
    .option("--tls-cert <file>", `serve HTTPS with this certificate (PEM) ${env("tlsCert")}`)
    .option("--tls-key <file>", `private key of --tls-cert (PEM) ${env("tlsKey")}`)
    .option(
      "--tls-client-ca <file>",
      `accept client certificates signed by this CA; user = subject CN ${env("tlsClientCa")}`,
    )
    .addOption(
      new Option(
        "--allow-anonymous <bool>",
        `let requests without any credential in as system:anonymous; default true when --host is a loopback address, else false ${env("allowAnonymous")}`,
      ),
    )
    .option("--static-user <name>", `authenticate every request as this user ${env("staticUser")}`)
    .option(
      "--token-file <file>",
      `static bearer tokens, CSV lines token,user[,uid[,"groups"]]; re-read on change and SIGHUP ${env("tokenFile")}`,
    )
    .option(
      "--authentication-order <names>",
      `comma-separated order of static, tls, token, oidc, keystone, keycloak; default: that order, configured ones only ${env("authenticationOrder")}`,
    )
    .option("--oidc-issuer-url <url>", `accept JWTs of this OpenID Connect issuer (its iss) ${env("oidcIssuerUrl")}`)
    .option(
      "--oidc-audience <ids>",
      `comma-separated client ids; a token's aud must name one (required with --oidc-issuer-url) ${env("oidcAudience")}`,
    )
    .option(
      "--oidc-username-claim <claim>",
      `claim naming the user, default sub (Keycloak: preferred_username) ${env("oidcUsernameClaim")}`,
    )
    .option("--oidc-username-prefix <prefix>", `put before OIDC user names, e.g. oidc: ${env("oidcUsernamePrefix")}`)
    .option("--oidc-ca-file <file>", `CA certificate (PEM) of the OIDC issuer's TLS ${env("oidcCaFile")}`)
    .option(
      "--keystone-endpoint <url>",
      `validate tokens with this Keystone v3 endpoint, e.g. https://keystone:5000/v3 ${env("keystoneEndpoint")}`,
    )
    .option(
      "--keystone-cache-ttl <seconds>",
      `how long an accepted Keystone token is trusted without asking again, default 30 ${env("keystoneCacheTtl")}`,
    )
    .option(
      "--keycloak-endpoint <url>",
      `Krake's Keycloak userinfo check against this server (prefer --oidc-issuer-url) ${env("keycloakEndpoint")}`,
    )
    .option("--keycloak-realm <realm>", `realm for --keycloak-endpoint, default krake ${env("keycloakRealm")}`)
    .addOption(
      new Option(
        "--authorization <mode>",
        `authorization mode, default always-allow ${env("authorization")}`,
      ).choices(["always-allow", "always-deny", "RBAC"]),
    )
    .option("--cors-origin <origin>", `Access-Control-Allow-Origin, default * ${env("corsOrigin")}`)
    .option("--problem-base-url <url>", `base of problem 'type' URLs ${env("problemBaseUrl")}`)
    .option("--body-limit <bytes>", `largest accepted request body, default 4194304 ${env("bodyLimit")}`)
    .option(
      "--watch-buffer-bytes <bytes>",
      `unsent bytes after which a slow watcher is disconnected, default 16 MiB ${env("watchBufferBytes")}`,
    )
    .option(
      "--watch-slow-grace <seconds>",
      `how long a watcher may stay above --watch-buffer-bytes before it is disconnected, default 10 ${env("watchSlowGrace")}`,
    )
    .option(
      "--watch-history <events>",
      `embedded store: changes kept for watch replay (older resource versions get 410), default 50000 ${env("watchHistory")}`,
    )
    .option(
      "--rate-limit <requests/s>",
      `requests per second per user (anonymous: per client address); over it: 429 with Retry-After; 0 = off; default 100 ${env("rateLimit")}`,
    )
    .option(
      "--rate-burst <n>",
      `requests a user may make at once after being idle, default twice --rate-limit ${env("rateBurst")}`,
    )
    .option(
      "--rate-limit-exempt <users>",
      `comma-separated users or prefix* patterns not limited (rate and watches); a pattern never matches system:anonymous; default 'system:*' ${env("rateLimitExempt")}`,
    )
    .option(
      "--max-watches-per-user <n>",
      `open watches per user (anonymous: per client address); 0 = no limit; default 100 ${env("maxWatchesPerUser")}`,
    )
    .option(
      "--audit-log <file>",
      `append a JSON line per mutating request (and GET /backup) to this file (mode 0600; reopened on SIGHUP) ${env("auditLog")}`,
    )
    .option(
      "--blocking-timeout <seconds>",
      `longest wait of ?blocking= requests, default 60 ${env("blockingTimeout")}`,
    )
    .option(
      "--shutdown-timeout <seconds>",
      `how long in-flight requests may take to finish on SIGTERM, default 10 ${env("shutdownTimeout")}`,
    )
    .option(
      "--log-level <level>",
      `fatal, error, warn, info, debug, trace or silent, default info ${env("logLevel")}`,
    )
    .option("--log-requests", `log every request ${env("logRequests")}`)
    .option(
      "--bootstrap <file>",
      `create the objects of this YAML file at startup when missing (repeatable; e.g. support/base_roles.yaml under RBAC) ${env("bootstrap")}`,
      (value: string, previous: string[] = []) => [...previous, value],
    );
  for (const option of all.options) {
    if (forUp && NOT_FOR_UP.has(option.long ?? "")) continue;
    cmd.addOption(option);
  }
  return cmd;
}

/**
 * Built-in defaults (then the caller's), then `--config`, then the environment, then flags. A bad value is a usage error:
 * the message names the key and the process exits 2.
 */
export function apiConfigFromFlags(
  flags: Record<string, unknown>,
  command: string,
  defaults: ApiOptions = {},
): ApiConfig {
  try {
    const fromFile = flags.config ? optionsFromFile(String(flags.config)) : {};
    const { config: _c, ...fromFlags } = flags;
    // commander sets fsync=true by default; only an explicit --no-fsync should override file and env.
    if (fromFlags.fsync === true) delete fromFlags.fsync;
    return resolveApiConfig(defaults, fromFile, optionsFromEnv(process.env), fromFlags as ApiOptions);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${command}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

export function apiCommand(): Command {
  return addApiOptions(
    new Command("api").description("Run the Krake API server (embedded store by default, etcd with --etcd)"),
  ).action(async (flags) => {
    const config = apiConfigFromFlags(flags, "krake api");
    const logger = createLogger(config.logLevel);
    if (config.workers > 1 && !isWorkerProcess()) {
      // Workers that cannot open the audit log would die and be restarted forever: say it once, here.
      if (config.auditLog) {
        try {
          checkAuditLogWritable(config.auditLog);
        } catch (err) {
          logger.fatal({ err: (err as Error).message }, "cannot start the API server");
          process.exit(1);
        }
      }
      superviseWorkers(config.workers, logger, config.shutdownTimeoutMs, { forwardHangup: Boolean(config.auditLog) });
      return;
    }
    let server;
    try {
      server = await startApiServer(config, { logger, reloadOnSighup: true });
    } catch (err) {
      if (err instanceof TokenFileError) {
        process.stderr.write(`krake api: token-file: ${err.message}\n`);
        process.exit(2);
      }
      logger.fatal({ err: (err as Error).message }, "cannot start the API server");
      process.exit(1);
    }
    if (isWorkerProcess()) reportListening(server.url);
    exitOnSignals(logger, () => server.close());
    // Only with an audit log: otherwise SIGHUP keeps its default meaning (the terminal went away: exit).
    if (config.auditLog) process.on("SIGHUP", () => server.reopenAuditLog());
  });
}
