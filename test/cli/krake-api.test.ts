import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runKrake, startKrake, type KrakeProcess } from "../support/process.js";
import { bodies } from "../support/fixtures.js";
import { startEtcd } from "../support/etcd.js";
import { eventually, http } from "../support/api.js";

let dir: string;
const running: KrakeProcess[] = [];
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-cli-"));
});
after(async () => {
  for (const p of running) await p.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function start(args: string[], env: NodeJS.ProcessEnv = {}) {
  const p = await startKrake(["api", "--host", "127.0.0.1", "--port", "0", "--log-level", "info", ...args], env);
  running.push(p);
  return p;
}

describe("krake api as a process", () => {
  it("--help lists every flag", async () => {
    const res = await runKrake(["api", "--help"]);
    assert.equal(res.code, 0);
    for (const flag of ["--host", "--port", "--data-dir", "--etcd", "--config", "--tls-cert", "--tls-key", "--tls-client-ca", "--authorization", "--allow-anonymous", "--body-limit", "--no-fsync", "--log-level"]) {
      assert.ok(res.stdout.includes(flag), `--help mentions ${flag}`);
    }
    assert.match(res.stdout, /KRAKE_API_PORT/);
  });

  it("refuses a bad flag value with exit 2, naming it", async () => {
    const res = await runKrake(["api", "--port", "eighty"]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /port: expected an integer from 0 to 65535, got "eighty"/);
    const env = await runKrake(["api"], { KRAKE_AUTHORIZATION: "maybe" });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /authorization: expected always-allow, always-deny or RBAC, got "maybe"/);
  });

  it("reads Krake's api.yaml keys, and flags override the file", async () => {
    const file = join(dir, "api.yaml");
    await writeFile(
      file,
      [
        "port: 1",
        "etcd:",
        "  host: 127.0.0.1",
        "  port: 2379",
        "  retry_transactions: 2",
        "store: embedded",
        `data_dir: ${join(dir, "from-file")}`,
        "authentication:",
        "  allow_anonymous: true",
        "  strategy:",
        "    static: {enabled: true, name: file-user}",
        "authorization: always-allow",
      ].join("\n"),
    );
    const p = await start(["--config", file]);
    const me = await http(p.url, "GET", "/me");
    assert.equal(me.body.user, "file-user");
    await p.kill();
  });

  it("keeps every acknowledged write across kill -9 in the middle of a load", async () => {
    const dataDir = join(dir, "crash");
    const first = await start(["--data-dir", dataDir]);
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const name = `w${w}-${i}`;
        try {
          const res = await http(first.url, "POST", "/core/globalmetrics", bodies.GlobalMetric(name));
          if (res.status === 200) acknowledged.push(name);
        } catch {
          return; // the server is gone
        }
      }
    });
    await eventually(() => acknowledged.length >= 300, 20_000, "300 acknowledged writes");
    const killed = await first.kill("SIGKILL");
    stop = true;
    await Promise.all(writers);
    assert.equal(killed.signal, "SIGKILL");

    const second = await start(["--data-dir", dataDir]);
    const list = await http(second.url, "GET", "/core/globalmetrics");
    const present = new Set(list.body.items.map((i: any) => i.metadata.name));
    const lost = acknowledged.filter((n) => !present.has(n));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged writes were lost`);
    await second.kill();
  });

  it("on SIGTERM finishes in-flight requests, ends watches and exits 0 with the data flushed", async () => {
    const dataDir = join(dir, "graceful");
    const p = await start(["--data-dir", dataDir, "--blocking-timeout", "1"]);
    const watch = await fetch(`${p.url}/core/globalmetrics?watch`);
    const watchEnded = (async () => {
      for await (const _ of watch.body as any) {
        // drain
      }
      return true;
    })();
    // A blocking create waits (here until its 1 s timeout) — it must still get its answer.
    const inFlight = http(p.url, "POST", "/kubernetes/namespaces/ns/applications?blocking=RUNNING", bodies.Application("app"));
    await eventually(async () => (await http(p.url, "GET", "/kubernetes/namespaces/ns/applications/app")).status === 200);
    const exit = p.kill("SIGTERM");
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(res.body.metadata.name, "app");
    assert.equal(await watchEnded, true);
    assert.deepEqual(await exit, { code: 0, signal: null });

    const again = await start(["--data-dir", dataDir]);
    assert.equal((await http(again.url, "GET", "/kubernetes/namespaces/ns/applications/app")).status, 200);
    await again.kill();
  });

  it("--workers runs several API processes over etcd, and refuses without etcd", async () => {
    const refused = await runKrake(["api", "--workers", "2", "--data-dir", join(dir, "w")]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /workers: several API processes need a shared store/);

    const etcd = await startEtcd();
    try {
      const p = await start(["--etcd", etcd.endpoint, "--workers", "2"]);
      await eventually(() => /"workers":2/.test(p.output()), 10_000, "the primary's listening line");
      const pids = new Set<number>();
      for (let i = 0; i < 40; i++) {
        const res = await fetch(`${p.url}/core/globalmetrics`, { method: "POST", body: JSON.stringify(bodies.GlobalMetric(`m${i}`)), headers: { Connection: "close" } });
        assert.equal(res.status, 200);
      }
      const list = await http(p.url, "GET", "/core/globalmetrics");
      assert.equal(list.body.items.length, 40, "every worker writes to the one etcd");
      for (const m of p.output().matchAll(/"pid":(\d+)[^\n]*"msg":"Krake API server listening"/g)) pids.add(Number(m[1]));
      assert.ok(pids.size >= 3, `a primary and two workers announced themselves (${[...pids].join(", ")})`);
      assert.deepEqual(await p.kill("SIGTERM"), { code: 0, signal: null });
    } finally {
      await etcd.stop();
    }
  });
});
