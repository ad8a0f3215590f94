/** What the controller benchmarks share: `krake` subprocesses, a bounded pool, percentiles, /proc readings. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { KrakeClient } from "../src/client/index.js";
import type { KindDef } from "../src/resources/kind.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const KRAKE_BIN = join(ROOT, "bin", "krake.js");
export const EXAMPLES = join(ROOT, "examples");

export const log = (s: string) => process.stderr.write(`${s}\n`);

/** The benchmark's command-line arguments, and `--name N` read as a number (or `dflt`). */
export const args = process.argv.slice(2);
/** The value after `name` on the command line (`--profile DIR`), or undefined. */
export const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
export const flag = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

/** Starts `krake <argv>` and resolves once its output matches `ready`; rejects if it exits first. */
export function spawnKrake(
  argv: string[],
  ready: RegExp,
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, KRAKE_BIN, ...argv], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const onData = (d: Buffer) => {
      out += d;
      // Keep only a tail: a process logging for minutes must not grow this string without bound.
      if (out.length > 1 << 20) out = out.slice(-(1 << 16));
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`krake ${argv[0]} exited (${code}):\n${out.slice(-2000)}`)));
  });
}

/**
 * `krake api` on a fresh embedded store in `dataDir`, without fsync; resolves with its URL. The benchmark and
 * its controllers call anonymously from one address: exempt from the rate and watch limits, as controllers are.
 */
export async function startApi(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, match } = await spawnKrake(
    [
      "api",
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--no-fsync",
      "--log-level",
      "info",
      "--rate-limit-exempt",
      "system:*,system:anonymous",
    ],
    /"url":"([^"]+)"[^\n]*"msg":"Krake API server listening"|"msg":"Krake API server listening"[^\n]*"url":"([^"]+)"/,
  );
  return { child, url: match[1] ?? match[2]! };
}

/** `krake controller <names>` against `api`, without leader election; resolves with its /metrics URL. */
export async function startController(
  names: string[],
  api: string,
  extra: string[] = [],
  nodeFlags: string[] = [],
): Promise<{ child: ChildProcess; metricsUrl: string | null }> {
  const { child, match } = await spawnKrake(
    ["controller", ...names, "--api", api, "--no-leader-election", "--log-level", "info", ...extra],
    /^.*"msg":"Krake controllers running".*$/m,
    nodeFlags,
  );
  const url = /"url":"([^"]+)"/.exec(match[0]);
  return { child, metricsUrl: url?.[1] ?? null };
}

export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/** Runs `fn` over `items` with at most `concurrency` calls in flight. */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The p-th percentile of an ascending array. */
export const pct = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

export const median = (values: number[]): number =>
  pct(
    [...values].sort((a, b) => a - b),
    50,
  );

export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** User + system CPU seconds a process has used so far (/proc/<pid>/stat, in clock ticks of 1/100 s). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name may contain spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** The load average when the benchmark started, before it added any load of its own. */
const loadBefore = loadavg()[0]!;

/** The header line every benchmark section starts with. */
export function machineLine(command: string): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return `Machine: ${cpus().length} cores, ${cpu}; load average before ${loadBefore.toFixed(2)}. Command: \`${command}\`.`;
}

/** Writes a benchmark's Markdown section for docs/performance.md to stdout. */
export function writeReport(title: string, script: string, resultHeader: string, rows: string[]): void {
  process.stdout.write(
    [
      `### ${title}, ${new Date().toISOString().slice(0, 10)}`,
      "",
      machineLine(`npm run ${script}${args.length ? ` -- ${args.join(" ")}` : ""}`),
      "",
      `| scenario | ${resultHeader} | target | |`,
      "|---|---|---|---|",
      ...rows,
      "",
    ].join("\n"),
  );
}

/**
 * Resolves (with the time) once `done(object, eventType)` held for every name in `names`, from a watch of
 * `def` in `namespace` started at `resourceVersion`: polling lists would load the API being measured. On
 * timeout it rejects saying how many are stuck in which state and reason.
 */
export function waitAll(
  client: KrakeClient,
  def: KindDef,
  namespace: string,
  resourceVersion: string,
  names: Set<string>,
  done: (o: any, type: string) => boolean,
  timeoutMs: number,
): { promise: Promise<number>; cancel: () => void } {
  const watching = new AbortController();
  const seen = new Set<string>();
  const kind = client.kind(def);
  const promise = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(async () => {
      watching.abort();
      const stuck = new Map<string, number>();
      for (const o of (await kind.list(namespace)).items as any[]) {
        if (!names.has(o.metadata.name) || seen.has(o.metadata.name)) continue;
        const key = `${o.status.state}${o.status.reason ? ` (${o.status.reason.code}: ${o.status.reason.message})` : ""}`;
        stuck.set(key, (stuck.get(key) ?? 0) + 1);
      }
      const summary = [...stuck].map(([k, n]) => `${n} × ${k}`).join("; ");
      reject(
        new Error(`only ${seen.size} of ${names.size} ${def.plural} after ${timeoutMs / 1000} s; ${summary}`),
      );
    }, timeoutMs);
    (async () => {
      for await (const e of kind.watch(namespace, { resourceVersion, signal: watching.signal })) {
        const o: any = e.object;
        if (names.has(o.metadata.name) && done(o, e.type)) seen.add(o.metadata.name);
        if (seen.size === names.size) {
          clearTimeout(timer);
          watching.abort();
          resolve(Date.now());
          return;
        }
      }
    })().catch((err) => {
      if (!watching.signal.aborted) reject(err);
    });
  });
  return { promise, cancel: () => watching.abort() };
}
