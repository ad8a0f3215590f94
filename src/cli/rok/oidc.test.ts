import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { deviceGrant, discover, passwordGrant, refreshGrant, type OidcSettings } from "./oidc.js";
import { startTestIssuer, type TestIssuer } from "../../../test/support/oidc-issuer.js";

let issuer: TestIssuer;
let settings: OidcSettings;
before(async () => {
  issuer = await startTestIssuer();
  settings = { issuer: issuer.issuer, clientId: issuer.clientId, scope: "openid" };
});
after(() => issuer.close());

describe("rok's OIDC client", () => {
  it("device flow: waits `interval`, 5 s more after slow_down, keeps polling while pending", async () => {
    const sleeps: number[] = [];
    let userCode = "";
    const tokens = await deviceGrant(
      settings,
      await discover(settings),
      (prompt) => {
        userCode = prompt.user_code;
        assert.match(prompt.verification_uri, /\/device$/);
      },
      async (ms) => {
        sleeps.push(ms);
        if (sleeps.length === 1) issuer.slowDown();
        if (sleeps.length === 3) issuer.approve(userCode, "alice");
      },
    );
    assert.deepEqual(sleeps, [1000, 6000, 6000], "slow_down after the 1st poll, pending after the 2nd");
    assert.ok(tokens.access_token && tokens.refresh_token);
    assert.ok(tokens.expires_at > Date.now());
  });

  it("device flow: an expired device code ends with advice", async () => {
    await assert.rejects(
      deviceGrant(
        settings,
        await discover(settings),
        () => {},
        async () => issuer.expireDevices(),
      ),
      /the device code expired before the login was approved; run rok login --device again/,
    );
  });

  it("password and refresh grants; a refresh token works once (the issuer rotates it)", async () => {
    const discovery = await discover(settings);
    const first = await passwordGrant(settings, discovery, "bob", "bob-pw");
    const second = await refreshGrant(settings, discovery, first.refresh_token!);
    assert.notEqual(second.access_token, first.access_token);
    await assert.rejects(
      refreshGrant(settings, discovery, first.refresh_token!),
      /refused the login \(invalid_grant/,
    );
  });
});
