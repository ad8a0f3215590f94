/**
 * The `krake` program: the server-side commands. Building it has no side effects, so documentation and
 * tests can inspect every command and flag.
 */
import { Command } from "commander";
import { apiClientFromFlags } from "./api-client.js";
import { VERSION } from "../version.js";
import { apiCommand } from "./api.js";
import { controllerCommand } from "./controller.js";
import { backupCommand, restoreCommand } from "./backup.js";
import { encryptionCommand } from "./encryption.js";
import { upCommand } from "./up.js";
import { pkiCommand } from "./pki.js";

export function bootstrapCommand(): Command {
  return new Command("bootstrap")
    .description("Load resources from YAML files (multi-document; - for stdin) through the API; idempotent")
    .argument(
      "<files...>",
      "YAML files with resources such as GlobalMetricsProvider, GlobalMetric, Role, RoleBinding",
    )
    .option("--api <url>", "Krake API URL (env KRAKE_URL)", process.env.KRAKE_URL ?? "http://127.0.0.1:8080")
    .option("--token <token>", "bearer token for the API (env KRAKE_TOKEN)", process.env.KRAKE_TOKEN)
    .option("--tls-ca <file>", "CA that signed the API's certificate")
    .option("--tls-cert <file>", "client certificate for the API (its CN is the user)")
    .option("--tls-key <file>", "private key of --tls-cert")
    .option("-n, --namespace <ns>", "namespace for namespaced resources without one", "system:admin")
    .option("--update", "update objects that already exist instead of leaving them unchanged")
    .addHelpText("after", "\nExample:\n  krake bootstrap support/static_metrics.yaml\n")
    .action(async (files: string[], flags) => {
      const { bootstrap, BootstrapError } = await import("./bootstrap.js");
      try {
        const counts = await bootstrap(files, {
          api: apiClientFromFlags(flags, "krake bootstrap"),
          namespace: flags.namespace,
          update: Boolean(flags.update),
          out: (line) => process.stdout.write(`${line}\n`),
        });
        process.stdout.write(
          `${counts.created} created, ${counts.updated} updated, ${counts.unchanged} unchanged\n`,
        );
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
    .addCommand(upCommand())
    .addCommand(apiCommand())
    .addCommand(bootstrapCommand())
    .addCommand(pkiCommand())
    .addCommand(controllerCommand())
    .addCommand(backupCommand())
    .addCommand(restoreCommand())
    .addCommand(encryptionCommand());
}
