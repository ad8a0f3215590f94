/**
 * `krake`: the server-side entry point. `krake api` runs the API server; controllers and `krake up` join as
 * further subcommands.
 */
import { Command, CommanderError, Option } from "commander";
import { ConfigError, ENV_VARIABLES, optionsFromEnv, optionsFromFile, resolveApiConfig, type ApiOptions } from "../api/config.js";
import { createLogger, startApiServer } from "../api/start.js";
import { VERSION } from "../version.js";
import { controllerCommand } from "./controller.js";
import { isWorkerProcess, reportListening, superviseWorkers } from "../api/workers.js";
import { exitOnSignals } from "./shutdown.js";

function apiCommand(): Command {
  const env = (key: keyof ApiOptions) => `(env ${ENV_VARIABLES[key]})`;
  return new Command("api")
    .description("Run the Krake API server (embedded store by default, etcd with --etcd)")
    .option("-c, --config <file>", "YAML configuration file (Krake's api.yaml keys; flags and environment override it)")
    .option("--host <host>", `address to listen on, default 127.0.0.1 ${env("host")}`)
    .option("--port <port>", `port to listen on (0 = any free port), default 8080 ${env("port")}`)
    .option("--workers <n>", `API processes sharing the port (etcd only), default 1 ${env("workers")}`)
    .option("--data-dir <dir>", `embedded store directory, default ./data ${env("dataDir")}`)
    .option("--no-fsync", `embedded store: do not fsync writes (faster, loses the last writes on power loss) ${env("fsync")}`)
    .option("--etcd <urls>", `use etcd instead of the embedded store: comma-separated client URLs ${env("etcd")}`)
    .option("--etcd-prefix <prefix>", `key prefix in etcd, to share one etcd between installations ${env("etcdPrefix")}`)
    .option("--retry-transactions <n>", `retries of a read-modify-write after a conflicting write, default 5 ${env("retryTransactions")}`)
    .option("--tls-cert <file>", `serve HTTPS with this certificate (PEM) ${env("tlsCert")}`)
    .option("--tls-key <file>", `private key of --tls-cert (PEM) ${env("tlsKey")}`)
    .option("--tls-client-ca <file>", `accept client certificates signed by this CA; user = subject CN ${env("tlsClientCa")}`)
    .addOption(new Option("--allow-anonymous <bool>", `let unauthenticated requests in as system:anonymous, default true ${env("allowAnonymous")}`))
    .option("--static-user <name>", `authenticate every request as this user ${env("staticUser")}`)
    .addOption(
      new Option("--authorization <mode>", `authorization mode, default always-allow ${env("authorization")}`).choices([
        "always-allow",
        "always-deny",
        "RBAC",
      ]),
    )
    .option("--cors-origin <origin>", `Access-Control-Allow-Origin, default * ${env("corsOrigin")}`)
    .option("--problem-base-url <url>", `base of problem 'type' URLs ${env("problemBaseUrl")}`)
    .option("--body-limit <bytes>", `largest accepted request body, default 4194304 ${env("bodyLimit")}`)
    .option("--watch-buffer-bytes <bytes>", `unsent bytes after which a slow watcher is disconnected, default 16 MiB ${env("watchBufferBytes")}`)
    .option("--watch-slow-grace <seconds>", `how long a watcher may stay above --watch-buffer-bytes before it is disconnected, default 10 ${env("watchSlowGrace")}`)
    .option("--watch-history <events>", `embedded store: changes kept for watch replay (older resource versions get 410), default 50000 ${env("watchHistory")}`)
    .option("--blocking-timeout <seconds>", `longest wait of ?blocking= requests, default 60 ${env("blockingTimeout")}`)
    .option("--shutdown-timeout <seconds>", `how long in-flight requests may take to finish on SIGTERM, default 10 ${env("shutdownTimeout")}`)
    .option("--log-level <level>", `fatal, error, warn, info, debug, trace or silent, default info ${env("logLevel")}`)
    .option("--log-requests", `log every request ${env("logRequests")}`)
    .action(async (flags) => {
      let config;
      try {
        const fromFile = flags.config ? optionsFromFile(flags.config) : {};
        const { config: _c, ...fromFlags } = flags;
        // commander sets fsync=true by default; only an explicit --no-fsync should override file and env.
        if (fromFlags.fsync === true) delete fromFlags.fsync;
        config = resolveApiConfig(fromFile, optionsFromEnv(process.env), fromFlags as ApiOptions);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`krake api: ${err.message}\n`);
          process.exit(2);
        }
        throw err;
      }
      const logger = createLogger(config.logLevel);
      if (config.workers > 1 && !isWorkerProcess()) {
        superviseWorkers(config.workers, logger, config.shutdownTimeoutMs);
        return;
      }
      let server;
      try {
        server = await startApiServer(config, { logger });
      } catch (err) {
        logger.fatal({ err: (err as Error).message }, "cannot start the API server");
        process.exit(1);
      }
      if (isWorkerProcess()) reportListening(server.url);
      exitOnSignals(logger, () => server.close());
    });
}

function bootstrapCommand(): Command {
  return new Command("bootstrap")
    .description("Load resources from YAML files (multi-document; - for stdin) through the API; idempotent")
    .argument("<files...>", "YAML files with resources such as GlobalMetricsProvider, GlobalMetric, Role, RoleBinding")
    .option("--api <url>", "Krake API URL (env KRAKE_URL)", process.env.KRAKE_URL ?? "http://127.0.0.1:8080")
    .option("-n, --namespace <ns>", "namespace for namespaced resources without one", "system:admin")
    .option("--update", "update objects that already exist instead of leaving them unchanged")
    .addHelpText("after", "\nExample:\n  krake bootstrap support/static_metrics.yaml\n")
    .action(async (files: string[], flags) => {
      const { bootstrap, BootstrapError } = await import("./bootstrap.js");
      try {
        const counts = await bootstrap(files, {
          api: flags.api,
          namespace: flags.namespace,
          update: Boolean(flags.update),
          out: (line) => process.stdout.write(`${line}\n`),
        });
        process.stdout.write(`${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged\n`);
      } catch (err) {
        if (err instanceof BootstrapError || (err as Error).name === "KrakeConnectionError") {
          process.stderr.write(`krake bootstrap: ${(err as Error).message}\n`);
          process.exit(1);
        }
        throw err;
      }
    });
}

export function krakeProgram(): Command {
  return new Command("krake")
    .description("Krake: create Kubernetes clusters on IaaS clouds and place applications across them")
    .version(VERSION, "-V, --version")
    .showHelpAfterError()
    .addCommand(apiCommand())
    .addCommand(bootstrapCommand())
    .addCommand(controllerCommand());
}

const program = krakeProgram();
// Usage errors (unknown flag, bad value) exit 2 like every config error of `krake`; help and version 0.
for (const cmd of [program, ...program.commands]) {
  cmd.exitOverride((err: CommanderError) => {
    throw err;
  });
}
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exit(err.exitCode === 0 ? 0 : 2);
}
