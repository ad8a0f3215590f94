import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { MetricsCache, type MetricsCacheOptions, type MetricsProviderResource } from "./cache.js";
import { MetricError, MetricsProviderError } from "./errors.js";
import type { MetricsSource } from "./provider.js";

/** A clock the test moves by hand. */
function fakeClock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

interface Deferred {
  resolve(value: number): void;
  reject(err: unknown): void;
}

/**
 * A provider whose queries the test answers by hand (or with `answer` if set), recording each one, so a
 * test can count real requests and hold them in flight.
 */
function scriptedProvider() {
  const queries: { metric: string; spec: unknown; resource: string | undefined; pending: Deferred }[] = [];
  let answer: ((metric: string) => number | Error) | undefined;
  const createSource: MetricsCacheOptions["createSource"] = (spec, options): MetricsSource => ({
    query: (metric) =>
      new Promise<number>((resolve, reject) => {
        queries.push({ metric, spec, resource: options.resource, pending: { resolve, reject } });
        if (answer) {
          const result = answer(metric);
          if (result instanceof Error) reject(result);
          else resolve(result);
        }
      }),
  });
  return {
    queries,
    createSource,
    answerWith(fn: (metric: string) => number | Error) {
      answer = fn;
    },
  };
}

const prom = (url = "http://prom:9090"): MetricsProviderResource => ({
  kind: "GlobalMetricsProvider",
  metadata: { name: "prom", namespace: null },
  spec: { type: "prometheus", prometheus: { url } },
});

