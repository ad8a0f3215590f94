import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { eventually, startTestApi, type TestApi } from "../support/api.js";
import { startTestIssuer, type TestIssuer } from "../support/oidc-issuer.js";
import { rokSandbox } from "../support/rok.js";

let issuer: TestIssuer;
let api: TestApi;
let sb: Awaited<ReturnType<typeof rokSandbox>>;
before(async () => {
  issuer = await startTestIssuer();
  api = await startTestApi({
    allowAnonymous: false,
    oidcIssuerUrl: issuer.issuer,
    oidcAudience: issuer.clientId,
    oidcUsernameClaim: "preferred_username",
  });
  sb = await rokSandbox(api.url);
});
after(async () => {
  await sb.cleanup();
  await api.close();
  await issuer.close();
});

const credentials = () => join(sb.dir, "rok-credentials.json");
const stored = async () => JSON.parse(await readFile(credentials(), "utf8")).logins[api.url];
const flags = () => ["--issuer", issuer.issuer, "--client-id", issuer.clientId];

describe("rok login / logout against an API that trusts the test issuer", () => {
  it("password grant: tokens stored 0600 per API URL, never printed; later commands use them", async () => {
    let r = await sb.rok(["login", ...flags(), "--username", "alice", "--password-stdin"], {
      input: "alice-pw\n",
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `Logged in to ${api.url} as alice (tokens in ${credentials()}).\n`);
    const login = await stored();
    assert.equal((await stat(credentials())).mode & 0o777, 0o600);
    assert.ok(login.access_token && login.refresh_token);
    for (const secret of [login.access_token, login.refresh_token, "alice-pw"])
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), "no token or password printed");
    r = await sb.rok(["whoami", "-o", "json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).user, "alice");
  });

  it("a wrong password is refused with the issuer's reason", async () => {
    const r = await sb.rok(["login", ...flags(), "--username", "alice", "--password-stdin"], {
      input: "nope\n",
    });
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "Error: the OIDC issuer refused the login (invalid_grant: Invalid user credentials)\n",
    );
  });

  it("refreshes the access token shortly before it expires, and stores the new one", async () => {
    issuer.accessTokenTtlSeconds = 30; // inside rok's 60 s refresh margin
    try {
      let r = await sb.rok(["login", ...flags(), "--username", "bob", "--password-stdin"], {
        input: "bob-pw",
      });
      assert.equal(r.code, 0, r.stderr);
      const before = await stored();
      const refreshes = issuer.grants.filter((g) => g === "refresh_token").length;
      r = await sb.rok(["whoami", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).user, "bob");
      assert.equal(issuer.grants.filter((g) => g === "refresh_token").length, refreshes + 1);
      const after = await stored();
      assert.notEqual(after.access_token, before.access_token);
      assert.notEqual(after.refresh_token, before.refresh_token);
    } finally {
      issuer.accessTokenTtlSeconds = 300;
    }
  });

  it("an expired login whose refresh token is refused asks to log in again", async () => {
    const login = await stored();
    await writeFile(
      credentials(),
      JSON.stringify({
        logins: { [api.url]: { ...login, refresh_token: "revoked", expires_at: "2000-01-01T00:00:00.000Z" } },
      }),
    );
    const r = await sb.rok(["whoami"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `Error: your login to ${api.url} expired at 2000-01-01T00:00:00.000Z; run rok login again\n`,
    );
  });

  it("device grant with issuer and client from rok.yaml: shows the code, waits for approval", async () => {
    await writeFile(
      join(sb.dir, "rok.yaml"),
      `api_url: ${api.url}\noidc:\n  issuer: ${issuer.issuer}\n  client_id: ${issuer.clientId}\n`,
    );
    try {
      const started = sb.start(["login", "--device"]);
      const code = await eventually(
        () => /enter the code (\w+)/.exec(started.output.stderr)?.[1],
        10_000,
        "the user code",
      );
      assert.match(started.output.stderr, new RegExp(`open ${issuer.issuer}/device and enter the code`));
      issuer.approve(code, "carol");
      const r = await started.done;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /as carol/);
      assert.equal(JSON.parse((await sb.rok(["whoami", "-o", "json"])).stdout).user, "carol");
    } finally {
      await writeFile(join(sb.dir, "rok.yaml"), `api_url: ${api.url}\n`);
    }
  });

  it("logout removes the login; commands are then unauthenticated", async () => {
    let r = await sb.rok(["logout"]);
    assert.equal(r.stdout, `Logged out of ${api.url}.\n`);
    assert.deepEqual(JSON.parse(await readFile(credentials(), "utf8")).logins, {});
    r = await sb.rok(["whoami"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^Error: 401 /);
    r = await sb.rok(["logout"]);
    assert.equal(r.stdout, `Not logged in to ${api.url}.\n`);
  });

  it("no flow chosen, or no issuer configured: a clear usage message", async () => {
    let r = await sb.rok(["login", ...flags()]);
    assert.equal(
      r.stderr,
      "Error: choose a flow: --username NAME (password) or --device (sign in in a browser)\n",
    );
    r = await sb.rok(["login", "--device"]);
    assert.match(r.stderr, /no OIDC issuer: pass --issuer URL or set oidc\.issuer/);
  });
});

describe("rok login: grants the issuer does not allow", () => {
  let strict: TestIssuer;
  before(async () => {
    strict = await startTestIssuer({
      grantTypes: ["refresh_token", "urn:ietf:params:oauth:grant-type:device_code"],
    });
  });
  after(() => strict.close());

  it("the password grant, not in grant_types_supported → names the device flow", async () => {
    const r = await sb.rok(
      [
        "login",
        "--issuer",
        strict.issuer,
        "--client-id",
        strict.clientId,
        "--username",
        "alice",
        "--password-stdin",
      ],
      {
        input: "alice-pw",
      },
    );
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "Error: the OIDC issuer does not allow the password grant for rok; try rok login --device (device authorization)\n",
    );
  });

  it("unsupported_grant_type from the token endpoint → names the other flow", async () => {
    strict.grantTypes = ["refresh_token"];
    const r = await sb.rok(["login", "--issuer", strict.issuer, "--client-id", strict.clientId, "--device"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      "Error: the OIDC issuer does not allow device authorization for rok; try rok login --username NAME (password)\n",
    );
  });
});
