/**
 * The API benchmark's load generator. It runs as its own process (`node dist/bench/api/load.js '<json>'`) so
 * that its CPU use never shares an event loop with the server under test, and prints exactly one JSON line:
 * the result of one scenario. Modes:
 *
 *   create         POST small Metric objects (closed loop, `concurrency` requests in flight)
 *   read           GET existing objects round-robin
 *   list           GET a namespace's list (sequential by default: the target is the latency of one list)
 *   watch-latency  open `watchers` watch streams, write at a fixed rate, time every delivery
 *   etcd-raw       plain etcd puts (bench/store/etcd-raw.ts), the yardstick for the API's etcd throughput
 *
 * Every non-2xx answer and every socket error is counted and reported; nothing is retried or dropped.
 */
import { realpathSync } from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { bodies } from "../../test/support/fixtures.js";

export interface CreateArgs {
  mode: "create";
  url: string;
  namespace: string;
  /** Object names are `${prefix}${i}`, i from `start` (default 0) to `start + count - 1`. */
  prefix: string;
  start?: number;
  count: number;
  concurrency: number;
  /** Event loops (worker threads) sharing `concurrency` and `count`; see runThreaded. Default 1. */
  threads?: number;
}

export interface ReadArgs {
  mode: "read";
  url: string;
  namespace: string;
  prefix: string;
  /** Objects `${prefix}0` … `${prefix}${objects - 1}` must exist. */
  objects: number;
  /** First object read (round-robin from here); lets threads spread over the objects. */
  start?: number;
  count: number;
  concurrency: number;
  threads?: number;
}

export interface ListArgs {
  mode: "list";
  url: string;
  namespace: string;
  count: number;
  concurrency?: number;
  /** Items every list must hold; a list of another size counts as an error. */
  expectItems: number;
}

export interface WatchLatencyArgs {
  mode: "watch-latency";
  url: string;
  namespace: string;
  prefix: string;
  watchers: number;
  /** Writes per second, open loop: a slow server does not slow the writer down. */
  rate: number;
  durationSec: number;
  /** `create`: ADDED events of new objects; `update`: MODIFIED events of PUTs to `updatePool` objects. */
  write: "create" | "update";
  updatePool?: number;
  /** Most writes in flight at once (the writer's keep-alive pool). */
  concurrency?: number;
  /** How long to wait for stragglers after the last acknowledged write. */
  drainMs?: number;
}

export interface EtcdRawArgs {
  mode: "etcd-raw";
  endpoint: string;
  prefix: string;
  count: number;
  concurrency: number;
  valueBytes: number;
}

export type LoadArgs = CreateArgs | ReadArgs | ListArgs | WatchLatencyArgs | EtcdRawArgs;

export interface LatencyStats {
  n: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface ErrorStats {
  total: number;
  /** Non-2xx answers by status code. */
  byStatus: Record<string, number>;
  /** Socket errors, timeouts, malformed answers. */
  other: number;
  /** The first few, verbatim (truncated), so a failing run says why. */
  samples: string[];
}

export interface RunStats {
  count: number;
  ok: number;
  concurrency: number;
  durationMs: number;
  /** Successful operations per second of wall time. */
  throughput: number;
  latencyMs: LatencyStats;
  errors: ErrorStats;
}

export interface LoadResult extends RunStats {
  mode: LoadArgs["mode"];
  /** CPU used by this load process during the measured phase, in % of one core. */
  loadCpuPct: number;
  /** CPU seconds this process used in all, start-up included: the orchestrator's machine-wide accounting. */
  processCpuSec?: number;
  extra?: Record<string, unknown>;
}

const MAX_ERROR_SAMPLES = 5;

export function latencyStats(values: ArrayLike<number>): LatencyStats {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return { n: 0, min: NaN, mean: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN };
  // Nearest rank: the reported p99 is a latency some request really had.
  const rank = (p: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))];
  let sum = 0;
  for (const v of sorted) sum += v;
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return {
    n,
    min: round(sorted[0]),
    mean: round(sum / n),
    p50: round(rank(50)),
    p90: round(rank(90)),
    p99: round(rank(99)),
    max: round(sorted[n - 1]),
  };
}

