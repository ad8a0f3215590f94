/**
 * `rok --print-completion {bash,zsh,tcsh}` (cli.md §1.1): a completion script derived from the command tree,
 * so new commands complete without touching this file.
 */
import type { Command } from "commander";
import { CliError } from "./errors.js";

export const SHELLS = ["bash", "zsh", "tcsh"] as const;

/** Every command path (`"infra gip"`, …) → the words that may follow it (subcommands, aliases, flags). */
function tree(cmd: Command, prefix: string[], out: Map<string, string[]>): void {
  const words: string[] = [];
  for (const sub of cmd.commands) {
    for (const name of [sub.name(), ...sub.aliases()]) {
      words.push(name);
      tree(sub, [...prefix, name], out);
    }
  }
  for (const opt of cmd.options) words.push(...[opt.long, opt.short].filter((f): f is string => Boolean(f)));
  out.set(prefix.join(" "), words);
}

export function completionScript(program: Command, shell: string): string {
  const paths = new Map<string, string[]>();
  tree(program, [], paths);
  const top = paths.get("") ?? [];
  if (shell === "tcsh")
    return `complete rok 'p/1/(${top.join(" ")})/'\ncomplete krakectl 'p/1/(${top.join(" ")})/'\n`;
  if (shell !== "bash" && shell !== "zsh")
    throw new CliError(`unknown shell '${shell}' (choose from ${SHELLS.join(", ")})`, 2);
  const cases = [...paths].map(([path, words]) => `    "${path}") words="${words.join(" ")}" ;;`).join("\n");
  const body = `_rok_complete() {
  local path="" i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) path="\${path:+$path }\${COMP_WORDS[i]}" ;; esac
  done
  local words=""
  case "$path" in
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "\${COMP_WORDS[COMP_CWORD]}"))
}
complete -F _rok_complete rok krakectl
`;
  return shell === "zsh" ? `autoload -U +X bashcompinit && bashcompinit\n${body}` : body;
}
