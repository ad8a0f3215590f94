/**
 * `krake restore`: puts a checked backup (backup.ts) into an embedded data directory or an etcd key prefix.
 * The backup must already have passed BackupReader, so nothing here starts writing on a bad file.
 *
 * Resource versions. The API hands out store revisions as resource versions and resumes watches from them,
 * so a restore must not let a client's old resource version mean something else afterwards:
 *  - Embedded: the new store starts at revision backup.revision + bumpRevision (default 10^9, which costs
 *    nothing) with no watch history, and every key keeps the create/mod revisions it had in the backup
 *    (so unchanged objects keep their resource_version). A watch from any older resource version gets
 *    410 Gone and relists; a PUT with a version written after the backup gets 409; writes after the restore
 *    get revisions above everything the old store can have handed out (unless it made more than
 *    bumpRevision writes after the backup).
 *  - etcd: revisions cannot be set, only advanced by writing, and every restored key gets a new one. Into
 *    the same cluster (its revision is at or above the backup's) new revisions are above every old one;
 *    then the history is compacted at the end of the restore, so watches from older resource versions get
 *    410 Gone instead of a replay of the restore as DELETED/ADDED events. Into another cluster (a fresh
 *    etcd, or an embedded backup migrated to etcd) the revisions start lower than the ones clients hold:
 *    the report carries a warning, and bumpRevision > 0 advances the revision first, one write per step.
 */
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Etcd3, isRecoverableError, type IOptions, type IRequestOp } from "etcd3";
import type { Backup } from "./backup.js";
import type { KeyValue } from "./store.js";
import { etcdTlsCredentials, prefixEnd, type EtcdStoreOptions } from "./etcd.js";
import { fsyncDir, SNAPSHOT, SNAPSHOT_TMP, walStart } from "./embedded/files.js";
import { lockDir, LockedError, type DirLock } from "./embedded/lock.js";
import { writeSnapshot } from "./embedded/snapshot.js";
import { compareKeys } from "./embedded/sorted-keys.js";

/** Nothing was written: the target is in use, not empty, or cannot take the backup. */
export class RestoreRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RestoreRefusedError";
  }
}

/** Writing started and failed; the message says what state the target was left in. */
export class RestoreFailedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RestoreFailedError";
  }
}

export interface RestoreReport {
  /** What was restored into, for messages. */
  target: string;
  keys: number;
  /** The store revision right after the restore. */
  revision: number;
  /** Whether a watch from a resource version older than `revision` now gets 410 Gone (clients re-list). */
  olderVersionsExpired: boolean;
  /** Embedded with --force: where the replaced data directory was moved. */
  previous?: string;
  /** Keys that were in the target and were replaced (removed). */
  replacedKeys?: number;
  warnings: string[];
  dryRun: boolean;
}

/** Revisions the embedded store jumps by default (etcd's `snapshot restore --bump-revision` advice). */
export const DEFAULT_EMBEDDED_BUMP = 1_000_000_000;

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

// ---- embedded ----

export interface EmbeddedRestoreOptions {
  dataDir: string;
  force: boolean;
  bumpRevision: number;
  dryRun?: boolean;
}

export interface DirContents {
  exists: boolean;
  /** Snapshot and WAL files that hold data. */
  data: string[];
  /** WAL files with no record (a store that was opened and never written). */
  emptyWals: string[];
  /** Anything that is not part of an embedded store. */
  foreign: string[];
}

/** Entries a directory can hold without being "someone else's" (a volume's root has lost+found). */
const HARMLESS = new Set(["LOCK", "lost+found"]);

export async function inspectDataDir(dir: string): Promise<DirContents> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { exists: false, data: [], emptyWals: [], foreign: [] };
    if (code === "ENOTDIR") throw new RestoreRefusedError(`${dir} is not a directory`);
    throw new RestoreRefusedError(`cannot read ${dir}: ${errText(err)}`);
  }
  const out: DirContents = { exists: true, data: [], emptyWals: [], foreign: [] };
  for (const name of names.sort()) {
    if (HARMLESS.has(name)) continue;
    if (name === SNAPSHOT || name === SNAPSHOT_TMP) out.data.push(name);
    else if (walStart(name) !== null) {
      const st = await lstat(join(dir, name));
      (st.isFile() && st.size === 0 ? out.emptyWals : out.data).push(name);
    } else out.foreign.push(name);
  }
  return out;
}

