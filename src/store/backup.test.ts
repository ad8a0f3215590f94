import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test, type TestContext } from "node:test";
import { Etcd3 } from "etcd3";
import { startEtcd, type TestEtcd } from "../../test/support/etcd.js";
import {
  BACKUP_VERSION,
  BackupFormatError,
  encodeBackup,
  readBackup,
  readForBackup,
  type Backup,
  type BackupHeader,
} from "./backup.js";
import { openEmbeddedStore } from "./embedded.js";
import { openEtcdStore } from "./etcd.js";
import { RestoreFailedError, RestoreRefusedError, restoreEmbedded, restoreEtcd } from "./restore.js";
import { CompactedError, type KeyValue, type Store } from "./store.js";

const dirs: string[] = [];
after(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), "krake-backup-"));
  dirs.push(d);
  return d;
}

let shared: Promise<TestEtcd> | undefined;
const sharedEtcd = () => (shared ??= startEtcd());
after(async () => {
  if (shared) await (await shared).stop();
});
let prefixCounter = 0;
const uniquePrefix = () => `/b${process.pid}-${++prefixCounter}/`;

async function ownEtcd(t: TestContext): Promise<TestEtcd> {
  const etcd = await startEtcd();
  t.after(() => etcd.stop());
  return etcd;
}

async function embedded(t: TestContext, dataDir?: string): Promise<{ store: Store; dir: string }> {
  const dir = dataDir ?? join(await tempDir(), "data");
  const store = await openEmbeddedStore({ dataDir: dir, fsync: false });
  t.after(() => store.close());
  return { store, dir };
}

async function etcdStore(t: TestContext, endpoint: string, prefix = uniquePrefix()): Promise<Store> {
  const store = await openEtcdStore({ endpoints: [endpoint], prefix });
  t.after(() => store.close());
  return store;
}

const plain = (kv: KeyValue): KeyValue => ({
  key: kv.key,
  value: kv.value,
  createRevision: kv.createRevision,
  modRevision: kv.modRevision,
});

/** Creates, updates and deletes over a small key space, with values that need JSON escaping. */
async function seed(store: Store, n = 40): Promise<void> {
  for (let i = 0; i < n; i++) {
    const key = `/core/things/k${i % 17}`;
    if (i % 7 === 6) await store.delete(key);
    else
      await store.put(key, JSON.stringify({ metadata: { name: `k${i}` }, text: `"quoted" \n ünïcødé ${i}` }));
  }
}

async function toBytes(header: BackupHeader, kvs: readonly KeyValue[]): Promise<Buffer> {
  return Buffer.concat([...encodeBackup(header, kvs)]);
}

async function* chunksOf(buf: Buffer, size = 7): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

async function backupOf(store: Store): Promise<{ backup: Backup; bytes: Buffer }> {
  const { header, kvs } = await readForBackup(store);
  const bytes = await toBytes(header, kvs);
  return { backup: await readBackup(chunksOf(bytes, 1000), "test"), bytes };
}

const refusal = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof BackupFormatError, `expected BackupFormatError, got ${String(err)}`);
  assert.match(err.message, pattern);
  return true;
};

