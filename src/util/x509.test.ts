import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { createServer, request } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { createCA, createCertificate } from "./x509.js";

/** One HTTPS GET; resolves with the status, or rejects with the TLS error. */
function get(
  port: number,
  opts: { ca: string; cert?: string; key?: string; servername?: string },
): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: "/", agent: false, ...opts }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}

async function serve(
  opts: { cert: string; key: string; ca?: string; requestCert?: boolean },
  handler: (peer: string) => void = () => undefined,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = createServer({ ...opts, rejectUnauthorized: opts.requestCert ?? false }, (req, res) => {
    handler(String((req.socket as TLSSocket).getPeerCertificate()?.subject?.CN));
    res.end("ok");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe("x509", () => {
  const ca = createCA("krake-test-ca");
  const leaf = createCertificate({
    commonName: "kube-apiserver",
    organization: "krake",
    dnsNames: ["localhost", "kubernetes.default.svc"],
    ipAddresses: ["127.0.0.1", "::1", "10.96.0.1"],
    issuer: ca,
    extKeyUsage: ["serverAuth"],
  });

  it("makes a self-signed CA that node parses, with CA constraints and key usages", () => {
    const x = new X509Certificate(ca.certPem);
    assert.equal(x.ca, true);
    assert.equal(x.subject, "CN=krake-test-ca");
    assert.equal(x.issuer, x.subject);
    assert.ok(x.verify(x.publicKey), "self-signature verifies");
    assert.equal(x.publicKey.asymmetricKeyType, "ec");
    assert.ok(new Date(x.validFrom) <= new Date());
    assert.ok(new Date(x.validTo).getTime() > Date.now() + 300 * 24 * 3600_000);
  });

  it("makes a leaf signed by the CA with SANs, the subject's O, and checkHost/checkIP", () => {
    const x = new X509Certificate(leaf.certPem);
    const issuer = new X509Certificate(ca.certPem);
    assert.equal(x.ca, false);
    assert.equal(x.subject, "O=krake\nCN=kube-apiserver");
    assert.equal(x.issuer, "CN=krake-test-ca");
    assert.ok(x.checkIssued(issuer));
    assert.ok(x.verify(issuer.publicKey));
    assert.ok(!x.verify(new X509Certificate(createCA("other").certPem).publicKey));
    assert.equal(x.checkHost("localhost"), "localhost");
    assert.equal(x.checkHost("kubernetes.default.svc"), "kubernetes.default.svc");
    assert.equal(x.checkHost("example.com"), undefined);
    assert.equal(x.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(x.checkIP("::1"), "::1");
    assert.equal(x.checkIP("10.96.0.1"), "10.96.0.1");
    assert.equal(x.checkIP("10.96.0.2"), undefined);
    assert.deepEqual(x.keyUsage, ["1.3.6.1.5.5.7.3.1"]); // node reports the extended key usages
  });

  it("writes the extensions a CA would (checked with openssl when it is installed)", (t) => {
    let text: string;
    try {
      text = execFileSync("openssl", ["x509", "-noout", "-text"], { input: leaf.certPem }).toString();
    } catch {
      t.skip("no openssl");
      return;
    }
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature/);
    assert.match(text, /X509v3 Extended Key Usage:\s+TLS Web Server Authentication/);
    assert.match(
      text,
      /DNS:localhost, DNS:kubernetes.default.svc, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1/,
    );
    assert.match(text, /X509v3 Subject Key Identifier/);
    assert.match(text, /X509v3 Authority Key Identifier/);
    assert.match(text, /Signature Algorithm: ecdsa-with-SHA256/);
    const caText = execFileSync("openssl", ["x509", "-noout", "-text"], { input: ca.certPem }).toString();
    assert.match(caText, /CA:TRUE/);
    assert.match(caText, /Certificate Sign, CRL Sign/);
    const verified = execFileSync("bash", ["-c", 'openssl verify -CAfile <(echo "$CA") <(echo "$LEAF")'], {
      env: { ...process.env, CA: ca.certPem, LEAF: leaf.certPem },
    }).toString();
    assert.match(verified, /OK/);
  });

  it("serves HTTPS that a client trusting only the CA accepts (and one trusting another CA refuses)", async () => {
    const server = await serve({ cert: leaf.certPem, key: leaf.keyPem });
    try {
      assert.equal(await get(server.port, { ca: ca.certPem }), 200);
      assert.equal(await get(server.port, { ca: ca.certPem, servername: "localhost" }), 200);
      await assert.rejects(
        get(server.port, { ca: createCA("stranger").certPem }),
        /self.signed|unable to verify/i,
      );
      await assert.rejects(
        get(server.port, { ca: ca.certPem, servername: "example.com" }),
        /does not match|altnames/i,
      );
    } finally {
      await server.close();
    }
  });

  it("makes client certificates that a server requiring the CA's clients accepts", async () => {
    const client = createCertificate({
      commonName: "hook-app-1",
      organization: "krake:apps",
      issuer: ca,
      extKeyUsage: ["clientAuth"],
      validityDays: 1,
    });
    const peers: string[] = [];
    const server = await serve(
      { cert: leaf.certPem, key: leaf.keyPem, ca: ca.certPem, requestCert: true },
      (cn) => peers.push(cn),
    );
    try {
      assert.equal(await get(server.port, { ca: ca.certPem, cert: client.certPem, key: client.keyPem }), 200);
      assert.deepEqual(peers, ["hook-app-1"]);
      // Without a certificate, or with one from another CA, the handshake fails.
      await assert.rejects(get(server.port, { ca: ca.certPem }));
      const foreign = createCertificate({
        commonName: "x",
        issuer: createCA("other"),
        extKeyUsage: ["clientAuth"],
      });
      await assert.rejects(get(server.port, { ca: ca.certPem, cert: foreign.certPem, key: foreign.keyPem }));
      // A serverAuth-only certificate is not a client certificate.
      await assert.rejects(get(server.port, { ca: ca.certPem, cert: leaf.certPem, key: leaf.keyPem }));
      assert.deepEqual(peers, ["hook-app-1"]);
    } finally {
      await server.close();
    }
  });
});
