/**
 * The autoscaler with the infrastructure and cluster controllers against the sandbox (IM simulator +
 * Kubernetes simulator: a node per contextualized VM, named by its host name, sized by wn_cpus/wn_mem), through
 * a real API (docs/autoscaling.md, goals 2 and 3). The infrastructure controller and the autoscaler run as
 * separate instances, so a test can stop one in the middle of a scale, as a crash would, and start a new one.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { KrakeApiError } from "../../src/client/index.js";
import { aborted } from "../../src/controller/controller.js";
import { MetricsRegistry } from "../../src/controller/metrics.js";
import type { RunningControllers } from "../../src/controller/process.js";
import type { ControllerSettings } from "../../src/controllers/index.js";
import { imProviderFor } from "../../src/controllers/infrastructure/providers.js";
import { KubeClient } from "../../src/kube/client.js";
import type { InfrastructureProvider } from "../../src/providers/provider.js";
import { Cluster, GlobalMetric, GlobalMetricsProvider } from "../../src/resources/registry.js";
import { ClusterLink } from "../../src/sandbox/link.js";
import { startSandbox, type Sandbox } from "../../src/sandbox/sandbox.js";
import { eventually } from "../support/api.js";
import { startControlPlane, startController, type ControlPlane } from "../support/controllers.js";
import { echoDemo, seedImCloud } from "../support/fixtures.js";

const EXAMPLES = fileURLToPath(new URL("../../../examples/", import.meta.url));
const NS = "system:admin";
const INFRA: ControllerSettings["infrastructure"] = {
  pollMinMs: 50,
  pollMaxMs: 200,
  providerTimeoutMs: 5_000,
};
const AUTOSCALER: ControllerSettings["autoscaler"] = { intervalMs: 200, drainTimeoutMs: 5_000 };

let sb: Sandbox;
let cp: ControlPlane;
/** The infrastructure controller and the autoscaler now running (tests replace them). */
let infra: RunningControllers | null = null;
let autoscaler: RunningControllers | null = null;
const metrics = new MetricsRegistry();

before(async () => {
  sb = await startSandbox({
    imPort: 0,
    delays: { create: 20, pending: 20, running: 20, configure: 50, add: 20, delete: 20 },
    podStartDelayMs: 0,
  });
  cp = await startControlPlane(["scheduler", "gc", "cluster"], { cluster: { observeIntervalMs: 100 } });
  await seedImCloud(cp.api.client, sb.imUrl);
  infra = await startController(cp.api, "infrastructure", { infrastructure: INFRA });
  autoscaler = await startController(cp.api, "autoscaler", { autoscaler: AUTOSCALER }, metrics);
});
after(async () => {
  await autoscaler?.stop();
  await infra?.stop();
  await cp.close();
  await sb.close();
});

const clusters = () => cp.api.client.kind(Cluster) as any;
const get = (name: string) => clusters().get(name, NS);
const until = (name: string, what: string, check: (c: any) => boolean, ms = 30_000) =>
  eventually(
    async () => {
      const c = await get(name);
      return check(c) ? c : null;
    },
    ms,
    `${name}: ${what}`,
  );
const events = (c: any, reason: string) => (c.status.events ?? []).filter((e: any) => e.reason === reason);

/** The template of examples/im-cluster.yaml with `workers` workers of 2 CPUs and 4 GB. */
function tosca(workers: number) {
  const doc = parse(readFileSync(EXAMPLES + "im-cluster.yaml", "utf8"));
  doc.topology_template.inputs.wn_num.default = workers;
  return doc;
}

const policy = (
  workers: { min: number; max: number },
  over: { scale_up?: object; scale_down?: object } = {},
) => ({
  workers: { input: "wn_num", system: "wn", ...workers },
  scale_up: { cooldown: 0, max_concurrent: 2, ...over.scale_up },
  scale_down: { enabled: false, idle_time: 1, cooldown: 0, ...over.scale_down },
});

async function createCluster(name: string, workers: number, autoscaling: object) {
  await clusters().create(
    { metadata: { name }, spec: { tosca: tosca(workers), constraints: { cloud: {} }, autoscaling } },
    NS,
  );
  return until(
    name,
    "ONLINE, taken over, capacity observed",
    (c) =>
      c.status.state === "ONLINE" &&
      c.status.autoscaling?.desired === workers &&
      c.status.capacity?.nodes.filter((n: any) => n.worker && n.ready).length === workers,
  );
}