class Errors {
  readonly stats: ErrorStats = { total: 0, byStatus: {}, other: 0, samples: [] };

  status(status: number, what: string, body: string): void {
    this.stats.total++;
    this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
    this.sample(`${what}: HTTP ${status} ${body.slice(0, 300)}`);
  }

  other(what: string, err: unknown): void {
    this.stats.total++;
    this.stats.other++;
    this.sample(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }

  private sample(text: string): void {
    if (this.stats.samples.length < MAX_ERROR_SAMPLES) this.stats.samples.push(text);
  }
}

interface Response {
  status: number;
  /** Only kept when asked for or when the status is not 2xx: building strings costs the load process CPU. */
  body: string;
  /** performance.now() when the last byte arrived. */
  end: number;
}

const ok = (status: number) => status >= 200 && status < 300;

class HttpTarget {
  readonly hostname: string;
  readonly port: number;

  constructor(url: string) {
    const u = new URL(url);
    this.hostname = u.hostname;
    this.port = Number(u.port);
  }

  /** A keep-alive pool: every request of a run reuses the same `size` sockets, as a real client would. */
  agent(size: number): http.Agent {
    return new http.Agent({
      keepAlive: true,
      maxSockets: size,
      maxFreeSockets: size,
      scheduling: "fifo",
      noDelay: true,
    } as http.AgentOptions);
  }

