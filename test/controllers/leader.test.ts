/**
 * Two copies of `krake controller scheduler` as real processes: one leads, the other waits; killing the
 * leader (SIGKILL, no chance to release) hands over within a lease period, and no work is done twice.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { eventually, startTestApi, type TestApi } from "../support/api.js";
import { createOnlineCluster, deployment } from "../support/fixtures.js";
import { startKrake, type KrakeProcess } from "../support/process.js";
import { Application, Lease } from "../../src/resources/registry.js";

const LEASE_SECONDS = 2;
let api: TestApi;
const copies: KrakeProcess[] = [];

before(async () => {
  api = await startTestApi();
  await createOnlineCluster(api.client, "c1", "ns");
});
after(async () => {
  await Promise.all(copies.map((c) => c.kill("SIGKILL")));
  await api.close();
});

const start = (identity: string) =>
  startKrake(
    [
      "controller",
      "scheduler",
      "--api",
      api.url,
      "--lease-duration",
      String(LEASE_SECONDS),
      "--identity",
      identity,
    ],
    {},
    15_000,
    "Krake controllers running",
  );

async function scrape(p: KrakeProcess): Promise<string> {
  return (await fetch(`${p.url}/metrics`)).text();
}
const decisions = (text: string) =>
  [...text.matchAll(/^krake_scheduler_decisions_total\{[^}]*\} (\d+)$/gm)].reduce(
    (a, m) => a + Number(m[1]),
    0,
  );
const leads = (text: string) => /^krake_controller_leader\{controller="scheduler"\} 1$/m.test(text);

describe("leader election", () => {
  it("one copy acts; after SIGKILL of the leader the other takes over within the lease period", async () => {
    copies.push(await start("copy-a"));
    const a = copies[0];
    await eventually(async () => leads(await scrape(a)), 10_000, "copy-a to lead");
    copies.push(await start("copy-b"));
    const b = copies[1];

    await api.client
      .kind(Application)
      .create(
        {
          metadata: { name: "app1" },
          spec: { manifest: [deployment()], constraints: { cluster: {} } },
        } as any,
        "ns",
      );
    await eventually(
      async () => (await api.client.kind(Application).get("app1", "ns")).status.scheduled_to,
      10_000,
      "app1 bound",
    );
    const textB = await scrape(b);
    assert.equal(leads(textB), false, "the second copy waits");
    assert.equal(decisions(textB), 0, "the waiting copy decided nothing");
    assert.equal((await api.client.kind(Lease).get("controller-scheduler", null)).spec.holder, "copy-a");

    const killedAt = Date.now();
    await a.kill("SIGKILL");
    await eventually(async () => leads(await scrape(b)), 3 * LEASE_SECONDS * 1000, "copy-b to take over");
    const takeover = Date.now() - killedAt;
    assert.ok(takeover <= LEASE_SECONDS * 1000 + 1500, `took over in ${takeover} ms`);
    const lease = await api.client.kind(Lease).get("controller-scheduler", null);
    assert.equal(lease.spec.holder, "copy-b");
    assert.equal(lease.spec.transitions, 1);

    // The new leader schedules new work; the app already bound is not bound again.
    const before = await api.client.kind(Application).get("app1", "ns");
    await api.client
      .kind(Application)
      .create(
        {
          metadata: { name: "app2" },
          spec: { manifest: [deployment("app2")], constraints: { cluster: {} } },
        } as any,
        "ns",
      );
    await eventually(
      async () => (await api.client.kind(Application).get("app2", "ns")).status.scheduled_to,
      10_000,
      "app2 bound",
    );
    const after = await api.client.kind(Application).get("app1", "ns");
    assert.equal(after.status.scheduled, before.status.scheduled, "app1 was not scheduled a second time");
  });

  it("a copy stopped with SIGTERM releases the lease: the next one leads at once", async () => {
    const b = copies[1];
    copies.push(await start("copy-c"));
    const c = copies[2];
    const stoppedAt = Date.now();
    await b.kill("SIGTERM");
    await eventually(async () => leads(await scrape(c)), 5_000, "copy-c to lead");
    assert.ok(Date.now() - stoppedAt < LEASE_SECONDS * 1000, "faster than waiting for expiry");
    assert.equal((await api.client.kind(Lease).get("controller-scheduler", null)).spec.holder, "copy-c");
  });
});
