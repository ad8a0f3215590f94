/**
 * The Authorization header parser and credential rules, checked against IM's own unit tests
 * (`test/unit/auth.py`) and im.md §2.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  AuthHeaderError,
  checkAuthData,
  cloudLines,
  isAuthorized,
  parseAuthorizationHeader,
  readAuthLines,
  redactAuthorization,
  splitLine,
} from "./auth.js";
import { ImFault } from "./errors.js";

describe("IM auth line parser", () => {
  it("reads IM's own test lines: spacing, trailing ';', quotes protecting ';' (quotes dropped)", () => {
    const items = readAuthLines([
      "id = a1; type = InfrastructureManager; username = someuser; password = somepass ",
      "id = a2; type = VMRC; username = someuser; password = somepass; ",
      `id = a3; type = OpenNebula; username = someuser; password   =   "some;'pass" `,
      `id = a4; type = EC2; username =someuser; password='some;"pass' `,
    ]);
    assert.deepEqual(items, [
      { id: "a1", password: "somepass", type: "InfrastructureManager", username: "someuser" },
      { id: "a2", password: "somepass", type: "VMRC", username: "someuser" },
      { id: "a3", password: "some;'pass", type: "OpenNebula", username: "someuser" },
      { id: "a4", password: 'some;"pass', type: "EC2", username: "someuser" },
    ]);
  });

  it("stops reading a line at a token with no '=' or a second unquoted '='", () => {
    assert.deepEqual(readAuthLines(["type = InfrastructureManager; username = u; password = a=b; id = x"]), [
      { type: "InfrastructureManager", username: "u" },
    ]);
    assert.deepEqual(readAuthLines(["type = InfrastructureManager; garbage; username = u"]), [
      { type: "InfrastructureManager" },
    ]);
    assert.deepEqual(readAuthLines(["type = InfrastructureManager; username = u; password = 'a=b'"]), [
      { type: "InfrastructureManager", username: "u", password: "a=b" },
    ]);
  });

  it("keeps split_line's quirks: quotes kept at the first level; a blank last token kept only after quotes", () => {
    assert.deepEqual(splitLine("a = b; c = d;", ";", true), ["a = b", " c = d"]);
    // IM's has_quotes flag is never reset, so quotes anywhere earlier keep the empty last token
    assert.deepEqual(splitLine("a = 'x;y'; b = c;", ";", true), ["a = 'x;y'", " b = c", ""]);
    assert.deepEqual(splitLine(`k = ""`, "="), ["k ", " "]);
  });

  it("skips blank and comment lines; leaves file(...) values unread", () => {
    assert.deepEqual(
      readAuthLines(["", "# comment", "id = o; type = OpenStack; password = file(/etc/passwd)"]),
      [{ id: "o", type: "OpenStack", password: "file(/etc/passwd)" }],
    );
  });

  it("splits header lines on the two characters backslash + n, not on a newline", () => {
    const items = parseAuthorizationHeader(
      "id = im; type = InfrastructureManager; username = alice; password = s3cret\\nid = ost; type = OpenStack; host = https://keystone.example.org:5000; username = osuser; password = ospass; tenant = myproject; auth_version = 3.x_password; domain = Default",
    );
    assert.equal(items.length, 2);
    assert.deepEqual(items[1], {
      id: "ost",
      type: "OpenStack",
      host: "https://keystone.example.org:5000",
      username: "osuser",
      password: "ospass",
      tenant: "myproject",
      auth_version: "3.x_password",
      domain: "Default",
    });
  });

  it("turns backslash-backslash-n inside a value into a real newline (PEM keys)", () => {
    const [item] = parseAuthorizationHeader("id = g; type = GCE; password = line1\\\\nline2");
    assert.equal(item.password, "line1\nline2");
  });

  it("reads Krake's header form (no space after ';', type last)", () => {
    const items = parseAuthorizationHeader(
      "id = myprovider;username = krake;password = secret;type = InfrastructureManager\\nid = mycloud;type = Dummy",
    );
    assert.deepEqual(items, [
      { id: "myprovider", username: "krake", password: "secret", type: "InfrastructureManager" },
      { id: "mycloud", type: "Dummy" },
    ]);
  });

  it("reads the JSON form (one array)", () => {
    const items = parseAuthorizationHeader(
      JSON.stringify([
        { type: "InfrastructureManager", username: "u", password: "p" },
        { id: "one", type: "OpenNebula", host: "server:2633", port: 2633 },
      ]),
    );
    assert.deepEqual(items, [
      { type: "InfrastructureManager", username: "u", password: "p" },
      { id: "one", type: "OpenNebula", host: "server:2633", port: "2633" },
    ]);
  });

  it("rejects ids that do not start with a letter, '_' or '.' (IM: every call fails)", () => {
    assert.throws(
      () => parseAuthorizationHeader("id = 1a; type = InfrastructureManager; username = u; password = p"),
      (err: unknown) =>
        err instanceof AuthHeaderError && err.message === "Incorrect value in auth item id: 1a",
    );
    assert.throws(
      () => parseAuthorizationHeader("id = c&h; type = Dummy"),
      /Incorrect value in auth item id: c&h/,
    );
    assert.doesNotThrow(() => parseAuthorizationHeader("id = ''; type = Dummy"));
    assert.doesNotThrow(() => parseAuthorizationHeader("id = _x.y-1; type = Dummy"));
  });

  it("gives Basic and Bearer values no IM credentials (no Vault); Basic without ':' crashes like IM", () => {
    const basic = parseAuthorizationHeader(`Basic ${Buffer.from("demo:demopass").toString("base64")}`);
    assert.throws(() => checkAuthData(basic, { users: "any", tokens: [] }), /No credentials provided/);
    assert.throws(
      () => parseAuthorizationHeader(`Basic ${Buffer.from("nocolon").toString("base64")}`),
      AuthHeaderError,
    );
    const bearer = parseAuthorizationHeader("Bearer abc.def");
    assert.throws(() => checkAuthData(bearer, { users: "any", tokens: [] }), /No credentials provided/);
  });

  it("lists cloud lines with IM's generated ids", () => {
    const items = parseAuthorizationHeader(
      "type = InfrastructureManager; username = u; password = p\\ntype = Dummy",
    );
    assert.deepEqual(
      cloudLines(items).map((c) => [c.id, c.type]),
      [["Dummy1", "Dummy"]],
    );
  });
});

describe("IM credential check and ownership", () => {
  const policy = {
    users: [{ username: "test", password: "test" }],
    tokens: [{ token: "tok-1", subject: "alice" }],
  };
  const fault = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      assert.ok(err instanceof ImFault);
      return `${err.kind}: ${err.message}`;
    }
    assert.fail("expected a fault");
  };

  it("reports IM's messages for missing, unknown and malformed IM credentials", () => {
    assert.equal(
      fault(() => checkAuthData([{ id: "d", type: "Dummy" }], policy)),
      "invalidUser: No credentials provided for the InfrastructureManager.",
    );
    assert.equal(
      fault(() =>
        checkAuthData([{ type: "InfrastructureManager", username: "test", password: "wrong" }], policy),
      ),
      "invalidUser: Invalid InfrastructureManager credentials",
    );
    assert.equal(
      fault(() => checkAuthData([{ type: "InfrastructureManager" }], policy)),
      "invalidUser: No username nor token for the InfrastructureManager.",
    );
    assert.equal(
      fault(() =>
        checkAuthData([{ type: "InfrastructureManager", username: "__OPENID__x", password: "p" }], {
          users: "any",
          tokens: [],
        }),
      ),
      "invalidUser: Invalid username used for the InfrastructureManager.",
    );
    assert.match(
      fault(() => checkAuthData([{ type: "InfrastructureManager", token: "nope" }], policy)),
      /^invalidUser: Invalid InfrastructureManager credentials\./,
    );
  });

  it("owns by username + password; the id does not matter; tokens map to the subject", () => {
    const owner = checkAuthData(
      [{ id: "a", type: "InfrastructureManager", username: "test", password: "test" }],
      policy,
    );
    const sameUserOtherId = checkAuthData(
      [{ id: "zzz", type: "InfrastructureManager", username: "test", password: "test" }],
      policy,
    );
    assert.ok(isAuthorized(owner, sameUserOtherId));
    const other = checkAuthData([{ type: "InfrastructureManager", username: "other", password: "test" }], {
      users: "any",
      tokens: [],
    });
    assert.ok(!isAuthorized(owner, other));
    const viaToken = checkAuthData([{ type: "InfrastructureManager", token: "tok-1" }], policy);
    assert.equal(viaToken[0].username, "__OPENID__alice");
    assert.ok(
      isAuthorized(viaToken, checkAuthData([{ type: "InfrastructureManager", token: "tok-1" }], policy)),
    );
  });

  it("accepts any pair with users: 'any' (IM's empty USER_DB)", () => {
    assert.equal(
      checkAuthData([{ type: "InfrastructureManager", username: "x", password: "y" }], {
        users: "any",
        tokens: [],
      })[0].username,
      "x",
    );
  });
});

describe("Authorization redaction for the request log", () => {
  it("masks secret values but keeps keys, separators and line joins", () => {
    assert.equal(
      redactAuthorization(
        "id = p;username = krake;password = secret;type = InfrastructureManager\\nid = c;host = h;password = 'a;b';tenant = t;type = OpenStack",
      ),
      "id = p;username = krake;password = ***;type = InfrastructureManager\\nid = c;host = h;password = ***;tenant = t;type = OpenStack",
    );
    assert.equal(
      redactAuthorization("type = InfrastructureManager; token = abc"),
      "type = InfrastructureManager; token = ***",
    );
    assert.equal(redactAuthorization("Basic ZGVtbzpkZW1v"), "Basic ***");
    assert.equal(
      redactAuthorization('[{"type":"InfrastructureManager","username":"u","password":"p"}]'),
      '[{"type":"InfrastructureManager","username":"u","password":"***"}]',
    );
  });
});
