/**
 * The live key-value state: a Map for point reads plus a sorted key index for prefix ranges.
 *
 * KeyValue objects are frozen and shared: the map, range results, watch events and the watch history all
 * hold the same objects, so a value exists once in memory however many places refer to it, and no consumer
 * can corrupt the store by mutating what it was handed.
 */
import type { KeyValue, StoreEvent } from "../store.js";
import { SortedKeys } from "./sorted-keys.js";

export class KvState {
  readonly map = new Map<string, KeyValue>();
  index = new SortedKeys();

  constructor(public revision = 0) {}

  /** Loads snapshot contents; `kvs` should be sorted by key (it is re-sorted when it is not). */
  load(kvs: KeyValue[], sorted: boolean, keyOrder: (a: string, b: string) => number): void {
    const keys: string[] = new Array(kvs.length);
    for (let i = 0; i < kvs.length; i++) {
      const kv = kvs[i];
      this.map.set(kv.key, Object.freeze(kv));
      keys[i] = kv.key;
    }
    if (!sorted) keys.sort(keyOrder);
    this.index = SortedKeys.fromSorted(keys);
  }

  get(key: string): KeyValue | null {
    return this.map.get(key) ?? null;
  }

  range(prefix: string): KeyValue[] {
    const out: KeyValue[] = [];
    this.index.forEachWithPrefix(prefix, (k) => out.push(this.map.get(k)!));
    return out;
  }

  /** Every KeyValue in key order: a consistent copy of the references, for the snapshot writer. */
  copySorted(): KeyValue[] {
    const out: KeyValue[] = new Array(this.map.size);
    let i = 0;
    this.index.forEachWithPrefix("", (k) => (out[i++] = this.map.get(k)!));
    return out;
  }

  put(key: string, value: string): StoreEvent & { type: "put" } {
    const rev = ++this.revision;
    const prev = this.map.get(key) ?? null;
    const kv: KeyValue = Object.freeze({
      key,
      value,
      createRevision: prev ? prev.createRevision : rev,
      modRevision: rev,
    });
    this.map.set(key, kv);
    if (!prev) this.index.insert(key);
    return { type: "put", kv, prev };
  }

  /** Deletes a present key. */
  delete(prev: KeyValue): StoreEvent & { type: "delete" } {
    const rev = ++this.revision;
    this.map.delete(prev.key);
    this.index.remove(prev.key);
    const kv: KeyValue = Object.freeze({ ...prev, modRevision: rev });
    return { type: "delete", kv, prev };
  }

  /** Reverts the newest applied event (used when its WAL write failed). */
  undo(e: StoreEvent): void {
    if (e.kv.modRevision !== this.revision)
      throw new Error(`undo out of order: ${e.kv.modRevision} at ${this.revision}`);
    this.revision--;
    const key = e.kv.key;
    if (e.type === "delete") {
      this.map.set(key, e.prev);
      this.index.insert(key);
    } else if (e.prev) {
      this.map.set(key, e.prev);
    } else {
      this.map.delete(key);
      this.index.remove(key);
    }
  }
}