describe("backup format", () => {
  const header: BackupHeader = {
    format: "krake-backup",
    version: BACKUP_VERSION,
    store: "embedded",
    revision: 9,
    keys: 2,
    created: "2026-01-01T00:00:00.000Z",
    krake_version: "test",
  };
  const kvs: KeyValue[] = [
    { key: "/a", value: '{"x":"\\n\\"y\\""}', createRevision: 1, modRevision: 5 },
    { key: "/b/ü", value: "plain", createRevision: 9, modRevision: 9 },
  ];

  test("round trips, whatever the chunking; the header, keys and trailer are one line each", async () => {
    const bytes = await toBytes(header, kvs);
    const lines = bytes.toString("utf8").split("\n");
    assert.equal(lines.length, 5, "4 lines and the final newline");
    assert.deepEqual(JSON.parse(lines[0]), header);
    assert.deepEqual(JSON.parse(lines[1]), {
      key: "/a",
      value: kvs[0].value,
      create_revision: 1,
      mod_revision: 5,
    });
    assert.equal(JSON.parse(lines[3]).end, true);
    for (const size of [1, 3, 64, bytes.length]) {
      const back = await readBackup(chunksOf(bytes, size), "mem");
      assert.deepEqual(back.header, header);
      assert.deepEqual(back.kvs, kvs);
      assert.equal(back.bytes, bytes.length);
    }
  });

  test("a file cut anywhere is refused as cut short", async () => {
    const bytes = await toBytes(header, kvs);
    for (let cut = 0; cut < bytes.length; cut++) {
      await assert.rejects(readBackup(chunksOf(bytes.subarray(0, cut)), "cut.ndjson"), (err: unknown) => {
        assert.ok(err instanceof BackupFormatError, `cut at ${cut}: ${String(err)}`);
        assert.match(err.message, /^cut\.ndjson: /);
        assert.match(
          err.message,
          /cut short|empty|first line|trailer|not JSON/,
          `cut at ${cut}: ${err.message}`,
        );
        return true;
      });
    }
  });

  test("a changed byte is refused: checksum, or the line it broke", async () => {
    const bytes = await toBytes(header, kvs);
    const text = bytes.toString("latin1");
    const at = text.indexOf("plain");
    const altered = Buffer.from(text.slice(0, at) + "Plain" + text.slice(at + 5), "latin1");
    await assert.rejects(readBackup(chunksOf(altered), "f"), refusal(/line 4: checksum mismatch/));
    const badRevision = Buffer.from(text.replace('"mod_revision":5', '"mod_revision":50'), "latin1");
    await assert.rejects(
      readBackup(chunksOf(badRevision), "f"),
      refusal(
        /line 2: key "\/a": mod_revision: expected an integer from create_revision \(1\) to the backup's revision \(9\), got 50/,
      ),
    );
  });

  test("refuses other formats, newer versions, extra keys, duplicates and data after the trailer", async () => {
    const bytes = (await toBytes(header, kvs)).toString("utf8");
    const lines = bytes.split("\n");
    const variant = (f: (l: string[]) => string[]) => chunksOf(Buffer.from(f([...lines]).join("\n")));
    await assert.rejects(readBackup(chunksOf(Buffer.from("hello\n")), "f"), refusal(/not a Krake backup/));
    await assert.rejects(
      readBackup(
        variant((l) => [JSON.stringify({ ...header, version: BACKUP_VERSION + 1 }), ...l.slice(1)]),
        "f",
      ),
      refusal(new RegExp(`line 1: version ${BACKUP_VERSION + 1} is newer than this krake`)),
    );
    await assert.rejects(
      readBackup(
        variant((l) => [JSON.stringify({ ...header, format: "etcd-snapshot" }), ...l.slice(1)]),
        "f",
      ),
      refusal(/format is "etcd-snapshot", expected "krake-backup"/),
    );
    await assert.rejects(
      readBackup(
        variant((l) => [l[0], l[1], l[1], l[2], l[3], ""]),
        "f",
      ),
      refusal(/appears twice/),
    );
    await assert.rejects(
      readBackup(
        variant((l) => [...l.slice(0, 4), "{}", ""]),
        "f",
      ),
      refusal(/line 5: data after the trailer/),
    );
    await assert.rejects(
      readBackup(
        variant((l) => [l[0], l[1], l[3], ""]),
        "f",
      ),
      refusal(/the trailer counts 2 keys, the header 2, and the file holds 1/),
    );
  });
});

