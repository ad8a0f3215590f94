/**
 * docs/troubleshooting.md must keep up with the code: every state and reason code the resource kinds define
 * is explained, every controller's lease is named, every `rok` command it shows exists with those flags, and
 * its internal links lead somewhere.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { CONTROLLER_NAMES } from "../../src/controllers/index.js";
import { reasonCodes } from "../../src/resources/kinds/common.js";
import { applicationStates, clusterStates } from "../../src/resources/kinds/kubernetes.js";
import { GlobalCloud } from "../../src/resources/registry.js";
import { referenceProgram, repoRoot } from "../../scripts/docs/render-rok-reference.js";
import { internalLinks } from "./links.js";

const doc = readFileSync(join(repoRoot(), "docs/troubleshooting.md"), "utf8");

/** The rows of the markdown table under `heading`, by their first cell (backticks kept). */
function firstCells(heading: string): string[] {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no section '${heading}'`);
  const rest = doc.slice(start + heading.length + 2);
  const end = rest.search(/\n## /);
  return (end < 0 ? rest : rest.slice(0, end))
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("|---"))
    .map((l) => l.split(" | ")[0].slice(2).trim());
}

/** Whether one of the table's first cells names `value` (`A`, or `A`, `B`, … for values explained together). */
function explains(cells: string[], value: string): boolean {
  return cells.some((c) => c.split(", ").includes(`\`${value}\``));
}

test("every application, cluster and cloud state has a row", () => {
  const cloudStates = (GlobalCloud.schema.properties as any).status.properties.state.anyOf.map(
    (s: { const: string }) => s.const,
  ) as string[];
  assert.ok(cloudStates.includes("FAILING_METRICS"), "cloud states are read from the Cloud schema");
  const cases: [string, readonly string[]][] = [
    ["## Application states", applicationStates],
    ["## Cluster states", clusterStates],
    ["## Cloud states", cloudStates],
  ];
  for (const [heading, states] of cases) {
    const cells = firstCells(heading);
    for (const state of states) assert.ok(explains(cells, state), `${heading} does not explain ${state}`);
  }
});

test("every reason code has a row", () => {
  const cells = firstCells("## Reason codes");
  for (const code of reasonCodes)
    assert.ok(explains(cells, code), `## Reason codes does not explain ${code}`);
});

test("every controller's lease is named", () => {
  for (const name of CONTROLLER_NAMES)
    assert.ok(doc.includes(`\`controller-${name}\``), `controller-${name}`);
});

/** Shell words of a command line, quotes removed; stops at a pipe, redirection or comment. */
function words(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    const word = m[1] ?? m[2] ?? m[3];
    if (m[3] && /^(\||>|#|&&|;)/.test(m[3])) break;
    out.push(word);
  }
  return out;
}

/** Why `rok <args>` would not parse as a command of `program`, or null. */
function problemWith(program: Command, args: string[]): string | null {
  let cmd = program;
  for (const word of args) {
    // A placeholder for "some subcommand or arguments": nothing more to check.
    if (word.includes("…")) return null;
    if (word.startsWith("-") && !/^-\d/.test(word)) {
      const flag = word.split("=")[0];
      const known = [...cmd.options, ...program.options].some((o) => o.long === flag || o.short === flag);
      if (!known && flag !== "-h" && flag !== "--help") return `'${cmd.name()}' has no flag ${flag}`;
      continue;
    }
    if (cmd.commands.length === 0) continue; // an argument or a flag's value
    const next = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!next) return `'${cmd.name()}' has no subcommand '${word}'`;
    cmd = next;
  }
  return cmd.commands.length === 0 ? null : `'${cmd.name()}' needs a subcommand`;
}

test("every rok command shown exists, with the flags shown", () => {
  const program = referenceProgram();
  const lines = [
    ...[...doc.matchAll(/`(rok [^`]+)`/g)].map((m) => m[1]),
    ...doc.split("\n").filter((l) => l.startsWith("rok ")),
  ];
  assert.ok(lines.length > 30, `only ${lines.length} rok commands found`);
  const problems = lines.flatMap((l) => {
    const p = problemWith(program, words(l).slice(1));
    return p ? [`${l}: ${p}`] : [];
  });
  assert.deepEqual(problems, []);
  // The checker itself must be able to fail.
  assert.match(problemWith(program, ["kube", "app", "frobnicate"]) ?? "", /no subcommand 'frobnicate'/);
  assert.match(problemWith(program, ["kube", "app", "get", "--nope", "x"]) ?? "", /no flag --nope/);
});

test("every internal link leads to a heading", () => {
  const { links, broken } = internalLinks(doc);
  assert.ok(links.length > 10);
  assert.deepEqual(broken, []);
});
