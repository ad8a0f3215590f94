/**
 * Keeping generated references current: what each one is (ReferenceDoc), the report a stale file gets (the
 * command that regenerates it and a unified diff), and the command line that writes or checks them, shared
 * by scripts/docs/generate.ts and scripts/docs/rok-reference.ts.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "./markdown.js";

/** A generated file: where it lives, how it is rendered and what regenerates it. */
export interface ReferenceDoc {
  /** The name that selects it on the command line of scripts/docs/generate.ts, e.g. "krake". */
  name: string;
  /** Relative to the repository root, e.g. "docs/krake.md". */
  file: string;
  /** The command that regenerates it, e.g. "npm run docs:krake". */
  regenerate: string;
  /** What it is generated from, for the stale report, e.g. "the krake command definitions (src/cli/)". */
  source: string;
  render: () => string;
}

/**
 * Null when `current` equals `fresh`; otherwise what to tell the person whose change made `doc` stale: the
 * command that regenerates it, then a unified diff (committed → fresh) of the first differences. `current`
 * is null when the file does not exist.
 */
export function staleReport(
  doc: Pick<ReferenceDoc, "file" | "regenerate" | "source">,
  current: string | null,
  fresh: string,
  maxLines = 80,
): string | null {
  if (current === fresh) return null;
  const head =
    current === null
      ? `${doc.file} does not exist. Generate it with:\n  ${doc.regenerate}\n`
      : `${doc.file} is out of date with ${doc.source}. Regenerate it with:\n  ${doc.regenerate}\n` +
        "and commit the result.\n";
  if (current === null) return head;
  const diff = unifiedDiff(current.split("\n"), fresh.split("\n"));
  const shown = diff.slice(0, maxLines);
  if (diff.length > maxLines) shown.push(`… ${diff.length - maxLines} more diff lines`);
  return [head, `--- ${doc.file} (committed)`, `+++ ${doc.file} (fresh rendering)`, ...shown].join("\n");
}

/** The file's text, or null when it does not exist. */
export function readReference(doc: Pick<ReferenceDoc, "file">, root = repoRoot()): string | null {
  try {
    return readFileSync(join(root, doc.file), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export interface CliIo {
  root: string;
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultIo = (): CliIo => ({
  root: repoRoot(),
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});

/**
 * The command line of the generators: `[--check] [NAME…]`. Without names every document of `docs` is
 * handled. Writes each stale document (or, with --check, writes nothing and reports it); returns the exit
 * status: 0 done or up to date, 1 some document is stale (--check), 2 a usage error.
 */
export function referenceCli(
  script: string,
  args: string[],
  docs: readonly ReferenceDoc[],
  io: CliIo = defaultIo(),
): number {
  const check = args.includes("--check");
  const names = args.filter((a) => a !== "--check");
  const unknown = names.filter((n) => !docs.some((d) => d.name === n));
  if (unknown.length > 0) {
    const choice = docs.length > 1 ? ` [${docs.map((d) => d.name).join("|")}…]` : "";
    io.err(`usage: npx tsx ${script} [--check]${choice} (unknown: ${unknown.join(" ")})\n`);
    return 2;
  }
  let status = 0;
  for (const doc of names.length ? docs.filter((d) => names.includes(d.name)) : docs) {
    const fresh = doc.render();
    const current = readReference(doc, io.root);
    if (check) {
      const report = staleReport(doc, current, fresh);
      if (report) {
        io.err(report + "\n");
        status = 1;
      } else io.out(`${doc.file} is up to date\n`);
    } else if (current === fresh) {
      io.out(`${doc.file} is up to date\n`);
    } else {
      writeFileSync(join(io.root, doc.file), fresh);
      io.out(`wrote ${doc.file}\n`);
    }
  }
  return status;
}

type Edit = { op: " " | "-" | "+"; line: string; a: number; b: number };

/** A line diff (longest common subsequence of what differs between the common head and tail). */
function lineEdits(a: string[], b: string[]): Edit[] {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const n = endA - start;
  const m = endB - start;
  // lcs[i][j]: LCS length of a[start+i..endA) and b[start+j..endB), flattened.
  const lcs = new Uint32Array((n + 1) * (m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i * (m + 1) + j] =
        a[start + i] === b[start + j]
          ? lcs[(i + 1) * (m + 1) + j + 1] + 1
          : Math.max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
  const edits: Edit[] = [];
  for (let k = 0; k < start; k++) edits.push({ op: " ", line: a[k], a: k, b: k });
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) {
      edits.push({ op: " ", line: a[start + i], a: start + i, b: start + j });
      i++;
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1])) {
      // Removals before additions, as diff -u prints a changed line.
      edits.push({ op: "-", line: a[start + i], a: start + i, b: start + j });
      i++;
    } else {
      edits.push({ op: "+", line: b[start + j], a: start + i, b: start + j });
      j++;
    }
  }
  for (let k = 0; k < a.length - endA; k++)
    edits.push({ op: " ", line: a[endA + k], a: endA + k, b: endB + k });
  return edits;
}

/** Hunks with three lines of context, as `diff -u` prints them. */
function unifiedDiff(a: string[], b: string[], context = 3): string[] {
  const edits = lineEdits(a, b);
  const out: string[] = [];
  let k = 0;
  while (k < edits.length) {
    if (edits[k].op === " ") {
      k++;
      continue;
    }
    const from = Math.max(0, k - context);
    let to = k;
    // Extend the hunk while the next change is within 2 × context unchanged lines.
    for (;;) {
      while (to < edits.length && edits[to].op !== " ") to++;
      let next = to;
      while (next < edits.length && edits[next].op === " ") next++;
      if (next < edits.length && next - to <= 2 * context) to = next;
      else break;
    }
    const end = Math.min(edits.length, to + context);
    const hunk = edits.slice(from, end);
    const countA = hunk.filter((e) => e.op !== "+").length;
    const countB = hunk.filter((e) => e.op !== "-").length;
    out.push(`@@ -${hunk[0].a + 1},${countA} +${hunk[0].b + 1},${countB} @@`);
    for (const e of hunk) out.push(`${e.op}${e.line}`);
    k = end;
  }
  return out;
}
