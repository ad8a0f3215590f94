/**
 * docs/rok.md is generated from the rok command definitions (scripts/docs/render-rok-reference.ts). These
 * tests fail when a CLI change was made without regenerating it, and tell how to regenerate.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { loadConfig } from "../../src/cli/rok/config.js";
import { Application } from "../../src/resources/registry.js";
import { generatedDocumentTests } from "./generated.js";
import { internalLinks } from "./links.js";
import {
  CONFIG_ENV,
  REGENERATE_COMMAND,
  referenceProgram,
  renderRokReference,
  ROK_REFERENCE_FILE,
  staleReport,
} from "../../scripts/docs/render-rok-reference.js";

function find(program: Command, path: string[]): Command {
  let cmd = program;
  for (const name of path) {
    const next = cmd.commands.find((c) => c.name() === name);
    assert.ok(next, `no command '${name}' under '${cmd.name()}'`);
    cmd = next;
  }
  return cmd;
}

/** The part of the reference from `heading` to the next heading of the same or a higher level. */
function section(doc: string, heading: string): string {
  const start = doc.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `no section '${heading}'`);
  const level = heading.indexOf(" ");
  const rest = doc.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end < 0 ? rest : rest.slice(0, end);
}

generatedDocumentTests({
  file: ROK_REFERENCE_FILE,
  source: "the rok command definitions",
  render: () => renderRokReference(),
  staleReport,
});

test("the reference documents known commands, aliases and flags", () => {
  const doc = renderRokReference();
  for (const text of [
    "#### `rok kubernetes application create`",
    "`rok kube app create`",
    "`rok infra provider register`",
    "`rok core lease list`",
    "`--auto-cluster-create`",
    "`--wait [state]`",
    "`-k, --kubeconfig <file>`",
    "`--print-completion <shell>`",
  ]) {
    assert.ok(doc.includes(text), `the reference does not mention ${text}`);
  }
  const create = section(doc, "#### `rok kubernetes application create`");
  assert.match(create, /\| `--timeout <duration>` +\| `30m` +\| how long --wait waits/);
  assert.match(
    create,
    /rok kube app create -f echo-demo\.yaml echo-demo/,
    "examples come from the help text",
  );
  const register = section(doc, "#### `rok infrastructure infrastructureprovider register`");
  assert.match(register, /\| `--type <type>` +\| +\| provider type\. \*\*Required\.\*\* One of `im`\./);
});

test("table columns are those of the kind definitions", () => {
  const app = section(renderRokReference(), "### `rok kubernetes application`");
  const list = Application.columns.filter((c) => !c.wide && !c.detail).map((c) => `\`${c.header}\``);
  const wide = Application.columns.filter((c) => c.wide && !c.detail).map((c) => `\`${c.header}\``);
  assert.ok(app.includes(`- \`list\`: ${list.join(", ")}\n`), app);
  assert.ok(app.includes(`- \`list -o wide\` adds: ${wide.join(", ")}\n`), app);
  assert.ok(wide.includes("`reason`"), "the wide list shows the reason");
});

test("a flag added to the CLI changes the rendering, and the stale report says how to regenerate", () => {
  const program = referenceProgram();
  find(program, ["kubernetes", "application", "create"]).option(
    "--made-up-flag <x>",
    "a flag that exists only in this test",
    "xyz",
  );
  const changed = renderRokReference(program);
  const fresh = renderRokReference();
  assert.match(changed, /\| `--made-up-flag <x>` +\| `xyz` +\| a flag that exists only in this test +\|/);
  const report = staleReport(fresh, changed);
  assert.ok(report, "a difference must be reported");
  assert.ok(report.includes(REGENERATE_COMMAND), report);
  assert.match(report, /^\+\| `--made-up-flag <x>` +\| `xyz` +\|/m, report);
  assert.match(report, /^@@ -\d+,\d+ \+\d+,\d+ @@$/m, report);
  assert.equal(staleReport(fresh, fresh), null);
  assert.match(staleReport(null, fresh) ?? "", /does not exist/);
});

test("the rendering depends neither on the name the process runs under nor on the terminal", () => {
  const before = renderRokReference();
  const argv1 = process.argv[1];
  const columns = process.env.COLUMNS;
  try {
    // buildProgram() names the program after argv[1] (krakectl); the reference always says rok.
    process.argv[1] = "/usr/local/bin/krakectl";
    process.env.COLUMNS = "37";
    assert.equal(renderRokReference(), before);
  } finally {
    process.argv[1] = argv1;
    if (columns === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = columns;
  }
});

test("each documented environment variable overrides its configuration key", () => {
  // An empty directory as cwd and XDG_CONFIG_HOME, so only the environment (and at most /etc) applies.
  const dir = mkdtempSync(join(tmpdir(), "rok-doc-"));
  try {
    const values: Record<string, string> = {
      api_url: "http://krake.example:9999",
      user: "team-doc",
      token: "doc-token",
    };
    for (const { variable, key } of CONFIG_ENV) {
      const config = loadConfig(undefined, { XDG_CONFIG_HOME: dir, [variable]: values[key] }, dir);
      assert.equal(config[key], values[key], `${variable} should set ${key}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("every link of the reference leads to a heading", () => {
  const doc = renderRokReference();
  const { links, broken } = internalLinks(doc);
  assert.ok(links.length > 60, `only ${links.length} links`);
  assert.deepEqual(broken, []);
});
