/**
 * The backup file format of `krake backup` / `krake restore` (and `GET /backup`): NDJSON, one JSON object
 * per line, UTF-8, `\n` after every line.
 *
 *   {"format":"krake-backup","version":1,"store":"embedded","revision":4711,"keys":2,"created":"…","krake_version":"…"}
 *   {"key":"/core/roles/a","value":"{\"metadata\":…}","create_revision":12,"mod_revision":4700}
 *   {"key":"/core/roles/b","value":"…","create_revision":13,"mod_revision":13}
 *   {"end":true,"keys":2,"sha256":"<hex>"}
 *
 * Line 1 (header) says what the file is and from which store revision it was read; every key of the store
 * follows, in key order, all read at that one revision; the last line (trailer) repeats the count and holds
 * the SHA-256 of every byte before it. A file that lacks the trailer was cut short; one whose digest does
 * not match was altered. Readers refuse both, and a `version` they do not know, before using any line.
 *
 * Values are kept as the exact strings the store holds (serialised JSON, without resource_version), not as
 * parsed JSON: a restore must put back the same bytes. With encryption at rest those are sealed values
 * (`krake:enc:v1:<key name>:…`), so a backup holds no plaintext and a restored store needs the key file. The store kind in the header is informational: a
 * backup of either store restores into either store.
 */
import { createHash, type Hash } from "node:crypto";
import type { KeyValue, Store } from "./store.js";
import { VERSION } from "../version.js";
import { isEncryptedStore } from "./encryption/store.js";

export const BACKUP_FORMAT = "krake-backup";
export const BACKUP_VERSION = 1;

export interface BackupHeader {
  format: typeof BACKUP_FORMAT;
  version: number;
  /** The kind of store the backup was read from. */
  store: "embedded" | "etcd";
  /** Every key was read at this store revision. */
  revision: number;
  keys: number;
  /** ISO 8601, UTC. */
  created: string;
  krake_version: string;
}

export interface Backup {
  header: BackupHeader;
  /** Sorted by key as the store listed them. */
  kvs: KeyValue[];
  /** Bytes of the whole file, trailer included. */
  bytes: number;
  sha256: string;
}

/** The file is not a complete, intact backup; `where` names the file (and line) and says what is wrong. */
export class BackupFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BackupFormatError";
  }
}

/** Lines are gathered into chunks of about this size, so a large backup is not one write per key. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Reads every key of `store` at one revision. `range` is consistent by contract (the embedded store reads
 * its memory in one step; etcd pages at the first page's revision).
 */
export async function readForBackup(
  store: Store,
): Promise<{ header: BackupHeader; kvs: readonly KeyValue[] }> {
  // With encryption at rest, the file holds the sealed values, never plaintext (see rangeSealed).
  const { kvs, revision } = isEncryptedStore(store) ? await store.rangeSealed("") : await store.range("");
  const header: BackupHeader = {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    store: store.kind,
    revision,
    keys: kvs.length,
    created: new Date().toISOString(),
    krake_version: VERSION,
  };
  return { header, kvs };
}

/**
 * The file's bytes, in chunks. Lazy, so a consumer with backpressure (an HTTP response, a file) pulls it
 * without the whole file ever being in memory at once.
 */
export function* encodeBackup(header: BackupHeader, kvs: Iterable<KeyValue>): Generator<Buffer> {
  const hash = createHash("sha256");
  let parts: string[] = [];
  let size = 0;
  let count = 0;
  const take = (): Buffer => {
    const buf = Buffer.from(parts.join(""), "utf8");
    hash.update(buf);
    parts = [];
    size = 0;
    return buf;
  };
  parts.push(JSON.stringify(header) + "\n");
  for (const kv of kvs) {
    const line =
      JSON.stringify({
        key: kv.key,
        value: kv.value,
        create_revision: kv.createRevision,
        mod_revision: kv.modRevision,
      }) + "\n";
    parts.push(line);
    size += line.length;
    count++;
    if (size >= CHUNK_BYTES) yield take();
  }
  if (count !== header.keys) {
    // A caller bug, but one that would write a backup every restore refuses: fail now instead.
    throw new Error(`backup header says ${header.keys} keys but ${count} were written`);
  }
  if (parts.length > 0) yield take();
  yield Buffer.from(JSON.stringify({ end: true, keys: count, sha256: hash.digest("hex") }) + "\n", "utf8");
}

const isRevision = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;

function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/**
 * Checks a backup as its bytes arrive: line by line, digest and all. `push` throws BackupFormatError at the
 * first bad line; `finish` throws unless the trailer has been seen and matched. With `keep`, the key-values
 * are collected for a restore; without, only checked (a backup passing through to a file).
 */
export class BackupReader {
  private readonly hash: Hash = createHash("sha256");
  private carry: Buffer[] = [];
  private line = 0;
  private bytes = 0;
  private header: BackupHeader | null = null;
  private trailerSeen = false;
  private digest = "";
  private count = 0;
  private readonly keys = new Set<string>();
  readonly kvs: KeyValue[] = [];

  constructor(
    /** Named in every error: a file path, `standard input` or a URL. */
    private readonly source: string,
    private readonly keep = true,
  ) {}

