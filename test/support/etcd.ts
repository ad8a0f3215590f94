/**
 * A real, throw-away single-member etcd for tests: `/usr/bin/etcd` (Debian's etcd-server 3.4) on two free
 * loopback ports with a fresh temp data dir.
 *
 * Cleanup is test/support/daemon.ts's; etcd stays an attached child (same process group, so a Ctrl-C
 * reaches it too).
 */
import { spawn, spawnSync } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, mkdtemp, readFile, rm, statfs } from "node:fs/promises";
import { get as httpsGet } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";
import { DaemonProcess } from "./daemon.js";

export const ETCD_BIN = "/usr/bin/etcd";

/**
 * Serve clients over TLS and require a client certificate signed by `ca` (etcd's --client-cert-auth).
 * `client` is a certificate etcd accepts, used for the readiness probe.
 */
export interface TestEtcdTls {
  ca: string;
  cert: string;
  key: string;
  client: { cert: string; key: string };
}

export interface TestEtcd {
  /** `http://127.0.0.1:PORT` (`https://` with TLS), the client URL. */
  endpoint: string;
  dataDir: string;
  /** Kills etcd (SIGTERM, SIGKILL after a deadline), waits for it to exit, removes the data dir. */
  stop(): Promise<void>;
  /** Stops etcd and starts it again on the same ports with the same data (for reconnect tests). */
  restart(): Promise<void>;
  /** Compacts the keyspace up to `rev` and waits until the compaction is physically applied. */
  compact(rev: number): Promise<void>;
}

const READY_TIMEOUT_MS = 20_000;

let noFsyncFlag: boolean | undefined;

/** `--unsafe-no-fsync` (etcd >= 3.4.24/3.5) makes tests faster; Debian's 3.4.23 does not know it. */
function supportsNoFsync(): boolean {
  if (noFsyncFlag === undefined) {
    const r = spawnSync(ETCD_BIN, ["--help"], { encoding: "utf8" });
    noFsyncFlag = `${r.stdout ?? ""}${r.stderr ?? ""}`.includes("--unsafe-no-fsync");
  }
  return noFsyncFlag;
}

/** `n` distinct free ports: all listeners stay open until every port is known. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const addr = s.address();
    if (addr === null || typeof addr === "string") throw new Error("unexpected listener address");
    return addr.port;
  });
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

/**
 * Where data dirs go. Debian's etcd 3.4.23 has no --unsafe-no-fsync, and it fsyncs every raft entry,
 * including compare-and-swap transactions that fail (a txn with a put in either branch is a write), so a
 * contended test costs thousands of fsyncs. On tmpfs an fsync is free. etcd preallocates 64 MiB WAL
 * segments, so tmpfs is used only if it has room to spare (Docker's default /dev/shm is 64 MiB).
 */
