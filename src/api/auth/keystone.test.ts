import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KeystoneAuthenticator, type KeystoneOptions } from "./keystone.js";
import { startTestKeystone, type TestKeystone } from "../../../test/support/keystone.js";
import { capturingLogger, fakeRequest, thrown } from "../../../test/support/request.js";

let keystone: TestKeystone;
let clock: number;
before(async () => {
  keystone = await startTestKeystone();
  keystone.add("ks-alice", "alice");
});
after(() => keystone.close());
beforeEach(() => {
  clock = Date.now();
  keystone.down = false;
  keystone.calls = 0;
});

const make = (options: Partial<KeystoneOptions> = {}) =>
  new KeystoneAuthenticator({
    endpoint: keystone.endpoint,
    logger: capturingLogger().logger,
    now: () => clock,
    ...options,
  });

describe("Keystone authenticator", () => {
  it("valid token in the raw Authorization header (Krake), X-Auth-Token or Bearer → token.user.name", async () => {
    const a = make({ cacheTtlMs: 0 });
    assert.equal(await a.authenticate(fakeRequest({ Authorization: "ks-alice" })), "alice");
    assert.equal(await a.authenticate(fakeRequest({ "X-Auth-Token": "ks-alice" })), "alice");
    assert.equal(await a.authenticate(fakeRequest({ Authorization: "Bearer ks-alice" })), "alice");
    assert.equal(keystone.calls, 3);
  });

  it("missing credentials → null, Keystone not asked", async () => {
    assert.equal(await make().authenticate(fakeRequest()), null);
    assert.equal(keystone.calls, 0);
  });

  it("an unknown (wrongly issued) token → 401 INVALID_KEYSTONE_TOKEN with Keystone's status", async () => {
    const err = await thrown(() => make().authenticate(fakeRequest({ Authorization: "ks-forged" })));
    assert.equal(err.status, 401);
    assert.equal(err.title, "INVALID_KEYSTONE_TOKEN");
    assert.equal(err.detail, "Invalid Keystone token (HTTP 401 Unauthorized)");
    assert.ok(!err.detail.includes("ks-forged"));
  });

  it("an expired token → 401", async () => {
    keystone.add("ks-old", "bob", -10);
    const err = await thrown(() => make().authenticate(fakeRequest({ Authorization: "ks-old" })));
    assert.equal(err.title, "INVALID_KEYSTONE_TOKEN");
  });

  it("caches an accepted token for the TTL: Keystone is called once within it, again after", async () => {
    const a = make({ cacheTtlMs: 30_000 });
    const req = () => fakeRequest({ Authorization: "ks-alice" });
    assert.deepEqual(await Promise.all([a.authenticate(req()), a.authenticate(req())]), ["alice", "alice"]);
    assert.equal(await a.authenticate(req()), "alice");
    assert.equal(keystone.calls, 1, "concurrent and repeated requests share one validation");
    clock += 31_000;
    assert.equal(await a.authenticate(req()), "alice");
    assert.equal(keystone.calls, 2);
  });

  it("never caches past the token's expires_at", async () => {
    keystone.add("ks-short", "carol", 5);
    const a = make({ cacheTtlMs: 30_000 });
    assert.equal(await a.authenticate(fakeRequest({ Authorization: "ks-short" })), "carol");
    clock += 6_000;
    keystone.tokens.delete("ks-short");
    assert.equal(
      (await thrown(() => a.authenticate(fakeRequest({ Authorization: "ks-short" })))).status,
      401,
    );
    assert.equal(keystone.calls, 2);
  });

  it("a refused token is remembered briefly (negative cache)", async () => {
    const a = make({ negativeTtlMs: 5_000 });
    for (let i = 0; i < 3; i++) await thrown(() => a.authenticate(fakeRequest({ Authorization: "ks-nope" })));
    assert.equal(keystone.calls, 1);
    clock += 6_000;
    await thrown(() => a.authenticate(fakeRequest({ Authorization: "ks-nope" })));
    assert.equal(keystone.calls, 2);
  });

  it("the cache is bounded", async () => {
    for (const n of [1, 2, 3]) keystone.add(`ks-${n}`, `u${n}`);
    const a = make({ cacheSize: 2 });
    for (const n of [1, 2, 3]) await a.authenticate(fakeRequest({ Authorization: `ks-${n}` }));
    await a.authenticate(fakeRequest({ Authorization: "ks-1" }));
    assert.equal(keystone.calls, 4, "the oldest entry was evicted");
  });

  it("Keystone unreachable or failing (5xx) → 503 AUTHENTICATION_UNAVAILABLE, nothing cached", async () => {
    const { logger, lines } = capturingLogger();
    const a = make({ logger });
    keystone.down = true;
    let err = await thrown(() => a.authenticate(fakeRequest({ Authorization: "ks-alice" })));
    assert.equal(err.status, 503);
    assert.equal(err.title, "AUTHENTICATION_UNAVAILABLE");
    keystone.down = 500;
    err = await thrown(() => a.authenticate(fakeRequest({ Authorization: "ks-alice" })));
    assert.equal(err.status, 503);
    keystone.down = false;
    assert.equal(await a.authenticate(fakeRequest({ Authorization: "ks-alice" })), "alice");
    assert.ok(!lines().includes("ks-alice"), "no token in the logs");
  });
});
