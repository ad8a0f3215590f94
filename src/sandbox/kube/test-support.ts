/** Helpers of the simulator's own tests. */
import { KubeClient } from "../../kube/client.js";
import {
  startKubeSimulator,
  type ClusterOptions,
  type KubeSimulator,
  type SimulatedCluster,
} from "./simulator.js";

/** Polls `check` until it returns something other than undefined/false, or throws after the deadline. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, delay));
  }
}

export interface SimHarness {
  sim: KubeSimulator;
  cluster: SimulatedCluster;
  client: KubeClient;
  close(): Promise<void>;
}

/** A simulator with one cluster and a KubeClient for it. */
export async function harness(opts: ClusterOptions = {}): Promise<SimHarness> {
  const sim = await startKubeSimulator();
  const cluster = sim.addCluster("test", opts);
  const client = KubeClient.fromKubeconfig(cluster.kubeconfig as unknown as Record<string, unknown>);
  return { sim, cluster, client, close: () => sim.close() };
}

export function deployment(
  name: string,
  replicas: number,
  requests: Record<string, string> = {},
  image = "nginx:1.19",
): any {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: "default" },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image, resources: { requests } }] },
      },
    },
  };
}

/** Pods of the default namespace whose `app` label is `app`. */
export function podsOf(cluster: SimulatedCluster, app: string): any[] {
  return cluster
    .list("v1", "Pod", "default")
    .filter((p) => p.metadata.labels?.app === app)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
}

export const isReady = (pod: any) =>
  (pod.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
