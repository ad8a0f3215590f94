/**
 * A controller as its own process, authenticating with a TLS client certificate (CN = system:scheduler)
 * against an API that accepts client certificates, runs RBAC and lets nobody in anonymously: it takes its
 * leader lease and places an application under its bootstrap role, and the API refuses it what the role
 * does not grant.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { eventually } from "../support/api.js";
import { makePki, type Pki } from "../support/certs.js";
import { bodies, createOnlineCluster, deployment } from "../support/fixtures.js";
import { startKrake, type KrakeProcess } from "../support/process.js";
import { startRbacApi, type RbacApi } from "../support/rbac.js";
import { KrakeApiError, KrakeClient } from "../../src/client/index.js";
import { Application, Cloud, Cluster, Lease } from "../../src/resources/registry.js";

let pki: Pki;
let api: RbacApi;
let scheduler: KrakeProcess | null = null;
let cert: { cert: string; key: string };

before(async () => {
  pki = await makePki();
  api = await startRbacApi({
    baseRoles: true,
    ca: readFileSync(pki.caCert),
    api: { tlsCert: pki.serverCert, tlsKey: pki.serverKey, tlsClientCa: pki.caCert, allowAnonymous: false },
  });
  cert = await pki.client("system:scheduler");
  await createOnlineCluster(api.admin, "c1", "ns");
});

after(async () => {
  await scheduler?.kill("SIGTERM");
  await api?.close();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

describe("krake controller with a client certificate, under RBAC", () => {
  it("the scheduler acts as system:scheduler: takes its lease, binds an app, and nothing is refused", async () => {
    scheduler = await startKrake(
      [
        "controller",
        "scheduler",
        "--api",
        api.url,
        "--tls-ca",
        pki.caCert,
        "--tls-cert",
        cert.cert,
        "--tls-key",
        cert.key,
        "--identity",
        "tls-copy",
        "--log-level",
        "info",
      ],
      {},
      15_000,
      "Krake controllers running",
    );
    const lease = await eventually(
      async () =>
        (
          await api.admin
            .kind(Lease)
            .get("controller-scheduler")
            .catch(() => null)
        )?.spec.holder === "tls-copy",
      10_000,
      "the scheduler's lease",
    );
    assert.ok(lease);
    await api.admin
      .kind(Application)
      .create(
        {
          metadata: { name: "app1" },
          spec: { manifest: [deployment()], constraints: { cluster: {} } },
        } as any,
        "ns",
      );
    const bound = await eventually(
      async () => (await api.admin.kind(Application).get("app1", "ns")).status.scheduled_to,
      10_000,
      "app1 bound by the scheduler",
    );
    assert.equal(bound.name, "c1");
    assert.doesNotMatch(scheduler.output(), /403: Forbidden|401: /, "the scheduler was never refused");
  });

  it("the same certificate may not do what the scheduler's role does not grant", async () => {
    const asScheduler = new KrakeClient({
      url: api.url,
      tls: { ca: readFileSync(pki.caCert), cert: readFileSync(cert.cert), key: readFileSync(cert.key) },
    });
    assert.equal((await asScheduler.me()).user, "system:scheduler");
    await api.admin.kind(Cloud).create(bodies.Cloud("os-cloud") as any, "ns");
    const refused = async (call: () => Promise<unknown>) => {
      const err = await call().then(
        () => null,
        (e: unknown) => e,
      );
      return err instanceof KrakeApiError ? err.status : "allowed";
    };
    assert.equal(
      await refused(() => asScheduler.kind(Cloud).delete("os-cloud", "ns")),
      403,
      "delete a Cloud",
    );
    assert.equal(
      await refused(() => asScheduler.kind(Application).delete("app1", "ns")),
      403,
      "delete an app",
    );
    const noCert = new KrakeClient({ url: api.url, tls: { ca: readFileSync(pki.caCert) } });
    assert.equal(
      await refused(() => noCert.kind(Cluster).list("ns")),
      401,
      "no certificate, no anonymous access",
    );
  });
});
