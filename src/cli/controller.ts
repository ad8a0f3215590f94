/**
 * `krake controller <name...>`: runs controllers against a Krake API, each behind leader election, so an
 * operator can run two copies of the same command for availability.
 */
import { readFileSync } from "node:fs";
import { loadHookTls } from "../controllers/application/hook-tls.js";
import { apiClientFromFlags } from "./api-client.js";
import { Command, InvalidArgumentError, Option } from "commander";
import { controllerLogger } from "../controller/log.js";
import { startControllers } from "../controller/process.js";
import {
  CONTROLLER_NAMES,
  controllerFactory,
  type ControllerName,
  type ControllerSettings,
} from "../controllers/index.js";
import { exitOnSignals } from "./shutdown.js";
import { AddressGuard, DEFAULT_DENIED_NETWORKS, parseNetworks } from "../kube/address-guard.js";

const positiveNumber = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`${flag} must be a positive number, got '${value}'`);
  return n;
};

const positiveInteger = (flag: string) => (value: string) => {
  const n = positiveNumber(flag)(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${flag} must be a whole number, got '${value}'`);
  return n;
};

const httpUrl = (value: string) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`--api must be an http(s) URL, got '${value}'`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InvalidArgumentError(`--api must be an http(s) URL, got '${value}'`);
  return value;
};

/** Comma-separated networks; '' denies nothing. */
const networkList = (value: string) => {
  const list = value.split(",").map((n) => n.trim()).filter(Boolean);
  try {
    parseNetworks(list);
  } catch (err) {
    throw new InvalidArgumentError(`--tosca-deny-networks: ${(err as Error).message}`);
  }
  return list;
};

/** `host:port` (port 0: any free one); '' disables the endpoint. */
const hostPort = (value: string) => {
  if (value === "") return value;
  const i = value.lastIndexOf(":");
  const port = Number(value.slice(i + 1));
  if (i < 0 || value.slice(i + 1) === "" || !Number.isInteger(port) || port < 0 || port > 65535)
    throw new InvalidArgumentError(
      `--metrics-address must be host:port, e.g. 127.0.0.1:9095, got '${value}'`,
    );
  return value;
};

/** Flags of `krake controller` that `krake up` does not take: its controllers use the API it runs. */
const NOT_FOR_UP = new Set(["--api", "--token", "--tls-cert", "--tls-key", "--log-level"]);

/** Adds the controllers' flags; `forUp` leaves out how to reach the API and logging, which `krake up` owns. */
export function addControllerOptions(cmd: Command, forUp = false): Command {
  const all = new Command()
    .option(
      "--api <url>",
      "Krake API URL (env KRAKE_URL)",
      httpUrl,
      process.env.KRAKE_URL ?? "http://127.0.0.1:8080",
    )
    .option("--token <token>", "bearer token for the API (env KRAKE_TOKEN)", process.env.KRAKE_TOKEN)
    .option("--tls-ca <file>", "CA that signed the API's certificate")
    .option("--tls-cert <file>", "client certificate for the API (its CN is the controller's user)")
    .option("--tls-key <file>", "private key of --tls-cert")
    .option("--workers <n>", "concurrent reconciles per queue", positiveInteger("--workers"), 5)
    .option(
      "--lease-duration <seconds>",
      "leader lease: a lost leader is replaced after this long",
      positiveNumber("--lease-duration"),
      15,
    )
    .option("--no-leader-election", "act without a lease (only safe when a single copy runs)")
    .option("--identity <id>", "name of this copy in the leases (default host/pid/random)")
    .option(
      "--metrics-address <host:port>",
      "serve /metrics and /healthz here ('' disables)",
      hostPort,
      "127.0.0.1:0",
    )
    .option(
      "--reschedule-after <seconds>",
      "scheduler: re-evaluate placed apps this often",
      positiveNumber("--reschedule-after"),
      60,
    )
    .option("--stickiness <score>", "scheduler: score bonus of an app's current cluster", Number, 0.1)
    .option(
      "--poll-interval <seconds>",
      "infrastructure: longest wait between two looks at a building cluster",
      positiveNumber("--poll-interval"),
      30,
    )
    .option(
      "--observe-interval <seconds>",
      "cluster, application: how often each cluster's API and each app's objects are looked at",
      positiveNumber("--observe-interval"),
      2,
    )
    .option(
      "--provider-timeout <seconds>",
      "infrastructure, autoscaler: timeout of one call to an infrastructure provider (IM)",
      positiveNumber("--provider-timeout"),
      30,
    )
    .option(
      "--autoscale-interval <seconds>",
      "autoscaler: how often each autoscaled cluster is looked at again without a change (metric triggers)",
      positiveNumber("--autoscale-interval"),
      10,
    )
    .option(
      "--hook-endpoint <url>",
      "application: the Krake API URL as workloads reach it, for the complete/shutdown hook URLs (default --api)",
    )
    .option(
      "--hook-ca-cert <file>",
      "application: CA (PEM) that signs per-app client certificates for the hooks, for an API that demands client certificates; the API's --tls-client-ca must trust it",
    )
    .option("--hook-ca-key <file>", "application: private key of --hook-ca-cert")
    .option(
      "--hook-ca-bundle <file>",
      "application: CAs the workloads use to verify the API's certificate (default --tls-ca)",
    )
    .option(
      "--migration-timeout <seconds>",
      "application: how long a migrated app may take to become healthy on its new cluster before the move is abandoned",
      positiveNumber("--migration-timeout"),
      300,
    )
    .option(
      "--tosca-deny-networks <cidrs>",
      "application: comma-separated networks TOSCA/CSAR URLs may not lead to, checked after DNS resolution and on each redirect ('' allows all; add e.g. 10.0.0.0/8 to deny private ranges)",
      networkList,
      [...DEFAULT_DENIED_NETWORKS],
    )
    .option(
      "--shutdown-grace <seconds>",
      "application: default time a workload has to acknowledge the shutdown hook",
      positiveNumber("--shutdown-grace"),
      30,
    )
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"])
        .default("info"),
    );
  for (const option of all.options) {
    if (forUp && NOT_FOR_UP.has(option.long ?? "")) continue;
    cmd.addOption(option);
  }
  return cmd;
}

/** What every controller factory needs from the flags. */
export function controllerSettings(flags: Record<string, any>): ControllerSettings {
  return {
    workers: flags.workers,
    scheduler: { rescheduleAfterSeconds: flags.rescheduleAfter, stickiness: flags.stickiness },
    infrastructure: {
      pollMaxMs: flags.pollInterval * 1000,
      providerTimeoutMs: flags.providerTimeout * 1000,
    },
    cluster: { observeIntervalMs: flags.observeInterval * 1000 },
    application: {
      observeIntervalMs: flags.observeInterval * 1000,
      hookEndpoint: flags.hookEndpoint,
      hookTls: flags.hookTls,
      migrationTimeoutMs: flags.migrationTimeout * 1000,
      shutdownGraceMs: flags.shutdownGrace * 1000,
      downloadGuard: new AddressGuard(flags.toscaDenyNetworks ?? DEFAULT_DENIED_NETWORKS),
    },
    autoscaler: {
      intervalMs: flags.autoscaleInterval * 1000,
      providerTimeoutMs: flags.providerTimeout * 1000,
    },
  };
}

/** Checks what commander's parsers cannot; a problem is a usage error (exit 2) naming the flag. */
export function checkControllerFlags(flags: Record<string, any>, command: string): void {
  if (!Number.isFinite(flags.stickiness) || flags.stickiness < 0) {
    process.stderr.write(`${command}: --stickiness must be a number >= 0\n`);
    process.exit(2);
  }
  if (flags.hookCaCert || flags.hookCaKey) {
    const usage = (message: string): never => {
      process.stderr.write(`${command}: ${message}\n`);
      process.exit(2);
    };
    if (!flags.hookCaCert || !flags.hookCaKey) usage("--hook-ca-cert and --hook-ca-key must be given together");
    const caBundle = flags.hookCaBundle ?? flags.tlsCa;
    if (!caBundle) usage("--hook-ca-cert needs --hook-ca-bundle (or --tls-ca): the CAs workloads verify the API with");
    const read = (file: string) => {
      try {
        return readFileSync(file, "utf8");
      } catch (err) {
        return usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
      }
    };
    try {
      // Loaded once here, so a wrong file stops the start instead of failing every application.
      flags.hookTls = loadHookTls({ cert: flags.hookCaCert, key: flags.hookCaKey, caBundle }, read);
    } catch (err) {
      usage((err as Error).message);
    }
  }
}

export function controllerCommand(): Command {
  return addControllerOptions(
    new Command("controller")
      .description("Run controllers against a Krake API (leader-elected: run copies for availability)")
      .argument("<names...>", `controllers to run: ${CONTROLLER_NAMES.join(", ")}, or all`),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  $ krake controller scheduler gc --api http://127.0.0.1:8080\n  $ krake controller all --metrics-address 0.0.0.0:9095\n",
    )
    .action(async (names: string[], flags) => {
      const wanted = names.includes("all") ? [...CONTROLLER_NAMES] : names;
      for (const n of wanted) {
        if (!(CONTROLLER_NAMES as readonly string[]).includes(n)) {
          process.stderr.write(
            `krake controller: unknown controller '${n}' (choose from ${CONTROLLER_NAMES.join(", ")}, all)\n`,
          );
          process.exit(2);
        }
      }
      checkControllerFlags(flags, "krake controller");
      const log = controllerLogger("krake-controller", flags.logLevel);
      const client = apiClientFromFlags(flags, "krake controller");
      const settings = controllerSettings(flags);
      const running = await startControllers({
        client,
        log,
        controllers: (wanted as ControllerName[]).map((name) => ({
          name,
          create: controllerFactory(name, settings),
        })),
        leaderElection:
          flags.leaderElection === false
            ? false
            : { durationMs: flags.leaseDuration * 1000, identity: flags.identity },
        metricsAddress: flags.metricsAddress || null,
      });
      log.info(
        { url: running.metricsUrl, api: flags.api, controllers: wanted, identity: running.identity },
        "Krake controllers running",
      );
      exitOnSignals(log, () => running.stop());
    });
}
