import assert from "node:assert/strict";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, describe, test, type TestContext } from "node:test";
import { Etcd3, Range } from "etcd3";
import { startEtcd, type TestEtcd } from "../../test/support/etcd.js";
import { storeContract } from "./contract.js";
import { openEtcdStore } from "./etcd.js";
import { CompactedError, StoreUnavailableError, type Store, type StoreEvent } from "./store.js";

/** One etcd for the tests that only need isolation by key prefix; started on first use. */
let shared: Promise<TestEtcd> | undefined;
const sharedEtcd = () => (shared ??= startEtcd());
after(async () => {
  if (shared) await (await shared).stop();
});

let prefixCounter = 0;
const uniquePrefix = () => `/t${process.pid}-${++prefixCounter}/`;

/** An etcd of its own, for tests that restart, compact or reconfigure it. */
async function ownEtcd(t: TestContext): Promise<TestEtcd> {
  const etcd = await startEtcd();
  t.after(() => etcd.stop());
  return etcd;
}

async function openStore(t: TestContext, endpoint: string, prefix = uniquePrefix()): Promise<Store> {
  const store = await openEtcdStore({ endpoints: [endpoint], prefix });
  t.after(() => store.close());
  return store;
}

function rawClient(t: TestContext, endpoint: string): Etcd3 {
  const client = new Etcd3({ hosts: endpoint });
  t.after(() => client.close());
  return client;
}

