import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { request } from "node:https";
import { ndjsonLines } from "../../client/ndjson.js";
import { KubeApiError, KubeClient, KubeUnreachableError } from "../../kube/client.js";
import { connectionOf } from "../../kube/kubeconfig.js";
import { nodeHttp } from "../../util/http.js";
import { startKubeSimulator, type SimulatedCluster } from "./simulator.js";
import { deployment, until } from "./test-support.js";

const clientOf = (c: SimulatedCluster) =>
  KubeClient.fromKubeconfig(c.kubeconfig as unknown as Record<string, unknown>, { timeoutMs: 3_000 });

/** A GET with a given token (or none); resolves with the status and body text. */
function get(url: string, caPem: string, token?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca: caPem, agent: false, headers: token ? { Authorization: `Bearer ${token}` } : {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("Kubernetes API simulator server", () => {
  it("hosts many clusters on one port, each under its prefix with its own token, CA-verified TLS and objects", async () => {
    const sim = await startKubeSimulator();
    try {
      const clusters = Array.from({ length: 20 }, (_, i) => sim.addCluster(`c${i}`));
      assert.throws(() => sim.addCluster("c0"), /exists already/);
      const port = new URL(sim.url).port;
      for (const c of clusters) {
        assert.equal(c.url, `${sim.url}/clusters/${c.name}`);
        assert.equal(new URL(c.url).port, port);
      }
      assert.equal(new Set(clusters.map((c) => c.token)).size, 20, "a token per cluster");

      const kc = clusters[0].kubeconfig;
      assert.equal(kc["current-context"], "c0");
      assert.equal(kc.contexts[0].context.namespace, "default");
      const conn = connectionOf(kc as unknown as Record<string, unknown>);
      assert.equal(conn.server, clusters[0].url);
      assert.equal(conn.ca?.toString(), sim.caPem);
      assert.equal(conn.authorization, `Bearer ${clusters[0].token}`);
      const ca = new X509Certificate(sim.caPem);
      assert.ok(ca.ca);

      // Objects are per cluster; resourceVersions count per cluster.
      await Promise.all(clusters.map((c, i) => clientOf(c).apply(deployment(`app-${i}`, 1))));
      for (const [i, c] of clusters.entries()) {
        const names = (await clientOf(c).list("apps/v1", "Deployment", "default")).map(
          (d) => d.metadata.name,
        );
        assert.deepEqual(names, [`app-${i}`]);
      }
      // A cluster's token opens no other cluster.
      const wrong = await get(`${clusters[1].url}/api/v1/namespaces`, sim.caPem, clusters[0].token);
      assert.equal(wrong.status, 401);
      assert.equal(JSON.parse(wrong.text).reason, "Unauthorized");
      assert.equal((await get(`${clusters[1].url}/api/v1/namespaces`, sim.caPem)).status, 401);
      assert.equal(
        (await get(`${clusters[1].url}/api/v1/namespaces`, sim.caPem, clusters[1].token)).status,
        200,
      );

      // Removed clusters answer 404 like an unknown path; the others go on.
      assert.equal(sim.removeCluster("c3"), true);
      assert.equal(sim.removeCluster("c3"), false);
      assert.equal(sim.cluster("c3"), undefined);
      const gone = await get(`${clusters[3].url}/version`, sim.caPem, clusters[3].token);
      assert.equal(gone.status, 404);
      assert.equal(gone.text, "404 page not found\n");
      assert.equal(sim.clusters().length, 19);
      assert.equal((await clientOf(clusters[4]).version()).gitVersion, "v1.20.2-krake-sim");
      assert.equal((await get(`${sim.url}/healthz`, sim.caPem)).text, "ok");
    } finally {
      await sim.close();
    }
  });

  it("makes an unreachable cluster fail at the transport level, cuts its watches, and recovers", async () => {
    const sim = await startKubeSimulator();
    try {
      const a = sim.addCluster("a");
      const b = sim.addCluster("b");
      const ka = clientOf(a);
      const kb = clientOf(b);
      await ka.version();
      const conn = connectionOf(a.kubeconfig as unknown as Record<string, unknown>);
      const res = await nodeHttp({ ca: conn.ca })(new URL(`${a.url}/api/v1/namespaces?watch=1`), {
        method: "GET",
        headers: { Authorization: conn.authorization! },
      });
      const lines: string[] = [];
      const watching = (async () => {
        for await (const line of ndjsonLines(res.chunks())) lines.push(line);
      })();
      await until("the watch's initial events", () => lines.length >= 4);

      a.setReachable(false);
      assert.equal(a.reachable, false);
      await assert.rejects(watching, "the open watch is cut");
      await assert.rejects(ka.version(), KubeUnreachableError);
      await assert.rejects(
        ka.get(deployment("x", 1)),
        (err: unknown) => err instanceof KubeUnreachableError && /cannot reach/.test(String(err)),
      );
      assert.equal((await kb.version()).major, "1", "other clusters on the port are fine");

      a.setReachable(true);
      assert.equal((await ka.version()).major, "1");
    } finally {
      await sim.close();
    }
  });

  it("injects failures: the next n requests answer the given status as a metav1.Status", async () => {
    const sim = await startKubeSimulator();
    try {
      const c = sim.addCluster("flaky");
      const k = clientOf(c);
      await k.version();
      c.failNext(2);
      for (let i = 0; i < 2; i++)
        await assert.rejects(
          k.version(),
          (err: unknown) =>
            err instanceof KubeApiError &&
            err.status === 500 &&
            err.reason === "InternalError" &&
            err.transient,
        );
      assert.equal((await k.version()).major, "1");
      c.failNext(1, 429);
      const throttled = await get(`${c.url}/version`, sim.caPem, c.token);
      assert.equal(throttled.status, 429);
      assert.equal(JSON.parse(throttled.text).reason, "TooManyRequests");
      c.failNext(1, 409);
      await assert.rejects(
        k.apply(deployment("d", 1)),
        (err: unknown) => err instanceof KubeApiError && err.status === 409 && err.transient,
      );
      c.failNext(1, 503);
      await assert.rejects(k.version(), (err: unknown) => err instanceof KubeApiError && err.status === 503);
      assert.equal(c.stats().byVerb.GET >= 6, true);
    } finally {
      await sim.close();
    }
  });

  it("answers a watch from a forgotten resourceVersion with 410 Expired; resumes from a remembered one", async () => {
    const sim = await startKubeSimulator();
    try {
      const c = sim.addCluster("short", { watchHistory: 8 });
      const k = clientOf(c);
      const first = await k.apply<any>({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "cm-0", namespace: "default" },
        data: {},
      });
      for (let i = 1; i <= 10; i++)
        await k.apply({
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: `cm-${i}`, namespace: "default" },
          data: {},
        });
      const expired = await get(
        `${c.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${first.metadata.resourceVersion}`,
        sim.caPem,
        c.token,
      );
      assert.equal(expired.status, 200);
      const ev = JSON.parse(expired.text);
      assert.equal(ev.type, "ERROR");
      assert.equal(ev.object.reason, "Expired");
      assert.equal(ev.object.code, 410);
      assert.match(ev.object.message, /^too old resource version: \d+ \(\d+\)$/);

      const list = await k.request("GET", "/api/v1/namespaces/default/configmaps");
      const recent = Number(list.metadata.resourceVersion) - 1;
      // Resuming from a remembered version replays what came after it, then goes on live.
      const conn = connectionOf(c.kubeconfig as unknown as Record<string, unknown>);
      const controller = new AbortController();
      const res = await nodeHttp({ ca: conn.ca })(
        new URL(`${c.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${recent}`),
        { method: "GET", headers: { Authorization: conn.authorization! }, signal: controller.signal },
      );
      const events: any[] = [];
      const reading = (async () => {
        for await (const line of ndjsonLines(res.chunks(), controller.signal)) events.push(JSON.parse(line));
      })();
      await k.request("DELETE", "/api/v1/namespaces/default/configmaps/cm-3");
      await until("the replayed and the live event", () => events.length >= 2);
      controller.abort();
      await reading;
      assert.deepEqual(
        events.map((e) => `${e.type} ${e.object.metadata.name}`),
        ["ADDED cm-10", "DELETED cm-3"],
      );
    } finally {
      await sim.close();
    }
  });

  it("close() ends everything: sockets, watches and the port", async () => {
    const sim = await startKubeSimulator();
    const c = sim.addCluster("x", { podStartDelayMs: 60_000 });
    const k = clientOf(c);
    await k.apply(deployment("waiting", 2));
    await c.idle();
    await sim.close();
    await sim.close();
    await assert.rejects(k.version(), KubeUnreachableError);
  });
});
