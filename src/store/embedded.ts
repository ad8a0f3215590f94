/**
 * The embedded store: the whole key space in memory, made durable by an append-only WAL with group commit
 * and periodic snapshots in `dataDir`. It implements etcd's semantics (see store.ts) for a single process.
 *
 * Write path. A write is checked and applied to memory synchronously, so compare-and-swap is serialised by
 * the event loop alone; it then joins the batch being collected. One WAL write plus one fdatasync covers a
 * whole batch, and while it is in flight the next batch collects, so concurrent writers share fsyncs.
 * A write's promise resolves, and watchers hear of it, only once its batch is durable.
 *
 * Reads see memory, which may be ahead of the disk by the batches in flight. A read that observed such
 * state waits until that state is durable before answering, so nobody can read a value a crash would take
 * back (the same guarantee etcd's linearizable reads give).
 *
 * I/O failure (ENOSPC, EIO). Memory must never claim what the disk does not hold, so a failed batch is
 * rolled back: every write not yet durable (the failed batch and any collected behind it) is undone in
 * memory, newest first, and rejected with StoreUnavailableError; the WAL is cut back to its last durable
 * byte. After a failed write(2) whose cut-back succeeds, the store stays writable (the disk may have room
 * again later). After a failed fdatasync, or a cut-back that fails, the file's contents are unknown (Linux
 * may drop the dirty pages and report success on the next fsync), so the store turns read-only: it keeps
 * serving reads of the durable state, rejects writes with StoreUnavailableError naming the cause, and logs
 * loudly; reopening it re-reads the WAL, whose checksums catch anything half-written.
 */
import { mkdir, readdir, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import type {
  DeleteResult,
  KeyValue,
  PutResult,
  RangeResult,
  Store,
  StoreEvent,
  WatchHandle,
  WatchOptions,
  WriteCondition,
} from "./store.js";
import { CompactedError, StoreUnavailableError, ValueTooLargeError } from "./store.js";
import { walRecordJson, walStart } from "./embedded/files.js";
import type { History } from "./embedded/history.js";
import { encodeLine } from "./embedded/lines.js";
import { lockDir, type DirLock } from "./embedded/lock.js";
import { recover } from "./embedded/recovery.js";
import { writeSnapshot } from "./embedded/snapshot.js";
import type { KvState } from "./embedded/state.js";
import { realIo, WalFile, type WalIo } from "./embedded/wal.js";
import { WatchRegistry } from "./embedded/watchers.js";

export interface EmbeddedLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
}

export interface EmbeddedStoreOptions {
  dataDir: string;
  /** fdatasync every batch (default true). Off: a process crash loses nothing, a power loss loses the tail. */
  fsync?: boolean;
  /** Events kept for watch replay (default 50,000). */
  historyLimit?: number;
  /** WAL records between snapshots (default 100,000). */
  snapshotEvery?: number;
  logger?: EmbeddedLogger;
  /** @internal Fault injection for tests. */
  io?: Partial<WalIo>;
}

const quiet: EmbeddedLogger = { info() {}, warn() {} };

interface Batch {
  events: StoreEvent[];
  done: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function newBatch(): Batch {
  let resolveFn!: () => void;
  let rejectFn!: (err: Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolveFn = res;
    rejectFn = rej;
  });
  done.catch(() => {}); // every batch has awaiting writers; this only keeps a stray rejection from crashing
  return { events: [], done, resolve: resolveFn, reject: rejectFn };
}

function errText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}

