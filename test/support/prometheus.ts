/**
 * A real, throw-away Prometheus for tests: `/usr/bin/prometheus` (Debian's 2.42) on a free loopback port,
 * with a temp config and temp TSDB, scraping exporters the test serves itself. Never port 9090 and never
 * Debian's system service: everything it needs is passed on the command line.
 *
 * Cleanup is test/support/daemon.ts's; Prometheus runs in its own process group (detached) and is killed as
 * a group.
 */
import { spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonProcess, freePort as anyFreePort } from "./daemon.js";

export const PROMETHEUS_BIN = "/usr/bin/prometheus";
/** Prometheus' default port, and Debian's service: a test must never talk to (or clash with) that one. */
const SYSTEM_PROMETHEUS_PORT = 9090;

const READY_TIMEOUT_MS = 30_000;
const POLL_PAUSE_MS = 50;

export interface TestPrometheus {
  /** `http://127.0.0.1:PORT`, what a MetricsProvider spec's `prometheus.url` holds. */
  url: string;
  /** SIGTERM to the process group (SIGKILL after a grace period), waits for the exit, removes temp files. */
  stop(): Promise<void>;
}

export interface StartPrometheusOptions {
  /** `host:port` of the exporters to scrape, all in one job. */
  targets: string[];
  /** Seconds between scrapes: short, so a changed value is visible quickly. */
  scrapeIntervalSeconds?: number;
  jobName?: string;
}

/** A loopback port nobody listens on right now (and not 9090); for Prometheus and for "provider down". */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await anyFreePort();
    if (port !== SYSTEM_PROMETHEUS_PORT) return port;
  }
}

/**
 * Polls `probe` until it returns something other than undefined, or fails after `timeoutMs` with the last
 * thing the probe saw. The pause between probes is politeness, not synchronisation: the condition decides.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  describeLast: () => string = () => "",
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await probe();
    if (result !== undefined) return result;
    if (Date.now() >= deadline) {
      const last = describeLast();
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last: ${last})` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_PAUSE_MS));
  }
}

/**
 * Waits until Prometheus has scraped something that makes `query` yield at least one sample. Uses the raw
 * HTTP API, not the code under test, so a bug there cannot make the wait itself pass or hang oddly.
 */
export async function waitForSamples(
  prometheus: TestPrometheus,
  query: string,
  timeoutMs = 20_000,
): Promise<void> {
  let last = "no answer yet";
  await waitFor(
    `Prometheus to have samples for ${query}`,
    async () => {
      try {
        const url = `${prometheus.url}/api/v1/query?query=${encodeURIComponent(query)}`;
        const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
        const body = await res.text();
        last = `HTTP ${res.status}: ${body.slice(0, 300)}`;
        const answer = JSON.parse(body) as { data?: { result?: unknown[] } };
        return (answer.data?.result?.length ?? 0) > 0 ? true : undefined;
      } catch (err) {
        last = String(err);
        return undefined;
      }
    },
    timeoutMs,
    () => last,
  );
}

function configYaml(opts: StartPrometheusOptions): string {
  const interval = `${opts.scrapeIntervalSeconds ?? 1}s`;
  // scrape_timeout must not exceed the interval, and the 10 s default would with a 1 s interval.
  return [
    "global:",
    `  scrape_interval: ${interval}`,
    `  scrape_timeout: ${interval}`,
    `  evaluation_interval: ${interval}`,
    "scrape_configs:",
    `  - job_name: ${JSON.stringify(opts.jobName ?? "krake-test-exporter")}`,
    "    static_configs:",
    `      - targets: ${JSON.stringify(opts.targets)}`,
    "",
  ].join("\n");
}

async function spawnPrometheus(dir: string, port: number): Promise<DaemonProcess> {
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    // detached: its own process group, so stop() and the watchdog can kill it as a group.
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return new DaemonProcess(child, dir, "prometheus", true);
}

/** Polls /-/ready (200 once the TSDB is open and the config loaded); fails early if Prometheus exits. */
async function waitReady(proc: DaemonProcess, url: string): Promise<void> {
  let last = "no answer yet";
  await waitFor(
    `Prometheus at ${url} to be ready`,
    async () => {
      if (proc.exitedYet) throw new Error(`prometheus exited during startup:\n${proc.stderr()}`);
      try {
        const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        last = `HTTP ${res.status}: ${(await res.text()).trim()}`;
        return res.ok ? true : undefined;
      } catch (err) {
        last = String(err);
        return undefined;
      }
    },
    READY_TIMEOUT_MS,
    () => `${last}\n${proc.stderr()}`,
  );
}

export async function startPrometheus(opts: StartPrometheusOptions): Promise<TestPrometheus> {
  try {
    await access(PROMETHEUS_BIN, fsConstants.X_OK);
  } catch {
    throw new Error(
      `${PROMETHEUS_BIN} not found: the Prometheus integration tests need it. Install it with ` +
        "`apt-get install -y --no-install-recommends prometheus` (npm test does that itself when run as root).",
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "krake-prometheus-test-"));
  let proc: DaemonProcess | undefined;
  let url = "";
  try {
    await writeFile(join(dir, "prometheus.yml"), configYaml(opts));
    // A free port can be taken between our probe and Prometheus' bind; try a fresh one then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      url = `http://127.0.0.1:${port}`;
      proc = await spawnPrometheus(dir, port);
      try {
        await waitReady(proc, url);
        break;
      } catch (err) {
        await proc.stop();
        const portClash = /address already in use/.test(`${String(err)}\n${proc.stderr()}`);
        if (!portClash || attempt >= 3) throw err;
      }
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const running = proc;
  let stopped = false;
  return {
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await running.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface TestExporter {
  /** `127.0.0.1:PORT`, a Prometheus scrape target. */
  target: string;
  /** Replaces what the next scrape sees (text exposition format, one `name{labels} value` per line). */
  expose(text: string): void;
  close(): Promise<void>;
}

/** A minimal exporter serving whatever the test last set, in Prometheus' text exposition format. */
export async function startExporter(initial: string): Promise<TestExporter> {
  let exposition = initial;
  const server: HttpServer = createHttpServer((req, res) => {
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(exposition.endsWith("\n") ? exposition : `${exposition}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listener address");
  return {
    target: `127.0.0.1:${address.port}`,
    expose(text) {
      exposition = text;
    },
    async close() {
      // Prometheus keeps its scrape connection alive; without this close() would wait for it to idle out.
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A server that accepts connections and never answers, to prove a timeout is honoured. close() also
 * destroys the held sockets, or the server would never finish closing.
 */
export async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("unexpected listener address");
  return {
    url: `http://127.0.0.1:${address.port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
