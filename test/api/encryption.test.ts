/**
 * Encryption at rest through the API server, on both stores: a secret written through the API never reaches
 * the disk or etcd in plaintext, a restart with the key reads it back, a wrong or missing key stops the
 * server at startup, a value that does not open later answers 500 STORE_DECRYPTION_ERROR with an error log,
 * backups are sealed, and the online rewrite / status routes work. The captured logs are searched for the
 * secret.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { Etcd3 } from "etcd3";
import pino from "pino";
import YAML from "yaml";
import { resolveApiConfig, type ApiOptions } from "../../src/api/config.js";
import type { ApiServer } from "../../src/api/server.js";
import { startApiServer } from "../../src/api/start.js";
import { readBackup } from "../../src/store/backup.js";
import { SEALED_PREFIX, sealedKeyName } from "../../src/store/encryption/keyring.js";
import type { EncryptedStore } from "../../src/store/encryption/store.js";
import { http } from "../support/api.js";
import { bodies } from "../support/fixtures.js";
import { startEtcd, type TestEtcd } from "../support/etcd.js";

const SECRET = "Im-Passw0rd-9f1c2e-never-in-plaintext";
const PROVIDER = "/infrastructure/globalinfrastructureproviders/im-provider";

let dir: string;
let etcd: TestEtcd;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-api-encryption-"));
  etcd = await startEtcd();
});
after(async () => {
  await etcd.stop();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function keyFile(...names: string[]): Promise<{ path: string; keys: Record<string, string> }> {
  const keys: Record<string, string> = {};
  for (const name of names) keys[name] = randomBytes(32).toString("base64");
  return write(keys);
}
async function write(keys: Record<string, string>): Promise<{ path: string; keys: Record<string, string> }> {
  const path = join(dir, `keys-${++n}.yaml`);
  await writeFile(path, YAML.stringify(Object.entries(keys).map(([name, secret]) => ({ name, secret }))), {
    mode: 0o600,
  });
  return { path, keys };
}

/** An API server whose log lines are kept, to search them. */
async function start(options: ApiOptions, logs: string[]): Promise<ApiServer> {
  const config = resolveApiConfig({ host: "127.0.0.1", port: 0, fsync: false, logLevel: "info", ...options });
  const logger = pino({ level: "debug" }, { write: (line: string) => void logs.push(line) });
  return startApiServer(config, { logger });
}

async function createProvider(url: string): Promise<void> {
  const body = bodies.GlobalInfrastructureProvider("im-provider");
  body.spec.im.password = SECRET;
  const res = await http(url, "POST", "/infrastructure/globalinfrastructureproviders", body);
  assert.equal(res.status, 200, res.text);
}

async function rawBytes(d: string): Promise<string> {
  const names = await readdir(d);
  return Buffer.concat(await Promise.all(names.map((f) => readFile(join(d, f))))).toString("latin1");
}

const stores: { name: string; options: () => ApiOptions; raw: (opts: ApiOptions) => Promise<string> }[] = [
  {
    name: "embedded",
    options: () => ({ dataDir: join(dir, `data-${++n}`) }),
    raw: (opts) => rawBytes(opts.dataDir!),
  },
  {
    name: "etcd",
    options: () => ({ etcd: etcd.endpoint, etcdPrefix: `/api-enc-${++n}` }),
    raw: async (opts) => {
      const client = new Etcd3({ hosts: etcd.endpoint });
      try {
        return Object.values(await client.getAll().prefix(opts.etcdPrefix!).strings()).join("\n");
      } finally {
        client.close();
      }
    },
  },
];