describe("embedded store: backup and restore", () => {
  test("round trip keeps every key, value and revision; the revision jumps and older versions get 410", async (t) => {
    const { store } = await embedded(t);
    await seed(store);
    const { backup } = await backupOf(store);
    const before = await store.range("");
    assert.equal(backup.header.revision, before.revision);
    assert.equal(backup.header.store, "embedded");
    assert.deepEqual(backup.kvs, before.kvs.map(plain));

    const target = join(await tempDir(), "restored");
    const report = await restoreEmbedded(backup, { dataDir: target, force: false, bumpRevision: 1000 });
    assert.equal(report.revision, before.revision + 1000);
    const { store: restored } = await embedded(t, target);
    const after = await restored.range("");
    assert.equal(after.revision, before.revision + 1000);
    assert.deepEqual(after.kvs.map(plain), before.kvs.map(plain));
    await assert.rejects(
      restored.watch("", { afterRevision: before.revision, onEvents() {}, onError() {} }),
      CompactedError,
      "a watch from before the restore must relist",
    );
    const put = await restored.put("/core/things/new", "{}");
    assert.ok(put.ok && put.kv.modRevision === before.revision + 1001);
  });

  test("an empty backup restores into an empty store", async (t) => {
    const { store } = await embedded(t);
    const { backup } = await backupOf(store);
    assert.equal(backup.kvs.length, 0);
    const target = join(await tempDir(), "empty");
    await restoreEmbedded(backup, { dataDir: target, force: false, bumpRevision: 0 });
    const { store: restored } = await embedded(t, target);
    assert.deepEqual((await restored.range("")).kvs, []);
  });

  test("into a store that was opened and never written (an empty WAL) without --force; it reopens cleanly", async (t) => {
    const { store } = await embedded(t);
    await seed(store, 10);
    const { backup } = await backupOf(store);
    const target = join(await tempDir(), "fresh");
    const fresh = await openEmbeddedStore({ dataDir: target, fsync: false });
    await fresh.close();
    await restoreEmbedded(backup, { dataDir: target, force: false, bumpRevision: 5 });
    const first = await openEmbeddedStore({ dataDir: target, fsync: false });
    assert.ok((await first.put("/x", "after")).ok);
    await first.close();
    const second = await openEmbeddedStore({ dataDir: target, fsync: false });
    t.after(() => second.close());
    assert.equal((await second.get("/x"))?.modRevision, backup.header.revision + 6);
    assert.equal((await second.range("")).kvs.length, backup.kvs.length + 1);
  });

  test("refuses a store with data without --force, changing nothing; with --force replaces it and keeps the old one aside", async (t) => {
    const source = await embedded(t);
    await seed(source.store, 20);
    const { backup } = await backupOf(source.store);

    const targetDir = join(await tempDir(), "target");
    const other = await openEmbeddedStore({ dataDir: targetDir, fsync: false });
    await other.put("/core/things/only-in-target", "old");
    await other.close();
    const filesBefore = (await readdir(targetDir)).sort();

    await assert.rejects(
      restoreEmbedded(backup, { dataDir: targetDir, force: false, bumpRevision: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof RestoreRefusedError);
        assert.match(err.message, /already holds an embedded store .*--force/);
        return true;
      },
    );
    assert.deepEqual((await readdir(targetDir)).sort(), filesBefore, "nothing changed, no LOCK left behind");

    const report = await restoreEmbedded(backup, { dataDir: targetDir, force: true, bumpRevision: 0 });
    assert.ok(report.previous);
    assert.deepEqual(
      await readdir(report.previous).then((f) => f.sort()),
      filesBefore,
      "the old store moved aside whole",
    );
    dirs.push(report.previous);
    const { store: restored } = await embedded(t, targetDir);
    assert.deepEqual((await restored.range("")).kvs.map(plain), backup.kvs);
    const old = await openEmbeddedStore({ dataDir: report.previous, fsync: false });
    t.after(() => old.close());
    assert.equal((await old.get("/core/things/only-in-target"))?.value, "old");
  });

  test("refuses a directory held by a running store, and one that is not a data directory", async (t) => {
    const { store, dir } = await embedded(t);
    await seed(store, 5);
    const { backup } = await backupOf(store);
    await assert.rejects(
      restoreEmbedded(backup, { dataDir: dir, force: true, bumpRevision: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof RestoreRefusedError);
        assert.match(
          err.message,
          /is in use by another process \(this process, pid \d+\): stop the API server/,
        );
        return true;
      },
    );
    assert.equal((await store.range("")).kvs.length, backup.kvs.length, "the running store is untouched");

    const home = await tempDir();
    await writeFile(join(home, "notes.txt"), "mine");
    await mkdir(join(home, "photos"));
    await assert.rejects(
      restoreEmbedded(backup, { dataDir: home, force: true, bumpRevision: 0 }),
      (err: unknown) => {
        assert.ok(err instanceof RestoreRefusedError);
        assert.match(
          err.message,
          /is not an embedded store's data directory \(it holds notes\.txt, photos\)/,
        );
        return true;
      },
    );
    assert.deepEqual((await readdir(home)).sort(), ["notes.txt", "photos"]);
  });

  test("a backup taken while writes go on holds exactly the state at its revision", async (t) => {
    const { store } = await embedded(t);
    await liveBackupIsConsistent(store);
  });
});