class EmbeddedStore implements Store {
  readonly kind = "embedded" as const;
  /** Large enough for any API object; bounded so one write cannot balloon the WAL and memory. */
  readonly maxValueBytes = 32 * 1024 * 1024;
  private readonly watchers: WatchRegistry;
  /** Applied in memory, waiting for the batch in flight to finish. */
  private collecting: Batch | null = null;
  private inFlight: Batch | null = null;
  private flushing: Promise<void> | null = null;
  private durableRevision: number;
  private snapshotting: Promise<void> | null = null;
  /** Set when the store turned read-only after an I/O failure. */
  private failure: StoreUnavailableError | null = null;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly dir: string,
    private readonly state: KvState,
    private readonly history: History,
    private wal: WalFile,
    private readonly lock: DirLock,
    private readonly fsync: boolean,
    private readonly snapshotEvery: number,
    private readonly io: WalIo,
    private readonly logger: EmbeddedLogger,
  ) {
    this.durableRevision = state.revision;
    this.watchers = new WatchRegistry(logger);
  }

  // ---- reads ----

  async get(key: string): Promise<KeyValue | null> {
    this.assertOpen();
    const kv = this.state.get(key);
    await this.settled();
    return kv;
  }

  async range(prefix: string): Promise<RangeResult> {
    this.assertOpen();
    const result = { kvs: this.state.range(prefix), revision: this.state.revision };
    await this.settled();
    return result;
  }

  async revision(): Promise<number> {
    this.assertOpen();
    const rev = this.state.revision;
    await this.settled();
    return rev;
  }

  async compactRevision(): Promise<number> {
    this.assertOpen();
    return this.history.compactRevision;
  }

  // ---- writes ----

  async put(key: string, value: string, cond?: WriteCondition): Promise<PutResult> {
    this.assertWritable(key);
    if (typeof value !== "string") throw new TypeError("store value must be a string");
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxValueBytes) throw new ValueTooLargeError(bytes, this.maxValueBytes);
    const current = this.state.get(key);
    if (!conditionHolds(current, cond)) {
      await this.settled();
      return { ok: false, current };
    }
    const e = this.state.put(key, value);
    await this.commit(e);
    return { ok: true, kv: e.kv, prev: e.prev };
  }

  async delete(key: string, cond?: WriteCondition): Promise<DeleteResult> {
    this.assertWritable(key);
    const current = this.state.get(key);
    if (current === null || !conditionHolds(current, cond)) {
      await this.settled();
      return { ok: false, current };
    }
    const e = this.state.delete(current);
    await this.commit(e);
    return { ok: true, revision: e.kv.modRevision, prev: current };
  }

  // ---- watch ----

  async watch(prefix: string, opts: WatchOptions): Promise<WatchHandle> {
    this.assertOpen();
    const after = opts.afterRevision;
    let replay: StoreEvent[] = [];
    if (after !== undefined) {
      const compact = this.history.compactRevision;
      if (after < compact) throw new CompactedError(after, compact);
      replay = this.history.since(after, prefix);
    }
    // Live batches all lie above durableRevision: events up to it are either replayed or not wanted.
    return this.watchers.add(prefix, after ?? this.durableRevision, replay, opts);
  }

  // ---- lifecycle ----

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.flushing;
      await this.snapshotting;
      try {
        await this.wal.close(true);
      } catch (err) {
        this.logger.warn({ err, file: this.wal.path }, "embedded store: closing the WAL failed");
      }
      await this.lock.release();
      this.watchers.failAll(new StoreUnavailableError("embedded store closed"));
      this.logger.info({ dataDir: this.dir, revision: this.durableRevision }, "embedded store closed");
    })();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreUnavailableError("embedded store closed");
  }

  private assertWritable(key: string): void {
    this.assertOpen();
    if (this.failure) throw this.failure;
    if (typeof key !== "string" || key === "") throw new TypeError("store key must be a non-empty string");
  }

  /** Waits until everything memory shows is durable (rejects if it was rolled back instead). */
  private settled(): Promise<void> | undefined {
    if (this.state.revision === this.durableRevision) return undefined;
    return (this.collecting ?? this.inFlight)!.done;
  }

  // ---- group commit ----

  private commit(e: StoreEvent): Promise<void> {
    let batch = this.collecting;
    if (!batch) {
      batch = this.collecting = newBatch();
      // setImmediate rather than a microtask: requests whose I/O callbacks are ready join this batch too.
      this.flushing ??= new Promise<void>((res) => setImmediate(res)).then(() => this.flushLoop());
    }
    batch.events.push(e);
    return batch.done;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.collecting) await this.flushOne(this.collecting);
    } catch (err) {
      // Only a bug gets here. Memory may be ahead of the disk, so stop taking writes and say so, rather than
      // leave writers waiting forever on a batch nobody will flush.
      const failed = new StoreUnavailableError("embedded store: internal error in the write path", {
        cause: err,
      });
      this.failure = failed;
      this.logger.warn(
        { err },
        "embedded store: internal error in the write path; the store is now READ-ONLY",
      );
      this.inFlight?.reject(failed);
      this.collecting?.reject(failed);
      this.inFlight = this.collecting = null;
    } finally {
      this.flushing = null;
    }
  }

  private async flushOne(batch: Batch): Promise<void> {
    this.inFlight = batch;
    this.collecting = null;
    const revision = this.state.revision; // memory holds exactly this batch's end state right now
    const capture = this.wantSnapshot(batch) ? this.state.copySorted() : null;
    let phase: "write" | "sync" = "write";
    try {
      const first = batch.events[0].kv.modRevision;
      const buf = Buffer.concat(batch.events.map((e) => encodeLine(walRecordJson(e, first))));
      await this.wal.append(buf, batch.events.length, this.fsync, {
        write: this.io.write,
        sync: (fh) => ((phase = "sync"), this.io.sync(fh)),
      });
    } catch (err) {
      await this.rollBack(batch, err, phase);
      return;
    }
    this.inFlight = null;
    this.durableRevision = revision;
    for (const e of batch.events) this.history.push(e);
    this.watchers.dispatch(batch.events);
    batch.resolve();
    if (capture) await this.startSnapshot(capture, revision);
  }

  private async rollBack(batch: Batch, err: unknown, phase: "write" | "sync"): Promise<void> {
    const behind = this.collecting;
    this.collecting = null;
    this.inFlight = null;
    const undo = behind ? [...batch.events, ...behind.events] : batch.events;
    for (let i = undo.length - 1; i >= 0; i--) this.state.undo(undo[i]);
    const failed = new StoreUnavailableError(
      `embedded store: writing ${this.wal.path} failed (${errText(err)}); the write was not applied`,
      { cause: err },
    );
    // No writes while the file is being repaired: they would be applied on top of an uncertain tail. The
    // rejections wait for the repair too, so a caller that sees one finds the store already settled.
    this.failure = failed;
    let repaired = phase === "write";
    try {
      await this.wal.cutBack(this.fsync);
    } catch (cutErr) {
      this.logger.warn({ err: cutErr, file: this.wal.path }, "embedded store: cutting back the WAL failed");
      repaired = false;
    }
    if (repaired) {
      this.failure = null;
      this.logger.warn(
        { err, file: this.wal.path, rejectedWrites: undo.length },
        "embedded store: WAL write failed; the batch was rolled back and rejected, the store stays writable",
      );
    } else {
      this.logger.warn(
        { err, file: this.wal.path, rejectedWrites: undo.length },
        "embedded store: WAL write or fsync failed; the batch was rolled back and the store is now READ-ONLY " +
          "until it is reopened",
      );
    }
    batch.reject(failed);
    behind?.reject(failed);
  }

  // ---- snapshots ----

  private wantSnapshot(batch: Batch): boolean {
    return this.snapshotting === null && this.wal.records + batch.events.length >= this.snapshotEvery;
  }

  /**
   * Starts the next WAL before writing the snapshot: records after `revision` must never land in a file the
   * snapshot is about to make obsolete. The snapshot itself is written in the background.
   */
  private async startSnapshot(kvs: KeyValue[], revision: number): Promise<void> {
    let next: WalFile;
    try {
      next = await WalFile.create(this.dir, revision + 1, this.fsync);
    } catch (err) {
      this.logger.warn(
        { err, dataDir: this.dir },
        "embedded store: cannot start a new WAL; snapshot postponed",
      );
      return;
    }
    const old = this.wal;
    this.wal = next;
    await old.close(false).catch(() => {});
    this.snapshotting = this.writeSnapshot(kvs, revision).finally(() => (this.snapshotting = null));
  }

  private async writeSnapshot(kvs: KeyValue[], revision: number): Promise<void> {
    const started = performance.now();
    try {
      await writeSnapshot(this.dir, revision, kvs, this.fsync);
    } catch (err) {
      // Nothing is lost: the older snapshot and every WAL file since it are still in place.
      this.logger.warn({ err, dataDir: this.dir, revision }, "embedded store: writing a snapshot failed");
      return;
    }
    let removed = 0;
    try {
      for (const name of await readdir(this.dir)) {
        const start = walStart(name);
        if (start !== null && start <= revision) {
          await unlink(join(this.dir, name));
          removed++;
        }
      }
    } catch (err) {
      this.logger.warn({ err, dataDir: this.dir }, "embedded store: removing old WAL files failed");
    }
    this.logger.info(
      {
        dataDir: this.dir,
        revision,
        keys: kvs.length,
        walFilesRemoved: removed,
        ms: Math.round(performance.now() - started),
      },
      "embedded store snapshot written",
    );
  }
}

