/**
 * The API benchmark (`npm run bench:api`): starts API servers (and etcd) in temp dirs, drives each scenario
 * through the load generator process (load.ts), and prints a Markdown section for docs/performance.md on
 * stdout. Progress goes to stderr, so `npm run bench:api > section.md` captures just the section.
 *
 * It is a measurement, not a test: a missed target is reported (and marked) but the exit code stays 0.
 * Only a scenario that could not run at all (server did not start, load process crashed) gives exit code 1.
 *
 * Flags:
 *   --only create,read,list,watch,etcd,memory   scenarios to run (default: all)
 *   --objects N        objects for the memory/restart scenario (default 100000)
 *   --quick            small counts: a smoke run, the numbers mean little
 *   --concurrency N    requests in flight (default 32)
 *   --load-threads N   event loops (worker threads) of the load process for creates and reads (default 1).
 *                      One node:http client loop tops out near 8,800 requests/s against a trivial server on
 *                      the 2-core reference machine; more loops help on bigger machines, but on 2 cores
 *                      they only add client CPU per request (measured: reads 7,527/s with 1, 7,258/s with 2)
 *   --profile DIR      run every API server under `node --cpu-prof`, profiles land in DIR
 *   --out FILE         also write the Markdown section to FILE
 *   --encryption-key-file FILE   run every API server with encryption at rest (`krake api --encryption-key-file`),
 *                      to compare with a run without it
 *   --wait-quiet S     before each measured run, wait up to S seconds for the rest of the machine to go idle
 *                      (a shared machine: other people's builds and tests would be measured too)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { LoadArgs, LoadResult } from "./load.js";
import { ETCD_BIN, startEtcd, type TestEtcd } from "../../test/support/etcd.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const KRAKE_BIN = join(ROOT, "bin", "krake.js");
const LOAD_JS = fileURLToPath(new URL("./load.js", import.meta.url));

const SCENARIOS = ["create", "read", "list", "watch", "etcd", "memory"] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  only: Set<Scenario>;
  objects: number;
  objectsExplicit: boolean;
  quick: boolean;
  concurrency: number;
  loadThreads: number;
  profileDir: string | null;
  out: string | null;
  waitQuietSec: number;
  /** API processes in the etcd scenario: what an etcd deployment runs (`krake api --workers`). */
  etcdWorkers: number;
  encryptionKeyFile: string | null;
}

/** Flags every API server of the run gets (encryption at rest). */
let commonServerArgs: string[] = [];

function usage(message?: string): never {
  if (message) process.stderr.write(`bench:api: ${message}\n`);
  process.stderr.write(
    "usage: npm run bench:api -- [--only create,read,list,watch,etcd,memory] [--objects N] [--quick] [--concurrency N] [--load-threads N] [--profile DIR] [--out FILE] [--wait-quiet SECONDS] [--etcd-workers N] [--encryption-key-file FILE]\n",
  );
  process.exit(2);
}

