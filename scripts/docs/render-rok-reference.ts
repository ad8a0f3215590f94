/**
 * Renders docs/rok.md, the `rok` command reference, from the CLI's own definition (the commander program of
 * src/cli/rok/program.ts) and the resource kinds' table columns, so that the reference cannot drift from
 * what `rok --help` says. scripts/docs/rok-reference.ts writes or checks the file; the test
 * test/docs/rok-reference.test.ts fails when the committed file is stale.
 *
 * Everything is rendered in the order the CLI defines it (the order `--help` lists), with no dependence on
 * the terminal, the clock or how the process was started, so two renderings are byte-identical.
 */
import type { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, type Option } from "commander";
import { buildProgram } from "../../src/cli/rok/program.js";
import { leaf } from "../../src/cli/rok/common.js";
import { configCandidates, DEFAULT_URL, DEFAULT_USER } from "../../src/cli/rok/config.js";
import { FORMATS } from "../../src/cli/rok/output.js";
import type { KindDef } from "../../src/resources/kind.js";
import { KINDS, kindByName } from "../../src/resources/registry.js";

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
 * The repository root: the nearest directory above this module with a package.json. Walking up (instead of
 * a fixed `../..`) works both from scripts/docs/ under tsx and from dist/scripts/docs/ after tsc.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error("cannot find the repository root (no package.json above scripts/docs)");
    dir = parent;
  }
  return dir;
}

/**
 * The real rok program, named `rok` whatever the process is called: buildProgram() names it `krakectl`
 * when argv[1] is krakectl, which must not leak into the reference.
 */
export function referenceProgram(): Command {
  return buildProgram().name("rok");
}

// ---------------------------------------------------------------------------------------------------------
// Markdown helpers

/** Text for a table cell: pipes escaped, one line, and nothing a renderer would take for an HTML tag. */
function cellText(text: string): string {
  return text
    .replace(/\|/g, "\\|")
    .replace(/<(?=[A-Za-z/!?])/g, "&lt;")
    .replace(/\s*\n\s*/g, " ");
}

/** A code span in a table cell: backticks kept, pipes escaped (GitHub needs that even inside code). */
function codeCell(text: string): string {
  return "`" + text.replace(/\|/g, "\\|") + "`";
}

/**
 * A table with padded columns, exactly as prettier prints it, so that formatting the repository
 * (`npm run format`) leaves the generated file unchanged and its staleness check passing.
 */
function table(header: string[], rows: string[][]): string[] {
  // Prettier measures display width; everything rendered here is narrow, so code points are columns.
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + " ".repeat(widths[i] - width(c))).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces as hyphens. */
function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

// ---------------------------------------------------------------------------------------------------------
// What commander knows about a command

/** The text added with `.addHelpText("after", …)`: listeners write it into the context they are given. */
function afterHelpText(cmd: Command): string {
  let text = "";
  // A Command is an EventEmitter at run time, though commander's typings do not say so.
  (cmd as unknown as EventEmitter).emit("afterHelp", {
    error: false,
    command: cmd,
    write: (s: string) => (text += s),
  });
  return text;
}

/** Example commands (`  $ rok …` lines) and any other lines of a command's after-help text. */
function helpExtras(cmd: Command): { examples: string[]; notes: string[] } {
  const examples: string[] = [];
  const notes: string[] = [];
  for (const line of afterHelpText(cmd).split("\n")) {
    const example = /^\s*\$\s+(.*)$/.exec(line);
    if (example) examples.push(example[1].trim());
    else if (line.trim() && !/^Examples?:$/.test(line.trim())) notes.push(line.trim());
  }
  return { examples, notes };
}

/** The kind a command group manages: named after the kind, or its `list` says `List <Kind> objects`. */
function kindOf(group: Command): KindDef | undefined {
  const byName = KINDS.find((k) => k.kind.toLowerCase() === group.name());
  if (byName) return byName;
  const list = group.commands.find((c) => c.name() === "list");
  const m = list && /^List (\w+) objects$/.exec(list.description());
  return m ? kindByName(m[1]) : undefined;
}

