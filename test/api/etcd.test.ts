/**
 * The API over a real etcd: the flows that depend on the store's semantics (revisions, CAS, watch replay,
 * compaction, size limits) checked end to end over HTTP.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startEtcd } from "../support/etcd.js";
import { eventually, http, startTestApi, type TestApi } from "../support/api.js";
import { bodies } from "../support/fixtures.js";

let etcd: Awaited<ReturnType<typeof startEtcd>>;
let api: TestApi;
before(async () => {
  etcd = await startEtcd();
  api = await startTestApi({ etcd: etcd.endpoint, etcdPrefix: "/krake-http-test" });
});
after(async () => {
  await api?.close();
  await etcd?.stop();
});

const apps = "/kubernetes/namespaces/e/applications";

describe("API over etcd", () => {
  it("creates, reads, lists with a resource version, and refuses duplicates", async () => {
    const created = await http(api.url, "POST", apps, bodies.Application("a"));
    assert.equal(created.status, 200, created.text);
    assert.match(created.body.metadata.resource_version, /^\d+$/);
    assert.equal((await http(api.url, "POST", apps, bodies.Application("a"))).status, 409);
    const read = await http(api.url, "GET", `${apps}/a`);
    assert.equal(read.body.metadata.resource_version, created.body.metadata.resource_version);
    const list = await http(api.url, "GET", apps);
    assert.equal(list.body.items.length, 1);
    assert.ok(Number(list.body.metadata.resource_version) >= Number(created.body.metadata.resource_version));
  });

  it("answers 409 to a stale resource_version", async () => {
    const current = (await http(api.url, "GET", `${apps}/a`)).body;
    const stale = structuredClone(current);
    current.metadata.labels = { one: "1" };
    assert.equal((await http(api.url, "PUT", `${apps}/a`, current)).status, 200);
    stale.metadata.labels = { two: "2" };
    const res = await http(api.url, "PUT", `${apps}/a`, stale);
    assert.equal(res.status, 409);
    assert.equal(res.body.title, "TRANSACTION_ERROR");
  });

  it("replays a watch from a list's resource version, then answers 410 once it is compacted", async () => {
    const list = await http(api.url, "GET", apps);
    const rv = Number(list.body.metadata.resource_version);
    await http(api.url, "POST", apps, bodies.Application("b"));
    const ctrl = new AbortController();
    const res = await fetch(`${api.url}${apps}?watch&resource_version=${rv}`, { signal: ctrl.signal });
    assert.equal(res.status, 200);
    const reader = res.body!.getReader();
    let text = "";
    await eventually(async () => {
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
      return text.includes("\n");
    });
    const event = JSON.parse(text.split("\n")[0]);
    assert.equal(event.type, "ADDED");
    assert.equal(event.object.metadata.name, "b");
    ctrl.abort();

    const head = Number((await http(api.url, "GET", apps)).body.metadata.resource_version);
    await etcd.compact(head);
    const gone = await http(api.url, "GET", `${apps}?watch&resource_version=${rv}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.body.title, "RESOURCE_VERSION_EXPIRED");
  });

  it("answers 413, not 503, to an object beyond etcd's request limit", async () => {
    const big = bodies.Application("huge") as any;
    big.spec.manifest[0].metadata.annotations = { blob: "x".repeat(2 * 1024 * 1024) };
    const res = await http(api.url, "POST", apps, big);
    assert.equal(res.status, 413);
    assert.match(res.body.detail, /the store accepts at most/);
    assert.equal((await http(api.url, "GET", `${apps}/huge`)).status, 404);
  });
});