function list(names: string[], max = 5): string {
  return names.length <= max
    ? names.join(", ")
    : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}

function checkBump(bump: number, base: number): void {
  if (!Number.isSafeInteger(bump) || bump < 0)
    throw new RangeError(`bumpRevision must be an integer >= 0, got ${bump}`);
  if (!Number.isSafeInteger(base + bump)) {
    throw new RestoreRefusedError(
      `--bump-revision ${bump} would take the revision past 2^53; choose a smaller one`,
    );
  }
}

/** `path`, or `path-2`, `path-3`…: the first that does not exist (two restores within one second). */
async function freeName(path: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? path : `${path}-${n}`;
    try {
      await lstat(candidate);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return candidate;
      throw err;
    }
  }
}

function timestamp(): string {
  return new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** The new directory should be usable by whoever ran the server on the old one. */
async function copyOwnership(from: string, to: string[]): Promise<void> {
  const st = await stat(from);
  for (const path of to) {
    await chmod(path, st.mode & 0o7777).catch(() => {});
    if (process.getuid?.() === 0) await chown(path, st.uid, st.gid).catch(() => {});
  }
}

/**
 * Writes the backup as the data directory's snapshot. An empty (or absent) directory gets the snapshot
 * directly (written to snapshot.tmp and renamed, so a crash leaves an empty store, never a partial one).
 * A directory holding a store (with `force`) is replaced whole: the new store is written into a sibling
 * directory, the old one is renamed aside (kept: its path is in the report), the new one renamed into
 * place. Throughout, the directory's LOCK is held, so no API server can open it half-way.
 */
export async function restoreEmbedded(backup: Backup, opts: EmbeddedRestoreOptions): Promise<RestoreReport> {
  const dir = resolve(opts.dataDir);
  const revision = backup.header.revision + opts.bumpRevision;
  checkBump(opts.bumpRevision, backup.header.revision);
  const report: RestoreReport = {
    target: `embedded store ${dir}`,
    keys: backup.kvs.length,
    revision,
    // The restored store has no watch history: it starts at `revision`.
    olderVersionsExpired: true,
    warnings: [],
    dryRun: Boolean(opts.dryRun),
  };
  const notOurs = (c: DirContents) => {
    if (c.foreign.length > 0) {
      throw new RestoreRefusedError(
        `${dir} is not an embedded store's data directory (it holds ${list(c.foreign)}); restore into a new ` +
          `or empty directory, or the data directory of a stopped API server`,
      );
    }
  };
  const first = await inspectDataDir(dir);
  notOurs(first);
  if (!first.exists) {
    if (opts.dryRun) return report;
    await mkdir(dir, { recursive: true, mode: 0o700 });
  }
  let lock: DirLock;
  try {
    lock = await lockDir(dir);
  } catch (err) {
    if (err instanceof LockedError) {
      const holder = /\(([^)]*)\)/.exec(err.message)?.[1] ?? "another process";
      throw new RestoreRefusedError(
        `${dir} is in use by another process (${holder}): stop the API server that uses it before restoring`,
      );
    }
    throw new RestoreRefusedError(`cannot lock ${dir}: ${errText(err)}`);
  }
  try {
    // Looked at again under the lock: a server may have written between the first look and the lock.
    const contents = await inspectDataDir(dir);
    notOurs(contents);
    const hasData = contents.data.length > 0;
    if (hasData && !opts.force) {
      throw new RestoreRefusedError(
        `${dir} already holds an embedded store (${list(contents.data)}); restore replaces it only with ` +
          `--force (the old directory is then kept beside it)`,
      );
    }
    if (opts.dryRun) return report;
    const kvs = sortedCopy(backup.kvs);
    if (!hasData) {
      // An empty WAL would be taken as the file to append to, starting at revision 1: it must go.
      for (const name of contents.emptyWals) await unlink(join(dir, name));
      await writeSnapshot(dir, revision, kvs, true);
      return report;
    }
    report.previous = await replaceDataDir(dir, revision, kvs);
    return report;
  } finally {
    await lock.release();
  }
}

function sortedCopy(kvs: readonly KeyValue[]): KeyValue[] {
  return [...kvs].sort((a, b) => compareKeys(a.key, b.key));
}