async function dataRoot(): Promise<string> {
  if (supportsNoFsync()) return tmpdir();
  try {
    const fs = await statfs("/dev/shm");
    if (fs.bavail * fs.bsize >= 1024 * 1024 * 1024) return "/dev/shm";
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("startEtcd aborted");
}

async function spawnEtcd(
  clientPort: number,
  peerPort: number,
  dataDir: string,
  tls?: TestEtcdTls,
): Promise<DaemonProcess> {
  const client = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    "--name",
    "default",
    "--data-dir",
    dataDir,
    "--listen-client-urls",
    client,
    "--advertise-client-urls",
    client,
    "--listen-peer-urls",
    peer,
    "--initial-advertise-peer-urls",
    peer,
    "--initial-cluster",
    `default=${peer}`,
    "--logger",
    "zap",
    "--log-level",
    "warn",
    // A single member on loopback: the default 100ms/1000ms raft timings only delay the first leader
    // election (about 0.9s per start, including every restart()); 10ms/100ms gets it under 0.1s.
    "--heartbeat-interval",
    "10",
    "--election-timeout",
    "100",
  ];
  if (supportsNoFsync()) args.push("--unsafe-no-fsync");
  if (tls) {
    args.push("--cert-file", tls.cert, "--key-file", tls.key, "--trusted-ca-file", tls.ca, "--client-cert-auth");
  }
  const child = spawn(ETCD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return new DaemonProcess(child, dataDir, "etcd");
}

/** Polls /health until etcd has a leader and serves requests; fails early if etcd exits. */
/** GET /health, over TLS with the probe's client certificate when etcd requires one. */
async function health(endpoint: string, tls?: TestEtcdTls): Promise<{ ok: boolean; status: number; body: string }> {
  if (!tls) {
    const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
    return { ok: res.ok, status: res.status, body: await res.text() };
  }
  const [ca, cert, key] = await Promise.all([readFile(tls.ca), readFile(tls.client.cert), readFile(tls.client.key)]);
  return new Promise((resolve, reject) => {
    const req = httpsGet(`${endpoint}/health`, { ca, cert, key, timeout: 1_000 }, (res) => {
      let body = "";
      res.on("data", (d) => (body += d));
      res.on("end", () => resolve({ ok: res.statusCode === 200, status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function waitReady(proc: DaemonProcess, endpoint: string, signal?: AbortSignal, tls?: TestEtcdTls): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "no answer yet";
  while (Date.now() < deadline) {
    if (signal?.aborted) throw abortError(signal);
    if (proc.exitedYet) {
      const { code, signal: sig } = await proc.exited;
      throw new Error(`etcd exited during startup (code ${code}, signal ${sig}):\n${proc.stderr()}`);
    }
    try {
      const res = await health(endpoint, tls);
      if (res.ok && res.body.includes('"health":"true"')) return;
      lastError = `HTTP ${res.status}: ${res.body}`;
    } catch (err) {
      lastError = String(err);
    }
    // Not a synchronisation sleep: the condition is re-checked, the pause only keeps the poll polite.
    await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 10))]);
  }
  throw new Error(
    `etcd at ${endpoint} not healthy after ${READY_TIMEOUT_MS}ms (last: ${lastError}):\n${proc.stderr()}`,
  );
}

export async function startEtcd(opts: { signal?: AbortSignal; tls?: TestEtcdTls } = {}): Promise<TestEtcd> {
  const { signal, tls } = opts;
  try {
    await access(ETCD_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${ETCD_BIN} not found: install etcd 3.4 with \`apt-get install -y etcd-server\``);
  }
  if (signal?.aborted) throw abortError(signal);

  const dataDir = await mkdtemp(join(await dataRoot(), "krake-etcd-test-"));
  let proc: DaemonProcess | undefined;
  let endpoint = "";
  let peerPort = 0;
  let clientPort = 0;
  const onAbort = () => void proc?.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // A free port can be taken by someone else between our probe and etcd's bind; try fresh ones then.
    for (let attempt = 1; ; attempt++) {
      [clientPort, peerPort] = await freePorts(2);
      endpoint = `${tls ? "https" : "http"}://127.0.0.1:${clientPort}`;
      proc = await spawnEtcd(clientPort, peerPort, dataDir, tls);
      try {
        await waitReady(proc, endpoint, signal, tls);
        break;
      } catch (err) {
        await proc.stop();
        const portClash = /address already in use/.test(String(err));
        if (!portClash || attempt >= 3) throw err;
        await rm(dataDir, { recursive: true, force: true });
        await mkdir(dataDir, { recursive: true });
      }
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }

  let current: DaemonProcess = proc;
  let stopped = false;
  return {
    endpoint,
    dataDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    async restart() {
      if (stopped) throw new Error("etcd has been stopped");
      await current.stop();
      current = await spawnEtcd(clientPort, peerPort, dataDir, tls);
      await waitReady(current, endpoint, undefined, tls);
    },
    async compact(rev: number) {
      const client = new Etcd3({ hosts: endpoint });
      try {
        // physical: the call returns only once the old revisions are gone, so a following watch or read
        // reliably sees the compaction.
        await client.kv.compact({ revision: rev, physical: true });
      } finally {
        client.close();
      }
    },
  };
}
