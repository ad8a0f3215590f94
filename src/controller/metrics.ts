/**
 * Prometheus metrics of a controller process (text exposition format 0.0.4), served on `/metrics`. Small on
 * purpose: counters, gauges (set or computed at scrape time) and histograms, each with labels.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

const keyOf = (labels: Labels) => JSON.stringify(Object.entries(labels).sort());

interface Metric {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  render(): string[];
}

export class Counter implements Metric {
  readonly type = "counter";
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels);
    const entry = this.values.get(k) ?? { labels, value: 0 };
    entry.value += by;
    this.values.set(k, entry);
  }

  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0;
  }

  render(): string[] {
    return [...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${e.value}`);
  }
}

export class Gauge implements Metric {
  readonly type = "gauge";
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  private readonly collectors: (() => [Labels, number][])[] = [];
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  set(labels: Labels, value: number): void {
    this.values.set(keyOf(labels), { labels, value });
  }

  /** A value computed at scrape time (e.g. a queue's depth). */
  collect(fn: () => [Labels, number][]): void {
    this.collectors.push(fn);
  }

  render(): string[] {
    const lines = [...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${e.value}`);
    for (const fn of this.collectors)
      for (const [labels, v] of fn()) lines.push(`${this.name}${labelText(labels)} ${v}`);
    return lines;
  }
}

export const DEFAULT_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

export class Histogram implements Metric {
  readonly type = "histogram";
  private readonly series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {}

  /** Records one observation in seconds. */
  observe(labels: Labels, seconds: number): void {
    const k = keyOf(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { labels, counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (seconds <= this.buckets[i]) s.counts[i]++;
    s.sum += seconds;
    s.count++;
  }

  /** Times `fn` and records its duration, failed or not. */
  async time<T>(labels: Labels, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint();
    try {
      return await fn();
    } finally {
      this.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
    }
  }

  count(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.count ?? 0;
  }

  render(): string[] {
    const lines: string[] = [];
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) =>
        lines.push(`${this.name}_bucket${labelText(s.labels, ["le", String(b)])} ${s.counts[i]}`),
      );
      lines.push(`${this.name}_bucket${labelText(s.labels, ["le", "+Inf"])} ${s.count}`);
      lines.push(`${this.name}_sum${labelText(s.labels)} ${s.sum}`);
      lines.push(`${this.name}_count${labelText(s.labels)} ${s.count}`);
    }
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric>();

  private register<M extends Metric>(metric: M): M {
    const existing = this.metrics.get(metric.name);
    if (existing) return existing as M;
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string): Counter {
    return this.register(new Counter(name, help));
  }

  gauge(name: string, help: string): Gauge {
    return this.register(new Gauge(name, help));
  }

  histogram(name: string, help: string, buckets?: number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }

  render(): string {
    const out: string[] = [];
    for (const m of this.metrics.values()) {
      out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`, ...m.render());
    }
    return out.join("\n") + "\n";
  }
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves `/metrics` and `/healthz` (200 while `healthy()` says so). */
export async function serveMetrics(
  registry: MetricsRegistry,
  host: string,
  port: number,
  healthy: () => boolean = () => true,
): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url === "/metrics") {
      res.setHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
      res.end(registry.render());
    } else if (req.url === "/healthz") {
      const ok = healthy();
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? "ok\n" : "unhealthy\n");
    } else {
      res.statusCode = 404;
      res.end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
