/**
 * Renders docs/rok.md, the `rok` command reference, from the CLI's own definition (the commander program of
 * src/cli/rok/program.ts) and the resource kinds' table columns, so that the reference cannot drift from
 * what `rok --help` says. scripts/docs/rok-reference.ts writes or checks the file; the test
 * test/docs/rok-reference.test.ts fails when the committed file is stale.
 *
 * Everything is rendered in the order the CLI defines it (the order `--help` lists), with no dependence on
 * the terminal, the clock or how the process was started, so two renderings are byte-identical.
 */
import { homedir } from "node:os";
import { dirname, relative } from "node:path";
import { Command } from "commander";
import { buildProgram } from "../../src/cli/rok/program.js";
import { leaf } from "../../src/cli/rok/common.js";
import { configCandidates, DEFAULT_URL, DEFAULT_USER } from "../../src/cli/rok/config.js";
import { FORMATS } from "../../src/cli/rok/output.js";
import type { KindDef } from "../../src/resources/kind.js";
import { KINDS, kindByName } from "../../src/resources/registry.js";
import {
  cellText,
  codeCell,
  commandLink,
  document,
  optionsTable,
  rootNode,
  sections,
  table,
  walk,
  type CommandNode,
} from "./markdown.js";
import { staleReport as staleReportFor, type ReferenceDoc } from "./stale.js";

// Kept exported from here for the tests that import it from this module.
export { repoRoot } from "./markdown.js";

/** Where the reference lives, relative to the repository root. */
export const ROK_REFERENCE_FILE = "docs/rok.md";
export const REGENERATE_COMMAND = "npm run docs:rok";

/**
 * The environment variables `rok` reads instead of configuration keys (src/cli/rok/config.ts). Listed here
 * because config.ts reads them inline; the test checks each one really overrides its key.
 */
export const CONFIG_ENV = [
  { variable: "KRAKE_URL", key: "api_url" },
  { variable: "KRAKE_NAMESPACE", key: "user" },
  { variable: "KRAKE_TOKEN", key: "token" },
] as const;

/**
 * The real rok program, named `rok` whatever the process is called: buildProgram() names it `krakectl`
 * when argv[1] is krakectl, which must not leak into the reference.
 */
export function referenceProgram(): Command {
  return buildProgram().name("rok");
}

// ---------------------------------------------------------------------------------------------------------
// Sections

/** The kind a command group manages: named after the kind, or its `list` says `List <Kind> objects`. */
function kindOf(group: Command): KindDef | undefined {
  const byName = KINDS.find((k) => k.kind.toLowerCase() === group.name());
  if (byName) return byName;
  const list = group.commands.find((c) => c.name() === "list");
  const m = list && /^List (\w+) objects$/.exec(list.description());
  return m ? kindByName(m[1]) : undefined;
}

function columnsSection(def: KindDef): string[] {
  const names = (cols: { header: string }[]) => cols.map((c) => codeCell(c.header)).join(", ");
  const list = def.columns.filter((c) => !c.detail && !c.wide);
  const wide = def.columns.filter((c) => !c.detail && c.wide);
  // As output.ts builds the single-object table: name, the namespace for namespaced kinds, then every
  // column once.
  const single: { header: string }[] = [];
  for (const c of [{ header: "name" }, ...(def.namespaced ? [{ header: "namespace" }] : []), ...def.columns])
    if (!single.some((s) => s.header === c.header)) single.push(c);
  const scope = def.namespaced ? "namespaced: `-n` picks the namespace" : "global (not namespaced)";
  return [
    `Resource kind \`${def.kind}\` (API group \`${def.group}\`, ${scope}). Table columns:`,
    "",
    `- \`list\`: ${names(list)}`,
    ...(wide.length ? [`- \`list -o wide\` adds: ${names(wide)}`] : []),
    `- one object (\`get\`, and what \`create\`, \`update\`, \`delete\` print): ${names(single)}`,
  ];
}

/** What a group's section adds: the table columns of the kind it manages, if it manages one. */
function kindColumns(node: CommandNode): string[] {
  const def = kindOf(node.cmd);
  return def ? columnsSection(def) : [];
}