async function replaceDataDir(dir: string, revision: number, kvs: KeyValue[]): Promise<string> {
  const parent = dirname(dir);
  const base = basename(dir);
  let staging: string;
  try {
    staging = await mkdtemp(join(parent, `.${base}.restore-`));
  } catch (err) {
    throw new RestoreRefusedError(
      `cannot create a directory beside ${dir} to build the restored store in (${errText(err)}); the parent ` +
        `directory must be writable`,
    );
  }
  const aside = await freeName(join(parent, `${base}.pre-restore-${timestamp()}`));
  // Held on the new directory too, and carried into place by the rename: an API server starting right
  // after the swap waits for this process instead of opening the directory mid-way.
  let stagingLock: DirLock | null = null;
  try {
    stagingLock = await lockDir(staging);
    await writeSnapshot(staging, revision, kvs, true);
    await copyOwnership(dir, [staging, join(staging, SNAPSHOT)]);
    try {
      await rename(dir, aside);
    } catch (err) {
      throw new RestoreRefusedError(
        `cannot move ${dir} aside (${errText(err)}): if it is a mount point, move its contents away ` +
          `yourself and restore into the then empty directory without --force`,
      );
    }
    try {
      await rename(staging, dir);
    } catch (err) {
      const back = await rename(aside, dir).then(
        () => `${dir} is unchanged`,
        (e) => `the previous store is at ${aside} (moving it back failed: ${errText(e)})`,
      );
      throw new RestoreFailedError(`cannot move the restored store into ${dir} (${errText(err)}); ${back}`);
    }
    await fsyncDir(parent);
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => {});
    throw err;
  } finally {
    await stagingLock?.release();
  }
  // The lock file that moved aside with the old directory is ours, and this process is about to end.
  await unlink(join(aside, "LOCK")).catch(() => {});
  return aside;
}

// ---- etcd ----

export interface EtcdRestoreOptions {
  endpoints: string[];
  prefix: string;
  /** TLS files (PEM strings or paths) and user, as for the etcd store. */
  tls?: EtcdStoreOptions["tls"];
  auth?: EtcdStoreOptions["auth"];
  force: boolean;
  /** Advance etcd's revision to at least backup.revision + bumpRevision before writing (0: don't). */
  bumpRevision: number;
  /** Compact etcd's history at the end of the restore (default true). */
  compact: boolean;
  dryRun?: boolean;
  /** Progress lines for long steps (the revision bump). */
  onProgress?: (line: string) => void;
  /** @internal Runs before each write batch; tests use it to write concurrently. */
  beforeBatch?: (index: number) => Promise<void>;
}

/** The same limit as the etcd store's maxValueBytes: etcd's default --max-request-bytes less room. */
export const ETCD_MAX_VALUE_BYTES = 1.5 * 1024 * 1024 - 8 * 1024;
/** etcd's default --max-txn-ops. */
const MAX_TXN_OPS = 128;
/** Below etcd's default --max-request-bytes (1.5 MiB), so a batch is never refused for its size. */
const MAX_TXN_BYTES = 1024 * 1024;
const BUMP_CONCURRENCY = 64;
const CALL_TIMEOUT_MS = 30_000;

const neverAborted = new AbortController().signal;
type FaultPolicy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;
/** etcd3's blind retries would resend a batch that may already be applied; a failure is reported instead. */
const passThrough = {
  execute: async <T>(fn: (context: { signal: AbortSignal }) => PromiseLike<T> | T) =>
    fn({ signal: neverAborted }),
} as unknown as FaultPolicy;


/** etcd refuses an empty key; "\0" up to "\0" is every key, which is what an empty prefix means. */
function prefixRange(prefix: string): { key: Buffer; range_end: Buffer } {
  const key = Buffer.from(prefix, "utf8");
  return { key: key.length > 0 ? key : Buffer.from([0]), range_end: prefixEnd(key) };
}