  send(
    agent: http.Agent,
    method: string,
    path: string,
    payload: Buffer | null,
    keepBody: boolean,
  ): Promise<Response> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = {};
      if (payload !== null) {
        headers["Content-Type"] = "application/json";
        headers["Content-Length"] = payload.length;
      }
      const req = http.request(
        { hostname: this.hostname, port: this.port, method, path, agent, headers },
        (res) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          if (keepBody || !ok(status)) res.on("data", (c: Buffer) => chunks.push(c));
          else res.resume();
          res.on("end", () =>
            resolve({
              status,
              body: chunks.length > 0 ? Buffer.concat(chunks).toString("utf8") : "",
              end: performance.now(),
            }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(payload ?? undefined);
    });
  }
}

interface Op {
  (i: number): Promise<{ ok: boolean; start: number; end: number }>;
}

/**
 * A closed loop: `concurrency` workers each issue the next request as soon as their previous one is
 * answered. Throughput is measured over the wall time from the first request to the last answer.
 */
/** One event loop's share of a closed-loop run; parts of several threads merge into one result. */
interface LoopPart {
  latencies: Float64Array;
  okCount: number;
  /** Wall-clock (epoch) milliseconds of the first request and the last answer: comparable across threads. */
  t0: number;
  tEnd: number;
  errors: ErrorStats;
  extra: Record<string, unknown>;
}

/** performance.now() restarts at 0 in every worker thread; throughput across threads needs one clock. */
const epochMs = (t: number) => performance.timeOrigin + t;

async function closedLoop(
  count: number,
  concurrency: number,
  op: Op,
): Promise<Omit<LoopPart, "errors" | "extra">> {
  const latencies = new Float64Array(count);
  let okCount = 0;
  let next = 0;
  let done = 0;
  const t0 = performance.now();
  let tEnd = t0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      const r = await op(i);
      latencies[done++] = r.end - r.start;
      if (r.ok) okCount++;
      if (r.end > tEnd) tEnd = r.end;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { latencies: latencies.subarray(0, done), okCount, t0: epochMs(t0), tEnd: epochMs(tEnd) };
}

/** Wraps one HTTP request as an Op result, sorting failures into the error counters. */
async function timed(
  errors: Errors,
  what: string,
  call: () => Promise<Response>,
  check?: (r: Response) => string | null,
): Promise<{ ok: boolean; start: number; end: number; res?: Response }> {
  const start = performance.now();
  try {
    const res = await call();
    if (!ok(res.status)) {
      errors.status(res.status, what, res.body);
      return { ok: false, start, end: res.end, res };
    }
    const problem = check?.(res) ?? null;
    if (problem !== null) {
      errors.other(what, problem);
      return { ok: false, start, end: res.end, res };
    }
    return { ok: true, start, end: res.end, res };
  } catch (err) {
    errors.other(what, err);
    return { ok: false, start, end: performance.now() };
  }
}

function runStats(
  count: number,
  concurrency: number,
  parts: LoopPart[],
): RunStats & { extra: Record<string, unknown> } {
  const okCount = parts.reduce((n, p) => n + p.okCount, 0);
  const durationMs = Math.max(...parts.map((p) => p.tEnd)) - Math.min(...parts.map((p) => p.t0));
  const latencies = new Float64Array(parts.reduce((n, p) => n + p.latencies.length, 0));
  let at = 0;
  for (const p of parts) {
    latencies.set(p.latencies, at);
    at += p.latencies.length;
  }
  const errors: ErrorStats = { total: 0, byStatus: {}, other: 0, samples: [] };
  for (const p of parts) {
    errors.total += p.errors.total;
    errors.other += p.errors.other;
    for (const [status, n] of Object.entries(p.errors.byStatus))
      errors.byStatus[status] = (errors.byStatus[status] ?? 0) + n;
    errors.samples.push(...p.errors.samples.slice(0, MAX_ERROR_SAMPLES - errors.samples.length));
  }
  return {
    count,
    ok: okCount,
    concurrency,
    durationMs: Math.round(durationMs * 10) / 10,
    throughput: Math.round((okCount / durationMs) * 1000 * 10) / 10,
    latencyMs: latencyStats(latencies),
    errors,
    extra: Object.assign({}, ...parts.map((p) => p.extra)),
  };
}

const metricBody = (name: string) => Buffer.from(JSON.stringify(bodies.Metric(name)));
const collection = (namespace: string) => `/core/namespaces/${encodeURIComponent(namespace)}/metrics`;

async function runCreate(a: CreateArgs): Promise<LoopPart> {
  const target = new HttpTarget(a.url);
  const agent = target.agent(a.concurrency);
  const errors = new Errors();
  const path = collection(a.namespace);
  const start = a.start ?? 0;
  let storedBytes = 0;
  const loop = await closedLoop(a.count, a.concurrency, async (i) => {
    const body = metricBody(`${a.prefix}${start + i}`);
    // Keep one answer: its size is what etcd-raw must put to compare like with like.
    const keep = i === 0;
    const r = await timed(errors, `POST ${path}`, () => target.send(agent, "POST", path, body, keep));
    if (keep && r.ok && r.res) storedBytes = Buffer.byteLength(r.res.body);
    return r;
  });
  agent.destroy();
  return { ...loop, errors: errors.stats, extra: storedBytes > 0 ? { responseBytes: storedBytes } : {} };
}

async function runRead(a: ReadArgs): Promise<LoopPart> {
  const target = new HttpTarget(a.url);
  const agent = target.agent(a.concurrency);
  const errors = new Errors();
  const base = collection(a.namespace);
  const paths = Array.from(
    { length: a.objects },
    (_, i) => `${base}/${encodeURIComponent(`${a.prefix}${i}`)}`,
  );
  const offset = a.start ?? 0;
  const loop = await closedLoop(a.count, a.concurrency, (i) => {
    const path = paths[(offset + i) % a.objects];
    return timed(errors, `GET ${path}`, () => target.send(agent, "GET", path, null, false));
  });
  agent.destroy();
  return { ...loop, errors: errors.stats, extra: {} };
}

/**
 * A node:http client costs about as much CPU per request as the server does, so one event loop can saturate
 * its core before a fast server does. With `threads` > 1 the same process runs that many event loops (worker
 * threads), splitting the requests in flight and the count between them: still `concurrency` requests in
 * flight in all, able to use cores the server leaves free. (On 2 cores there are none to spare: there, extra
 * loops only add CPU per request.)
 */
async function runThreaded(a: CreateArgs | ReadArgs): Promise<RunStats & { extra: Record<string, unknown> }> {
  const threads = Math.max(1, Math.min(a.threads ?? 1, a.concurrency, a.count));
  if (threads === 1) return runStats(a.count, a.concurrency, [await runPart(a)]);
  const shares: (CreateArgs | ReadArgs)[] = [];
  let start = a.start ?? 0;
  for (let t = 0; t < threads; t++) {
    const share = (n: number) => Math.floor(n / threads) + (t < n % threads ? 1 : 0);
    shares.push({ ...a, threads: 1, start, count: share(a.count), concurrency: share(a.concurrency) });
    start += share(a.count);
  }
  const parts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<LoopPart>((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: share });
          worker.once("message", (part: LoopPart) => resolve(part));
          worker.once("error", reject);
          worker.once("exit", (code) =>
            reject(new Error(`load thread exited with code ${code} before reporting`)),
          );
        }),
    ),
  );
  const stats = runStats(a.count, a.concurrency, parts);
  return { ...stats, extra: { ...stats.extra, threads } };
}

