import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MetricsRegistry, serveMetrics } from "./metrics.js";

describe("MetricsRegistry", () => {
  it("renders counters, gauges and histograms in the Prometheus text format", async () => {
    const r = new MetricsRegistry();
    r.counter("jobs_total", "Jobs").inc({ kind: 'a"b' }, 2);
    const g = r.gauge("depth", "Depth");
    g.set({}, 3);
    g.collect(() => [[{ q: "x" }, 7]]);
    const h = r.histogram("lat_seconds", "Latency", [0.1, 1]);
    h.observe({ op: "get" }, 0.05);
    h.observe({ op: "get" }, 0.5);
    await h.time({ op: "put" }, async () => undefined);
    const text = r.render();
    assert.match(text, /# TYPE jobs_total counter\njobs_total\{kind="a\\"b"\} 2\n/);
    assert.match(text, /depth 3\ndepth\{q="x"\} 7\n/);
    assert.match(
      text,
      /lat_seconds_bucket\{op="get",le="0.1"\} 1\nlat_seconds_bucket\{op="get",le="1"\} 2\nlat_seconds_bucket\{op="get",le="\+Inf"\} 2\nlat_seconds_sum\{op="get"\} 0.55\nlat_seconds_count\{op="get"\} 2/,
    );
    assert.equal(h.count({ op: "put" }), 1);
    assert.equal(r.counter("jobs_total", "again"), r.counter("jobs_total", "Jobs"), "one metric per name");
  });

  it("serves /metrics and /healthz", async () => {
    const r = new MetricsRegistry();
    r.counter("up_total", "x").inc();
    let healthy = true;
    const s = await serveMetrics(r, "127.0.0.1", 0, () => healthy);
    try {
      const m = await fetch(`${s.url}/metrics`);
      assert.match(m.headers.get("content-type")!, /^text\/plain; version=0.0.4/);
      assert.match(await m.text(), /up_total 1/);
      assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
      healthy = false;
      assert.equal((await fetch(`${s.url}/healthz`)).status, 503);
      assert.equal((await fetch(`${s.url}/nope`)).status, 404);
    } finally {
      await s.close();
    }
  });
});
