import { test } from "node:test";
import assert from "node:assert/strict";
import { KubeApiError, type KubeClient } from "../../kube/client.js";
import { ClusterReadCache } from "./read-cache.js";

/** The three calls the cache makes, counted; `forbidden` makes LIST answer 403. */
function stubClient(objects: string[], forbidden = false) {
  const calls = { list: 0, get: 0 };
  const client = {
    namespace: "default",
    async resource() {
      return { apiVersion: "apps/v1", kind: "Deployment", plural: "deployments", namespaced: true };
    },
    async list() {
      calls.list++;
      if (forbidden) throw new KubeApiError(403, "Forbidden", "no list for you", null);
      return objects.map((name) => ({ metadata: { name, namespace: "default" }, spec: { replicas: 1 } }));
    },
    async get(ref: { metadata: { name: string } }) {
      calls.get++;
      return objects.includes(ref.metadata.name) ? { metadata: { name: ref.metadata.name } } : null;
    },
  };
  return { client: client as unknown as KubeClient, calls };
}

const ref = (name: string) => ({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name } });

test("one LIST serves every app's read in the window; items get their apiVersion and kind", async () => {
  const { client, calls } = stubClient(["a", "b"]);
  const cache = new ClusterReadCache(60_000);
  const [a, b, c] = await Promise.all([
    cache.get("ns/c1", client, ref("a")),
    cache.get("ns/c1", client, ref("b")),
    cache.get("ns/c1", client, ref("c")),
  ]);
  assert.equal(calls.list, 1);
  assert.equal(a?.apiVersion, "apps/v1");
  assert.equal(a?.kind, "Deployment");
  assert.equal(b?.metadata.name, "b");
  assert.equal(c, null);
  // Another cluster has lists of its own.
  await cache.get("ns/c2", client, ref("a"));
  assert.equal(calls.list, 2);
});

test("a change invalidates the list; an old list is read again", async () => {
  const { client, calls } = stubClient(["a"]);
  const cache = new ClusterReadCache(60_000);
  await cache.get("ns/c1", client, ref("a"));
  await cache.invalidate("ns/c1", client, ref("a"));
  await cache.get("ns/c1", client, ref("a"));
  assert.equal(calls.list, 2);
  const expiring = new ClusterReadCache(0);
  await expiring.get("ns/c1", client, ref("a"));
  await new Promise((r) => setTimeout(r, 2));
  await expiring.get("ns/c1", client, ref("a"));
  assert.equal(calls.list, 4);
  cache.forgetCluster("ns/c1");
  await cache.get("ns/c1", client, ref("a"));
  assert.equal(calls.list, 5);
});

test("where listing is forbidden, each object is read on its own", async () => {
  const { client, calls } = stubClient(["a"], true);
  const cache = new ClusterReadCache(60_000);
  assert.equal((await cache.get("ns/c1", client, ref("a")))?.metadata.name, "a");
  assert.equal(await cache.get("ns/c1", client, ref("zz")), null);
  assert.equal(calls.list, 1);
  assert.equal(calls.get, 2);
});