/** GET, change, PUT; again on 409 (the controllers write the status meanwhile). */
async function updateSpec(name: string, change: (spec: any) => void) {
  for (;;) {
    const c = await get(name);
    change(c.spec);
    try {
      return await clusters().update(c);
    } catch (err) {
      if (!(err instanceof KrakeApiError && err.status === 409)) throw err;
    }
  }
}

const kubeOf = (c: any) => KubeClient.fromKubeconfig(c.spec.kubeconfig);
const infrastructure = (c: any) => sb.im.infrastructure(c.status.cluster_id)!;
const workerVms = (c: any) => infrastructure(c).vms.filter((vm) => vm.system === "wn");

async function deploy(kube: KubeClient, name: string, replicas: number, cpu: string) {
  await kube.apply(echoDemo(name, { replicas, cpu })[0] as any);
}

async function podsOf(kube: KubeClient, app: string): Promise<any[]> {
  const pods = await kube.list<any>("v1", "Pod", "default");
  return pods.filter((p) => p.metadata.labels?.app === app && !p.metadata.deletionTimestamp);
}

const running = (pods: any[]) => pods.filter((p) => p.spec.nodeName && p.status?.phase === "Running");

/** An autoscaler that stops at `intent` for `cluster`, as if it crashed right after writing it. */
function crashingAutoscaler(cluster: string, intent: string) {
  let reached!: () => void;
  const at = new Promise<void>((r) => (reached = r));
  const settings: ControllerSettings = {
    autoscaler: {
      ...AUTOSCALER,
      afterIntent: async (key, what, signal) => {
        if (key !== `${NS}/${cluster}` || what !== intent) return;
        reached();
        await aborted(signal);
        throw new Error("crashed");
      },
    },
  };
  return { settings, at };
}

describe("autoscaler: scale up", () => {
  it("pending pods raise the worker count within max_concurrent and the cooldown, never above max; the pods get scheduled", async () => {
    const c0 = await createCluster(
      "grow",
      1,
      policy({ min: 1, max: 3 }, { scale_up: { cooldown: 2, max_concurrent: 1 } }),
    );
    assert.equal(events(c0, "AutoscalingEnabled").length, 1);
    const kube = kubeOf(c0);
    // One 1.5-CPU pod per 2-CPU worker: 4 replicas want 4 workers, max is 3.
    await deploy(kube, "big", 4, "1500m");
    const c = await until(
      "grow",
      "3 workers, at max",
      (c) =>
        c.status.autoscaling.desired === 3 &&
        /^at max workers \(3\)/.test(c.status.autoscaling.message ?? ""),
    );
    const ups = events(c, "ScaleUp");
    assert.equal(ups.length, 2, JSON.stringify(ups));
    assert.match(
      ups[0].message,
      /^scaling up from 1 to 2 workers: 3 pods need 4\.5 CPU and 48Mi \(3 wanted; max_concurrent allows 1\)$/,
    );
    assert.match(
      ups[1].message,
      /^scaling up from 2 to 3 workers: 2 pods need 3 CPU and 32Mi \(2 wanted; max allows 1\)$/,
    );
    assert.ok(
      Date.parse(ups[1].time) - Date.parse(ups[0].time) >= 2_000,
      `the cooldown separates the scale-ups: ${ups[0].time}, ${ups[1].time}`,
    );
    assert.equal(c.status.autoscaling.last_scale_up, ups[1].time);

    // The cluster grew through IM, and the pods that fit are running, one per worker.
    await until(
      "grow",
      "ONLINE with 3 ready workers",
      (c) =>
        c.status.state === "ONLINE" &&
        c.status.capacity.nodes.filter((n: any) => n.worker && n.ready).length === 3,
    );
    assert.equal(workerVms(c).length, 3);
    assert.equal(infrastructure(c).calls.add, 2, "one IM update per scale-up");
    const pods = await eventually(
      async () => {
        const p = await podsOf(kube, "big");
        return running(p).length === 3 ? p : null;
      },
      10_000,
      "3 big pods running",
    );
    assert.equal(new Set(running(pods).map((p) => p.spec.nodeName)).size, 3);
    assert.deepEqual(
      running(pods)
        .map((p) => p.spec.nodeName)
        .sort(),
      workerVms(c)
        .map((vm) => vm.hostname)
        .sort(),
    );
    assert.equal(pods.length - running(pods).length, 1, "one pod still waits: max reached");
    const text = metrics.render();
    assert.match(text, /krake_autoscaler_scale_total\{cluster="system:admin\/grow",direction="up"\} 2/);
    assert.match(text, /krake_autoscaler_desired_workers\{cluster="system:admin\/grow"\} 3/);
  });
});

