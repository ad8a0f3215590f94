/**
 * The complete hook against an API that demands client certificates, under RBAC: the application controller
 * signs a client certificate for the workload (CN system:complete-hook), Kubernetes hands it to the pods
 * through a Secret volume, and with it — and only with it — the workload's PUT {token} completes the app.
 * The cluster is the Kubernetes simulator; the API and controllers are real.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:https";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import pino from "pino";
import { startControllers, type RunningControllers } from "../../src/controller/process.js";
import { controllerFactory } from "../../src/controllers/index.js";
import { loadHookTls } from "../../src/controllers/application/hook-tls.js";
import { Application, Cluster, Role, RoleBinding } from "../../src/resources/registry.js";
import { startKubeSimulator, type KubeSimulator } from "../../src/sandbox/kube/simulator.js";
import { ADMIN_RBAC, eventually, putRbac, startTestApi, type TestApi } from "../support/api.js";
import { makePki, type Pki } from "../support/certs.js";
import { echoDemo } from "../support/fixtures.js";

const NS = "system:admin";
let pki: Pki;
let sim: KubeSimulator;
/** Authenticates every request as system:admin (plain HTTP): the controllers and the test's setup. */
let admin: TestApi;
/** The same store behind TLS with client certificates: what workloads reach. */
let secure: TestApi;
let controllers: RunningControllers;

before(async () => {
  pki = await makePki();
  sim = await startKubeSimulator({ clusterDefaults: { nodes: 1, nodeCpu: "4", nodeMemory: "8Gi" } });
  admin = await startTestApi({ authorization: "RBAC", staticUser: "system:admin" });
  await putRbac(admin.server.store, ADMIN_RBAC);
  await eventually(
    async () => (await admin.client.kind(Role).list()).items.length === 1,
    5_000,
    "the admin role",
  );
  secure = await startTestApi(
    {
      tlsCert: pki.serverCert,
      tlsKey: pki.serverKey,
      tlsClientCa: pki.caCert,
      authorization: "RBAC",
      allowAnonymous: false,
    },
    admin.server.store,
  );
  // Krake's complete-hook role: the hook subresource and nothing else.
  await admin.client.kind(Role).create({
    metadata: { name: "role:system:complete-hook" },
    rules: [{ api: "kubernetes", resources: ["applications/complete"], namespaces: [""], verbs: ["update"] }],
  } as any);
  await admin.client.kind(RoleBinding).create({
    metadata: { name: "rolebinding:system:complete-hook" },
    users: ["system:complete-hook"],
    roles: ["role:system:complete-hook"],
  } as any);
  // The test CA signs hook certificates too, so the API trusts them.
  const hookTls = loadHookTls({ cert: pki.caCert, key: join(pki.dir, "ca.key"), caBundle: pki.caCert }, (f) =>
    readFileSync(f, "utf8"),
  );
  controllers = await startControllers({
    client: admin.client,
    log: pino({ level: "silent" }),
    controllers: ["scheduler", "cluster", "application"].map((name) => ({
      name,
      create: controllerFactory(name as any, {
        cluster: { observeIntervalMs: 200 },
        application: { observeIntervalMs: 200, hookEndpoint: secure.url, hookTls },
      }),
    })),
    leaderElection: false,
    metricsAddress: null,
  });
});
after(async () => {
  await controllers?.stop();
  await secure?.close();
  await admin?.close();
  await sim?.close();
  if (pki) await rm(pki.dir, { recursive: true, force: true });
});

/** What a workload does with the mounted files: PUT {token} to the URL over TLS, maybe with a certificate. */
function put(
  url: string,
  body: unknown,
  tls: { ca: string; cert?: string; key?: string },
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: "PUT", ...tls, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.on("data", (d) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : null }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("complete hook with client certificates", () => {
  it("the workload gets a certificate for system:complete-hook; with it and the token the app completes", async () => {
    const cluster = sim.addCluster("hooks");
    await admin.client
      .kind(Cluster)
      .create(
        {
          metadata: { name: "hooks" },
          spec: { kubeconfig: cluster.kubeconfig, constraints: { cloud: {} } },
        } as any,
        NS,
      );
    await admin.client
      .kind(Application)
      .create(
        { metadata: { name: "batch" }, spec: { manifest: echoDemo("batch"), hooks: ["complete"], constraints: { cluster: {} } } } as any,
        NS,
      );
    const running = await eventually(
      async () => {
        const app: any = await admin.client.kind(Application).get("batch", NS);
        return app.status.state === "RUNNING" ? app : null;
      },
      20_000,
      "batch RUNNING",
    );
    assert.match(running.status.complete_cert, /BEGIN CERTIFICATE/);

    // What Kubernetes mounts at /etc/krake_complete_cert, and the URL and token from the env Secret.
    const deployment = cluster.get("apps/v1", "Deployment", "default", "batch");
    const pod = deployment.spec.template.spec;
    assert.deepEqual(pod.containers[0].volumeMounts, [
      { name: "krake-complete-cert", mountPath: "/etc/krake_complete_cert", readOnly: true },
    ]);
    const certSecret = cluster.get("v1", "Secret", "default", pod.volumes[0].secret.secretName);
    const file = (k: string) => Buffer.from(certSecret.data[k], "base64").toString();
    const env = cluster.get("v1", "Secret", "default", "batch-krake-complete-secret-token");
    const url = Buffer.from(env.data.krake_complete_url, "base64").toString();
    const token = Buffer.from(env.data.krake_complete_token, "base64").toString();
    assert.ok(url.startsWith(secure.url), url);
    const withCert = { ca: file("ca-bundle.pem"), cert: file("cert.pem"), key: file("key.pem") };

    assert.equal((await put(url, { token }, { ca: withCert.ca })).status, 401, "no certificate, no entry");
    assert.equal((await put(url, { token: "wrong" }, withCert)).status, 401, "the token still counts");
    const other = `${url.slice(0, url.lastIndexOf("/applications/"))}/applications/batch/shutdown`;
    assert.equal(
      (await put(other, { token }, withCert)).status,
      403,
      "the certificate opens only the complete hook",
    );
    const done = await put(url, { token }, withCert);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    await eventually(
      async () => {
        try {
          await admin.client.kind(Application).get("batch", NS);
          return false;
        } catch (err: any) {
          return err.status === 404;
        }
      },
      20_000,
      "batch deleted",
    );
  });
});
