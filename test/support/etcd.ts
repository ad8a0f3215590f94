/**
 * A real, throw-away single-member etcd for tests: `/usr/bin/etcd` (Debian's etcd-server 3.4) on two free
 * loopback ports with a fresh temp data dir.
 *
 * Cleanup if the test process dies: etcd stays an attached child (same process group, so a Ctrl-C reaches
 * it too) and a process 'exit' hook SIGKILLs it and removes its data dir. 'exit' hooks do not run when
 * node itself is killed by a signal (e.g. the test runner's timeout), so every etcd also gets a tiny
 * watchdog shell whose stdin is a pipe from us: the kernel closes that pipe however we die, the watchdog's
 * `read` sees EOF and kills etcd (and removes the data dir). No Linux-only prctl tricks.
 *
 * The etcd child and its pipes are unref'd, so a test that forgets stop() still lets node exit (the
 * 'exit' hook then cleans up) instead of hanging until the runner's timeout.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { constants as fsConstants, rmSync } from "node:fs";
import { access, mkdir, mkdtemp, rm, statfs } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Etcd3 } from "etcd3";

export const ETCD_BIN = "/usr/bin/etcd";

export interface TestEtcd {
  /** `http://127.0.0.1:PORT`, the client URL. */
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
const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_LINES = 40;

/** Processes still running, so the 'exit' hook can kill them if a test never calls stop(). */
const live = new Set<{ child: ChildProcess; dataDir: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const { child, dataDir } of live) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
}

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

class EtcdProcess {
  private readonly stderrTail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet = false;
  private readonly entry: { child: ChildProcess; dataDir: string };
  private readonly watchdog: ChildProcess;

  constructor(
    readonly child: ChildProcess,
    dataDir: string,
  ) {
    this.entry = { child, dataDir };
    live.add(this.entry);
    let partial = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      this.stderrTail.push(...lines);
      if (this.stderrTail.length > STDERR_TAIL_LINES)
        this.stderrTail.splice(0, this.stderrTail.length - STDERR_TAIL_LINES);
    });
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitedYet = true;
        live.delete(this.entry);
        resolve({ code, signal });
      });
    });
    // `read` is a shell builtin, so the watchdog is one process and killing it leaves nothing behind. The
    // pid is only reused after we reap etcd, and stop() kills the watchdog before that, so the watchdog
    // can never hit an unrelated process.
    this.watchdog = spawn(
      "/bin/sh",
      ["-c", 'read -r _; kill -9 "$1" 2>/dev/null; rm -rf "$2"', "etcd-watchdog", String(child.pid), dataDir],
      { stdio: ["pipe", "ignore", "ignore"] },
    );
    this.watchdog.on("error", () => undefined);
    this.watchdog.stdin?.on("error", () => undefined);
    this.watchdog.unref();
    (this.watchdog.stdin as Socket | null)?.unref();
    child.unref();
    (child.stderr as Socket | null)?.unref();
  }

  stderr(): string {
    return this.stderrTail.join("\n");
  }

  async stop(): Promise<void> {
    this.watchdog.kill("SIGKILL");
    if (!this.exitedYet) {
      // Waiting on an unref'd child alone would let node exit mid-stop.
      this.child.ref();
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), STOP_GRACE_MS);
      await this.exited;
      clearTimeout(timer);
    }
  }
}

async function spawnEtcd(clientPort: number, peerPort: number, dataDir: string): Promise<EtcdProcess> {
  const client = `http://127.0.0.1:${clientPort}`;
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
  const child = spawn(ETCD_BIN, args, { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return new EtcdProcess(child, dataDir);
}

/** Polls /health until etcd has a leader and serves requests; fails early if etcd exits. */
async function waitReady(proc: EtcdProcess, endpoint: string, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let lastError = "no answer yet";
  while (Date.now() < deadline) {
    if (signal?.aborted) throw abortError(signal);
    if (proc.exitedYet) {
      const { code, signal: sig } = await proc.exited;
      throw new Error(`etcd exited during startup (code ${code}, signal ${sig}):\n${proc.stderr()}`);
    }
    try {
      const res = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(1_000) });
      const body = await res.text();
      if (res.ok && body.includes('"health":"true"')) return;
      lastError = `HTTP ${res.status}: ${body}`;
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

export async function startEtcd(opts: { signal?: AbortSignal } = {}): Promise<TestEtcd> {
  const { signal } = opts;
  try {
    await access(ETCD_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(`${ETCD_BIN} not found: install etcd 3.4 with \`apt-get install -y etcd-server\``);
  }
  if (signal?.aborted) throw abortError(signal);
  installExitHook();

  const dataDir = await mkdtemp(join(await dataRoot(), "krake-etcd-test-"));
  let proc: EtcdProcess | undefined;
  let endpoint = "";
  let peerPort = 0;
  let clientPort = 0;
  const onAbort = () => void proc?.stop();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    // A free port can be taken by someone else between our probe and etcd's bind; try fresh ones then.
    for (let attempt = 1; ; attempt++) {
      [clientPort, peerPort] = await freePorts(2);
      endpoint = `http://127.0.0.1:${clientPort}`;
      proc = await spawnEtcd(clientPort, peerPort, dataDir);
      try {
        await waitReady(proc, endpoint, signal);
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

  let current: EtcdProcess = proc;
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
      current = await spawnEtcd(clientPort, peerPort, dataDir);
      await waitReady(current, endpoint);
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
