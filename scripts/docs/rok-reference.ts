/**
 * Writes docs/rok.md, the `rok` command reference, from the CLI's own definition; `--check` writes nothing
 * and exits 1 with a diff when the committed file is stale (for CI and pre-commit hooks).
 *
 *   npx tsx scripts/docs/rok-reference.ts          # regenerate
 *   npx tsx scripts/docs/rok-reference.ts --check  # verify
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderRokReference, repoRoot, ROK_REFERENCE_FILE, staleReport } from "./render-rok-reference.js";

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--check");
if (unknown.length > 0) {
  process.stderr.write(
    `usage: npx tsx scripts/docs/rok-reference.ts [--check] (unknown: ${unknown.join(" ")})\n`,
  );
  process.exit(2);
}

const path = join(repoRoot(), ROK_REFERENCE_FILE);
const fresh = renderRokReference();
let current: string | null = null;
try {
  current = readFileSync(path, "utf8");
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
}

if (args.includes("--check")) {
  const report = staleReport(current, fresh);
  if (report) {
    process.stderr.write(report + "\n");
    process.exit(1);
  }
  process.stdout.write(`${ROK_REFERENCE_FILE} is up to date\n`);
} else if (current === fresh) {
  process.stdout.write(`${ROK_REFERENCE_FILE} is up to date\n`);
} else {
  writeFileSync(path, fresh);
  process.stdout.write(`wrote ${ROK_REFERENCE_FILE}\n`);
}
