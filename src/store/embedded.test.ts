import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { storeContract, WatchRecorder } from "./contract.js";
import { openEmbeddedStore, type EmbeddedStoreOptions } from "./embedded.js";
import { crashValue } from "./embedded-crash-child.js";
import { crc32 } from "./embedded/crc32.js";
import { walName, writeAll } from "./embedded/files.js";
import { encodeLine } from "./embedded/lines.js";
import { compareKeys } from "./embedded/sorted-keys.js";
import type { KeyValue, Store, StoreEvent } from "./store.js";
import { CompactedError, StoreUnavailableError } from "./store.js";

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "krake-embedded-"));
  dirs.push(d);
  return d;
}

class LogCapture {
  readonly lines: Array<{ level: string; o: object; msg: string }> = [];
  info(o: object, msg = ""): void {
    this.lines.push({ level: "info", o, msg });
  }
  warn(o: object, msg = ""): void {
    this.lines.push({ level: "warn", o, msg });
  }
  warnings(): string[] {
    return this.lines.filter((l) => l.level === "warn").map((l) => l.msg);
  }
}

function plain(kv: KeyValue | null): KeyValue | null {
  return (
    kv && { key: kv.key, value: kv.value, createRevision: kv.createRevision, modRevision: kv.modRevision }
  );
}

function plainEvent(e: StoreEvent): object {
  return { type: e.type, kv: plain(e.kv), prev: plain(e.prev) };
}

async function dump(s: Store): Promise<{ revision: number; kvs: Array<KeyValue | null> }> {
  const r = await s.range("");
  return { revision: r.revision, kvs: r.kvs.map(plain) };
}

/** A deterministic mix of creates, updates, deletes and conditional writes over a small key space. */
async function churn(s: Store, n: number, seed = 1): Promise<void> {
  let x = seed;
  const rnd = (m: number) => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % m;
  };
  for (let i = 0; i < n; i++) {
    const key = `/churn/${rnd(23)}`;
    const op = rnd(10);
    if (op < 6) await s.put(key, `v${i} ${"ü".repeat(rnd(5))}`);
    else if (op < 8) await s.delete(key);
    else {
      const cur = await s.get(key);
      await s.put(key, `cas${i}`, { expectModRevision: cur ? cur.modRevision : 0 });
    }
  }
}

async function walFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith("wal-")).sort();
}

/** Byte offsets of the lines of a file. */
function lineOffsets(buf: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < buf.length; i = buf.indexOf(0x0a, i) + 1) {
    out.push(i);
    if (buf.indexOf(0x0a, i) < 0) break;
  }
  return out;
}

// ---- the contract, on real temp dirs ----

async function openForContract(opts: Partial<EmbeddedStoreOptions>) {
  const dir = await tempDir();
  const store = await openEmbeddedStore({ dataDir: dir, historyLimit: 1000, ...opts });
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
    // The embedded store compacts by pushing events out of its bounded history.
    async compact(s: Store, revision: number) {
      for (let round = 0; (await s.compactRevision()) < revision; round++) {
        assert.ok(round < 100, "compaction did not advance");
        await Promise.all(
          Array.from({ length: 250 }, (_, i) => s.put(`/compact-filler/${i}`, String(round))),
        );
      }
    },
  };
}

storeContract("embedded", () => openForContract({}));
storeContract("embedded, no fsync, snapshot every 7 writes", () =>
  openForContract({ fsync: false, snapshotEvery: 7 }),
);

// ---- embedded-specific behaviour ----

