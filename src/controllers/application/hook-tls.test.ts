import { test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createCA, createCertificate } from "../../util/x509.js";
import {
  hookCertificateIsCurrent,
  issueHookCertificate,
  loadHookTls,
  type HookTlsConfig,
} from "./hook-tls.js";

const signing = createCA("hook-signing");
const files: Record<string, string> = {
  "ca.pem": signing.certPem,
  "ca-key.pem": signing.keyPem,
  "bundle.pem": "BUNDLE",
};
const read = (f: string) => {
  if (!(f in files)) throw new Error(`no ${f}`);
  return files[f];
};
const tls = loadHookTls({ cert: "ca.pem", key: "ca-key.pem", caBundle: "bundle.pem" }, read);

test("a hook certificate names the hook's user, is for client auth and chains to the signing CA", () => {
  const { cert, key } = issueHookCertificate("complete", tls);
  const leaf = new X509Certificate(cert);
  assert.match(leaf.subject, /CN=system:complete-hook/);
  assert.ok(leaf.checkIssued(new X509Certificate(signing.certPem)));
  assert.deepEqual(leaf.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
  assert.ok(cert.endsWith(signing.certPem), "the certificate file carries the chain");
  assert.match(key, /BEGIN PRIVATE KEY/);
  assert.ok(hookCertificateIsCurrent(cert, "complete", tls));
  assert.equal(hookCertificateIsCurrent(cert, "shutdown", tls), false, "the other hook's user");
});

test("a certificate is re-issued when missing, near expiry, or signed by another CA", () => {
  assert.equal(hookCertificateIsCurrent(null, "complete", tls), false);
  assert.equal(hookCertificateIsCurrent("not a certificate", "complete", tls), false);
  const { cert } = issueHookCertificate("complete", tls);
  const inFiveMonths = Date.now() + 300 * 24 * 60 * 60_000;
  assert.equal(
    hookCertificateIsCurrent(cert, "complete", tls, inFiveMonths),
    false,
    "less than a fifth left",
  );
  const rotated: HookTlsConfig = { ...tls, ...pairOf(createCA("next-signing")) };
  assert.equal(hookCertificateIsCurrent(cert, "complete", rotated), false);
});

test("the signing pair is checked at load: a leaf certificate or a foreign key is refused, naming the file", () => {
  const leaf = createCertificate({ commonName: "leaf", issuer: signing });
  files["leaf.pem"] = leaf.certPem;
  assert.throws(
    () => loadHookTls({ cert: "leaf.pem", key: "ca-key.pem", caBundle: "bundle.pem" }, read),
    /leaf\.pem: not a CA certificate/,
  );
  files["other-key.pem"] = createCA("other").keyPem;
  assert.throws(
    () => loadHookTls({ cert: "ca.pem", key: "other-key.pem", caBundle: "bundle.pem" }, read),
    /other-key\.pem: not the private key of ca\.pem/,
  );
  files["garbage.pem"] = "garbage";
  assert.throws(
    () => loadHookTls({ cert: "garbage.pem", key: "ca-key.pem", caBundle: "bundle.pem" }, read),
    /garbage\.pem: not a PEM certificate/,
  );
});

function pairOf(ca: { certPem: string; keyPem: string }) {
  return { signingCertPem: ca.certPem, signingKeyPem: ca.keyPem };
}