export async function restoreEtcd(backup: Backup, opts: EtcdRestoreOptions): Promise<RestoreReport> {
  const where = `etcd at ${opts.endpoints.join(",")}${opts.prefix ? ` under prefix ${JSON.stringify(opts.prefix)}` : ""}`;
  checkBump(opts.bumpRevision, backup.header.revision);
  const prefix = Buffer.from(opts.prefix, "utf8");
  for (const kv of backup.kvs) {
    const bytes = Buffer.byteLength(kv.value) + Buffer.byteLength(kv.key) + prefix.length;
    if (bytes > ETCD_MAX_VALUE_BYTES) {
      throw new RestoreRefusedError(
        `key ${JSON.stringify(kv.key)} holds ${bytes} bytes; etcd accepts at most ${ETCD_MAX_VALUE_BYTES} per ` +
          `request (--max-request-bytes), so this backup cannot be restored into etcd; nothing was written`,
      );
    }
  }
  const client = new Etcd3({
    hosts: opts.endpoints,
    auth: opts.auth,
    credentials: etcdTlsCredentials(opts.tls),
    faultHandling: { host: () => passThrough, global: passThrough },
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_TIMEOUT_MS }),
    grpcOptions: { "grpc.max_receive_message_length": -1 },
  });
  const range = prefixRange(opts.prefix);
  const call = async <T>(what: string, fn: () => Promise<T>, wrote: boolean): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const problem = `${where}: ${what} failed: ${errText(err)}`;
      // A request whose answer was lost (connection trouble) may have been applied; one etcd answered
      // with an error was not.
      if (!wrote && !isRecoverableError(err as Error))
        throw new RestoreRefusedError(`${problem}; nothing was written`);
      throw new RestoreFailedError(
        `${problem}. The prefix may be partly restored: run the restore again with --force`,
        { cause: err },
      );
    }
  };
  try {
    const probe = await call(
      "reading the target",
      () => client.kv.range({ ...range, limit: 5, keys_only: true }),
      false,
    );
    const existing = Number(probe.count);
    const startRevision = Number(probe.header.revision);
    const report: RestoreReport = {
      target: where,
      keys: backup.kvs.length,
      revision: startRevision,
      olderVersionsExpired: false,
      replacedKeys: existing,
      warnings: [],
      dryRun: Boolean(opts.dryRun),
    };
    if (existing > 0 && !opts.force) {
      const sample = probe.kvs.map((kv) => kv.key.subarray(prefix.length).toString("utf8"));
      throw new RestoreRefusedError(
        `${where} already holds ${existing} key(s) (${list(sample)}); restore replaces them only with --force`,
      );
    }
    const wanted = backup.header.revision + opts.bumpRevision;
    if (startRevision < backup.header.revision && opts.bumpRevision === 0) {
      report.warnings.push(
        `etcd's revision (${startRevision}) is below the backup's (${backup.header.revision}): this is not ` +
          `the etcd the backup was taken from (or it was recreated), so resource versions handed out before ` +
          `can come back with another meaning. Restart every controller and long-running client after the ` +
          `restore so they re-list, or run the restore again with --force --bump-revision N to move etcd's ` +
          `revision past them first (one write per revision)`,
      );
    }
    if (opts.dryRun) return report;

    // Keys to remove: those the backup does not have (the others are overwritten). One delete per key
    // rather than a delete of the whole prefix, which etcd refuses in a transaction that also puts keys
    // under it; so a restore that fits one transaction is all-or-nothing.
    const existingKeys =
      existing > 0
        ? await call("listing the target's keys", () => listKeys(client, range, startRevision), false)
        : [];
    let fence = startRevision;
    if (startRevision < wanted && opts.bumpRevision > 0) {
      fence = await advanceRevision(
        client,
        Buffer.concat([range.key, Buffer.from("\0krake-restore-bump")]),
        wanted,
        {
          where,
          onProgress: opts.onProgress,
        },
      );
    }

    const batches = planBatches(backup.kvs, existingKeys, prefix);
    for (let i = 0; i < batches.length; i++) {
      await opts.beforeBatch?.(i);
      // Guard: nothing under the prefix was written since our last write. A running API server (or a
      // second restore) is caught here, at the latest one batch after it started writing.
      const res = await call(
        `write batch ${i + 1} of ${batches.length}`,
        () =>
          client.kv.txn({
            compare: [{ ...range, target: "Mod", result: "Less", mod_revision: fence + 1 }],
            success: batches[i],
            failure: [],
          }),
        i > 0,
      );
      if (!res.succeeded) {
        const state =
          i === 0
            ? "nothing was written"
            : `the restore stopped after ${i} of ${batches.length} batches, so the prefix is partly restored`;
        const problem =
          `keys under the prefix were written by someone else during the restore (revision > ${fence}): ` +
          `is an API server still running? Stop every API server and run the restore again with --force`;
        throw i === 0
          ? new RestoreRefusedError(`${where}: ${problem}; ${state}`)
          : new RestoreFailedError(`${where}: ${problem}; ${state}`);
      }
      fence = Number(res.header.revision);
    }
    report.revision = fence;
    if (opts.compact) {
      try {
        await client.kv.compact({ revision: fence, physical: true });
        report.olderVersionsExpired = true;
      } catch (err) {
        // "required revision has been compacted": compacted at or past it already, which is the goal.
        if (/has been compacted/.test(errText(err))) report.olderVersionsExpired = true;
        else {
          report.warnings.push(
            `the restore is complete, but compacting etcd's history at revision ${fence} failed ` +
              `(${errText(err)}): watches from older resource versions replay the restore instead of ` +
              `getting 410 Gone. Compact by hand: etcdctl compact ${fence}`,
          );
        }
      }
    }
    return report;
  } finally {
    client.close();
  }
}

