/**
 * Test helper for embedded.test.ts, run as a child process that the test kills with SIGKILL mid-load:
 * writes to an embedded store as fast as it can and prints one line per acknowledged write, so the parent
 * knows exactly what the store promised to keep.
 *
 *   node embedded-crash-child.js <dataDir> <runId> <snapshotEvery>
 *
 * Output lines: `put <key>`, `deleting <key>` (before the delete), `del <key>`, and `last <writer> <seq>` (the
 * value of /last/<runId>/<writer>). Values are derived from keys (see
 * crashValue) so the parent can check them without the child sending them.
 */
import { writeSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { openEmbeddedStore } from "./embedded.js";

export function crashValue(key: string): string {
  return `value of ${key} ` + "•".repeat(key.length % 50) + "-".repeat(200);
}

/**
 * Straight to fd 1, never through process.stdout: that queues in user space when the pipe is full, and
 * SIGKILL would then drop lines the parent must see ("deleting" before a delete that did happen).
 */
function writeLine(line: string): void {
  const buf = Buffer.from(line);
  for (let off = 0; off < buf.length;) {
    try {
      off += writeSync(1, buf, off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err; // a non-blocking pipe that is full
    }
  }
}

async function main(): Promise<void> {
  const [dataDir, runId, snapshotEvery] = process.argv.slice(2);
  const store = await openEmbeddedStore({ dataDir, fsync: true, snapshotEvery: Number(snapshotEvery) });
  const out = (line: string) => writeLine(line + "\n");
  const writer = async (w: number) => {
    for (let seq = 0; ; seq++) {
      const key = `/crash/${runId}/${w}/${seq}`;
      if ((await store.put(key, crashValue(key))).ok) out(`put ${key}`);
      if (seq % 5 === 0 && (await store.put(`/last/${runId}/${w}`, String(seq))).ok) out(`last ${w} ${seq}`);
      if (seq % 7 === 6) {
        const victim = `/crash/${runId}/${w}/${seq - 3}`;
        out(`deleting ${victim}`); // a delete in flight at the kill may or may not have happened
        if ((await store.delete(victim)).ok) out(`del ${victim}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
}

// Only when run as a script: the test imports crashValue from this module.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    process.stderr.write(`crash child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