function parseOptions(argv: string[]): Options {
  const opts: Options = {
    only: new Set(SCENARIOS),
    objects: 100_000,
    objectsExplicit: false,
    quick: false,
    concurrency: 32,
    loadThreads: 1,
    profileDir: null,
    out: null,
    waitQuietSec: 0,
    etcdWorkers: 2,
    encryptionKeyFile: null,
  };
  const positiveInt = (flag: string, raw: string | undefined) => {
    const n = Number(raw);
    if (!raw || !Number.isInteger(n) || n <= 0) usage(`${flag} needs a positive integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case "--only": {
        const names = (value() ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        for (const n of names)
          if (!(SCENARIOS as readonly string[]).includes(n)) usage(`unknown scenario '${n}'`);
        if (names.length === 0) usage("--only needs a list of scenarios");
        opts.only = new Set(names as Scenario[]);
        break;
      }
      case "--objects":
        opts.objects = positiveInt(flag, value());
        opts.objectsExplicit = true;
        break;
      case "--quick":
        opts.quick = true;
        break;
      case "--concurrency":
        opts.concurrency = positiveInt(flag, value());
        break;
      case "--load-threads":
        opts.loadThreads = positiveInt(flag, value());
        break;
      case "--profile":
        opts.profileDir = resolve(value() ?? usage("--profile needs a directory"));
        break;
      case "--out":
        opts.out = resolve(value() ?? usage("--out needs a file"));
        break;
      case "--etcd-workers":
        opts.etcdWorkers = positiveInt(flag, value());
        break;
      case "--encryption-key-file":
        opts.encryptionKeyFile = resolve(value() ?? usage("--encryption-key-file needs a file"));
        break;
      case "--wait-quiet":
        opts.waitQuietSec = positiveInt(flag, value());
        break;
      case "--help":
      case "-h":
        usage();
        break;
      default:
        usage(`unknown argument '${arg}'`);
    }
  }
  if (opts.quick && !opts.objectsExplicit) opts.objects = 5_000;
  return opts;
}

/** Counts per scenario; --quick shrinks them to a smoke run. */
function sizes(quick: boolean) {
  return quick
    ? {
        createWarmup: 200,
        creates: 1_000,
        readPrefill: 1_000,
        readWarmup: 500,
        reads: 5_000,
        listWarmup: 5,
        lists: 20,
        watchSec: 1,
        etcdWarmup: 200,
        etcdCount: 1_000,
      }
    : // Warm-ups of 5,000: the server's JIT needs a few thousand requests of a kind to reach steady state
      // (the etcd create rate after 1,000 warm-up creates was ~15 % below the rate after 10,000).
      {
        createWarmup: 5_000,
        creates: 20_000,
        readPrefill: 10_000,
        readWarmup: 5_000,
        reads: 100_000,
        listWarmup: 20,
        lists: 200,
        watchSec: 5,
        etcdWarmup: 5_000,
        etcdCount: 20_000,
      };
}

// ---------------------------------------------------------------------------------------------------------
// Process bookkeeping: whatever happens (exception, Ctrl-C, SIGTERM), no server, etcd or load process and
// no temp dir may outlive the benchmark.

const children = new Set<ChildProcess>();
const etcds = new Set<TestEtcd>();
let tempRoot: string | null = null;

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

function log(message: string): void {
  process.stderr.write(`[bench:api ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/**
 * If this process is SIGKILLed no handler runs; a tiny shell holding a pipe from us kills the child when the
 * kernel closes that pipe (the same trick test/support/etcd.ts uses).
 */
function guard(child: ChildProcess): void {
  children.add(child);
  const watchdog = spawn(
    "/bin/sh",
    ["-c", 'read -r _; kill -9 "$1" 2>/dev/null', "bench-watchdog", String(child.pid)],
    {
      stdio: ["pipe", "ignore", "ignore"],
    },
  );
  watchdog.on("error", () => undefined);
  watchdog.stdin?.on("error", () => undefined);
  watchdog.unref();
  child.once("exit", () => {
    children.delete(child);
    watchdog.kill("SIGKILL");
  });
}

/** Removes the temp root if this process dies without running its own clean-up (SIGKILL, OOM). */
let tempWatchdog: ChildProcess | null = null;

function guardTempRoot(dir: string): void {
  tempWatchdog = spawn("/bin/sh", ["-c", 'read -r _; sleep 1; rm -rf "$1"', "bench-tmp-watchdog", dir], {
    stdio: ["pipe", "ignore", "ignore"],
  });
  tempWatchdog.on("error", () => undefined);
  tempWatchdog.stdin?.on("error", () => undefined);
  tempWatchdog.unref();
}

function killEverythingSync(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  // Its job is done; left alone it would wake at our exit and remove a path that no longer is ours.
  tempWatchdog?.kill("SIGKILL");
}

async function cleanup(): Promise<void> {
  await Promise.all([...etcds].map((e) => e.stop().catch(() => undefined)));
  etcds.clear();
  killEverythingSync();
}

let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping servers, etcd and load processes, removing temp dirs`);
    void cleanup().finally(() => process.exit(130));
  });
}
process.on("exit", killEverythingSync);

// ---------------------------------------------------------------------------------------------------------
// /proc readings

const CLK_TCK = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout?.trim()) || 100;

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may contain spaces; the fields after its closing paren do not.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** A process and its live descendants (API workers under --workers), via /proc/PID/task/TID/children. */
function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const children = readFileSync(`/proc/${out[i]}/task/${tid}/children`, "utf8").trim();
        if (children) out.push(...children.split(/\s+/).map(Number));
      }
    } catch {
      // gone, or no children file: count what we have
    }
  }
  return out;
}

/** CPU seconds of a process and its live descendants. */
function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, p) => sum + (cpuSeconds(p) || 0), 0);
}

function memoryKb(pid: number): { rssKb: number; hwmKb: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssKb: field("VmRSS"), hwmKb: field("VmHWM") };
}

/** etcd's pid, found by its unique data dir: TestEtcd does not expose it. */
function etcdPid(etcd: TestEtcd): number | null {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0");
      if (cmdline[0] === ETCD_BIN && cmdline.includes(etcd.dataDir)) return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  return null;
}

/**
 * A fixed CPU workload (JSON round trips of a stored-object-sized value), best of three, in ms. The
 * reference VM's speed drifted by 1.5x within half an hour with nothing else running (same code, same
 * work: read CPU 103 -> 69 µs/request); this number, taken before and after the run, tells whether two
 * reports were measured on an equally fast machine.
 */
function calibrate(): number {
  const obj = {
    metadata: {
      name: "calibration",
      namespace: "bench",
      labels: {},
      finalizers: [],
      uid: "d0c1b7b6-1f7e-4b8e-9b0a-2a9f3c8d7e6f",
    },
    spec: { allowed_values: [], min: 0, max: 1, provider: { name: "prom", metric: "m" } },
  };
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    let sink = 0;
    for (let i = 0; i < 50_000; i++)
      sink += (JSON.parse(JSON.stringify(obj)) as typeof obj).metadata.name.length;
    best = Math.min(best, performance.now() - t0);
    if (sink === 0) log("unreachable");
  }
  return Math.round(best);
}

// ---------------------------------------------------------------------------------------------------------
// API server processes

interface ServerOptions {
  dataDir: string;
  fsync: boolean;
  etcd?: string;
  /** API processes (`--workers`); only with etcd. */
  workers?: number;
  port?: number;
  profileDir: string | null;
}

class ServerProcess {
  private readonly output: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private exitedYet = false;
  url = "";
  /** From spawn to the "listening" log line. */
  listeningMs = NaN;

  private constructor(
    readonly child: ChildProcess,
    readonly options: ServerOptions,
    private readonly spawnedAt: number,
  ) {
    this.exited = new Promise((resolveExit) =>
      child.once("exit", (code, signal) => {
        this.exitedYet = true;
        resolveExit({ code, signal });
      }),
    );
  }

  get pid(): number {
    return this.child.pid!;
  }

  static async start(options: ServerOptions): Promise<ServerProcess> {
    const nodeFlags = options.profileDir ? ["--cpu-prof", "--cpu-prof-dir", options.profileDir] : [];
    const args = [
      ...nodeFlags,
      KRAKE_BIN,
      "api",
      "--host",
      "127.0.0.1",
      "--port",
      String(options.port ?? 0),
      "--log-level",
      "info",
      // Rate and watch limits stay on (their cost is measured), but the load generator, an anonymous
      // client on one address, must not be throttled: exempt it as operators exempt their controllers.
      "--rate-limit-exempt",
      "system:*,system:anonymous",
    ];
    if (options.etcd) args.push("--etcd", options.etcd, "--workers", String(options.workers ?? 1));
    else args.push("--data-dir", options.dataDir);
    if (!options.fsync) args.push("--no-fsync");
    args.push(...commonServerArgs);
    const spawnedAt = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    guard(child);
    const server = new ServerProcess(child, options, spawnedAt);
    await server.waitListening();
    return server;
  }

  /** Resolves on pino's "listening" line; the pipes are drained for the whole life of the process. */
  private waitListening(): Promise<void> {
    return new Promise((resolveStart, reject) => {
      let partial = "";
      const onLine = (line: string) => {
        this.output.push(line);
        if (this.output.length > 50) this.output.shift();
        if (this.url !== "" || !line.includes("Krake API server listening")) return;
        try {
          this.url = (JSON.parse(line) as { url: string }).url;
          this.listeningMs = performance.now() - this.spawnedAt;
          resolveStart();
        } catch (err) {
          reject(new Error(`unreadable listening line ${line}: ${String(err)}`));
        }
      };
      this.child.stdout!.setEncoding("utf8");
      this.child.stdout!.on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      });
      this.child.stderr!.setEncoding("utf8");
      this.child.stderr!.on("data", (chunk: string) => {
        for (const line of chunk.split("\n")) if (line) this.output.push(line);
      });
      void this.exited.then(({ code, signal }) => {
        if (this.url === "")
          reject(
            new Error(`API server exited during startup (code ${code}, signal ${signal}):\n${this.tail()}`),
          );
      });
    });
  }

  tail(): string {
    return this.output.slice(-20).join("\n");
  }

  /** SIGTERM and wait (SIGKILL after 30 s); returns the milliseconds the graceful shutdown took. */
  async stop(): Promise<number> {
    if (this.exitedYet) return 0;
    const t0 = performance.now();
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => {
      log(`API server ${this.pid} did not stop in 30 s; SIGKILL`);
      this.child.kill("SIGKILL");
    }, 30_000);
    const { code, signal } = await this.exited;
    clearTimeout(timer);
    if (code !== 0) log(`API server ${this.pid} exited with code ${code} signal ${signal}:\n${this.tail()}`);
    return performance.now() - t0;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Load runs

interface Measured {
  label: string;
  load: LoadResult;
  /** CPU of the API server during the run, % of one core (2 cores = 200 %). */
  serverCpuPct: number;
  etcdCpuPct?: number;
  /**
   * CPU the rest of the machine used meanwhile (% of one core): other people's builds and tests on a shared
   * machine. More than a few % means the numbers are not this code's.
   */
  otherCpuPct: number;
  /** Of otherCpuPct: CPU the hypervisor gave to other guests (steal), % of one core. */
  stealPct: number;
  /** Server CPU time per successful operation: what the code costs, whatever else the machine was doing. */
  serverCpuUsPerOp: number;
  etcdCpuUsPerOp?: number;
  /** etcd's own request counters (gRPC method, fsyncs) divided by successful operations. */
  etcdCallsPerOp?: Record<string, number>;
}

let loadThreads = 1;

async function runLoad(args: LoadArgs, timeoutMs = 15 * 60_000): Promise<LoadResult> {
  if ((args.mode === "create" || args.mode === "read") && args.threads === undefined)
    args = { ...args, threads: loadThreads };
  const child = spawn(process.execPath, [LOAD_JS, JSON.stringify(args)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  guard(child);
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (c: string) => (stdout += c));
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const code = await new Promise<number | null>((resolveExit) => child.once("exit", (c) => resolveExit(c)));
  clearTimeout(timer);
  if (code !== 0)
    throw new Error(`load process (${args.mode}) failed with code ${code}:\n${stderr.slice(-3000)}`);
  const line = stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as LoadResult;
}

/**
 * etcd's request counters from its /metrics: gRPC calls by method and WAL fsyncs. Divided by the operations
 * of a run they show what one API request costs etcd, e.g. a create that needs more than one Txn.
 */
async function etcdCounters(endpoint: string): Promise<Map<string, number>> {
  const counters = new Map<string, number>();
  try {
    const text = await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    for (const line of text.split("\n")) {
      const grpc = /^grpc_server_handled_total\{.*grpc_method="(\w+)".*\} (\S+)$/.exec(line);
      if (grpc) counters.set(grpc[1], (counters.get(grpc[1]) ?? 0) + Number(grpc[2]));
      const fsync = /^etcd_disk_wal_fsync_duration_seconds_count (\S+)$/.exec(line);
      if (fsync) counters.set("wal fsync", Number(fsync[1]));
    }
  } catch (err) {
    log(`cannot read etcd metrics: ${String(err)}`);
  }
  return counters;
}

/** /proc/stat's first line: user nice system idle iowait irq softirq steal (guest time is part of user). */
function machineTicks(): number[] {
  return readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
}

/**
 * Busy CPU seconds of the whole machine so far (every core). Steal counts as busy: on a VM it is time the
 * hypervisor gave to other guests, which slows us down exactly like a local process would.
 */
function machineBusySeconds(): number {
  const [user, nice, system, , , irq, softirq, steal] = machineTicks();
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
}

function stealSeconds(): number {
  return (machineTicks()[7] ?? 0) / CLK_TCK;
}

let waitQuietSec = 0;

/**
 * Waits (up to --wait-quiet seconds) until the machine minus our idle server is below QUIET_PCT of a core
 * over one second. After the deadline the run goes ahead; its "others' CPU" column tells how disturbed it was.
 */
async function waitQuiet(pids: number[]): Promise<void> {
  if (waitQuietSec <= 0) return;
  const deadline = performance.now() + waitQuietSec * 1000;
  let said = false;
  for (;;) {
    const ours0 = pids.reduce((sum, pid) => sum + (cpuSeconds(pid) || 0), 0);
    const m0 = machineBusySeconds();
    const self0 = process.cpuUsage();
    await settle(1_000);
    const self = process.cpuUsage(self0);
    const ours =
      pids.reduce((sum, pid) => sum + (cpuSeconds(pid) || 0), 0) - ours0 + (self.user + self.system) / 1e6;
    const others = (machineBusySeconds() - m0 - ours) * 100;
    if (others < QUIET_PCT) return;
    if (performance.now() > deadline) {
      log(`machine still busy (others ${fmt(others)} % of a core); measuring anyway`);
      return;
    }
    if (!said) log(`waiting for a quiet machine (others use ${fmt(others)} % of a core)`);
    said = true;
  }
}

const QUIET_PCT = 15;

/** Runs one load against `server`, with the server's (and etcd's) CPU use over the same interval. */
async function measure(
  label: string,
  server: ServerProcess,
  args: LoadArgs,
  etcdInfo?: { pid: number | null; endpoint: string },
): Promise<Measured> {
  const etcd = etcdInfo?.pid ?? null;
  await waitQuiet(etcd ? [server.pid, etcd] : [server.pid]);
  log(`${label}: ${describeArgs(args)}`);
  const counters0 = etcdInfo ? await etcdCounters(etcdInfo.endpoint) : null;
  const cpu0 = treeCpuSeconds(server.pid);
  const etcd0 = etcd ? cpuSeconds(etcd) : 0;
  const machine0 = machineBusySeconds();
  const steal0 = stealSeconds();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const load = await runLoad(args);
  const secs = (performance.now() - t0) / 1000;
  const serverUsed = treeCpuSeconds(server.pid) - cpu0;
  const etcdUsed = etcd ? cpuSeconds(etcd) - etcd0 : 0;
  const self = process.cpuUsage(self0);
  const others =
    machineBusySeconds() -
    machine0 -
    serverUsed -
    etcdUsed -
    (load.processCpuSec ?? 0) -
    (self.user + self.system) / 1e6;
  const pct = (used: number) => Math.round((used / secs) * 1000) / 10;
  const perOp = (used: number) => Math.round((used / Math.max(1, load.ok)) * 1e6);
  const m: Measured = {
    label,
    load,
    serverCpuPct: pct(serverUsed),
    otherCpuPct: Math.max(0, pct(others)),
    stealPct: pct(stealSeconds() - steal0),
    serverCpuUsPerOp: perOp(serverUsed),
  };
  if (etcd) {
    m.etcdCpuPct = pct(etcdUsed);
    m.etcdCpuUsPerOp = perOp(etcdUsed);
  }
  if (counters0 && etcdInfo) {
    const counters = await etcdCounters(etcdInfo.endpoint);
    m.etcdCallsPerOp = {};
    for (const [name, value] of counters) {
      const diff = value - (counters0.get(name) ?? 0);
      if (diff > 0) m.etcdCallsPerOp[name] = Math.round((diff / Math.max(1, load.ok)) * 100) / 100;
    }
  }
  log(`${label}: ${summary(load)}; server CPU ${m.serverCpuPct} %, other processes ${m.otherCpuPct} %`);
  return m;
}

function describeArgs(a: LoadArgs): string {
  switch (a.mode) {
    case "watch-latency":
      return `${a.watchers} watchers, ${a.write} at ${a.rate}/s for ${a.durationSec} s`;
    case "list":
      return `${a.count} lists of ${a.expectItems}`;
    default:
      return `${a.mode} ×${a.count}, concurrency ${a.concurrency}`;
  }
}

function summary(r: LoadResult): string {
  const l = r.latencyMs;
  return `${fmt(r.throughput)}/s, p50 ${fmt(l.p50, 2)} ms, p99 ${fmt(l.p99, 2)} ms, errors ${r.errors.total}`;
}

/** Creates objects that a later scenario needs; a failed fill is a broken run, not a measurement. */
async function fill(
  server: ServerProcess,
  namespace: string,
  prefix: string,
  count: number,
  concurrency: number,
): Promise<LoadResult> {
  const r = await runLoad({ mode: "create", url: server.url, namespace, prefix, count, concurrency });
  if (r.errors.total > 0)
    throw new Error(
      `filling ${namespace} failed: ${r.errors.total} errors, e.g. ${r.errors.samples.join(" | ")}`,
    );
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Scenarios

interface MemoryResult {
  objects: number;
  fill: Measured;
  afterFill: { rssKb: number; hwmKb: number };
  shutdownMs: number;
  restartListeningMs: number;
  restartFirstGetMs: number;
  afterRestart: { rssKb: number; hwmKb: number };
  listedAfterRestart: number;
  dataDirBytes: number;
}

interface Results {
  createFsync?: Measured;
  createNoFsync?: Measured;
  read?: Measured;
  read1?: Measured;
  list?: Measured;
  watchCreate?: Measured;
  watchUpdate?: Measured;
  etcdRaw?: Measured;
  etcdApi?: Measured;
  /** Second rounds: one round of each swings by ±15 % on a VM; the ratio uses the mean of both. */
  etcdRaw2?: Measured;
  etcdApi2?: Measured;
  memory?: MemoryResult;
  etcdDataDir?: string;
  /** Scenarios that could not be measured, with the reason. */
  failures: { scenario: string; error: string }[];
}

function newDir(name: string): string {
  const dir = join(tempRoot!, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

async function withServer<T>(
  options: ServerOptions,
  body: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await ServerProcess.start(options);
  log(
    `API server ${server.pid} at ${server.url} (${options.etcd ? "etcd" : options.fsync ? "embedded, fsync" : "embedded, --no-fsync"}), up in ${fmt(server.listeningMs)} ms`,
  );
  try {
    return await body(server);
  } finally {
    await server.stop();
  }
}

/** create (fsync on), read, list and watch share one production-default server. */
async function embeddedScenarios(opts: Options, results: Results): Promise<void> {
  const s = sizes(opts.quick);
  const c = opts.concurrency;
  const wanted = (["create", "read", "list", "watch"] as const).filter((x) => opts.only.has(x));
  if (wanted.length === 0) return;
  await withServer(
    { dataDir: newDir("embedded-fsync"), fsync: true, profileDir: opts.profileDir },
    async (server) => {
      const url = server.url;
      let readable = 0;
      if (opts.only.has("create")) {
        await fill(server, "warmup", "w-", s.createWarmup, c);
        results.createFsync = await measure("create, embedded, fsync", server, {
          mode: "create",
          url,
          namespace: "bench",
          prefix: "c-",
          count: s.creates,
          concurrency: c,
        });
        readable = results.createFsync.load.errors.total === 0 ? s.creates : 0;
      }
      if (opts.only.has("read")) {
        if (readable === 0) {
          await fill(server, "bench", "c-", s.readPrefill, c);
          readable = s.readPrefill;
        }
        await runLoad({
          mode: "read",
          url,
          namespace: "bench",
          prefix: "c-",
          objects: readable,
          count: s.readWarmup,
          concurrency: c,
        });
        results.read = await measure("read, embedded", server, {
          mode: "read",
          url,
          namespace: "bench",
          prefix: "c-",
          objects: readable,
          count: s.reads,
          concurrency: c,
        });
        if (opts.loadThreads !== 1) {
          // The same run from a single client event loop, the default, for comparison.
          results.read1 = await measure("read, embedded, 1 load thread", server, {
            mode: "read",
            url,
            namespace: "bench",
            prefix: "c-",
            objects: readable,
            count: s.reads,
            concurrency: c,
            threads: 1,
          });
        }
      }
      if (opts.only.has("list")) {
        await fill(server, "list1000", "l-", 1_000, c);
        await runLoad({ mode: "list", url, namespace: "list1000", count: s.listWarmup, expectItems: 1_000 });
        results.list = await measure("list 1000, embedded", server, {
          mode: "list",
          url,
          namespace: "list1000",
          count: s.lists,
          expectItems: 1_000,
        });
      }
      if (opts.only.has("watch")) {
        const common = { url, watchers: 50, rate: 200, durationSec: s.watchSec, concurrency: c };
        results.watchCreate = await measure("watch latency, creates", server, {
          mode: "watch-latency",
          ...common,
          namespace: "watch-c",
          prefix: "wc-",
          write: "create",
        });
        results.watchUpdate = await measure("watch latency, updates", server, {
          mode: "watch-latency",
          ...common,
          namespace: "watch-u",
          prefix: "wu-",
          write: "update",
          updatePool: 20,
        });
      }
    },
  );
  if (opts.only.has("create")) {
    await withServer(
      { dataDir: newDir("embedded-nofsync"), fsync: false, profileDir: opts.profileDir },
      async (server) => {
        await fill(server, "warmup", "w-", s.createWarmup, c);
        results.createNoFsync = await measure("create, embedded, --no-fsync", server, {
          mode: "create",
          url: server.url,
          namespace: "bench",
          prefix: "c-",
          count: s.creates,
          concurrency: c,
        });
      },
    );
  }
}

async function etcdScenario(opts: Options, results: Results): Promise<void> {
  const s = sizes(opts.quick);
  const c = opts.concurrency;
  log("starting etcd");
  const etcd = await startEtcd();
  etcds.add(etcd);
  results.etcdDataDir = etcd.dataDir;
  try {
    const pid = etcdPid(etcd);
    await withServer(
      {
        dataDir: newDir("unused-etcd"),
        fsync: true,
        etcd: etcd.endpoint,
        workers: opts.etcdWorkers,
        profileDir: opts.profileDir,
      },
      async (server) => {
        // The API warm-up also tells how big a stored object is, so the raw puts move values of that size.
        const warm = await fill(server, "warmup", "w-", s.etcdWarmup, c);
        const valueBytes = Number(warm.extra?.responseBytes) || 400;
        // API first, raw second. measureRawEtcdPuts deletes its keys afterwards, and after such a deleteRange
        // etcd 3.4 spends 3-4x the CPU on every later compare-and-swap Txn (measured: ~300 -> ~1,000 µs per
        // create) while plain puts stay as cheap; raw first would handicap the API with the raw run's clean-up.
        const api = (round: number) =>
          measure(
            `create, API on etcd (round ${round})`,
            server,
            {
              mode: "create",
              url: server.url,
              namespace: `bench-${round}`,
              prefix: "c-",
              count: s.etcdCount,
              concurrency: c,
            },
            { pid, endpoint: etcd.endpoint },
          );
        const raw = (round: number) =>
          measure(
            `etcd raw puts (round ${round})`,
            server,
            {
              mode: "etcd-raw",
              endpoint: etcd.endpoint,
              prefix: `/bench-raw-${round}/`,
              count: s.etcdCount,
              concurrency: c,
              valueBytes,
            },
            { pid, endpoint: etcd.endpoint },
          );
        results.etcdApi = await api(1);
        results.etcdApi2 = await api(2);
        await runLoad({
          mode: "etcd-raw",
          endpoint: etcd.endpoint,
          prefix: "/bench-raw-warmup/",
          count: s.etcdWarmup,
          concurrency: c,
          valueBytes,
        });
        results.etcdRaw = await raw(1);
        results.etcdRaw2 = await raw(2);
      },
    );
  } finally {
    await etcd.stop();
    etcds.delete(etcd);
  }
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    try {
      total += statSync(join(entry.parentPath ?? (entry as { path?: string }).path ?? dir, entry.name)).size;
    } catch {
      // removed meanwhile (compaction)
    }
  }
  return total;
}

/** Polls GET until it answers 200; the time counts from `since`. */
async function firstGet(url: string, since: number, timeoutMs: number): Promise<number> {
  const deadline = since + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.ok) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) throw new Error(`no successful GET ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function memoryScenario(opts: Options, results: Results): Promise<void> {
  const dataDir = newDir("memory");
  const n = opts.objects;
  const first = await ServerProcess.start({ dataDir, fsync: true, profileDir: opts.profileDir });
  log(`API server ${first.pid} at ${first.url} for ${n} objects`);
  let second: ServerProcess | null = null;
  try {
    const filled = await measure(`fill ${n} objects`, first, {
      mode: "create",
      url: first.url,
      namespace: "mem",
      prefix: "m-",
      count: n,
      concurrency: opts.concurrency,
    });
    if (filled.load.errors.total > 0)
      throw new Error(`fill failed: ${filled.load.errors.samples.join(" | ")}`);
    // Let the last batch flush and the young generation settle, as a server between bursts would.
    await settle(2_000);
    const afterFill = memoryKb(first.pid);
    const port = Number(new URL(first.url).port);
    const shutdownMs = await first.stop();

    // The same port again, so the GET poll can start at once instead of waiting for the log line.
    const probe = `http://127.0.0.1:${port}/core/namespaces/mem/metrics/m-${n - 1}`;
    const t0 = performance.now();
    const starting = ServerProcess.start({ dataDir, fsync: true, port, profileDir: opts.profileDir });
    const firstGetMs = await firstGet(probe, t0, 120_000);
    second = await starting;
    await settle(1_000);
    const afterRestart = memoryKb(second.pid);
    // Only now, after the memory readings: a 100,000-object list makes its own garbage.
    const list = await fetch(`${second.url}/core/namespaces/mem/metrics`);
    const listed = ((await list.json()) as { items: unknown[] }).items.length;
    results.memory = {
      objects: n,
      fill: filled,
      afterFill,
      shutdownMs,
      restartListeningMs: second.listeningMs,
      restartFirstGetMs: firstGetMs,
      afterRestart,
      listedAfterRestart: listed,
      dataDirBytes: dirBytes(dataDir),
    };
    log(
      `memory: RSS ${fmt(afterFill.rssKb / 1024)} MB after fill, ${fmt(afterRestart.rssKb / 1024)} MB after restart; restart ${fmt(firstGetMs)} ms to first GET; ${listed} objects listed`,
    );
  } finally {
    await first.stop();
    await second?.stop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

function fmt(n: number | null | undefined, digits = 0): string {
  // Latencies the load process could not measure come back as null (JSON has no NaN).
  if (n === undefined || n === null || Number.isNaN(n)) return "–";
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const PASS = "✅ pass";
const MISS = "❌ **MISS**";

interface Row {
  id: string;
  target: string;
  measured: string;
  pass: boolean | null;
}

function errorNote(m: Measured): string {
  const e = m.load.errors;
  return e.total === 0
    ? ""
    : `, **${e.total} errors** (${Object.entries(e.byStatus)
        .map(([s, k]) => `${k}× HTTP ${s}`)
        .concat(e.other ? [`${e.other} other`] : [])
        .join(", ")})`;
}

function rows(opts: Options, r: Results): Row[] {
  const out: Row[] = [];
  const noErrors = (...ms: (Measured | undefined)[]) => ms.every((m) => m && m.load.errors.total === 0);
  const throughputRow = (id: string, target: string, m: Measured | undefined, minPerSecond: number) => {
    if (!m) return;
    out.push({
      id,
      target,
      measured: `${fmt(m.load.throughput)}/s (p99 ${fmt(m.load.latencyMs.p99, 1)} ms)${errorNote(m)}`,
      pass: noErrors(m) && m.load.throughput >= minPerSecond,
    });
  };
  throughputRow("1a", "embedded creates, fsync on (default) ≥ 3,000/s", r.createFsync, 3_000);
  throughputRow("1b", "embedded creates, `--no-fsync` ≥ 3,000/s", r.createNoFsync, 3_000);
  if (r.read) {
    const m = r.read;
    const single = r.read1
      ? `; ${fmt(r.read1.load.throughput)}/s with a single load thread${errorNote(r.read1)}`
      : "";
    out.push({
      id: "1c",
      target: "embedded reads ≥ 8,000/s",
      measured: `${fmt(m.load.throughput)}/s (p99 ${fmt(m.load.latencyMs.p99, 1)} ms)${errorNote(m)}${single}`,
      pass: noErrors(m) && m.load.throughput >= 8_000,
    });
  }
  if (r.list) {
    const m = r.list;
    const l = m.load.latencyMs;
    out.push({
      id: "2",
      target: "list of 1,000 objects: median and p99 < 25 ms",
      measured: `median ${fmt(l.p50, 1)} ms, p99 ${fmt(l.p99, 1)} ms (${fmt(l.n)} sequential lists)${errorNote(m)}`,
      pass: noErrors(m) && l.p50 < 25 && l.p99 < 25,
    });
  }
  for (const [m, what] of [
    [r.watchCreate, "creates"],
    [r.watchUpdate, "updates (PUT)"],
  ] as const) {
    if (!m) continue;
    const l = m.load.latencyMs;
    const x = m.load.extra as {
      deliveries: number;
      expectedDeliveries: number;
      watchers: number;
      rate: number;
    };
    out.push({
      id: what === "creates" ? "3a" : "3b",
      target: `event to ${x.watchers} watchers, p99 < 25 ms (${what} at ${x.rate}/s)`,
      measured: `p50 ${fmt(l.p50, 2)} ms, p99 ${fmt(l.p99, 2)} ms, max ${fmt(l.max, 1)} ms over ${fmt(x.deliveries)} of ${fmt(x.expectedDeliveries)} deliveries${errorNote(m)}`,
      pass: noErrors(m) && l.p99 < 25,
    });
  }
  if (r.etcdRaw && r.etcdApi) {
    const apis = [r.etcdApi, r.etcdApi2].filter((m): m is Measured => m !== undefined);
    const raws = [r.etcdRaw, r.etcdRaw2].filter((m): m is Measured => m !== undefined);
    const mean = (ms: Measured[]) => ms.reduce((sum, m) => sum + m.load.throughput, 0) / ms.length;
    const ratio = mean(apis) / mean(raws);
    const each = (ms: Measured[]) => ms.map((m) => fmt(m.load.throughput)).join(" and ");
    out.push({
      id: "4",
      target: "creates through the API on etcd ≥ 60 % of raw etcd puts",
      measured:
        `${fmt(ratio * 100, 1)} % (${fmt(mean(apis))}/s vs ${fmt(mean(raws))}/s raw; ${apis.length > 1 ? `means of rounds ${each(apis)} vs ${each(raws)}` : "one round each"})` +
        [...apis, ...raws].map(errorNote).join(""),
      pass: noErrors(...apis, ...raws) && ratio >= 0.6,
    });
  }
  if (r.memory) {
    const m = r.memory;
    const note =
      m.objects === 100_000 ? "" : ` (measured with ${fmt(m.objects)} objects; the target is for 100,000)`;
    const rss = Math.max(m.afterFill.rssKb, m.afterRestart.rssKb) / 1024;
    out.push({
      id: "5a",
      target: `server RSS with 100,000 small objects < 300 MB${note}`,
      measured: `${fmt(m.afterFill.rssKb / 1024)} MB after filling, ${fmt(m.afterRestart.rssKb / 1024)} MB after restart (peak ${fmt(Math.max(m.afterFill.hwmKb, m.afterRestart.hwmKb) / 1024)} MB)`,
      pass: m.listedAfterRestart === m.objects && rss < 300,
    });
    out.push({
      id: "5b",
      target: `restart with 100,000 objects < 5 s${note}`,
      measured: `${fmt(m.restartFirstGetMs)} ms to first GET (${fmt(m.restartListeningMs)} ms to the listening line; shutdown ${fmt(m.shutdownMs)} ms); ${fmt(m.listedAfterRestart)} objects listed after restart`,
      pass: m.listedAfterRestart === m.objects && m.restartFirstGetMs < 5_000,
    });
  }
  for (const f of r.failures)
    out.push({
      id: "–",
      target: f.scenario,
      measured: `not measured: ${f.error.split("\n")[0].slice(0, 200)}`,
      pass: null,
    });
  return out;
}

/** "/tmp/x (ext4)": whether fsync means a disk or nothing at all matters for every write number. */
function fsOf(dir: string): string {
  // The dirs themselves are gone by report time; their parent is on the same file system.
  const type =
    spawnSync("stat", ["-f", "-c", "%T", dirname(dir)], { encoding: "utf8" }).stdout?.trim() || "unknown fs";
  return `\`${dir}\` (${type})`;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return `${r.stdout ?? ""}`.split("\n")[0].trim() || "unknown";
}

function commandLine(): string {
  const args = process.argv
    .slice(2)
    .map((a) => (/^[\w,.=/-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`))
    .join(" ");
  if (process.env.npm_lifecycle_event === "bench:api") return `npm run bench:api${args ? ` -- ${args}` : ""}`;
  return `node dist/bench/api/run.js${args ? ` ${args}` : ""}`;
}

/**
 * Other processes' CPU (% of one core) above which a run is flagged as disturbed. Not lower: kernel threads
 * doing our own work (softirqs of 50 watch sockets, writeback) land in this column too, ~10-15 %.
 */
const NOISE_PCT = 25;

function allMeasured(r: Results): Measured[] {
  return [
    r.createFsync,
    r.createNoFsync,
    r.read,
    r.read1,
    r.list,
    r.watchCreate,
    r.watchUpdate,
    r.etcdApi,
    r.etcdApi2,
    r.etcdRaw,
    r.etcdRaw2,
    r.memory?.fill,
  ].filter((m): m is Measured => m !== undefined);
}

function rawTable(r: Results): string {
  const all = allMeasured(r);
  const lines = [
    "| run | ops | ok | errors | concurrency | wall s | ops/s | p50 ms | p90 ms | p99 ms | max ms | server CPU % | server CPU µs/op | load CPU % | others' CPU % |",
    "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
  ];
  for (const m of all) {
    const l = m.load.latencyMs;
    const cpu = `${fmt(m.serverCpuPct)}${m.etcdCpuPct !== undefined ? ` (etcd ${fmt(m.etcdCpuPct)})` : ""}`;
    const label = m.load.mode === "watch-latency" ? `${m.label} (latency = delivery)` : m.label;
    lines.push(
      `| ${label} | ${fmt(m.load.count)} | ${fmt(m.load.ok)} | ${fmt(m.load.errors.total)} | ${m.load.concurrency} | ${fmt(m.load.durationMs / 1000, 2)} | ${fmt(m.load.throughput)} | ${fmt(l.p50, 2)} | ${fmt(l.p90, 2)} | ${fmt(l.p99, 2)} | ${fmt(l.max, 1)} | ${cpu} | ${fmt(m.serverCpuUsPerOp)}${m.etcdCpuUsPerOp !== undefined ? ` (etcd ${fmt(m.etcdCpuUsPerOp)})` : ""} | ${fmt(m.load.loadCpuPct)} | ${fmt(m.otherCpuPct)}${m.stealPct >= 1 ? ` (steal ${fmt(m.stealPct)})` : ""} |`,
    );
  }
  return lines.join("\n");
}

function markdown(
  opts: Options,
  r: Results,
  startedAt: Date,
  elapsedMs: number,
  loadAtStart: number[],
  speed: number[],
): string {
  const cpuModel =
    /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1] ??
    cpus()[0]?.model ??
    "unknown";
  const etcdVersion = opts.only.has("etcd") ? firstLine(ETCD_BIN, ["--version"]) : null;
  const out: string[] = [];
  out.push(`## API benchmark, ${startedAt.toISOString().slice(0, 10)}`, "");
  out.push(
    `- Command: \`${commandLine()}\`${opts.quick ? " (**quick smoke run: counts too small to judge the targets**)" : ""}`,
  );
  out.push(
    `- Machine: \`nproc\` = ${firstLine("nproc", [])}, ${cpuModel}, ${fmt(totalmem() / 2 ** 30, 1)} GiB RAM; ${firstLine("uname", ["-sr"])}`,
  );
  out.push(`- Encryption at rest: ${opts.encryptionKeyFile ? "on (AES-256-GCM, every value)" : "off"}`);
  out.push(
    `- Node ${process.version}${etcdVersion ? `; ${etcdVersion} (${ETCD_BIN}, single member, fsync on)` : ""}`,
  );
  out.push(
    `- Data: embedded store in ${fsOf(tempRoot ?? tmpdir())}${r.etcdDataDir ? `; etcd (started by test/support/etcd.ts) in ${fsOf(r.etcdDataDir)}${r.etcdDataDir.startsWith("/dev/shm") ? " — tmpfs: etcd's fsyncs cost nothing, so the API's share of the work weighs more than with etcd on disk" : ""}` : ""}`,
  );
  const objectBytes = Number(
    r.createFsync?.load.extra?.responseBytes ?? r.etcdApi?.load.extra?.responseBytes,
  );
  out.push(
    `- Setup: server and load generator are separate processes on loopback; ${opts.concurrency} requests in flight over keep-alive connections (node:http), ` +
      (opts.loadThreads === 1
        ? "one client event loop; "
        : `creates and reads driven from ${opts.loadThreads} event loops (worker threads) of the load process; `) +
      `small Metric objects${objectBytes > 0 ? ` (${fmt(objectBytes)} bytes as JSON)` : ""}; ` +
      `the etcd scenario runs \`krake api --workers ${opts.etcdWorkers}\` (server CPU counts every worker)`,
  );
  out.push(
    `- Run took ${fmt(elapsedMs / 1000)} s; load average at the start ${loadAtStart.map((x) => x.toFixed(2)).join(" ")}; ` +
      `CPU speed check (50,000 JSON round trips, lower is faster) ${speed.map((x) => `${x} ms`).join(" before, ")} after`,
  );
  const noisy = allMeasured(r).filter((m) => m.otherCpuPct > NOISE_PCT);
  if (noisy.length > 0) {
    out.push(
      `- ⚠️ **The machine was not quiet**: other processes used up to ${fmt(Math.max(...noisy.map((m) => m.otherCpuPct)))} % of a core during ${noisy.map((m) => m.label).join(", ")} ` +
        '(column "others\' CPU": other processes, kernel threads, hypervisor steal); those numbers understate this code. Re-run on an idle machine before judging them.',
    );
  }
  out.push("");
  out.push("| # | target | measured | pass |", "|---|---|---|---|");
  for (const row of rows(opts, r))
    out.push(
      `| ${row.id} | ${row.target} | ${row.measured} | ${row.pass === null ? MISS + " (not run)" : row.pass ? PASS : MISS} |`,
    );
  out.push("", "### Raw numbers", "", rawTable(r), "");
  out.push(
    "Latencies are per request, from sending it to the last byte of the answer, except the watch runs: there the",
    "latency is the time from the write's answer reaching the writer to the event reaching a watcher, both taken",
    "on the load process's clock (negative when the event overtakes the answer), over every delivery to every",
    "watcher. Throughput counts successful requests only; every non-2xx answer is an error. CPU columns are",
    '% of one core (the machine has 200 %); "server CPU µs/op" is the server\'s CPU time per successful operation',
    "(watch runs: per write, delivery to every watcher included), the number to compare between runs on a",
    'shared or drifting machine; "others\'" is everything else the machine did meanwhile, hypervisor steal included.',
    "",
  );
  if (r.memory) {
    const m = r.memory;
    out.push(
      `Memory/restart (${fmt(m.objects)} objects): RSS ${fmt(m.afterFill.rssKb / 1024, 1)} MB after filling (VmHWM ${fmt(m.afterFill.hwmKb / 1024, 1)} MB), ` +
        `${fmt(m.afterRestart.rssKb / 1024, 1)} MB 1 s after restart (VmHWM ${fmt(m.afterRestart.hwmKb / 1024, 1)} MB); data dir ${fmt(m.dataDirBytes / 2 ** 20, 1)} MiB; ` +
        `SIGTERM to exit ${fmt(m.shutdownMs)} ms; start to listening line ${fmt(m.restartListeningMs)} ms, to first successful GET ${fmt(m.restartFirstGetMs)} ms.`,
      "",
    );
  }
  for (const m of [r.etcdApi, r.etcdRaw]) {
    // The second rounds cost etcd the same; one line each is enough.
    if (!m?.etcdCallsPerOp) continue;
    const calls = Object.entries(m.etcdCallsPerOp)
      .map(([k, v]) => `${k} ${fmt(v, 2)}`)
      .join(", ");
    out.push(`${m.label}: etcd work per operation (from etcd's /metrics): ${calls || "none"}.`, "");
  }
  for (const w of [r.watchCreate, r.watchUpdate]) {
    if (!w) continue;
    const x = w.load.extra as Record<string, unknown> & { writeLatencyMs: { p50: number; p99: number } };
    out.push(
      `${w.label}: writes ${fmt(w.load.ok)}/${fmt(w.load.count)} ok (write p50 ${fmt(x.writeLatencyMs.p50, 2)} ms, p99 ${fmt(x.writeLatencyMs.p99, 2)} ms); ` +
        `deliveries ${fmt(x.deliveries as number)}/${fmt(x.expectedDeliveries as number)}, missing ${x.missing}, before the ack ${fmt(x.beforeAck as number)}, duplicates ${x.duplicates}, out of order ${x.outOfOrder}.`,
      "",
    );
  }
  const samples = allMeasured(r)
    .filter((m) => m.load.errors.samples.length > 0)
    .map(
      (m) => `- ${m.label}: ${m.load.errors.samples.map((s) => `\`${s.replace(/`/g, "'")}\``).join("; ")}`,
    );
  if (samples.length > 0) out.push("Error samples:", "", ...samples, "");
  if (r.failures.length > 0)
    out.push(
      "Scenarios that failed to run:",
      "",
      ...r.failures.map((f) => `- ${f.scenario}:\n\n\`\`\`\n${f.error}\n\`\`\``),
      "",
    );
  return out.join("\n");
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts.encryptionKeyFile) commonServerArgs = ["--encryption-key-file", opts.encryptionKeyFile];
  waitQuietSec = opts.waitQuietSec;
  loadThreads = opts.loadThreads;
  const startedAt = new Date();
  const loadAtStart = loadavg();
  const speed = [calibrate()];
  const t0 = performance.now();
  tempRoot = mkdtempSync(join(tmpdir(), "krake-bench-api-"));
  guardTempRoot(tempRoot);
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const results: Results = { failures: [] };
  const attempt = async (scenario: string, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      if (interrupted) throw err;
      const error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      log(`${scenario} failed: ${error}`);
      results.failures.push({ scenario, error });
    }
  };
  try {
    await attempt("embedded store (create, read, list, watch)", () => embeddedScenarios(opts, results));
    if (opts.only.has("etcd")) await attempt("etcd", () => etcdScenario(opts, results));
    if (opts.only.has("memory")) await attempt("memory and restart", () => memoryScenario(opts, results));
  } finally {
    await cleanup();
  }
  speed.push(calibrate());
  const md = markdown(opts, results, startedAt, performance.now() - t0, loadAtStart, speed);
  process.stdout.write(md + "\n");
  if (opts.out) writeFileSync(opts.out, md + "\n");
  if (opts.profileDir)
    log(
      `CPU profiles in ${opts.profileDir} (summarise with: node dist/bench/api/profile.js ${opts.profileDir}/*.cpuprofile)`,
    );
  log(`done in ${fmt((performance.now() - t0) / 1000)} s`);
  process.exitCode = results.failures.length > 0 ? 1 : 0;
}

main().catch((err) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  void cleanup().finally(() => process.exit(1));
});
