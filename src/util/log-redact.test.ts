import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import pino from "pino";
import {
  LOG_CENSOR,
  redactForLog,
  rememberSecrets,
  scrubText,
  secretRedactingLogOptions,
} from "./log-redact.js";
import { Cluster } from "../resources/registry.js";

describe("log redaction", () => {
  it("censors secret-named keys at any depth and leaves the rest (and the input) alone", () => {
    const input = {
      cluster: "ns/c",
      spec: { kubeconfig: { users: [] } },
      deep: {
        a: { b: { c: { password: "pw", client_secret: "cs", "client-key-data": "k", key: "/core/x" } } },
      },
      list: [{ token: "t" }, { token: null }],
    };
    const out = redactForLog(input) as any;
    assert.equal(out.spec.kubeconfig, LOG_CENSOR);
    assert.deepEqual(out.deep.a.b.c, {
      password: LOG_CENSOR,
      client_secret: LOG_CENSOR,
      "client-key-data": LOG_CENSOR,
      key: "/core/x",
    });
    assert.deepEqual(out.list, [{ token: LOG_CENSOR }, { token: null }]);
    assert.equal(out.cluster, "ns/c");
    assert.equal(input.deep.a.b.c.password, "pw");
    const plain = { a: 1, b: { c: "d" } };
    assert.equal(redactForLog(plain), plain, "nothing to censor: the same object");
  });

  it("scrubs secret values the process has seen from messages and error texts", () => {
    const token = "known-kube-token-" + Math.random().toString(36).slice(2);
    rememberSecrets(Cluster, { spec: { kubeconfig: { users: [{ name: "u", user: { token } }] } } });
    assert.equal(scrubText(`401 for ${token}!`), `401 for ${LOG_CENSOR}!`);
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _e, done) => (lines.push(String(chunk)), done()) });
    const log = pino({ level: "trace", ...secretRedactingLogOptions }, sink);
    log.warn(
      { err: new Error(`rejected ${token}`), deep: { x: { y: { password: "hunter22" } } } },
      `failed with ${token}`,
    );
    log.info(`plain ${token}`);
    const text = lines.join("");
    assert.ok(!text.includes(token), text);
    assert.ok(!text.includes("hunter22"), text);
    assert.equal(lines.length, 2);
  });
});
