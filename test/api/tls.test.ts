import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { makePki, type Pki } from "../support/certs.js";
import { startTestApi, type TestApi } from "../support/api.js";

let pki: Pki;
let api: TestApi;
before(async () => {
  pki = await makePki();
  api = await startTestApi({ tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: pki.caCert, allowAnonymous: false });
});
after(async () => {
  await api.close();
  await rm(pki.dir, { recursive: true, force: true });
});

function get(path: string, client?: { cert: string; key: string }): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      api.url + path,
      {
        ca: readFileSync(pki.caCert),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("TLS", () => {
  it("serves HTTPS", () => {
    assert.match(api.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("authenticates a client certificate by its subject CN", async () => {
    const res = await get("/me", await pki.client("alice"));
    assert.equal(res.status, 200);
    assert.equal(res.body.user, "alice");
  });

  it("without a client certificate and without anonymous access: 401", async () => {
    const res = await get("/me");
    assert.equal(res.status, 401);
  });
});
