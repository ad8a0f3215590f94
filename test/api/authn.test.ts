import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveApiConfig, ConfigError, optionsFromFile } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import { eventually, http, startTestApi, type TestApi } from "../support/api.js";
import { startTestIssuer, type TestIssuer } from "../support/oidc-issuer.js";
import { startTestKeystone, type TestKeystone } from "../support/keystone.js";
import { capturingLogger } from "../support/request.js";
import { runKrake } from "../support/process.js";
import { makePki } from "../support/certs.js";
import { request } from "node:https";
import { readFileSync } from "node:fs";

let dir: string;
let issuer: TestIssuer;
let keystone: TestKeystone;
let tokenFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-authn-"));
  tokenFile = join(dir, "tokens.csv");
  await writeFile(tokenFile, "file-token-alice,alice\n");
  issuer = await startTestIssuer();
  keystone = await startTestKeystone();
  keystone.add("ks-token-bob", "bob");
});
after(async () => {
  await issuer.close();
  await keystone.close();
  await rm(dir, { recursive: true, force: true });
});

const me = (api: TestApi, headers: Record<string, string> = {}) =>
  http(api.url, "GET", "/me", undefined, headers);

describe("authentication chain over HTTP", () => {
  let api: TestApi;
  let logs: () => string;
  before(async () => {
    const captured = capturingLogger();
    logs = captured.lines;
    const dataDir = join(dir, "data");
    const config = resolveApiConfig({
      host: "127.0.0.1",
      port: 0,
      dataDir,
      fsync: false,
      allowAnonymous: false,
      tokenFile,
      oidcIssuerUrl: issuer.issuer,
      oidcAudience: issuer.clientId,
      oidcUsernameClaim: "preferred_username",
      oidcUsernamePrefix: "oidc:",
      keystoneEndpoint: keystone.endpoint,
      logRequests: true,
    });
    const server = await startApiServer(config, { logger: captured.logger });
    api = { url: server.url, server, dataDir, client: null as never, close: () => server.close() };
  });
  after(() => api.close());

  it("logs at startup which authenticators are active, in order, and whether anonymous is allowed", () => {
    assert.match(
      logs(),
      /"authenticators":\["token","oidc","keystone"\],"anonymous":false,"msg":"authenticators active"/,
    );
  });

  it("each kind of credential reaches its authenticator: file token, OIDC JWT, Keystone token (raw, X-Auth-Token)", async () => {
    assert.equal((await me(api, { Authorization: "Bearer file-token-alice" })).body.user, "alice");
    const jwt = issuer.sign(issuer.claims("carol"));
    assert.equal((await me(api, { Authorization: `Bearer ${jwt}` })).body.user, "oidc:carol");
    assert.equal((await me(api, { Authorization: "ks-token-bob" })).body.user, "bob");
    assert.equal((await me(api, { "X-Auth-Token": "ks-token-bob" })).body.user, "bob");
  });

  it("missing credentials with anonymous off → 401 with WWW-Authenticate: Bearer", async () => {
    const res = await me(api);
    assert.equal(res.status, 401);
    assert.equal(res.body.detail, "401: No user has been authenticated.");
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="krake"');
  });

  it("a bad credential of a known kind stops the chain with the reason (expired JWT, wrong audience)", async () => {
    const keystoneCalls = keystone.calls;
    const expired = issuer.sign(issuer.claims("carol", { exp: Math.floor(Date.now() / 1000) - 3600 }));
    let res = await me(api, { Authorization: `Bearer ${expired}` });
    assert.equal(res.status, 401);
    assert.match(res.body.detail, /invalid OIDC token: it expired at/);
    assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="krake"');
    assert.equal(keystone.calls, keystoneCalls, "Keystone was not asked about the JWT");
    res = await me(api, { Authorization: `Bearer ${issuer.sign(issuer.claims("carol", { aud: "other" }))}` });
    assert.match(res.body.detail, /audience/);
  });

  it("a Bearer token nobody knows ends at Keystone: 401 INVALID_KEYSTONE_TOKEN, problem+json", async () => {
    const res = await me(api, { Authorization: "Bearer not-a-known-token" });
    assert.equal(res.status, 401);
    assert.equal(res.body.title, "INVALID_KEYSTONE_TOKEN");
    assert.match(res.headers.get("content-type")!, /application\/problem\+json/);
    assert.ok(!res.text.includes("not-a-known-token"));
  });

  it("no credential, token or key appears in the logs (request logging on)", () => {
    for (const secret of ["file-token-alice", "ks-token-bob", "not-a-known-token", "eyJ"])
      assert.ok(!logs().includes(secret), secret);
  });
});

