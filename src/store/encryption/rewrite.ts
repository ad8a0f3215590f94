/**
 * Re-encrypts every value of a store with the keyring's current (first) key, so that older keys can be
 * removed from the key file. Each key is rewritten with a compare-and-swap on the revision it was read at;
 * on a conflict (an API server wrote it meanwhile) the fresh value is taken and checked again, so the
 * rewrite is safe while API servers keep running. Running API servers must already know the current key
 * (step 2 of the rotation procedure in docs/operator-guide.md), or they cannot read what this writes.
 *
 * Every rewritten key gets a new revision: watchers see a MODIFIED event with unchanged content.
 */
import type { KeyValue } from "../store.js";
import { sealedKeyName } from "./keyring.js";
import type { EncryptedStore } from "./store.js";

export interface RewriteReport {
  /** Keys read at the start. */
  keys: number;
  rewritten: number;
  /** Already sealed with the current key. */
  unchanged: number;
  /** Deleted by someone else before they could be rewritten. */
  vanished: number;
  /** Compare-and-swap conflicts that were retried. */
  conflicts: number;
  currentKey: string;
}

export interface RewriteOptions {
  /** Writes in flight at once (the embedded store commits concurrent writes in one fsync). Default 32. */
  concurrency?: number;
  /** Called every `progressEvery` keys. */
  onProgress?: (done: number, total: number) => void;
  progressEvery?: number;
  signal?: AbortSignal;
}

/** A key rewritten concurrently this many times in a row is given up on (an API server in a write loop?). */
const MAX_ATTEMPTS = 20;

export async function rewriteStore(store: EncryptedStore, opts: RewriteOptions = {}): Promise<RewriteReport> {
  const { raw, keyring } = store;
  const current = keyring.current.name;
  const { kvs } = await raw.range("");
  const report: RewriteReport = {
    keys: kvs.length,
    rewritten: 0,
    unchanged: 0,
    vanished: 0,
    conflicts: 0,
    currentKey: current,
  };
  const every = opts.progressEvery ?? 1000;
  let done = 0;

  const rewriteOne = async (first: KeyValue): Promise<void> => {
    let kv: KeyValue | null = first;
    for (let attempt = 1; ; attempt++) {
      if (kv === null) return void report.vanished++;
      if (sealedKeyName(kv.key, kv.value) === current) {
        // Checked even though nothing is written: a value under the current name that does not open means
        // the key file holds other material under that name, which must not go unnoticed.
        keyring.open(kv.key, kv.value);
        return void report.unchanged++;
      }
      const sealed = keyring.seal(kv.key, keyring.open(kv.key, kv.value));
      const res = await raw.put(kv.key, sealed, { expectModRevision: kv.modRevision });
      if (res.ok) return void report.rewritten++;
      report.conflicts++;
      if (attempt >= MAX_ATTEMPTS) {
        throw new Error(
          `store key ${JSON.stringify(kv.key)} changed ${MAX_ATTEMPTS} times while it was being rewritten; run the rewrite again`,
        );
      }
      kv = res.current;
    }
  };

  let next = 0;
  const worker = async () => {
    while (next < kvs.length) {
      opts.signal?.throwIfAborted();
      await rewriteOne(kvs[next++]);
      done++;
      if (done % every === 0) opts.onProgress?.(done, kvs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 32) }, worker));
  return report;
}
