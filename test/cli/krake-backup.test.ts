/**
 * `krake backup` and `krake restore` as an operator runs them: real processes against real API servers,
 * embedded data directories and etcd.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { KRAKE_BIN } from "../support/process.js";
import {
  ADMIN_RBAC,
  EVERYTHING,
  eventually,
  http,
  putRbac,
  startTestApi,
  type TestApi,
} from "../support/api.js";
import { bodies } from "../support/fixtures.js";
import { startEtcd, type TestEtcd } from "../support/etcd.js";
import { readBackup } from "../../src/store/backup.js";

/**
 * Under `tsx --test` this file runs from source, where there is no build for KRAKE_BIN to start: run the
 * CLI's source through tsx instead. Compiled (npm test), the real bin/krake.js is used.
 */
const ENTRY = import.meta.url.endsWith(".ts")
  ? [
      "--import",
      import.meta.resolve("tsx"),
      fileURLToPath(new URL("../../src/cli/krake.ts", import.meta.url)),
    ]
  : [KRAKE_BIN];

function krake(
  args: string[],
  stdin?: Buffer,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...ENTRY, ...args], { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-backup-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

async function* once(buf: Buffer): AsyncGenerator<Buffer> {
  yield buf;
}

const parse = async (path: string) => readBackup(once(await readFile(path)), path);

async function names(url: string, path: string): Promise<Array<[string, number, string]>> {
  const res = await http(url, "GET", path);
  assert.equal(res.status, 200, res.text);
  return res.body.items
    .map((i: any) => [i.metadata.name, i.spec.max, i.metadata.resource_version] as [string, number, string])
    .sort();
}

describe("krake backup / restore with the embedded store", () => {
  let api: TestApi;
  let file: string;
  before(async () => {
    api = await startTestApi();
    file = join(dir, "live.ndjson");
  });
  after(async () => {
    await api?.close();
  });

  it("backs up a running server through its API while writes go on: every object as of one revision", async () => {
    const metrics = 12;
    const objects = new Map<string, any>();
    for (let i = 0; i < metrics; i++) {
      const res = await http(api.url, "POST", "/core/globalmetrics", bodies.GlobalMetric(`m${i}`));
      assert.equal(res.status, 200, res.text);
      objects.set(`m${i}`, res.body);
    }
    // Each writer owns some metrics and raises their spec.max; every answer says at which revision.
    const writes = new Map<string, Array<{ revision: number; max: number }>>();
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0, extra = 3; extra > 0; i++) {
        if (stop) extra--;
        const name = `m${w * 3 + (i % 3)}`;
        const obj = objects.get(name);
        const body = {
          ...obj,
          metadata: { ...obj.metadata, resource_version: null },
          spec: { ...obj.spec, max: i + 2 },
        };
        const res = await http(api.url, "PUT", `/core/globalmetrics/${name}`, body);
        assert.equal(res.status, 200, res.text);
        const list = writes.get(name) ?? [];
        list.push({ revision: Number(res.body.metadata.resource_version), max: i + 2 });
        writes.set(name, list);
      }
    });
    const run = await krake(["backup", "--api", api.url, "-o", file]);
    stop = true;
    await Promise.all(writers);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "");
    const backup = await parse(file);
    const r = backup.header.revision;
    assert.match(
      run.stderr,
      new RegExp(`${backup.header.keys} keys of the embedded store at revision ${r} written to ${file}`),
    );
    assert.equal((await stat(file)).mode & 0o777, 0o600, "the file holds secrets: owner only");
    assert.ok(
      [...writes.values()].flat().some((w) => w.revision > r),
      "writes went on after the backup's revision",
    );
    assert.ok(
      [...writes.values()].flat().some((w) => w.revision < r),
      "and before it",
    );
    for (let i = 0; i < metrics; i++) {
      const name = `m${i}`;
      const kv = backup.kvs.find((k) => k.key === `/core/globalmetrics/${name}`);
      assert.ok(kv, name);
      const last = (writes.get(name) ?? []).filter((w) => w.revision <= r).at(-1);
      if (last) {
        assert.equal(kv.modRevision, last.revision, `${name} as of revision ${r}`);
        assert.equal(JSON.parse(kv.value).spec.max, last.max);
      } else {
        assert.equal(JSON.parse(kv.value).spec.max, 1, `${name} was not yet updated at revision ${r}`);
      }
    }
  });

  it("restores into a new data directory that a new API server serves; older resource versions get 410", async () => {
    const backup = await parse(file);
    const target = join(dir, "restored");
    const run = await krake(["restore", file, "--data-dir", target]);
    assert.equal(run.code, 0, run.stderr);
    const revision = backup.header.revision + 1_000_000_000;
    assert.match(
      run.stdout,
      new RegExp(
        `restored ${backup.kvs.length} keys into embedded store ${target} \\(backup of an embedded store at revision ${backup.header.revision}`,
      ),
    );
    assert.match(
      run.stdout,
      new RegExp(
        `the store's revision is now ${revision}: watches from older resource versions get 410 Gone`,
      ),
    );

    const restored = await startTestApi({ dataDir: target });
    try {
      const expected = backup.kvs
        .filter((kv) => kv.key.startsWith("/core/globalmetrics/"))
        .map((kv) => [
          JSON.parse(kv.value).metadata.name,
          JSON.parse(kv.value).spec.max,
          String(kv.modRevision),
        ])
        .sort();
      assert.deepEqual(
        await names(restored.url, "/core/globalmetrics"),
        expected,
        "objects keep their resource versions",
      );
      const list = await http(restored.url, "GET", "/core/globalmetrics");
      assert.equal(list.body.metadata.resource_version, String(revision));
      const stale = await http(
        restored.url,
        "GET",
        `/core/globalmetrics?watch&resource_version=${backup.header.revision}`,
      );
      assert.equal(stale.status, 410);
      assert.equal(stale.body.title, "RESOURCE_VERSION_EXPIRED");
      const created = await http(
        restored.url,
        "POST",
        "/core/globalmetrics",
        bodies.GlobalMetric("after-restore"),
      );
      assert.equal(created.body.metadata.resource_version, String(revision + 1));
    } finally {
      await restored.close();
    }
  });

  it("refuses a cut-off, altered or foreign file, naming the problem, and writes nothing", async () => {
    const bytes = await readFile(file);
    const target = join(dir, "never");
    const cut = join(dir, "cut.ndjson");
    await writeFile(cut, bytes.subarray(0, bytes.length - 200));
    const altered = join(dir, "altered.ndjson");
    const text = bytes.toString("utf8");
    const at = text.indexOf("static_provider");
    await writeFile(altered, text.slice(0, at) + "Static_provider" + text.slice(at + 15));
    // Independent runs, so they go in parallel.
    const [cutRun, alteredRun, missingRun, foreignRun, checkOnly] = await Promise.all([
      krake(["restore", cut, "--data-dir", target]),
      krake(["restore", altered, "--data-dir", target]),
      krake(["restore", join(dir, "live.ndjson.nope"), "--data-dir", target]),
      krake(["restore", "-", "--data-dir", target], Buffer.from('{"hello":"world"}\n')),
      krake(["restore", file, "--dry-run"]),
    ]);
    assert.equal(checkOnly.code, 0, checkOnly.stderr);
    assert.match(
      checkOnly.stdout,
      /live\.ndjson: intact \(backup of an embedded store at revision \d+, taken .*, \d+ keys, \d+ bytes, sha256 [0-9a-f]{64}\)/,
    );
    const cutCheck = await krake(["restore", cut, "--dry-run"]);
    assert.equal(cutCheck.code, 1);
    assert.equal(cutRun.code, 1);
    assert.match(cutRun.stderr, new RegExp(`^krake restore: ${cut}: .*cut short.*; nothing was written\\n$`));
    assert.equal(alteredRun.code, 1);
    assert.match(
      alteredRun.stderr,
      /altered\.ndjson: line \d+: checksum mismatch: .*the file was altered or damaged; nothing was written/,
    );
    assert.equal(missingRun.code, 1);
    assert.match(missingRun.stderr, /cannot read .*live\.ndjson\.nope: ENOENT/);
    assert.equal(foreignRun.code, 1);
    assert.match(foreignRun.stderr, /standard input: line 1: not a Krake backup: format is undefined/);
    assert.equal(await exists(target), false, "the target was never created");
  });

  it("refuses a data directory with a store unless --force, and one a running server holds even with it", async () => {
    const target = join(dir, "twice");
    assert.equal((await krake(["restore", file, "--data-dir", target])).code, 0);
    const files = (await readdir(target)).sort();
    let run = await krake(["restore", file, "--data-dir", target]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /already holds an embedded store \(snapshot\); restore replaces it only with --force/,
    );
    assert.deepEqual((await readdir(target)).sort(), files);

    run = await krake(["restore", file, "--data-dir", target, "--force"]);
    assert.equal(run.code, 0, run.stderr);
    const previous = /moved to (\S+);/.exec(run.stdout)?.[1];
    assert.ok(previous && (await exists(join(previous, "snapshot"))), run.stdout);

    run = await krake(["restore", file, "--data-dir", api.dataDir, "--force"]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(`${api.dataDir} is in use by another process \\(pid ${process.pid}\\): stop the API server`),
    );

    run = await krake(["restore", file, "--data-dir", target, "--force", "--dry-run"]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /intact .* could be restored into embedded store .*; nothing was written/);
  });

  it("backs up a data directory offline, and refuses while a server holds it, pointing to --api", async () => {
    const out = join(dir, "offline.ndjson");
    let run = await krake(["backup", "--data-dir", api.dataDir, "-o", out]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /is in use by another process \(pid \d+\).*krake backup --api URL.*; no file was written/,
    );
    assert.equal(await exists(out), false);
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes(".tmp-")),
      [],
      "no temporary file left",
    );

    const online = await parse(file);
    await api.server.close();
    run = await krake(["backup", "--data-dir", api.dataDir]);
    assert.equal(run.code, 0, run.stderr);
    const offline = await readBackup(once(Buffer.from(run.stdout)), "stdout");
    assert.ok(offline.header.revision >= online.header.revision);
    assert.deepEqual(
      offline.kvs.map((kv) => kv.key),
      online.kvs.map((kv) => kv.key),
    );
  });

  it("usage errors exit 2", async () => {
    const [noTarget, both, negative] = await Promise.all([
      krake(["restore", file]),
      krake(["backup", "--data-dir", dir, "--etcd", "http://127.0.0.1:1"]),
      krake(["restore", file, "--data-dir", dir, "--bump-revision", "-3"]),
    ]);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.stderr, /give exactly one of --data-dir or --etcd/);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /give exactly one of --api, --data-dir or --etcd/);
    assert.equal(negative.code, 2);
  });
});

