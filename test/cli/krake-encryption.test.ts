/**
 * Encryption at rest and etcd TLS as an operator uses them: `krake encryption generate-key|status|rewrite`,
 * key rotation end to end through real `krake api` processes, sealed backups and restores that check the
 * key file, key-file and flag errors, and `krake api` / `backup` / `encryption rewrite` against an etcd that
 * requires client certificates.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import YAML from "yaml";
import { SEALED_PREFIX, sealedKeyName } from "../../src/store/encryption/keyring.js";
import { etcdStoreOptions } from "../../src/store/open.js";
import { resolveApiConfig } from "../../src/api/config.js";
import { http } from "../support/api.js";
import { makePki, type Pki } from "../support/certs.js";
import { startEtcd, type TestEtcd } from "../support/etcd.js";
import { bodies } from "../support/fixtures.js";
import { runKrake, startKrake, type KrakeProcess } from "../support/process.js";

const SECRET = "cloud-Passw0rd-77e0-never-in-plaintext";
const PROVIDER = "/infrastructure/globalinfrastructureproviders/im-provider";

let dir: string;
const running: KrakeProcess[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-encryption-cli-"));
});
after(async () => {
  for (const p of running) await p.kill();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
const path = (name: string) => join(dir, `${++n}-${name}`);

/** A key file from generate-key entries (the first encrypts). */
async function keyFile(...entries: string[]): Promise<string> {
  const file = path("keys.yaml");
  await writeFile(file, entries.join(""), { mode: 0o600 });
  return file;
}

