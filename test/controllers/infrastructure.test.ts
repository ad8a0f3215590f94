/**
 * The infrastructure controller with the real IM client against the IM simulator, through a real API, with
 * the scheduler and the garbage collector (controllers.md §4; issue: infrastructure controller).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { parse } from "yaml";
import { eventually } from "../support/api.js";
import { rokSandbox } from "../support/rok.js";
import { startControlPlane, type ControlPlane } from "../support/controllers.js";
import { startImSimulator, type ImSimulator } from "../../src/sandbox/im/server.js";
import { startControllers } from "../../src/controller/process.js";
import { MetricsRegistry } from "../../src/controller/metrics.js";
import { InfrastructureController } from "../../src/controllers/infrastructure/infrastructure.js";
import { ImProvider } from "../../src/providers/im/client.js";
import type { InfrastructureProvider } from "../../src/providers/provider.js";
import { Cluster } from "../../src/resources/registry.js";
import { seedImCloud } from "../support/fixtures.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));
const tosca = (file: string) => parse(readFileSync(EXAMPLES + file, "utf8"));
const NS = "system:admin";

let im: ImSimulator;
let cp: ControlPlane;
let rok: Awaited<ReturnType<typeof rokSandbox>>;
before(async () => {
  im = await startImSimulator({
    delays: { create: 20, pending: 20, running: 20, configure: 20, delete: 20 },
  });
  cp = await startControlPlane(["scheduler", "gc", "infrastructure"], {
    infrastructure: { pollMinMs: 50, pollMaxMs: 200, providerTimeoutMs: 1000 },
  });
  await seedImCloud(cp.api.client, im.url);
  rok = await rokSandbox(cp.api.url);
});
after(async () => {
  await cp.close();
  await im.close();
  await rok.cleanup();
});

const k = <D>(def: D) => cp.api.client.kind(def as any) as any;
const get = (name: string) => k(Cluster).get(name, NS);
const state = async (name: string) => (await get(name)).status.state;
const waitState = (name: string, wanted: string, ms = 15_000) =>
  eventually(async () => ((await state(name)) === wanted ? get(name) : null), ms, `${name} ${wanted}`);
const create = (name: string, file = "im-cluster.yaml") =>
  k(Cluster).create({ metadata: { name }, spec: { tosca: tosca(file), constraints: { cloud: {} } } }, NS);

describe("infrastructure controller", () => {
  it("creates the infrastructure through IM and stores the kubeconfig: PENDING → CREATING → CONNECTING", async () => {
    await create("my-cluster");
    const c = await waitState("my-cluster", "CONNECTING");
    assert.ok(c.status.cluster_id);
    assert.deepEqual(c.status.running_on, c.status.scheduled_to);
    assert.deepEqual(c.metadata.finalizers, ["infrastructure_resources_deletion"]);
    const kc = await eventually(
      async () => {
        const cl = await get("my-cluster");
        return Object.keys(cl.spec.kubeconfig).length ? cl.spec.kubeconfig : null;
      },
      10_000,
      "the kubeconfig",
    );
    assert.equal(kc.clusters[0].cluster.server, "https://127.0.0.1:6443");
    const inf = im.infrastructure(c.status.cluster_id)!;
    assert.equal(inf.vms.length, 2, "front + 1 worker (wn_num 1)");
    assert.equal(im.stats().create, 1);
    const createCall = im.requests.find((r) => r.op === "create")!;
    assert.equal(createCall.path, "/infrastructures?async=true");
    assert.equal(createCall.headers["content-type"], "text/yaml");
    assert.equal(createCall.headers.accept, "application/json");
    assert.ok(!createCall.headers.authorization.includes("pw"), "the simulator log masks secrets");
  });

  it("scales by re-posting the TOSCA: wn_num 2 adds a VM; removal_list removes exactly VM 2", async () => {
    const c = await get("my-cluster");
    c.spec.tosca = tosca("im-cluster-scale-up.yaml");
    await k(Cluster).update(c);
    await eventually(async () => im.infrastructure(c.status.cluster_id)!.vms.length === 3, 15_000, "3 VMs");
    await waitState("my-cluster", "CONNECTING");
    const up = await get("my-cluster");
    up.spec.tosca = tosca("im-cluster-scale-down.yaml");
    await k(Cluster).update(up);
    await eventually(async () => im.infrastructure(c.status.cluster_id)!.vms.length === 2, 15_000, "2 VMs");
    assert.deepEqual(im.infrastructure(c.status.cluster_id)!.removedVmIds, [2]);
    assert.equal(im.stats().create, 1, "scaling never creates");
  });

  it("scales with `rok kube cluster update -f`; a later scale-down without removal_list removes the oldest worker", async () => {
    const { status } = await get("my-cluster");
    const vms = () => im.infrastructure(status.cluster_id)!.vms.map((v) => v.id);
    assert.deepEqual(vms(), [0, 1]);
    // IM keeps the earlier removal_list [2] in its merged TOSCA; VM 2 is gone by now.
    const up = await rok.rok([
      "kube",
      "cluster",
      "update",
      "-f",
      EXAMPLES + "im-cluster-scale-up.yaml",
      "my-cluster",
    ]);
    assert.equal(up.code, 0, up.stderr);
    await eventually(() => vms().length === 3, 15_000, "3 VMs");
    await waitState("my-cluster", "CONNECTING");
    const down = await rok.rok([
      "kube",
      "cluster",
      "update",
      "-f",
      EXAMPLES + "im-cluster.yaml",
      "my-cluster",
    ]);
    assert.equal(down.code, 0, down.stderr);
    await eventually(() => vms().length === 2, 15_000, "2 VMs");
    assert.deepEqual(vms(), [0, 3], "the oldest worker (VM 1) removed, as IM does without a list");
    const c = await waitState("my-cluster", "CONNECTING");
    assert.equal(c.status.reason, null);
  });

  it("a scale IM refuses makes the cluster FAILED once, with IM's message, until the TOSCA changes", async () => {
    const { status } = await get("my-cluster");
    const updates = () =>
      im.requests.filter((r) => r.op === "add" && r.path.startsWith(`/infrastructures/${status.cluster_id}`))
        .length;
    const before = updates();
    const bad = tosca("im-cluster.yaml");
    bad.topology_template.node_templates.wn.capabilities.scalable.properties.removal_list = ["not-a-vm"];
    bad.topology_template.inputs.wn_num.default = 0;
    const c = await get("my-cluster");
    c.spec.tosca = bad;
    await k(Cluster).update(c);
    const failed = await waitState("my-cluster", "FAILED");
    assert.equal(failed.status.reason.code, "RECONCILE_FAILED");
    assert.match(failed.status.reason.message, /answered 400: .*not-a-vm/);
    // Its own status writes do not make the controller send the refused template again.
    const poked = await get("my-cluster");
    poked.metadata.labels = { poke: "1" };
    await k(Cluster).update(poked);
    await eventually(async () => (await get("my-cluster")).metadata.labels.poke === "1", 5_000, "the label");
    assert.equal(updates() - before, 1, "one refused update call, not a loop");
    const fixed = await get("my-cluster");
    fixed.spec.tosca = tosca("im-cluster-scale-up.yaml");
    await k(Cluster).update(fixed);
    await eventually(() => im.infrastructure(status.cluster_id)!.vms.length === 3, 15_000, "3 VMs");
    const back = await waitState("my-cluster", "CONNECTING");
    assert.equal(back.status.reason, null);
  });

  it("deleting the cluster deletes the infrastructure, then the cluster", async () => {
    const { status } = await get("my-cluster");
    await k(Cluster).delete("my-cluster", NS);
    await eventually(
      async () => {
        try {
          await get("my-cluster");
          return false;
        } catch (err) {
          return (err as { status?: number }).status === 404;
        }
      },
      15_000,
      "the cluster gone",
    );
    assert.notEqual(im.infrastructure(status.cluster_id)?.status, "active");
  });

  it("an infrastructure IM reports failed makes the cluster FAILED with IM's message", async () => {
    im.failNextLaunch("No VMI obtained from Sites to system 'wn': Connection refused");
    await create("doomed");
    const c = await waitState("doomed", "FAILED");
    assert.equal(c.status.reason.code, "RECONCILE_FAILED");
    assert.match(c.status.reason.message, /Connection refused/);
  });

  it("an unconfigured VM: FAILING_RECONCILIATION, a reconfigure, then CONNECTING (Krake could not recover)", async () => {
    // Configuration takes long enough that the fault is injected while it runs.
    im.setDelays({ configure: 1500 });
    await create("flaky");
    const id = (await eventually(
      async () => (await get("flaky")).status.cluster_id,
      10_000,
      "an id",
    )) as string;
    await eventually(() => (im.infrastructure(id)?.vms.length ?? 0) >= 2, 10_000, "VMs");
    im.makeUnconfigured(id, 1, { message: "ansible failed on wn" });
    im.setDelays({ configure: 20 });
    await waitState("flaky", "CONNECTING", 20_000);
    assert.ok((im.stats().reconfigure ?? 0) >= 1, "reconfigured");
  });
});

describe("IM trouble", () => {
  it("IM unreachable while a cluster is being built: retried until IM answers again", async () => {
    im.setDelays({ configure: 20 });
    await im.pause("refuse");
    await create("patient");
    // The scheduler binds it; the create call fails while IM is down and is retried with backoff.
    const errors = () =>
      Number(
        /krake_controller_reconcile_errors_total\{controller="infrastructure",queue="clusters"\} (\d+)/.exec(
          cp.metrics.render(),
        )?.[1] ?? 0,
      );
    const before = errors();
    await eventually(async () => (await get("patient")).status.scheduled_to, 10_000, "scheduled");
    await eventually(() => errors() > before, 10_000, "a failed attempt while IM is down");
    await im.resume();
    await waitState("patient", "CONNECTING", 20_000);
    assert.equal(im.infrastructures().filter((i) => i.status === "active").length >= 1, true);
  });

  it("500s and a hanging IM while polling: retried with backoff until the cluster is CONNECTING", async () => {
    im.setDelays({ configure: 300 });
    await create("bumpy");
    const id = (await eventually(
      async () => (await get("bumpy")).status.cluster_id,
      10_000,
      "an id",
    )) as string;
    im.failNext("state", { status: 500, message: "Internal Server Error", times: 3 });
    // Longer than the controller's provider timeout (1 s): the call is abandoned and retried.
    im.failNext("state", { hang: true, times: 1 });
    const c = await waitState("bumpy", "CONNECTING", 20_000);
    assert.equal(c.status.cluster_id, id);
    const states = im.requests.filter((r) => r.op === "state" && r.path.includes(id));
    assert.ok(states.filter((r) => r.status === 500).length === 3, "three 500s were answered");
    im.setDelays({ configure: 20 });
  });

  it("an unknown VM state is shown as the reason and cleared when IM can read it again", async () => {
    im.setDelays({ configure: 60_000 });
    await create("foggy");
    const id = (await eventually(
      async () => (await get("foggy")).status.cluster_id,
      10_000,
      "an id",
    )) as string;
    await eventually(() => (im.infrastructure(id)?.vms.length ?? 0) >= 2, 10_000, "VMs");
    im.setVmState(id, 1, "unknown");
    const foggy = await eventually(
      async () => ((await get("foggy")).status.reason?.code === "RETRIEVE_FAILED" ? get("foggy") : null),
      10_000,
      "the reason",
    );
    assert.match(foggy.status.reason.message, /VM 1/);
    assert.equal(foggy.status.state, "CREATING");
    im.setVmState(id, 1, "configured");
    im.setVmState(id, 0, "configured");
    const c = await waitState("foggy", "CONNECTING");
    assert.equal(c.status.reason, null);
    im.setDelays({ configure: 20 });
  });

  it("deleting a cluster while IM still builds it removes the infrastructure and then the cluster", async () => {
    im.setDelays({ configure: 2000 });
    await create("short-lived");
    const id = (await eventually(
      async () => (await get("short-lived")).status.cluster_id,
      10_000,
      "an id",
    )) as string;
    await k(Cluster).delete("short-lived", NS);
    await eventually(
      async () => {
        try {
          await get("short-lived");
          return false;
        } catch (err) {
          return (err as { status?: number }).status === 404;
        }
      },
      20_000,
      "the cluster gone",
    );
    assert.notEqual(im.infrastructure(id)?.status, "active");
    im.setDelays({ configure: 20 });
  });
});

describe("crash safety", () => {
  it("a controller killed right after the create call does not create a second infrastructure", async () => {
    // Its own API with only the scheduler: the infrastructure controllers under test are the only ones.
    const plane = await startControlPlane(["scheduler"]);
    const kk = <D>(def: D) => plane.api.client.kind(def as any) as any;
    await seedImCloud(plane.api.client, im.url);
    // A provider whose process dies right after IM accepted the create: the id is never stored.
    let crashed = false;
    const crashing = (provider: InfrastructureProvider): InfrastructureProvider => ({
      ...bindAll(provider),
      async create(template, marker, opts) {
        await provider.create(template, marker, opts);
        crashed = true;
        // The process "dies" here: it never gets to store the id, and does nothing more until stopped.
        await new Promise((_, reject) =>
          opts?.signal?.addEventListener("abort", () => reject(new Error("controller killed")), {
            once: true,
          }),
        );
        throw new Error("unreachable");
      },
    });
    const start = (crash: boolean) =>
      startControllers({
        client: plane.api.client,
        log: pino({ level: "silent" }),
        controllers: [
          {
            name: "infrastructure",
            create: (ctx) =>
              new InfrastructureController(ctx, {
                pollMinMs: 50,
                pollMaxMs: 200,
                providerFor: (p, c) => {
                  const real = new ImProvider({ url: p.spec.im.url, authorization: realAuthorization(p, c) });
                  return crash ? crashing(real) : real;
                },
              }),
          },
        ],
        leaderElection: false,
        metricsAddress: null,
        metrics: new MetricsRegistry(),
      });
    const creates = im.stats().create ?? 0;
    try {
      const first = await start(true);
      await kk(Cluster).create(
        {
          metadata: { name: "survivor" },
          spec: { tosca: tosca("im-cluster.yaml"), constraints: { cloud: {} } },
        },
        NS,
      );
      await eventually(() => crashed, 10_000, "the crash");
      await first.stop();
      const stuck = await kk(Cluster).get("survivor", NS);
      assert.equal(stuck.status.state, "CREATING");
      assert.equal(stuck.status.cluster_id, null, "the id was never stored");
      const second = await start(false);
      try {
        await eventually(
          async () => (await kk(Cluster).get("survivor", NS)).status.state === "CONNECTING",
          15_000,
          "CONNECTING",
        );
        assert.equal(
          (im.stats().create ?? 0) - creates,
          1,
          "exactly one create call in all: the second controller adopted it",
        );
      } finally {
        await second.stop();
      }
    } finally {
      await plane.close();
    }
  });
});

function bindAll(p: InfrastructureProvider): InfrastructureProvider {
  return {
    create: p.create.bind(p),
    findByMarker: p.findByMarker.bind(p),
    status: p.status.bind(p),
    kubeconfig: p.kubeconfig.bind(p),
    update: p.update.bind(p),
    reconfigure: p.reconfigure.bind(p),
    delete: p.delete.bind(p),
  };
}

function realAuthorization(p: any, cloud: any): string {
  return `id = im; type = InfrastructureManager; username = ${p.spec.im.username}; password = ${p.spec.im.password}\\nid = ${cloud.metadata.name}; type = OpenStack; host = ${cloud.spec.openstack.url}; username = alice; password = pw; tenant = demo; auth_version = 3.x_password`;
}
