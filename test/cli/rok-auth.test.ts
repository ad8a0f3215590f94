import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { makePki, type Pki } from "../support/certs.js";
import { startTestApi, type TestApi } from "../support/api.js";
import { rokSandbox } from "../support/rok.js";

let pki: Pki;
let api: TestApi;
let sb: Awaited<ReturnType<typeof rokSandbox>>;
before(async () => {
  pki = await makePki();
  api = await startTestApi({
    tlsCert: pki.serverCert,
    tlsKey: pki.serverKey,
    tlsClientCa: pki.caCert,
    allowAnonymous: false,
  });
  sb = await rokSandbox(null, { COLUMNS: "1000" });
});
after(async () => {
  await sb.cleanup();
  await api.close();
  await rm(pki.dir, { recursive: true, force: true });
});

describe("rok: TLS client certificates (krakectl's tls config)", () => {
  it("authenticates with the certificate named in rok.yaml; paths are relative to the file", async () => {
    const alice = await pki.client("alice");
    const dir = join(sb.dir, "conf");
    await mkdir(join(dir, "pki"), { recursive: true });
    await copyFile(pki.caCert, join(dir, "pki", "ca.pem"));
    await copyFile(alice.cert, join(dir, "pki", "alice.pem"));
    await copyFile(alice.key, join(dir, "pki", "alice-key.pem"));
    await writeFile(
      join(dir, "rok.yaml"),
      `api_url: ${api.url}\ntls:\n  enabled: true\n  client_ca: pki/ca.pem\n  client_cert: pki/alice.pem\n  client_key: pki/alice-key.pem\n`,
    );
    let r = await sb.rok(["whoami", "--config", "conf/rok.yaml", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user, "alice");
    r = await sb.rok(["kube", "cluster", "list", "--config", "conf/rok.yaml", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });

  it("without a client certificate the server answers 401, shown as one line", async () => {
    await writeFile(
      join(sb.dir, "anon.yaml"),
      `api_url: ${api.url}\ntls:\n  enabled: true\n  client_ca: ${pki.caCert}\n`,
    );
    const r = await sb.rok(["whoami", "--config", "anon.yaml"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 401 /);
  });

  it("an unknown server CA fails the connection clearly; half a key pair is a config error", async () => {
    await writeFile(join(sb.dir, "noca.yaml"), `api_url: ${api.url}\ntls:\n  enabled: true\n`);
    let r = await sb.rok(["whoami", "--config", "noca.yaml"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /cannot reach the Krake API at https:\/\/127\.0\.0\.1:\d+: (UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT)/,
    );
    await writeFile(
      join(sb.dir, "half.yaml"),
      `api_url: ${api.url}\ntls:\n  enabled: true\n  client_cert: ${pki.caCert}\n`,
    );
    r = await sb.rok(["whoami", "--config", "half.yaml"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tls\.client_cert and tls\.client_key must be given together/);
  });
});

describe("rok: bearer token", () => {
  let server: Server;
  const seen: (string | undefined)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader("Content-Type", "application/json");
      res.end(
        JSON.stringify({
          api: "kubernetes",
          kind: "ClusterList",
          metadata: { resource_version: "1" },
          items: [],
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("KRAKE_TOKEN, or `token` in the file, is sent as Authorization: Bearer", async () => {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    let r = await sb.rok(["kube", "cluster", "list"], { env: { KRAKE_URL: url, KRAKE_TOKEN: "tok-env" } });
    assert.equal(r.code, 0, r.stderr);
    await writeFile(join(sb.dir, "tok.yaml"), `api_url: ${url}\ntoken: tok-file\n`);
    r = await sb.rok(["kube", "cluster", "list", "--config", "tok.yaml"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(seen, ["Bearer tok-env", "Bearer tok-file"]);
    assert.ok(!r.stdout.includes("tok-file") && !r.stderr.includes("tok-file"));
  });
});
