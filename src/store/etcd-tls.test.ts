/**
 * The etcd store against a real etcd that serves TLS and requires client certificates (--client-cert-auth):
 * it connects with the right files, and fails clearly without a client certificate or with the wrong CA.
 * `krake restore` uses the same TLS options for its own etcd client.
 */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { makePki, type Pki } from "../../test/support/certs.js";
import { startEtcd, type TestEtcd } from "../../test/support/etcd.js";
import { openEtcdStore } from "./etcd.js";
import { restoreEtcd } from "./restore.js";
import { StoreUnavailableError } from "./store.js";

let pki: Pki;
let otherPki: Pki;
let etcd: TestEtcd;
let client: { cert: string; key: string };
before(async () => {
  pki = await makePki();
  otherPki = await makePki();
  client = await pki.client("krake-api");
  etcd = await startEtcd({ tls: { ca: pki.caCert, cert: pki.serverCert, key: pki.serverKey, client } });
});
after(async () => {
  await etcd?.stop();
  await rm(pki.dir, { recursive: true, force: true });
  await rm(otherPki.dir, { recursive: true, force: true });
});

describe("etcd store over TLS with client certificates", () => {
  it("connects with the CA, client certificate and key, and everything works (reads, writes, watches)", async () => {
    assert.match(etcd.endpoint, /^https:/);
    const store = await openEtcdStore({
      endpoints: [etcd.endpoint],
      prefix: "/tls/",
      tls: { ca: pki.caCert, ...client },
    });
    try {
      const events: string[] = [];
      await store.watch("", { onEvents: (es) => events.push(...es.map((e) => e.kv.key)), onError: () => {} });
      assert.ok((await store.put("a", "1")).ok);
      assert.equal((await store.get("a"))?.value, "1");
      const deadline = Date.now() + 10_000;
      while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(events, ["a"]);
    } finally {
      await store.close();
    }
  });

  it("fails clearly without a client certificate, with a CA that did not sign etcd's certificate, or over plain http", async () => {
    const attempts: [string, Parameters<typeof openEtcdStore>[0]][] = [
      ["no client certificate", { endpoints: [etcd.endpoint], tls: { ca: pki.caCert } }],
      ["wrong CA", { endpoints: [etcd.endpoint], tls: { ca: otherPki.caCert, ...client } }],
      ["plain http", { endpoints: [etcd.endpoint.replace("https:", "http:")] }],
    ];
    for (const [what, opts] of attempts) {
      await assert.rejects(
        openEtcdStore({ ...opts, dialTimeoutMs: 2_000 }),
        (err: Error) => {
          assert.ok(err instanceof StoreUnavailableError, `${what}: ${err.name}: ${err.message}`);
          assert.ok(
            err.message.includes(etcd.endpoint.replace(/^https?:\/\//, "")),
            `${what}: ${err.message}`,
          );
          if (what !== "plain http")
            assert.match(
              err.message,
              /the TLS handshake failed: check --etcd-ca, --etcd-cert and --etcd-key/,
              what,
            );
          return true;
        },
        what,
      );
    }
  });

  it("names an unreadable certificate file", async () => {
    await assert.rejects(
      openEtcdStore({
        endpoints: [etcd.endpoint],
        tls: { ca: pki.caCert, cert: "/nonexistent/cert.pem", key: client.key },
      }),
      /cannot read the etcd client certificate \(etcd-cert\) \/nonexistent\/cert.pem: ENOENT/,
    );
  });

  it("restore writes through TLS too", async () => {
    const backup = {
      header: {
        format: "krake-backup" as const,
        version: 1,
        store: "etcd" as const,
        revision: 1,
        keys: 1,
        created: new Date().toISOString(),
        krake_version: "test",
      },
      kvs: [{ key: "/x", value: "restored", createRevision: 1, modRevision: 1 }],
      bytes: 0,
      sha256: "",
    };
    const report = await restoreEtcd(backup, {
      endpoints: [etcd.endpoint],
      prefix: "/restored/",
      tls: { ca: pki.caCert, ...client },
      force: false,
      bumpRevision: 0,
      compact: false,
    });
    assert.equal(report.keys, 1);
    const store = await openEtcdStore({
      endpoints: [etcd.endpoint],
      prefix: "/restored/",
      tls: { ca: pki.caCert, ...client },
    });
    try {
      assert.equal((await store.get("/x"))?.value, "restored");
    } finally {
      await store.close();
    }
  });
});