function optionRow(o: Option): string[] {
  const notes: string[] = [];
  if (o.mandatory) notes.push("**Required.**");
  if (o.argChoices) notes.push(`One of ${o.argChoices.map((c) => codeCell(c)).join(", ")}.`);
  let description = cellText(o.description);
  if (notes.length)
    description += (/[.!?)]$/.test(description) || !description ? " " : ". ") + notes.join(" ");
  const shown =
    o.defaultValueDescription ?? (o.defaultValue === undefined ? undefined : String(o.defaultValue));
  return [codeCell(o.flags), shown === undefined ? "" : codeCell(shown), description];
}

function optionsTable(options: readonly Option[]): string[] {
  const visible = options.filter((o) => !o.hidden);
  if (visible.length === 0) return [];
  return table(["option", "default", "description"], visible.map(optionRow));
}

function examplesBlock(examples: string[]): string[] {
  if (examples.length === 0) return [];
  return [examples.length > 1 ? "Examples:" : "Example:", "", "```sh", ...examples, "```"];
}

// ---------------------------------------------------------------------------------------------------------
// Sections

interface Node {
  cmd: Command;
  /** Canonical names from the program down, e.g. ["rok", "kubernetes", "application", "create"]. */
  path: string[];
  /** The same path through each command's first alias, e.g. ["rok", "kube", "app", "create"]. */
  short: string[];
}

function children(node: Node): Node[] {
  return node.cmd.commands.map((c) => ({
    cmd: c,
    path: [...node.path, c.name()],
    short: [...node.short, c.aliases()[0] ?? c.name()],
  }));
}

function heading(node: Node): string {
  return "`" + node.path.join(" ") + "`";
}

/** Every command under `node` in definition order, depth first. */
function walk(node: Node): Node[] {
  return children(node).flatMap((c) => [c, ...walk(c)]);
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

function groupSection(node: Node, level: number): string[] {
  const { cmd } = node;
  const out = [`${"#".repeat(level)} ${heading(node)}`, ""];
  out.push(cellText(cmd.description()), "");
  if (cmd.aliases().length)
    out.push(
      `Aliases: ${cmd
        .aliases()
        .map((a) => `\`${a}\``)
        .join(", ")}.`,
      "",
    );
  const def = kindOf(cmd);
  if (def) out.push(...columnsSection(def), "");
  out.push(
    ...table(
      ["command", "description"],
      cmd.commands.map((c) => [
        `[${codeCell(c.name())}](#${anchor([...node.path, c.name()].join(" "))})`,
        cellText(c.description()),
      ]),
    ),
    "",
  );
  const { examples } = helpExtras(cmd);
  if (examples.length) out.push(...examplesBlock(examples), "");
  return out;
}

function leafSection(node: Node, level: number): string[] {
  const { cmd } = node;
  const out = [`${"#".repeat(level)} ${heading(node)}`, ""];
  out.push(cellText(cmd.description()), "");
  out.push("```text", `${node.path.join(" ")} ${cmd.usage()}`, "```", "");
  if (node.short.join(" ") !== node.path.join(" ")) out.push(`Short form: \`${node.short.join(" ")}\`.`, "");
  if (cmd.aliases().length)
    out.push(
      `Aliases: ${cmd
        .aliases()
        .map((a) => `\`${a}\``)
        .join(", ")}.`,
      "",
    );
  // Arguments without descriptions are fully told by the usage line (`<name>`: one, required).
  const args = cmd.registeredArguments;
  if (args.some((a) => a.description)) {
    out.push(
      ...table(
        ["argument", "required", "description"],
        args.map((a) => [
          codeCell(a.name() + (a.variadic ? "..." : "")),
          a.required ? "yes" : "no",
          cellText(a.description),
        ]),
      ),
      "",
    );
  }
  const options = optionsTable(cmd.options);
  if (options.length) out.push(...options, "");
  const { examples, notes } = helpExtras(cmd);
  if (notes.length) out.push(notes.map(cellText).join(" "), "");
  if (examples.length) out.push(...examplesBlock(examples), "");
  return out;
}

function sections(node: Node, level: number): string[] {
  const out: string[] = [];
  for (const child of children(node)) {
    if (child.cmd.commands.length) out.push(...groupSection(child, level), ...sections(child, level + 1));
    else out.push(...leafSection(child, level));
  }
  return out;
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
  const root: Node = { cmd: program, path: [program.name()], short: [program.name()] };
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
        `[${codeCell(n.path.join(" "))}](#${anchor(n.path.join(" "))})`,
        n.short.join(" ") === n.path.join(" ") ? "" : codeCell(n.short.join(" ")),
        cellText(n.cmd.description()),
      ]),
    ),
    "",
    ...globalSection(program),
    ...sections(root, 2),
  ];
  // One blank line between blocks and a single trailing newline, whatever the sections appended.
  return (
    out
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}

