/**
 * The infrastructure benchmark (`npm run bench:infra`): N clusters (default 200) created at once through a real
 * `krake api` process, scheduled to one OpenStack cloud by a `krake controller scheduler` process and built by
 * a `krake controller infrastructure` process through the IM simulator (in this process, zero delays).
 *
 * Per round it measures the time from the first create until every cluster is CONNECTING with its kubeconfig
 * stored, the infrastructure controller's CPU (from /proc) divided by its reconciles (from its /metrics), and
 * then the time to delete them all. Targets: all CONNECTING in < 30 s (median of all rounds); controller CPU
 * per reconcile < 2 ms (median of the rounds after the first, which warms the controller up: JIT, pools).
 *
 * Prints a Markdown section for docs/performance.md on stdout; progress on stderr. Flags:
 *   --clusters N (200)  --rounds N (5)  --quick (50 clusters, 1 round)  --timeout S (180, per wait)
 *   --profile DIR (CPU profile of the infrastructure controller; read it with dist/bench/api/profile.js)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { KrakeClient } from "../../src/client/index.js";
import { Cluster } from "../../src/resources/registry.js";
import { seedImCloud } from "../../test/support/fixtures.js";
import { startImSimulator } from "../../src/sandbox/im/server.js";
import {
  EXAMPLES,
  args,
  flag,
  cpuSeconds,
  log,
  option,
  median,
  peakRssMb,
  pool,
  startApi,
  startController,
  stop,
  waitAll,
  writeReport,
} from "../support.js";

const quick = args.includes("--quick");
const CLUSTERS = flag("--clusters", quick ? 50 : 200);
const ROUNDS = flag("--rounds", quick ? 1 : 5);
const NS = "bench";
const TIMEOUT_MS = flag("--timeout", 180) * 1000;
/** `--profile DIR`: the infrastructure controller runs under `node --cpu-prof` writing into DIR. */
const PROFILE_DIR = option("--profile");

/** The infrastructure controller's reconciles so far: all, and those that failed (and were retried). */
async function reconciles(metricsUrl: string): Promise<{ all: number; failed: number }> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  // One series per result (ok, error); none before the first reconcile.
  const series = [
    ...text.matchAll(
      /^krake_controller_reconcile_duration_seconds_count\{controller="infrastructure",queue="clusters",result="(\w+)"\} (\d+)$/gm,
    ),
  ];
  const sum = (only?: string) =>
    series.filter((m) => !only || m[1] === only).reduce((n, m) => n + Number(m[2]), 0);
  return { all: sum(), failed: sum("error") };
}

