/**
 * What the generated command references (docs/rok.md, docs/krake.md) share: markdown that prettier leaves
 * as it is, and what a commander program knows about its commands (options, arguments, after-help text),
 * walked in the order `--help` lists it. Nothing here depends on the terminal, the clock or how the process
 * was started, so two renderings are byte-identical.
 */
import type { EventEmitter } from "node:events";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command, Option } from "commander";

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

// ---------------------------------------------------------------------------------------------------------
// Markdown

/** Text for a table cell: pipes escaped, one line, and nothing a renderer would take for an HTML tag. */
export function cellText(text: string): string {
  return text
    .replace(/\|/g, "\\|")
    .replace(/<(?=[A-Za-z/!?])/g, "&lt;")
    .replace(/\s*\n\s*/g, " ");
}

/** A code span in a table cell: backticks kept, pipes escaped (GitHub needs that even inside code). */
export function codeCell(text: string): string {
  return "`" + text.replace(/\|/g, "\\|") + "`";
}

/**
 * A table with padded columns, exactly as prettier prints it, so that formatting the repository
 * (`npm run format`) leaves the generated file unchanged and its staleness check passing.
 */
export function table(header: string[], rows: string[][]): string[] {
  // Prettier measures display width; everything rendered here is narrow, so code points are columns.
  const width = (s: string) => [...s].length;
  const widths = header.map((h, i) => Math.max(3, width(h), ...rows.map((r) => width(r[i] ?? ""))));
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c + " ".repeat(widths[i] - width(c))).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces as hyphens. */
export function anchor(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^a-z0-9 _-]/g, "")
    .replace(/ /g, "-");
}

/** A link to the heading of the command at `path`, shown as `label` (by default the whole path) in code. */
export function commandLink(path: string[], label = path.join(" ")): string {
  return `[${codeCell(label)}](#${anchor(path.join(" "))})`;
}

export function examplesBlock(examples: string[]): string[] {
  if (examples.length === 0) return [];
  return [examples.length > 1 ? "Examples:" : "Example:", "", "```sh", ...examples, "```"];
}

/** Blocks joined with one blank line between them and a single trailing newline. */
export function document(lines: string[]): string {
  return (
    lines
      .join("\n")
      .replace(/\n{3,}/g, "\n\n")
      .trimEnd() + "\n"
  );
}

// ---------------------------------------------------------------------------------------------------------
// What commander knows about a command

/** The text added with `.addHelpText("after", …)`: listeners write it into the context they are given. */
export function afterHelpText(cmd: Command): string {
  let text = "";
  // A Command is an EventEmitter at run time, though commander's typings do not say so.
  (cmd as unknown as EventEmitter).emit("afterHelp", {
    error: false,
    command: cmd,
    write: (s: string) => (text += s),
  });
  return text;
}

/**
 * Example commands and the other lines of a command's after-help text. An example is a `$ …` line, or an
 * indented line under an `Example:`/`Examples:` heading (up to the next blank line).
 */
export function helpExtras(cmd: Command): { examples: string[]; notes: string[] } {
  const examples: string[] = [];
  const notes: string[] = [];
  let underHeading = false;
  for (const line of afterHelpText(cmd).split("\n")) {
    const trimmed = line.trim();
    if (/^Examples?:$/.test(trimmed)) {
      underHeading = true;
      continue;
    }
    const example = /^\s*\$\s+(.*)$/.exec(line);
    if (example) examples.push(example[1].trim());
    else if (underHeading && /^\s+\S/.test(line)) examples.push(trimmed);
    else {
      underHeading = false;
      if (trimmed) notes.push(trimmed);
    }
  }
  return { examples, notes };
}

/** What the reference says about one option. */
export interface OptionFacts {
  /** As declared and shown by `--help`, e.g. `-o, --output <file>`. */
  flags: string;
  description: string;
  /** The default as text; undefined for none. */
  default?: string;
  /** The environment variable the option reads, if any. */
  env?: string;
  required: boolean;
  choices?: readonly string[];
}

/** A default value as text: arrays as the comma-separated list the flags take, an empty one as none. */
function defaultText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.length ? value.join(",") : undefined;
  return String(value);
}

/** What commander itself records about an option (its description is taken as written). */
export function optionFacts(o: Option): OptionFacts {
  return {
    flags: o.flags,
    description: o.description,
    default: o.defaultValueDescription ?? defaultText(o.defaultValue),
    env: o.envVar,
    required: Boolean(o.mandatory),
    choices: o.argChoices,
  };
}