// ---------------------------------------------------------------------------------------------------------
// Staleness

/**
 * Null when `current` equals `fresh`; otherwise what to tell the person whose change made it stale: the
 * command that regenerates the file, then a unified diff (committed → fresh) of the first differences.
 */
export function staleReport(current: string | null, fresh: string, maxLines = 80): string | null {
  if (current === fresh) return null;
  const head =
    current === null
      ? `${ROK_REFERENCE_FILE} does not exist. Generate it with:\n  ${REGENERATE_COMMAND}\n`
      : `${ROK_REFERENCE_FILE} is out of date with the rok command definitions (src/cli/rok/, ` +
        `src/resources/kinds/). Regenerate it with:\n  ${REGENERATE_COMMAND}\nand commit the result.\n`;
  if (current === null) return head;
  const diff = unifiedDiff(current.split("\n"), fresh.split("\n"));
  const shown = diff.slice(0, maxLines);
  if (diff.length > maxLines) shown.push(`… ${diff.length - maxLines} more diff lines`);
  return [
    head,
    `--- ${ROK_REFERENCE_FILE} (committed)`,
    `+++ ${ROK_REFERENCE_FILE} (fresh rendering)`,
    ...shown,
  ].join("\n");
}

type Edit = { op: " " | "-" | "+"; line: string; a: number; b: number };

/** A line diff (longest common subsequence of what differs between the common head and tail). */
function lineEdits(a: string[], b: string[]): Edit[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  // lcs[i][j]: LCS length of a[start+i..endA) and b[start+j..endB), flattened.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i * (m + 1) + j] =
        a[start + i] === b[start + j]
          ? lcs[(i + 1) * (m + 1) + j + 1] + 1
          : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
  const edits: Edit[] = [];
  for (let k = 0; k < start; k++) edits.push({ op: " ", line: a[k], a: k, b: k });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) {
      edits.push({ op: " ", line: a[start + i], a: start + i, b: start + j });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1])) {
      // Removals before additions, as diff -u prints a changed line.
      edits.push({ op: "-", line: a[start + i], a: start + i, b: start + j });
      i++;
    } else {
      edits.push({ op: "+", line: b[start + j], a: start + i, b: start + j });
      j++;
    }
  }
  for (let k = 0; k < a.length - endA; k++)
    edits.push({ op: " ", line: a[endA + k], a: endA + k, b: endB + k });
  return edits;
}

/** Hunks with three lines of context, as `diff -u` prints them. */
function unifiedDiff(a: string[], b: string[], context = 3): string[] {
  const edits = lineEdits(a, b);
  const out: string[] = [];
  let k = 0;
  while (k < edits.length) {
    if (edits[k].op === " ") {
      k++;
      continue;
    }
    const from = Math.max(0, k - context);
    let to = k;
    // Extend the hunk while the next change is within 2 × context unchanged lines.
    for (;;) {
      while (to < edits.length && edits[to].op !== " ") to++;
      let next = to;
      while (next < edits.length && edits[next].op === " ") next++;
      if (next < edits.length && next - to <= 2 * context) to = next;
      else break;
    }
    const end = Math.min(edits.length, to + context);
    const hunk = edits.slice(from, end);
    const countA = hunk.filter((e) => e.op !== "+").length;
    const countB = hunk.filter((e) => e.op !== "-").length;
    out.push(`@@ -${hunk[0].a + 1},${countA} +${hunk[0].b + 1},${countB} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
    k = end;
  }
  return out;
}
