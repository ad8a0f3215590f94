/**
 * docs/krake.md is generated from the krake command definitions (scripts/docs/render-krake-reference.ts).
 * These tests fail when a CLI change was made without regenerating it, and tell how to regenerate.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Command } from "commander";
import { ENV_VARIABLES } from "../../src/api/config.js";
import {
  environmentVariables,
  KRAKE_REFERENCE_FILE,
  KRAKE_REGENERATE_COMMAND,
  krakeOptionFacts,
  krakeStaleReport,
  referenceKrakeProgram,
  renderKrakeReference,
} from "../../scripts/docs/render-krake-reference.js";
import { readReference } from "../../scripts/docs/stale.js";
import { generatedDocumentTests } from "./generated.js";
import { internalLinks } from "./links.js";

function command(program: Command, name: string): Command {
  const cmd = program.commands.find((c) => c.name() === name);
  assert.ok(cmd, `no command krake ${name}`);
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

/** The table row of `flags` (as declared, e.g. `--etcd <urls>`) in a section. */
function row(text: string, flags: string): string[] {
  const line = text.split("\n").find((l) => l.startsWith(`| \`${flags}\` `));
  assert.ok(line, `no row for ${flags} in:\n${text}`);
  return line
    .slice(1, -1)
    .split(" | ")
    .map((c) => c.trim());
}

generatedDocumentTests({
  file: KRAKE_REFERENCE_FILE,
  source: "the krake command definitions",
  render: () => renderKrakeReference(),
  staleReport: krakeStaleReport,
});

