/**
 * Secrets never reach the logs (api.md D6). A whole control plane runs in this process with its production
 * loggers at `trace` (API with request logging, every controller), against the sandbox (IM and Kubernetes
 * simulators) and a second, strict IM that knows one user: providers with passwords and tokens, clouds with
 * OpenStack passwords, a cluster built and handed its kubeconfig, an application with hooks and a Kubernetes
 * Secret in its manifest, an influx metrics provider with a token — and failures: a wrong IM password, an
 * unreachable registered cluster, an unreachable metrics provider. Then every captured line is searched for
 * every secret string.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { resolveApiConfig } from "../../src/api/config.js";
import { createLogger, startApiServer } from "../../src/api/start.js";
import type { ApiServer } from "../../src/api/server.js";
import { KrakeClient } from "../../src/client/index.js";
import { controllerLogger } from "../../src/controller/log.js";
import { startControllers, type RunningControllers } from "../../src/controller/process.js";
import { controllerFactory, type ControllerName } from "../../src/controllers/index.js";
import { forEachSecret } from "../../src/resources/secrets.js";
import {
  Application,
  Cluster,
  GlobalCloud,
  GlobalInfrastructureProvider,
  GlobalMetric,
  GlobalMetricsProvider,
} from "../../src/resources/registry.js";
import { startImSimulator, type ImSimulator } from "../../src/sandbox/im/server.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/sandbox.js";
import { eventually } from "../support/api.js";
import { makePki } from "../support/certs.js";
import { deployment, kubeconfig } from "../support/fixtures.js";

const NS = "system:admin";
/** The walkthrough's cluster template: the sandbox builds a real (simulated) cluster from it. */
const TOSCA = fileURLToPath(new URL("../../../examples/im-cluster.yaml", import.meta.url));
const FAST = { create: 20, pending: 20, running: 20, configure: 50, add: 20, delete: 20 };
const unique = (what: string) => `${what}-${Math.random().toString(36).slice(2, 12)}`;

/** Every secret the flow hands out; more are added as the controllers create them (hook tokens, kubeconfigs). */
const secrets = {
  sandboxImPassword: unique("sandbox-im-pw"),
  strictImPassword: unique("strict-im-pw"),
  wrongImPassword: unique("wrong-im-pw"),
  imToken: unique("im-oidc-token"),
  openstackPassword: unique("os-pw"),
  kubeToken: unique("kube-token"),
  influxToken: unique("influx-token"),
  manifestSecret: unique("manifest-secret"),
} as Record<string, string>;

const lines: string[] = [];
const sink = new Writable({
  write(chunk, _encoding, done) {
    lines.push(String(chunk));
    done();
  },
});

let sb: Sandbox;
let strictIm: ImSimulator;
let api: ApiServer;
let controllers: RunningControllers;
let dataDir: string;
let client: KrakeClient;

