/**
 * The last `limit` durable events, for watch replay. Each revision is exactly one event (every write touches
 * one key), so the events held are always the contiguous run (compactRevision, lastRevision].
 *
 * The events reference the same KeyValue objects as the live state: history costs one small event object per
 * revision plus whatever old values it alone keeps alive, never a copy of a value.
 */
import type { StoreEvent } from "../store.js";

export class History {
  private readonly ring: StoreEvent[] = [];
  private start = 0; // index of the oldest event once the ring is full
  private last: number;

  constructor(
    private readonly limit: number,
    /** The revision the history starts after (nothing at or before it can be replayed). */
    startRevision: number,
  ) {
    this.last = startRevision;
  }

  get lastRevision(): number {
    return this.last;
  }

  get compactRevision(): number {
    return this.last - this.ring.length;
  }

  push(event: StoreEvent): void {
    const rev = event.kv.modRevision;
    if (rev !== this.last + 1) throw new Error(`history out of order: revision ${rev} after ${this.last}`);
    this.last = rev;
    if (this.limit === 0) return;
    if (this.ring.length < this.limit) {
      this.ring.push(event);
    } else {
      this.ring[this.start] = event;
      this.start = (this.start + 1) % this.limit;
    }
  }

  /** Events with revision > afterRevision whose key starts with prefix; afterRevision >= compactRevision. */
  since(afterRevision: number, prefix: string): StoreEvent[] {
    const out: StoreEvent[] = [];
    const n = this.ring.length;
    for (let i = Math.max(0, afterRevision - this.compactRevision); i < n; i++) {
      const e = this.ring[(this.start + i) % n];
      if (e.kv.key.startsWith(prefix)) out.push(e);
    }
    return out;
  }
}