describe("krake backup / restore with etcd", () => {
  let etcd: TestEtcd;
  let api: TestApi;
  before(async () => {
    etcd = await startEtcd();
    api = await startTestApi({ etcd: etcd.endpoint, etcdPrefix: "/krake/" });
  });
  after(async () => {
    await api?.close();
    await etcd?.stop();
  });

  it("backs up etcd while the API server runs, restores into another prefix that a new server serves", async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal(
        (await http(api.url, "POST", "/core/globalmetrics", bodies.GlobalMetric(`e${i}`))).status,
        200,
      );
    }
    const before = await names(api.url, "/core/globalmetrics");
    const listed = await http(api.url, "GET", "/core/globalmetrics");
    const file = join(dir, "etcd.ndjson");
    let run = await krake(["backup", "--etcd", etcd.endpoint, "--etcd-prefix", "/krake/", "-o", file]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /keys of the etcd store at revision \d+ written/);

    run = await krake(["restore", file, "--etcd", etcd.endpoint, "--etcd-prefix", "/restored/"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "", "same etcd: no warning");
    const revision = Number(/the store's revision is now (\d+)/.exec(run.stdout)?.[1]);

    const restored = await startTestApi({ etcd: etcd.endpoint, etcdPrefix: "/restored/" });
    try {
      const after = await names(restored.url, "/core/globalmetrics");
      assert.deepEqual(
        after.map(([n, max]) => [n, max]),
        before.map(([n, max]) => [n, max]),
      );
      assert.ok(after.every(([, , rv]) => Number(rv) > Number(listed.body.metadata.resource_version)));
      const stale = await http(
        restored.url,
        "GET",
        `/core/globalmetrics?watch&resource_version=${listed.body.metadata.resource_version}`,
      );
      assert.equal(stale.status, 410, "history before the restore is compacted");
      assert.ok(revision > Number(listed.body.metadata.resource_version));
    } finally {
      await restored.close();
    }

    run = await krake(["restore", file, "--etcd", etcd.endpoint, "--etcd-prefix", "/restored/"]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /under prefix "\/restored\/" already holds \d+ key\(s\) .*only with --force; nothing was written/,
    );
  });

  it("GET /backup works on an etcd-backed server too", async () => {
    const run = await krake(["backup", "--api", api.url]);
    assert.equal(run.code, 0, run.stderr);
    const backup = await readBackup(once(Buffer.from(run.stdout)), "stdout");
    assert.equal(backup.header.store, "etcd");
    assert.ok(backup.kvs.some((kv) => kv.key === "/core/globalmetrics/e0"));
  });

  it("an unreachable etcd is named", async () => {
    const run = await krake(["backup", "--etcd", "http://127.0.0.1:1", "-o", join(dir, "x.ndjson")]);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach etcd at http:\/\/127\.0\.0\.1:1/);
    assert.equal(await exists(join(dir, "x.ndjson")), false);
  });
});

