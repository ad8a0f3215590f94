/**
 * The audit log: one JSON line per mutating request (and GET /backup), refused ones included, with who,
 * what, when and the result, and never a body, token or password; reopened on SIGHUP; flushed on shutdown.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rename, rm, stat } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { resolveApiConfig, type ApiOptions } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import type { ApiServer } from "../../src/api/server.js";
import type { Authenticator } from "../../src/api/auth/index.js";
import { KINDS } from "../../src/resources/registry.js";
import type { KindDef } from "../../src/resources/kind.js";
import { bodies } from "../support/fixtures.js";
import { ADMIN_RBAC, eventually, http, putRbac } from "../support/api.js";
import { startKrake } from "../support/process.js";

const headerUser: Authenticator = {
  name: "test-header",
  authenticate: (req) => (typeof req.headers["x-test-user"] === "string" ? req.headers["x-test-user"] : null),
};

/** Every password, token and kubeconfig credential in the bodies becomes a string the log must not hold. */
function withSecrets(value: unknown, kind: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withSecrets(v, kind));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        typeof v === "string" && /password|token/i.test(k) ? `SECRET-${kind}-${k}` : withSecrets(v, kind),
      ]),
    );
  }
  return value;
}

const BEARER = "SECRET-BEARER-TOKEN-abc123";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-audit-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function startAudited(auditLog: string, options: ApiOptions = {}): Promise<ApiServer> {
  const config = resolveApiConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir: await mkdtemp(join(dir, "data-")),
    fsync: false,
    auditLog,
    ...options,
  });
  return startApiServer(config, { logger: pino({ level: "silent" }), authenticators: [headerUser] });
}