function runPart(a: CreateArgs | ReadArgs): Promise<LoopPart> {
  return a.mode === "create" ? runCreate(a) : runRead(a);
}

async function runList(a: ListArgs): Promise<RunStats & { extra: Record<string, unknown> }> {
  const concurrency = a.concurrency ?? 1;
  const target = new HttpTarget(a.url);
  const agent = target.agent(concurrency);
  const errors = new Errors();
  const path = collection(a.namespace);
  let bytes = 0;
  const loop = await closedLoop(a.count, concurrency, (i) =>
    timed(
      errors,
      `GET ${path}`,
      () => target.send(agent, "GET", path, null, true),
      (res) => {
        bytes = Buffer.byteLength(res.body);
        // Parsing every list would make the load process the bottleneck of a sequential loop; the first
        // one is checked fully, the rest by size (a list of another length has another size).
        if (i === 0) {
          const items = (JSON.parse(res.body) as { items: unknown[] }).items.length;
          return items === a.expectItems ? null : `list has ${items} items, expected ${a.expectItems}`;
        }
        return null;
      },
    ),
  );
  agent.destroy();
  return runStats(a.count, concurrency, [{ ...loop, errors: errors.stats, extra: { responseBytes: bytes } }]);
}

/** Each write gets an id that its watch event carries: the object name (create) or spec.max (update). */
async function runWatchLatency(a: WatchLatencyArgs): Promise<LoadResult> {
  const target = new HttpTarget(a.url);
  const concurrency = a.concurrency ?? 32;
  const agent = target.agent(concurrency);
  const errors = new Errors();
  const base = collection(a.namespace);
  const total = Math.round(a.rate * a.durationSec);
  const poolSize = a.updatePool ?? 20;

  // Update mode: the objects must exist before the watchers connect, so their ADDED events are not counted.
  const pool: any[] = [];
  if (a.write === "update") {
    for (let p = 0; p < poolSize; p++) {
      const res = await target.send(agent, "POST", base, metricBody(`${a.prefix}${p}`), true);
      if (!ok(res.status))
        throw new Error(`cannot create update pool object: HTTP ${res.status} ${res.body}`);
      pool.push(JSON.parse(res.body));
    }
  }

  const idOf = (obj: any): number => {
    if (a.write === "create") {
      const name = String(obj?.metadata?.name ?? "");
      return name.startsWith(a.prefix) ? Number(name.slice(a.prefix.length)) : NaN;
    }
    return Number(obj?.spec?.max) - 2;
  };

  // received[w][id] = performance.now() when watcher w got the event of write id (NaN: not yet).
  const received = Array.from({ length: a.watchers }, () => new Float64Array(total).fill(NaN));
  const receivedCount = new Array<number>(a.watchers).fill(0);
  const watchStats = { duplicates: 0, outOfOrder: 0, foreign: 0, errorEvents: 0, closedEarly: 0, lines: 0 };
  const requests: http.ClientRequest[] = [];
  let finished = false;
  let onProgress: (() => void) | null = null;

  const openWatcher = (w: number) =>
    new Promise<void>((resolve, reject) => {
      // agent: false gives every watcher its own socket, outside the writer's pool.
      const req = http.request(
        { hostname: target.hostname, port: target.port, path: `${base}?watch&heartbeat=0`, agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            reject(new Error(`watch ${w}: HTTP ${res.statusCode}`));
            res.resume();
            return;
          }
          res.setEncoding("utf8");
          let buffered = "";
          let lastRevision = 0;
          res.on("data", (chunk: string) => {
            // One timestamp per chunk: every line in it arrived at the same moment.
            const t = performance.now();
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf("\n")) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 1);
              if (line.trim() === "") continue;
              watchStats.lines++;
              let event: any;
              try {
                event = JSON.parse(line);
              } catch (err) {
                errors.other(`watch ${w} line`, err);
                continue;
              }
              if (event.type === "ERROR") {
                watchStats.errorEvents++;
                errors.other(`watch ${w}`, `ERROR event ${line.slice(0, 300)}`);
                continue;
              }
              const rv = Number(event.object?.metadata?.resource_version);
              if (!(rv > lastRevision)) watchStats.outOfOrder++;
              lastRevision = rv;
              const id = idOf(event.object);
              if (!Number.isInteger(id) || id < 0 || id >= total) {
                watchStats.foreign++;
                continue;
              }
              if (!Number.isNaN(received[w][id])) watchStats.duplicates++;
              else {
                received[w][id] = t;
                receivedCount[w]++;
              }
            }
            onProgress?.();
          });
          res.on("end", () => {
            if (!finished) {
              watchStats.closedEarly++;
              errors.other(`watch ${w}`, "stream ended before the run did");
            }
          });
          res.on("error", () => undefined);
          // The server establishes the store watch before it sends the headers: from here on every
          // acknowledged write reaches this watcher.
          resolve();
        },
      );
      req.on("error", (err) => {
        if (!finished) reject(err);
      });
      req.end();
      requests.push(req);
    });
  await Promise.all(Array.from({ length: a.watchers }, (_, w) => openWatcher(w)));

  const ack = new Float64Array(total).fill(NaN);
  const writeLatencies = new Float64Array(total);
  let okWrites = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const writes: Promise<void>[] = [];
  const write = async (i: number) => {
    let call: () => Promise<Response>;
    let what: string;
    if (a.write === "create") {
      what = `POST ${base}`;
      call = () => target.send(agent, "POST", base, metricBody(`${a.prefix}${i}`), false);
    } else {
      const obj = pool[i % poolSize];
      // No resource_version: the PUT never conflicts, so every write is a change the watchers must see.
      const body = {
        ...obj,
        metadata: { ...obj.metadata, resource_version: null },
        spec: { ...obj.spec, max: i + 2 },
      };
      const path = `${base}/${encodeURIComponent(obj.metadata.name)}`;
      what = `PUT ${path}`;
      call = () => target.send(agent, "PUT", path, Buffer.from(JSON.stringify(body)), false);
    }
    const r = await timed(errors, what, call);
    writeLatencies[i] = r.end - r.start;
    if (r.ok) {
      ack[i] = r.end;
      okWrites++;
    }
    onProgress?.();
  };
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / a.rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    writes.push(write(i));
  }
  await Promise.all(writes);
  const writeEnd = performance.now();

  // Wait until every watcher has every acknowledged write, or give up after drainMs and count the rest missing.
  const complete = () => receivedCount.every((c) => c >= okWrites);
  if (!complete()) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, a.drainMs ?? 5000);
      onProgress = () => {
        if (complete()) {
          clearTimeout(timer);
          resolve();
        }
      };
    });
  }
  onProgress = null;
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  finished = true;
  for (const req of requests) req.destroy();
  agent.destroy();

  const deliveries: number[] = [];
  let missing = 0;
  let beforeAck = 0;
  for (let w = 0; w < a.watchers; w++) {
    for (let i = 0; i < total; i++) {
      if (Number.isNaN(ack[i])) continue;
      const t = received[w][i];
      if (Number.isNaN(t)) {
        missing++;
        continue;
      }
      // The server may flush the event before the write's own answer: a negative latency is real, keep it.
      if (t < ack[i]) beforeAck++;
      deliveries.push(t - ack[i]);
    }
  }
  if (missing > 0) errors.other("watch", `${missing} deliveries missing after ${a.drainMs ?? 5000} ms`);
  const writeDuration = writeEnd - t0;
  return {
    mode: a.mode,
    count: total,
    ok: okWrites,
    concurrency,
    durationMs: Math.round(writeDuration * 10) / 10,
    throughput: Math.round((okWrites / writeDuration) * 1000 * 10) / 10,
    // The headline numbers of this mode are the deliveries; the writer's own latencies are in extra.
    latencyMs: latencyStats(deliveries),
    errors: errors.stats,
    loadCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 10,
    extra: {
      write: a.write,
      watchers: a.watchers,
      rate: a.rate,
      expectedDeliveries: okWrites * a.watchers,
      deliveries: deliveries.length,
      missing,
      beforeAck,
      ...watchStats,
      writeLatencyMs: latencyStats(writeLatencies),
    },
  };
}

