/**
 * A stand-in kubelet for the real kube-apiserver of the tests, which has no kubelet and no scheduler: it
 * registers a Ready node, keeps its heartbeat fresh, binds every pending pod to it and reports the pod
 * Running and Ready. kube-controller-manager then counts ready replicas as it would on a real cluster.
 */
import type { KubeClient } from "../../src/kube/client.js";

export interface FakeKubelet {
  node: string;
  /** Pods of these namespaces/names stay Pending (to test unhealthy workloads). */
  hold(predicate: (pod: any) => boolean): void;
  stop(): Promise<void>;
}

export async function startFakeKubelet(
  k8s: KubeClient,
  node = "node-1",
  intervalMs = 150,
): Promise<FakeKubelet> {
  let held: (pod: any) => boolean = () => false;
  await k8s
    .request("POST", "/api/v1/nodes", { body: { apiVersion: "v1", kind: "Node", metadata: { name: node } } })
    .catch((err) => {
      if (err.status !== 409) throw err;
    });
  let lastBeat = 0;
  const heartbeat = async () => {
    const now = new Date().toISOString();
    const condition = (type: string, status: string) => ({
      type,
      status,
      reason: `Kubelet${type}`,
      message: "fake kubelet",
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await k8s.request("PATCH", `/api/v1/nodes/${node}/status`, {
      contentType: "application/strategic-merge-patch+json",
      body: {
        status: {
          conditions: [
            condition("Ready", "True"),
            condition("MemoryPressure", "False"),
            condition("DiskPressure", "False"),
            condition("PIDPressure", "False"),
          ],
          allocatable: { cpu: "8", memory: "16Gi", pods: "110" },
          capacity: { cpu: "8", memory: "16Gi", pods: "110" },
        },
      },
    });
  };
  const tick = async () => {
    if (Date.now() - lastBeat > 5_000) {
      await heartbeat();
      lastBeat = Date.now();
    }
    const pods = await k8s.request<{ items: any[] }>("GET", "/api/v1/pods");
    for (const pod of pods.items) {
      if (pod.metadata.deletionTimestamp || held(pod)) continue;
      const ns = pod.metadata.namespace;
      const name = pod.metadata.name;
      if (!pod.spec.nodeName) {
        await k8s
          .request("POST", `/api/v1/namespaces/${ns}/pods/${name}/binding`, {
            body: {
              apiVersion: "v1",
              kind: "Binding",
              metadata: { name },
              target: { apiVersion: "v1", kind: "Node", name: node },
            },
          })
          .catch(() => undefined);
      }
      if (pod.status?.phase === "Running") continue;
      const now = new Date().toISOString();
      await k8s
        .request("PATCH", `/api/v1/namespaces/${ns}/pods/${name}/status`, {
          contentType: "application/merge-patch+json",
          body: {
            status: {
              phase: "Running",
              startTime: now,
              conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
                type,
                status: "True",
                lastTransitionTime: now,
              })),
              containerStatuses: pod.spec.containers.map((c: any) => ({
                name: c.name,
                image: c.image,
                imageID: `docker-pullable://${c.image}`,
                ready: true,
                started: true,
                restartCount: 0,
                state: { running: { startedAt: now } },
              })),
            },
          },
        })
        .catch(() => undefined);
    }
  };
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const loop = () => {
    if (stopped) return;
    running = tick()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs);
      });
  };
  loop();
  return {
    node,
    hold(predicate) {
      held = predicate;
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