describe("embedded store", () => {
  describe("persistence", () => {
    it("keeps every acknowledged write, with its revisions, across close and reopen", async () => {
      const dir = await tempDir();
      let s = await openEmbeddedStore({ dataDir: dir });
      await churn(s, 300);
      const before = await dump(s);
      await s.close();
      s = await openEmbeddedStore({ dataDir: dir });
      assert.deepEqual(await dump(s), before);
      const next = await s.put("/after", "x");
      assert.ok(next.ok);
      assert.equal(next.kv.modRevision, before.revision + 1);
      await s.close();
    });

    it("reopens values larger than the recovery read buffer, from the WAL and from a snapshot", async () => {
      const dir = await tempDir();
      const huge = "h".repeat(9 << 20) + "✓";
      let s = await openEmbeddedStore({ dataDir: dir, snapshotEvery: 3 });
      await s.put("/small/1", "a");
      await s.put("/huge", huge);
      await s.put("/small/2", "b");
      await s.put("/huge2", huge + "2"); // the WAL after the snapshot holds one too
      const before = await dump(s);
      await s.close();
      assert.ok((await readdir(dir)).includes("snapshot"));
      s = await openEmbeddedStore({ dataDir: dir });
      assert.deepEqual(await dump(s), before);
      await s.close();
    });

    it("snapshot + WAL replay gives the same state and revision as WAL replay alone", async () => {
      const withSnap = await tempDir();
      const walOnly = await tempDir();
      let a = await openEmbeddedStore({ dataDir: withSnap, snapshotEvery: 10, historyLimit: 1000 });
      let b = await openEmbeddedStore({ dataDir: walOnly, snapshotEvery: 1_000_000, historyLimit: 1000 });
      await churn(a, 257, 7);
      await churn(b, 257, 7);
      const live = await dump(a);
      assert.deepEqual(await dump(b), live);
      await a.close();
      await b.close();

      const files = await readdir(withSnap);
      assert.ok(files.includes("snapshot"), `a snapshot was written: ${files.join(" ")}`);
      assert.equal((await walFiles(withSnap)).length, 1, "older WAL files are removed after the snapshot");
      assert.ok(!(await readdir(walOnly)).includes("snapshot"));

      a = await openEmbeddedStore({ dataDir: withSnap, snapshotEvery: 10, historyLimit: 1000 });
      b = await openEmbeddedStore({ dataDir: walOnly, snapshotEvery: 1_000_000, historyLimit: 1000 });
      assert.deepEqual(await dump(a), live);
      assert.deepEqual(await dump(b), live);

      // Replay after a restart reaches back to the snapshot and no further, and says so.
      const walStart = Number((await walFiles(withSnap))[0].slice(4, 20));
      const compacted = await a.compactRevision();
      assert.equal(compacted, walStart - 1);
      assert.equal(await b.compactRevision(), 0);
      await assert.rejects(
        a.watch("", { afterRevision: compacted - 1, onEvents: () => {}, onError: () => {} }),
        CompactedError,
      );
      const ra = new WatchRecorder();
      const rb = new WatchRecorder();
      const ha = await a.watch("", { afterRevision: compacted, onEvents: ra.onEvents, onError: ra.onError });
      const hb = await b.watch("", { afterRevision: compacted, onEvents: rb.onEvents, onError: rb.onError });
      if (live.revision > compacted) {
        await ra.untilRevision(live.revision);
        await rb.untilRevision(live.revision);
      }
      assert.deepEqual(ra.events.map(plainEvent), rb.events.map(plainEvent));
      assert.equal(ra.events.length, live.revision - compacted);
      ha.cancel();
      hb.cancel();
      await a.close();
      await b.close();
    });

    it("recovers from a crash at any step of taking a snapshot", async () => {
      const dir = await tempDir();
      let s = await openEmbeddedStore({ dataDir: dir, snapshotEvery: 1_000_000 });
      await churn(s, 40, 5);
      await s.close();
      const rev = await (async () => {
        const t = await openEmbeddedStore({ dataDir: dir, snapshotEvery: 1_000_000 });
        const r = await t.revision();
        await t.close();
        return r;
      })();
      const [oldName] = await walFiles(dir);
      const oldWal = await readFile(join(dir, oldName));

      // The next batch takes the WAL over the limit: it is the last one in the old file, then a new file
      // starts and the snapshot is written; /after goes to the new file.
      s = await openEmbeddedStore({ dataDir: dir, snapshotEvery: rev + 1 });
      assert.ok((await s.put("/trigger", "x")).ok);
      const beforeAfter = await dump(s);
      assert.ok((await s.put("/after", "y")).ok);
      const final = await dump(s);
      await s.close();
      const newName = walName(rev + 2);
      assert.deepEqual(await walFiles(dir), [newName], "the old WAL is gone once the snapshot is durable");
      const snapshot = await readFile(join(dir, "snapshot"));
      const newWal = await readFile(join(dir, newName));
      const oldWalFull = Buffer.concat([
        oldWal,
        encodeLine(JSON.stringify({ r: rev + 1, b: rev + 1, k: "/trigger", v: "x" })),
      ]);

      const scenarios: Array<[string, Record<string, Buffer>, Awaited<ReturnType<typeof dump>>]> = [
        [
          "new WAL created, nothing in it yet",
          { [oldName]: oldWalFull, [newName]: Buffer.alloc(0) },
          beforeAfter,
        ],
        [
          "snapshot half written",
          {
            [oldName]: oldWalFull,
            [newName]: newWal,
            "snapshot.tmp": snapshot.subarray(0, snapshot.length >> 1),
          },
          final,
        ],
        [
          "snapshot renamed, old WAL not yet deleted",
          { [oldName]: oldWalFull, [newName]: newWal, snapshot },
          final,
        ],
        ["done", { [newName]: newWal, snapshot }, final],
      ];
      for (const [what, files, expected] of scenarios) {
        const d = await tempDir();
        for (const [name, content] of Object.entries(files)) await writeFile(join(d, name), content);
        const r = await openEmbeddedStore({ dataDir: d });
        assert.deepEqual(await dump(r), expected, what);
        await r.close();
        assert.ok(!(await readdir(d)).includes("snapshot.tmp"), `${what}: leftover temp file removed`);
      }
    });

    it("keeps the WAL part of the watch history across a restart", async () => {
      const dir = await tempDir();
      let s = await openEmbeddedStore({ dataDir: dir, historyLimit: 1000 });
      const rec = new WatchRecorder();
      await s.watch("", { afterRevision: 0, onEvents: rec.onEvents, onError: rec.onError });
      await churn(s, 60, 3);
      const rev = await s.revision();
      await rec.untilRevision(rev);
      await s.close();

      s = await openEmbeddedStore({ dataDir: dir, historyLimit: 1000 });
      assert.equal(await s.compactRevision(), 0);
      const replay = new WatchRecorder();
      await s.watch("", { afterRevision: 0, onEvents: replay.onEvents, onError: replay.onError });
      await replay.untilRevision(rev);
      assert.deepEqual(replay.events.map(plainEvent), rec.events.map(plainEvent));
      await s.close();

      // A smaller history after the restart: compactRevision owns up to it.
      s = await openEmbeddedStore({ dataDir: dir, historyLimit: 5 });
      assert.equal(await s.compactRevision(), rev - 5);
      await assert.rejects(
        s.watch("", { afterRevision: rev - 6, onEvents: () => {}, onError: () => {} }),
        CompactedError,
      );
      const tail = new WatchRecorder();
      await s.watch("", { afterRevision: rev - 5, onEvents: tail.onEvents, onError: tail.onError });
      await tail.untilRevision(rev);
      assert.deepEqual(tail.events.map(plainEvent), rec.events.slice(-5).map(plainEvent));
      await s.close();
    });
  });

  describe("damaged files", () => {
    async function storeWithTenKeys(): Promise<{ dir: string; wal: string; size: number }> {
      const dir = await tempDir();
      const s = await openEmbeddedStore({ dataDir: dir });
      for (let i = 0; i < 10; i++) await s.put(`/k/${i}`, `v${i}`);
      await s.close();
      const wal = join(dir, (await walFiles(dir))[0]);
      return { dir, wal, size: (await stat(wal)).size };
    }

    async function assertTenKeysAndTruncated(dir: string, wal: string, size: number): Promise<void> {
      const log = new LogCapture();
      let s = await openEmbeddedStore({ dataDir: dir, logger: log });
      assert.ok(
        log.warnings().some((m) => m.includes("torn write")),
        `a torn tail is reported: ${log.warnings().join("; ")}`,
      );
      assert.equal((await stat(wal)).size, size, "the torn tail is cut off");
      assert.equal(await s.revision(), 10);
      assert.equal((await s.range("/k/")).kvs.length, 10);
      assert.equal((await s.put("/after", "x")).ok, true);
      await s.close();
      s = await openEmbeddedStore({ dataDir: dir });
      assert.equal((await s.get("/after"))?.modRevision, 11);
      await s.close();
    }

    it("cuts off a half-written last record", async () => {
      const { dir, wal, size } = await storeWithTenKeys();
      const line = encodeLine(JSON.stringify({ r: 11, b: 11, k: "/torn", v: "x".repeat(100) }));
      await appendFile(wal, line.subarray(0, 60));
      await assertTenKeysAndTruncated(dir, wal, size);
    });

    it("cuts off a complete-looking record without its newline, and garbage lines", async () => {
      const { dir, wal, size } = await storeWithTenKeys();
      const line = encodeLine(JSON.stringify({ r: 11, b: 11, k: "/torn", v: "x" }));
      await appendFile(
        wal,
        Buffer.concat([Buffer.from("00000000 not a record\n"), line.subarray(0, line.length - 1)]),
      );
      await assertTenKeysAndTruncated(dir, wal, size);
    });

    it("cuts off an unfinished last batch with a hole in it (blocks reaching the disk out of order)", async () => {
      const { dir, wal, size } = await storeWithTenKeys();
      const rec = (r: number) => encodeLine(JSON.stringify({ r, b: 11, k: `/batch/${r}`, v: "x" }));
      const hole = Buffer.alloc(rec(12).length, 0);
      await appendFile(wal, Buffer.concat([hole, rec(12), rec(13)]));
      await assertTenKeysAndTruncated(dir, wal, size);
    });

    it("refuses to open when an acknowledged record in the middle is damaged, naming the file and offset", async () => {
      const { dir, wal } = await storeWithTenKeys();
      const buf = await readFile(wal);
      const offset = lineOffsets(buf)[5];
      buf[offset + 20] ^= 0x01; // one flipped bit inside the sixth record's JSON
      await writeFile(wal, buf);
      for (let attempt = 0; attempt < 2; attempt++) {
        // Twice: a failed open must release the lock and leave the files as they were.
        await assert.rejects(openEmbeddedStore({ dataDir: dir }), (err: Error) => {
          assert.match(err.message, /corrupt/);
          assert.ok(err.message.includes(wal), err.message);
          assert.ok(err.message.includes(`offset ${offset}`), err.message);
          return true;
        });
      }
      assert.deepEqual(await readFile(wal), buf);
    });

    it("refuses to open with a damaged snapshot, naming it", async () => {
      const dir = await tempDir();
      const s = await openEmbeddedStore({ dataDir: dir, snapshotEvery: 5 });
      for (let i = 0; i < 12; i++) await s.put(`/k/${i}`, `v${i}`);
      await s.close();
      const path = join(dir, "snapshot");
      const buf = await readFile(path);
      buf[lineOffsets(buf)[2] + 15] ^= 0x04;
      await writeFile(path, buf);
      await assert.rejects(openEmbeddedStore({ dataDir: dir }), (err: Error) => {
        assert.ok(err.message.includes(path) && /corrupt/.test(err.message), err.message);
        return true;
      });
    });
  });

  describe("lock", () => {
    it("refuses a second open of the same directory in this process", async () => {
      const dir = await tempDir();
      const s = await openEmbeddedStore({ dataDir: dir });
      await assert.rejects(openEmbeddedStore({ dataDir: dir }), /in use/);
      await s.close();
      const again = await openEmbeddedStore({ dataDir: dir });
      await again.close();
    });

    it("takes over a stale lock left by a dead process", async () => {
      const dir = await tempDir();
      const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
      const pid = child.pid!;
      await new Promise((res) => child.once("exit", res));
      await writeFile(join(dir, "LOCK"), `${pid} 12345\n`);
      const s = await openEmbeddedStore({ dataDir: dir });
      assert.equal((await readFile(join(dir, "LOCK"), "utf8")).split(" ")[0], String(process.pid));
      await s.close();
      assert.ok(!(await readdir(dir)).includes("LOCK"), "close releases the lock");

      // Our own pid, but no store open on the directory here: a previous run that happened to get the same
      // pid (a container's pid 1, restarted).
      await writeFile(join(dir, "LOCK"), `${process.pid} 1\n`);
      const again = await openEmbeddedStore({ dataDir: dir });
      await again.close();
    });
  });

  describe("crash safety", () => {
    interface Acked {
      puts: Set<string>;
      /** Deletes attempted: the last one of each writer may have been applied without being acknowledged. */
      deleting: Set<string>;
      dels: Set<string>;
      last: Map<string, number>;
    }

    const childScript = fileURLToPath(new URL("./embedded-crash-child.js", import.meta.url));

    /** Runs the writer child until it has acknowledged `killAfter` writes, then SIGKILLs it. */
    async function runAndKill(dir: string, run: number, killAfter: number, acked: Acked, probeLock: boolean) {
      const child = spawn(process.execPath, [childScript, dir, String(run), "97"], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const exited = new Promise<{ code: number | null; signal: string | null }>((res) =>
        child.once("exit", (code, signal) => res({ code, signal })),
      );
      const deadline = setTimeout(() => child.kill("SIGKILL"), 60_000);
      let count = 0;
      let lockProbe: unknown = null;
      try {
        for await (const line of createInterface({ input: child.stdout })) {
          const [what, a, b] = line.split(" ");
          if (what === "put") acked.puts.add(a);
          else if (what === "deleting") acked.deleting.add(a);
          else if (what === "del") acked.dels.add(a);
          else if (what === "last") acked.last.set(`/last/${run}/${a}`, Number(b));
          count++;
          if (probeLock && count === 50) {
            // Awaited here, before more lines are read (and so before the kill): the child is alive throughout.
            lockProbe = await openEmbeddedStore({ dataDir: dir }).then(
              async (s) => {
                await s.close();
                return "opened";
              },
              (err: Error) => err,
            );
          }
          if (count === killAfter) child.kill("SIGKILL");
        }
      } finally {
        clearTimeout(deadline);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      const { signal } = await exited;
      assert.equal(signal, "SIGKILL", `the child died on its own: ${stderr}`);
      assert.ok(count >= killAfter, `only ${count} acknowledged writes: ${stderr}`);
      if (probeLock) {
        assert.ok(
          lockProbe instanceof Error && /in use/.test(lockProbe.message),
          `a live holder keeps the lock: ${String(lockProbe)}`,
        );
      }
    }

    it("keeps every acknowledged write when the writer is killed with SIGKILL mid-load", async () => {
      const dir = await tempDir();
      const acked: Acked = { puts: new Set(), deleting: new Set(), dels: new Set(), last: new Map() };
      for (const [run, killAfter] of [
        [1, 400],
        [2, 1500],
        [3, 150],
      ]) {
        await runAndKill(dir, run, killAfter, acked, run === 1);
        const s = await openEmbeddedStore({ dataDir: dir });
        try {
          for (const key of acked.puts) {
            const kv = await s.get(key);
            if (acked.dels.has(key)) assert.equal(kv, null, `${key} was deleted`);
            else if (kv === null && acked.deleting.has(key))
              continue; // deleted, but killed before the ack
            else
              assert.equal(
                kv?.value,
                crashValue(key),
                `acknowledged ${key} is missing or wrong after crash ${run}`,
              );
          }
          for (const [key, seq] of acked.last) {
            const kv = await s.get(key);
            assert.ok(kv && Number(kv.value) >= seq, `${key} went back from ${seq} to ${kv?.value}`);
          }
        } finally {
          await s.close();
        }
      }
    });
  });

  describe("I/O failures", () => {
    function enospc(): Error {
      return Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    }

    it("rolls back and rejects every write not yet durable when a WAL write fails, then carries on", async () => {
      const dir = await tempDir();
      let failNext = false;
      let entered: () => void = () => {};
      let gate: Promise<void> = Promise.resolve();
      const s = await openEmbeddedStore({
        dataDir: dir,
        logger: new LogCapture(),
        io: {
          async write(fh: FileHandle, buf: Buffer, position: number) {
            if (!failNext) return writeAll(fh, buf, position);
            failNext = false;
            entered();
            await gate;
            await fh.write(buf, 0, buf.length >> 1, position); // part of the batch reaches the file
            throw enospc();
          },
        },
      });
      assert.ok((await s.put("/a", "1")).ok);

      failNext = true;
      let release!: () => void;
      gate = new Promise((res) => (release = res));
      const inWrite = new Promise<void>((res) => (entered = res));
      const p1 = s.put("/a", "2");
      const p2 = s.put("/b", "1");
      await inWrite;
      const p3 = s.delete("/a"); // collected behind the failing batch, applied on top of it
      const read = s.get("/b"); // observed state that is about to be rolled back
      release();
      await Promise.all([p1, p2, p3, read].map((p) => assert.rejects(p, StoreUnavailableError)));

      assert.equal((await s.get("/a"))?.value, "1");
      assert.equal(await s.get("/b"), null);
      assert.equal(await s.revision(), 1);
      const c = await s.put("/c", "1");
      assert.ok(c.ok && c.kv.modRevision === 2, "the store stays writable after the WAL was cut back");
      await s.close();

      const again = await openEmbeddedStore({ dataDir: dir });
      assert.deepEqual(
        (await again.range("")).kvs.map((kv) => [kv.key, kv.value, kv.modRevision]),
        [
          ["/a", "1", 1],
          ["/c", "1", 2],
        ],
      );
      await again.close();
    });

    it("turns read-only after a failed fsync, still serving reads of the durable state", async () => {
      const dir = await tempDir();
      let failSync = false;
      const log = new LogCapture();
      const s = await openEmbeddedStore({
        dataDir: dir,
        logger: log,
        io: {
          async sync(fh: FileHandle) {
            if (failSync) throw Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO" });
            await fh.datasync();
          },
        },
      });
      assert.ok((await s.put("/a", "1")).ok);
      failSync = true;
      await assert.rejects(s.put("/a", "2"), StoreUnavailableError);
      failSync = false;
      assert.equal((await s.get("/a"))?.value, "1");
      await assert.rejects(
        s.put("/b", "1"),
        (err: Error) => err instanceof StoreUnavailableError && /EIO/.test(err.message),
      );
      await assert.rejects(s.delete("/a"), StoreUnavailableError);
      assert.deepEqual((await s.range("")).kvs.map(plain), [plain(await s.get("/a"))]);
      await s.close();
      assert.ok(log.warnings().some((m) => m.includes("READ-ONLY")));

      const again = await openEmbeddedStore({ dataDir: dir });
      assert.equal((await again.get("/a"))?.value, "1");
      assert.equal(await again.revision(), 1);
      assert.ok((await again.put("/b", "1")).ok);
      await again.close();
    });
  });

  describe("group commit", () => {
    it("covers concurrent writes with one write and one fsync per batch, and one onEvents per batch", async () => {
      const dir = await tempDir();
      let writes = 0;
      let syncs = 0;
      const s = await openEmbeddedStore({
        dataDir: dir,
        io: {
          write: (fh, buf, pos) => (writes++, writeAll(fh, buf, pos)),
          sync: (fh) => (syncs++, fh.datasync()),
        },
      });
      const rec = new WatchRecorder();
      await s.watch("", { onEvents: rec.onEvents, onError: rec.onError });
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => s.put(`/g/${i}`, String(i))));
      assert.ok(results.every((r) => r.ok));
      await rec.untilRevision(200);
      assert.ok(writes <= 3, `${writes} WAL writes for 200 concurrent puts`);
      assert.equal(syncs, writes);
      assert.equal(rec.calls, writes, "one onEvents call per batch");
      assert.deepEqual(
        rec.revisions(),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      await s.close();
    });

    it("does not answer a read of a write before that write is durable", async () => {
      const dir = await tempDir();
      let hold = false;
      let entered: () => void = () => {};
      let release: () => void = () => {};
      const s = await openEmbeddedStore({
        dataDir: dir,
        io: {
          async sync(fh) {
            if (hold) {
              entered();
              await new Promise<void>((res) => (release = res));
            }
            await fh.datasync();
          },
        },
      });
      hold = true;
      const inSync = new Promise<void>((res) => (entered = res));
      const put = s.put("/a", "1");
      await inSync;
      let seen: string | null | undefined;
      const read = s.get("/a").then((kv) => (seen = kv?.value ?? null));
      for (let i = 0; i < 5; i++) await new Promise((res) => setImmediate(res));
      assert.equal(seen, undefined, "the read waits for the batch to be durable");
      hold = false;
      release();
      await put;
      await read;
      assert.equal(seen, "1");
      await s.close();
    });
  });

  describe("building blocks", () => {
    it("computes the standard CRC-32", () => {
      assert.equal(crc32(Buffer.from("123456789")), 0xcbf43926);
      assert.equal(crc32(Buffer.alloc(0)), 0);
      const bytes = Buffer.from(Array.from({ length: 1280 }, (_, i) => i % 256));
      assert.equal(crc32(bytes), 0x1e7a6d24); // zlib.crc32(bytes(range(256)) * 5)
      assert.equal(crc32(bytes, 3, 1003), crc32(bytes.subarray(3, 1003)));
    });

    it("orders keys by code point (UTF-8 byte order), not UTF-16 code unit", () => {
      const keys = ["a\uE000", "a😀", "a\uFFFF", "a", "ab", "a\u0100", "\u{10FFFF}", "\uD7FF"];
      const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      assert.deepEqual([...keys].sort(compareKeys), byBytes);
    });

    it("ranges 1,000 keys out of 100,000 in well under 5 ms", async () => {
      const dir = await tempDir();
      const s = await openEmbeddedStore({ dataDir: dir, fsync: false });
      for (let chunk = 0; chunk < 100; chunk++) {
        await Promise.all(
          Array.from({ length: 1000 }, (_, j) => {
            const i = chunk * 1000 + j;
            return s.put(`/registry/ns-${i % 100}/obj-${String(i).padStart(6, "0")}`, "{}");
          }),
        );
      }
      const times: number[] = [];
      for (let i = 0; i < 21; i++) {
        const t0 = performance.now();
        const r = await s.range(`/registry/ns-${i + 10}/`);
        times.push(performance.now() - t0);
        assert.equal(r.kvs.length, 1000);
      }
      times.sort((a, b) => a - b);
      assert.ok(times[10] < 5, `median range took ${times[10].toFixed(2)} ms`);
      await s.close();
    });
  });
});