/**
 * The project's one definition of raw etcd throughput (bench/store/etcd-raw.ts, shared with the store
 * benchmark): plain puts of new keys from the etcd3 client, closed loop. It yields a rate only, so this
 * mode has no latencies; a failed put fails the measurement and is reported as an error.
 */
async function runEtcdRaw(a: EtcdRawArgs): Promise<RunStats & { extra: Record<string, unknown> }> {
  // Loaded only in this mode: the gRPC stack is heavy and the other modes do not need it.
  const { measureRawEtcdPuts } = await import("../store/etcd-raw.js");
  const errors = new Errors();
  const t0 = performance.now();
  let rate = 0;
  try {
    rate = await measureRawEtcdPuts(a.endpoint, {
      concurrency: a.concurrency,
      count: a.count,
      valueBytes: a.valueBytes,
      keyPrefix: a.prefix,
    });
  } catch (err) {
    errors.other("etcd put", err);
  }
  const ok = rate > 0 ? a.count : 0;
  return {
    count: a.count,
    ok,
    concurrency: a.concurrency,
    // The rate's own clock excludes warm-up and clean-up; report the matching duration.
    durationMs:
      rate > 0
        ? Math.round((a.count / rate) * 1000 * 10) / 10
        : Math.round((performance.now() - t0) * 10) / 10,
    throughput: Math.round(rate * 10) / 10,
    latencyMs: latencyStats([]),
    errors: errors.stats,
    extra: { valueBytes: a.valueBytes, source: "bench/store/etcd-raw.ts measureRawEtcdPuts" },
  };
}