test("the reference documents known commands and flags", () => {
  const doc = renderKrakeReference();
  for (const name of ["up", "api", "bootstrap", "controller", "backup", "restore"]) {
    assert.ok(doc.includes(`\n## \`krake ${name}\`\n`), `no section for krake ${name}`);
    assert.ok(
      doc.includes(`[\`krake ${name}\`](#krake-${name})`),
      `krake ${name} is not in the command list`,
    );
  }

  const up = section(doc, "## `krake up`");
  assert.match(row(up, "--sandbox")[3], /also run the IM simulator/);
  assert.deepEqual(row(up, "--im-port <port>").slice(0, 2), ["`--im-port <port>`", "`8800`"]);
  assert.match(up, /```sh\nkrake up {2,}# embedded store/, "examples come from the help text");

  // `krake api`: the default and the environment variable come out of the help text's description.
  const api = section(doc, "## `krake api`");
  assert.deepEqual(row(api, "--etcd <urls>"), [
    "`--etcd <urls>`",
    "",
    "`KRAKE_ETCD`",
    "use etcd instead of the embedded store: comma-separated client URLs",
  ]);
  assert.deepEqual(row(api, "--port <port>"), [
    "`--port <port>`",
    "`8080`",
    "`KRAKE_API_PORT`",
    "port to listen on (0 = any free port)",
  ]);
  assert.match(row(api, "--authorization <mode>")[3], /One of `always-allow`, `always-deny`, `RBAC`\.$/);

  const controller = section(doc, "## `krake controller`");
  assert.deepEqual(row(controller, "--observe-interval <seconds>").slice(0, 3), [
    "`--observe-interval <seconds>`",
    "`2`",
    "",
  ]);
  assert.deepEqual(row(controller, "--api <url>").slice(1, 3), ["`http://127.0.0.1:8080`", "`KRAKE_URL`"]);
  assert.match(row(controller, "--hook-endpoint <url>")[3], /\(default --api\)$/);
  assert.match(controller, /\| `names\.\.\.` +\| yes +\| controllers to run: /);

  const backup = section(doc, "## `krake backup`");
  assert.deepEqual(row(backup, "-o, --output <file>").slice(0, 2), ["`-o, --output <file>`", "`-`"]);
  assert.deepEqual(row(backup, "--etcd-prefix <prefix>").slice(0, 2), ["`--etcd-prefix <prefix>`", '`""`']);
  assert.match(
    backup,
    /krake backup --etcd http:\/\/127\.0\.0\.1:2379 --etcd-prefix \/krake -o krake\.ndjson/,
  );
  assert.match(backup, /clear text: protect it\./, "notes of the help text are kept");

  // An example under `Example:` without a `$` prompt is still an example, not a note.
  const bootstrap = section(doc, "## `krake bootstrap`");
  assert.match(bootstrap, /Example:\n\n```sh\nkrake bootstrap support\/static_metrics\.yaml\n```/);
});

test("every command, argument and visible option of krakeProgram() is in its section", () => {
  const program = referenceKrakeProgram();
  const doc = renderKrakeReference(program);
  // Commands with subcommands (`krake encryption`) have a section of their own, their subcommands one level down.
  const check = (cmd: Command, path: string, level: number): void => {
    const text = section(doc, `${"#".repeat(level)} \`krake ${path}\``);
    if (cmd.commands.length > 0) {
      for (const sub of cmd.commands) check(sub, `${path} ${sub.name()}`, level + 1);
      return;
    }
    assert.ok(text.includes(`krake ${path} ${cmd.usage()}`), `usage of krake ${path}`);
    for (const arg of cmd.registeredArguments)
      assert.ok(
        text.includes(`\`${arg.name()}${arg.variadic ? "..." : ""}\``),
        `krake ${path} ${arg.name()}`,
      );
    for (const o of cmd.options.filter((x) => !x.hidden)) {
      const cells = row(text, o.flags);
      const facts = krakeOptionFacts(o);
      if (facts.env) assert.equal(cells[2], `\`${facts.env}\``, `krake ${path} ${o.flags}`);
      for (const choice of o.argChoices ?? []) assert.ok(cells.at(-1)!.includes(`\`${choice}\``));
      assert.ok(!/\(env /.test(cells.at(-1)!), `krake ${path} ${o.flags}: env left in the description`);
    }
  };
  for (const cmd of program.commands) check(cmd, cmd.name(), 2);
});

test("every environment variable of the API server's configuration is documented", () => {
  const documented = new Map(environmentVariables(referenceKrakeProgram()).map((v) => [v.variable, v]));
  for (const [key, variable] of Object.entries(ENV_VARIABLES)) {
    const v = documented.get(variable);
    assert.ok(v, `${variable} (${key}) is named by no flag's help`);
    assert.ok(
      v.commands.some((path) => path.join(" ") === "krake api"),
      `${variable} is not a flag of krake api`,
    );
  }
  const doc = renderKrakeReference();
  const env = section(doc, "## Environment variables");
  for (const variable of [...Object.values(ENV_VARIABLES), "KRAKE_URL", "KRAKE_TOKEN"])
    assert.match(env, new RegExp(`^\\| \`${variable}\` `, "m"));
});

test("the rendering does not depend on the KRAKE_* environment of whoever renders it", () => {
  const before = renderKrakeReference();
  const saved = { url: process.env.KRAKE_URL, token: process.env.KRAKE_TOKEN };
  try {
    process.env.KRAKE_URL = "http://renderer.example:1234";
    process.env.KRAKE_TOKEN = "secret-token-of-the-renderer";
    const during = renderKrakeReference();
    assert.ok(!during.includes("secret-token-of-the-renderer"), "a token leaked into the reference");
    assert.equal(during, before);
    assert.equal(process.env.KRAKE_TOKEN, "secret-token-of-the-renderer", "the environment is restored");
  } finally {
    for (const [name, value] of [
      ["KRAKE_URL", saved.url],
      ["KRAKE_TOKEN", saved.token],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
});

test("a flag added to the CLI changes the rendering, and the stale report says how to regenerate", () => {
  const program = referenceKrakeProgram();
  command(program, "api").option(
    "--made-up-flag <x>",
    "a flag that exists only in this test (env KRAKE_MADE_UP)",
  );
  const changed = renderKrakeReference(program);
  const fresh = renderKrakeReference();
  assert.match(
    changed,
    /\| `--made-up-flag <x>` +\| +\| `KRAKE_MADE_UP` +\| a flag that exists only in this test +\|/,
  );
  const report = krakeStaleReport(fresh, changed);
  assert.ok(report, "a difference must be reported");
  assert.ok(report.includes(KRAKE_REGENERATE_COMMAND), report);
  assert.ok(report.includes(KRAKE_REFERENCE_FILE), report);
  assert.match(report, /^\+\| `--made-up-flag <x>` +\|/m, report);
  assert.match(report, /^@@ -\d+,\d+ \+\d+,\d+ @@$/m, report);
  assert.equal(krakeStaleReport(fresh, fresh), null);
  assert.match(krakeStaleReport(null, fresh) ?? "", /does not exist[^]*npm run docs:krake/);
});

test("every link of the reference leads to a heading or an existing file", () => {
  const doc = renderKrakeReference();
  const { links, broken } = internalLinks(doc);
  assert.ok(links.length >= 6, `only ${links.length} links`);
  assert.deepEqual(broken, []);
  for (const m of doc.matchAll(/\]\(([^#)][^)]*)\)/g))
    assert.ok(readReference({ file: join("docs", m[1]) }) !== null, `link to missing file ${m[1]}`);
});
