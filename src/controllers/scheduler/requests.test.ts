import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { applicationRequest, isEmpty, podsOf } from "./requests.js";

const GI = 2 ** 30;
const MI = 2 ** 20;

const container = (requests?: Record<string, string>, limits?: Record<string, string>) => ({
  name: "c",
  image: "x",
  resources: { ...(requests ? { requests } : {}), ...(limits ? { limits } : {}) },
});
const podSpec = (containers: any[], initContainers?: any[]) => ({
  spec: { containers, ...(initContainers ? { initContainers } : {}) },
});
const workload = (
  kind: string,
  spec: Record<string, unknown>,
  template = podSpec([container({ cpu: "500m" })]),
) => ({
  apiVersion: "apps/v1",
  kind,
  metadata: { name: kind.toLowerCase() },
  spec: { ...spec, template },
});

describe("an application's request (docs/autoscaling.md, capacity model)", () => {
  it("multiplies each pod template by the pods its workload runs", () => {
    const r = applicationRequest([
      workload("Deployment", { replicas: 3 }),
      workload("StatefulSet", { replicas: 2 }),
      workload("ReplicaSet", {}),
      {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "p" },
        ...podSpec([container({ cpu: "1", memory: "1Gi" })]),
      },
      { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { ports: [{ port: 80 }] } },
    ]);
    // 3 + 2 + 1 pods of 500m, and one pod of 1 CPU / 1Gi.
    assert.equal(r.cpu_millis, 6 * 500 + 1000);
    assert.equal(r.memory_bytes, GI);
    assert.equal(r.pods, 7);
    assert.deepEqual(r.largest, { cpu_millis: 1000, memory_bytes: GI });
  });

  it("leaves DaemonSets out; a Job counts its parallelism, never more than its completions; CronJobs one Job", () => {
    const job = (spec: Record<string, unknown>) => ({
      kind: "Job",
      spec: { ...spec, template: podSpec([container({ cpu: "1" })]) },
    });
    assert.equal(applicationRequest([workload("DaemonSet", {})]).pods, 0);
    assert.equal(applicationRequest([job({})]).cpu_millis, 1000);
    assert.equal(applicationRequest([job({ parallelism: 4 })]).cpu_millis, 4000);
    assert.equal(applicationRequest([job({ parallelism: 4, completions: 2 })]).cpu_millis, 2000);
    assert.equal(applicationRequest([job({ parallelism: 0 })]).pods, 0);
    const cron = {
      kind: "CronJob",
      spec: { jobTemplate: { spec: { parallelism: 2, template: podSpec([container({ cpu: "1" })]) } } },
    };
    assert.equal(applicationRequest([cron]).cpu_millis, 2000);
    assert.equal(podsOf({ kind: "ConfigMap" }), null);
  });

  it("uses limits where requests are absent, per resource, and the init-container maximum", () => {
    const r = applicationRequest([
      workload(
        "Deployment",
        { replicas: 1 },
        podSpec(
          [
            container({ cpu: "100m" }, { cpu: "2", memory: "256Mi" }),
            container(undefined, { memory: "128Mi" }),
          ],
          [container({ cpu: "1500m", memory: "64Mi" })],
        ),
      ),
    ]);
    // Containers: cpu 100m (request wins over the limit) + 0, memory 256Mi + 128Mi (limits); the init
    // container needs 1500m of cpu, more than the containers together.
    assert.equal(r.cpu_millis, 1500);
    assert.equal(r.memory_bytes, 384 * MI);
  });

  it("replicas 0 runs nothing; an untranslated TOSCA app (no manifest) asks for nothing", () => {
    assert.ok(isEmpty(applicationRequest([workload("Deployment", { replicas: 0 })])));
    assert.ok(isEmpty(applicationRequest([])));
    assert.ok(isEmpty(applicationRequest(undefined)));
    const noRequests = applicationRequest([workload("Deployment", { replicas: 2 }, podSpec([container()]))]);
    assert.equal(noRequests.pods, 2, "pods without requests still take pod slots");
    assert.equal(noRequests.cpu_millis, 0);
  });
});
