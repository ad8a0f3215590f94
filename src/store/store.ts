/**
 * The revisioned key-value store every Krake API server stands on.
 *
 * Semantics follow etcd v3 so that the embedded store and etcd are interchangeable:
 * one global revision counter, incremented by every successful write (put or delete);
 * each key remembers the revision that created it and the one that last modified it.
 * Values are opaque strings (the API stores serialized JSON).
 */

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created this key (since its last deletion). */
  createRevision: number;
  /** Revision of the last write to this key. For a DELETE event: the revision of the deletion. */
  modRevision: number;
}

export interface RangeResult {
  /** Sorted by key. */
  kvs: KeyValue[];
  /** Store revision at which the range was read. */
  revision: number;
}

export interface WriteCondition {
  /**
   * Compare-and-swap guard. `0` means "the key must not exist";
   * a positive number means "the key's modRevision must equal this".
   * Omitted: unconditional.
   */
  expectModRevision?: number;
}

export type PutResult =
  | { ok: true; kv: KeyValue; prev: KeyValue | null }
  | { ok: false; current: KeyValue | null };

export type DeleteResult =
  | { ok: true; revision: number; prev: KeyValue }
  | { ok: false; current: KeyValue | null };

export type StoreEvent =
  /** `prev` is null when the put created the key. */
  | { type: "put"; kv: KeyValue; prev: KeyValue | null }
  /** `kv.value` is the last value before deletion; `kv.modRevision` is the deletion revision. */
  | { type: "delete"; kv: KeyValue; prev: KeyValue };

export interface WatchOptions {
  /**
   * Deliver every change with revision > afterRevision first (in revision order), then live changes.
   * Omitted: live changes only, starting after the watch is established.
   * If afterRevision is older than the compaction point, `watch` rejects with CompactedError.
   */
  afterRevision?: number;
  /** Called with events in revision order; never concurrently. */
  onEvents: (events: StoreEvent[]) => void;
  /** Called once if the watch breaks (store closed, connection lost, compacted while catching up). */
  onError: (err: Error) => void;
}

export interface WatchHandle {
  cancel(): void;
}

export interface Store {
  readonly kind: "embedded" | "etcd";
  /** The largest value `put` accepts (etcd refuses requests over its --max-request-bytes). */
  readonly maxValueBytes: number;
  get(key: string): Promise<KeyValue | null>;
  /** Every key that starts with `prefix`, sorted by key. */
  range(prefix: string): Promise<RangeResult>;
  put(key: string, value: string, cond?: WriteCondition): Promise<PutResult>;
  delete(key: string, cond?: WriteCondition): Promise<DeleteResult>;
  /** Resolves once the watch is established: any write acknowledged after that is delivered. */
  watch(prefix: string, opts: WatchOptions): Promise<WatchHandle>;
  /** Current store revision. */
  revision(): Promise<number>;
  /** Oldest revision still replayable by watch is compactRevision()+1. */
  compactRevision(): Promise<number>;
  /** Flushes pending writes and releases resources. Pending watches get onError. */
  close(): Promise<void>;
}

/** The watch's start revision has been compacted away. The client must re-list. */
export class CompactedError extends Error {
  constructor(
    readonly requestedRevision: number,
    readonly compactRevision: number,
  ) {
    super(
      `revision ${requestedRevision} has been compacted; the oldest replayable revision is ${compactRevision + 1}`,
    );
    this.name = "CompactedError";
  }
}

/** The store cannot serve the request (unreachable etcd, closed store, I/O failure). */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** A value larger than the store's `maxValueBytes`; nothing was written. */
export class ValueTooLargeError extends Error {
  constructor(
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`the value has ${bytes} bytes; the store accepts at most ${maxBytes}`);
    this.name = "ValueTooLargeError";
  }
}
