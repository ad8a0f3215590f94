/**
 * The snapshot file: a header line, one line per key in key order, and an end line whose count must match,
 * all in the checksummed line format. It is written to a temporary file and renamed into place, so a
 * snapshot that fails any check was damaged after the fact: that is a loud error, never a silent truncation.
 */
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { KeyValue } from "../store.js";
import { compareKeys } from "./sorted-keys.js";
import { corrupt, fsyncDir, SNAPSHOT, SNAPSHOT_TMP, writeAll } from "./files.js";
import { encodeLine, scanLines } from "./lines.js";

const WRITE_CHUNK = 1 << 20;

/**
 * Streams `kvs` (a consistent copy of the state at `revision`, in key order) to disk. Each chunk awaits its
 * write, so the event loop keeps serving requests and WAL batches while a large snapshot goes out.
 */
export async function writeSnapshot(
  dir: string,
  revision: number,
  kvs: KeyValue[],
  fsync: boolean,
): Promise<void> {
  const tmp = join(dir, SNAPSHOT_TMP);
  const fh = await open(tmp, "w");
  try {
    let parts: Buffer[] = [];
    let size = 0;
    let position = 0;
    const add = (json: string) => {
      const line = encodeLine(json);
      parts.push(line);
      size += line.length;
    };
    const flush = async () => {
      const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, size);
      parts = [];
      size = 0;
      await writeAll(fh, buf, position);
      position += buf.length;
    };
    add(JSON.stringify({ snapshot: 1, r: revision, n: kvs.length }));
    for (const kv of kvs) {
      add(JSON.stringify({ k: kv.key, v: kv.value, c: kv.createRevision, m: kv.modRevision }));
      if (size >= WRITE_CHUNK) await flush();
    }
    add(JSON.stringify({ end: kvs.length }));
    await flush();
    if (fsync) await fh.datasync();
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw err;
  }
  await fh.close();
  await rename(tmp, join(dir, SNAPSHOT));
  if (fsync) await fsyncDir(dir);
}

export interface LoadedSnapshot {
  revision: number;
  kvs: KeyValue[];
  /** False when the keys were not in order (hand-edited or written by another version): sort on load. */
  sorted: boolean;
}

function isRev(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0;
}

export async function readSnapshot(path: string): Promise<LoadedSnapshot | null> {
  let fh;
  try {
    fh = await open(path, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  try {
    let revision = -1;
    let expected = -1;
    let ended = false;
    let sorted = true;
    const kvs: KeyValue[] = [];
    let lastKey: string | null = null;
    await scanLines(fh, ({ offset, json }) => {
      if (json === null) throw corrupt(path, offset, "checksum mismatch or unterminated line");
      if (ended) throw corrupt(path, offset, "data after the end line");
      let o: any;
      try {
        o = JSON.parse(json);
      } catch {
        throw corrupt(path, offset, "checksummed line is not JSON");
      }
      if (revision < 0) {
        if (o?.snapshot !== 1 || !(o.r === 0 || isRev(o.r)) || !Number.isSafeInteger(o.n))
          throw corrupt(path, offset, "bad snapshot header");
        revision = o.r;
        expected = o.n;
      } else if (typeof o?.k === "string") {
        if (typeof o.v !== "string" || !isRev(o.c) || !isRev(o.m) || o.c > o.m || o.m > revision)
          throw corrupt(path, offset, "bad key-value line");
        if (lastKey !== null && compareKeys(lastKey, o.k) >= 0) {
          if (lastKey === o.k) throw corrupt(path, offset, `duplicate key ${JSON.stringify(o.k)}`);
          sorted = false;
        }
        lastKey = o.k;
        kvs.push({ key: o.k, value: o.v, createRevision: o.c, modRevision: o.m });
      } else if (o?.end === expected && kvs.length === expected) {
        ended = true;
      } else {
        throw corrupt(path, offset, `bad end line (expected ${expected} keys, read ${kvs.length})`);
      }
    });
    if (!ended) throw corrupt(path, 0, "the end line is missing (the snapshot is truncated)");
    return { revision, kvs, sorted };
  } finally {
    await fh.close();
  }
}