/**
 * Writers put and delete while a backup is read; afterwards the state at the backup's revision is rebuilt
 * from the writes' acknowledged revisions and must equal the backup exactly.
 */
async function liveBackupIsConsistent(store: Store): Promise<void> {
  const writes: Array<{ key: string; value: string | null; revision: number }> = [];
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    // Every writer goes on for a few writes after the last backup, so each backup has writes after it.
    for (let i = 0, after = 5; after > 0; i++) {
      if (stop) after--;
      const key = `/live/w${w}/k${i % 10}`;
      if (i % 9 === 8) {
        const res = await store.delete(key);
        if (res.ok) writes.push({ key, value: null, revision: res.revision });
      } else {
        const value = `w${w} i${i}`;
        const res = await store.put(key, value);
        assert.ok(res.ok);
        writes.push({ key, value, revision: res.kv.modRevision });
      }
    }
  });
  // Start the backup once writing is under way, and take a few while it goes on.
  while (writes.length < 20) await new Promise((r) => setImmediate(r));
  const backups: Backup[] = [];
  for (let i = 0; i < 3; i++) backups.push((await backupOf(store)).backup);
  stop = true;
  await Promise.all(writers);
  for (const backup of backups) {
    const r = backup.header.revision;
    const expected = new Map<string, { value: string; revision: number }>();
    for (const w of [...writes].sort((a, b) => a.revision - b.revision)) {
      if (w.revision > r) break;
      if (w.value === null) expected.delete(w.key);
      else expected.set(w.key, { value: w.value, revision: w.revision });
    }
    const got = new Map(backup.kvs.map((kv) => [kv.key, { value: kv.value, revision: kv.modRevision }]));
    assert.ok(
      writes.some((w) => w.revision > r),
      "writes went on after the backup's revision",
    );
    assert.deepEqual(got, expected, `the backup at revision ${r} is the state at ${r}`);
  }
}