async function generateKey(name: string): Promise<string> {
  const r = await runKrake(["encryption", "generate-key", name]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

async function api(args: string[]): Promise<KrakeProcess> {
  const p = await startKrake(["api", "--port", "0", "--no-fsync", ...args]);
  running.push(p);
  return p;
}

async function stop(p: KrakeProcess): Promise<void> {
  await p.kill("SIGTERM");
  running.splice(running.indexOf(p), 1);
}

async function createProvider(url: string): Promise<void> {
  const body = bodies.GlobalInfrastructureProvider("im-provider");
  body.spec.im.password = SECRET;
  const res = await http(url, "POST", "/infrastructure/globalinfrastructureproviders", body);
  assert.equal(res.status, 200, res.text);
}

async function dirBytes(d: string): Promise<string> {
  const names = await readdir(d);
  return Buffer.concat(
    await Promise.all(names.map((f) => readFile(join(d, f)).catch(() => Buffer.alloc(0)))),
  ).toString("latin1");
}

describe("krake encryption", () => {
  it("generate-key prints a fresh 256-bit key entry", async () => {
    const one = YAML.parse(await generateKey("k1"));
    const two = YAML.parse(await generateKey("k1"));
    assert.equal(one[0].name, "k1");
    assert.equal(Buffer.from(one[0].secret, "base64").length, 32);
    assert.notEqual(one[0].secret, two[0].secret);
    const bad = await runKrake(["encryption", "generate-key", "has:colon"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /the key name: expected a name/);
  });

  it("krake api refuses a key file others may read, and bad flag combinations, naming them", async () => {
    const keys = await keyFile(await generateKey("k1"));
    await chmod(keys, 0o644);
    const open = await runKrake([
      "api",
      "--port",
      "0",
      "--data-dir",
      path("data"),
      "--encryption-key-file",
      keys,
    ]);
    assert.equal(open.code, 1);
    assert.match(open.stdout + open.stderr, /accessible by group or others \(mode 0644\)[^"]*chmod 600/);
    const noEtcd = await runKrake(["api", "--etcd-cert", "c.pem", "--etcd-key", "k.pem"]);
    assert.equal(noEtcd.code, 2);
    assert.match(noEtcd.stderr, /etcd-cert: applies to etcd only: add --etcd/);
    const http = await runKrake(["api", "--etcd", "http://127.0.0.1:1", "--etcd-ca", "ca.pem"]);
    assert.equal(http.code, 2);
    assert.match(http.stderr, /TLS \(etcd-ca, etcd-cert\) needs https:\/\/ URLs/);
    const user = await runKrake(["api", "--etcd", "http://127.0.0.1:1", "--etcd-user", "krake"]);
    assert.equal(user.code, 2);
    assert.match(user.stderr, /etcd-user.*needs its password file \(etcd-password-file\)/);
    const nokey = await runKrake(["encryption", "rewrite", "--data-dir", path("data")]);
    assert.equal(nokey.code, 2);
    assert.match(nokey.stderr, /--encryption-key-file is needed/);
  });

  it("rotation end to end on the embedded store: add the new key second, move it first, rewrite, remove the old key; sealed backups and checked restores", async () => {
    const oldEntry = await generateKey("old");
    const newEntry = await generateKey("new");
    const data = path("data");
    // 0. Encryption on with the old key.
    let server = await api(["--data-dir", data, "--encryption-key-file", await keyFile(oldEntry)]);
    await createProvider(server.url);
    await stop(server);
    assert.ok(!(await dirBytes(data)).includes(SECRET), "the secret is on disk");
    // 1-2. New key second, then first; values written by the old key stay readable.
    server = await api(["--data-dir", data, "--encryption-key-file", await keyFile(oldEntry, newEntry)]);
    assert.equal((await http(server.url, "GET", PROVIDER)).status, 200);
    await stop(server);
    const both = await keyFile(newEntry, oldEntry);
    server = await api(["--data-dir", data, "--encryption-key-file", both]);
    // 3. Rewrite through the running server (it owns the embedded store), then check with status.
    const status = await runKrake(["encryption", "status", "--api", server.url]);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /old: 1\n/);
    assert.match(status.stdout, /run krake encryption rewrite before removing old/);
    const rewrite = await runKrake(["encryption", "rewrite", "--api", server.url]);
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.match(rewrite.stdout, /1 keys: 1 re-encrypted with new, 0 already were/);
    const locked = await runKrake([
      "encryption",
      "rewrite",
      "--data-dir",
      data,
      "--encryption-key-file",
      both,
    ]);
    assert.equal(locked.code, 1);
    assert.match(locked.stderr, /use --api URL to go through it/);
    await stop(server);
    // Offline, with the server stopped: nothing left to rewrite.
    const offline = await runKrake([
      "encryption",
      "rewrite",
      "--data-dir",
      data,
      "--encryption-key-file",
      both,
    ]);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /0 re-encrypted with new, 1 already were/);
    // 4. The old key removed: the server starts and reads everything.
    const onlyNew = await keyFile(newEntry);
    server = await api(["--data-dir", data, "--encryption-key-file", onlyNew]);
    assert.equal((await http(server.url, "GET", PROVIDER)).status, 200);
    await stop(server);

    // Backups keep the values sealed; a restore checks them against the key file before writing.
    const backupFile = path("backup.ndjson");
    const backup = await runKrake([
      "backup",
      "--data-dir",
      data,
      "--encryption-key-file",
      onlyNew,
      "-o",
      backupFile,
    ]);
    assert.equal(backup.code, 0, backup.stderr);
    const text = await readFile(backupFile, "utf8");
    assert.ok(!text.includes(SECRET), "plaintext in the backup");
    assert.ok(text.includes(`${SEALED_PREFIX}v1:new:`));
    const target = path("restored");
    const refused = await runKrake([
      "restore",
      backupFile,
      "--data-dir",
      target,
      "--encryption-key-file",
      await keyFile(oldEntry),
    ]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /encrypted with key "new", which is not in .*; nothing was written/);
    const bare = await runKrake(["restore", backupFile, "--data-dir", path("bare"), "--dry-run"]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.match(
      bare.stderr,
      /the backup holds values encrypted with key\(s\) new: the API servers need --encryption-key-file/,
    );
    const restored = await runKrake([
      "restore",
      backupFile,
      "--data-dir",
      target,
      "--encryption-key-file",
      onlyNew,
    ]);
    assert.equal(restored.code, 0, restored.stderr);
    server = await api(["--data-dir", target, "--encryption-key-file", onlyNew]);
    assert.equal((await http(server.url, "GET", PROVIDER)).status, 200);
    await stop(server);
    // The old key alone no longer opens the store: startup fails, naming the key and the store key.
    const wrong = await runKrake([
      "api",
      "--port",
      "0",
      "--data-dir",
      target,
      "--encryption-key-file",
      await keyFile(oldEntry),
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout + wrong.stderr, /encrypted with key \\"new\\", which is not in/);
    assert.ok((wrong.stdout + wrong.stderr).includes(PROVIDER));
    assert.ok(!(wrong.stdout + wrong.stderr).includes(SECRET));
  });

  it("the etcd password file: trailing newline dropped, empty or missing files named", async () => {
    const file = path("etcd-password");
    await writeFile(file, "pw\n", { mode: 0o600 });
    const opts = await etcdStoreOptions({
      endpoints: ["http://x:1"],
      prefix: "",
      user: "krake",
      passwordFile: file,
    });
    assert.deepEqual(opts.auth, { username: "krake", password: "pw" });
    await writeFile(file, "\n");
    await assert.rejects(
      etcdStoreOptions({ endpoints: ["http://x:1"], prefix: "", user: "krake", passwordFile: file }),
      /password file .* is empty/,
    );
    await assert.rejects(
      etcdStoreOptions({
        endpoints: ["http://x:1"],
        prefix: "",
        user: "krake",
        passwordFile: "/nonexistent/pw",
      }),
      /cannot read the etcd password file \/nonexistent\/pw: ENOENT/,
    );
    // api.yaml keys: etcd.{ca,cert,key,user,password_file} and encryption.key_file.
    const config = resolveApiConfig({
      etcd: "https://127.0.0.1:2379",
      etcdCa: "ca.pem",
      etcdCert: "c.pem",
      etcdKey: "k.pem",
      etcdUser: "krake",
      etcdPasswordFile: "pw",
      encryptionKeyFile: "keys.yaml",
    });
    assert.deepEqual(config.store, {
      type: "etcd",
      endpoints: ["https://127.0.0.1:2379"],
      prefix: "",
      tls: { ca: "ca.pem", cert: "c.pem", key: "k.pem" },
      user: "krake",
      passwordFile: "pw",
      encryptionKeyFile: "keys.yaml",
    });
  });
});

describe("krake against an etcd that requires client certificates", () => {
  let pki: Pki;
  let etcd: TestEtcd;
  let tlsFlags: string[];
  before(async () => {
    pki = await makePki();
    const client = await pki.client("krake-api");
    etcd = await startEtcd({ tls: { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey, client } });
    tlsFlags = [
      "--etcd",
      etcd.endpoint,
      "--etcd-ca",
      pki.caCert,
      "--etcd-cert",
      client.cert,
      "--etcd-key",
      client.key,
    ];
  });
  after(async () => {
    await etcd?.stop();
    await rm(pki.dir, { recursive: true, force: true });
  });

  it("krake api, encryption rewrite (online) and backup connect with the TLS flags; without a client certificate krake api fails clearly", async () => {
    const oldKeys = await keyFile(await generateKey("old"));
    const server = await api([...tlsFlags, "--encryption-key-file", oldKeys]);
    await createProvider(server.url);
    const rotated = await keyFile(await generateKey("new"), await readFile(oldKeys, "utf8"));
    const rewrite = await runKrake(["encryption", "rewrite", ...tlsFlags, "--encryption-key-file", rotated]);
    assert.equal(rewrite.code, 0, rewrite.stderr);
    assert.match(rewrite.stdout, /1 keys: 1 re-encrypted with new/);
    // The running server (old key first, new key unknown to it) cannot read what was rewritten: it says so.
    const res = await http(server.url, "GET", "/infrastructure/globalinfrastructureproviders/im-provider");
    assert.equal(res.status, 500);
    assert.equal(res.body.title, "STORE_DECRYPTION_ERROR");
    await stop(server);

    const backupFile = path("etcd-backup.ndjson");
    const backup = await runKrake([
      "backup",
      ...tlsFlags,
      "--encryption-key-file",
      rotated,
      "-o",
      backupFile,
    ]);
    assert.equal(backup.code, 0, backup.stderr);
    const text = await readFile(backupFile, "utf8");
    assert.ok(!text.includes(SECRET));
    const lines = text
      .trim()
      .split("\n")
      .slice(1, -1)
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.map((l) => sealedKeyName(l.key, l.value)),
      ["new"],
    );

    const noCert = await runKrake(["api", "--port", "0", "--etcd", etcd.endpoint, "--etcd-ca", pki.caCert]);
    assert.equal(noCert.code, 1);
    assert.match(
      noCert.stdout + noCert.stderr,
      /the TLS handshake failed: check --etcd-ca, --etcd-cert and --etcd-key/,
    );
  });
});
