#!/usr/bin/env node
// Runs the compiled `rok` CLI (also installed as `krakectl`); `npm ci` builds it (prepare script). From a
// source checkout without a build, say what to do instead of a stack trace.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const entry = new URL("../dist/src/cli/rok/main.js", import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write("rok: not built yet. Run `npm ci` (or `npm run build`) in the repository first.\n");
  process.exit(1);
}
await import(entry.href);