/** Every key under the prefix at `revision` (keys only, in pages). */
async function listKeys(
  client: Etcd3,
  range: { key: Buffer; range_end: Buffer },
  revision: number,
): Promise<Buffer[]> {
  const keys: Buffer[] = [];
  let from = range.key;
  for (;;) {
    const res = await client.kv.range({
      key: from,
      range_end: range.range_end,
      revision,
      keys_only: true,
      limit: 1000,
    });
    for (const kv of res.kvs) keys.push(kv.key);
    if (!res.more || res.kvs.length === 0) return keys;
    from = Buffer.concat([res.kvs[res.kvs.length - 1].key, Buffer.from([0])]);
  }
}

/**
 * The restore as etcd transactions within etcd's default limits on operations and bytes per request:
 * deletes of the keys the backup lacks first, then a put of every key of the backup.
 */
function planBatches(kvs: readonly KeyValue[], existing: Buffer[], prefix: Buffer): IRequestOp[][] {
  const wanted = new Set(kvs.map((kv) => kv.key));
  const ops: Array<{ op: IRequestOp; size: number }> = [];
  for (const key of existing) {
    if (!wanted.has(key.subarray(prefix.length).toString("utf8"))) {
      ops.push({ op: { request_delete_range: { key } }, size: key.length + 16 });
    }
  }
  for (const kv of kvs) {
    const key = Buffer.concat([prefix, Buffer.from(kv.key, "utf8")]);
    const value = Buffer.from(kv.value, "utf8");
    ops.push({ op: { request_put: { key, value } }, size: key.length + value.length + 16 });
  }
  const batches: IRequestOp[][] = [];
  let batch: IRequestOp[] = [];
  let bytes = 0;
  for (const { op, size } of ops) {
    if (batch.length >= MAX_TXN_OPS || (batch.length > 0 && bytes + size > MAX_TXN_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(op);
    bytes += size;
  }
  // Nothing to write still goes through one (empty) guarded transaction: it proves nobody wrote meanwhile.
  batches.push(batch);
  return batches;
}

/** Writes (and finally deletes) a scratch key until etcd's revision reaches `target`. */
async function advanceRevision(
  client: Etcd3,
  scratch: Buffer,
  target: number,
  opts: { where: string; onProgress?: (line: string) => void },
): Promise<number> {
  let revision = 0;
  let failed = false;
  let lastReport = Date.now();
  opts.onProgress?.(`advancing etcd's revision to ${target} first (one write per revision)`);
  const empty = Buffer.alloc(0);
  try {
    await Promise.all(
      Array.from({ length: BUMP_CONCURRENCY }, async () => {
        // The final delete is one more write: stop one short of the target.
        while (!failed && revision < target - 1) {
          const res = await client.kv.put({ key: scratch, value: empty }).catch((err: Error) => {
            failed = true; // the other writers stop too, instead of going on after the failure is reported
            throw err;
          });
          revision = Math.max(revision, Number(res.header.revision));
          if (opts.onProgress && Date.now() - lastReport >= 5_000) {
            lastReport = Date.now();
            opts.onProgress(`advancing etcd's revision: ${revision} of ${target}`);
          }
        }
      }),
    );
    const res = await client.kv.deleteRange({ key: scratch });
    return Number(res.header.revision);
  } catch (err) {
    await client.kv.deleteRange({ key: scratch }).catch(() => {});
    throw new RestoreRefusedError(
      `${opts.where}: advancing the revision failed at ${revision}: ${errText(err)}; no key of the backup was ` +
        `written`,
    );
  }
}
