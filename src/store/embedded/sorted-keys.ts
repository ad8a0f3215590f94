/**
 * The key order and the sorted key index behind `range`.
 *
 * Keys sort by code point, which is the UTF-8 byte order etcd uses, so that both stores list keys the same
 * way. JavaScript's `<` compares UTF-16 code units instead, which differs only where a surrogate pair
 * (U+10000 and up) meets a code unit in U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = a.length < b.length ? a.length : b.length;
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        const xs = x <= 0xdfff;
        if (xs !== y <= 0xdfff) return xs ? 1 : -1;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Characters whose UTF-16 order can differ from code point order: surrogates and U+E000..U+FFFF. */
const WIDE = /[\uD800-\uFFFF]/;

function nativeCompare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Chunks of at most MAX_CHUNK sorted keys: insertion and removal cost a binary search plus a short splice,
 * where one flat sorted array would move up to 100,000 pointers on every new key.
 */
const MAX_CHUNK = 512;

export class SortedKeys {
  private chunks: string[][] = [];
  private count = 0;
  /**
   * Keys holding WIDE characters. While there are none, the native string comparison (several times
   * faster than compareKeys' loop) gives the same order, which matters when 100,000 keys are inserted on
   * WAL replay.
   */
  private wide = 0;

  /** `keys` must already be sorted and distinct (the snapshot is written in key order). */
  static fromSorted(keys: string[]): SortedKeys {
    const s = new SortedKeys();
    for (let i = 0; i < keys.length; i += MAX_CHUNK / 2) s.chunks.push(keys.slice(i, i + MAX_CHUNK / 2));
    s.count = keys.length;
    for (const k of keys) if (WIDE.test(k)) s.wide++;
    return s;
  }

  private comparator(probe: string): (a: string, b: string) => number {
    return this.wide > 0 || WIDE.test(probe) ? compareKeys : nativeCompare;
  }

  get size(): number {
    return this.count;
  }

  /** Index of the first chunk whose last key is >= key (chunks.length when there is none). */
  private chunkFor(key: string, cmp: (a: string, b: string) => number): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = this.chunks[mid];
      if (cmp(c[c.length - 1], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private static lowerBound(chunk: string[], key: string, cmp: (a: string, b: string) => number): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cmp(chunk[mid], key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Adds a key that is not present. */
  insert(key: string): void {
    const cmp = this.comparator(key);
    this.count++;
    if (WIDE.test(key)) this.wide++;
    if (this.chunks.length === 0) {
      this.chunks.push([key]);
      return;
    }
    let ci = this.chunkFor(key, cmp);
    if (ci === this.chunks.length) ci--; // larger than everything: append to the last chunk
    const chunk = this.chunks[ci];
    chunk.splice(SortedKeys.lowerBound(chunk, key, cmp), 0, key);
    if (chunk.length > MAX_CHUNK) this.chunks.splice(ci + 1, 0, chunk.splice(MAX_CHUNK / 2));
  }

  /** Removes a key that is present. */
  remove(key: string): void {
    const cmp = this.comparator(key);
    const ci = this.chunkFor(key, cmp);
    const chunk = this.chunks[ci];
    const i = chunk === undefined ? -1 : SortedKeys.lowerBound(chunk, key, cmp);
    if (i < 0 || chunk[i] !== key) throw new Error(`sorted key index out of step with the key map: ${key}`);
    this.count--;
    if (WIDE.test(key)) this.wide--;
    chunk.splice(i, 1);
    if (chunk.length === 0) this.chunks.splice(ci, 1);
  }

  /** Calls `fn` for every key that starts with `prefix`, in order. */
  forEachWithPrefix(prefix: string, fn: (key: string) => void): void {
    const cmp = this.comparator(prefix);
    let ci = this.chunkFor(prefix, cmp);
    if (ci === this.chunks.length) return;
    let i = SortedKeys.lowerBound(this.chunks[ci], prefix, cmp);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const chunk = this.chunks[ci];
      for (; i < chunk.length; i++) {
        if (!chunk[i].startsWith(prefix)) return;
        fn(chunk[i]);
      }
    }
  }
}
