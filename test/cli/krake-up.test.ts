/**
 * `krake up` as an operator starts it: the embedded store by default (no leader election), etcd with leases,
 * --bootstrap, --controllers, and clear refusals. The sandbox walkthrough is in test/e2e.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually, http } from "../support/api.js";
import { startEtcd } from "../support/etcd.js";
import { bodies } from "../support/fixtures.js";
import { runKrake, startKrakeUp } from "../support/process.js";

const STATIC_METRICS = fileURLToPath(new URL("../../../support/static_metrics.yaml", import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "krake-up-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = async (url: string, path: string) =>
  (await http(url, "GET", path)).body.items
    .map((i: { metadata: { name: string } }) => i.metadata.name)
    .sort();

describe("krake up", () => {
  it("runs the API and the controllers on the embedded store, loads --bootstrap files, keeps data across restarts", async () => {
    const dataDir = join(dir, "data");
    const args = [
      "--port",
      "0",
      "--data-dir",
      dataDir,
      "--bootstrap",
      STATIC_METRICS,
      "--metrics-address",
      "",
    ];
    const first = await startKrakeUp(args);
    try {
      assert.match(first.output(), /export KRAKE_URL=http:\/\/127\.0\.0\.1:\d+/);
      assert.match(first.output(), /embedded store in .*data/);
      assert.match(first.output(), /Loaded .*static_metrics\.yaml: 3 created, 0 already there/);
      assert.deepEqual(await names(first.url, "/core/globalmetrics"), [
        "electricity_cost_1",
        "green_energy_ratio_1",
      ]);
      // The controllers act: an application with nowhere to go is looked at by the scheduler.
      const created = await http(
        first.url,
        "POST",
        "/kubernetes/namespaces/default/applications",
        bodies.Application("lonely"),
      );
      assert.equal(created.status, 200, created.text);
      await eventually(
        async () =>
          (await http(first.url, "GET", "/kubernetes/namespaces/default/applications/lonely")).body.status
            .reason?.code === "NO_SUITABLE_RESOURCE",
        15_000,
        "the scheduler's verdict",
      );
      assert.deepEqual(
        await names(first.url, "/core/leases"),
        [],
        "one process, one store: no leader election",
      );
    } finally {
      assert.deepEqual(await first.kill("SIGTERM"), { code: 0, signal: null });
    }
    const second = await startKrakeUp(args);
    try {
      assert.match(second.output(), /0 created, 3 already there/, "bootstrap is idempotent");
      assert.deepEqual(await names(second.url, "/kubernetes/namespaces/default/applications"), ["lonely"]);
    } finally {
      assert.deepEqual(await second.kill("SIGINT"), { code: 0, signal: null });
    }
  });

  it("over etcd, runs the chosen controllers behind leases", async () => {
    const etcd = await startEtcd();
    try {
      const up = await startKrakeUp([
        "--port",
        "0",
        "--etcd",
        etcd.endpoint,
        "--controllers",
        "scheduler,gc",
        "--metrics-address",
        "",
      ]);
      try {
        assert.match(up.output(), /etcd http:\/\/127\.0\.0\.1:\d+/);
        assert.match(up.output(), /controllers {2}scheduler, gc\n/);
        await eventually(
          async () => (await names(up.url, "/core/leases")).join() === "controller-gc,controller-scheduler",
          15_000,
          "both leases taken",
        );
      } finally {
        assert.deepEqual(await up.kill("SIGTERM"), { code: 0, signal: null });
      }
    } finally {
      await etcd.stop();
    }
  });

  it("refuses clearly: a port in use, an unknown controller, a bad flag", async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const port = String((busy.address() as AddressInfo).port);
      const taken = await runKrake(["up", "--port", port, "--data-dir", join(dir, "busy")]);
      assert.equal(taken.code, 1);
      assert.match(taken.stderr, new RegExp(`krake up: port ${port} is in use; choose another with --port`));
      const imTaken = await runKrake(["up", "--sandbox", "--port", "0", "--im-port", port]);
      assert.equal(imTaken.code, 1);
      assert.match(imTaken.stderr, /IM simulator.*--im-port/);
    } finally {
      busy.close();
    }
    const unknown = await runKrake(["up", "--controllers", "scheduler,nope"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown controller 'nope'/);
    const badPort = await runKrake(["up", "--sandbox", "--im-port", "99999"]);
    assert.equal(badPort.code, 2);
    assert.match(badPort.stderr, /--im-port must be a port number/);
  });
});
