#!/usr/bin/env node
// Rewrites Kubernetes 1.20's vendor/modules.txt (written by Go 1.15) into the layout Go >= 1.17 reads.
//
// Go 1.15 wrote, for a module that go.mod both requires and replaces:
//
//   # example.com/m v1.2.3 => example.com/m v1.2.3
//   ## explicit
//   example.com/m
//   # example.com/m => example.com/m v1.2.3        <- the wildcard replacement from go.mod
//   example.com/m/sub                              <- still a package of the module above
//
// Go >= 1.17 attributes every package line to the nearest preceding "# " header, so `example.com/m/sub`
// lands on the version-less wildcard entry, and `go build -mod=vendor` fails with "updates to go.mod
// needed" for every module. Fix: each wildcard line moves to just before the versioned header of the same
// module, and wildcard lines of modules that are not in the build list (no versioned header) move to the
// end of the file (where Go >= 1.17's own `go mod vendor` puts them), so no package line follows either.
//
// Usage: node fix-vendor-modules.mjs vendor/modules.txt   (rewrites in place; idempotent)
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: fix-vendor-modules.mjs <vendor/modules.txt>");
  process.exit(2);
}

const lines = readFileSync(file, "utf8").split("\n");
if (lines.at(-1) === "") lines.pop();

/** `# path vX ...` -> { path, versioned: true }; `# path => ...` -> { path, versioned: false }. */
function header(line) {
  if (!line.startsWith("# ")) return undefined;
  const f = line.slice(2).trim().split(/\s+/);
  if (f.length < 2) return undefined;
  if (f[1] === "=>") return { path: f[0], versioned: false };
  if (/^v\d/.test(f[1])) return { path: f[0], versioned: true };
  return undefined;
}

const versioned = new Set();
const wildcard = new Map();
for (const line of lines) {
  const h = header(line);
  if (!h) continue;
  if (h.versioned) versioned.add(h.path);
  else wildcard.set(h.path, line);
}

const out = [];
const tail = [];
let moved = 0;
for (const line of lines) {
  const h = header(line);
  if (h && !h.versioned) {
    if (!versioned.has(h.path)) tail.push(line);
    continue;
  }
  if (h?.versioned && wildcard.has(h.path)) {
    out.push(wildcard.get(h.path));
    moved++;
  }
  out.push(line);
}
out.push(...tail);

if (out.length !== lines.length) {
  console.error(
    `fix-vendor-modules: line count changed (${lines.length} -> ${out.length}); refusing to write`,
  );
  process.exit(1);
}
const tmp = `${file}.tmp`;
writeFileSync(tmp, `${out.join("\n")}\n`);
renameSync(tmp, file);
console.error(
  `fix-vendor-modules: ${moved} wildcard lines moved before their module, ${tail.length} to the end`,
);
