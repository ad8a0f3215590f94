/**
 * Opening a store: load the snapshot, replay the WAL files after it, cut off a torn tail.
 *
 * Only the end of the newest WAL file can legitimately be damaged (the process died while writing a batch
 * that was therefore never acknowledged). Damage anywhere else means acknowledged data is gone, and
 * recovery fails with the file and offset instead of quietly opening a store that forgot writes.
 */
import { open, readdir, truncate, unlink } from "node:fs/promises";
import { join } from "node:path";
import { History } from "./history.js";
import { corrupt, parseWalRecord, SNAPSHOT, SNAPSHOT_TMP, walStart } from "./files.js";
import { scanLines } from "./lines.js";
import { readSnapshot } from "./snapshot.js";
import { compareKeys } from "./sorted-keys.js";
import { KvState } from "./state.js";

export interface RecoveryLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface WalInfo {
  start: number;
  path: string;
  /** Bytes of valid records (the file is truncated to this when its tail was torn). */
  size: number;
  records: number;
}

export interface Recovered {
  state: KvState;
  history: History;
  snapshotRevision: number;
  /** The WAL file to keep appending to, or null when a new one must be started at state.revision + 1. */
  current: WalInfo | null;
}

export async function recover(
  dir: string,
  opts: { historyLimit: number; fsync: boolean; logger: RecoveryLogger },
): Promise<Recovered> {
  const names = await readdir(dir);
  // A snapshot that never got renamed into place: the previous snapshot and the WAL still cover everything.
  if (names.includes(SNAPSHOT_TMP)) await unlink(join(dir, SNAPSHOT_TMP));

  const snap = await readSnapshot(join(dir, SNAPSHOT));
  const snapshotRevision = snap?.revision ?? 0;
  const state = new KvState(snapshotRevision);
  if (snap) {
    state.load(snap.kvs, snap.sorted, compareKeys);
    if (state.map.size !== snap.kvs.length) throw corrupt(join(dir, SNAPSHOT), 0, "duplicate keys");
  }
  const history = new History(opts.historyLimit, snapshotRevision);

  const wals = names
    .map((name) => ({ name, start: walStart(name) }))
    .filter((w): w is { name: string; start: number } => w.start !== null)
    .sort((a, b) => a.start - b.start);

  const infos: Array<WalInfo & { lastRevision: number }> = [];
  for (let i = 0; i < wals.length; i++) {
    const path = join(dir, wals[i].name);
    infos.push(await replayWal(path, wals[i].start, i === wals.length - 1, state, history, opts));
  }

  const last = infos.at(-1);
  if (last && last.start > state.revision + 1) {
    throw corrupt(
      last.path,
      0,
      `the file starts at revision ${last.start} but the store only reaches ${state.revision}`,
    );
  }
  // Files wholly covered by the snapshot linger when the process died between renaming the snapshot and
  // deleting them; they are no longer needed.
  let removed = 0;
  for (const info of infos.slice(0, -1)) {
    if (info.lastRevision <= snapshotRevision) {
      await unlink(info.path);
      removed++;
    }
  }
  opts.logger.info(
    {
      dataDir: dir,
      revision: state.revision,
      keys: state.map.size,
      snapshotRevision,
      walFiles: infos.length - removed,
    },
    "embedded store recovered",
  );
  return { state, history, snapshotRevision, current: last ?? null };
}

async function replayWal(
  path: string,
  start: number,
  isLast: boolean,
  state: KvState,
  history: History,
  opts: { fsync: boolean; logger: RecoveryLogger },
): Promise<WalInfo & { lastRevision: number }> {
  const fh = await open(path, "r");
  let lastGood = start - 1;
  let size = 0;
  let records = 0;
  let damagedAt = -1;
  let fileEnd = 0;
  try {
    await scanLines(fh, (line) => {
      fileEnd = line.end;
      if (damagedAt >= 0) {
        // Intact lines after the damage are fine only if they belong to the same (unfinished) batch.
        if (line.json === null) return;
        const rec = parseWalRecord(line.json);
        if (rec && rec.b <= lastGood + 1) return;
        throw corrupt(
          path,
          damagedAt,
          "damaged record followed by intact records of later, acknowledged batches",
        );
      }
      if (line.json === null) {
        damagedAt = line.offset;
        return;
      }
      const rec = parseWalRecord(line.json);
      if (!rec) throw corrupt(path, line.offset, "checksummed line is not a WAL record");
      if (rec.r !== lastGood + 1)
        throw corrupt(path, line.offset, `expected revision ${lastGood + 1}, found ${rec.r}`);
      lastGood = rec.r;
      records++;
      size = line.end;
      if (rec.r <= state.revision) return; // already in the snapshot
      if (rec.r !== state.revision + 1) {
        throw corrupt(path, line.offset, `revision ${rec.r} follows ${state.revision}: records are missing`);
      }
      if ("v" in rec) {
        history.push(state.put(rec.k, rec.v));
      } else {
        const prev = state.get(rec.k);
        if (!prev) throw corrupt(path, line.offset, `deletion of absent key ${JSON.stringify(rec.k)}`);
        history.push(state.delete(prev));
      }
    });
  } finally {
    await fh.close();
  }
  if (damagedAt >= 0) {
    if (!isLast) throw corrupt(path, damagedAt, "damaged record in a WAL file that was already complete");
    opts.logger.warn(
      { file: path, offset: damagedAt, droppedBytes: fileEnd - damagedAt },
      "embedded store: torn write at the end of the WAL (an unacknowledged batch); truncating it",
    );
    await truncate(path, damagedAt);
    if (opts.fsync) {
      const w = await open(path, "r+");
      await w.datasync().finally(() => w.close());
    }
  }
  return { start, path, size, records, lastRevision: lastGood };
}