interface Round {
  connectingS: number;
  createsS: number;
  reconciles: number;
  failedReconciles: number;
  cpuMsPerReconcile: number;
  cpuMsPerCluster: number;
  deletedS: number;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), "bench-infra-"));
  const tosca = parse(readFileSync(join(EXAMPLES, "im-cluster.yaml"), "utf8"));
  const im = await startImSimulator({
    delays: { create: 0, pending: 0, running: 0, configure: 0, add: 0, delete: 0 },
  });
  const { child: api, url } = await startApi(join(dir, "data"));
  const client = new KrakeClient({ url, timeoutMs: 120_000 });
  const children = [api];
  const rounds: Round[] = [];
  let rss = 0;
  try {
    await seedImCloud(client, im.url);
    const scheduler = await startController(["scheduler", "gc"], url, ["--metrics-address", ""]);
    children.push(scheduler.child);
    const infra = await startController(
      ["infrastructure"],
      url,
      ["--metrics-address", "127.0.0.1:0"],
      PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
    );
    children.push(infra.child);
    const pid = infra.child.pid!;
    const metricsUrl = infra.metricsUrl!;

    for (let r = 0; r < ROUNDS; r++) {
      const names = new Set(Array.from({ length: CLUSTERS }, (_, i) => `r${r}-c${i}`));
      const rv = (await client.kind(Cluster).list(NS)).metadata.resource_version;
      const connecting = waitAll(
        client,
        Cluster,
        NS,
        rv,
        names,
        (o) => o.status?.state === "CONNECTING" && Object.keys(o.spec?.kubeconfig ?? {}).length > 0,
        TIMEOUT_MS,
      );
      const cpu0 = cpuSeconds(pid);
      const rec0 = await reconciles(metricsUrl);
      log(`round ${r + 1}/${ROUNDS}: creating ${CLUSTERS} clusters`);
      const t0 = Date.now();
      await pool([...names], 32, (name) =>
        client
          .kind(Cluster)
          .create({ metadata: { name }, spec: { tosca, constraints: { cloud: {} } } } as any, NS),
      );
      const createsS = (Date.now() - t0) / 1000;
      const connectingS = ((await connecting.promise) - t0) / 1000;
      const cpuMs = (cpuSeconds(pid) - cpu0) * 1000;
      const rec1 = await reconciles(metricsUrl);
      const recs = rec1.all - rec0.all;

      const rv2 = (await client.kind(Cluster).list(NS)).metadata.resource_version;
      const gone = waitAll(client, Cluster, NS, rv2, names, (_o, type) => type === "DELETED", TIMEOUT_MS);
      const t1 = Date.now();
      await pool([...names], 32, (name) => client.kind(Cluster).delete(name, NS));
      const deletedS = ((await gone.promise) - t1) / 1000;
      const round: Round = {
        connectingS,
        createsS,
        reconciles: recs,
        failedReconciles: rec1.failed - rec0.failed,
        cpuMsPerReconcile: cpuMs / recs,
        cpuMsPerCluster: cpuMs / CLUSTERS,
        deletedS,
      };
      rounds.push(round);
      log(
        `  all CONNECTING after ${connectingS.toFixed(1)} s (creates ${createsS.toFixed(1)} s); ` +
          `${recs} reconciles (${round.failedReconciles} failed), ${round.cpuMsPerReconcile.toFixed(2)} ms CPU each, ` +
          `${round.cpuMsPerCluster.toFixed(2)} ms per cluster; all deleted after ${deletedS.toFixed(1)} s`,
      );
    }
    rss = peakRssMb(pid);
    const infs = im.infrastructures();
    const created = im.stats().create ?? 0;
    if (created !== CLUSTERS * ROUNDS)
      throw new Error(`IM received ${created} creates for ${CLUSTERS * ROUNDS} clusters`);
    if (infs.some((i) => i.status === "active"))
      throw new Error("infrastructures left behind after deletion");
  } finally {
    for (const c of children.reverse()) await stop(c);
    await im.close();
    rmSync(dir, { recursive: true, force: true });
  }

  // The first round warms the controller up (JIT, connection pools): the medians are of the others.
  const measured = rounds.length > 1 ? rounds.slice(1) : rounds;
  const connecting = median(rounds.map((r) => r.connectingS));
  const cpu = median(measured.map((r) => r.cpuMsPerReconcile));
  const per = (f: (r: Round) => number, digits: number) => rounds.map((r) => f(r).toFixed(digits)).join(", ");
  writeReport("Infrastructure benchmark", "bench:infra", "result (median of rounds; each round)", [
    `| ${CLUSTERS} clusters created at once → all CONNECTING | ${connecting.toFixed(1)} s (${per((r) => r.connectingS, 1)}); creates took ${per((r) => r.createsS, 1)} s | < 30 s | ${connecting < 30 ? "met" : "**MISSED**"} |`,
    `| infrastructure controller CPU per reconcile | ${cpu.toFixed(2)} ms (${per((r) => r.cpuMsPerReconcile, 2)}; ${rounds.length > 1 ? "median without the first, warm-up round" : "one round: warm-up included"}); ${per((r) => r.reconciles, 0)} reconciles, of which ${per((r) => r.failedReconciles, 0)} failed and were retried | < 2 ms | ${cpu < 2 ? "met" : "**MISSED**"} |`,
    `| infrastructure controller CPU per cluster (create → CONNECTING) | ${median(measured.map((r) => r.cpuMsPerCluster)).toFixed(2)} ms (${per((r) => r.cpuMsPerCluster, 2)}) | – | |`,
    `| ${CLUSTERS} clusters deleted at once → all gone | ${median(rounds.map((r) => r.deletedS)).toFixed(1)} s (${per((r) => r.deletedS, 1)}) | – | |`,
    `| infrastructure controller peak RSS | ${rss.toFixed(0)} MB | – | |`,
  ]);
}

await main();
