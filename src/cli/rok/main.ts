/**
 * `rok` (also installed as `krakectl`): the command-line client of the Krake API (cli.md). The `openstack`
 * group (Magnum) is out of scope: Krake itself deprecates it.
 */
import { Command, CommanderError } from "commander";
import { VERSION } from "../../version.js";
import { normaliseArgv } from "./argv.js";
import { completionScript } from "./completion.js";
import { coreCommand } from "./commands/core.js";
import { infraCommand } from "./commands/infra.js";
import { kubeCommand } from "./commands/kube.js";
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
  program
    .command("completion")
    .argument("<shell>", "bash, zsh, fish or tcsh")
    .description("Print a shell completion script")
    .addHelpText(
      "after",
      "\nExamples:\n  $ source <(rok completion bash)\n  $ rok completion fish > ~/.config/fish/completions/rok.fish\n",
    )
    .action((shell: string) => {
      process.stdout.write(completionScript(program, shell));
    });
  kubeCommand(program);
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
    await program.parseAsync(normaliseArgv(argv), { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    fail(err);
  }
}

await main();
