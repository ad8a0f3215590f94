/**
 * Encryption at rest at the store level: the key file, the sealed format, the wrapper over both stores
 * (the whole store contract), what reaches the disk and etcd, wrong and missing keys, rotation, migration
 * from plaintext, and backups.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import YAML from "yaml";
import { startEtcd, type TestEtcd } from "../../../test/support/etcd.js";
import { readForBackup } from "../backup.js";
import { storeContract, WatchRecorder } from "../contract.js";
import { openEmbeddedStore } from "../embedded.js";
import { openEtcdStore } from "../etcd.js";
import { openStore } from "../open.js";
import type { Store } from "../store.js";
import {
  DecryptionError,
  generateKeyEntry,
  KeyFileError,
  Keyring,
  parseKeyFile,
  readKeyFile,
  SEALED_PREFIX,
  sealedKeyName,
} from "./keyring.js";
import { rewriteStore } from "./rewrite.js";
import { EncryptedStore } from "./store.js";

const SECRET = "s3cr3t-Passw0rd-that-must-never-hit-the-disk";
const key = (name: string) => ({ name, secret: randomBytes(32) });
const ring = (...keys: { name: string; secret: Buffer }[]) => new Keyring(keys);
const entry = (k: { name: string; secret: Buffer }) => ({
  name: k.name,
  secret: k.secret.toString("base64"),
});

let dir: string;
let etcd: TestEtcd | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-encryption-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await etcd?.stop();
});
const sharedEtcd = async () => (etcd ??= await startEtcd());
let n = 0;
const fresh = (what: string) => join(dir, `${what}-${++n}`);

async function keyFile(...keys: { name: string; secret: Buffer }[]): Promise<string> {
  const path = fresh("keys.yaml");
  await writeFile(path, YAML.stringify(keys.map(entry)), { mode: 0o600 });
  return path;
}

/** Every byte of every file in `d`, as latin1 text to search. */
async function rawBytes(d: string): Promise<string> {
  const names = await readdir(d);
  const parts = await Promise.all(names.map((f) => readFile(join(d, f)).catch(() => Buffer.alloc(0))));
  return Buffer.concat(parts).toString("latin1");
}

