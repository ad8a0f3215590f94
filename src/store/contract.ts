/**
 * The store contract: one node:test suite every Store implementation must pass, so that the embedded store
 * and etcd stay interchangeable under the API server. Call `storeContract(name, open)` from a test file.
 *
 * `open` must return a fresh, empty store (its own temp dir, or its own etcd key prefix) for every test;
 * `cleanup` must close the store if the test left it open (close may already have been called) and remove
 * whatever it created. `compact`, when given, must make `compactRevision()` reach at least `revision`
 * (etcd: a compaction request; embedded: enough writes to push events out of the bounded history); the
 * compaction tests are skipped without it.
 *
 * Revisions are asserted to advance by exactly one per successful write, as in etcd, which assumes nothing
 * else writes to the same backend while a test runs.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { KeyValue, Store, StoreEvent, WatchHandle } from "./store.js";
import { CompactedError, StoreUnavailableError } from "./store.js";

export interface StoreUnderTest {
  store: Store;
  cleanup: () => Promise<void>;
  compact?: (store: Store, revision: number) => Promise<void>;
}

const DEADLINE_MS = 15_000;

/** Records what a watch delivers and lets a test wait for a condition on it, with a deadline. */
export class WatchRecorder {
  readonly events: StoreEvent[] = [];
  readonly errors: Error[] = [];
  calls = 0;
  private wakers = new Set<() => void>();

  readonly onEvents = (events: StoreEvent[]): void => {
    this.calls++;
    for (const e of events) this.events.push(e);
    this.wake();
  };

  readonly onError = (err: Error): void => {
    this.errors.push(err);
    this.wake();
  };

  revisions(): number[] {
    return this.events.map((e) => e.kv.modRevision);
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  until(cond: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!cond()) return;
        done();
        resolve();
      };
      const timer = setTimeout(() => {
        done();
        reject(
          new Error(
            `timed out after ${ms} ms waiting for ${what}; got ${this.events.length} events, ${this.errors.length} errors`,
          ),
        );
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(check);
      };
      this.wakers.add(check);
    });
  }

  untilRevision(rev: number): Promise<void> {
    return this.until(() => this.events.some((e) => e.kv.modRevision >= rev), `an event at revision ${rev}`);
  }
}

function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

function keysOf(kvs: KeyValue[]): string[] {
  return kvs.map((kv) => kv.key);
}

function plain(kv: KeyValue | null): KeyValue | null {
  return (
    kv && { key: kv.key, value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision }
  );
}

async function mustPut(store: Store, key: string, value: string): Promise<KeyValue> {
  const r = await store.put(key, value);
  assert.ok(r.ok, `put ${key} failed`);
  return r.kv;
}

