/**
 * `rok` (also installed as `krakectl`): the command-line client of the Krake API (cli.md). This slice has
 * the `infrastructure` and `core` groups; `kubernetes` and `openstack` come later.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../../version.js";
import { joinPairs } from "./common.js";
import { completionScript } from "./completion.js";
import { coreCommand } from "./commands/core.js";
import { infraCommand } from "./commands/infra.js";
import { fail } from "./errors.js";

export function buildProgram(): Command {
  const program = new Command("rok")
    .description("Command-line client of the Krake API")
    .version(VERSION)
    // Handled in main() before parsing; declared here so that --help lists it.
    .option("--print-completion <shell>", "print a completion script for bash, zsh or tcsh and exit")
    // Usage errors exit 2 (argparse's code, which krakectl scripts expect); commander would exit 1.
    .exitOverride((err: CommanderError) => {
      throw err;
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      "\nConfiguration: --config, ./rok.yaml, ./krakectl.yaml, $XDG_CONFIG_HOME/{rok,krakectl}.yaml,\n" +
        "/etc/krakectl/krakectl.yaml; KRAKE_URL and KRAKE_NAMESPACE override api_url and user.\n" +
        "\nExample:\n  $ rok infra provider list\n",
    );
  infraCommand(program);
  coreCommand(program);
  return program;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const program = buildProgram();
  try {
    if (argv[0] === "--print-completion" || argv[0]?.startsWith("--print-completion=")) {
      const shell = argv[0].includes("=") ? argv[0].split("=")[1] : argv[1];
      process.stdout.write(completionScript(program, shell ?? ""));
      return;
    }
    await program.parseAsync(joinPairs(argv), { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    fail(err);
  }
}

await main();
