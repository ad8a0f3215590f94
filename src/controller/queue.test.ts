import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue } from "./queue.js";

describe("WorkQueue", () => {
  it("dedupes keys and hands them out in order", async () => {
    const q = new WorkQueue({ ratePerSecond: 0 });
    q.add("a");
    q.add("b");
    q.add("a");
    assert.equal(q.length, 2);
    assert.equal(await q.get(), "a");
    assert.equal(await q.get(), "b");
  });

  it("never hands one key to two workers; an add during processing comes back after done()", async () => {
    const q = new WorkQueue({ ratePerSecond: 0 });
    q.add("a");
    const first = await q.get();
    q.add("a");
    assert.equal(q.length, 0, "not handed out while in flight");
    let second: string | undefined;
    const waiting = q.get().then((k) => (second = k));
    await new Promise((r) => setImmediate(r));
    assert.equal(second, undefined);
    q.done(first!);
    await waiting;
    assert.equal(second, "a");
  });

  it("addAfter keeps the earliest deadline (a stream of events cannot postpone it)", () => {
    let now = 1000;
    const q = new WorkQueue({ ratePerSecond: 0, now: () => now });
    q.addAfter("a", 60_000);
    now += 30_000;
    q.addAfter("a", 60_000);
    assert.equal(q.scheduledAt("a"), 61_000);
    q.addAfter("a", 5_000);
    assert.equal(q.scheduledAt("a"), 36_000, "an earlier deadline replaces a later one");
    q.shutDown();
  });

  it("addRateLimited backs off exponentially with jitter; forget() resets", () => {
    const q = new WorkQueue({ ratePerSecond: 0, baseDelayMs: 100, maxDelayMs: 1000, random: () => 1 });
    assert.deepEqual(
      [
        q.addRateLimited("k"),
        q.addRateLimited("k"),
        q.addRateLimited("k"),
        q.addRateLimited("k"),
        q.addRateLimited("k"),
      ],
      [100, 200, 400, 800, 1000],
    );
    assert.equal(q.failures("k"), 5);
    q.forget("k");
    assert.equal(q.failures("k"), 0);
    const low = new WorkQueue({ ratePerSecond: 0, baseDelayMs: 100, random: () => 0 });
    assert.equal(low.addRateLimited("k"), 50, "jitter keeps at least half the delay");
    q.shutDown();
    low.shutDown();
  });

  it("retries share one budget (token bucket); fresh adds are never throttled", () => {
    const now = 0;
    const q = new WorkQueue({ ratePerSecond: 10, burst: 2, baseDelayMs: 1, random: () => 0, now: () => now });
    const delays = ["a", "b", "c", "d"].map((k) => q.addRateLimited(k));
    assert.deepEqual(delays, [1, 1, 100, 200], "the third and fourth retry wait for tokens");
    for (let i = 0; i < 1000; i++) q.add(`fresh-${i}`);
    assert.equal(q.length, 1000);
    q.shutDown();
  });

  it("shutDown wakes waiting workers with undefined; an aborted signal too", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    assert.equal(await waiting, undefined);
    const q2 = new WorkQueue();
    const ac = new AbortController();
    const w2 = q2.get(ac.signal);
    ac.abort();
    assert.equal(await w2, undefined);
  });
});