function optionRow(o: OptionFacts, withEnv: boolean): string[] {
  const notes: string[] = [];
  if (o.required) notes.push("**Required.**");
  if (o.choices) notes.push(`One of ${o.choices.map((c) => codeCell(c)).join(", ")}.`);
  let description = cellText(o.description);
  if (notes.length)
    description += (/[.!?)]$/.test(description) || !description ? " " : ". ") + notes.join(" ");
  const shown = o.default === undefined ? "" : codeCell(o.default === "" ? '""' : o.default);
  return [codeCell(o.flags), shown, ...(withEnv ? [o.env ? codeCell(o.env) : ""] : []), description];
}

/**
 * The visible options as a table: option, default, the environment variable (a column only when some
 * option names one) and description. `facts` may refine what commander records, e.g. from the help text.
 */
export function optionsTable(
  options: readonly Option[],
  facts: (o: Option) => OptionFacts = optionFacts,
): string[] {
  const visible = options.filter((o) => !o.hidden).map(facts);
  if (visible.length === 0) return [];
  const withEnv = visible.some((o) => o.env);
  return table(
    ["option", "default", ...(withEnv ? ["environment"] : []), "description"],
    visible.map((o) => optionRow(o, withEnv)),
  );
}

/** The arguments, when some has a description (otherwise the usage line tells them fully). */
export function argumentsTable(cmd: Command): string[] {
  const args = cmd.registeredArguments;
  if (!args.some((a) => a.description)) return [];
  return table(
    ["argument", "required", "description"],
    args.map((a) => [
      codeCell(a.name() + (a.variadic ? "..." : "")),
      a.required ? "yes" : "no",
      cellText(a.description),
    ]),
  );
}

export function aliasesLine(cmd: Command): string[] {
  if (!cmd.aliases().length) return [];
  return [
    `Aliases: ${cmd
      .aliases()
      .map((a) => `\`${a}\``)
      .join(", ")}.`,
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Walking a program

export interface CommandNode {
  cmd: Command;
  /** Canonical names from the program down, e.g. ["rok", "kubernetes", "application", "create"]. */
  path: string[];
  /** The same path through each command's first alias, e.g. ["rok", "kube", "app", "create"]. */
  short: string[];
}

export function rootNode(program: Command): CommandNode {
  return { cmd: program, path: [program.name()], short: [program.name()] };
}

export function children(node: CommandNode): CommandNode[] {
  return node.cmd.commands.map((c) => ({
    cmd: c,
    path: [...node.path, c.name()],
    short: [...node.short, c.aliases()[0] ?? c.name()],
  }));
}

/** Every command under `node` in definition order, depth first. */
export function walk(node: CommandNode): CommandNode[] {
  return children(node).flatMap((c) => [c, ...walk(c)]);
}

export function heading(node: CommandNode, level: number): string {
  return `${"#".repeat(level)} \`${node.path.join(" ")}\``;
}

export interface SectionOptions {
  /** Blocks a group's section shows after its description and aliases (rok: the kind's table columns). */
  groupExtra?: (node: CommandNode) => string[];
  /** How an option's facts are read (see optionsTable). */
  facts?: (o: Option) => OptionFacts;
}

function groupSection(node: CommandNode, level: number, opts: SectionOptions): string[] {
  const { cmd } = node;
  const out = [heading(node, level), ""];
  out.push(cellText(cmd.description()), "");
  out.push(...aliasesLine(cmd), "");
  out.push(...(opts.groupExtra?.(node) ?? []), "");
  out.push(
    ...table(
      ["command", "description"],
      cmd.commands.map((c) => [commandLink([...node.path, c.name()], c.name()), cellText(c.description())]),
    ),
    "",
  );
  out.push(...examplesBlock(helpExtras(cmd).examples), "");
  return out;
}

function leafSection(node: CommandNode, level: number, opts: SectionOptions): string[] {
  const { cmd } = node;
  const out = [heading(node, level), ""];
  out.push(cellText(cmd.description()), "");
  out.push("```text", `${node.path.join(" ")} ${cmd.usage()}`, "```", "");
  if (node.short.join(" ") !== node.path.join(" ")) out.push(`Short form: \`${node.short.join(" ")}\`.`, "");
  out.push(...aliasesLine(cmd), "");
  out.push(...argumentsTable(cmd), "");
  out.push(...optionsTable(cmd.options, opts.facts), "");
  const { examples, notes } = helpExtras(cmd);
  if (notes.length) out.push(notes.map(cellText).join(" "), "");
  out.push(...examplesBlock(examples), "");
  return out;
}

/**
 * A section for every command under `node`, in definition order: a group gets a table of its commands and
 * its own sections one level deeper; a leaf gets its usage, arguments, options, notes and examples.
 */
export function sections(node: CommandNode, level: number, opts: SectionOptions = {}): string[] {
  const out: string[] = [];
  for (const child of children(node)) {
    if (child.cmd.commands.length)
      out.push(...groupSection(child, level, opts), ...sections(child, level + 1, opts));
    else out.push(...leafSection(child, level, opts));
  }
  return out;
}
