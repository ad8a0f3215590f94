/**
 * Per-user limits over HTTP: request rate (429 + Retry-After), open watches, request body size; and the
 * client's handling of 429.
 */
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { optionsFromEnv, optionsFromFile, resolveApiConfig, type ApiOptions } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import type { Authenticator } from "../../src/api/auth/index.js";
import { KrakeClient, KrakeApiError } from "../../src/client/index.js";
import { describeError } from "../../src/cli/rok/errors.js";
import { GlobalMetric } from "../../src/resources/registry.js";
import { bodies } from "../support/fixtures.js";
import { eventually } from "../support/api.js";

/** The user named in `X-Test-User`; no header: the next authenticator (none), then anonymous. */
const headerUser: Authenticator = {
  name: "test-header",
  authenticate: (req) => (typeof req.headers["x-test-user"] === "string" ? req.headers["x-test-user"] : null),
};

const servers: { close(): Promise<void> }[] = [];
after(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function startServer(options: ApiOptions) {
  const dataDir = await mkdtemp(join(tmpdir(), "krake-limits-test-"));
  const config = resolveApiConfig({ host: "127.0.0.1", port: 0, dataDir, fsync: false, ...options });
  const server = await startApiServer(config, {
    logger: pino({ level: "silent" }),
    authenticators: [headerUser],
  });
  const handle = {
    url: server.url,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  servers.push(handle);
  return handle;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One request as `user` (none: anonymous), optionally from another loopback source address. */
function call(
  url: string,
  method: string,
  path: string,
  opts: { user?: string; from?: string; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.user) headers["X-Test-User"] = opts.user;
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const req = request(url + path, { method, headers, localAddress: opts.from, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let body: any = text;
        try {
          body = text ? JSON.parse(text) : null;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on("error", reject);
    req.end(opts.body);
  });
}

const statuses = async (n: number, f: () => Promise<Answer>) => {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await f()).status);
  return out;
};

describe("rate limit per user", () => {
  it("admits the burst, then answers 429 RATE_LIMITED with Retry-After and the limit in the detail", async () => {
    // A token every 5 s: the burst of 3 cannot be topped up while the test runs.
    const api = await startServer({ rateLimit: 0.2, rateBurst: 3 });
    const list = () => call(api.url, "GET", "/core/globalmetrics", { user: "alice" });
    assert.deepEqual(await statuses(3, list), [200, 200, 200]);
    const refused = await list();
    assert.equal(refused.status, 429);
    assert.equal(refused.body.title, "RATE_LIMITED");
    assert.match(refused.body.detail, /0\.2 requests per second per user \(bursts of up to 3\)/);
    const retryAfter = Number(refused.headers["retry-after"]);
    assert.ok(
      Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 5,
      `Retry-After ${retryAfter}`,
    );
    assert.match(String(refused.headers["content-type"]), /application\/problem\+json/);

    // The same budget covers the service routes and /backup (one shared check after authentication).
    assert.equal((await call(api.url, "GET", "/me", { user: "alice" })).status, 429);
    assert.equal((await call(api.url, "GET", "/backup", { user: "alice" })).status, 429);
    assert.equal(
      (await call(api.url, "POST", "/core/globalmetrics", { user: "alice", body: "{}" })).status,
      429,
    );

    // Per-user isolation: bob has his own bucket.
    assert.deepEqual(await statuses(3, () => call(api.url, "GET", "/me", { user: "bob" })), [200, 200, 200]);
    // Unauthenticated endpoints are not limited.
    assert.equal((await call(api.url, "GET", "/healthz", { user: "alice" })).status, 200);
  });

  it("refills: a throttled user is admitted again after Retry-After", async () => {
    const api = await startServer({ rateLimit: 4, rateBurst: 1 });
    const me = () => call(api.url, "GET", "/me", { user: "carol" });
    assert.equal((await me()).status, 200);
    const refused = await me();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers["retry-after"], "1", "a quarter second rounds up to 1 s");
    await eventually(async () => (await me()).status === 200, 3000, "carol's bucket to refill");
  });

  it("exempts system:* users by default, but never system:anonymous through the wildcard", async () => {
    const api = await startServer({ rateLimit: 0.2, rateBurst: 2 });
    const controller = await statuses(10, () =>
      call(api.url, "GET", "/me", { user: "system:controller:scheduler" }),
    );
    assert.deepEqual(controller, Array(10).fill(200));
    const anonymous = await statuses(3, () => call(api.url, "GET", "/me"));
    assert.deepEqual(anonymous, [200, 200, 429]);
  });

  it("limits anonymous callers per client address", async () => {
    const api = await startServer({ rateLimit: 0.2, rateBurst: 2 });
    assert.deepEqual(
      await statuses(3, () => call(api.url, "GET", "/me", { from: "127.0.0.1" })),
      [200, 200, 429],
    );
    // Another address (all of 127.0.0.0/8 is loopback on Linux) has a budget of its own.
    assert.deepEqual(
      await statuses(3, () => call(api.url, "GET", "/me", { from: "127.0.0.2" })),
      [200, 200, 429],
    );
  });

  it("an explicit exempt list replaces the default; system:anonymous can be named", async () => {
    const api = await startServer({
      rateLimit: 0.2,
      rateBurst: 1,
      rateLimitExempt: "ops-*,system:anonymous",
    });
    assert.deepEqual(
      await statuses(5, () => call(api.url, "GET", "/me", { user: "ops-robot" })),
      Array(5).fill(200),
    );
    assert.deepEqual(await statuses(5, () => call(api.url, "GET", "/me")), Array(5).fill(200));
    assert.deepEqual(
      await statuses(2, () => call(api.url, "GET", "/me", { user: "system:admin" })),
      [200, 429],
    );
  });

  it("--rate-limit 0 turns it off", async () => {
    const api = await startServer({ rateLimit: 0, rateBurst: 1 });
    assert.deepEqual(
      await statuses(20, () => call(api.url, "GET", "/me", { user: "dave" })),
      Array(20).fill(200),
    );
  });
});

describe("watches per user", () => {
  /**
   * Opens a watch as `user`; `response` resolves with the status once the server answered (200: streaming).
   * node:http rather than fetch: an aborted fetch leaves its socket open, so the server would not see it go.
   */
  function openWatch(url: string, user: string | undefined) {
    const headers: Record<string, string> = user ? { "X-Test-User": user } : {};
    const req = request(`${url}/core/globalmetrics?watch=true&heartbeat=1`, { headers, agent: false });
    const response = new Promise<{ status: number }>((resolve, reject) => {
      req.on("response", (res) => resolve({ status: res.statusCode! }));
      req.on("error", reject);
    });
    req.end();
    return { response, close: () => req.destroy() };
  }

  it("refuses the watch over the limit with 429 TOO_MANY_WATCHES; the count drops when a client goes", async () => {
    const api = await startServer({ maxWatchesPerUser: 2, rateLimit: 0 });
    const first = openWatch(api.url, "alice");
    const second = openWatch(api.url, "alice");
    assert.equal((await first.response).status, 200);
    assert.equal((await second.response).status, 200);

    const third = await call(api.url, "GET", "/core/globalmetrics?watch=true", { user: "alice" });
    assert.equal(third.status, 429);
    assert.equal(third.body.title, "TOO_MANY_WATCHES");
    assert.match(third.body.detail, /at most 2 watches per user/);
    assert.ok(Number(third.headers["retry-after"]) >= 1);
    // Lists are not watches.
    assert.equal((await call(api.url, "GET", "/core/globalmetrics", { user: "alice" })).status, 200);

    // Another user, and an exempt one, are not affected.
    const bob = openWatch(api.url, "bob");
    assert.equal((await bob.response).status, 200);
    const controllers = [1, 2, 3].map(() => openWatch(api.url, "system:controller:gc"));
    for (const w of controllers) assert.equal((await w.response).status, 200);

    // The client goes away: its slot is free again.
    first.close();
    const again = await eventually(
      async () => {
        const w = openWatch(api.url, "alice");
        const res = await w.response;
        if (res.status === 200) return w;
        w.close();
        return null;
      },
      5000,
      "alice's closed watch to be released",
    );
    for (const w of [second, again, bob, ...controllers]) w.close();
  });

  it("a watch refused for a compacted resource_version does not use up a slot", async () => {
    const api = await startServer({ maxWatchesPerUser: 1, rateLimit: 0, watchHistory: 100 });
    const client = new KrakeClient({ url: api.url, headers: { "X-Test-User": "system:admin" } });
    for (let i = 0; i < 150; i++) await client.kind(GlobalMetric).create(bodies.GlobalMetric(`m${i}`));
    for (let i = 0; i < 3; i++) {
      const res = await call(api.url, "GET", "/core/globalmetrics?watch=true&resource_version=1", {
        user: "erin",
      });
      assert.equal(res.status, 410, "the compacted revision answers 410, not 429");
    }
    const w = openWatch(api.url, "erin");
    assert.equal((await w.response).status, 200);
    w.close();
  });
});

describe("request body size", () => {
  it("answers 413 naming the limit", async () => {
    const api = await startServer({ bodyLimit: 2048, rateLimit: 0 });
    const body = JSON.stringify({ ...bodies.GlobalMetric("big"), pad: "x".repeat(4096) });
    const res = await call(api.url, "POST", "/core/globalmetrics", { user: "alice", body });
    assert.equal(res.status, 413);
    assert.match(res.body.detail, /exceeds the limit of 2048 bytes/);
  });
});

describe("KrakeClient and 429", () => {
  it("retries after Retry-After and succeeds", async () => {
    const api = await startServer({ rateLimit: 2, rateBurst: 1 });
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const client = new KrakeClient({ url: api.url, headers: { "X-Test-User": "frank" }, fetch: counting });
    await client.me();
    const started = Date.now();
    const me = await client.me();
    assert.equal(me.user, "frank");
    assert.equal(requests, 3, "one 429, then the retry");
    assert.ok(Date.now() - started >= 900, "waited for Retry-After (1 s)");
  });

  it("gives up when the wait would exceed its budget; rok prints one line saying so", async () => {
    const api = await startServer({ rateLimit: 0.1, rateBurst: 1 });
    const client = new KrakeClient({
      url: api.url,
      headers: { "X-Test-User": "grace" },
      retryTooManyRequests: { retries: 3, maxWaitMs: 2000 },
    });
    await client.me();
    const started = Date.now();
    const err = await client.me().then(
      () => assert.fail("expected a 429"),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KrakeApiError);
    assert.equal(err.status, 429);
    assert.equal(err.attempts, 1, "Retry-After 10 s exceeds the 2 s budget: no pointless wait");
    assert.ok(Date.now() - started < 1500);
    const text = describeError(err);
    assert.equal(text.split("\n").length, 1);
    assert.match(text, /^Error: 429 RATE_LIMITED: Too many requests.*\(rok gave up after 1 attempts\)$/);
  });

  it("stops after the configured number of retries", async () => {
    const api = await startServer({ rateLimit: 0.2, rateBurst: 1 });
    // The server refuses for 5 s; the client may retry once, waiting at most 10 s.
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    const client = new KrakeClient({
      url: api.url,
      headers: { "X-Test-User": "heidi" },
      fetch: counting,
      retryTooManyRequests: { retries: 0, maxWaitMs: 10_000 },
    });
    await client.me();
    await assert.rejects(
      client.me(),
      (e: unknown) => e instanceof KrakeApiError && e.status === 429 && e.attempts === 1,
    );
    assert.equal(requests, 2);
  });

  it("aborts the wait when the caller's signal aborts", async () => {
    const api = await startServer({ rateLimit: 0.2, rateBurst: 1 });
    const client = new KrakeClient({ url: api.url, headers: { "X-Test-User": "ivan" } });
    await client.me();
    const controller = new AbortController();
    const started = Date.now();
    const pending = client.me({ signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 200);
    await assert.rejects(pending, /caller gave up/);
    assert.ok(Date.now() - started < 3000);
  });
});

describe("limit and audit settings", () => {
  it("defaults: 100 requests/s, burst 200, system:* exempt, 100 watches, no audit log", () => {
    const c = resolveApiConfig({});
    assert.equal(c.rateLimit, 100);
    assert.equal(c.rateBurst, 200);
    assert.deepEqual(c.rateLimitExempt, ["system:*"]);
    assert.equal(c.maxWatchesPerUser, 100);
    assert.equal(c.auditLog, null);
    assert.equal(resolveApiConfig({ rateLimit: "2.5" }).rateBurst, 5, "burst defaults to twice the rate");
    assert.deepEqual(resolveApiConfig({ rateLimitExempt: "" }).rateLimitExempt, [], "'' exempts nobody");
  });

  it("reads api.yaml's limits and audit_log keys", async () => {
    const dir = await mkdtemp(join(tmpdir(), "krake-limits-yaml-"));
    try {
      const file = join(dir, "api.yaml");
      await writeFile(
        file,
        "limits:\n  rate_limit: 5\n  rate_burst: 7\n  rate_limit_exempt: [system:admin, bots-*]\n  watches_per_user: 3\naudit_log: /var/log/krake/audit.log\n",
      );
      const c = resolveApiConfig(optionsFromFile(file));
      assert.deepEqual(
        [c.rateLimit, c.rateBurst, c.rateLimitExempt, c.maxWatchesPerUser, c.auditLog],
        [5, 7, ["system:admin", "bots-*"], 3, "/var/log/krake/audit.log"],
      );
      const env = resolveApiConfig(
        optionsFromEnv({ KRAKE_RATE_LIMIT: "9", KRAKE_MAX_WATCHES_PER_USER: "0" }),
      );
      assert.deepEqual([env.rateLimit, env.maxWatchesPerUser], [9, 0]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the setting of a bad value", () => {
    assert.throws(
      () => resolveApiConfig({ rateLimit: "fast" }),
      /rate-limit: expected a number of requests per second/,
    );
    assert.throws(() => resolveApiConfig({ rateBurst: 0 }), /rate-burst: expected an integer from 1/);
    assert.throws(() => resolveApiConfig({ maxWatchesPerUser: -1 }), /max-watches-per-user/);
    assert.throws(
      () => resolveApiConfig({ rateLimitExempt: "sys*tem" }),
      /rate-limit-exempt: '\*' may only end a pattern/,
    );
  });
});
