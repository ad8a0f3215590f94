import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { tempEmbeddedStore } from "../../test/support/store.js";
import type { Store } from "../store/store.js";
import { GlobalMetric } from "../resources/registry.js";
import { WatchHub } from "./watch.js";

/** A response whose unsent byte count the test controls, standing in for a socket that stops reading. */
class FakeResponse extends EventEmitter {
  chunks: string[] = [];
  writableLength = 0;
  writableEnded = false;
  stuck = false;
  writeHead() {
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.chunks.push(chunk);
    if (this.stuck) this.writableLength += Buffer.byteLength(chunk);
    return !this.stuck;
  }
  end() {
    this.writableEnded = true;
    this.emit("close");
  }
  unstick() {
    this.stuck = false;
    this.writableLength = 0;
    this.emit("drain");
  }
  lines() {
    return this.chunks.join("").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  }
}

let store: Store;
let closeStore: () => Promise<void>;
before(async () => {
  ({ store, close: closeStore } = await tempEmbeddedStore());
});
after(async () => {
  await closeStore();
});

const value = (name: string, size: number) =>
  JSON.stringify({ metadata: { name, namespace: null }, api: "core", kind: "GlobalMetric", pad: "x".repeat(size) });

async function until(cond: () => boolean, what: string) {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function open(hub: WatchHub, res: FakeResponse) {
  await hub.start(
    { def: GlobalMetric, namespace: null, scope: "all", heartbeatSeconds: 0, afterRevision: undefined },
    res as unknown as ServerResponse,
    () => {},
  );
}

describe("WatchHub slow watchers", () => {
  it("disconnects a watcher whose buffer stays full past the grace period, with a resumable ERROR event", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 50, headers: {} });
    const res = new FakeResponse();
    await open(hub, res);
    res.stuck = true;
    const put = await store.put("/core/globalmetrics/a", value("a", 2000));
    assert.ok(put.ok);
    await until(() => res.writableEnded, "the slow watcher to be closed");
    const lines = res.lines();
    assert.equal(lines[0].type, "ADDED");
    assert.equal(lines.at(-1).type, "ERROR");
    assert.equal(lines.at(-1).object.title, "WATCH_TOO_SLOW");
    assert.equal(lines.at(-1).object.resource_version, String(put.ok && put.kv.modRevision));
    assert.equal(hub.count, 0);
  });

  it("keeps a watcher whose buffer drains within the grace period", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 200, headers: {} });
    const res = new FakeResponse();
    await open(hub, res);
    res.stuck = true;
    await store.put("/core/globalmetrics/b", value("b", 2000));
    await until(() => res.chunks.length === 1, "the event");
    res.unstick();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(res.writableEnded, false);
    await store.put("/core/globalmetrics/c", value("c", 10));
    await until(() => res.chunks.length === 2, "the next event");
    hub.closeAll();
    assert.equal(res.writableEnded, true);
  });

  it("disconnects at once above four times the limit", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 60_000, headers: {} });
    const res = new FakeResponse();
    await open(hub, res);
    res.stuck = true;
    await store.put("/core/globalmetrics/d", value("d", 5000));
    await until(() => res.writableEnded, "the immediate disconnect");
    assert.equal(res.lines().at(-1).type, "ERROR");
  });
});

describe("WatchHub onEnd (per-user watch counts)", () => {
  async function openCounted(hub: WatchHub, res: FakeResponse) {
    let ended = 0;
    await hub.start(
      {
        def: GlobalMetric,
        namespace: null,
        scope: "all",
        heartbeatSeconds: 0,
        afterRevision: undefined,
        onEnd: () => ended++,
      },
      res as unknown as ServerResponse,
      () => {},
    );
    return () => ended;
  }

  it("runs once when the server closes every watch", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 60_000, headers: {} });
    const res = new FakeResponse();
    const ended = await openCounted(hub, res);
    assert.equal(ended(), 0);
    hub.closeAll();
    hub.closeAll();
    assert.equal(ended(), 1);
  });

  it("runs when a slow watcher is cut off, and when the client goes", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 60_000, headers: {} });
    const slow = new FakeResponse();
    const slowEnded = await openCounted(hub, slow);
    slow.stuck = true;
    await store.put("/core/globalmetrics/onend-slow", value("onend-slow", 5000));
    await until(() => slowEnded() === 1, "the slow watcher's end");

    const gone = new FakeResponse();
    const goneEnded = await openCounted(hub, gone);
    gone.emit("close");
    assert.equal(goneEnded(), 1);
  });

  it("runs at once when the client left while the watch was being set up", async () => {
    const hub = new WatchHub(store, { maxBufferedBytes: 1000, slowGraceMs: 60_000, headers: {} });
    const res = Object.assign(new FakeResponse(), { destroyed: true });
    const ended = await openCounted(hub, res);
    assert.equal(ended(), 1);
    assert.equal(hub.count, 0);
    assert.deepEqual(res.chunks, [], "nothing is written to a gone client");
  });
});