describe("GET /backup authorization", () => {
  let admin: TestApi;
  let alice: TestApi;
  let anonymous: TestApi;
  let denied: TestApi;
  before(async () => {
    admin = await startTestApi({ authorization: "RBAC", staticUser: "system:admin" });
    const store = admin.server.store;
    await putRbac(store, {
      roles: { ...ADMIN_RBAC.roles, "team-a-all": [{ ...EVERYTHING, namespaces: ["team-a"] }] },
      bindings: { rb: ADMIN_RBAC.bindings["rb:system"], alice: { users: ["alice"], roles: ["team-a-all"] } },
    });
    alice = await startTestApi({ authorization: "RBAC", staticUser: "alice" }, store);
    anonymous = await startTestApi({ authorization: "RBAC", allowAnonymous: true }, store);
    denied = await startTestApi({ authorization: "always-deny" }, store);
  });
  after(async () => {
    for (const a of [denied, anonymous, alice]) await a?.close();
    await admin?.close();
  });

  it("an admin (list on everything everywhere) gets the backup; a namespace's full owner, anonymous and always-deny do not", async () => {
    const ok = await eventually(
      async () => {
        const res = await fetch(`${admin.url}/backup`);
        return res.status === 200 ? res : null;
      },
      5000,
      "the admin's roles to load",
    );
    assert.equal(ok.headers.get("content-type"), "application/x-ndjson; charset=utf-8");
    const backup = await readBackup(once(Buffer.from(await ok.arrayBuffer())), "GET /backup");
    assert.ok(backup.kvs.some((kv) => kv.key === "/core/roles/role:system"));
    await eventually(
      async () => (await http(alice.url, "GET", "/kubernetes/namespaces/team-a/applications")).status === 200,
    );
    assert.equal(
      (await http(alice.url, "GET", "/backup")).status,
      403,
      "all verbs in one namespace is not enough",
    );
    assert.equal((await http(anonymous.url, "GET", "/backup")).status, 401);
    assert.equal((await http(denied.url, "GET", "/backup")).status, 403);
    assert.equal((await http(admin.url, "POST", "/backup", {})).status, 405);

    const run = await krake(["backup", "--api", alice.url, "-o", join(dir, "alice.ndjson")]);
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /refused the backup \(403: Forbidden\): .*may list every resource of every API in every namespace.*; no file was written/,
    );
    assert.equal(await exists(join(dir, "alice.ndjson")), false);
  });
});