/** A loopback port nobody listens on: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

before(async () => {
  sb = await startSandbox({ imPort: 0, delays: FAST, podStartDelayMs: 0 });
  strictIm = await startImSimulator({
    port: 0,
    users: [{ username: "alice", password: secrets.strictImPassword }],
    tokens: [{ token: secrets.imToken, subject: "alice" }],
    delays: FAST,
  });
  dataDir = await mkdtemp(join(tmpdir(), "krake-secrets-logs-"));
  const config = resolveApiConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    fsync: false,
    logLevel: "trace",
    logRequests: true,
  });
  api = await startApiServer(config, { logger: createLogger("trace", "krake-api", sink) });
  client = new KrakeClient({ url: api.url });
  const names: ControllerName[] = ["scheduler", "gc", "infrastructure", "cluster", "application"];
  controllers = await startControllers({
    client,
    log: controllerLogger("krake-controllers", "trace", sink),
    controllers: names.map((name) => ({
      name,
      create: controllerFactory(name, {
        infrastructure: { pollMinMs: 20, pollMaxMs: 100, providerTimeoutMs: 5_000 },
        cluster: { observeIntervalMs: 100 },
      }),
    })),
    leaderElection: false,
    metricsAddress: null,
  });
});

after(async () => {
  await controllers?.stop();
  await api?.close();
  await strictIm?.close();
  await sb?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const cloudBody = (name: string, provider: string, site: string) => ({
  metadata: { name, labels: { site } },
  spec: {
    type: "openstack",
    openstack: {
      url: "https://keystone.example:5000/v3",
      auth: {
        type: "password",
        password: {
          user: { username: "os-user", password: secrets.openstackPassword },
          project: { name: "p" },
        },
      },
      infrastructure_provider: { name: provider },
    },
  },
});

const toscaCluster = (name: string, site: string, labels: Record<string, string> = {}) => ({
  metadata: { name, labels },
  spec: {
    tosca: parse(readFileSync(TOSCA, "utf8")),
    constraints: { cloud: { labels: [`site is ${site}`] } },
  },
});

const cluster = (name: string) => (client.kind(Cluster) as any).get(name, NS);
const until = <T>(what: string, check: () => Promise<T>, ms = 30_000) => eventually(check, ms, what);

describe("secrets in logs", () => {
  it("a full flow with failures logs none of them, at trace level", { timeout: 180_000 }, async () => {
    const pki = await makePki();
    const tls = await pki.client("tester");
    secrets.clientKeyData = (await readFile(tls.key)).toString("base64");
    secrets.clientCertData = (await readFile(tls.cert)).toString("base64");
    // The PEM body of the key, in case something decodes it and logs it.
    secrets.clientKeyPem = (await readFile(tls.key, "utf8")).split("\n")[1];
    await rm(pki.dir, { recursive: true, force: true });

    const providers = client.kind(GlobalInfrastructureProvider) as any;
    const clouds = client.kind(GlobalCloud) as any;
    await providers.create({
      metadata: { name: "sandbox-im" },
      spec: { type: "im", im: { url: sb.imUrl, username: "operator", password: secrets.sandboxImPassword } },
    });
    await providers.create({
      metadata: { name: "strict-token" },
      spec: { type: "im", im: { url: strictIm.url, token: secrets.imToken } },
    });
    await providers.create({
      metadata: { name: "strict-wrong" },
      spec: { type: "im", im: { url: strictIm.url, username: "alice", password: secrets.wrongImPassword } },
    });
    await clouds.create(cloudBody("good", "sandbox-im", "good"));
    await clouds.create(cloudBody("token", "strict-token", "token"));
    await clouds.create(cloudBody("bad", "strict-wrong", "bad"));

    const clusters = client.kind(Cluster) as any;
    await clusters.create(toscaCluster("built", "good", { role: "apps" }), NS);
    await clusters.create(toscaCluster("via-token", "token"), NS);
    await clusters.create(toscaCluster("wrong-password", "bad"), NS);
    const kc: any = kubeconfig(`https://127.0.0.1:${await closedPort()}`);
    kc.users[0].user = {
      token: secrets.kubeToken,
      "client-certificate-data": secrets.clientCertData,
      "client-key-data": secrets.clientKeyData,
    };
    await clusters.create(
      { metadata: { name: "unreachable" }, spec: { kubeconfig: kc, constraints: { cloud: {} } } },
      NS,
    );

    const wrong = await until("the wrong IM password is reported on the cluster", async () => {
      const c = await cluster("wrong-password");
      return /credentials/.test(c.status.reason?.message ?? "") ? c : null;
    }).catch(async (err) => {
      throw new Error(`${err.message}; status: ${JSON.stringify((await cluster("wrong-password")).status)}`);
    });
    assert.ok(!JSON.stringify(wrong.status).includes(secrets.wrongImPassword));
    await until(
      "the token IM built its infrastructure",
      async () => (await cluster("via-token")).status.cluster_id,
    );
    await until("the unreachable cluster is noticed", async () => {
      const c = await cluster("unreachable");
      return (
        c.status.reason?.code === "CLUSTER_NOT_REACHABLE" || ["OFFLINE", "UNHEALTHY"].includes(c.status.state)
      );
    });
    const built = await until("the sandbox cluster is ONLINE with its kubeconfig", async () => {
      const c = await cluster("built");
      return c.status.state === "ONLINE" ? c : null;
    }).catch(async (err) => {
      throw new Error(`${err.message}; status: ${JSON.stringify((await cluster("built")).status)}`);
    });
    forEachSecret(built, Cluster.secrets!, (parent, key, path) => {
      if (typeof parent[key] === "string") secrets[`built:${path.join(".")}`] = parent[key];
    });

    const apps = client.kind(Application) as any;
    await apps.create(
      {
        metadata: { name: "hooked" },
        spec: {
          manifest: [
            deployment("hooked"),
            {
              apiVersion: "v1",
              kind: "Secret",
              metadata: { name: "creds" },
              stringData: { password: secrets.manifestSecret },
            },
          ],
          hooks: ["complete", "shutdown"],
          constraints: { cluster: { labels: ["role is apps"] } },
        },
      },
      NS,
    );
    const app = await until("the application runs with its hook tokens", async () => {
      const a = await apps.get("hooked", NS);
      return a.status.state === "RUNNING" && a.status.complete_token && a.status.shutdown_token ? a : null;
    });
    for (const field of ["complete_token", "shutdown_token", "complete_key", "shutdown_key"]) {
      if (typeof app.status[field] === "string") secrets[`app:${field}`] = app.status[field];
    }

    await (client.kind(GlobalMetricsProvider) as any).create({
      metadata: { name: "influx" },
      spec: {
        type: "influx",
        influx: {
          url: `http://127.0.0.1:${await closedPort()}`,
          token: secrets.influxToken,
          org: "o",
          bucket: "b",
        },
      },
    });
    await (client.kind(GlobalMetric) as any).create({
      metadata: { name: "load" },
      spec: { allowed_values: [], min: 0, max: 1, provider: { name: "influx", metric: "load" } },
    });
    const withMetric = await cluster("built");
    withMetric.spec.metrics = [{ name: "load", weight: 1, namespaced: false }];
    await clusters.update(withMetric);
    // The scheduler queries a cluster's metrics when it ranks it for an application.
    await apps.create(
      {
        metadata: { name: "probe" },
        spec: { manifest: [deployment("probe")], constraints: { cluster: { labels: ["role is apps"] } } },
      },
      NS,
    );
    await until("the unreachable metrics provider is reported", async () => {
      const c = await cluster("built");
      return Object.keys(c.status.metrics_reasons ?? {}).length > 0;
    });

    await apps.delete("probe", NS);
    await apps.delete("hooked", NS);
    await until(
      "the applications are gone (shutdown hook called)",
      async () => (await apps.list(NS)).items.length === 0,
      60_000,
    ).catch(async (err) => {
      throw new Error(
        `${err.message}: ${JSON.stringify((await apps.list(NS)).items.map((a: any) => [a.metadata.name, a.status.state, a.status.reason]))}`,
      );
    });

    await controllers.stop();
    const text = lines.join("");
    // The capture saw the flow, at trace level, failures included: the assertions below look at something.
    assert.ok(lines.length > 100, `only ${lines.length} log lines`);
    assert.match(text, /"level":40/, "warnings captured");
    assert.match(text, /Invalid InfrastructureManager credentials/, "the IM failure is logged");
    assert.match(text, /"controller":"application"/);
    assert.match(text, /"req":/, "API request lines captured");
    for (const [what, value] of Object.entries(secrets)) {
      assert.ok(value.length >= 6, what);
      assert.ok(
        !text.includes(value),
        `${what} appears in the logs:\n${lines.filter((l) => l.includes(value)).join("")}`,
      );
    }
  });
});
