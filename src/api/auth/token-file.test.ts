import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseTokenFile, TokenFileAuthenticator, TokenFileError } from "./token-file.js";
import { tokenDigest } from "./credentials.js";
import { capturingLogger, fakeRequest } from "../../../test/support/request.js";
import { eventually } from "../../../test/support/api.js";

const bearer = (token: string) => fakeRequest({ Authorization: `Bearer ${token}` });

describe("token file: parsing", () => {
  it("reads Kubernetes static-token CSV: comments, blank lines, uid and quoted groups", () => {
    const table = parseTokenFile('# ops tokens\n\ntok-a,alice\n tok-b , bob ,1002, "ci,deploy"\n', "t.csv");
    assert.equal(table.size, 2);
    assert.deepEqual(table.get(tokenDigest("tok-a")), { user: "alice", groups: [] });
    assert.deepEqual(table.get(tokenDigest("tok-b")), { user: "bob", uid: "1002", groups: ["ci", "deploy"] });
    assert.equal(table.has("tok-a"), false, "keyed by digest, not by the token");
  });

  for (const [text, message] of [
    ["tok-a\n", /t\.csv line 1: expected token,user/],
    ["# c\ntok-a,\n", /t\.csv line 2: the user is empty/],
    [",alice\n", /line 1: the token is empty/],
    ['tok-a,alice,1,"ci\n', /line 1: unbalanced double quotes/],
    ["tok-a,alice\ntok-a,bob\n", /line 2: this token is already given to another line/],
    ["tok-a,alice,1,g,extra\n", /line 1: expected .* got 5 field/],
  ] as const) {
    it(`a bad file is an error naming the line: ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseTokenFile(text, "t.csv"),
        (err: Error) => {
          assert.ok(err instanceof TokenFileError);
          assert.match(err.message, message);
          assert.ok(!/tok-a/.test(err.message), "the message does not echo the token");
          return true;
        },
      );
    });
  }
});

describe("token file: authenticator", () => {
  let dir: string;
  let path: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "krake-tokens-"));
    path = join(dir, "tokens.csv");
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("valid token → its user; unknown token, other schemes and no credential → null (the next authenticator decides)", async () => {
    await writeFile(path, "tok-alice-1,alice\n");
    const { logger } = capturingLogger();
    const auth = new TokenFileAuthenticator(path, { logger });
    try {
      assert.equal(auth.authenticate(bearer("tok-alice-1")), "alice");
      assert.equal(auth.authenticate(fakeRequest({ Authorization: "bearer   tok-alice-1" })), "alice");
      assert.equal(auth.authenticate(bearer("tok-alice-2")), null);
      assert.equal(
        auth.authenticate(fakeRequest({ Authorization: "tok-alice-1" })),
        null,
        "raw (Keystone) header",
      );
      assert.equal(auth.authenticate(fakeRequest({ Authorization: "Basic dG9rOng=" })), null);
      assert.equal(auth.authenticate(fakeRequest()), null);
    } finally {
      auth.close();
    }
  });

  it("a missing or broken file at startup throws TokenFileError naming the file", async () => {
    const { logger } = capturingLogger();
    assert.throws(
      () => new TokenFileAuthenticator(join(dir, "absent.csv"), { logger }),
      /cannot read token file .*absent\.csv: ENOENT/,
    );
    await writeFile(join(dir, "bad.csv"), "ok,alice\nbroken\n");
    assert.throws(() => new TokenFileAuthenticator(join(dir, "bad.csv"), { logger }), /bad\.csv line 2/);
  });

  it("re-reads the file when it changes; a broken new version keeps the old tokens and logs a warning without tokens", async () => {
    await writeFile(path, "tok-old,alice\n");
    const { logger, lines } = capturingLogger();
    const auth = new TokenFileAuthenticator(path, { logger, pollIntervalMs: 20 });
    // As documented: a new version is written beside the file and renamed over it, so no half-written file is read.
    const replace = async (text: string) => {
      await writeFile(`${path}.new`, text);
      await rename(`${path}.new`, path);
    };
    try {
      await replace("tok-new,bob\n");
      await eventually(() => auth.authenticate(bearer("tok-new")) === "bob", 5000, "the new token");
      assert.equal(auth.authenticate(bearer("tok-old")), null, "the removed token no longer works");

      await replace("tok-newer,carol\nbroken line\n");
      await eventually(() => lines().includes("token file not reloaded"), 5000, "the warning");
      assert.equal(auth.authenticate(bearer("tok-new")), "bob", "the previous table stays in force");
      assert.equal(auth.authenticate(bearer("tok-newer")), null);
      assert.match(lines(), /line 2/);
      assert.ok(!/tok-(old|new|newer)/.test(lines()), "no token in the logs");
    } finally {
      auth.close();
    }
  });

  it("reload() (what SIGHUP calls) picks up the file at once", async () => {
    await writeFile(path, "tok-1,alice\n");
    const { logger } = capturingLogger();
    const auth = new TokenFileAuthenticator(path, { logger, pollIntervalMs: 60_000, reloadOnSighup: true });
    try {
      await writeFile(path, "tok-2,alice\n");
      process.emit("SIGHUP", "SIGHUP");
      assert.equal(auth.authenticate(bearer("tok-2")), "alice");
    } finally {
      auth.close();
    }
    assert.equal(process.listenerCount("SIGHUP"), 0, "close() removes the SIGHUP listener");
  });
});