for (const kind of stores) {
  describe(`API server encrypted at rest (${kind.name} store)`, () => {
    it("stores no plaintext secret, reads it back after a restart with the key, and refuses to start with a wrong or missing key", async () => {
      const logs: string[] = [];
      const storeOptions = kind.options();
      const keys = await keyFile("k1");
      let server = await start({ ...storeOptions, encryptionKeyFile: keys.path }, logs);
      try {
        await createProvider(server.url);
        const stored = (await (server.store as EncryptedStore).raw.get(PROVIDER))!.value;
        assert.ok(stored.startsWith(`${SEALED_PREFIX}v1:k1:`), stored.slice(0, 30));
      } finally {
        await server.close();
      }
      const raw = await kind.raw(storeOptions);
      assert.ok(raw.length > 0);
      assert.ok(!raw.includes(SECRET), "the secret is in the store's raw bytes");

      server = await start({ ...storeOptions, encryptionKeyFile: keys.path }, logs);
      try {
        const res = await http(
          server.url,
          "GET",
          "/infrastructure/globalinfrastructureproviders/im-provider",
        );
        assert.equal(res.status, 200, res.text);
        assert.equal(JSON.parse((await server.store.get(PROVIDER))!.value).spec.im.password, SECRET);
        assert.ok(
          logs.some((l) => l.includes("encryption at rest: every stored value's key is in the key file, and a sample decrypts")),
        );
      } finally {
        await server.close();
      }

      const wrong = await write({ k1: randomBytes(32).toString("base64") });
      const missing = await keyFile("k2");
      for (const [file, pattern] of [
        [wrong.path, /authentication failed with key "k1"/],
        [missing.path, /encrypted with key "k1", which is not in encryption key file/],
      ] as const) {
        await assert.rejects(start({ ...storeOptions, encryptionKeyFile: file }, logs), (err: Error) => {
          assert.match(err.message, pattern);
          assert.ok(err.message.includes(PROVIDER), err.message);
          assert.ok(!err.message.includes(SECRET));
          return true;
        });
      }
      const all = logs.join("\n");
      assert.ok(!all.includes(SECRET), "the secret is in the logs");
      for (const secret of [...Object.values(keys.keys), ...Object.values(wrong.keys)]) {
        assert.ok(!all.includes(secret), "key material is in the logs");
      }
    });

    it("a value that does not open later answers 500 STORE_DECRYPTION_ERROR and logs the key name and store key", async () => {
      const logs: string[] = [];
      const keys = await keyFile("k1");
      const server = await start({ ...kind.options(), encryptionKeyFile: keys.path }, logs);
      try {
        await createProvider(server.url);
        await (server.store as EncryptedStore).raw.put(
          PROVIDER,
          `${SEALED_PREFIX}v1:retired:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`,
        );
        for (const path of [
          "/infrastructure/globalinfrastructureproviders/im-provider",
          "/infrastructure/globalinfrastructureproviders",
        ]) {
          const res = await http(server.url, "GET", path);
          assert.equal(res.status, 500, res.text);
          assert.equal(res.body.title, "STORE_DECRYPTION_ERROR");
          assert.ok(!res.text.includes("retired"), "the key name reaches the client");
        }
        const logged = logs
          .map((l) => JSON.parse(l))
          .find((l) => l.msg === "stored value cannot be decrypted");
        assert.ok(logged, "no error log");
        assert.equal(logged.level, 50);
        assert.equal(logged.keyName, "retired");
        assert.equal(logged.storeKey, PROVIDER);
      } finally {
        await server.close();
      }
    });

    it("GET /backup holds sealed values only; GET /encryption counts them and POST /encryption/rewrite moves them to the first key", async () => {
      const logs: string[] = [];
      const storeOptions = kind.options();
      const plain = await start(storeOptions, logs);
      try {
        await createProvider(plain.url);
        assert.equal((await http(plain.url, "GET", "/encryption")).body.title, "ENCRYPTION_NOT_CONFIGURED");
      } finally {
        await plain.close();
      }
      const old = await keyFile("old");
      const both = await write({ new: randomBytes(32).toString("base64"), ...old.keys });
      const server = await start({ ...storeOptions, encryptionKeyFile: both.path }, logs);
      try {
        const res = await fetch(`${server.url}/backup`);
        assert.equal(res.status, 200);
        const text = await res.text();
        assert.ok(!text.includes(SECRET), "plaintext in the backup");
        const backup = await readBackup(Readable.from([Buffer.from(text)]), "GET /backup");
        assert.ok(
          backup.kvs.length > 0 && backup.kvs.every((kv) => sealedKeyName(kv.key, kv.value) === "new"),
        );

        let status = await http(server.url, "GET", "/encryption");
        assert.equal(status.status, 200, status.text);
        assert.deepEqual(
          [status.body.current_key, status.body.plaintext, status.body.by_key.new],
          ["new", 1, 0],
        );
        const rewrite = await http(server.url, "POST", "/encryption/rewrite");
        assert.equal(rewrite.status, 200, rewrite.text);
        assert.deepEqual([rewrite.body.keys, rewrite.body.rewritten], [1, 1]);
        status = await http(server.url, "GET", "/encryption");
        assert.deepEqual([status.body.plaintext, status.body.by_key.new, status.body.by_key.old], [0, 1, 0]);
      } finally {
        await server.close();
      }
      assert.ok(!logs.join("\n").includes(SECRET), "the secret is in the logs");
    });
  });
}
