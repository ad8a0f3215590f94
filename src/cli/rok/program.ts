/**
 * The command tree of `rok` (also installed as `krakectl`), the command-line client of the Krake API
 * (cli.md). The `openstack` group (Magnum) is out of scope: Krake itself deprecates it.
 */
import { basename } from "node:path";
import { Command, CommanderError } from "commander";
import { VERSION } from "../../version.js";
import { context, leaf, run, type LeafFlags } from "./common.js";
import { cell, renderValue } from "./output.js";
import { renderTable } from "./table.js";
import { completionScript } from "./completion.js";
import { coreCommand } from "./commands/core.js";
import { infraCommand } from "./commands/infra.js";
import { kubeCommand } from "./commands/kube.js";
import { loginCommands } from "./commands/login.js";

export function buildProgram(): Command {
  // Installed twice (rok, and krakectl for existing scripts): usage lines name the one that was typed.
  const program = new Command(basename(process.argv[1] ?? "") === "krakectl" ? "krakectl" : "rok")
    .description("Command-line client of the Krake API")
    .version(VERSION)
    // Handled in main() before parsing; declared here so that --help lists it.
    .option("--print-completion <shell>", "print a completion script for bash, zsh, fish or tcsh and exit")
    // Usage errors exit 2 (argparse's code, which krakectl scripts expect); commander would exit 1.
    .exitOverride((err: CommanderError) => {
      throw err;
    })
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      "\nConfiguration: --config, ./rok.yaml, ./krakectl.yaml, $XDG_CONFIG_HOME/{rok,krakectl}.yaml,\n" +
        "/etc/krakectl/krakectl.yaml; KRAKE_URL, KRAKE_NAMESPACE and KRAKE_TOKEN override api_url, user and token.\n" +
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
  leaf(program.command("whoami").description("Show who the API thinks you are, and your roles"))
    .addHelpText("after", "\nExample:\n  $ rok whoami -o json\n")
    .action(
      run(async (flags: LeafFlags) => {
        const ctx = context(flags);
        const me = await ctx.client.me();
        if (ctx.format === "json" || ctx.format === "yaml") process.stdout.write(renderValue(me, ctx.format));
        else
          process.stdout.write(
            renderTable(
              [
                ["user", me.user],
                ["roles", cell(me.roles)],
              ],
              false,
            ),
          );
      }),
    );
  kubeCommand(program);
  infraCommand(program);
  coreCommand(program);
  loginCommands(program);
  return program;
}
