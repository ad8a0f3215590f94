/**
 * The command line shared by scripts/docs/generate.ts and scripts/docs/rok-reference.ts (referenceCli):
 * writing, checking and selecting generated references, run against a scratch directory.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { referenceCli, type CliIo, type ReferenceDoc } from "../../scripts/docs/stale.js";

function scratch(): { io: CliIo; out: string[]; err: string[]; dispose: () => void } {
  const root = mkdtempSync(join(tmpdir(), "docs-generate-"));
  mkdirSync(join(root, "docs"));
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { root, out: (t) => out.push(t), err: (t) => err.push(t) },
    out,
    err,
    dispose: () => rmSync(root, { recursive: true, force: true }),
  };
}

const doc = (name: string, text: string): ReferenceDoc => ({
  name,
  file: `docs/${name}.md`,
  regenerate: `npm run docs:${name}`,
  source: `the ${name} command definitions`,
  render: () => text,
});

test("without --check, stale and missing references are written and current ones left alone", () => {
  const s = scratch();
  try {
    writeFileSync(join(s.io.root, "docs/a.md"), "A\n");
    const status = referenceCli("gen.ts", [], [doc("a", "A\n"), doc("b", "B\n")], s.io);
    assert.equal(status, 0);
    assert.deepEqual(s.out, ["docs/a.md is up to date\n", "wrote docs/b.md\n"]);
    assert.equal(readFileSync(join(s.io.root, "docs/b.md"), "utf8"), "B\n");
  } finally {
    s.dispose();
  }
});

test("--check writes nothing and fails with the regenerate command of each stale reference", () => {
  const s = scratch();
  try {
    writeFileSync(join(s.io.root, "docs/a.md"), "A\nold\n");
    const status = referenceCli("gen.ts", ["--check"], [doc("a", "A\nnew\n"), doc("b", "B\n")], s.io);
    assert.equal(status, 1);
    const report = s.err.join("");
    assert.match(report, /docs\/a\.md is out of date with the a command definitions[^]*npm run docs:a/);
    assert.match(report, /^-old$/m);
    assert.match(report, /^\+new$/m);
    assert.match(report, /docs\/b\.md does not exist[^]*npm run docs:b/);
    assert.equal(readFileSync(join(s.io.root, "docs/a.md"), "utf8"), "A\nold\n");
  } finally {
    s.dispose();
  }
});

test("names select references; an unknown name is a usage error", () => {
  const s = scratch();
  try {
    assert.equal(referenceCli("gen.ts", ["b", "--check"], [doc("a", "A\n"), doc("b", "B\n")], s.io), 1);
    assert.match(s.err.join(""), /docs\/b\.md does not exist/);
    assert.doesNotMatch(s.err.join(""), /docs\/a\.md/);
    s.err.length = 0;
    assert.equal(referenceCli("gen.ts", ["c"], [doc("a", "A\n"), doc("b", "B\n")], s.io), 2);
    assert.match(s.err.join(""), /^usage: npx tsx gen\.ts \[--check\] \[a\|b…\] \(unknown: c\)/);
  } finally {
    s.dispose();
  }
});
