/**
 * The application benchmark (`npm run bench:apps`): C simulated clusters (default 100, all served by the
 * Kubernetes simulator in this process) registered through a real `krake api` process, and A applications
 * (default 2,000; echo-demo: a Deployment and a NodePort Service each) created at once. `krake controller
 * scheduler gc cluster` places them, `krake controller application` (a process of its own, measured)
 * deploys them.
 *
 * Measures the time from the first create until every app is RUNNING with its pod ready, the application
 * controller's CPU and peak memory, its steady-state CPU while it only observes (every app read back every
 * --observe-interval), and the time to delete them all. Targets: all RUNNING in < 120 s; application
 * controller memory < 500 MB. Every object must be gone from the clusters at the end.
 *
 * Prints a Markdown section for docs/performance.md on stdout; progress on stderr. Flags:
 *   --clusters N (100)  --apps N (2000)  --quick (20 clusters, 200 apps)  --timeout S (300, per wait)
 *   --steady S (20: seconds of steady-state observation measured)  --profile DIR (CPU profile of the
 *   application controller)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KrakeClient } from "../../src/client/index.js";
import { Application, Cluster } from "../../src/resources/registry.js";
import { startKubeSimulator } from "../../src/sandbox/kube/simulator.js";
import { echoDemo } from "../../test/support/fixtures.js";
import {
  args,
  cpuSeconds,
  flag,
  log,
  option,
  peakRssMb,
  pool,
  startApi,
  startController,
  stop,
  waitAll,
  writeReport,
} from "../support.js";

const quick = args.includes("--quick");
const CLUSTERS = flag("--clusters", quick ? 20 : 100);
const APPS = flag("--apps", quick ? 200 : 2000);
const TIMEOUT_MS = flag("--timeout", 300) * 1000;
const STEADY_S = flag("--steady", quick ? 5 : 20);
const NS = "bench";
const PROFILE_DIR = option("--profile");

async function reconciles(metricsUrl: string): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  return [
    ...text.matchAll(
      /^krake_controller_reconcile_duration_seconds_count\{controller="application",queue="applications",result="\w+"\} (\d+)$/gm,
    ),
  ].reduce((n, m) => n + Number(m[1]), 0);
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "bench-apps-"));
  const sim = await startKubeSimulator({ clusterDefaults: { nodes: 2, nodeCpu: "8", nodeMemory: "32Gi" } });
  const { child: api, url } = await startApi(join(dir, "data"));
  const client = new KrakeClient({ url, timeoutMs: 120_000 });
  const children = [api];
  const rows: string[] = [];
  try {
    const others = await startController(["scheduler", "gc", "cluster"], url, ["--metrics-address", ""]);
    children.push(others.child);
    const appCtl = await startController(
      ["application"],
      url,
      ["--metrics-address", "127.0.0.1:0"],
      PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    );
    children.push(appCtl.child);
    const pid = appCtl.child.pid!;
    const metricsUrl = appCtl.metricsUrl!;

    log(`registering ${CLUSTERS} simulated clusters`);
    const clusterNames = new Set(Array.from({ length: CLUSTERS }, (_, i) => `sim-${i}`));
    const rv0 = (await client.kind(Cluster).list(NS)).metadata.resource_version;
    const online = waitAll(
      client,
      Cluster,
      NS,
      rv0,
      clusterNames,
      (o) => o.status?.state === "ONLINE",
      TIMEOUT_MS,
    );
    await pool([...clusterNames], 16, (name) =>
      client.kind(Cluster).create(
        {
          metadata: { name },
          spec: { kubeconfig: sim.addCluster(name).kubeconfig, constraints: { cloud: {} } },
        } as any,
        NS,
      ),
    );
    await online.promise;

    const names = new Set(Array.from({ length: APPS }, (_, i) => `echo-${i}`));
    const rv1 = (await client.kind(Application).list(NS)).metadata.resource_version;
    const running = waitAll(
      client,
      Application,
      NS,
      rv1,
      names,
      (o) => o.status?.state === "RUNNING" && o.status.container_health?.running_pods === 1,
      TIMEOUT_MS,
    );
    const cpu0 = cpuSeconds(pid);
    const rec0 = await reconciles(metricsUrl);
    log(`creating ${APPS} applications`);
    const t0 = Date.now();
    await pool([...names], 32, (name) =>
      client
        .kind(Application)
        .create(
          { metadata: { name }, spec: { manifest: echoDemo(name), constraints: { cluster: {} } } } as any,
          NS,
        ),
    );
    const createsS = (Date.now() - t0) / 1000;
    const runningS = ((await running.promise) - t0) / 1000;
    const deployCpuS = cpuSeconds(pid) - cpu0;
    const deployRecs = (await reconciles(metricsUrl)) - rec0;
    log(
      `  all RUNNING after ${runningS.toFixed(1)} s (creates took ${createsS.toFixed(1)} s); ${deployRecs} reconciles, ${deployCpuS.toFixed(1)} s CPU`,
    );

    // Steady state: nothing changes; the controller reads every app back every observe interval.
    const cpu1 = cpuSeconds(pid);
    const rec1 = await reconciles(metricsUrl);
    await new Promise((r) => setTimeout(r, STEADY_S * 1000));
    const steadyCpu = (cpuSeconds(pid) - cpu1) / STEADY_S;
    const steadyRecs = ((await reconciles(metricsUrl)) - rec1) / STEADY_S;
    const rss = peakRssMb(pid);
    const perCluster = sim.clusters().map((c) => c.list("apps/v1", "Deployment").length);
    log(
      `  steady: ${steadyRecs.toFixed(0)} reconciles/s, ${(steadyCpu * 100).toFixed(0)} % of a core; peak RSS ${rss.toFixed(0)} MB`,
    );

    const rv2 = (await client.kind(Application).list(NS)).metadata.resource_version;
    const gone = waitAll(client, Application, NS, rv2, names, (_o, type) => type === "DELETED", TIMEOUT_MS);
    const t1 = Date.now();
    await pool([...names], 32, (name) => client.kind(Application).delete(name, NS));
    const deletedS = ((await gone.promise) - t1) / 1000;
    const left = sim
      .clusters()
      .reduce(
        (n, c) =>
          n +
          c.list("apps/v1", "Deployment").length +
          c.list("v1", "Service", "default").filter((s) => s.metadata.name !== "kubernetes").length,
        0,
      );
    if (left) throw new Error(`${left} objects left on the clusters after every app was deleted`);
    log(`  all deleted after ${deletedS.toFixed(1)} s; nothing left on the clusters`);

    rows.push(
      `| ${APPS} apps created at once on ${CLUSTERS} clusters → all RUNNING, pod ready | ${runningS.toFixed(1)} s (creates took ${createsS.toFixed(1)} s) | < 120 s | ${runningS < 120 ? "met" : "**MISSED**"} |`,
      `| application controller peak RSS | ${rss.toFixed(0)} MB | < 500 MB | ${rss < 500 ? "met" : "**MISSED**"} |`,
      `| application controller CPU, create → RUNNING | ${deployCpuS.toFixed(1)} s for ${deployRecs} reconciles (${((deployCpuS * 1000) / APPS).toFixed(2)} ms per app) | – | |`,
      `| steady state (observation only) | ${steadyRecs.toFixed(0)} reconciles/s, ${(steadyCpu * 100).toFixed(0)} % of one core | – | |`,
      `| apps per cluster | ${Math.min(...perCluster)}–${Math.max(...perCluster)} | – | |`,
      `| ${APPS} apps deleted at once → all gone, objects removed | ${deletedS.toFixed(1)} s | – | |`,
    );
  } finally {
    for (const c of children.reverse()) await stop(c);
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
  writeReport("Application benchmark", "bench:apps", "result", rows);
}

await main();
