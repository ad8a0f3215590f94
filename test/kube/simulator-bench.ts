/**
 * How many GETs of a Deployment the Kubernetes simulator serves per second (not a test: run it by hand).
 *
 *   npm run build && node dist/test/kube/simulator-bench.js [--seconds 10] [--concurrency 32] [--clusters 100] [--raw]
 *
 * The simulator runs in this process; the load comes from a child process (KubeClient, keep-alive, as the
 * application controller uses it) spread over `--clusters` clusters with one Deployment and one Service
 * each, so client and server do not share an event loop. Reports requests/s and the simulator's CPU time per
 * request, hence requests/s per core. `--raw` loads with bare keep-alive node:https GETs instead of KubeClient
 * (less client CPU, so that on a small machine the server, not the client, is the limit).
 */
import { fork } from "node:child_process";
import { Agent, request } from "node:https";
import { fileURLToPath } from "node:url";
import { KubeClient } from "../../src/kube/client.js";
import { connectionOf } from "../../src/kube/kubeconfig.js";
import { startKubeSimulator } from "../../src/sandbox/kube/simulator.js";

const args = process.argv.slice(2);
const flag = (name: string, def: number) =>
  args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def;

interface Job {
  kubeconfigs: Record<string, unknown>[];
  seconds: number;
  concurrency: number;
  raw: boolean;
}

/** A bare keep-alive node:https GET per cluster: less client CPU than KubeClient, to load the server harder. */
function rawClients(kubeconfigs: Record<string, unknown>[]) {
  return kubeconfigs.map((kc) => {
    const conn = connectionOf(kc);
    const agent = new Agent({ keepAlive: true, ca: conn.ca });
    const url = new URL(`${conn.server}/apis/apps/v1/namespaces/default/deployments/web`);
    return {
      get: <T>(_ref: unknown): Promise<T | null> =>
        new Promise((resolve, reject) => {
          const req = request(url, { agent, headers: { Authorization: conn.authorization! } }, (res) => {
            const parts: Buffer[] = [];
            res.on("data", (d: Buffer) => parts.push(d));
            res.on("end", () =>
              resolve(res.statusCode === 200 ? (JSON.parse(Buffer.concat(parts).toString()) as T) : null),
            );
            res.on("error", reject);
          });
          req.on("error", reject);
          req.end();
        }),
    };
  });
}

async function load(job: Job): Promise<{ requests: number; errors: number; ms: number }> {
  const clients = job.raw
    ? rawClients(job.kubeconfigs)
    : job.kubeconfigs.map((k) => KubeClient.fromKubeconfig(k));
  const refs = clients.map(() => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web", namespace: "default" },
  }));
  // Discovery once per client, outside the measurement.
  await Promise.all(clients.map((c, i) => c.get(refs[i])));
  let requests = 0;
  let errors = 0;
  const started = performance.now();
  const end = started + job.seconds * 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: job.concurrency }, async () => {
      while (performance.now() < end) {
        const i = next++ % clients.length;
        try {
          const d = await clients[i].get<any>(refs[i]);
          if (!d) errors++;
        } catch {
          errors++;
        }
        requests++;
      }
    }),
  );
  return { requests, errors, ms: performance.now() - started };
}

async function main() {
  if (process.env.SIM_BENCH_CHILD) {
    process.once("message", async (job: Job) => {
      process.send!(await load(job));
      process.exit(0);
    });
    return;
  }
  const seconds = flag("--seconds", 10);
  const concurrency = flag("--concurrency", 32);
  const clusters = flag("--clusters", 100);
  const raw = args.includes("--raw");
  const sim = await startKubeSimulator({ clusterDefaults: { nodes: 2, nodeCpu: "8", nodeMemory: "32Gi" } });
  try {
    const kubeconfigs: Record<string, unknown>[] = [];
    for (let i = 0; i < clusters; i++) {
      const c = sim.addCluster(`sim-${i}`);
      kubeconfigs.push(c.kubeconfig as unknown as Record<string, unknown>);
      const k = KubeClient.fromKubeconfig(c.kubeconfig as unknown as Record<string, unknown>);
      await k.apply({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "web", namespace: "default" },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "web" } },
          template: {
            metadata: { labels: { app: "web" } },
            spec: {
              containers: [
                { name: "web", image: "nginx:1.19", ports: [{ containerPort: 80, protocol: "TCP" }] },
              ],
            },
          },
        },
      });
      await k.apply({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web", namespace: "default" },
        spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 80, protocol: "TCP" }] },
      });
    }
    await Promise.all(sim.clusters().map((c) => c.idle()));
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, SIM_BENCH_CHILD: "1" } });
    const cpu0 = process.cpuUsage();
    const result = await new Promise<{ requests: number; errors: number; ms: number }>((resolve, reject) => {
      child.once("message", (m) => resolve(m as any));
      child.once("error", reject);
      child.send({ kubeconfigs, seconds, concurrency, raw } satisfies Job);
    });
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const rate = result.requests / (result.ms / 1000);
    const perRequestMs = cpuMs / result.requests;
    console.log(
      `${result.requests} GETs of a Deployment in ${(result.ms / 1000).toFixed(1)} s over ${clusters} clusters ` +
        `(concurrency ${concurrency}, ${raw ? "bare node:https" : "KubeClient"} load, ${result.errors} errors): ` +
        `${Math.round(rate)} requests/s; ` +
        `simulator CPU ${perRequestMs.toFixed(3)} ms per request = ${Math.round(1000 / perRequestMs)} requests/s per core`,
    );
  } finally {
    await sim.close();
  }
}

await main();
