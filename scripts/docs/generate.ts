/**
 * Writes the generated command references (docs/rok.md, docs/krake.md) from the CLIs' own definitions;
 * `--check` writes nothing and exits 1 with a diff when a committed file is stale (for CI and pre-commit
 * hooks). Names select references; without names, all of them.
 *
 *   npx tsx scripts/docs/generate.ts                # regenerate both (npm run docs)
 *   npx tsx scripts/docs/generate.ts krake          # only docs/krake.md (npm run docs:krake)
 *   npx tsx scripts/docs/generate.ts --check        # verify both (npm run docs -- --check)
 */
import { KRAKE_REFERENCE } from "./render-krake-reference.js";
import { ROK_REFERENCE } from "./render-rok-reference.js";
import { referenceCli } from "./stale.js";

process.exitCode = referenceCli("scripts/docs/generate.ts", process.argv.slice(2), [
  ROK_REFERENCE,
  KRAKE_REFERENCE,
]);