describe("authentication: 401 rather than anonymous, 503 when the issuer is down", () => {
  it("anonymous allowed, but a credential nobody accepts → 401 (never silently anonymous)", async () => {
    const api = await startTestApi({ allowAnonymous: true, tokenFile });
    try {
      assert.equal((await me(api)).body.user, "system:anonymous");
      assert.equal((await me(api, { Authorization: "Bearer file-token-alice" })).body.user, "alice");
      const res = await me(api, { Authorization: "Bearer someone-elses-token" });
      assert.equal(res.status, 401);
      assert.match(res.body.detail, /credential was not accepted/);
      assert.equal(res.headers.get("www-authenticate"), 'Bearer realm="krake"');
    } finally {
      await api.close();
    }
  });

  it("the OIDC issuer down → 503 AUTHENTICATION_UNAVAILABLE with Retry-After; the API started anyway", async () => {
    issuer.down = true;
    const api = await startTestApi({ oidcIssuerUrl: issuer.issuer, oidcAudience: issuer.clientId });
    try {
      const res = await me(api, { Authorization: `Bearer ${issuer.sign(issuer.claims("carol"))}` });
      assert.equal(res.status, 503);
      assert.equal(res.body.title, "AUTHENTICATION_UNAVAILABLE");
      assert.equal(res.headers.get("retry-after"), "5");
      issuer.down = false;
      // The failure back-off is 1 s: an attempt after it reaches the issuer again.
      const user = await eventually(
        async () => {
          const ok = await me(api, { Authorization: `Bearer ${issuer.sign(issuer.claims("carol"))}` });
          return ok.status === 200 ? (ok.body.user as string) : null;
        },
        5000,
        "the issuer to be asked again",
      );
      assert.equal(user, "id-carol");
    } finally {
      issuer.down = false;
      await api.close();
    }
  });

  it("static, when configured, decides alone (Krake's precedence)", async () => {
    const api = await startTestApi({ staticUser: "dev", tokenFile });
    try {
      assert.equal((await me(api, { Authorization: "Bearer file-token-alice" })).body.user, "dev");
      assert.equal((await me(api)).body.user, "dev");
    } finally {
      await api.close();
    }
  });

  it("an explicit order: token before static lets file users be themselves", async () => {
    const api = await startTestApi({ staticUser: "dev", tokenFile, authenticationOrder: "token,static" });
    try {
      assert.equal((await me(api, { Authorization: "Bearer file-token-alice" })).body.user, "alice");
      assert.equal((await me(api)).body.user, "dev");
    } finally {
      await api.close();
    }
  });
});