  push(chunk: Uint8Array): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    this.bytes += buf.length;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      const piece = buf.subarray(start, nl + 1);
      const whole = this.carry.length > 0 ? Buffer.concat([...this.carry, piece]) : piece;
      this.carry = [];
      this.onLine(whole);
      start = nl + 1;
    }
    if (start < buf.length) this.carry.push(Buffer.from(buf.subarray(start)));
  }

  finish(): Backup {
    if (this.carry.length > 0) {
      if (this.header === null) this.fail(this.line + 1, "the file ends in the middle of the first line");
      throw this.error(
        `the file ends in the middle of line ${this.line + 1} (it was cut short: ${this.count} of ` +
          `${this.header!.keys} keys are complete and the trailer is missing)`,
      );
    }
    if (this.header === null) throw this.error("the file is empty (no header line)");
    if (!this.trailerSeen) {
      throw this.error(
        `the trailer line is missing after line ${this.line}: the file was cut short ` +
          `(${this.count} of ${this.header.keys} keys present)`,
      );
    }
    return { header: this.header, kvs: this.kvs, bytes: this.bytes, sha256: this.digest };
  }

  private error(message: string): BackupFormatError {
    return new BackupFormatError(`${this.source}: ${message}`);
  }

  private fail(line: number, message: string): never {
    throw this.error(`line ${line}: ${message}`);
  }

  private onLine(raw: Buffer): void {
    const n = ++this.line;
    if (this.trailerSeen) {
      if (raw.toString("utf8").trim() === "") return;
      this.fail(n, "data after the trailer line");
    }
    const text = raw.toString("utf8", 0, raw.length - 1);
    let o: any;
    try {
      o = JSON.parse(text);
    } catch {
      this.fail(n, this.header === null ? "not a Krake backup (the first line is not JSON)" : "not JSON");
    }
    if (typeof o !== "object" || o === null || Array.isArray(o)) this.fail(n, "not a JSON object");
    if (this.header === null) {
      this.header = this.checkHeader(o, n);
      this.hash.update(raw);
      return;
    }
    if (o.end !== undefined) {
      this.checkTrailer(o, n);
      return;
    }
    this.hash.update(raw);
    this.checkKey(o, n);
  }

  private checkHeader(o: any, n: number): BackupHeader {
    if (o.format !== BACKUP_FORMAT) {
      this.fail(n, `not a Krake backup: format is ${describeValue(o.format)}, expected "${BACKUP_FORMAT}"`);
    }
    if (!Number.isSafeInteger(o.version) || o.version < 1) {
      this.fail(n, `version: expected a positive integer, got ${describeValue(o.version)}`);
    }
    if (o.version > BACKUP_VERSION) {
      this.fail(
        n,
        `version ${o.version} is newer than this krake (${VERSION}) understands (${BACKUP_VERSION}); ` +
          `restore it with a newer krake`,
      );
    }
    if (o.store !== "embedded" && o.store !== "etcd") {
      this.fail(n, `store: expected "embedded" or "etcd", got ${describeValue(o.store)}`);
    }
    if (!isRevision(o.revision))
      this.fail(n, `revision: expected an integer >= 0, got ${describeValue(o.revision)}`);
    if (!isRevision(o.keys)) this.fail(n, `keys: expected an integer >= 0, got ${describeValue(o.keys)}`);
    if (typeof o.created !== "string" || Number.isNaN(Date.parse(o.created))) {
      this.fail(n, `created: expected an ISO 8601 time, got ${describeValue(o.created)}`);
    }
    return {
      format: BACKUP_FORMAT,
      version: o.version,
      store: o.store,
      revision: o.revision,
      keys: o.keys,
      created: o.created,
      krake_version: typeof o.krake_version === "string" ? o.krake_version : "unknown",
    };
  }

  private checkKey(o: any, n: number): void {
    const header = this.header!;
    if (typeof o.key !== "string" || o.key === "") {
      this.fail(n, `key: expected a non-empty string, got ${describeValue(o.key)}`);
    }
    const what = `key ${describeValue(o.key)}`;
    if (typeof o.value !== "string")
      this.fail(n, `${what}: value: expected a string, got ${describeValue(o.value)}`);
    const c = o.create_revision;
    const m = o.mod_revision;
    if (!isRevision(c) || c < 1)
      this.fail(n, `${what}: create_revision: expected an integer >= 1, got ${describeValue(c)}`);
    if (!isRevision(m) || m < c || m > header.revision) {
      this.fail(
        n,
        `${what}: mod_revision: expected an integer from create_revision (${c}) to the backup's revision ` +
          `(${header.revision}), got ${describeValue(m)}`,
      );
    }
    if (this.keys.has(o.key)) this.fail(n, `${what} appears twice`);
    this.keys.add(o.key);
    this.count++;
    if (this.count > header.keys) this.fail(n, `more keys than the header announces (${header.keys})`);
    if (this.keep) this.kvs.push({ key: o.key, value: o.value, createRevision: c, modRevision: m });
  }

  private checkTrailer(o: any, n: number): void {
    const header = this.header!;
    if (o.end !== true) this.fail(n, `end: expected true, got ${describeValue(o.end)}`);
    if (o.keys !== this.count || this.count !== header.keys) {
      this.fail(
        n,
        `the trailer counts ${describeValue(o.keys)} keys, the header ${header.keys}, and the file holds ` +
          `${this.count}`,
      );
    }
    const digest = this.hash.digest("hex");
    if (o.sha256 !== digest) {
      this.fail(
        n,
        `checksum mismatch: the trailer says sha256 ${describeValue(o.sha256)}, the content hashes to ` +
          `${digest}: the file was altered or damaged`,
      );
    }
    this.digest = digest;
    this.trailerSeen = true;
  }
}

/** Reads and checks a whole backup from a stream of chunks (a file, standard input, an HTTP body). */
export async function readBackup(chunks: AsyncIterable<Uint8Array>, source: string): Promise<Backup> {
  const reader = new BackupReader(source);
  for await (const chunk of chunks) reader.push(chunk);
  return reader.finish();
}
