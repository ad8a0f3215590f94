import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { connectionOf } from "./kubeconfig.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

function kubeconfig(
  user: Record<string, unknown>,
  cluster: Record<string, unknown> = {},
  namespace?: string,
) {
  return {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: "https://10.0.0.1:6443/", ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...(namespace ? { namespace } : {}) } }],
    "current-context": "ctx",
  };
}

describe("connectionOf", () => {
  it("refuses credentials redacted for a reader without clusters/secrets, saying so", () => {
    assert.throws(() => connectionOf(kubeconfig({ token: "<redacted>" })), /redacted.*clusters\/secrets/);
    assert.throws(() => connectionOf(kubeconfig({ exec: "<redacted>" })), /redacted/);
  });

  it("takes server, CA, token and the context namespace", () => {
    const c = connectionOf(kubeconfig({ token: "t0k" }, { "certificate-authority-data": b64("CA") }, "team"));
    assert.equal(c.server, "https://10.0.0.1:6443");
    assert.equal(c.namespace, "team");
    assert.equal(c.ca?.toString(), "CA");
    assert.equal(c.authorization, "Bearer t0k");
    assert.equal(c.insecure, false);
  });

  it("client certificates, basic auth, insecure-skip-tls-verify and the default namespace", () => {
    const cert = connectionOf(
      kubeconfig(
        { "client-certificate-data": b64("CERT"), "client-key-data": b64("KEY") },
        { "insecure-skip-tls-verify": true },
      ),
    );
    assert.equal(cert.cert?.toString(), "CERT");
    assert.equal(cert.key?.toString(), "KEY");
    assert.equal(cert.authorization, undefined);
    assert.equal(cert.insecure, true);
    assert.equal(cert.namespace, "default");
    assert.equal(
      connectionOf(kubeconfig({ username: "a", password: "b" })).authorization,
      `Basic ${b64("a:b")}`,
    );
  });

  it("refuses what cannot work, naming it", () => {
    assert.throws(
      () => connectionOf(kubeconfig({ exec: { command: "aws" } })),
      /'exec' credentials are not supported/,
    );
    assert.throws(
      () => connectionOf(kubeconfig({ "client-certificate-data": b64("C") })),
      /must be given together/,
    );
    assert.throws(() => connectionOf(kubeconfig({}, { server: "None" })), /no usable server URL/);
    assert.throws(() => connectionOf({ clusters: [] }), /kubeconfig: no context/);
  });
});
