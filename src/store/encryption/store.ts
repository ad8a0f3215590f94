/**
 * Encryption at rest as a Store wrapper: every value is sealed (keyring.ts) before it reaches the store
 * underneath and opened when it comes back, on every path of the interface (get, range, put and delete
 * results, watch events). All values are encrypted, not only the secret-bearing kinds: nothing can be
 * forgotten when a kind gains a secret field, and the cost is measured in docs/performance.md.
 *
 * A value that cannot be opened is never passed on as garbage nor skipped: reads reject with
 * DecryptionError (the API answers 500 STORE_DECRYPTION_ERROR and logs the key name and store key), and a
 * watch ends with it through onError.
 */
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
} from "../store.js";
import { ValueTooLargeError } from "../store.js";
import { DecryptionError, sealedKeyName, type Keyring } from "./keyring.js";

/** How the values of a store are encrypted right now: count per key name, plus plaintext ones. */
export interface EncryptionCensus {
  revision: number;
  total: number;
  plaintext: number;
  byKey: Record<string, number>;
  /** Values actually decrypted to check them (the others had their key name checked). */
  decrypted: number;
}

export class EncryptedStore implements Store {
  readonly kind: Store["kind"];
  readonly maxValueBytes: number;

  constructor(
    /** The store underneath, holding sealed values. */
    readonly raw: Store,
    readonly keyring: Keyring,
    /** Told of a value that does not open in a watch (reads reject instead, and the caller reports). */
    private readonly onDecryptionError?: (err: DecryptionError) => void,
  ) {
    this.kind = raw.kind;
    this.maxValueBytes = keyring.maxPlaintextBytes(raw.maxValueBytes);
  }

  private openKv(kv: KeyValue): KeyValue {
    return { ...kv, value: this.keyring.open(kv.key, kv.value) };
  }

  private openOrNull(kv: KeyValue | null): KeyValue | null {
    return kv === null ? null : this.openKv(kv);
  }

  async get(key: string): Promise<KeyValue | null> {
    return this.openOrNull(await this.raw.get(key));
  }

  async range(prefix: string): Promise<RangeResult> {
    const { kvs, revision } = await this.raw.range(prefix);
    return { kvs: kvs.map((kv) => this.openKv(kv)), revision };
  }

  async put(key: string, value: string, cond?: WriteCondition): Promise<PutResult> {
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxValueBytes) throw new ValueTooLargeError(bytes, this.maxValueBytes);
    const res = await this.raw.put(key, this.keyring.seal(key, value), cond);
    if (!res.ok) return { ok: false, current: this.openOrNull(res.current) };
    return { ok: true, kv: { ...res.kv, value }, prev: this.openOrNull(res.prev) };
  }

  async delete(key: string, cond?: WriteCondition): Promise<DeleteResult> {
    const res = await this.raw.delete(key, cond);
    if (!res.ok) return { ok: false, current: this.openOrNull(res.current) };
    return { ok: true, revision: res.revision, prev: this.openKv(res.prev) };
  }

  async watch(prefix: string, opts: WatchOptions): Promise<WatchHandle> {
    let finished = false;
    let inner: WatchHandle | null = null;
    // A value that does not open while the watch is being set up (a replayed event) rejects the call;
    // afterwards it ends the watch through onError, as a broken connection would.
    let early: Error | null = null;
    const fail = (err: Error) => {
      if (finished) return;
      finished = true;
      inner?.cancel();
      if (err instanceof DecryptionError) this.onDecryptionError?.(err);
      if (inner === null) early = err;
      else opts.onError(err);
    };
    const handle = await this.raw.watch(prefix, {
      afterRevision: opts.afterRevision,
      onError: fail,
      onEvents: (events) => {
        if (finished) return;
        let opened: StoreEvent[];
        try {
          opened = events.map((e) => this.openEvent(e));
        } catch (err) {
          return fail(err as Error);
        }
        opts.onEvents(opened);
      },
    });
    inner = handle;
    if (early !== null) {
      handle.cancel();
      throw early;
    }
    return {
      cancel: () => {
        finished = true;
        handle.cancel();
      },
    };
  }

  private openEvent(e: StoreEvent): StoreEvent {
    if (e.type === "put") return { type: "put", kv: this.openKv(e.kv), prev: this.openOrNull(e.prev) };
    return { type: "delete", kv: this.openKv(e.kv), prev: this.openKv(e.prev) };
  }

  revision(): Promise<number> {
    return this.raw.revision();
  }

  compactRevision(): Promise<number> {
    return this.raw.compactRevision();
  }

  close(): Promise<void> {
    return this.raw.close();
  }

  /**
   * Every key under `prefix` as stored, but never in plaintext: sealed values are checked to open (so a
   * copy that needs a missing key fails now, not at restore time) and kept as they are; plaintext ones
   * (from before encryption was switched on) are sealed with the current key. For backups.
   */
  async rangeSealed(prefix: string): Promise<RangeResult> {
    const { kvs, revision } = await this.raw.range(prefix);
    return { kvs: kvs.map((kv) => sealKv(this.keyring, kv)), revision };
  }

  /**
   * Counts which key sealed each value. Every value's key name is checked against the keyring (a value
   * under a name the key file lacks is found whatever the sample); `decrypt` values are actually opened:
   * all of them by default, else the first and last value of each key name plus evenly spread others up to
   * that many, so that a key file with other material under a name is caught without paying a full
   * decryption of a large store at every start. Throws on the first value that does not open.
   */
  async census(opts: { decrypt?: number } = {}): Promise<EncryptionCensus> {
    const { kvs, revision } = await this.raw.range("");
    const census: EncryptionCensus = { revision, total: kvs.length, plaintext: 0, byKey: {}, decrypted: 0 };
    for (const name of this.keyring.names()) census.byKey[name] = 0;
    const limit = opts.decrypt ?? Infinity;
    const stride = kvs.length <= limit ? 1 : kvs.length / limit;
    const last = new Map<string, number>();
    let nextSample = 0;
    for (let i = 0; i < kvs.length; i++) {
      const kv = kvs[i];
      const name = sealedKeyName(kv.key, kv.value);
      if (name === null) {
        census.plaintext++;
        continue;
      }
      if (!Object.hasOwn(census.byKey, name)) this.keyring.open(kv.key, kv.value); // throws, naming the missing key
      const first = census.byKey[name]++ === 0;
      last.set(name, i);
      if (first || i >= nextSample) {
        this.keyring.open(kv.key, kv.value);
        census.decrypted++;
        if (i >= nextSample) nextSample += stride;
      }
    }
    for (const i of last.values()) {
      this.keyring.open(kvs[i].key, kvs[i].value);
      census.decrypted++;
    }
    return census;
  }
}

/** `kv` with its value sealed: a sealed one is checked to open and kept, a plaintext one is sealed now. */
export function sealKv(keyring: Keyring, kv: KeyValue): KeyValue {
  if (sealedKeyName(kv.key, kv.value) === null) return { ...kv, value: keyring.seal(kv.key, kv.value) };
  keyring.open(kv.key, kv.value);
  return kv;
}

export function isEncryptedStore(store: Store): store is EncryptedStore {
  return store instanceof EncryptedStore;
}

export { DecryptionError };
