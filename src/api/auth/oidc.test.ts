import { after, before, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { OidcAuthenticator, type OidcOptions } from "./oidc.js";
import { startTestIssuer, type TestIssuer } from "../../../test/support/oidc-issuer.js";
import { capturingLogger, fakeRequest, thrown } from "../../../test/support/request.js";

let issuer: TestIssuer;
let clock: number;
const open: OidcAuthenticator[] = [];
before(async () => {
  issuer = await startTestIssuer();
});
after(async () => {
  for (const a of open) a.close();
  await issuer.close();
});
beforeEach(() => {
  clock = Date.now();
  issuer.down = false;
});

function oidc(options: Partial<OidcOptions> = {}) {
  const a = new OidcAuthenticator({
    issuer: issuer.issuer,
    audiences: [issuer.clientId],
    logger: capturingLogger().logger,
    now: () => clock,
    ...options,
  });
  open.push(a);
  return a;
}
const bearer = (token: string) => fakeRequest({ Authorization: `Bearer ${token}` });
const jwksHits = () => issuer.hits.get(`/realms/${issuer.realm}/protocol/openid-connect/certs`) ?? 0;

describe("OIDC authenticator", () => {
  it("a valid token → the user in the username claim (default sub), with the prefix", async () => {
    const token = issuer.sign(issuer.claims("alice"));
    assert.equal(await oidc().authenticate(bearer(token)), "id-alice");
    const keycloakStyle = oidc({ usernameClaim: "preferred_username", usernamePrefix: "oidc:" });
    assert.equal(await keycloakStyle.authenticate(bearer(token)), "oidc:alice");
  });

  for (const key of ["rsa", "ec", "ps", "ed"] as const) {
    it(`verifies ${key} signatures (${key === "rsa" ? "RS256" : key === "ec" ? "ES256" : key === "ps" ? "PS256" : "EdDSA"})`, async () => {
      const token = issuer.sign(issuer.claims("bob"), { key: issuer.keys[key] });
      assert.equal(await oidc({ usernameClaim: "preferred_username" }).authenticate(bearer(token)), "bob");
    });
  }

  it("an audience list: any one of them matches; a token for another client → 401 naming the audience", async () => {
    const a = oidc({ audiences: ["other", issuer.clientId] });
    assert.equal(
      await a.authenticate(bearer(issuer.sign(issuer.claims("alice", { aud: ["x", issuer.clientId] })))),
      "id-alice",
    );
    const err = await thrown(() =>
      a.authenticate(bearer(issuer.sign(issuer.claims("alice", { aud: "grafana" })))),
    );
    assert.equal(err.status, 401);
    assert.match(err.detail, /not meant for this API: its audience \(aud\) is none of other, krake-cli/);
    assert.equal(err.headers?.["WWW-Authenticate"], 'Bearer realm="krake"');
  });

  it("expired → 401 saying so; within the 60 s leeway still accepted", async () => {
    const a = oidc();
    const now = Math.floor(clock / 1000);
    assert.equal(
      await a.authenticate(bearer(issuer.sign(issuer.claims("alice", { exp: now - 30 })))),
      "id-alice",
    );
    const token = issuer.sign(issuer.claims("alice", { exp: now - 120 }));
    const err = await thrown(() => a.authenticate(bearer(token)));
    assert.equal(err.status, 401);
    assert.match(err.detail, /^401: invalid OIDC token: it expired at \d{4}-/);
    assert.ok(!err.detail.includes(token), "the token is not echoed");
  });

  it("nbf in the future, iat in the future, no exp, no username claim → 401 with the reason", async () => {
    const a = oidc({ usernameClaim: "email" });
    const now = Math.floor(clock / 1000);
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ nbf: now + 600, email: "a@x" }, /not valid yet \(nbf\)/],
      [{ iat: now + 600, email: "a@x" }, /issued in the future \(iat\)/],
      [{ exp: undefined, email: "a@x" }, /has no expiry/],
      [{}, /has no email claim/],
      [{ email: "" }, /has no email claim/],
    ];
    for (const [extra, reason] of cases) {
      const err = await thrown(() => a.authenticate(bearer(issuer.sign(issuer.claims("alice", extra)))));
      assert.equal(err.status, 401, String(reason));
      assert.match(err.detail, reason);
    }
  });

  it("wrongly signed: a key the JWKS does not publish, under a published kid → 401 bad signature", async () => {
    const forged = issuer.sign(issuer.claims("admin"), { key: issuer.keys.outsider });
    const err = await thrown(() => oidc().authenticate(bearer(forged)));
    assert.equal(err.status, 401);
    assert.match(err.detail, /signature is not valid/);
    const tampered = issuer.sign(issuer.claims("alice")).split(".");
    tampered[1] = Buffer.from(JSON.stringify(issuer.claims("admin"))).toString("base64url");
    assert.match(
      (await thrown(() => oidc().authenticate(bearer(tampered.join("."))))).detail,
      /signature is not valid/,
    );
  });

  it("alg none, HS256 and an RSA key claimed as ES256 are refused", async () => {
    const a = oidc();
    const claims = Buffer.from(JSON.stringify(issuer.claims("admin"))).toString("base64url");
    const none = `${Buffer.from('{"alg":"none"}').toString("base64url")}.${claims}.`;
    assert.match(
      (await thrown(() => a.authenticate(bearer(none)))).detail,
      /signed with "none" are not accepted/,
    );
    const hs = issuer.sign(issuer.claims("admin"), { alg: "HS256" });
    assert.match(
      (await thrown(() => a.authenticate(bearer(hs)))).detail,
      /signed with "HS256" are not accepted/,
    );
    const confused = issuer.sign(issuer.claims("admin"), { alg: "ES256" });
    assert.equal((await thrown(() => a.authenticate(bearer(confused)))).status, 401);
  });

  it("missing credentials, non-JWT tokens and other issuers' JWTs → null (not its kind)", async () => {
    const a = oidc();
    assert.equal(await a.authenticate(fakeRequest()), null);
    assert.equal(await a.authenticate(bearer("static-token-123")), null);
    assert.equal(
      await a.authenticate(fakeRequest({ Authorization: issuer.sign(issuer.claims("alice")) })),
      null,
      "no Bearer",
    );
    assert.equal(
      await a.authenticate(bearer(issuer.sign(issuer.claims("alice", { iss: "https://elsewhere" })))),
      null,
    );
  });

  it("fetches discovery and keys lazily, once; an unknown kid refetches at most every 10 s (key rotation)", async () => {
    const a = oidc();
    const before = jwksHits();
    assert.equal(before, jwksHits(), "nothing fetched at construction");
    await a.authenticate(bearer(issuer.sign(issuer.claims("alice"))));
    await a.authenticate(bearer(issuer.sign(issuer.claims("alice"), { key: issuer.keys.ec })));
    assert.equal(jwksHits(), before + 1, "one JWKS fetch serves many tokens");

    const rolled = issuer.rotate("rsa-2");
    const fresh = issuer.sign(issuer.claims("carol"), { key: rolled });
    clock += 2_000;
    let err = await thrown(() => a.authenticate(bearer(fresh)));
    assert.match(err.detail, /signed with a key the issuer does not publish/);
    assert.equal(jwksHits(), before + 1, "within 10 s of the last fetch an unknown kid does not refetch");
    clock += 10_000;
    assert.equal(
      await a.authenticate(bearer(fresh)),
      "id-carol",
      "after 10 s it refetches and finds the new key",
    );
    assert.equal(jwksHits(), before + 2);
    const unknown = issuer.sign(issuer.claims("carol"), { kid: "never-published" });
    err = await thrown(() => a.authenticate(bearer(unknown)));
    assert.equal(err.status, 401);
    assert.equal(jwksHits(), before + 2);
  });

  it("the issuer down → 503 AUTHENTICATION_UNAVAILABLE (not 401); once back, tokens are accepted", async () => {
    issuer.down = true;
    const { logger, lines } = capturingLogger();
    const a = oidc({ logger, retryAfterFailureMs: 0 });
    const token = issuer.sign(issuer.claims("alice"));
    const err = await thrown(() => a.authenticate(bearer(token)));
    assert.equal(err.status, 503);
    assert.equal(err.title, "AUTHENTICATION_UNAVAILABLE");
    assert.match(err.detail, /the OIDC issuer is unavailable/);
    assert.equal(err.headers?.["Retry-After"], "5");
    issuer.down = false;
    assert.equal(await a.authenticate(bearer(token)), "id-alice");
    assert.ok(!lines().includes(token), "no token in the logs");
  });

  it("failing fast after a failure: no issuer call for retryAfterFailureMs", async () => {
    issuer.down = true;
    const a = oidc({ retryAfterFailureMs: 60_000 });
    const token = issuer.sign(issuer.claims("alice"));
    assert.equal((await thrown(() => a.authenticate(bearer(token)))).status, 503);
    issuer.down = false;
    assert.equal(
      (await thrown(() => a.authenticate(bearer(token)))).status,
      503,
      "still within the back-off",
    );
    clock += 60_000;
    assert.equal(await a.authenticate(bearer(token)), "id-alice");
  });

  it("keys fetched earlier keep serving while the issuer is down", async () => {
    const a = oidc({ jwksMaxAgeMs: 1_000 });
    const token = issuer.sign(issuer.claims("alice"));
    assert.equal(await a.authenticate(bearer(token)), "id-alice");
    issuer.down = true;
    clock += 5_000;
    assert.equal(await a.authenticate(bearer(token)), "id-alice");
  });

  it("a discovery document naming another issuer is not used (503 naming both)", async () => {
    const a = oidc({ issuer: `${issuer.base}/realms/${issuer.realm}/` });
    const token = issuer.sign(issuer.claims("alice", { iss: `${issuer.base}/realms/${issuer.realm}/` }));
    const err = await thrown(() => a.authenticate(bearer(token)));
    assert.equal(err.status, 503);
    assert.match(err.detail, /discovery document names the issuer/);
  });
});