describe("autoscaler: scale down", () => {
  it("idle nodes are cordoned, drained and removed by their VM id, one at a time, never below min", async () => {
    const start = await get("grow");
    const kube = kubeOf(start);
    const vmOf = new Map(workerVms(start).map((vm) => [vm.hostname, String(vm.id)]));
    // One big pod keeps its node busy; two small ones make the other nodes idle but not empty.
    await deploy(kube, "big", 1, "1500m");
    await deploy(kube, "small", 2, "100m");
    await eventually(
      async () =>
        running(await podsOf(kube, "small")).length === 2 && (await podsOf(kube, "big")).length === 1,
      10_000,
      "pods settled",
    );
    const busy = running(await podsOf(kube, "big"))[0].spec.nodeName;
    await updateSpec(
      "grow",
      (spec) => (spec.autoscaling.scale_down = { enabled: true, idle_time: 1, cooldown: 1 }),
    );

    const c = await until(
      "grow",
      "down to 1 worker",
      (c) =>
        c.status.autoscaling.desired === 1 &&
        c.status.autoscaling.removing.length === 0 &&
        workerVms(c).length === 1,
    );
    const kept = workerVms(c)[0];
    assert.equal(kept.hostname, busy, "the busy node stays");
    const requested = events(c, "ScaleDownRequested");
    assert.equal(requested.length, 2);
    const removedNodes: string[][] = requested.map((e: any) =>
      /removing node (\S+) \(VM (\d+)\)/.exec(e.message)!.slice(1),
    );
    for (const [node, vm] of removedNodes)
      assert.equal(vm, vmOf.get(node), `${node} is VM ${vmOf.get(node)}`);
    assert.deepEqual(
      infrastructure(c).removedVmIds.map(String).sort(),
      removedNodes.map(([, vm]) => vm).sort(),
      "IM removed exactly the VMs of the idle nodes",
    );
    assert.equal(events(c, "ScaleDownDone").length, 2);
    assert.ok(c.status.autoscaling.last_scale_down);
    // The small pods were evicted and recreated on the node that stays.
    const small = await eventually(
      async () => {
        const p = await podsOf(kube, "small");
        return running(p).length === 2 && p.every((x) => x.spec.nodeName === busy) ? p : null;
      },
      10_000,
      "small pods on the remaining node",
    );
    assert.equal(small.length, 2);
    const nodes = (await kube.list<any>("v1", "Node", null)).map((n) => n.metadata.name).sort();
    assert.deepEqual(nodes, ["kubeserver", busy].sort(), "no node left behind");

    // Everything idle: the last worker is kept, at min.
    await deploy(kube, "big", 0, "1500m");
    const atMin = await until("grow", "at min", (c) =>
      /^at min workers \(1\)/.test(c.status.autoscaling.message ?? ""),
    );
    assert.equal(atMin.status.autoscaling.desired, 1);
    assert.equal(workerVms(atMin).length, 1);
    assert.match(
      metrics.render(),
      /krake_autoscaler_scale_total\{cluster="system:admin\/grow",direction="down"\} 2/,
    );
  });

  it("a node hosting a pod without a controller is kept, and the message says why", async () => {
    const c0 = await createCluster("pinned", 2, policy({ min: 1, max: 3 }));
    const kube = kubeOf(c0);
    await deploy(kube, "busy", 1, "1500m");
    const busy = await eventually(
      async () => running(await podsOf(kube, "busy"))[0]?.spec.nodeName,
      10_000,
      "busy pod",
    );
    const idleVm = workerVms(c0).find((vm) => vm.hostname !== busy)!;
    const idle = idleVm.hostname;
    await kube.apply({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "bare", namespace: "default" },
      spec: {
        nodeName: idle,
        containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "10m" } } }],
      },
    });
    await updateSpec("pinned", (spec) => (spec.autoscaling.scale_down.enabled = true));
    const c = await until(
      "pinned",
      "the idle node kept",
      (c) => c.status.autoscaling.message === `${idle} kept: pod default/bare has no controller`,
    );
    assert.equal(events(c, "ScaleDownBlocked").at(-1).message, c.status.autoscaling.message);
    assert.equal(c.status.autoscaling.desired, 2);
    assert.deepEqual(c.status.autoscaling.removing, []);
    assert.equal(workerVms(c).length, 2);
    const node = await kube.get<any>({ apiVersion: "v1", kind: "Node", metadata: { name: idle } });
    assert.ok(!node.spec.unschedulable, "not cordoned");

    // Without the pod, the node goes.
    await kube.delete({ apiVersion: "v1", kind: "Pod", metadata: { name: "bare", namespace: "default" } });
    const removed = await until(
      "pinned",
      "the idle node removed",
      (c) =>
        c.status.autoscaling.desired === 1 &&
        c.status.autoscaling.removing.length === 0 &&
        workerVms(c).length === 1,
    );
    assert.equal(workerVms(removed)[0].hostname, busy);
    assert.deepEqual(infrastructure(removed).removedVmIds, [idleVm.id]);
  });
});