function lines(file: string): any[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The record of the request that was answered with `res` (by the X-Request-Id it carried). */
async function recordOf(file: string, res: { headers: Headers }): Promise<any> {
  const id = res.headers.get("x-request-id");
  assert.ok(id, "audited requests carry X-Request-Id");
  return eventually(() => lines(file).find((l) => l.request_id === id), 5000, `audit record ${id}`);
}

const itemPath = (def: KindDef, name: string, ns = "audit-ns") =>
  def.namespaced
    ? `/${def.group}/namespaces/${ns}/${def.plural}/${name}`
    : `/${def.group}/${def.plural}/${name}`;
const collectionPath = (def: KindDef, ns = "audit-ns") =>
  def.namespaced ? `/${def.group}/namespaces/${ns}/${def.plural}` : `/${def.group}/${def.plural}`;

describe("audit log", () => {
  it("records every mutating route of every kind, with the written uid and resource_version", async () => {
    const file = join(dir, "all-routes.log");
    const server = await startAudited(file);
    const as = { "X-Test-User": "system:admin", Authorization: `Bearer ${BEARER}` };
    const checked: string[] = [];
    try {
      for (const def of KINDS) {
        const name = `a-${def.plural}`;
        const body = withSecrets(
          (bodies as Record<string, (n: string) => unknown>)[def.kind](name),
          def.kind,
        );
        const ns = def.namespaced ? "audit-ns" : null;
        const expect = async (
          res: Awaited<ReturnType<typeof http>>,
          method: string,
          path: string,
          extra: object,
        ) => {
          const rec = await recordOf(file, res);
          assert.equal(rec.user, "system:admin");
          assert.equal(rec.client, "127.0.0.1");
          assert.equal(rec.method, method);
          assert.equal(rec.path, path);
          assert.equal(rec.api, def.group);
          assert.equal(rec.kind, def.kind);
          assert.equal(rec.namespace, ns);
          assert.equal(rec.name, name);
          assert.equal(rec.status, res.status);
          assert.ok(!Number.isNaN(Date.parse(rec.time)));
          assert.equal(typeof rec.duration_ms, "number");
          if (res.status < 300) {
            assert.equal(rec.uid, res.body.metadata.uid);
            assert.equal(rec.resource_version, res.body.metadata.resource_version);
            assert.equal(rec.problem, null);
          } else {
            assert.equal(rec.uid, null);
            assert.equal(typeof rec.problem, "string");
          }
          for (const [k, v] of Object.entries(extra)) assert.deepEqual(rec[k], v, `${method} ${path}: ${k}`);
          checked.push(`${method} ${path}`);
        };

        const created = await http(server.url, "POST", collectionPath(def), body, as);
        assert.equal(created.status, 200, `${def.kind}: ${created.text}`);
        await expect(created, "POST", collectionPath(def), { verb: "create", subresource: null });

        const updated = await http(
          server.url,
          "PUT",
          itemPath(def, name),
          { ...created.body, metadata: { ...created.body.metadata, labels: { x: "y" } } },
          as,
        );
        assert.equal(updated.status, 200, `${def.kind}: ${updated.text}`);
        await expect(updated, "PUT", itemPath(def, name), { verb: "update", subresource: null });
        assert.notEqual(updated.body.metadata.resource_version, created.body.metadata.resource_version);

        if (def.hasStatus) {
          const status = await http(server.url, "PUT", `${itemPath(def, name)}/status`, updated.body, as);
          await expect(status, "PUT", `${itemPath(def, name)}/status`, {
            verb: "update",
            subresource: "status",
          });
        }
        for (const action of def.actions) {
          const res = await http(
            server.url,
            "PUT",
            `${itemPath(def, name)}/${action.name}`,
            { token: "SECRET-ACTION-TOKEN" },
            as,
          );
          await expect(res, "PUT", `${itemPath(def, name)}/${action.name}`, {
            verb: "update",
            subresource: action.name,
          });
        }
        const deleted = await http(server.url, "DELETE", itemPath(def, name), undefined, as);
        assert.equal(deleted.status, 200, `${def.kind}: ${deleted.text}`);
        await expect(deleted, "DELETE", itemPath(def, name), { verb: "delete", subresource: null });
      }
      const backup = await fetch(`${server.url}/backup`, { headers: as });
      assert.equal(backup.status, 200);
      await backup.text();
      const rec = await recordOf(file, backup);
      assert.equal(rec.verb, "backup");
      assert.equal(rec.path, "/backup");
      assert.equal(rec.user, "system:admin");

      // Reads other than /backup are not audited.
      const read = await http(server.url, "GET", collectionPath(KINDS[0]), undefined, as);
      assert.equal(read.headers.get("x-request-id"), null);
    } finally {
      await server.close();
    }
    assert.ok(checked.length >= KINDS.length * 3, `${checked.length} routes checked`);
    const text = await readFile(file, "utf8");
    assert.doesNotMatch(text, /SECRET-/, "no password, token, kubeconfig credential or bearer token");
    assert.doesNotMatch(text, /secret-token|"spec"|"manifest"/, "no bodies");
    assert.equal(text.split("\n").filter(Boolean).length, lines(file).length, "one JSON object per line");
    assert.equal((await stat(file)).mode & 0o777, 0o600);
  });

  it("records refused requests: 401, 403, 409, 422, 429 (and 413, 405), with the problem", async () => {
    const file = join(dir, "refused.log");
    const server = await startAudited(file, {
      authorization: "RBAC",
      allowAnonymous: false,
      rateLimit: 0.1,
      rateBurst: 1,
      bodyLimit: 2048,
    });
    const store = server.store;
    await putRbac(store, ADMIN_RBAC);
    const admin = { "X-Test-User": "system:admin" };
    const path = "/core/globalmetrics";
    try {
      await eventually(
        async () => (await http(server.url, "GET", path, undefined, admin)).status === 200,
        5000,
        "RBAC to load",
      );
      const cases: {
        res: Awaited<ReturnType<typeof http>>;
        status: number;
        user: string | null;
        problem: string;
      }[] = [];
      const add = async (
        status: number,
        user: string | null,
        problem: string,
        method: string,
        p: string,
        body?: unknown,
      ) => {
        const headers: Record<string, string> = user
          ? { "X-Test-User": user }
          : { Authorization: `Bearer ${BEARER}` };
        const res = await http(server.url, method, p, body, headers);
        assert.equal(res.status, status, `${method} ${p}: ${res.text}`);
        cases.push({ res, status, user, problem });
      };
      await add(401, null, "Unauthorized", "POST", path, withSecrets(bodies.GlobalMetric("m1"), "x"));
      await add(403, "mallory", "Forbidden", "DELETE", `${path}/m1`);
      await add(200, "system:admin", "", "POST", path, bodies.GlobalMetric("m1"));
      await add(409, "system:admin", "RESOURCE_ALREADY_EXISTS", "POST", path, bodies.GlobalMetric("m1"));
      await add(422, "system:admin", "Unprocessable Entity", "POST", path, {
        metadata: { name: "bad" },
        spec: { password: "SECRET-IN-INVALID-BODY" },
      });
      await add(413, "system:admin", "Payload Too Large", "POST", path, { pad: "x".repeat(4096) });
      // Methods a route does not serve are refused before anyone is authenticated: no user.
      await add(405, null, "Method Not Allowed", "PATCH", `${path}/m1`, {});
      await add(200, "trudy", "Forbidden", "GET", "/me");
      await add(429, "trudy", "RATE_LIMITED", "PUT", `${path}/m1`, bodies.GlobalMetric("m1"));
      for (const c of cases) {
        if (c.res.status === 200 && c.res.headers.get("x-request-id") === null) continue; // GET /me: not audited
        const rec = await recordOf(file, c.res);
        assert.equal(rec.status, c.status);
        assert.equal(rec.user, c.user);
        assert.equal(rec.api, "core");
        assert.equal(rec.kind, "GlobalMetric");
        if (c.status >= 400) assert.equal(rec.problem, c.problem, `${c.status}`);
      }
    } finally {
      await server.close();
    }
    const text = await readFile(file, "utf8");
    assert.doesNotMatch(text, /SECRET-/);
  });

  it("has every line on disk once close() returns", async () => {
    const file = join(dir, "flush.log");
    const server = await startAudited(file);
    const res = await http(server.url, "POST", "/core/globalmetrics", bodies.GlobalMetric("last"), {
      "X-Test-User": "u",
    });
    assert.equal(res.status, 200);
    await server.close();
    assert.ok(lines(file).some((l) => l.request_id === res.headers.get("x-request-id")));
  });

  it("refuses to start when the file cannot be opened, naming it", async () => {
    const file = join(dir, "no-such-dir", "audit.log");
    await assert.rejects(startAudited(file), (err: Error) => {
      assert.match(
        err.message,
        /audit log .*no-such-dir\/audit\.log: cannot open it for appending \(ENOENT\)/,
      );
      return true;
    });
  });

  it("krake api reopens the file on SIGHUP (logrotate) and creates it with mode 0600", async () => {
    const file = join(dir, "rotated.log");
    const proc = await startKrake([
      "api",
      "--port",
      "0",
      "--data-dir",
      await mkdtemp(join(dir, "data-")),
      "--no-fsync",
      "--audit-log",
      file,
    ]);
    try {
      const first = await http(proc.url, "POST", "/core/globalmetrics", bodies.GlobalMetric("before"));
      assert.equal(first.status, 200);
      await recordOf(file, first);
      await rename(file, `${file}.1`);
      proc.child.kill("SIGHUP");
      const second = await eventually(
        async () => {
          const res = await http(
            proc.url,
            "POST",
            "/core/globalmetrics",
            bodies.GlobalMetric(`after-${Date.now()}`),
          );
          return lines(file).length > 0 ? res : null;
        },
        5000,
        "a new file after SIGHUP",
      );
      assert.ok(second);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.ok(
        lines(`${file}.1`).some((l) => l.name === "before"),
        "the rotated file keeps the earlier lines",
      );
      assert.ok(!lines(file).some((l) => l.name === "before"));
      assert.equal(proc.child.exitCode, null, "SIGHUP does not stop the server");
    } finally {
      const exit = await proc.kill("SIGTERM");
      assert.equal(exit.code, 0);
    }
  });
});
