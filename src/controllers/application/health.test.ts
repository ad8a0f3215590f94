import { test } from "node:test";
import assert from "node:assert/strict";
import { healthOf, servicesOf } from "./health.js";

const deploy = (replicas: number | undefined, ready?: number) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "d" },
  spec: replicas === undefined ? {} : { replicas },
  status: ready === undefined ? {} : { readyReplicas: ready },
});

test("Deployments: replicas against ready replicas; missing spec.replicas means 1", () => {
  assert.deepEqual(healthOf([deploy(2, 2)], []).health, {
    desired_pods: 2,
    running_pods: 2,
    completed_pods: 0,
    failed_pods: 0,
  });
  assert.equal(healthOf([deploy(2, 2)], []).state, "RUNNING");
  const degraded = healthOf([deploy(3, 1)], []);
  assert.equal(degraded.state, "DEGRADED");
  assert.deepEqual(degraded.problems, ["Deployment d: 1/3 replicas ready"]);
  assert.equal(healthOf([deploy(undefined)], []).state, "DEGRADED");
  assert.equal(healthOf([deploy(undefined, 1)], []).health.desired_pods, 1);
});

test("DaemonSets compare desired with ready (not Krake's swapped fields)", () => {
  const ds = (desired: number, ready: number, current = desired) => ({
    kind: "DaemonSet",
    metadata: { name: "ds" },
    status: { desiredNumberScheduled: desired, numberReady: ready, currentNumberScheduled: current },
  });
  assert.equal(healthOf([ds(3, 3)], []).state, "RUNNING");
  assert.equal(healthOf([ds(3, 2, 3)], []).state, "DEGRADED");
});

test("Jobs: completions, active, succeeded, failed; all done is COMPLETED", () => {
  const job = (status: object, completions?: number) => ({
    kind: "Job",
    metadata: { name: "j" },
    spec: completions ? { completions } : {},
    status,
  });
  assert.deepEqual(healthOf([job({ active: 1 })], []).health, {
    desired_pods: 1,
    running_pods: 1,
    completed_pods: 0,
    failed_pods: 0,
  });
  assert.equal(healthOf([job({ active: 1 })], []).state, "RUNNING");
  assert.equal(healthOf([job({ succeeded: 3 }, 3)], []).state, "COMPLETED");
  assert.equal(
    healthOf([job({ failed: 6, conditions: [{ type: "Failed", status: "True" }] })], []).state,
    "DEGRADED",
  );
});

test("Pods: running and ready, crash loops, terminated by restart policy", () => {
  const pod = (status: object, restartPolicy = "Always") => ({
    kind: "Pod",
    metadata: { name: "p" },
    spec: { restartPolicy },
    status,
  });
  assert.equal(
    healthOf([pod({ phase: "Running", conditions: [{ type: "Ready", status: "True" }] })], []).state,
    "RUNNING",
  );
  assert.equal(
    healthOf(
      [
        pod({
          phase: "Running",
          containerStatuses: [{ state: { waiting: { reason: "CrashLoopBackOff" } } }],
        }),
      ],
      [],
    ).state,
    "DEGRADED",
  );
  assert.equal(healthOf([pod({ phase: "Succeeded" }, "Never")], []).state, "COMPLETED");
  assert.equal(healthOf([pod({ phase: "Succeeded" }, "Always")], []).state, "RESTARTING");
  assert.equal(healthOf([pod({ phase: "Pending" })], []).state, "DEGRADED");
});

test("sums over objects; a missing workload is a problem; objects without pods do not count", () => {
  const cm = { kind: "ConfigMap", metadata: { name: "c" } };
  const h = healthOf([deploy(2, 2), cm, null], [deploy(2), cm, { ...deploy(1), metadata: { name: "gone" } }]);
  assert.equal(h.state, "DEGRADED");
  assert.deepEqual(h.problems, ["Deployment gone is missing"]);
  assert.equal(healthOf([cm], [cm]).state, "RUNNING");
});

test("services: NodePort on the cluster's host, LoadBalancer ingress or <pending>, ClusterIP none", () => {
  const svc = (name: string, spec: object, status: object = {}) => ({
    kind: "Service",
    metadata: { name },
    spec,
    status,
  });
  assert.deepEqual(
    servicesOf(
      [
        svc("np", { type: "NodePort", ports: [{ port: 80, nodePort: 30080 }] }),
        svc(
          "lb",
          { type: "LoadBalancer", ports: [{ port: 443, nodePort: 31000 }] },
          { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } },
        ),
        svc("lb2", { type: "LoadBalancer", ports: [{ port: 8080 }] }),
        svc("internal", { type: "ClusterIP", ports: [{ port: 80 }] }),
        null,
      ],
      "10.0.0.1",
    ),
    { np: "10.0.0.1:30080", lb: "1.2.3.4:443", lb2: "<pending>:8080" },
  );
});