/** Resolves when `cond()` holds; polls instead of sleeping a fixed time, and fails after a deadline. */
async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Collects a watch's events and errors, and checks the batches arrive in strictly increasing revisions. */
function recorder() {
  const events: StoreEvent[] = [];
  const batches: StoreEvent[][] = [];
  const errors: Error[] = [];
  return {
    events,
    batches,
    errors,
    onEvents(batch: StoreEvent[]) {
      assert.ok(batch.length > 0, "empty batch");
      for (const e of batch) {
        const last = events.at(-1);
        if (last)
          assert.ok(
            e.kv.modRevision > last.kv.modRevision,
            `revision went from ${last.kv.modRevision} to ${e.kv.modRevision}`,
          );
        events.push(e);
      }
      batches.push(batch);
    },
    onError(err: Error) {
      errors.push(err);
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (addr === null || typeof addr === "string") throw new Error("no port");
  return addr.port;
}

/**
 * A TCP proxy in front of etcd, so a test can cut the store's connections and keep it from reconnecting
 * while etcd itself stays up (and is written to and compacted behind the store's back).
 */
async function startProxy(t: TestContext, target: string) {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let blocked = false;
  let refused = 0;
  const server: Server = createServer((client) => {
    if (blocked) {
      refused++;
      return client.destroy();
    }
    const upstream = connect(Number(port), hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  const cutAll = () => {
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  t.after(async () => {
    cutAll();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    /** Drops every connection and refuses new ones until unblock(). */
    block() {
      blocked = true;
      cutAll();
    },
    unblock() {
      blocked = false;
    },
    cut: cutAll,
    /** Connections turned away while blocked. */
    refused: () => refused,
  };
}

// One etcd for the whole contract suite; each test gets a fresh key prefix, so it starts empty. The
// suite's tests run one after another, which keeps its "one revision per write" assertions valid.
storeContract("etcd", async () => {
  const etcd = await sharedEtcd();
  const prefix = uniquePrefix();
  const store = await openEtcdStore({ endpoints: [etcd.endpoint], prefix });
  return {
    store,
    async cleanup() {
      await store.close();
      const client = new Etcd3({ hosts: etcd.endpoint });
      try {
        await client.delete().prefix(prefix);
      } finally {
        client.close();
      }
    },
    compact: (_store, revision) => etcd.compact(revision),
  };
});

describe("etcd store: opening", () => {
  test("an unreachable endpoint fails fast, naming the endpoint", async () => {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const started = Date.now();
    await assert.rejects(openEtcdStore({ endpoints: [endpoint], dialTimeoutMs: 3_000 }), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError, `got ${err.name}: ${err.message}`);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started}ms`);
  });

  test("an endpoint that accepts but never answers fails after dialTimeoutMs", async (t) => {
    const silent = createServer(() => undefined);
    const held = new Set<Socket>();
    silent.on("connection", (s) => held.add(s));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    t.after(async () => {
      for (const s of held) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const addr = silent.address();
    if (addr === null || typeof addr === "string") throw new Error("no port");
    const endpoint = `http://127.0.0.1:${addr.port}`;
    const started = Date.now();
    await assert.rejects(openEtcdStore({ endpoints: [endpoint], dialTimeoutMs: 400 }), (err: Error) => {
      assert.ok(err instanceof StoreUnavailableError, `got ${err.name}: ${err.message}`);
      assert.ok(err.message.includes(endpoint), err.message);
      assert.match(err.message, /400ms/);
      return true;
    });
    const took = Date.now() - started;
    assert.ok(took >= 350 && took < 3_000, `took ${took}ms`);
  });
});

describe("etcd store: authentication", () => {
  test("a user limited to the store's prefix can do everything; missing or wrong credentials fail clearly", async (t) => {
    const etcd = await ownEtcd(t);
    const admin = rawClient(t, etcd.endpoint);
    await admin.role("root").create();
    await admin.user("root").create("root-pw");
    await admin.user("root").addRole("root");
    await admin.role("krake").create();
    await admin.role("krake").grant({ permission: "Readwrite", range: Range.prefix("/krake/") });
    await admin.user("krake").create("krake-pw");
    await admin.user("krake").addRole("krake");
    await admin.auth.authEnable();

    const store = await openEtcdStore({
      endpoints: [etcd.endpoint],
      prefix: "/krake/",
      auth: { username: "krake", password: "krake-pw" },
    });
    t.after(() => store.close());
    const rec = recorder();
    await store.watch("", {
      afterRevision: await store.revision(),
      onEvents: rec.onEvents,
      onError: rec.onError,
    });
    const put = await store.put("a", "1", { expectModRevision: 0 });
    assert.ok(put.ok);
    assert.equal((await store.get("a"))?.value, "1");
    assert.deepEqual(
      (await store.range("")).kvs.map((kv) => kv.key),
      ["a"],
    );
    assert.equal(await store.compactRevision(), 0);
    assert.ok((await store.delete("a", { expectModRevision: put.kv.modRevision })).ok);
    await waitFor("both events", () => rec.events.length === 2);
    assert.deepEqual(rec.errors, []);

    for (const auth of [undefined, { username: "krake", password: "wrong" }]) {
      await assert.rejects(
        openEtcdStore({ endpoints: [etcd.endpoint], prefix: "/krake/", auth }),
        (err: Error) => {
          assert.ok(err instanceof StoreUnavailableError, `got ${err.name}: ${err.message}`);
          assert.match(err.message, /refused access/);
          assert.ok(err.message.includes(etcd.endpoint), err.message);
          return true;
        },
      );
    }
  });
});

describe("etcd store: etcd specifics", () => {
  test("the prefix option isolates two stores on one etcd", async (t) => {
    const etcd = await sharedEtcd();
    const base = uniquePrefix();
    const a = await openStore(t, etcd.endpoint, `${base}a/`);
    const b = await openStore(t, etcd.endpoint, `${base}b/`);
    const seenByA = recorder();
    await a.watch("", { onEvents: seenByA.onEvents, onError: seenByA.onError });

    assert.equal((await a.put("x", "from-a")).ok, true);
    assert.equal((await b.put("x", "from-b")).ok, true);
    assert.equal((await b.put("y", "only-b")).ok, true);

    assert.equal((await a.get("x"))?.value, "from-a");
    assert.equal((await b.get("x"))?.value, "from-b");
    assert.equal(await a.get("y"), null);
    assert.deepEqual(
      (await a.range("")).kvs.map((kv) => kv.key),
      ["x"],
    );
    assert.deepEqual(
      (await b.range("")).kvs.map((kv) => [kv.key, kv.value]),
      [
        ["x", "from-b"],
        ["y", "only-b"],
      ],
    );
    // A CAS in one namespace must not see the other's key.
    assert.equal((await a.put("y", "a-too", { expectModRevision: 0 })).ok, true);

    const raw = rawClient(t, etcd.endpoint);
    assert.deepEqual((await raw.getAll().prefix(base).keys()).sort(), [
      `${base}a/x`,
      `${base}a/y`,
      `${base}b/x`,
      `${base}b/y`,
    ]);

    await waitFor("a's two events", () => seenByA.events.length >= 2);
    assert.deepEqual(
      seenByA.events.map((e) => [e.kv.key, e.kv.value]),
      [
        ["x", "from-a"],
        ["y", "a-too"],
      ],
    );
    assert.deepEqual(seenByA.errors, []);
  });

  test("a range larger than one page is complete, sorted, and read at one revision", async (t) => {
    const etcd = await sharedEtcd();
    const store = await openStore(t, etcd.endpoint);
    const n = 1_234;
    const keys = Array.from({ length: n }, (_, i) => `k/${String(i).padStart(5, "0")}`);
    for (let i = 0; i < n; i += 100) await Promise.all(keys.slice(i, i + 100).map((k) => store.put(k, k)));
    const before = await store.revision();
    const res = await store.range("k/");
    assert.equal(res.kvs.length, n);
    assert.deepEqual(
      res.kvs.map((kv) => kv.key),
      keys,
    );
    assert.equal(res.revision, before);
    assert.ok(res.kvs.every((kv) => kv.value === kv.key && kv.modRevision <= res.revision));
  });

  test("watch survives an etcd restart without losing or repeating events", async (t) => {
    const etcd = await ownEtcd(t);
    // The store reaches etcd through a proxy that stays shut until other writes have been made after the
    // restart: otherwise the watch might reconnect before them, and a wrong resume revision would go unseen.
    const proxy = await startProxy(t, etcd.endpoint);
    const prefix = uniquePrefix();
    const store = await openStore(t, proxy.endpoint, prefix);
    const writer = rawClient(t, etcd.endpoint);
    const start = await store.revision();
    const rec = recorder();
    await store.watch("w/", { afterRevision: start, onEvents: rec.onEvents, onError: rec.onError });

    for (let i = 0; i < 5; i++) await store.put(`w/${i}`, `before-${i}`);
    await waitFor("events before the restart", () => rec.events.length === 5);

    proxy.block();
    await etcd.restart();
    for (let i = 5; i < 10; i++) await writer.put(`${prefix}w/${i}`).value(`while-away-${i}`);
    proxy.unblock();
    // The store's own channel is still in reconnect backoff here; the write must wait for it, not fail.
    for (let i = 10; i < 15; i++) await store.put(`w/${i}`, `after-${i}`);
    await store.delete("w/0");

    await waitFor("all events after the restart", () => rec.events.length >= 16);
    assert.deepEqual(rec.errors, []);
    assert.deepEqual(
      rec.events.map((e) => `${e.type} ${e.kv.key}`),
      [...Array.from({ length: 15 }, (_, i) => `put w/${i}`), "delete w/0"],
    );
    assert.equal(rec.events[7].kv.value, "while-away-7");
    // Nothing further trickles in: a duplicate would arrive before this last event.
    await store.put("w/last", "x");
    await waitFor("the final event", () => rec.events.length >= 17);
    assert.equal(rec.events.length, 17);
    assert.equal(rec.events[16].kv.key, "w/last");
  });

  test("a write issued while etcd is unreachable waits for it instead of failing, and is applied once", async (t) => {
    const etcd = await ownEtcd(t);
    const proxy = await startProxy(t, etcd.endpoint);
    const store = await openStore(t, proxy.endpoint);
    const rec = recorder();
    await store.watch("", { onEvents: rec.onEvents, onError: rec.onError });
    await store.put("a", "1");
    await waitFor("first event", () => rec.events.length === 1);
    const before = await store.revision();

    proxy.block();
    // Once the watch has been turned away, the store knows its connection is gone: the write below cannot
    // go out on the dead one (which would be ambiguous, and rightly not retried).
    await waitFor("the watch to try to reconnect", () => proxy.refused() >= 1);
    const pending = store.put("b", "2");
    const refusedAtWrite = proxy.refused();
    await waitFor("more reconnect attempts", () => proxy.refused() >= refusedAtWrite + 2);
    proxy.unblock();

    const res = await pending;
    assert.ok(res.ok);
    assert.equal(res.kv.modRevision, before + 1);
    assert.equal(await store.revision(), before + 1);
    await waitFor("the write's event", () => rec.events.length === 2);
    assert.deepEqual(rec.errors, []);
  });

  test("a plain etcd restart (no proxy) keeps watches and writes working", async (t) => {
    const etcd = await ownEtcd(t);
    const store = await openStore(t, etcd.endpoint);
    const rec = recorder();
    await store.watch("", { onEvents: rec.onEvents, onError: rec.onError });
    await store.put("a", "1");
    await waitFor("first event", () => rec.events.length === 1);
    await etcd.restart();
    await store.put("b", "2");
    assert.equal((await store.get("a"))?.value, "1");
    await waitFor("event after the restart", () => rec.events.length === 2);
    assert.deepEqual(
      rec.events.map((e) => e.kv.key),
      ["a", "b"],
    );
    assert.deepEqual(rec.errors, []);
  });

  test("a watch catching up over a broken connection resumes exactly where it was", async (t) => {
    const etcd = await ownEtcd(t);
    const proxy = await startProxy(t, etcd.endpoint);
    const direct = await openStore(t, etcd.endpoint, "/catchup/");
    const n = 2_500; // etcd sends catch-up batches of up to 1000 revisions
    for (let i = 0; i < n; i += 250) {
      await Promise.all(Array.from({ length: 250 }, (_, j) => direct.put(`c/${i + j}`, "v")));
    }
    const store = await openStore(t, proxy.endpoint, "/catchup/");
    const rec = recorder();
    let cuts = 0;
    await store.watch("c/", {
      afterRevision: 0,
      onEvents: (batch) => {
        rec.onEvents(batch);
        // Break the stream after the first and second batch, while the watch is still catching up.
        if (cuts < 2 && rec.events.length < n) {
          cuts++;
          proxy.cut();
        }
      },
      onError: rec.onError,
    });
    await waitFor("the whole history", () => rec.events.length >= n);
    assert.equal(cuts, 2, "the catch-up should have taken more than two batches");
    assert.ok(rec.batches.length >= 3);
    assert.deepEqual(rec.errors, []);
    assert.equal(new Set(rec.events.map((e) => e.kv.key)).size, n);
  });

  test("writes made while the watch is disconnected are delivered on reconnect", async (t) => {
    const etcd = await ownEtcd(t);
    const proxy = await startProxy(t, etcd.endpoint);
    const prefix = uniquePrefix();
    const viaProxy = await openStore(t, proxy.endpoint, prefix);
    const direct = await openStore(t, etcd.endpoint, prefix);
    const rec = recorder();
    await viaProxy.watch("", { onEvents: rec.onEvents, onError: rec.onError });
    await direct.put("a", "1");
    await waitFor("first event", () => rec.events.length === 1);
    proxy.block();
    await direct.put("b", "2");
    await direct.put("a", "3");
    await direct.delete("b");
    proxy.unblock();
    await waitFor("events written while disconnected", () => rec.events.length === 4);
    assert.deepEqual(rec.errors, []);
    assert.deepEqual(
      rec.events.map((e) => [e.type, e.kv.key, e.kv.value, e.prev?.value ?? null]),
      [
        ["put", "a", "1", null],
        ["put", "b", "2", null],
        ["put", "a", "3", "1"],
        ["delete", "b", "2", "2"],
      ],
    );
  });

  test("a watch below the compaction point is refused with CompactedError", async (t) => {
    const etcd = await ownEtcd(t);
    const store = await openStore(t, etcd.endpoint);
    const r1 = (await store.put("k", "1")).ok ? await store.revision() : 0;
    await store.put("k", "2");
    const r3 = (await store.put("k", "3")).ok ? await store.revision() : 0;
    await store.put("k", "4");
    assert.equal(await store.compactRevision(), 0);
    await etcd.compact(r3);

    for (const afterRevision of [0, r1, r3 - 1]) {
      await assert.rejects(
        store.watch("", { afterRevision, onEvents: () => undefined, onError: () => undefined }),
        (err: Error) => {
          assert.ok(
            err instanceof CompactedError,
            `afterRevision ${afterRevision}: got ${err.name}: ${err.message}`,
          );
          assert.equal(err.requestedRevision, afterRevision);
          assert.equal(err.compactRevision, r3);
          return true;
        },
      );
    }
    assert.equal(await store.compactRevision(), r3);

    // The compaction point itself is still a valid place to resume from.
    const rec = recorder();
    await store.watch("", { afterRevision: r3, onEvents: rec.onEvents, onError: rec.onError });
    await waitFor("the event after the compaction point", () => rec.events.length === 1);
    assert.equal(rec.events[0].kv.value, "4");
    assert.equal(rec.events[0].prev?.value, "3");
  });

  test("a compaction while the watch is disconnected ends it with CompactedError", async (t) => {
    const etcd = await ownEtcd(t);
    const proxy = await startProxy(t, etcd.endpoint);
    const prefix = uniquePrefix();
    const viaProxy = await openStore(t, proxy.endpoint, prefix);
    const direct = await openStore(t, etcd.endpoint, prefix);
    const rec = recorder();
    await viaProxy.watch("watched/", { onEvents: rec.onEvents, onError: rec.onError });
    const first = await direct.put("watched/a", "1");
    assert.ok(first.ok);
    await waitFor("first event", () => rec.events.length === 1);
    proxy.block();
    await direct.put("watched/a", "2");
    const last = await direct.put("other", "x");
    assert.ok(last.ok);
    await etcd.compact(last.kv.modRevision);
    proxy.unblock();
    await waitFor("onError", () => rec.errors.length === 1);
    const err = rec.errors[0];
    assert.ok(err instanceof CompactedError, `got ${err.name}: ${err.message}`);
    assert.equal(err.requestedRevision, first.kv.modRevision);
    assert.equal(err.compactRevision, last.kv.modRevision);
    assert.equal(rec.events.length, 1);
    assert.equal(await viaProxy.compactRevision(), last.kv.modRevision);
  });
});
