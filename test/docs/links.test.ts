/**
 * Every relative link in the README and docs/ leads to a file of the repository, and every `#fragment` to a
 * heading of its document: the guides link into each other by section, and a renamed heading must not leave
 * a reader at the top of a long page.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { repoRoot } from "../../scripts/docs/render-rok-reference.js";
import { headingAnchors } from "./links.js";

const root = repoRoot();
const documents = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => `docs/${f}`),
];

test("every relative link and anchor in the README and docs/ resolves", () => {
  const broken: string[] = [];
  let checked = 0;
  for (const doc of documents) {
    const text = readFileSync(join(root, doc), "utf8");
    // Links inside code blocks are examples, not links.
    const prose = text.replace(/```[\s\S]*?```/g, "");
    for (const [, target] of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/i.test(target)) continue;
      const [path, fragment] = target.split("#");
      const file = path === "" ? join(root, doc) : join(root, dirname(doc), path);
      checked++;
      if (!existsSync(file)) {
        broken.push(`${doc}: ${target} (no file ${relative(root, file)})`);
        continue;
      }
      if (fragment && file.endsWith(".md") && !headingAnchors(readFileSync(file, "utf8")).has(fragment))
        broken.push(`${doc}: ${target} (no such heading)`);
    }
  }
  assert.ok(checked > 50, `only ${checked} links checked`);
  assert.deepEqual(broken, []);
});