describe("authentication: client certificates", () => {
  it("a certificate the client CA did not sign is a bad credential: 401 even with anonymous allowed", async () => {
    const pki = await makePki();
    const stranger = await makePki();
    const api = await startTestApi({
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.caCert,
      allowAnonymous: true,
    });
    const get = (client?: { cert: string; key: string }) =>
      new Promise<{ status: number; body: any }>((resolve, reject) => {
        const req = request(
          `${api.url}/me`,
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
    try {
      assert.equal((await get(await pki.client("alice"))).body.user, "alice");
      assert.equal((await get()).body.user, "system:anonymous");
      const res = await get(await stranger.client("mallory"));
      assert.equal(res.status, 401);
      assert.match(res.body.detail, /the client certificate is not accepted/);
    } finally {
      await api.close();
      await rm(pki.dir, { recursive: true, force: true });
      await rm(stranger.dir, { recursive: true, force: true });
    }
  });
});

describe("authentication configuration", () => {
  const resolve = (o: Parameters<typeof resolveApiConfig>[0]) => resolveApiConfig({ dataDir: dir, ...o });

  it("anonymous is allowed by default only on a loopback address", () => {
    assert.equal(resolve({}).authentication.allowAnonymous, true);
    assert.equal(resolve({ host: "localhost" }).authentication.allowAnonymous, true);
    assert.equal(resolve({ host: "::1" }).authentication.allowAnonymous, true);
    assert.equal(resolve({ host: "0.0.0.0" }).authentication.allowAnonymous, false);
    assert.equal(resolve({ host: "10.1.2.3" }).authentication.allowAnonymous, false);
    assert.equal(resolve({ host: "0.0.0.0", allowAnonymous: "true" }).authentication.allowAnonymous, true);
  });

  it("the default order holds the configured authenticators only", () => {
    assert.deepEqual(resolve({}).authentication.order, []);
    assert.deepEqual(
      resolve({
        tokenFile,
        keystoneEndpoint: "https://ks/v3",
        oidcIssuerUrl: "https://id.example/realms/k",
        oidcAudience: "a,b",
      }).authentication.order,
      ["token", "oidc", "keystone"],
    );
    assert.deepEqual(
      resolve({ oidcIssuerUrl: "https://id.example", oidcAudience: "a, b" }).authentication.oidc?.audiences,
      ["a", "b"],
    );
  });

  for (const [options, message] of [
    [
      { tokenFile: "t", authenticationOrder: "token,ldap" },
      /authentication-order: unknown authenticator "ldap"/,
    ],
    [{ tokenFile: "t", authenticationOrder: "token,token" }, /authentication-order: token is named twice/],
    [
      { authenticationOrder: "oidc" },
      /authentication-order: oidc is named but not configured \(set oidc-issuer-url/,
    ],
    [
      { tokenFile: "t", keystoneEndpoint: "https://ks/v3", authenticationOrder: "token" },
      /keystone is configured but not named/,
    ],
    [{ oidcIssuerUrl: "https://id.example" }, /oidc-audience: required with oidc-issuer-url/],
    [{ oidcAudience: "x" }, /oidc-audience: needs oidc-issuer-url/],
    [
      { oidcIssuerUrl: "http://id.example", oidcAudience: "x" },
      /oidc-issuer-url: expected an https URL \(http only on a loopback address\)/,
    ],
    [
      { keystoneEndpoint: "keystone:5000" },
      /keystone-endpoint: expected an http or https URL, got "keystone:5000"/,
    ],
    [{ keystoneEndpoint: "https://a/v3", keycloakEndpoint: "https://b" }, /enable one of them/],
    [
      { keystoneEndpoint: "https://a/v3", keystoneCacheTtl: "soon" },
      /keystone-cache-ttl: expected a number of seconds/,
    ],
  ] as const) {
    it(`rejects ${JSON.stringify(options)}`, () => {
      assert.throws(
        () => resolve(options),
        (err: Error) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  it("api.yaml: Krake's strategy keys (keystone, keycloak) and ours under authentication.*", async () => {
    const file = join(dir, "api.yaml");
    await writeFile(
      file,
      [
        "authentication:",
        "  allow_anonymous: false",
        "  token_file: /etc/krake/tokens.csv",
        "  order: [token, oidc, keystone]",
        "  oidc: {issuer_url: 'https://id.example/realms/krake', audience: [krake, rok], username_claim: preferred_username, username_prefix: 'oidc:'}",
        "  strategy:",
        "    keystone: {enabled: true}",
        "    keycloak: {enabled: false, endpoint: http://kc:9080}",
      ].join("\n"),
    );
    const config = resolve(optionsFromFile(file));
    assert.deepEqual(config.authentication.order, ["token", "oidc", "keystone"]);
    assert.equal(config.authentication.tokenFile, "/etc/krake/tokens.csv");
    assert.deepEqual(config.authentication.oidc, {
      issuer: "https://id.example/realms/krake",
      audiences: ["krake", "rok"],
      usernameClaim: "preferred_username",
      usernamePrefix: "oidc:",
      caFile: null,
    });
    assert.deepEqual(config.authentication.keystone, {
      endpoint: "http://localhost:5000/v3",
      cacheTtlMs: 30_000,
    });
    assert.equal(config.authentication.keycloak, null);
    await writeFile(file, "authentication:\n  strategy:\n    keycloak: {enabled: true}\n");
    assert.deepEqual(resolve(optionsFromFile(file)).authentication.keycloak, {
      endpoint: "http://localhost:9080",
      realm: "krake",
    });
  });

  it("krake api: a broken token file is a usage error naming the line (exit 2); a bad order names the flag", async () => {
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "ok,alice\nsecret-token-no-user\n");
    let r = await runKrake(["api", "--port", "0", "--data-dir", join(dir, "d1"), "--token-file", bad]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /krake api: token-file: .*bad\.csv line 2: expected token,user/);
    assert.ok(!r.stderr.includes("secret-token-no-user") && !r.stdout.includes("secret-token-no-user"));
    r = await runKrake([
      "api",
      "--port",
      "0",
      "--data-dir",
      join(dir, "d2"),
      "--authentication-order",
      "tls",
    ]);
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /krake api: authentication-order: tls is named but not configured \(set tls-client-ca\)/,
    );
  });
});