describe("autoscaler: pressure and metrics", () => {
  it("node pressure asks for a worker; a metric below its threshold removes one, above adds one", async () => {
    const provider = (load: number) => ({
      metadata: { name: "static-load" },
      spec: { type: "static", static: { metrics: { load } } },
    });
    await cp.api.client.kind(GlobalMetricsProvider).create(provider(0.5) as any);
    await cp.api.client.kind(GlobalMetric).create({
      metadata: { name: "load" },
      spec: { allowed_values: [], min: 0, max: 1, provider: { name: "static-load", metric: "load" } },
    } as any);
    const setLoad = async (load: number) => {
      for (;;) {
        const p: any = await cp.api.client.kind(GlobalMetricsProvider).get("static-load", null);
        p.spec.static.metrics.load = load;
        try {
          return await cp.api.client.kind(GlobalMetricsProvider).update(p);
        } catch (err) {
          if (!(err instanceof KrakeApiError && err.status === 409)) throw err;
        }
      }
    };
    const c0 = await createCluster(
      "signals",
      1,
      policy(
        { min: 1, max: 3 },
        {
          scale_up: { pressure: true, metric: { name: "load", above: 0.8 }, cooldown: 3600 },
          scale_down: { enabled: true, idle_time: 3600, metric: { name: "load", below: 0.2 } },
        },
      ),
    );
    const worker = workerVms(c0)[0].hostname;
    const simulated = () => sb.kube.cluster(ClusterLink.clusterName(c0.status.cluster_id))!;

    simulated().setNodeCondition(worker, "MemoryPressure", "True");
    let c = await until("signals", "a worker for the pressure", (c) => c.status.autoscaling.desired === 2);
    assert.equal(
      events(c, "ScaleUp").at(-1).message,
      `scaling up from 1 to 2 workers: node ${worker} under MemoryPressure`,
    );
    simulated().setNodeCondition(worker, "MemoryPressure", "False");
    c = await until(
      "signals",
      "ONLINE with 2 workers",
      (c) =>
        c.status.state === "ONLINE" &&
        c.status.capacity.nodes.filter((n: any) => n.worker && n.ready).length === 2,
    );

    // Low load: one worker goes although none has been idle for an hour, down to min.
    await setLoad(0.1);
    c = await until(
      "signals",
      "a worker removed for the metric",
      (c) =>
        c.status.autoscaling.desired === 1 &&
        c.status.autoscaling.removing.length === 0 &&
        workerVms(c).length === 1,
    );
    assert.match(
      events(c, "ScaleDown").at(-1).message,
      /^removing node vnode-\d+ \(VM \d+\): metric load at 0\.1, below 0\.2/,
    );
    await until("signals", "at min", (c) => /^at min workers \(1\)/.test(c.status.autoscaling.message ?? ""));

    // High load: one worker more, within max (now 2) and without waiting out the hour of cooldown set above.
    await updateSpec("signals", (spec) => {
      spec.autoscaling.workers.max = 2;
      spec.autoscaling.scale_up.cooldown = 0;
    });
    await setLoad(0.9);
    c = await until("signals", "a worker for the metric", (c) =>
      /^at max workers \(2\): metric load at 0\.9, above 0\.8/.test(c.status.autoscaling.message ?? ""),
    );
    assert.equal(c.status.autoscaling.desired, 2);
    assert.equal(
      events(c, "ScaleUp").at(-1).message,
      "scaling up from 1 to 2 workers: metric load at 0.9, above 0.8",
    );
  });
});

