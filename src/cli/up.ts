/**
 * `krake up`: Krake on one machine in one process: the API server on the embedded store (or etcd) and every
 * controller against it; with `--sandbox`, also the IM and Kubernetes simulators, so the walkthrough runs on a
 * laptop with no cloud. People read stdout (what runs where, how to point `rok` at it); the JSON logs go to
 * stderr.
 */
import { readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import pino from "pino";
import { createLogger, startApiServer } from "../api/start.js";
import type { ApiServer } from "../api/server.js";
import { KrakeClient } from "../client/index.js";
import { InProcessIdentities } from "../api/auth/in-process.js";
import { controllerLogger } from "../controller/log.js";
import { startControllers, type RunningControllers } from "../controller/process.js";
import {
  CONTROLLER_NAMES,
  CONTROLLER_USERS,
  controllerFactory,
  type ControllerName,
} from "../controllers/index.js";
import { addApiOptions, apiConfigFromFlags } from "./api.js";
import { controllerProbe, waitForAccess } from "./identities.js";
import { addControllerOptions, checkControllerFlags, controllerSettings } from "./controller.js";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

const port = (flag: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${flag} must be a port number (0-65535), got '${value}'`);
  return n;
};

const controllerList = (value: string): ControllerName[] => {
  const names = value.split(",").map((n) => n.trim());
  if (names.includes("all")) return [...CONTROLLER_NAMES];
  for (const n of names) {
    if (!(CONTROLLER_NAMES as readonly string[]).includes(n))
      throw new InvalidArgumentError(
        `unknown controller '${n}' (choose from ${CONTROLLER_NAMES.join(", ")}, all)`,
      );
  }
  return names as ControllerName[];
};

export function upCommand(): Command {
  const cmd = new Command("up").description(
    "Run Krake on one machine: the API server and every controller in one process (embedded store by default)",
  );
  addApiOptions(cmd, true);
  addControllerOptions(cmd, true);
  return cmd
    .option(
      "--controllers <names>",
      `comma-separated controllers to run (${CONTROLLER_NAMES.join(", ")})`,
      controllerList,
      [...CONTROLLER_NAMES],
    )
    .option(
      "--sandbox",
      "also run the IM simulator and a Kubernetes simulator, so clusters can be built with no cloud (data is temporary unless --data-dir is given)",
    )
    .option("--im-port <port>", "sandbox: port of the IM simulator", port("--im-port"), 8800)
    .option(
      "--kube-port <port>",
      "sandbox: port of the Kubernetes simulator (0 = any free port)",
      port("--kube-port"),
      0,
    )
    .option(
      "--bootstrap <file>",
      "create the resources of this YAML file when missing, before the API listens (repeatable; e.g. support/base_roles.yaml under RBAC)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .addOption(
      new Option("--log-level <level>", "level of the JSON logs on stderr")
        .choices(LOG_LEVELS)
        .default("warn"),
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ krake up                                   # embedded store in ./data, API on http://127.0.0.1:8080",
        "  $ krake up --sandbox                         # plus IM on http://localhost:8800 and simulated Kubernetes",
        "  $ krake up --etcd http://127.0.0.1:2379 --bootstrap support/static_metrics.yaml",
        "",
      ].join("\n"),
    )
    .action(async (flags) => up(flags));
}

async function up(flags: Record<string, any>): Promise<void> {
  checkControllerFlags(flags, "krake up");
  // The sandbox's clusters live in memory: a store that outlived them would point at infrastructures that no
  // longer exist, so by default its data goes away with it.
  const scratch = flags.sandbox
    ? join(tmpdir(), `krake-sandbox-${process.pid}-${Date.now().toString(36)}`)
    : null;
  // `--workers` here is the controllers' (reconciles per queue); the API runs in this one process.
  const { workers: _controllerWorkers, ...apiFlags } = flags;
  const config = apiConfigFromFlags(apiFlags, "krake up", scratch ? { dataDir: scratch } : {});
  config.logLevel = flags.logLevel;
  const temporary = config.store.type === "embedded" && config.store.dataDir === scratch;

  const stderr = pino.destination({ fd: 2, sync: true });
  const apiLog = createLogger(flags.logLevel, "krake-api", stderr);
  const log = controllerLogger("krake-controller", flags.logLevel, stderr);
  const fail = (message: string): never => {
    process.stderr.write(`krake up: ${message}\n`);
    process.exit(1);
  };

  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        log.error({ err: (err as Error).message }, "shutdown step failed");
      }
    }
  };
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`krake up: ${signal} again, exiting without a clean shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`\nStopping Krake (${signal})…\n`);
    cleanUp().then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const abort = async (message: string) => {
    await cleanUp();
    fail(message);
  };

  let sandbox: import("../sandbox/sandbox.js").Sandbox | null = null;
  if (flags.sandbox) {
    const { startSandbox } = await import("../sandbox/sandbox.js");
    try {
      sandbox = await startSandbox({
        imPort: flags.imPort,
        kubePort: flags.kubePort,
        onEvent: (event) => log.info(event, "sandbox"),
      });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      await abort(
        e.code === "EADDRINUSE"
          ? `port ${flags.imPort} (IM simulator) or ${flags.kubePort} (Kubernetes simulator) is in use; choose others with --im-port / --kube-port`
          : `cannot start the sandbox: ${e.message}`,
      );
    }
    const started = sandbox as import("../sandbox/sandbox.js").Sandbox;
    cleanups.push(() => started.close());
  }
  if (temporary && scratch) cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));

  // The controllers and the bootstrap loader each act under their own user (tokens only in memory), so RBAC
  // holds every one of them to its role.
  const identities = new InProcessIdentities();
  let server: ApiServer | null = null;
  try {
    // --bootstrap files (in config.bootstrap) are loaded by the server itself before it listens: under RBAC
    // nobody could create the first roles through the API.
    server = await startApiServer(config, { logger: apiLog, authenticators: [identities] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    await abort(
      e.code === "EADDRINUSE"
        ? `port ${config.port} is in use; choose another with --port (0 = any free port)`
        : e.name === "BootstrapError"
          ? `--bootstrap: ${e.message}`
          : `cannot start the API server: ${e.message}`,
    );
  }
  const api = server as ApiServer;
  cleanups.push(() => api.close());
  // Only with an audit log: otherwise SIGHUP keeps its default meaning (the terminal went away: exit).
  if (config.auditLog) process.on("SIGHUP", () => api.reopenAuditLog());

  let ca: Buffer | undefined;
  if (config.tls.enabled) {
    // In-process controllers trust the server's own certificate unless told which CA signed it.
    const caFile = flags.tlsCa ?? config.tls.cert;
    try {
      ca = readFileSync(caFile as string);
    } catch (err) {
      await abort(`cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  const clientAs = (user: string) =>
    new KrakeClient({ url: api.url, tls: ca ? { ca } : undefined, token: identities.issue(user) });
  const client = clientAs("system:admin");

  for (const { source, created, existing } of api.seeded ?? [])
    process.stdout.write(`Loaded ${source}: ${created} created, ${existing} already there\n`);

  const names = flags.controllers as ControllerName[];
  const settings = controllerSettings(flags);
  const clients = new Map(names.map((name) => [name, clientAs(CONTROLLER_USERS[name])]));
  if (config.authorization === "RBAC") {
    await Promise.all(
      names.map(async (name) => {
        if (!(await waitForAccess(controllerProbe(clients.get(name)!, name), 5_000)))
          log.warn(
            { controller: name, user: CONTROLLER_USERS[name] },
            "this controller's user has no role, so the API will refuse it: load support/base_roles.yaml (--bootstrap)",
          );
      }),
    );
  }
  let running: RunningControllers | null = null;
  try {
    running = await startControllers({
      client,
      log,
      controllers: names.map((name) => ({
        name,
        create: controllerFactory(name, settings),
        client: clients.get(name),
      })),
      // One process owns the embedded store, so there is nobody to elect against; over etcd another
      // `krake up` or `krake controller` may be running.
      leaderElection:
        config.store.type === "etcd" && flags.leaderElection !== false
          ? { durationMs: flags.leaseDuration * 1000, identity: flags.identity }
          : false,
      metricsAddress: flags.metricsAddress || null,
    });
  } catch (err) {
    await abort(`cannot start the controllers: ${(err as Error).message}`);
  }
  const controllers = running as RunningControllers;
  cleanups.push(() => controllers.stop());

  const store =
    config.store.type === "etcd"
      ? `etcd ${config.store.endpoints.join(",")}`
      : temporary
        ? "embedded store, temporary"
        : `embedded store in ${config.store.dataDir}`;
  const lines = [
    `Krake is up at ${api.url} — point rok at it with: export KRAKE_URL=${api.url}`,
    `  API          ${api.url} (${store})`,
    `  controllers  ${names.join(", ")}${controllers.metricsUrl ? ` (metrics ${controllers.metricsUrl}/metrics)` : ""}`,
  ];
  if (sandbox) {
    const imUrl = sandbox.imUrl.replace("://127.0.0.1:", "://localhost:");
    lines.push(
      `  sandbox      IM simulator ${imUrl} (accepts any username and password), Kubernetes simulator ${sandbox.kubeUrl}`,
      "",
      "Try it:",
      `  rok infra provider register --type im --url ${imUrl} --username test --password test im-provider`,
      "  rok infra cloud register --type openstack --url https://keystone.example:5000/v3 --project demo --username demo --password demo --infra-provider im-provider os-cloud",
      "  rok kube cluster create -f examples/im-cluster.yaml --wait my-cluster",
      "  rok kube app create -f examples/echo-demo.yaml --wait echo-demo",
    );
    if (temporary) lines.push("", "Sandbox data is temporary: it is removed when krake up stops.");
  }
  lines.push("", "Stop with Ctrl-C. Logs (JSON) go to stderr; --log-level info shows every decision.", "");
  process.stdout.write(lines.join("\n"));
}