function conditionHolds(current: KeyValue | null, cond: WriteCondition | undefined): boolean {
  const want = cond?.expectModRevision;
  if (want === undefined) return true;
  return want === 0 ? current === null : current !== null && current.modRevision === want;
}

export async function openEmbeddedStore(opts: EmbeddedStoreOptions): Promise<Store> {
  const dir = resolve(opts.dataDir);
  const fsync = opts.fsync ?? true;
  const historyLimit = opts.historyLimit ?? 50_000;
  const snapshotEvery = opts.snapshotEvery ?? 100_000;
  const logger = opts.logger ?? quiet;
  if (!Number.isSafeInteger(historyLimit) || historyLimit < 0)
    throw new RangeError("historyLimit must be >= 0");
  if (!Number.isSafeInteger(snapshotEvery) || snapshotEvery < 1)
    throw new RangeError("snapshotEvery must be >= 1");

  await mkdir(dir, { recursive: true });
  const lock = await lockDir(dir);
  try {
    const rec = await recover(dir, { historyLimit, fsync, logger });
    const wal = rec.current
      ? await WalFile.openExisting(rec.current.path, rec.current.start, rec.current.size, rec.current.records)
      : await WalFile.create(dir, rec.state.revision + 1, fsync);
    const io: WalIo = { ...realIo, ...opts.io };
    return new EmbeddedStore(dir, rec.state, rec.history, wal, lock, fsync, snapshotEvery, io, logger);
  } catch (err) {
    await lock.release();
    throw err;
  }
}
