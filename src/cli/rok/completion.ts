/**
 * `rok completion {bash,zsh,fish,tcsh}` and krakectl's `rok --print-completion SHELL` (cli.md §1.1): a
 * completion script derived from the command tree, so new commands complete without touching this file.
 * Aliases (`kube`, `app`, `gip`, …) are mapped to their command's name while completing, so the script
 * lists each command path once instead of once per alias combination.
 */
import type { Command } from "commander";
import { CliError } from "./errors.js";

export const SHELLS = ["bash", "zsh", "fish", "tcsh"] as const;

interface Tree {
  /** Command path of canonical names ("" for the top level) → words that may follow it. */
  paths: Map<string, { subcommands: string[]; flags: string[] }>;
  /** alias → canonical command name. */
  aliases: Map<string, string>;
}

function walk(cmd: Command, prefix: string[], tree: Tree): void {
  const subcommands: string[] = [];
  for (const sub of cmd.commands) {
    subcommands.push(sub.name(), ...sub.aliases());
    for (const alias of sub.aliases()) tree.aliases.set(alias, sub.name());
    walk(sub, [...prefix, sub.name()], tree);
  }
  const flags = cmd.options.flatMap((o) => [o.long, o.short].filter((f): f is string => Boolean(f)));
  tree.paths.set(prefix.join(" "), { subcommands, flags });
}

function commandTree(program: Command): Tree {
  const tree: Tree = { paths: new Map(), aliases: new Map() };
  walk(program, [], tree);
  return tree;
}

export function completionScript(program: Command, shell: string): string {
  if (!(SHELLS as readonly string[]).includes(shell))
    throw new CliError(`unknown shell '${shell}' (choose from ${SHELLS.join(", ")})`, 2);
  const tree = commandTree(program);
  if (shell === "tcsh") {
    const top = tree.paths.get("")!;
    const words = [...top.subcommands, ...top.flags].join(" ");
    return `complete rok 'p/1/(${words})/'\ncomplete krakectl 'p/1/(${words})/'\n`;
  }
  if (shell === "fish") return fishScript(tree);
  const body = bashScript(tree);
  return shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${body}` : body;
}

function bashScript(tree: Tree): string {
  const aliasCases = [...tree.aliases].map(([alias, name]) => `      ${alias}) w=${name} ;;`).join("\n");
  const cases = [...tree.paths]
    .map(
      ([path, { subcommands, flags }]) => `    "${path}") words="${[...subcommands, ...flags].join(" ")}" ;;`,
    )
    .join("\n");
  return `_rok_complete() {
  local path="" i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case "$w" in
${aliasCases}
    esac
    path="\${path:+$path }$w"
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -F _rok_complete rok krakectl
`;
}

function fishScript(tree: Tree): string {
  const lines = [
    "# rok completion for fish: rok completion fish > ~/.config/fish/completions/rok.fish",
    "function __rok_path",
    "    set -l words (commandline -opc)",
    "    set -e words[1]",
    "    set -l path",
    "    for w in $words",
    "        string match -q -- '-*' $w; and continue",
    "        switch $w",
    ...[...tree.aliases].map(([alias, name]) => `            case ${alias}\n                set w ${name}`),
    "        end",
    "        set path $path $w",
    "    end",
    "    string join ' ' -- $path",
    "end",
    "function __rok_at",
    "    set -l p (__rok_path)",
    '    test "$p" = "$argv[1]"',
    "end",
  ];
  for (const command of ["rok", "krakectl"]) {
    lines.push(`complete -c ${command} -f`);
    for (const [path, { subcommands, flags }] of tree.paths) {
      const when = `__rok_at '${path}'`;
      if (subcommands.length) lines.push(`complete -c ${command} -n "${when}" -a '${subcommands.join(" ")}'`);
      const long = flags.filter((f) => f.startsWith("--")).map((f) => `-l ${f.slice(2)}`);
      if (long.length) lines.push(`complete -c ${command} -n "${when}" ${long.join(" ")}`);
    }
  }
  return lines.join("\n") + "\n";
}
