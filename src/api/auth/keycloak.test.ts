import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { KeycloakAuthenticator } from "./keycloak.js";
import { startTestIssuer, type TestIssuer } from "../../../test/support/oidc-issuer.js";
import { capturingLogger, fakeRequest, thrown } from "../../../test/support/request.js";

let issuer: TestIssuer;
before(async () => {
  issuer = await startTestIssuer();
});
after(() => issuer.close());

const make = () =>
  new KeycloakAuthenticator({ endpoint: issuer.base, realm: issuer.realm, logger: capturingLogger().logger });

describe("Keycloak authenticator (Krake's userinfo check)", () => {
  it("a valid token (raw header as Krake, or Bearer) → preferred_username", async () => {
    const token = issuer.sign(issuer.claims("alice"));
    assert.equal(await make().authenticate(fakeRequest({ Authorization: token })), "alice");
    assert.equal(await make().authenticate(fakeRequest({ Authorization: `Bearer ${token}` })), "alice");
  });

  it("missing credentials → null", async () => {
    assert.equal(await make().authenticate(fakeRequest()), null);
  });

  it("wrongly signed and expired tokens → 401 INVALID_KEYCLOAK_TOKEN", async () => {
    const forged = issuer.sign(issuer.claims("admin"), { key: issuer.keys.outsider });
    const expired = issuer.sign(issuer.claims("alice", { exp: Math.floor(Date.now() / 1000) - 10 }));
    for (const token of [forged, expired, "garbage"]) {
      const err = await thrown(() => make().authenticate(fakeRequest({ Authorization: `Bearer ${token}` })));
      assert.equal(err.status, 401);
      assert.equal(err.title, "INVALID_KEYCLOAK_TOKEN");
      assert.equal(err.detail, "Invalid Keycloak token (HTTP 401 Unauthorized)");
    }
  });

  it("Keycloak down → 503", async () => {
    issuer.down = true;
    try {
      const err = await thrown(() => make().authenticate(fakeRequest({ Authorization: "Bearer x" })));
      assert.equal(err.status, 503);
      assert.equal(err.title, "AUTHENTICATION_UNAVAILABLE");
    } finally {
      issuer.down = false;
    }
  });
});