describe("MetricsCache", () => {
  it("reuses a value within the TTL and queries again once it expired", async () => {
    const clock = fakeClock();
    const provider = scriptedProvider();
    provider.answerWith(() => provider.queries.length * 10);
    const cache = new MetricsCache({ ttlMs: 10_000, now: clock.now, createSource: provider.createSource });

    assert.equal(await cache.query(prom(), "cost"), 10);
    clock.advance(9_999);
    assert.equal(await cache.query(prom(), "cost"), 10);
    assert.equal(provider.queries.length, 1);
    clock.advance(1);
    assert.equal(await cache.query(prom(), "cost"), 20);
    assert.equal(provider.queries.length, 2);
  });

  it("measures the TTL from when the answer arrived, not from when it was asked", async () => {
    const clock = fakeClock();
    const provider = scriptedProvider();
    const cache = new MetricsCache({ ttlMs: 1_000, now: clock.now, createSource: provider.createSource });
    const first = cache.query(prom(), "cost");
    clock.advance(5_000); // a slow provider
    provider.queries[0].pending.resolve(7);
    assert.equal(await first, 7);
    clock.advance(999);
    assert.equal(await cache.query(prom(), "cost"), 7);
    assert.equal(provider.queries.length, 1);
  });

  it("lets concurrent queries of one key share one request", async () => {
    const provider = scriptedProvider();
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    const waiting = [cache.query(prom(), "cost"), cache.query(prom(), "cost"), cache.query(prom(), "cost")];
    assert.equal(provider.queries.length, 1);
    provider.queries[0].pending.resolve(0.42);
    assert.deepEqual(await Promise.all(waiting), [0.42, 0.42, 0.42]);
  });

  it("shares a failure with every waiter and caches it for the shorter error TTL", async () => {
    const clock = fakeClock();
    const provider = scriptedProvider();
    const cache = new MetricsCache({
      ttlMs: 10_000,
      errorTtlMs: 2_000,
      now: clock.now,
      createSource: provider.createSource,
    });
    const down = new MetricsProviderError({ metric: "cost", provider: "prom" }, "connection refused");
    const waiting = [cache.query(prom(), "cost"), cache.query(prom(), "cost")];
    provider.queries[0].pending.reject(down);
    for (const result of await Promise.allSettled(waiting))
      assert.deepEqual(result, { status: "rejected", reason: down });

    clock.advance(1_999);
    await assert.rejects(cache.query(prom(), "cost"), (err) => err === down);
    assert.equal(provider.queries.length, 1);
    clock.advance(1);
    const retry = cache.query(prom(), "cost");
    assert.equal(provider.queries.length, 2, "the provider is asked again after the error TTL");
    provider.queries[1].pending.resolve(3);
    assert.equal(await retry, 3);
  });

  it("caches MetricErrors too, but never an unexpected error", async () => {
    const provider = scriptedProvider();
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    provider.answerWith((metric) =>
      metric === "missing"
        ? new MetricError({ metric, provider: "prom" }, "no sample")
        : new TypeError("a bug"),
    );
    await assert.rejects(cache.query(prom(), "missing"), MetricError);
    await assert.rejects(cache.query(prom(), "missing"), MetricError);
    assert.equal(provider.queries.filter((q) => q.metric === "missing").length, 1);
    await assert.rejects(cache.query(prom(), "buggy"), TypeError);
    await assert.rejects(cache.query(prom(), "buggy"), TypeError);
    assert.equal(provider.queries.filter((q) => q.metric === "buggy").length, 2);
  });

  it("keys by provider, spec and metric: an edited provider is asked at once", async () => {
    const provider = scriptedProvider();
    provider.answerWith(() => provider.queries.length);
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    await cache.query(prom(), "cost");
    await cache.query(prom(), "latency");
    await cache.query(prom("http://prom-2:9090"), "cost");
    await cache.query(
      { ...prom(), metadata: { name: "prom", namespace: "team-a" }, kind: "MetricsProvider" },
      "cost",
    );
    assert.equal(provider.queries.length, 4);
    assert.deepEqual(provider.queries[2].spec, {
      type: "prometheus",
      prometheus: { url: "http://prom-2:9090" },
    });
    assert.equal(provider.queries[3].resource, "MetricsProvider 'team-a/prom'");
    // The same spec with its keys in another order is the same provider.
    const reordered: MetricsProviderResource = {
      metadata: { namespace: null, name: "prom" },
      spec: { prometheus: { url: "http://prom:9090" }, type: "prometheus" },
      kind: "GlobalMetricsProvider",
    };
    assert.equal(await cache.query(reordered, "cost"), 1);
    assert.equal(provider.queries.length, 4);
  });

  it("lets one caller give up without failing the others, and still caches the answer", async () => {
    const provider = scriptedProvider();
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    const impatient = new AbortController();
    const reason = new Error("pass cancelled");
    const gaveUp = cache.query(prom(), "cost", impatient.signal);
    const patient = cache.query(prom(), "cost", new AbortController().signal);
    impatient.abort(reason);
    await assert.rejects(gaveUp, (err) => err === reason);
    provider.queries[0].pending.resolve(5);
    assert.equal(await patient, 5);
    assert.equal(await cache.query(prom(), "cost"), 5);
    assert.equal(provider.queries.length, 1);
  });

  it("does not query at all for a caller whose signal has already fired", async () => {
    const provider = scriptedProvider();
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    const reason = new Error("stopped");
    await assert.rejects(cache.query(prom(), "cost", AbortSignal.abort(reason)), (err) => err === reason);
    assert.equal(provider.queries.length, 0);
  });

  it("drops expired entries so unused keys do not pile up", async () => {
    const clock = fakeClock();
    const provider = scriptedProvider();
    provider.answerWith(() => 1);
    const cache = new MetricsCache({
      ttlMs: 1_000,
      errorTtlMs: 500,
      now: clock.now,
      createSource: provider.createSource,
    });
    for (let i = 0; i < 50; i++) await cache.query(prom(), `metric_${i}`);
    assert.equal(cache.size, 50);
    clock.advance(1_000);
    await cache.query(prom(), "fresh");
    assert.equal(cache.size, 1);
  });

  it("ignores an answer that arrives after clear()", async () => {
    const provider = scriptedProvider();
    const cache = new MetricsCache({ now: fakeClock().now, createSource: provider.createSource });
    const old = cache.query(prom(), "cost");
    cache.clear();
    const fresh = cache.query(prom(), "cost");
    provider.queries[0].pending.resolve(1);
    assert.equal(await old, 1);
    assert.equal(provider.queries.length, 2, "clear() forgot the in-flight request");
    provider.queries[1].pending.resolve(2);
    assert.equal(await fresh, 2);
    assert.equal(await cache.query(prom(), "cost"), 2);
  });

  it("uses the real sources by default", async () => {
    const cache = new MetricsCache();
    const provider: MetricsProviderResource = {
      kind: "MetricsProvider",
      metadata: { name: "fixed", namespace: "team-a" },
      spec: { type: "static", static: { metrics: { green: 1 } } },
    };
    assert.equal(await cache.query(provider, "green"), 1);
    await assert.rejects(cache.query(provider, "blue"), (err: Error) => {
      assert.ok(err instanceof MetricError);
      assert.match(err.message, /MetricsProvider 'team-a\/fixed' \(static\)/);
      return true;
    });
  });
});
