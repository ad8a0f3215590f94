import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ndjsonLines } from "../../client/ndjson.js";
import { connectionOf } from "../../kube/kubeconfig.js";
import { nodeHttp } from "../../util/http.js";
import { deployment, harness, isReady, podsOf, until, type SimHarness } from "./test-support.js";

describe("simulated workloads", () => {
  it("schedules pods by their requests against node allocatable and reports the rest Unschedulable", async () => {
    const h = await harness({ nodes: 2, nodeCpu: "2", nodeMemory: "4Gi" });
    try {
      await h.client.apply(deployment("big", 3, { cpu: "1500m", memory: "1Gi" }));
      await h.cluster.idle();
      const pods = podsOf(h.cluster, "big");
      assert.equal(pods.length, 3);
      const running = pods.filter((p) => p.status.phase === "Running");
      assert.equal(running.length, 2);
      assert.deepEqual(
        running.map((p) => p.spec.nodeName).sort(),
        ["node-1", "node-2"],
        "one per node: neither has room for two",
      );
      assert.ok(running.every(isReady));
      const pending = pods.find((p) => p.status.phase === "Pending");
      assert.equal(pending.spec.nodeName, undefined);
      const scheduled = pending.status.conditions.find((c: any) => c.type === "PodScheduled");
      assert.deepEqual(
        { status: scheduled.status, reason: scheduled.reason, message: scheduled.message },
        { status: "False", reason: "Unschedulable", message: "0/2 nodes are available: 2 Insufficient cpu." },
      );
      const d = h.cluster.get("apps/v1", "Deployment", "default", "big");
      assert.equal(d.status.replicas, 3);
      assert.equal(d.status.readyReplicas, 2);
      assert.equal(d.status.availableReplicas, 2);
      assert.equal(d.status.unavailableReplicas, 1);
      const available = d.status.conditions.find((c: any) => c.type === "Available");
      assert.equal(available.status, "False");
      assert.equal(available.reason, "MinimumReplicasUnavailable");

      // Room appears: the pending pod is scheduled at once.
      h.cluster.addNode("node-3", { cpu: "2", memory: "4Gi" });
      await h.cluster.idle();
      const after = podsOf(h.cluster, "big");
      assert.ok(after.every((p) => p.status.phase === "Running" && isReady(p)));
      assert.equal(after.find((p) => p.metadata.name === pending.metadata.name).spec.nodeName, "node-3");
      const done = h.cluster.get("apps/v1", "Deployment", "default", "big");
      assert.equal(done.status.readyReplicas, 3);
      assert.equal(done.status.unavailableReplicas, undefined);
      assert.equal(done.status.conditions.find((c: any) => c.type === "Available").status, "True");
    } finally {
      await h.close();
    }
  });

  it("counts memory and the pod limit, and frees room when pods go", async () => {
    const h = await harness({ nodes: 1, nodeCpu: "8", nodeMemory: "1Gi", nodePods: 2 });
    try {
      await h.client.apply(deployment("mem", 1, { memory: "768Mi" }));
      await h.client.apply(deployment("more", 1, { memory: "512Mi" }));
      await h.cluster.idle();
      const [more] = podsOf(h.cluster, "more");
      assert.equal(more.status.conditions[0].message, "0/1 nodes are available: 1 Insufficient memory.");
      await h.client.apply(deployment("tiny", 2));
      await h.cluster.idle();
      const tiny = podsOf(h.cluster, "tiny");
      assert.equal(tiny.filter((p) => p.status.phase === "Running").length, 1);
      assert.equal(
        tiny.find((p) => p.status.phase === "Pending").status.conditions[0].message,
        "0/1 nodes are available: 1 Too many pods.",
      );
      // Deleting the big one frees memory and a pod slot: "more" fits now.
      assert.equal(await h.client.delete(deployment("mem", 1)), true);
      await until("the 'more' pod to run", () => podsOf(h.cluster, "more")[0]?.status.phase === "Running");
    } finally {
      await h.close();
    }
  });

  it("starts pods after podStartDelayMs: bound and ContainerCreating first, then Running and Ready", async () => {
    const h = await harness({ podStartDelayMs: 150 });
    try {
      const started = Date.now();
      await h.client.apply(deployment("slow", 1));
      await h.cluster.idle();
      const [pod] = podsOf(h.cluster, "slow");
      assert.equal(pod.spec.nodeName, "node-1");
      assert.equal(pod.status.phase, "Pending");
      assert.equal(pod.status.containerStatuses[0].state.waiting.reason, "ContainerCreating");
      assert.equal(isReady(pod), false);
      const running = await until("the pod to run", () => {
        const p = podsOf(h.cluster, "slow")[0];
        return p?.status.phase === "Running" ? p : undefined;
      });
      assert.ok(Date.now() - started >= 150, "not before the delay");
      assert.ok(isReady(running));
      assert.ok(running.status.containerStatuses[0].state.running.startedAt);
      assert.match(running.status.podIP, /^10\.244\.1\.\d+$/);
      assert.match(running.status.hostIP, /^172\.\d+\.\d+\.\d+$/);
      await until(
        "the Deployment to count it ready",
        () => h.cluster.get("apps/v1", "Deployment", "default", "slow").status.readyReplicas === 1,
      );
    } finally {
      await h.close();
    }
  });

  it("a NotReady node: its pods turn unready, it is tainted, new pods do not go there", async () => {
    const h = await harness({ nodes: 1 });
    try {
      await h.client.apply(deployment("web", 2));
      await h.cluster.idle();
      assert.ok(podsOf(h.cluster, "web").every(isReady));
      h.cluster.setNodeCondition("node-1", "Ready", "False");
      await h.cluster.idle();
      const node = h.cluster.get("v1", "Node", "", "node-1");
      assert.deepEqual(
        node.spec.taints.map((t: any) => `${t.key}:${t.effect}`),
        ["node.kubernetes.io/not-ready:NoSchedule"],
      );
      const ready = node.status.conditions.find((c: any) => c.type === "Ready");
      assert.equal(ready.status, "False");
      assert.equal(ready.reason, "KubeletNotReady");
      assert.ok(podsOf(h.cluster, "web").every((p) => !isReady(p) && p.status.phase === "Running"));
      assert.equal(h.cluster.get("apps/v1", "Deployment", "default", "web").status.readyReplicas, undefined);
      await h.client.apply(deployment("late", 1));
      await h.cluster.idle();
      assert.equal(
        podsOf(h.cluster, "late")[0].status.conditions[0].message,
        "0/1 nodes are available: 1 node(s) had taint {node.kubernetes.io/not-ready: }, that the pod didn't tolerate.",
      );

      h.cluster.setNodeCondition("node-1", "Ready", "True");
      await h.cluster.idle();
      assert.equal(h.cluster.get("v1", "Node", "", "node-1").spec.taints, undefined);
      assert.ok(podsOf(h.cluster, "web").every(isReady));
      assert.ok(podsOf(h.cluster, "late").every(isReady));

      h.cluster.setNodeCondition("node-1", "MemoryPressure", "True");
      await h.cluster.idle();
      const pressured = h.cluster.get("v1", "Node", "", "node-1");
      assert.equal(
        pressured.status.conditions.find((c: any) => c.type === "MemoryPressure").reason,
        "KubeletHasInsufficientMemory",
      );
      assert.deepEqual(
        pressured.spec.taints.map((t: any) => t.key),
        ["node.kubernetes.io/memory-pressure"],
      );
    } finally {
      await h.close();
    }
  });

  it("DaemonSets run one pod per matching node and follow nodes coming and going", async () => {
    const h = await harness({ nodes: 2 });
    try {
      const ds = {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        metadata: { name: "agent", namespace: "default" },
        spec: {
          selector: { matchLabels: { app: "agent" } },
          template: {
            metadata: { labels: { app: "agent" } },
            spec: { containers: [{ name: "a", image: "agent:1" }] },
          },
        },
      };
      await h.client.apply(ds);
      await h.cluster.idle();
      let pods = podsOf(h.cluster, "agent");
      assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ["node-1", "node-2"]);
      assert.ok(pods.every(isReady));
      assert.ok(
        pods.every((p) => p.spec.tolerations.some((t: any) => t.key === "node.kubernetes.io/not-ready")),
      );
      const status = () => h.cluster.get("apps/v1", "DaemonSet", "default", "agent").status;
      assert.deepEqual(
        { ...status(), observedGeneration: undefined },
        {
          currentNumberScheduled: 2,
          numberMisscheduled: 0,
          desiredNumberScheduled: 2,
          numberReady: 2,
          observedGeneration: undefined,
          updatedNumberScheduled: 2,
          numberAvailable: 2,
        },
      );

      h.cluster.addNode("node-3", { labels: { role: "edge" } });
      await h.cluster.idle();
      assert.equal(podsOf(h.cluster, "agent").length, 3);
      assert.equal(status().numberReady, 3);

      h.cluster.removeNode("node-1");
      await h.cluster.idle();
      pods = podsOf(h.cluster, "agent");
      assert.deepEqual(pods.map((p) => p.spec.nodeName).sort(), ["node-2", "node-3"]);
      assert.equal(status().desiredNumberScheduled, 2);

      // A node selector narrows it down.
      const edge: any = structuredClone(ds);
      edge.spec.template.spec.nodeSelector = { role: "edge" };
      await h.client.apply(edge);
      await until("the DaemonSet to leave non-edge nodes", () => {
        const p = podsOf(h.cluster, "agent").filter((x) => !x.metadata.deletionTimestamp);
        return p.length === 1 && p[0].spec.nodeName === "node-3" && isReady(p[0]);
      });
      await until(
        "its status to follow",
        () => status().desiredNumberScheduled === 1 && status().numberReady === 1,
      );
    } finally {
      await h.close();
    }
  });

  it("Jobs run their pods to completion after jobDurationMs, within parallelism", async () => {
    const h = await harness({ jobDurationMs: 30 });
    try {
      let maxActive = 0;
      const job = {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "batch", namespace: "default" },
        spec: {
          completions: 3,
          parallelism: 2,
          template: {
            spec: { restartPolicy: "Never", containers: [{ name: "work", image: "busybox:1.33" }] },
          },
        },
      };
      await h.client.apply(job);
      const done = await until("the Job to complete", () => {
        const s = h.cluster.get("batch/v1", "Job", "default", "batch").status;
        maxActive = Math.max(maxActive, s.active ?? 0);
        return s.succeeded === 3 &&
          s.conditions?.some((c: any) => c.type === "Complete" && c.status === "True")
          ? s
          : undefined;
      });
      assert.ok(done.completionTime);
      assert.ok(done.startTime);
      assert.equal(done.active, undefined);
      assert.ok(maxActive <= 2, `at most parallelism pods at once (saw ${maxActive})`);
      const pods = h.cluster
        .list("v1", "Pod", "default")
        .filter((p) => p.metadata.labels["job-name"] === "batch");
      assert.equal(pods.length, 3);
      for (const p of pods) {
        assert.equal(p.status.phase, "Succeeded");
        assert.equal(p.status.containerStatuses[0].state.terminated.reason, "Completed");
        assert.equal(p.status.containerStatuses[0].state.terminated.exitCode, 0);
      }
    } finally {
      await h.close();
    }
  });

  it("a Job whose pod crashes fails with BackoffLimitExceeded", async () => {
    const h = await harness({ jobDurationMs: 60_000 });
    try {
      await h.client.apply({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "doomed", namespace: "default" },
        spec: {
          backoffLimit: 0,
          template: {
            spec: { restartPolicy: "Never", containers: [{ name: "work", image: "busybox:1.33" }] },
          },
        },
      });
      await h.cluster.idle();
      const [pod] = h.cluster
        .list("v1", "Pod", "default")
        .filter((p) => p.metadata.labels["job-name"] === "doomed");
      assert.equal(pod.status.phase, "Running");
      h.cluster.crashPod("default", pod.metadata.name);
      await h.cluster.idle();
      const failed = h.cluster.get("v1", "Pod", "default", pod.metadata.name);
      assert.equal(failed.status.phase, "Failed");
      assert.equal(failed.status.containerStatuses[0].state.terminated.exitCode, 1);
      const s = h.cluster.get("batch/v1", "Job", "default", "doomed").status;
      assert.equal(s.failed, 1);
      const cond = s.conditions.find((c: any) => c.type === "Failed");
      assert.equal(cond.reason, "BackoffLimitExceeded");
      assert.equal(cond.message, "Job has reached the specified backoff limit");
    } finally {
      await h.close();
    }
  });

  it("StatefulSets create ordinal pods in order, each after the previous is Ready, and scale down from the top", async () => {
    const h = await harness({ podStartDelayMs: 20 });
    try {
      const created: string[] = [];
      const w = await fetchWatch(
        h,
        "/api/v1/namespaces/default/pods?watch=1&labelSelector=app%3Ddb",
        created,
      );
      const sts = {
        apiVersion: "apps/v1",
        kind: "StatefulSet",
        metadata: { name: "db", namespace: "default" },
        spec: {
          replicas: 3,
          serviceName: "db",
          selector: { matchLabels: { app: "db" } },
          template: {
            metadata: { labels: { app: "db" } },
            spec: { containers: [{ name: "db", image: "postgres:13" }] },
          },
        },
      };
      await h.client.apply(sts);
      await until(
        "three ready pods",
        () => h.cluster.get("apps/v1", "StatefulSet", "default", "db").status.readyReplicas === 3,
      );
      assert.deepEqual(created, ["db-0", "db-1", "db-2"]);
      const pod = h.cluster.get("v1", "Pod", "default", "db-1");
      assert.equal(pod.spec.hostname, "db-1");
      assert.equal(pod.spec.subdomain, "db");
      assert.equal(pod.metadata.labels["statefulset.kubernetes.io/pod-name"], "db-1");
      const s = h.cluster.get("apps/v1", "StatefulSet", "default", "db").status;
      assert.equal(s.currentRevision, s.updateRevision);
      assert.equal(s.updatedReplicas, 3);

      await h.client.apply({ ...sts, spec: { ...sts.spec, replicas: 1 } });
      await until("one pod left", () => podsOf(h.cluster, "db").length === 1);
      assert.deepEqual(
        podsOf(h.cluster, "db").map((p) => p.metadata.name),
        ["db-0"],
      );
      w.stop();
      assert.deepEqual(created, ["db-0", "db-1", "db-2"], "no pod came back");
    } finally {
      await h.close();
    }
  });

  it("rolls a Deployment to a new template: a new ReplicaSet, the old one scaled to zero", async () => {
    const h = await harness({ nodes: 2 });
    try {
      await h.client.apply(deployment("roll", 2));
      await h.cluster.idle();
      const rs1 = h.cluster.list("apps/v1", "ReplicaSet", "default");
      assert.equal(rs1.length, 1);
      await h.client.apply(deployment("roll", 3, {}, "nginx:1.20"));
      await until("the rollout to finish", () => {
        const d = h.cluster.get("apps/v1", "Deployment", "default", "roll");
        return (
          d.status.updatedReplicas === 3 &&
          d.status.availableReplicas === 3 &&
          d.status.replicas === 3 &&
          d.status.observedGeneration === 2
        );
      });
      const sets = h.cluster.list("apps/v1", "ReplicaSet", "default");
      assert.equal(sets.length, 2);
      const old = sets.find((r) => r.metadata.name === rs1[0].metadata.name);
      const cur = sets.find((r) => r !== old);
      assert.equal(old.spec.replicas, 0);
      assert.equal(cur.spec.replicas, 3);
      assert.equal(cur.metadata.annotations["deployment.kubernetes.io/revision"], "2");
      assert.ok(podsOf(h.cluster, "roll").every((p) => p.spec.containers[0].image === "nginx:1.20"));
      const d = h.cluster.get("apps/v1", "Deployment", "default", "roll");
      assert.equal(d.metadata.annotations["deployment.kubernetes.io/revision"], "2");
      const progressing = d.status.conditions.find((c: any) => c.type === "Progressing");
      assert.equal(progressing.reason, "NewReplicaSetAvailable");
      assert.equal(progressing.message, `ReplicaSet "${cur.metadata.name}" has successfully progressed.`);
    } finally {
      await h.close();
    }
  });

  it("crashing pods and failing images: CrashLoopBackOff, ImagePullBackOff, and back", async () => {
    const h = await harness();
    try {
      await h.client.apply(deployment("crashy", 1));
      await h.cluster.idle();
      const [pod] = podsOf(h.cluster, "crashy");
      h.cluster.crashPod("default", pod.metadata.name);
      await h.cluster.idle();
      const crashed = h.cluster.get("v1", "Pod", "default", pod.metadata.name);
      const cs = crashed.status.containerStatuses[0];
      assert.equal(cs.state.waiting.reason, "CrashLoopBackOff");
      assert.equal(cs.restartCount, 1);
      assert.equal(cs.lastState.terminated.exitCode, 1);
      assert.equal(isReady(crashed), false);
      assert.equal(crashed.status.phase, "Running");
      assert.equal(
        h.cluster.get("apps/v1", "Deployment", "default", "crashy").status.readyReplicas,
        undefined,
      );
      h.cluster.recoverPod("default", pod.metadata.name);
      await h.cluster.idle();
      assert.ok(isReady(h.cluster.get("v1", "Pod", "default", pod.metadata.name)));

      h.cluster.failImage("broken:1");
      await h.client.apply(deployment("broken", 1, {}, "broken:1"));
      await h.cluster.idle();
      const [stuck] = podsOf(h.cluster, "broken");
      assert.equal(stuck.status.phase, "Pending");
      assert.deepEqual(stuck.status.containerStatuses[0].state.waiting, {
        reason: "ImagePullBackOff",
        message: 'Back-off pulling image "broken:1"',
      });
      h.cluster.clearImage("broken:1");
      await h.cluster.idle();
      assert.ok(isReady(podsOf(h.cluster, "broken")[0]));
    } finally {
      await h.close();
    }
  });

  it("collects dependents: Background and Foreground delete them, Orphan keeps them without the owner reference", async () => {
    const h = await harness();
    try {
      await h.client.apply(deployment("gone", 2));
      await h.client.apply(deployment("kept", 1));
      await h.cluster.idle();
      assert.equal(await h.client.delete(deployment("gone", 2)), true);
      await until("pods and ReplicaSet to go", () => podsOf(h.cluster, "gone").length === 0);
      assert.equal(
        h.cluster.list("apps/v1", "ReplicaSet", "default").filter((r) => r.metadata.labels.app === "gone")
          .length,
        0,
      );

      await h.client.apply(deployment("first", 2));
      await h.cluster.idle();
      const fg = await h.client.request("DELETE", "/apis/apps/v1/namespaces/default/deployments/first", {
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Foreground" },
      });
      assert.equal(fg.kind, "Deployment", "the owner stays while its dependents go");
      assert.deepEqual(fg.metadata.finalizers, ["foregroundDeletion"]);
      assert.ok(fg.metadata.deletionTimestamp);
      await until(
        "the owner to go after its dependents",
        () => !h.cluster.get("apps/v1", "Deployment", "default", "first"),
      );
      assert.equal(
        h.cluster.list("apps/v1", "ReplicaSet", "default").filter((r) => r.metadata.labels.app === "first")
          .length,
        0,
      );

      await h.client.request("DELETE", "/apis/apps/v1/namespaces/default/deployments/kept", {
        body: { kind: "DeleteOptions", apiVersion: "v1", propagationPolicy: "Orphan" },
      });
      await h.cluster.idle();
      const [rs] = h.cluster
        .list("apps/v1", "ReplicaSet", "default")
        .filter((r) => r.metadata.labels.app === "kept");
      assert.ok(rs, "the ReplicaSet stays");
      assert.equal(rs.metadata.ownerReferences, undefined);
      assert.equal(podsOf(h.cluster, "kept").length, 1);
    } finally {
      await h.close();
    }
  });

  it("gives LoadBalancer Services an ingress IP, and takes it back when the type changes", async () => {
    const h = await harness();
    try {
      const svc = (type: string) => ({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "front", namespace: "default" },
        spec: { type, selector: { app: "front" }, ports: [{ port: 80, protocol: "TCP" }] },
      });
      await h.client.apply(svc("LoadBalancer"));
      await h.cluster.idle();
      const lb = await h.client.get<any>(svc("LoadBalancer"));
      assert.match(lb.status.loadBalancer.ingress[0].ip, /^198\.18\.\d+\.\d+$/);
      await h.client.apply(svc("ClusterIP"));
      await h.cluster.idle();
      const plain = await h.client.get<any>(svc("ClusterIP"));
      assert.deepEqual(plain.status, { loadBalancer: {} });
      assert.equal(plain.spec.ports[0].nodePort, undefined);
    } finally {
      await h.close();
    }
  });
});

/** Collects the names of ADDED pods of a watch, in order. */
async function fetchWatch(h: SimHarness, path: string, added: string[]) {
  const conn = connectionOf(h.cluster.kubeconfig as unknown as Record<string, unknown>);
  const controller = new AbortController();
  const res = await nodeHttp({ ca: conn.ca })(new URL(conn.server + path), {
    method: "GET",
    headers: { Authorization: conn.authorization! },
    signal: controller.signal,
  });
  void (async () => {
    for await (const line of ndjsonLines(res.chunks(), controller.signal)) {
      const ev = JSON.parse(line);
      if (ev.type === "ADDED") added.push(ev.object.metadata.name);
    }
  })().catch(() => undefined);
  return { stop: () => controller.abort() };
}
