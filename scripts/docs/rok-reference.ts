/**
 * Writes docs/rok.md, the `rok` command reference, from the CLI's own definition; `--check` writes nothing
 * and exits 1 with a diff when the committed file is stale (for CI and pre-commit hooks). The same as
 * `scripts/docs/generate.ts rok`, which also handles docs/krake.md.
 *
 *   npx tsx scripts/docs/rok-reference.ts          # regenerate
 *   npx tsx scripts/docs/rok-reference.ts --check  # verify
 */
import { ROK_REFERENCE } from "./render-rok-reference.js";
import { referenceCli } from "./stale.js";

process.exitCode = referenceCli("scripts/docs/rok-reference.ts", process.argv.slice(2), [ROK_REFERENCE]);
