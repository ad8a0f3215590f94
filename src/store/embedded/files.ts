/**
 * Data directory layout and record shapes.
 *
 *   LOCK                        pid of the process that has the store open
 *   snapshot                    full state at some revision S (written to snapshot.tmp, then renamed)
 *   wal-<16-digit start>.log    WAL records from revision <start> on; a new file begins at every snapshot
 *
 * Recovery loads the snapshot and replays every WAL record with revision > S. A WAL file is deleted only
 * after a snapshot covering all of it is durable, so a crash at any step leaves either the old snapshot
 * with the old WAL or the new snapshot with the new WAL.
 */
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import type { StoreEvent } from "../store.js";

export const SNAPSHOT = "snapshot";
export const SNAPSHOT_TMP = "snapshot.tmp";

export function walName(startRevision: number): string {
  return `wal-${String(startRevision).padStart(16, "0")}.log`;
}

export function walStart(name: string): number | null {
  const m = /^wal-(\d{16})\.log$/.exec(name);
  return m ? Number(m[1]) : null;
}

/** Makes a rename, creation or deletion in `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function corrupt(path: string, offset: number, what: string): Error {
  return new Error(
    `embedded store: ${path} is corrupt at byte offset ${offset}: ${what}. ` +
      `Refusing to open rather than silently losing acknowledged writes; restore the data directory from a backup, ` +
      `or truncate the file at that offset to keep what precedes it.`,
  );
}

/**
 * A WAL record. `b` is the revision of the first record in the same group-commit batch: it lets recovery
 * tell an unfinished last batch (whose blocks may reach the disk out of order on power loss, leaving a
 * hole followed by intact lines of the same batch) from damage to records that were acknowledged.
 */
export type WalRecord =
  { r: number; b: number; k: string; v: string } | { r: number; b: number; k: string; d: 1 };

export function walRecordJson(e: StoreEvent, batchStart: number): string {
  const rec: WalRecord =
    e.type === "put"
      ? { r: e.kv.modRevision, b: batchStart, k: e.kv.key, v: e.kv.value }
      : { r: e.kv.modRevision, b: batchStart, k: e.kv.key, d: 1 };
  return JSON.stringify(rec);
}

function isRev(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0;
}

/** The record, or null when a checksummed line does not hold one (which is corruption, not a torn write). */
export function parseWalRecord(json: string): WalRecord | null {
  let o: any;
  try {
    o = JSON.parse(json);
  } catch {
    return null;
  }
  if (
    typeof o !== "object" ||
    o === null ||
    !isRev(o.r) ||
    !isRev(o.b) ||
    o.b > o.r ||
    typeof o.k !== "string"
  )
    return null;
  if (typeof o.v === "string" || o.d === 1) return o as WalRecord;
  return null;
}

export function walPath(dir: string, startRevision: number): string {
  return join(dir, walName(startRevision));
}

/** fs write() may write less than asked (a full disk mid-buffer); loop until all of `buf` is at `position`. */
export async function writeAll(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    if (bytesWritten <= 0) throw new Error("write made no progress");
    done += bytesWritten;
  }
}
