/** The two tests every generated document has: it is fresh, and formatting the repository leaves it alone. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as prettier from "prettier";
import { repoRoot } from "../../scripts/docs/markdown.js";

export function generatedDocumentTests(opts: {
  /** Path from the repository root, e.g. `docs/rok.md`. */
  file: string;
  /** What it is rendered from, for the test name. */
  source: string;
  render: () => string;
  /** The stale report (null: up to date), which says how to regenerate. */
  staleReport: (current: string | null, fresh: string) => string | null;
}): void {
  const path = join(repoRoot(), opts.file);
  test(`${opts.file} is the fresh rendering of ${opts.source}`, () => {
    let current: string | null = null;
    try {
      current = readFileSync(path, "utf8");
    } catch {
      // missing: the report says to generate it
    }
    const report = opts.staleReport(current, opts.render());
    if (report) assert.fail(report);
  });

  test("formatting the repository (npm run format) leaves the reference as generated", async () => {
    const options = (await prettier.resolveConfig(path)) ?? {};
    const fresh = opts.render();
    assert.equal(await prettier.format(fresh, { ...options, filepath: path }), fresh);
  });
}
