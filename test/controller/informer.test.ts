import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { resolveApiConfig } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import type { ApiServer } from "../../src/api/server.js";
import { KrakeClient } from "../../src/client/index.js";
import { Informer } from "../../src/controller/informer.js";
import { Role } from "../../src/resources/registry.js";
import { eventually } from "../support/api.js";
import { bodies } from "../support/fixtures.js";
import { freePort } from "../support/daemon.js";

describe("Informer", () => {
  let dataDir: string;
  let server: ApiServer | null = null;
  const stop = new AbortController();
  after(async () => {
    stop.abort();
    await server?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("lists, watches, resumes after the server restarts, and relists when history is gone (410)", async () => {
    dataDir = await mkdtemp(join(tmpdir(), "informer-"));
    const port = await freePort();
    const open = () =>
      startApiServer(
        resolveApiConfig({
          host: "127.0.0.1",
          port,
          dataDir,
          fsync: false,
          logLevel: "silent",
          watchHistory: 100,
        }),
        {
          logger: pino({ level: "silent" }),
        },
      );
    server = await open();
    const client = new KrakeClient({ url: server.url });
    const roles = client.kind(Role);
    await roles.create(bodies.Role("before-start"));

    const seen: string[] = [];
    const informer = new Informer(client, Role, { minBackoffMs: 4000, maxBackoffMs: 4000 }).on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_old, o) => seen.push(`update ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    const running = informer.run(stop.signal);
    await informer.synced;
    assert.deepEqual(seen, ["add before-start"]);

    await roles.create(bodies.Role("live"));
    const live = await roles.get("live", null);
    live.metadata.labels = { changed: "yes" };
    await roles.update(live);
    await eventually(() => seen.includes("update live"), 5000, "the update");

    // Restart with a watch history of 100 events; the informer's reconnect backoff (>= 2 s) leaves time
    // to make more changes than that, so its resume point is gone: 410, and it relists. What changed
    // meanwhile, a delete included, still reaches the handlers.
    await server.close();
    server = await open();
    await roles.create(bodies.Role("after-restart"));
    for (let i = 0; i < 110; i += 10) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => roles.create(bodies.Role(`bulk-${i + j}`))));
    }
    // Roles have no force delete: mark, then drop the finalizer as the garbage collector would.
    const marked = await roles.delete("before-start", null);
    marked.metadata.finalizers = [];
    await roles.update(marked);
    await eventually(
      () => seen.includes("add after-restart") && seen.includes("delete before-start"),
      10_000,
      "catching up",
    );
    await eventually(() => informer.size === 112, 10_000, "every object");
    assert.equal(informer.getByName("before-start", null), undefined);
    assert.ok(informer.stats.lists >= 2, `relisted (${informer.stats.lists} lists)`);
    assert.ok(!seen.slice(3).includes("add live"), "an unchanged object is not re-announced by the relist");

    stop.abort();
    await running;
  });

  it("answers with this process's own write until the watch delivers it, and forgets it on delete", async () => {
    const dir = await mkdtemp(join(tmpdir(), "informer-own-"));
    const api = await startApiServer(
      resolveApiConfig({ host: "127.0.0.1", port: 0, dataDir: dir, fsync: false, logLevel: "silent" }),
      { logger: pino({ level: "silent" }) },
    );
    const halt = new AbortController();
    try {
      const roles = new KrakeClient({ url: api.url }).kind(Role);
      const first = await roles.create(bodies.Role("mine"));
      const informer = new Informer(new KrakeClient({ url: api.url }), Role);
      const running = informer.run(halt.signal);
      await informer.synced;
      // Stopped: its cache stays where it is, as a lagging watch would leave it.
      halt.abort();
      await running;
      const changed = structuredClone(first);
      changed.metadata.labels = { step: "2" };
      const written = await roles.update(changed);
      assert.equal(informer.getByName("mine", null)?.metadata.labels.step, undefined, "the cache lags");
      informer.observeWrite(written);
      assert.equal(informer.getByName("mine", null)?.metadata.labels.step, "2");
      informer.observeWrite(first);
      assert.equal(
        informer.getByName("mine", null)?.metadata.resource_version,
        written.metadata.resource_version,
      );
      // An object the cache does not hold (not seen yet, or already deleted) is never brought back by a write.
      informer.observeWrite({ ...written, metadata: { ...written.metadata, name: "ghost" } });
      assert.equal(informer.getByName("ghost", null), undefined);
    } finally {
      halt.abort();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
