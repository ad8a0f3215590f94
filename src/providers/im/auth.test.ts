import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { imAuthorization, imId, imLine, openStackLine } from "./auth.js";

const cloud = {
  id: "os-cloud",
  url: "https://keystone.example:5000/v3",
  version: "3",
  username: "alice",
  password: "s3cr3t",
  userDomainName: "Default",
  project: "demo",
  projectDomainId: "default",
};

describe("IM Authorization header (im.md §2, X23)", () => {
  it("joins the IM line and the cloud line with the literal backslash-n", () => {
    const h = imAuthorization({ id: "im-provider", username: "test", password: "test" }, cloud);
    assert.equal(
      h,
      "id = im-provider; type = InfrastructureManager; username = test; password = test\\n" +
        "id = os-cloud; type = OpenStack; host = https://keystone.example:5000/v3; username = alice; password = s3cr3t; " +
        "tenant = demo; auth_version = 3.x_password; domain = Default; tenant_domain_id = default",
    );
    assert.ok(!h.includes("\n"), "no newline byte");
  });

  it("prefers a token; maps Keystone 2 to 2.0_password (not Krake's 2.x_password)", () => {
    assert.equal(
      imLine({ id: "p", token: "tok", username: "u", password: "p" }),
      "id = p; type = InfrastructureManager; token = tok",
    );
    assert.match(openStackLine({ ...cloud, version: "2" }), /auth_version = 2\.0_password/);
    assert.doesNotMatch(openStackLine({ ...cloud, version: "2" }), /domain/);
    assert.throws(() => openStackLine({ ...cloud, version: "4" }), /Keystone version '4'/);
    assert.throws(() => imLine({ id: "p" }), /token, or a username and a password/);
    assert.throws(() => imLine({ id: "p", token: "<redacted>" }), /token is redacted/);
  });

  it("quotes values with ';' or '=' and refuses file(…) and line breaks", () => {
    assert.match(openStackLine({ ...cloud, password: "a;b=c" }), /password = 'a;b=c';/);
    assert.match(openStackLine({ ...cloud, password: "it's;x" }), /password = "it's;x";/);
    assert.throws(() => openStackLine({ ...cloud, password: "file(/etc/passwd)" }), /file\(/);
    assert.throws(() => openStackLine({ ...cloud, password: "a\nb" }), /line breaks/);
  });

  it("cloud ids start with a letter, '_' or '.'", () => {
    assert.equal(imId("os-cloud"), "os-cloud");
    assert.equal(imId("1cloud"), "_1cloud");
    assert.equal(imId("team:cloud"), "team_cloud");
  });
});