describe("one owner of the worker count", () => {
  it("a manual TOSCA update of the worker input is refused (422) while other TOSCA edits go through", async () => {
    const c = await get("pinned");
    const desired = c.status.autoscaling.desired;
    const bump = updateSpec("pinned", (spec) => (spec.tosca.topology_template.inputs.wn_num.default = 5));
    await assert.rejects(bump, (err: unknown) => {
      assert.ok(err instanceof KrakeApiError);
      assert.equal(err.status, 422);
      assert.match(JSON.stringify(err.body), /wn_num/);
      assert.match(JSON.stringify(err.body), /autoscaling\.workers\.min\/max/);
      return true;
    });
    const addsBefore = infrastructure(c).calls.add;
    await updateSpec(
      "pinned",
      (spec) => (spec.tosca.topology_template.inputs.kube_version.default = "1.23.6"),
    );
    const sent = await eventually(
      () => {
        const last = infrastructure(c).lastTosca;
        const doc = last ? parse(last) : null;
        return doc?.topology_template.inputs.kube_version.default === "1.23.6" ? doc : null;
      },
      15_000,
      "the edit sent to IM",
    );
    assert.equal(sent.topology_template.inputs.wn_num.default, desired, "with the autoscaler's count");
    const online = await until("pinned", "ONLINE again", (c) => c.status.state === "ONLINE");
    assert.equal(infrastructure(online).calls.add, addsBefore + 1);
    assert.equal(workerVms(online).length, desired);
    assert.equal(
      online.spec.tosca.topology_template.inputs.wn_num.default,
      2,
      "the stored template keeps its own number",
    );

    // Handing the count back, with the autoscaler's number written into the template in the same update.
    await updateSpec("pinned", (spec) => {
      spec.autoscaling = null;
      spec.tosca.topology_template.inputs.wn_num.default = desired;
    });
    const manual = await until("pinned", "handed back", (c) => c.status.autoscaling === null);
    assert.equal(events(manual, "AutoscalingDisabled").length, 1);
    await updateSpec("pinned", (spec) => (spec.tosca.topology_template.inputs.wn_num.default = desired + 1));
    await until(
      "pinned",
      "scaled by hand",
      (c) => c.status.state === "ONLINE" && workerVms(c).length === desired + 1,
    );
  });
});

