import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TokenBuckets } from "./buckets.js";

/** A clock the test moves by hand. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("TokenBuckets", () => {
  it("admits a burst, then answers the whole seconds until the next token (at least 1)", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 2, burst: 3, now: c.now });
    assert.deepEqual([b.take("u"), b.take("u"), b.take("u")], [0, 0, 0]);
    assert.equal(b.take("u"), 1, "half a second to the next token rounds up to 1 s");
    const slow = new TokenBuckets({ perSecond: 0.25, burst: 1, now: c.now });
    assert.equal(slow.take("u"), 0);
    assert.equal(slow.take("u"), 4, "a token every 4 s");
  });

  it("refills at the configured rate, never above the burst", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 10, burst: 5, now: c.now });
    for (let i = 0; i < 5; i++) assert.equal(b.take("u"), 0);
    assert.ok(b.take("u") > 0);
    c.advance(100);
    assert.equal(b.take("u"), 0, "one token after 100 ms at 10/s");
    assert.ok(b.take("u") > 0);
    c.advance(60_000);
    let admitted = 0;
    while (b.take("u") === 0) admitted++;
    assert.equal(admitted, 5, "a long pause refills to the burst, not beyond");
  });

  it("keeps callers apart", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 1, now: c.now });
    assert.equal(b.take("alice"), 0);
    assert.ok(b.take("alice") > 0);
    assert.equal(b.take("bob"), 0, "alice's empty bucket does not slow bob down");
  });

  it("drops the buckets of 10,000 idle callers (bounded memory)", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 100, burst: 200, now: c.now });
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 10_000; i++) b.take(`user-${i}`);
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(b.size, 10_000);
    // Generous bound (GC timing blurs the measurement); measured ~1 MB, about 100 bytes per caller.
    assert.ok(grown < 20 * 1024 * 1024, `10,000 buckets took ${grown} bytes`);
    c.advance(5_000);
    b.take("user-0");
    assert.equal(b.size, 10_000, "no sweep before the sweep interval (10 s)");
    c.advance(10_000);
    b.take("active");
    assert.equal(b.size, 1, "every bucket that refilled completely is gone; the active one stays");
  });

  it("keeps a bucket that is still refilling, so an idle pause cannot reset a throttled caller", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 60, now: c.now });
    for (let i = 0; i < 60; i++) b.take("u");
    c.advance(30_000);
    b.take("other");
    assert.equal(b.size, 2, "u's bucket holds 30 of 60 tokens: not dropped");
    let admitted = 0;
    while (b.take("u") === 0) admitted++;
    assert.equal(admitted, 30);
  });

  it("caps the number of buckets, dropping the oldest", () => {
    const c = clock();
    const b = new TokenBuckets({ perSecond: 1, burst: 10, now: c.now, maxBuckets: 1_000 });
    for (let i = 0; i < 5_000; i++) b.take(`addr-${i}`);
    assert.ok(b.size <= 1_000, `${b.size} buckets`);
  });
});