export function storeContract(name: string, open: () => Promise<StoreUnderTest>): void {
  describe(`store contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: Store;
    const handles: WatchHandle[] = [];

    beforeEach(async () => {
      subject = await open();
      store = subject.store;
    });

    afterEach(async () => {
      for (const h of handles.splice(0)) h.cancel();
      await subject.cleanup();
    });

    async function watch(prefix: string, afterRevision?: number): Promise<WatchRecorder> {
      const rec = new WatchRecorder();
      handles.push(
        await store.watch(prefix, { afterRevision, onEvents: rec.onEvents, onError: rec.onError }),
      );
      return rec;
    }

    describe("get, put, delete", () => {
      it("starts empty; a put creates a key that get returns", async () => {
        assert.deepEqual((await store.range("")).kvs, []);
        assert.equal(await store.get("/k"), null);
        const r0 = await store.revision();
        const res = await store.put("/k", "v1");
        assert.ok(res.ok);
        assert.deepEqual(plain(res.kv), {
          key: "/k",
          value: "v1",
          createRevision: r0 + 1,
          modRevision: r0 + 1,
        });
        assert.equal(res.prev, null);
        assert.deepEqual(plain(await store.get("/k")), plain(res.kv));
        assert.equal(await store.revision(), r0 + 1);
      });

      it("advances the revision by exactly one per write; createRevision stays, modRevision moves", async () => {
        const r0 = await store.revision();
        const a1 = await mustPut(store, "/a", "1");
        const up = await store.put("/a", "2");
        assert.ok(up.ok);
        assert.deepEqual(plain(up.kv), {
          key: "/a",
          value: "2",
          createRevision: r0 + 1,
          modRevision: r0 + 2,
        });
        assert.deepEqual(plain(up.prev), plain(a1));
        const b = await mustPut(store, "/b", "x");
        assert.equal(b.modRevision, r0 + 3);

        const del = await store.delete("/a");
        assert.ok(del.ok);
        assert.equal(del.revision, r0 + 4);
        assert.deepEqual(plain(del.prev), plain(up.kv));
        assert.equal(await store.get("/a"), null);

        const again = await mustPut(store, "/a", "3");
        assert.equal(again.createRevision, r0 + 5, "a re-created key gets a new createRevision");
        assert.equal(again.modRevision, r0 + 5);
        assert.equal(await store.revision(), r0 + 5);
      });

      it("does not advance the revision on a failed condition or a delete of a missing key", async () => {
        await mustPut(store, "/a", "1");
        const r = await store.revision();
        assert.equal((await store.put("/a", "2", { expectModRevision: 0 })).ok, false);
        const missing = await store.delete("/nope");
        assert.deepEqual(missing, { ok: false, current: null });
        assert.equal(await store.revision(), r);
        assert.equal((await store.get("/a"))?.value, "1");
      });

      it("keeps values exactly, including empty strings", async () => {
        await mustPut(store, "/empty", "");
        assert.equal((await store.get("/empty"))?.value, "");
        const json = JSON.stringify({ a: [1, "two", { three: null }], s: 'q"uo\\te\n' });
        await mustPut(store, "/json", json);
        assert.equal((await store.get("/json"))?.value, json);
      });
    });

    describe("compare-and-swap", () => {
      it("put: 0 means must not exist", async () => {
        const created = await store.put("/c", "1", { expectModRevision: 0 });
        assert.ok(created.ok);
        const again = await store.put("/c", "2", { expectModRevision: 0 });
        assert.equal(again.ok, false);
        assert.deepEqual(plain(!again.ok ? again.current : null), plain(created.kv));
      });

      it("put: succeeds on the current modRevision, fails on a stale one or an absent key", async () => {
        const v1 = await mustPut(store, "/c", "1");
        const v2 = await store.put("/c", "2", { expectModRevision: v1.modRevision });
        assert.ok(v2.ok);
        assert.deepEqual(plain(v2.prev), plain(v1));

        const stale = await store.put("/c", "3", { expectModRevision: v1.modRevision });
        assert.equal(stale.ok, false);
        assert.deepEqual(plain(!stale.ok ? stale.current : null), plain(v2.kv));
        assert.equal((await store.get("/c"))?.value, "2");

        const absent = await store.put("/absent", "x", { expectModRevision: v2.kv.modRevision });
        assert.deepEqual(absent, { ok: false, current: null });
        assert.equal(await store.get("/absent"), null);
      });

      it("delete: succeeds on the current modRevision, fails on a stale one, 0, or an absent key", async () => {
        const v1 = await mustPut(store, "/d", "1");
        const v2 = await mustPut(store, "/d", "2");

        const stale = await store.delete("/d", { expectModRevision: v1.modRevision });
        assert.equal(stale.ok, false);
        assert.deepEqual(plain(!stale.ok ? stale.current : null), plain(v2));

        const mustNotExist = await store.delete("/d", { expectModRevision: 0 });
        assert.equal(mustNotExist.ok, false);
        assert.deepEqual(plain(!mustNotExist.ok ? mustNotExist.current : null), plain(v2));

        const ok = await store.delete("/d", { expectModRevision: v2.modRevision });
        assert.ok(ok.ok);
        assert.deepEqual(plain(ok.prev), plain(v2));
        assert.equal(ok.revision, v2.modRevision + 1);

        assert.deepEqual(await store.delete("/d", { expectModRevision: v2.modRevision }), {
          ok: false,
          current: null,
        });
        assert.deepEqual(await store.delete("/d", { expectModRevision: 0 }), { ok: false, current: null });
      });

      it("200 concurrent read-modify-write increments on one key count exactly to 200", async () => {
        await mustPut(store, "/counter", "0");
        const start = await store.revision();
        let conflicts = 0;
        const increment = async () => {
          let cur = await store.get("/counter");
          for (;;) {
            assert.ok(cur);
            const res = await store.put("/counter", String(Number(cur.value) + 1), {
              expectModRevision: cur.modRevision,
            });
            if (res.ok) return;
            conflicts++;
            cur = res.current;
          }
        };
        await Promise.all(Array.from({ length: 200 }, increment));
        const final = await store.get("/counter");
        assert.equal(final?.value, "200");
        assert.equal(final?.modRevision, start + 200);
        assert.equal(await store.revision(), start + 200);
        assert.ok(conflicts > 0, "the increments should have contended");
      });
    });

    describe("range", () => {
      it("returns exactly the keys under a prefix, sorted, with the revision it read at", async () => {
        const keys = [
          "/a/bc/x",
          "/a/b/2",
          "/b/1",
          "/a/b",
          "/a/c/1",
          "/a/b/1",
          "/a/b/10",
          "/a/b/1/deep",
          "/a/",
        ];
        for (const k of keys) await mustPut(store, k, `v${k}`);
        const rev = await store.revision();

        const ab = await store.range("/a/b/");
        assert.deepEqual(keysOf(ab.kvs), ["/a/b/1", "/a/b/1/deep", "/a/b/10", "/a/b/2"]);
        assert.equal(ab.revision, rev);
        assert.equal(ab.kvs[0].value, "v/a/b/1");

        assert.deepEqual(keysOf((await store.range("/a/b")).kvs), [
          "/a/b",
          "/a/b/1",
          "/a/b/1/deep",
          "/a/b/10",
          "/a/b/2",
          "/a/bc/x",
        ]);
        assert.deepEqual(keysOf((await store.range("/a/bc/")).kvs), ["/a/bc/x"]);
        assert.deepEqual(keysOf((await store.range("")).kvs), [...keys].sort(byBytes));
        assert.deepEqual((await store.range("/zzz")).kvs, []);
        assert.deepEqual((await store.range("/a/b/1/deep/")).kvs, []);
      });

      it("stays sorted and exact through deletes and re-creates", async () => {
        const keys = Array.from({ length: 300 }, (_, i) => `/r/${(i * 7919) % 1000}`);
        for (const k of keys) await mustPut(store, k, k);
        for (const k of keys.filter((_, i) => i % 3 === 0)) assert.ok((await store.delete(k)).ok);
        await mustPut(store, keys[0], "back");
        const expected = keys.filter((_, i) => i % 3 !== 0 || i === 0).sort(byBytes);
        const got = await store.range("/r/");
        assert.deepEqual(keysOf(got.kvs), expected);
        assert.equal(got.kvs.find((kv) => kv.key === keys[0])?.value, "back");
      });

      it("handles unicode keys and values, sorted by UTF-8 bytes as etcd does", async () => {
        const entries: Array<[string, string]> = [
          ["/u/ключ", "значение"],
          ["/u/键", "值 ✓"],
          ["/u/😀", "emoji 🎉 value"],
          ["/u/\uE000private", "bmp private use"],
          ["/u/\uFFFDreplacement", "\uFFFD"],
          ["/u/ascii", 'quotes " and \\ backslash\nnewline\ttab \u2028 \u0000 nul'],
          ["/u/é", "e-acute"],
        ];
        for (const [k, v] of entries) await mustPut(store, k, v);
        for (const [k, v] of entries) assert.equal((await store.get(k))?.value, v, k);
        const got = await store.range("/u/");
        assert.deepEqual(keysOf(got.kvs), entries.map(([k]) => k).sort(byBytes));
        assert.deepEqual(keysOf((await store.range("/u/😀")).kvs), ["/u/😀"]);
      });

      it("stores and returns 1 MiB values", async () => {
        const big = "x".repeat(1 << 20);
        const bigUnicode = "ü€😀".repeat(1 << 16); // multi-byte characters all through the value
        const rec = await watch("/big/");
        await mustPut(store, "/big/a", big);
        const b = await mustPut(store, "/big/b", bigUnicode);
        assert.equal((await store.get("/big/a"))?.value, big);
        assert.equal((await store.get("/big/b"))?.value, bigUnicode);
        assert.deepEqual(
          (await store.range("/big/")).kvs.map((kv) => kv.value.length),
          [big.length, bigUnicode.length],
        );
        await rec.untilRevision(b.modRevision);
        assert.equal(rec.events[0].kv.value, big);
        assert.equal(rec.events[1].kv.value, bigUnicode);
      });
    });

    describe("watch", () => {
      it("delivers creates, updates with prev, and deletes with the last value and deletion revision", async () => {
        const rec = await watch("/w/");
        const created = await mustPut(store, "/w/a", "1");
        const updated = await mustPut(store, "/w/a", "2");
        const del = await store.delete("/w/a");
        assert.ok(del.ok);
        await rec.untilRevision(del.revision);
        assert.equal(rec.events.length, 3);
        const [e1, e2, e3] = rec.events;

        assert.equal(e1.type, "put");
        assert.deepEqual(plain(e1.kv), plain(created));
        assert.equal(e1.prev, null);

        assert.equal(e2.type, "put");
        assert.deepEqual(plain(e2.kv), plain(updated));
        assert.deepEqual(plain(e2.prev), plain(created));

        assert.equal(e3.type, "delete");
        assert.equal(e3.kv.key, "/w/a");
        assert.equal(e3.kv.value, "2", "a delete event carries the last value");
        assert.equal(e3.kv.modRevision, del.revision, "a delete event carries the deletion revision");
        assert.deepEqual(plain(e3.prev), plain(updated));
        assert.deepEqual(rec.errors, []);
      });

      it("only delivers keys under the prefix (/a/b/ does not see /a/bc/x)", async () => {
        const rec = await watch("/a/b/");
        await mustPut(store, "/a/bc/x", "no");
        await mustPut(store, "/a/b", "no");
        await mustPut(store, "/other", "no");
        const last = await mustPut(store, "/a/b/yes", "yes");
        await rec.untilRevision(last.modRevision);
        assert.deepEqual(
          rec.events.map((e) => e.kv.key),
          ["/a/b/yes"],
        );
      });

      it("without afterRevision delivers only writes after the watch was established", async () => {
        await mustPut(store, "/w/before", "x");
        const rec = await watch("/w/");
        const after = await mustPut(store, "/w/after", "y");
        await rec.untilRevision(after.modRevision);
        assert.deepEqual(
          rec.events.map((e) => e.kv.key),
          ["/w/after"],
        );
      });

      it("replays from afterRevision, filtered by prefix, then continues live", async () => {
        const a1 = await mustPut(store, "/p/a", "1");
        await mustPut(store, "/q/x", "other prefix");
        const a2 = await mustPut(store, "/p/a", "2");
        const b1 = await mustPut(store, "/p/b", "1");
        const rec = await watch("/p/", a1.modRevision);
        const live = await mustPut(store, "/p/c", "live");
        await rec.untilRevision(live.modRevision);
        assert.deepEqual(rec.revisions(), [a2.modRevision, b1.modRevision, live.modRevision]);
        assert.deepEqual(plain(rec.events[0].prev), plain(a1));

        const atHead = await watch("/p/", await store.revision());
        const next = await mustPut(store, "/p/d", "next");
        await atHead.untilRevision(next.modRevision);
        assert.deepEqual(atHead.revisions(), [next.modRevision]);
      });

      it("replays then goes live with no gap and no duplicate while writes run concurrently", async () => {
        const acked = new Map<number, { key: string; value: string | null }>();
        const write = async (i: number) => {
          const key = `/c/${i % 17}`;
          if (i % 5 === 4) {
            const r = await store.delete(key);
            if (r.ok) acked.set(r.revision, { key, value: null });
          } else {
            const value = `v${i}`;
            const kv = await mustPut(store, key, value);
            acked.set(kv.modRevision, { key, value });
          }
        };
        for (let i = 0; i < 60; i++) await write(i);
        const from = [...acked.keys()].sort((a, b) => a - b)[30];

        let next = 60;
        let started = 0;
        let watchAt = -1;
        let rec: WatchRecorder | null = null;
        const writer = async () => {
          while (next < 460) {
            await write(next++);
            // Establish the watch while the other writers are in the middle of their writes.
            if (++started === 40) {
              watchAt = acked.size;
              rec = await watch("/c/", from);
            }
          }
        };
        await Promise.all([writer(), writer(), writer(), writer()]);
        assert.ok(rec !== null && watchAt > 0);
        const r = rec as WatchRecorder;
        const expected = [...acked.keys()].filter((rev) => rev > from).sort((a, b) => a - b);
        await r.untilRevision(expected.at(-1)!);
        const got = r.revisions();
        for (let i = 1; i < got.length; i++)
          assert.ok(got[i] > got[i - 1], `revision ${got[i]} after ${got[i - 1]}`);
        assert.deepEqual(got, expected);
        for (const e of r.events) {
          const w = acked.get(e.kv.modRevision)!;
          assert.equal(e.kv.key, w.key);
          if (w.value === null) assert.equal(e.type, "delete");
          else assert.equal(e.kv.value, w.value);
        }
        assert.deepEqual(r.errors, []);
      });

      it("cancel stops delivery", async () => {
        const cancelled = new WatchRecorder();
        const handle = await store.watch("/w/", { onEvents: cancelled.onEvents, onError: cancelled.onError });
        const control = await watch("/w/");
        const first = await mustPut(store, "/w/1", "x");
        await cancelled.untilRevision(first.modRevision);
        handle.cancel();
        const second = await mustPut(store, "/w/2", "y");
        await control.untilRevision(second.modRevision);
        assert.deepEqual(cancelled.revisions(), [first.modRevision]);
        assert.deepEqual(cancelled.errors, []);
        handle.cancel(); // idempotent
      });

      it("a watcher that throws does not break the others", async () => {
        const thrower = new WatchRecorder();
        handles.push(
          await store.watch("/w/", {
            onEvents: (events) => {
              thrower.onEvents(events);
              throw new Error("watcher bug");
            },
            onError: thrower.onError,
          }),
        );
        const good = await watch("/w/");
        const revs: number[] = [];
        for (let i = 0; i < 3; i++) revs.push((await mustPut(store, `/w/${i}`, "x")).modRevision);
        await good.untilRevision(revs[2]);
        assert.deepEqual(good.revisions(), revs);
        assert.deepEqual(good.errors, []);
        assert.ok(thrower.events.length >= 1);
      });

      it("rejects a compacted afterRevision with CompactedError, and replays from the compaction point", async (t) => {
        if (!subject.compact) {
          t.skip("this store cannot be compacted on demand");
          return;
        }
        for (let i = 0; i < 5; i++) await mustPut(store, `/k/${i}`, "x");
        const rev = await store.revision();
        await subject.compact(store, rev);
        const compacted = await store.compactRevision();
        assert.ok(compacted >= rev, `compactRevision ${compacted} should have reached ${rev}`);
        assert.ok(compacted <= (await store.revision()));

        await assert.rejects(
          store.watch("/k/", { afterRevision: rev - 2, onEvents: () => {}, onError: () => {} }),
          (err: unknown) => {
            assert.ok(err instanceof CompactedError, `expected CompactedError, got ${String(err)}`);
            assert.equal(err.requestedRevision, rev - 2);
            assert.equal(err.compactRevision, compacted);
            return true;
          },
        );
        const rec = await watch("/k/", compacted);
        const live = await mustPut(store, "/k/live", "y");
        await rec.untilRevision(live.modRevision);
        assert.deepEqual(rec.revisions(), [live.modRevision]);
      });

      it("accepts afterRevision = compactRevision()", async () => {
        await mustPut(store, "/k/1", "x");
        const compacted = await store.compactRevision();
        assert.ok(compacted >= 0 && compacted <= (await store.revision()));
        await watch("/k/", compacted);
      });
    });

    describe("close", () => {
      it("ends open watches with onError and makes later calls reject with StoreUnavailableError", async () => {
        const rec = new WatchRecorder();
        await store.watch("/w/", { onEvents: rec.onEvents, onError: rec.onError });
        await mustPut(store, "/w/1", "x");
        await store.close();
        await rec.until(() => rec.errors.length > 0, "onError after close");
        assert.equal(rec.errors.length, 1);
        assert.ok(rec.errors[0] instanceof StoreUnavailableError, String(rec.errors[0]));

        const unavailable = (err: unknown) => {
          assert.ok(
            err instanceof StoreUnavailableError,
            `expected StoreUnavailableError, got ${String(err)}`,
          );
          return true;
        };
        await assert.rejects(store.get("/w/1"), unavailable);
        await assert.rejects(store.put("/w/2", "y"), unavailable);
        await assert.rejects(store.delete("/w/1"), unavailable);
        await assert.rejects(store.range("/w/"), unavailable);
        await assert.rejects(store.revision(), unavailable);
        await assert.rejects(store.compactRevision(), unavailable);
        await assert.rejects(store.watch("/w/", { onEvents: () => {}, onError: () => {} }), unavailable);
        await store.close(); // idempotent
        assert.equal(rec.errors.length, 1, "onError is called once");
      });

      it("completes writes issued before close", async () => {
        const writes = Array.from({ length: 50 }, (_, i) => store.put(`/f/${i}`, String(i)));
        await store.close();
        for (const r of await Promise.all(writes)) assert.ok(r.ok);
      });
    });
  });
}