describe("etcd store: backup and restore", () => {
  test("round trip into another prefix; history is compacted so older resource versions get 410", async (t) => {
    const etcd = await sharedEtcd();
    const source = await etcdStore(t, etcd.endpoint);
    await seed(source);
    const { backup } = await backupOf(source);
    assert.equal(backup.header.store, "etcd");
    assert.deepEqual(backup.kvs, (await source.range("")).kvs.map(plain));

    const prefix = uniquePrefix();
    const report = await restoreEtcd(backup, {
      endpoints: [etcd.endpoint],
      prefix,
      force: false,
      bumpRevision: 0,
      compact: true,
    });
    assert.deepEqual(report.warnings, [], "same cluster: revisions only grow");
    const restored = await etcdStore(t, etcd.endpoint, prefix);
    const after = await restored.range("");
    assert.deepEqual(
      after.kvs.map((kv) => [kv.key, kv.value]),
      backup.kvs.map((kv) => [kv.key, kv.value]),
    );
    assert.ok(
      after.kvs.every((kv) => kv.modRevision > backup.header.revision),
      "every key got a new revision",
    );
    assert.equal(report.revision, after.revision);
    await assert.rejects(
      restored.watch("", { afterRevision: report.revision - 1, onEvents() {}, onError() {} }),
      CompactedError,
    );
  });

  test("refuses a prefix with keys without --force; with --force replaces exactly what was there", async (t) => {
    const etcd = await sharedEtcd();
    const source = await etcdStore(t, etcd.endpoint);
    await seed(source, 15);
    const { backup } = await backupOf(source);
    const prefix = uniquePrefix();
    const target = await etcdStore(t, etcd.endpoint, prefix);
    await target.put("/only/in/target", "x");
    const revision = await target.revision();
    const options = { endpoints: [etcd.endpoint], prefix, force: false, bumpRevision: 0, compact: false };
    await assert.rejects(restoreEtcd(backup, options), (err: unknown) => {
      assert.ok(err instanceof RestoreRefusedError);
      assert.match(
        err.message,
        /already holds 1 key\(s\) \(\/only\/in\/target\); restore replaces them only with --force/,
      );
      return true;
    });
    assert.equal(await target.revision(), revision, "nothing was written");
    const report = await restoreEtcd(backup, { ...options, force: true });
    assert.equal(report.replacedKeys, 1);
    assert.deepEqual(
      (await target.range("")).kvs.map((kv) => [kv.key, kv.value]),
      backup.kvs.map((kv) => [kv.key, kv.value]),
    );
  });

  test("a write under the prefix during the restore stops it and says so", async (t) => {
    const etcd = await sharedEtcd();
    const source = await etcdStore(t, etcd.endpoint);
    for (let i = 0; i < 300; i++) await source.put(`/core/things/k${String(i).padStart(3, "0")}`, `v${i}`);
    const { backup } = await backupOf(source);
    const prefix = uniquePrefix();
    const intruder = await etcdStore(t, etcd.endpoint, prefix);
    const options = { endpoints: [etcd.endpoint], prefix, force: false, bumpRevision: 0, compact: false };
    await assert.rejects(
      restoreEtcd(backup, {
        ...options,
        beforeBatch: async (i) => void (i === 0 && (await intruder.put("/core/x", "api server"))),
      }),
      (err: unknown) => {
        assert.ok(err instanceof RestoreRefusedError, String(err));
        assert.match(
          err.message,
          /written by someone else during the restore .*is an API server still running\?.*nothing was written/,
        );
        return true;
      },
    );
    assert.deepEqual(
      (await intruder.range("")).kvs.map((kv) => kv.key),
      ["/core/x"],
    );
    await assert.rejects(
      restoreEtcd(backup, {
        ...options,
        force: true,
        beforeBatch: async (i) => void (i === 1 && (await intruder.put("/core/y", "api server"))),
      }),
      (err: unknown) => {
        assert.ok(err instanceof RestoreFailedError, String(err));
        assert.match(err.message, /stopped after 1 of 3 batches, so the prefix is partly restored/);
        return true;
      },
    );
    await restoreEtcd(backup, { ...options, force: true });
    assert.equal((await intruder.range("")).kvs.length, 300);
  });

  test("refuses, before writing anything, a value larger than etcd takes", async (t) => {
    const etcd = await sharedEtcd();
    const big: Backup = {
      header: {
        format: "krake-backup",
        version: 1,
        store: "embedded",
        revision: 2,
        keys: 2,
        created: new Date().toISOString(),
        krake_version: "t",
      },
      kvs: [
        { key: "/a", value: "small", createRevision: 1, modRevision: 1 },
        { key: "/big", value: "x".repeat(2 * 1024 * 1024), createRevision: 2, modRevision: 2 },
      ],
      bytes: 0,
      sha256: "",
    };
    const prefix = uniquePrefix();
    await assert.rejects(
      restoreEtcd(big, { endpoints: [etcd.endpoint], prefix, force: false, bumpRevision: 0, compact: false }),
      /key "\/big" holds \d+ bytes; etcd accepts at most \d+ per request .*nothing was written/,
    );
    const store = await etcdStore(t, etcd.endpoint, prefix);
    assert.deepEqual((await store.range("")).kvs, []);
  });

  test("into another etcd (lower revision): a warning, and --bump-revision moves the revision past the backup's", async (t) => {
    const etcd = await sharedEtcd();
    const source = await etcdStore(t, etcd.endpoint);
    await seed(source, 10);
    const { backup } = await backupOf(source);
    const fresh = await ownEtcd(t);
    const plainRun = await restoreEtcd(backup, {
      endpoints: [fresh.endpoint],
      prefix: "/p1/",
      force: false,
      bumpRevision: 0,
      compact: true,
    });
    assert.equal(plainRun.warnings.length, 1);
    assert.match(
      plainRun.warnings[0],
      /below the backup's \(\d+\): this is not the etcd the backup was taken from.*--bump-revision/,
    );
    const bumped = await restoreEtcd(backup, {
      endpoints: [fresh.endpoint],
      prefix: "/p2/",
      force: false,
      bumpRevision: 50,
      compact: true,
    });
    assert.deepEqual(bumped.warnings, []);
    const store = await etcdStore(t, fresh.endpoint, "/p2/");
    const after = await store.range("");
    assert.ok(
      after.kvs.every((kv) => kv.modRevision > backup.header.revision + 50),
      "new revisions are past the bump",
    );
    assert.deepEqual(
      after.kvs.map((kv) => kv.value),
      backup.kvs.map((kv) => kv.value),
    );
  });

  test("with no prefix, the backup is every key of the etcd (and the restore replaces every key)", async (t) => {
    const etcd = await ownEtcd(t);
    const client = new Etcd3({ hosts: etcd.endpoint });
    t.after(() => client.close());
    await client.put("/core/roles/a").value("1");
    await client.put("/other/app").value("2");
    const store = await etcdStore(t, etcd.endpoint, "");
    const { backup } = await backupOf(store);
    assert.deepEqual(
      backup.kvs.map((kv) => kv.key),
      ["/core/roles/a", "/other/app"],
    );
    await client.put("/after/backup").value("3");
    await restoreEtcd(backup, {
      endpoints: [etcd.endpoint],
      prefix: "",
      force: true,
      bumpRevision: 0,
      compact: true,
    });
    assert.deepEqual(await client.getAll().keys(), ["/core/roles/a", "/other/app"]);
  });

  test("a backup taken while writes go on holds exactly the state at its revision", async (t) => {
    const etcd = await sharedEtcd();
    await liveBackupIsConsistent(await etcdStore(t, etcd.endpoint));
  });

  test("an embedded backup restores into etcd, and an etcd backup into the embedded store", async (t) => {
    const etcd = await sharedEtcd();
    const { store: emb } = await embedded(t);
    await seed(emb, 12);
    const fromEmbedded = (await backupOf(emb)).backup;
    const prefix = uniquePrefix();
    await restoreEtcd(fromEmbedded, {
      endpoints: [etcd.endpoint],
      prefix,
      force: false,
      bumpRevision: 0,
      compact: false,
    });
    const inEtcd = await etcdStore(t, etcd.endpoint, prefix);
    const fromEtcd = (await backupOf(inEtcd)).backup;
    const dir = join(await tempDir(), "back");
    await restoreEmbedded(fromEtcd, { dataDir: dir, force: false, bumpRevision: 10 });
    const { store: again } = await embedded(t, dir);
    assert.deepEqual(
      (await again.range("")).kvs.map((kv) => [kv.key, kv.value]),
      fromEmbedded.kvs.map((kv) => [kv.key, kv.value]),
    );
  });
});

test("a backup file round trips through disk byte for byte", async () => {
  const dir = await tempDir();
  const store = await openEmbeddedStore({ dataDir: join(dir, "d"), fsync: false });
  try {
    await seed(store, 8);
    const { bytes } = await backupOf(store);
    await writeFile(join(dir, "b.ndjson"), bytes);
    const back = await readBackup(chunksOf(await readFile(join(dir, "b.ndjson")), 4096), "b.ndjson");
    assert.deepEqual(Buffer.concat([...encodeBackup(back.header, back.kvs)]), bytes);
  } finally {
    await store.close();
  }
});