describe("encryption key file", () => {
  it("reads a list of named keys; the first encrypts", async () => {
    const a = key("a");
    const b = key("b-2");
    const kr = readKeyFile(await keyFile(a, b));
    assert.deepEqual(kr.names(), ["a", "b-2"]);
    assert.equal(kr.current.name, "a");
    assert.equal(sealedKeyName("/k", kr.seal("/k", "v")), "a");
  });

  it("refuses a file that group or others may read, like ssh, and says how to fix it", async () => {
    const path = await keyFile(key("a"));
    await chmod(path, 0o644);
    assert.throws(
      () => readKeyFile(path),
      (err: Error) => {
        assert.ok(err instanceof KeyFileError);
        assert.match(err.message, /accessible by group or others \(mode 0644\).*chmod 600/);
        return true;
      },
    );
    await chmod(path, 0o640);
    assert.throws(() => readKeyFile(path), /mode 0640/);
    await chmod(path, 0o400);
    assert.equal(readKeyFile(path).current.name, "a");
  });

  it("names the entry that is wrong, and never echoes key material", () => {
    const good = entry(key("good"));
    const short = randomBytes(16).toString("base64");
    const cases: [unknown, RegExp][] = [
      [{ name: "a" }, /expected a YAML list/],
      [[], /no keys/],
      [["x"], /entry 1: expected a mapping/],
      [
        [good, { name: "good", secret: good.secret }],
        /entry 2 \(good\): the name is used by an earlier entry/,
      ],
      [
        [good, { name: "short", secret: short }],
        /entry 2 \(short\): secret must decode to exactly 32 bytes, it decodes to 16/,
      ],
      [[{ name: "bad name:", secret: good.secret }], /entry 1: name: expected a name/],
      [[{ name: "nob64", secret: "not base64!" }], /entry 1 \(nob64\): secret must be base64/],
      [[{ name: "x", secret: good.secret, extra: 1 }], /entry 1 \(x\): unknown field extra/],
    ];
    for (const [doc, pattern] of cases) {
      assert.throws(
        () => parseKeyFile(YAML.stringify(doc), "keys.yaml"),
        (err: Error) => {
          assert.ok(err instanceof KeyFileError, err.message);
          assert.match(err.message, pattern);
          assert.ok(
            !err.message.includes(good.secret) && !err.message.includes(short),
            "key material in the message",
          );
          return true;
        },
      );
    }
    assert.throws(
      () => parseKeyFile(`- name: a\n  secret: ${good.secret}\n - broken: [`, "keys.yaml"),
      (err: Error) => {
        assert.match(err.message, /not valid YAML \(line \d+/);
        assert.ok(!err.message.includes(good.secret));
        return true;
      },
    );
  });

  it("generate-key entries are valid key files", () => {
    const kr = parseKeyFile(generateKeyEntry("k2025-06-01"), "generated");
    assert.equal(kr.current.name, "k2025-06-01");
    assert.equal(kr.current.secret.length, 32);
    assert.throws(() => generateKeyEntry("no:colons"), KeyFileError);
  });
});

describe("sealed values", () => {
  const a = key("a");
  const kr = ring(a);

  it("round-trip, with a fresh IV per write and no plaintext in the sealed form", () => {
    const one = kr.seal("/infra/x", SECRET);
    const two = kr.seal("/infra/x", SECRET);
    assert.ok(one.startsWith(`${SEALED_PREFIX}v1:a:`));
    assert.notEqual(one, two);
    assert.ok(!one.includes(SECRET));
    assert.equal(kr.open("/infra/x", one), SECRET);
    assert.equal(kr.open("/infra/x", "plain {json}"), "plain {json}");
  });

  it("cannot be moved to another store key, altered, or opened without its key; errors name key and store key, never the value", () => {
    const sealed = kr.seal("/infra/x", SECRET);
    const check = (fn: () => unknown, keyName: string | null, storeKey: string, pattern: RegExp) =>
      assert.throws(fn, (err: Error) => {
        assert.ok(err instanceof DecryptionError, err.message);
        assert.equal(err.keyName, keyName);
        assert.equal(err.storeKey, storeKey);
        assert.ok(err.message.includes(JSON.stringify(storeKey)));
        assert.match(err.message, pattern);
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    check(() => kr.open("/infra/y", sealed), "a", "/infra/y", /authentication failed with key "a"/);
    const flipped = Buffer.from(sealed.slice(sealed.lastIndexOf(":") + 1), "base64");
    flipped[20] ^= 1;
    check(
      () => kr.open("/infra/x", `${SEALED_PREFIX}v1:a:${flipped.toString("base64")}`),
      "a",
      "/infra/x",
      /authentication failed/,
    );
    check(
      () => ring(key("b")).open("/infra/x", sealed),
      "a",
      "/infra/x",
      /encrypted with key "a", which is not in the key list \(it has "b"\)/,
    );
    check(
      () => ring({ name: "a", secret: randomBytes(32) }).open("/infra/x", sealed),
      "a",
      "/infra/x",
      /authentication failed/,
    );
    check(
      () => kr.open("/infra/x", `${SEALED_PREFIX}v9:a:xx`),
      null,
      "/infra/x",
      /unknown sealed-value format/,
    );
  });

  it("the wrapper's largest value still fits the store underneath once sealed", () => {
    const max = kr.maxPlaintextBytes(1000);
    assert.ok(kr.sealedBytes(max) <= 1000 && kr.sealedBytes(max + 3) > 1000, `max ${max}`);
  });
});

// ---- the whole store contract over the wrapper, on both stores ----

storeContract("embedded, encrypted at rest", async () => {
  const d = fresh("contract");
  const store = new EncryptedStore(
    await openEmbeddedStore({ dataDir: d, historyLimit: 1000, fsync: false }),
    ring(key("c")),
  );
  return {
    store,
    async cleanup() {
      await store.close();
      await rm(d, { recursive: true, force: true });
    },
    async compact(s: Store, revision: number) {
      for (let round = 0; (await s.compactRevision()) < revision; round++) {
        assert.ok(round < 100, "compaction did not advance");
        await Promise.all(
          Array.from({ length: 250 }, (_, i) => s.put(`/compact-filler/${i}`, String(round))),
        );
      }
    },
  };
});

storeContract("etcd, encrypted at rest", async () => {
  const e = await sharedEtcd();
  const prefix = `/enc-contract-${++n}/`;
  const store = new EncryptedStore(await openEtcdStore({ endpoints: [e.endpoint], prefix }), ring(key("c")));
  return {
    store,
    async cleanup() {
      await store.close();
      const client = new Etcd3({ hosts: e.endpoint });
      try {
        await client.delete().prefix(prefix);
      } finally {
        client.close();
      }
    },
    compact: (_s, revision) => e.compact(revision),
  };
});

// ---- what reaches the disk, restarts, wrong keys ----

describe("embedded store encrypted at rest", () => {
  const embedded = (dataDir: string, encryptionKeyFile?: string) =>
    openStore({
      type: "embedded",
      dataDir,
      fsync: false,
      historyLimit: 1000,
      ...(encryptionKeyFile ? { encryptionKeyFile } : {}),
    });

  it("keeps no plaintext on disk, reads it back after a restart with the key, and fails loudly with a wrong or missing key", async () => {
    const a = key("a");
    const d = fresh("data");
    const keys = await keyFile(a);
    let store = await embedded(d, keys);
    await store.put("/infra/globalinfrastructureproviders/im", JSON.stringify({ password: SECRET }));
    await store.close();
    const onDisk = await rawBytes(d);
    assert.ok(!onDisk.includes(SECRET), "the secret is on disk in plaintext");
    assert.ok(onDisk.includes(`${SEALED_PREFIX}v1:a:`), "no sealed value on disk");

    store = await embedded(d, keys);
    assert.equal(
      JSON.parse((await store.get("/infra/globalinfrastructureproviders/im"))!.value).password,
      SECRET,
    );
    await store.close();

    const wrongMaterial = await keyFile({ name: "a", secret: randomBytes(32) });
    const missingName = await keyFile(key("b"));
    for (const [file, pattern] of [
      [wrongMaterial, /authentication failed with key "a"/],
      [missingName, /encrypted with key "a", which is not in encryption key file .* \(it has "b"\)/],
    ] as const) {
      await assert.rejects(embedded(d, file), (err: Error) => {
        assert.ok(err instanceof DecryptionError, err.message);
        assert.match(err.message, pattern);
        assert.ok(err.message.includes("/infra/globalinfrastructureproviders/im"));
        assert.ok(!err.message.includes(SECRET));
        return true;
      });
    }
    // A failed open releases the directory: the right key still opens it.
    store = await embedded(d, keys);
    await store.close();
  });

  it("a later read of a value that does not open rejects, and a watch ends with the error instead of skipping it", async () => {
    const d = fresh("data");
    const store = (await embedded(d, await keyFile(key("a")))) as EncryptedStore;
    try {
      const rec = new WatchRecorder();
      await store.watch("/x/", { onEvents: rec.onEvents, onError: rec.onError });
      await store.raw.put("/x/ghost", `${SEALED_PREFIX}v1:gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
      await assert.rejects(store.get("/x/ghost"), /encrypted with key "gone"/);
      await assert.rejects(store.range("/x/"), DecryptionError);
      await rec.until(() => rec.errors.length === 1, "the watch error");
      assert.ok(rec.errors[0] instanceof DecryptionError);
      assert.equal(rec.events.length, 0);
      // A watch replaying it from history is refused outright.
      await assert.rejects(
        store.watch("/x/", { afterRevision: 0, onEvents: () => {}, onError: () => {} }),
        DecryptionError,
      );
    } finally {
      await store.close();
    }
  });

  it("migrates from plaintext: old values stay readable, new ones are sealed, rewrite seals the rest", async () => {
    const d = fresh("data");
    const plain = await embedded(d);
    for (let i = 0; i < 20; i++) await plain.put(`/k/${i}`, JSON.stringify({ i, password: SECRET }));
    await plain.close();
    const store = (await embedded(d, await keyFile(key("a")))) as EncryptedStore;
    try {
      assert.equal(JSON.parse((await store.get("/k/3"))!.value).i, 3);
      await store.put("/k/new", "{}");
      assert.deepEqual(await store.census().then((c) => [c.plaintext, c.byKey.a]), [20, 1]);
      const report = await rewriteStore(store);
      assert.deepEqual([report.keys, report.rewritten, report.unchanged], [21, 20, 1]);
      const census = await store.census();
      assert.deepEqual([census.plaintext, census.byKey.a], [0, 21]);
      assert.deepEqual(
        (await store.range("/k/")).kvs.map((kv) => JSON.parse(kv.value).i).filter((i) => i !== undefined)
          .length,
        20,
      );
    } finally {
      await store.close();
    }
  });

  it("the startup check decrypts a sample of a large store but checks every value's key name", async () => {
    const store = new EncryptedStore(
      await openEmbeddedStore({ dataDir: fresh("data"), fsync: false }),
      ring(key("a")),
    );
    try {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => store.put(`/k/${String(i).padStart(3, "0")}`, "{}")),
      );
      assert.equal((await store.census()).decrypted, 101);
      const sampled = await store.census({ decrypt: 10 });
      assert.equal(sampled.byKey.a, 100);
      assert.ok(sampled.decrypted >= 10 && sampled.decrypted <= 13, `decrypted ${sampled.decrypted}`);
      // A value under a name the key file lacks is found wherever it is, sampled or not.
      await store.raw.put("/k/050x", `${SEALED_PREFIX}v1:gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
      await assert.rejects(store.census({ decrypt: 10 }), /"\/k\/050x": it was encrypted with key "gone"/);
    } finally {
      await store.close();
    }
  });

  it("backups hold sealed values only: plaintext ones are sealed on the way out, sealed ones are checked", async () => {
    const d = fresh("data");
    const plain = await embedded(d);
    await plain.put("/old", JSON.stringify({ password: SECRET }));
    await plain.close();
    const a = key("a");
    const store = (await embedded(d, await keyFile(a))) as EncryptedStore;
    try {
      await store.put("/new", JSON.stringify({ password: SECRET }));
      const { kvs } = await readForBackup(store);
      assert.deepEqual(
        kvs.map((kv) => sealedKeyName(kv.key, kv.value)),
        ["a", "a"],
      );
      assert.ok(kvs.every((kv) => !kv.value.includes(SECRET)));
      assert.deepEqual(
        kvs.map((kv) => JSON.parse(ring(a).open(kv.key, kv.value)).password),
        [SECRET, SECRET],
      );
      await store.raw.put("/zz", `${SEALED_PREFIX}v1:gone:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`);
      await assert.rejects(readForBackup(store), /encrypted with key "gone"/);
    } finally {
      await store.close();
    }
  });
});

describe("etcd store encrypted at rest", () => {
  it("etcd's raw values hold no plaintext; rotation end to end with a writer running during the rewrite", async () => {
    const e = await sharedEtcd();
    const prefix = `/enc-rotation-${++n}/`;
    const etcdStore = (encryptionKeyFile: string) =>
      openStore({ type: "etcd", endpoints: [e.endpoint], prefix, encryptionKeyFile });
    const raw = new Etcd3({ hosts: e.endpoint });
    const opened: Store[] = [];
    try {
      const oldKey = key("old");
      const newKey = key("new");
      // 1. Encrypted with the old key.
      const s1 = await etcdStore(await keyFile(oldKey));
      opened.push(s1);
      for (let i = 0; i < 50; i++) await s1.put(`/k/${i}`, JSON.stringify({ i, password: SECRET }));
      const stored = await raw.getAll().prefix(prefix).strings();
      assert.equal(Object.keys(stored).length, 50);
      for (const v of Object.values(stored)) {
        assert.ok(!v.includes(SECRET), "plaintext in etcd");
        assert.ok(v.startsWith(`${SEALED_PREFIX}v1:old:`));
      }
      // 2. The new key added second: everything still reads, writes still use the old key.
      const s2 = await etcdStore(await keyFile(oldKey, newKey));
      opened.push(s2);
      assert.equal(JSON.parse((await s2.get("/k/7"))!.value).password, SECRET);
      // 3. The new key first; 4. rewrite while another server keeps writing with compare-and-swap.
      const s3 = (await etcdStore(await keyFile(newKey, oldKey))) as EncryptedStore;
      opened.push(s3);
      let writes = 0;
      let stop = false;
      const writer = (async () => {
        while (!stop) {
          const i = writes % 50;
          const cur = (await s2.get(`/k/${i}`))!;
          const r = await s2.put(`/k/${i}`, JSON.stringify({ i, password: SECRET, w: ++writes }), {
            expectModRevision: cur.modRevision,
          });
          if (!r.ok) continue;
          if (writes > 200) break;
        }
      })();
      const report = await rewriteStore(s3, { concurrency: 4 });
      stop = true;
      await writer;
      assert.equal(report.keys, 50);
      // Whatever s2 wrote after the rewrite passed it is sealed with the old key; a second rewrite settles it.
      await rewriteStore(s3);
      const census = await s3.census();
      assert.deepEqual([census.byKey.new, census.byKey.old, census.plaintext], [50, 0, 0]);
      // 5. The old key removed: everything still reads.
      const s4 = await etcdStore(await keyFile(newKey));
      opened.push(s4);
      const { kvs } = await s4.range("/k/");
      assert.equal(kvs.length, 50);
      assert.ok(kvs.every((kv) => JSON.parse(kv.value).password === SECRET));
      // A server still holding only the old key now fails loudly at startup.
      await assert.rejects(etcdStore(await keyFile(oldKey)), /encrypted with key "new", which is not in/);
    } finally {
      for (const s of opened) await s.close();
      await raw.delete().prefix(prefix);
      raw.close();
    }
  });
});
