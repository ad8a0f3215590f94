import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  LIST_CURRENT,
  LIST_MAX,
  LIST_MIN,
  defaultObserverSchema,
  firstDrift,
  identityOf,
  mangledObserverSchema,
  project,
  schemaFor,
} from "./observe.js";

const deployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "echo", labels: { app: "echo" } },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [{ name: "echo", image: "k8s.gcr.io/echoserver:1.4", ports: [{ containerPort: 8080 }] }],
      },
    },
  },
};
const service = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "echo" },
  spec: { type: "LoadBalancer", ports: [{ port: 80 }] },
};

describe("observer schemas", () => {
  it("the default schema observes every field the manifest sets, lists of exactly its length, identity kept", () => {
    const schema = defaultObserverSchema(deployment) as any;
    assert.equal(schema.apiVersion, "apps/v1");
    assert.equal(schema.kind, "Deployment");
    assert.deepEqual(schema.metadata, { name: "echo", labels: { app: null } });
    assert.equal(schema.spec.replicas, null);
    assert.deepEqual(schema.spec.template.spec.containers.at(-1), { [LIST_MIN]: 1, [LIST_MAX]: 1 });
    assert.deepEqual(schema.spec.template.spec.containers[0].ports, [
      { containerPort: null },
      { [LIST_MIN]: 1, [LIST_MAX]: 1 },
    ]);
    assert.deepEqual((defaultObserverSchema(service) as any).status, { loadBalancer: { ingress: null } });
  });

  it("a user's schema wins for its object; the others get defaults", () => {
    const custom = [{ apiVersion: "v1", kind: "Service", metadata: { name: "echo" }, spec: { ports: null } }];
    const schemas = mangledObserverSchema([deployment, service], custom);
    assert.equal(schemas.length, 2);
    assert.deepEqual(schemaFor(schemas, service), custom[0]);
    assert.equal((schemaFor(schemas, deployment) as any).spec.replicas, null);
    assert.equal(
      identityOf({ ...deployment, metadata: { name: "echo", namespace: "ns" } }),
      "apps/v1/Deployment/ns/echo",
    );
  });

  it("projects what the server answered: watched fields only, lists cut and ended with their length", () => {
    const schema = defaultObserverSchema(deployment);
    const served = structuredClone(deployment) as any;
    served.metadata.uid = "u-1";
    served.spec.template.spec.containers.push({ name: "sidecar", image: "x" });
    served.status = { readyReplicas: 1 };
    const seen = project(served, schema) as any;
    assert.equal(seen.metadata.uid, undefined);
    assert.equal(seen.status, undefined);
    assert.equal(seen.spec.template.spec.containers.length, 2);
    assert.deepEqual(seen.spec.template.spec.containers[1], { [LIST_CURRENT]: 2 });
  });

  it("drift: a changed watched field, a missing one, a list length out of range; server-only fields are not drift", () => {
    const schema = defaultObserverSchema(deployment);
    const seen = (o: unknown) => project(o, schema);
    assert.equal(firstDrift(deployment, seen(deployment), schema), null);
    const scaled = structuredClone(deployment);
    scaled.spec.replicas = 3;
    assert.equal(firstDrift(deployment, seen(scaled), schema), "/spec/replicas");
    const unlabelled = structuredClone(deployment) as any;
    delete unlabelled.metadata.labels;
    assert.equal(firstDrift(deployment, seen(unlabelled), schema), "/metadata/labels");
    const extra = structuredClone(deployment) as any;
    extra.spec.template.spec.containers.push({ name: "sidecar" });
    assert.match(firstDrift(deployment, seen(extra), schema)!, /containers \(length 2 outside \[1, 1\]\)/);
    const lb = defaultObserverSchema(service);
    const withIngress = { ...service, status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } } };
    assert.equal(firstDrift(service, project(withIngress, lb), lb), null);
  });
});
