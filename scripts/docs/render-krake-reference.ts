/**
 * Renders docs/krake.md, the reference of the server-side `krake` commands, from the program
 * `krakeProgram()` builds (src/cli/krake-program.ts), so that the reference cannot drift from what
 * `krake <command> --help` says. scripts/docs/generate.ts writes or checks the file; the test
 * test/docs/krake-reference.test.ts fails when the committed file is stale.
 *
 * The help text carries what commander does not record for many flags: `(env KRAKE_…)` names the variable a
 * flag reads, and `default X` the built-in default the server applies when neither is given. Both are
 * taken out of the description into their own columns.
 */
import type { Command, Option } from "commander";
import { krakeProgram } from "../../src/cli/krake-program.js";
import {
  cellText,
  codeCell,
  commandLink,
  document,
  optionFacts,
  optionsTable,
  rootNode,
  sections,
  table,
  walk,
  type OptionFacts,
} from "./markdown.js";
import { staleReport as staleReportFor, type ReferenceDoc } from "./stale.js";

export const KRAKE_REFERENCE_FILE = "docs/krake.md";
export const KRAKE_REGENERATE_COMMAND = "npm run docs:krake";

/**
 * The real krake program, built with no `KRAKE_*` variable set: some flags take their default from the
 * environment (`--api` from KRAKE_URL, `--token` from KRAKE_TOKEN), and neither the renderer's settings nor
 * its token may end up in the reference.
 */
export function referenceKrakeProgram(): Command {
  const saved = Object.entries(process.env).filter(([name]) => name.startsWith("KRAKE_"));
  for (const [name] of saved) delete process.env[name];
  try {
    return krakeProgram();
  } finally {
    for (const [name, value] of saved) process.env[name] = value;
  }
}

/** `(env KRAKE_X)` in a help text: the variable the flag reads when it is not given. */
const ENV_IN_HELP = /\s*\(env ([A-Z][A-Z0-9_]*)\)/;

/**
 * A default the help text states when commander has none: `…, default X` at the end of the description
 * or `… (default X)`. Defaults with commas or semicolons (conditional ones) and those that name another
 * flag (`(default --api)`: that flag's value) stay in the description.
 */
const DEFAULT_IN_HELP = [/^(.*?),\s+default\s+([^,;()]+?)$/, /^(.*?)\s+\(default\s+([^,;()]+?)\)$/];

/** commander's facts about an option, with the environment variable and default its help text names. */
export function krakeOptionFacts(o: Option): OptionFacts {
  const facts = optionFacts(o);
  const env = ENV_IN_HELP.exec(facts.description);
  if (env) {
    facts.env ??= env[1];
    facts.description = facts.description.replace(ENV_IN_HELP, "");
  }
  if (facts.default === undefined) {
    for (const pattern of DEFAULT_IN_HELP) {
      const m = pattern.exec(facts.description);
      if (!m || m[2].startsWith("-")) continue;
      facts.description = m[1];
      facts.default = m[2];
      break;
    }
  }
  return facts;
}

/** Every environment variable the commands' help names, with the flags and commands that read it. */
export function environmentVariables(
  program: Command,
): { variable: string; flags: string[]; commands: string[][] }[] {
  const found = new Map<string, { flags: string[]; commands: string[][] }>();
  for (const node of walk(rootNode(program))) {
    for (const o of node.cmd.options) {
      if (o.hidden) continue;
      const { env } = krakeOptionFacts(o);
      if (!env) continue;
      const entry = found.get(env) ?? { flags: [], commands: [] };
      found.set(env, entry);
      const flag = o.long ?? o.flags;
      if (!entry.flags.includes(flag)) entry.flags.push(flag);
      entry.commands.push(node.path);
    }
  }
  return [...found].map(([variable, entry]) => ({ variable, ...entry }));
}

function environmentSection(program: Command): string[] {
  const variables = environmentVariables(program);
  if (variables.length === 0) return [];
  // The commands that also read a configuration file, which flags and environment override.
  const withConfig = walk(rootNode(program)).filter((n) => n.cmd.options.some((o) => o.long === "--config"));
  const config = withConfig.length
    ? ` For ${withConfig.map((n) => `\`${n.path.join(" ")}\``).join(" and ")} both win over the ` +
      "`--config` file."
    : "";
  return [
    "## Environment variables",
    "",
    "A flag whose help names an environment variable reads it when the flag is not given; a flag on the " +
      `command line wins.${config}`,
    "",
    ...table(
      ["variable", "flag", "commands"],
      variables.map((v) => [
        codeCell(v.variable),
        v.flags.map((f) => codeCell(f)).join(", "),
        v.commands.map((path) => commandLink(path)).join(", "),
      ]),
    ),
    "",
  ];
}

/** docs/krake.md for `program` (by default the real krake program). */
export function renderKrakeReference(program: Command = referenceKrakeProgram()): string {
  const root = rootNode(program);
  const name = program.name();
  const out = [
    `# \`${name}\` command reference`,
    "",
    `<!-- Generated by scripts/docs/generate.ts; do not edit. Regenerate: ${KRAKE_REGENERATE_COMMAND} -->`,
    "",
    "> Generated from the command definitions of `krakeProgram()` (`src/cli/krake-program.ts` and the " +
      "modules it builds its commands with); do not edit by hand. After changing a command, regenerate " +
      `with \`${KRAKE_REGENERATE_COMMAND}\` (\`npm run docs\` regenerates every reference); ` +
      `\`${KRAKE_REGENERATE_COMMAND} -- --check\` (and \`test/docs/krake-reference.test.ts\`) fails while ` +
      "this file is stale.",
    "",
    `${cellText(program.description())}, version ${program.version() ?? "unknown"}. \`${name}\` runs ` +
      "Krake's server side: the API server, the controllers, or both in one process; `rok` " +
      "([docs/rok.md](rok.md)) is the client. Commands are listed in the order " +
      `\`${name} --help\` shows them.`,
    "",
    "## Commands",
    "",
    ...table(
      ["command", "description"],
      walk(root).map((n) => [commandLink(n.path), cellText(n.cmd.description())]),
    ),
    "",
    "## Global options",
    "",
    ...optionsTable(program.options, krakeOptionFacts),
    "",
    `Every command also takes \`-h, --help\`; \`${name} help COMMAND\` is \`${name} COMMAND --help\`.`,
    "",
    ...environmentSection(program),
    ...sections(root, 2, { facts: krakeOptionFacts }),
  ];
  return document(out);
}

export const KRAKE_REFERENCE: ReferenceDoc = {
  name: "krake",
  file: KRAKE_REFERENCE_FILE,
  regenerate: KRAKE_REGENERATE_COMMAND,
  source: "the krake command definitions (src/cli/)",
  render: () => renderKrakeReference(),
};

/** Null when docs/krake.md (`current`) equals `fresh`; otherwise how to regenerate it and a diff. */
export function krakeStaleReport(current: string | null, fresh: string, maxLines = 80): string | null {
  return staleReportFor(KRAKE_REFERENCE, current, fresh, maxLines);
}