function totalCpuSec(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function main(): Promise<void> {
  const raw = process.argv[2];
  if (!raw) {
    process.stderr.write(
      "usage: node dist/bench/api/load.js '<json args>' (see LoadArgs in bench/api/load.ts)\n",
    );
    process.exit(2);
  }
  const args = JSON.parse(raw) as LoadArgs;
  if (args.mode === "watch-latency") {
    const result = await runWatchLatency(args);
    process.stdout.write(JSON.stringify({ ...result, processCpuSec: totalCpuSec() }) + "\n");
    return;
  }
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let stats: RunStats & { extra?: Record<string, unknown> };
  switch (args.mode) {
    case "create":
    case "read":
      stats = await runThreaded(args);
      break;
    case "list":
      stats = await runList(args);
      break;
    case "etcd-raw":
      stats = await runEtcdRaw(args);
      break;
    default:
      throw new Error(`unknown mode ${(args as { mode: string }).mode}`);
  }
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  const result: LoadResult = {
    mode: args.mode,
    ...stats,
    loadCpuPct: Math.round(((cpu.user + cpu.system) / 1000 / elapsed) * 1000) / 10,
    processCpuSec: totalCpuSec(),
  };
  process.stdout.write(JSON.stringify(result) + "\n");
}

// Imported by run.ts for its types and latencyStats; only run when started as the load process.
if (!isMainThread) {
  // A load thread of runThreaded: run its share, hand the part back (latencies by transfer, not by copy).
  const share = workerData as CreateArgs | ReadArgs;
  runPart(share).then(
    (part) => {
      parentPort!.postMessage(part, [part.latencies.buffer as ArrayBuffer]);
      // Let the message go out before the thread ends; exit() would race it.
      parentPort!.close();
    },
    (err) => {
      throw err;
    },
  );
} else if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