describe("crash safety", () => {
  it("an autoscaler killed after writing a scale-up, with the infrastructure controller down, scales once", async () => {
    const c0 = await createCluster("crash", 1, policy({ min: 1, max: 3 }));
    const kube = kubeOf(c0);
    await infra!.stop();
    infra = null;
    await autoscaler!.stop();
    const first = crashingAutoscaler("crash", "scale-up");
    autoscaler = await startController(cp.api, "autoscaler", first.settings);
    await deploy(kube, "load", 2, "1500m");
    await first.at;
    await autoscaler.stop();
    assert.equal((await get("crash")).status.autoscaling.desired, 2, "the intent was written");

    autoscaler = await startController(cp.api, "autoscaler", { autoscaler: AUTOSCALER });
    const waiting = await until("crash", "the new autoscaler waits for the intent to be sent", (c) =>
      /^waiting for the infrastructure controller to apply 2 workers \(1 sent so far\)/.test(
        c.status.autoscaling.message ?? "",
      ),
    );
    assert.equal(waiting.status.autoscaling.desired, 2, "no second scale-up for the same pods");
    assert.equal(workerVms(waiting).length, 1);

    const adds = infrastructure(waiting).calls.add;
    infra = await startController(cp.api, "infrastructure", { infrastructure: INFRA });
    await eventually(
      async () => running(await podsOf(kube, "load")).length === 2,
      20_000,
      "both pods running",
    );
    const c = await until("crash", "ONLINE, 2 workers", (c) => c.status.state === "ONLINE");
    assert.equal(infrastructure(c).calls.add, adds + 1, "sent once");
    assert.equal(workerVms(c).length, 2);
    assert.equal(c.status.autoscaling.desired, 2);
    assert.equal(events(c, "ScaleUp").length, 1);
  });

  it("killed at every step of a scale-down, and the infrastructure controller killed after sending: exactly the idle VM goes", async () => {
    const c0 = await get("crash");
    const kube = kubeOf(c0);
    await deploy(kube, "load", 1, "1500m");
    const busy = await eventually(
      async () => {
        const p = await podsOf(kube, "load");
        return p.length === 1 && running(p).length === 1 ? p[0].spec.nodeName : null;
      },
      10_000,
      "one load pod",
    );
    const idle = workerVms(c0).find((vm) => vm.hostname !== busy)!;
    await infra!.stop();
    infra = null;
    await autoscaler!.stop();

    // Killed right after recording the node it will cordon.
    const atCordon = crashingAutoscaler("crash", "cordoned");
    autoscaler = await startController(cp.api, "autoscaler", atCordon.settings);
    await updateSpec("crash", (spec) => (spec.autoscaling.scale_down.enabled = true));
    await atCordon.at;
    await autoscaler.stop();
    let c = await get("crash");
    assert.deepEqual(
      c.status.autoscaling.removing.map((r: any) => [r.node, r.step, r.vm_id]),
      [[idle.hostname, "cordoned", String(idle.id)]],
    );
    const node = () => kube.get<any>({ apiVersion: "v1", kind: "Node", metadata: { name: idle.hostname } });
    assert.ok(!(await node()).spec.unschedulable, "the crash came before the cordon");

    // The next one cordons, drains, finds the VM and is killed right after requesting its removal.
    const atRequest = crashingAutoscaler("crash", "requested");
    autoscaler = await startController(cp.api, "autoscaler", atRequest.settings);
    await atRequest.at;
    await autoscaler.stop();
    c = await get("crash");
    assert.deepEqual(
      c.status.autoscaling.removing.map((r: any) => [r.node, r.step, r.vm_id]),
      [[idle.hostname, "requested", String(idle.id)]],
    );
    assert.equal(c.status.autoscaling.desired, 1);
    assert.equal((await node()).spec.unschedulable, true, "cordoned");
    assert.deepEqual(infrastructure(c).removedVmIds, [], "nothing sent yet");

    // An infrastructure controller that dies after IM took the document, before recording it.
    let sent!: () => void;
    const wasSent = new Promise<void>((r) => (sent = r));
    const crashAfterUpdate = (provider: any, cloud: any): InfrastructureProvider => {
      const im = imProviderFor(provider, cloud, 5_000);
      return {
        create: (...a) => im.create(...a),
        findByMarker: (...a) => im.findByMarker(...a),
        status: (...a) => im.status(...a),
        kubeconfig: (...a) => im.kubeconfig(...a),
        reconfigure: (...a) => im.reconfigure(...a),
        delete: (...a) => im.delete(...a),
        vmIdOfHost: (...a) => im.vmIdOfHost(...a),
        update: async (id, template, marker, opts) => {
          await im.update(id, template, marker, opts);
          sent();
          await aborted(opts!.signal!);
          throw new Error("crashed");
        },
      };
    };
    const adds = infrastructure(c).calls.add;
    infra = await startController(cp.api, "infrastructure", {
      infrastructure: { ...INFRA, providerFor: crashAfterUpdate },
    });
    await wasSent;
    await infra.stop();
    c = await get("crash");
    assert.deepEqual(infrastructure(c).removedVmIds, [idle.id], "IM removed exactly the idle node's VM");
    assert.equal(c.status.last_applied_tosca.topology_template.inputs.wn_num.default, 2, "not recorded");

    // A new one sends the same absolute document again: nothing more is removed.
    infra = await startController(cp.api, "infrastructure", { infrastructure: INFRA });
    c = await until(
      "crash",
      "sent and recorded",
      (c) => c.status.last_applied_tosca.topology_template.inputs.wn_num.default === 1,
    );
    assert.equal(infrastructure(c).calls.add, adds + 2);
    assert.deepEqual(
      c.status.last_applied_tosca.topology_template.node_templates.wn.capabilities.scalable.properties
        .removal_list,
      [String(idle.id)],
    );
    autoscaler = await startController(cp.api, "autoscaler", { autoscaler: AUTOSCALER });
    c = await until(
      "crash",
      "removal finished",
      (c) => c.status.autoscaling.removing.length === 0 && c.status.state === "ONLINE",
    );
    assert.deepEqual(infrastructure(c).removedVmIds, [idle.id]);
    assert.deepEqual(
      workerVms(c).map((vm) => vm.hostname),
      [busy],
      "no orphan VM",
    );
    assert.equal(c.status.autoscaling.desired, 1);
    assert.equal(events(c, "ScaleDownDone").length, 1);
    assert.deepEqual(
      (await kube.list<any>("v1", "Node", null)).map((n) => n.metadata.name).sort(),
      ["kubeserver", busy].sort(),
    );
    assert.equal(running(await podsOf(kube, "load")).length, 1);
  });
});