function globalSection(program: Command): string[] {
  // The flags every leaf command gets, read from the helper that adds them rather than restated here.
  const sample = leaf(new Command("sample"), { namespaced: true, list: true });
  const xdg = "$XDG_CONFIG_HOME";
  const cwd = "<cwd>";
  const candidates = configCandidates({ XDG_CONFIG_HOME: xdg }, cwd).map((p) =>
    p.startsWith(`${cwd}/`) ? `./${p.slice(cwd.length + 1)}` : p,
  );
  // Where config.ts looks without $XDG_CONFIG_HOME, shown relative to the home directory of whoever renders.
  const home = homedir();
  const unset = configCandidates({}, cwd).find((p) => !p.startsWith(cwd) && p.startsWith(home));
  const xdgDefault = unset ? `~/${relative(home, dirname(unset))}` : "~/.config";
  return [
    "## Global options",
    "",
    ...optionsTable(program.options),
    "",
    "Every command also takes `-h, --help`. Every leaf command (one that does something) takes:",
    "",
    ...optionsTable(sample.options),
    "",
    "`-n` is offered by commands on namespaced kinds; `-a` by their `list`.",
    "",
    "## Configuration",
    "",
    "The first file that exists is used:",
    "",
    "1. `--config FILE` (a missing file is an error, not a fallback);",
    ...candidates.map((p, i) => `${i + 2}. \`${p}\`${i === candidates.length - 1 ? "." : ";"}`),
    "",
    `\`$XDG_CONFIG_HOME\` defaults to \`${xdgDefault}\`. Without a file: \`api_url: ${DEFAULT_URL}\`, ` +
      `\`user: ${DEFAULT_USER}\`.`,
    "",
    "Keys: `api_url`; `user` (the default namespace); `tls: {enabled, client_ca, client_cert, client_key}` " +
      "(paths relative to the file; `tls.enabled` forces the scheme of `api_url` to https, otherwise http, " +
      "with a warning when it changes it); `token` (sent as a bearer token). Environment variables override " +
      "the file:",
    "",
    ...table(
      ["variable", "overrides"],
      CONFIG_ENV.map((e) => [codeCell(e.variable), codeCell(e.key)]),
    ),
    "",
    "## Output and exit codes",
    "",
    `\`-o\` takes ${FORMATS.map((f) => `\`${f}\``).join(", ")}. Tables never show passwords, tokens or ` +
      "kubeconfig credentials and fit the terminal (80 columns when not a terminal, `$COLUMNS` overrides); " +
      "`json` and `yaml` print the object exactly as the API returned it, keys sorted; `name` prints names.",
    "",
    "Exit codes: 0 success; 1 an API error (one line with the status and the field paths of a 422), " +
      "an unreachable API, a CLI-side check or a `--wait` that saw FAILED or timed out; 2 a usage error " +
      "(unknown flag, missing argument, bad `--wait` state or `--timeout`).",
    "",
    "Flags that take several values, as in krakectl: `--metric NAME VALUE`, `--global-metric NAME VALUE`, " +
      "`-i K=V [K=V …]`, `--allowed-values N [N …]`, `--hook-shutdown [timeout [strategy [retries]]]` and " +
      "`--wait [state]` take only the tokens that fit them, so `--wait my-app` leaves `my-app` as the NAME.",
    "",
  ];
}

/** docs/rok.md for `program` (by default the real rok program). */
export function renderRokReference(program: Command = referenceProgram()): string {
  const root = rootNode(program);
  const all = walk(root);
  const leaves = all.filter((n) => n.cmd.commands.length === 0);
  const out = [
    `# \`${program.name()}\` command reference`,
    "",
    `<!-- Generated by scripts/docs/rok-reference.ts; do not edit. Regenerate: ${REGENERATE_COMMAND} -->`,
    "",
    "> Generated from the command definitions in `src/cli/rok/` and the resource kinds in " +
      "`src/resources/kinds/`; do not edit by hand. After changing the CLI, regenerate with " +
      `\`${REGENERATE_COMMAND}\`; \`${REGENERATE_COMMAND} -- --check\` (and \`test/docs/rok-reference.test.ts\`) ` +
      "fails while this file is stale.",
    "",
    `${cellText(program.description())}, version ${program.version() ?? "unknown"}. Also installed as ` +
      "`krakectl`, with the same commands. Commands are listed in the order `rok --help` shows them; " +
      "every group and resource has a short alias (`rok kube app get` is `rok kubernetes application get`).",
    "",
    "## Commands",
    "",
    ...table(
      ["command", "short form", "description"],
      leaves.map((n) => [
        commandLink(n.path),
        n.short.join(" ") === n.path.join(" ") ? "" : codeCell(n.short.join(" ")),
        cellText(n.cmd.description()),
      ]),
    ),
    "",
    ...globalSection(program),
    ...sections(root, 2, { groupExtra: kindColumns }),
  ];
  // One blank line between blocks and a single trailing newline, whatever the sections appended.
  return document(out);
}

// ---------------------------------------------------------------------------------------------------------
// Staleness

export const ROK_REFERENCE: ReferenceDoc = {
  name: "rok",
  file: ROK_REFERENCE_FILE,
  regenerate: REGENERATE_COMMAND,
  source: "the rok command definitions (src/cli/rok/, src/resources/kinds/)",
  render: () => renderRokReference(),
};

/**
 * Null when `current` equals `fresh`; otherwise what to tell the person whose change made it stale: the
 * command that regenerates the file, then a unified diff (committed → fresh) of the first differences.
 */
export function staleReport(current: string | null, fresh: string, maxLines = 80): string | null {
  return staleReportFor(ROK_REFERENCE, current, fresh, maxLines);
}
