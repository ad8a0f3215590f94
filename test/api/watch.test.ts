import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { Application, GlobalMetric } from "../../src/resources/registry.js";
import { bodies } from "../support/fixtures.js";
import { eventually, http, startTestApi, type TestApi } from "../support/api.js";

let api: TestApi;
before(async () => {
  api = await startTestApi();
});
after(async () => {
  await api.close();
});

/** Collects watch events of a URL until stopped. */
function collect(path: string, base = api.url) {
  const events: any[] = [];
  const lines: string[] = [];
  const ctrl = new AbortController();
  let status = 0;
  let contentType = "";
  const done = (async () => {
    const res = await fetch(base + path, { signal: ctrl.signal });
    status = res.status;
    contentType = res.headers.get("content-type") ?? "";
    if (res.status !== 200) return;
    const decoder = new TextDecoder();
    let buf = "";
    try {
      for await (const chunk of res.body as any) {
        buf += decoder.decode(chunk, { stream: true });
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          lines.push(line);
          if (line.trim()) events.push(JSON.parse(line));
        }
      }
    } catch {
      // aborted
    }
  })().catch(() => {});
  return {
    events,
    lines,
    get status() {
      return status;
    },
    get contentType() {
      return contentType;
    },
    async stop() {
      ctrl.abort();
      await done;
    },
  };
}

describe("watch", () => {
  it("streams ADDED, MODIFIED and DELETED as NDJSON, each with its resource_version", async () => {
    const w = collect("/kubernetes/namespaces/w1/applications?watch");
    await eventually(() => w.status === 200, 5000, "watch to open");
    assert.equal(w.contentType, "application/x-ndjson");
    // A watch without resource_version starts with live changes only; the open is acknowledged by headers.
    const client = api.client.kind(Application);
    const created = await client.create(bodies.Application("a1"), "w1");
    created.metadata.labels = { x: "y" };
    const updated = await client.update(created);
    await client.delete("a1", "w1", { force: true });
    await eventually(() => w.events.length >= 3, 5000, "three events");
    assert.deepEqual(
      w.events.map((e) => e.type),
      ["ADDED", "MODIFIED", "DELETED"],
    );
    assert.equal(w.events[0].object.metadata.resource_version, created.metadata.resource_version);
    assert.equal(w.events[1].object.metadata.resource_version, updated.metadata.resource_version);
    assert.ok(Number(w.events[2].object.metadata.resource_version) > Number(updated.metadata.resource_version));
    await w.stop();
  });

  it("sees only its namespace; list-all watch sees every namespace", async () => {
    const ns = collect("/kubernetes/namespaces/w2/applications?watch");
    const all = collect("/kubernetes/applications?watch");
    await eventually(() => ns.status === 200 && all.status === 200);
    const client = api.client.kind(Application);
    await client.create(bodies.Application("in-w2"), "w2");
    await client.create(bodies.Application("in-w3"), "w3");
    await eventually(() => all.events.length >= 2);
    assert.deepEqual(ns.events.map((e) => e.object.metadata.name), ["in-w2"]);
    assert.deepEqual(all.events.map((e) => e.object.metadata.name), ["in-w2", "in-w3"]);
    await ns.stop();
    await all.stop();
  });

  it("replays every change after resource_version, then streams live, with no gap", async () => {
    const client = api.client.kind(GlobalMetric);
    await client.create(bodies.GlobalMetric("before"));
    const list = await client.list();
    await client.create(bodies.GlobalMetric("after-list-1"));
    await client.create(bodies.GlobalMetric("after-list-2"));
    const w = collect(`/core/globalmetrics?watch&resource_version=${list.metadata.resource_version}`);
    await eventually(() => w.events.length >= 2);
    await client.create(bodies.GlobalMetric("live"));
    await eventually(() => w.events.length >= 3);
    assert.deepEqual(
      w.events.map((e) => `${e.type} ${e.object.metadata.name}`),
      ["ADDED after-list-1", "ADDED after-list-2", "ADDED live"],
    );
    await w.stop();
  });

  it("treats watch=false, watch=0 and watch=no as a plain list (D2)", async () => {
    for (const v of ["false", "0", "no", "FALSE"]) {
      const res = await http(api.url, "GET", `/core/globalmetrics?watch=${v}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.kind, "GlobalMetricList");
    }
  });

  it("sends heartbeats as empty lines", async () => {
    const w = collect("/core/roles?watch&heartbeat=1");
    await eventually(() => w.lines.filter((l) => l === "").length >= 1, 5000, "a heartbeat");
    assert.equal(w.events.length, 0);
    await w.stop();
  });

  it("answers 422 to a resource_version that is not a number", async () => {
    const res = await http(api.url, "GET", "/core/roles?watch&resource_version=abc");
    assert.equal(res.status, 422);
    assert.equal(res.body.errors[0].path, "query.resource_version");
  });

  it("a watcher that stops reading stalls neither writes nor other watchers", async () => {
    // The disconnect policy itself is unit-tested in src/api/watch.test.ts; here: nobody waits for it.
    const path = "/core/globalmetrics?watch";
    const req = request(api.url + path);
    const responded = new Promise<void>((resolve) => {
      req.on("response", (res) => {
        res.pause();
        resolve();
      });
    });
    req.end();
    await responded;
    const fast = collect(path);
    await eventually(() => fast.status === 200, 5000, "the second watch to open");
    const client = api.client.kind(GlobalMetric);
    const big = "x".repeat(16 * 1024);
    const count = 400;
    for (let i = 0; i < count; i += 8) {
      await Promise.all(
        Array.from({ length: 8 }, (_, j) => {
          const b = bodies.GlobalMetric(`stuck-${i + j}`) as any;
          b.spec.provider.metric = big;
          return client.create(b);
        }),
      );
    }
    await eventually(() => fast.events.length >= count, 10000, "the reading watcher to get every event");
    assert.equal(fast.events.filter((e) => e.type === "ADDED").length, count);
    req.destroy();
    await fast.stop();
  });
});
