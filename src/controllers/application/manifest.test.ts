import { test } from "node:test";
import assert from "node:assert/strict";
import {
  hookCertSecretName,
  hookSecretName,
  hookUrl,
  inApplyOrder,
  injectHooks,
  newHookToken,
  removedObjects,
  withPortProtocols,
} from "./manifest.js";

const deployment = (name: string, namespace?: string) => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: namespace ? { name, namespace } : { name },
  spec: {
    template: {
      spec: {
        containers: [
          { name: "a", image: "x", ports: [{ containerPort: 80 }, { containerPort: 53, protocol: "UDP" }] },
          { name: "b", image: "y", env: [{ name: "KEEP", value: "1" }] },
        ],
      },
    },
  },
});
const service = (name: string) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name },
  spec: { ports: [{ port: 80 }] },
});

test("withPortProtocols writes TCP where a port has no protocol, in pods and Services, on a copy", () => {
  const d = deployment("d");
  const filled = withPortProtocols(d);
  assert.deepEqual(
    filled.spec.template.spec.containers[0].ports.map((p: any) => p.protocol),
    ["TCP", "UDP"],
  );
  assert.equal((d.spec.template.spec.containers[0]!.ports![0] as any).protocol, undefined, "input untouched");
  assert.equal(withPortProtocols(service("s")).spec.ports[0].protocol, "TCP");
  const cron = {
    kind: "CronJob",
    spec: {
      jobTemplate: { spec: { template: { spec: { containers: [{ ports: [{ containerPort: 1 }] }] } } } },
    },
  };
  assert.equal(
    withPortProtocols(cron).spec.jobTemplate.spec.template.spec.containers[0].ports[0].protocol,
    "TCP",
  );
});

test("inApplyOrder puts namespaces, CRDs, config and Services before workloads, keeping the rest in order", () => {
  const objs = [
    deployment("d1"),
    service("s"),
    { kind: "Namespace", metadata: { name: "n" } },
    { kind: "ConfigMap", metadata: { name: "c" } },
    deployment("d2"),
    { kind: "CustomResourceDefinition", metadata: { name: "crd" } },
  ];
  assert.deepEqual(
    inApplyOrder(objs).map((o: any) => o.metadata.name),
    ["n", "crd", "c", "s", "d1", "d2"],
  );
});

test("injectHooks adds one Secret per namespace with pods, and env from it in every container", () => {
  const token = newHookToken();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/);
  const url = hookUrl("https://krake:8443/", "team a", "app", "complete");
  assert.equal(url, "https://krake:8443/kubernetes/namespaces/team%20a/applications/app/complete");
  const manifest = [deployment("d1"), deployment("d2", "other"), service("s")];
  const out = injectHooks(manifest, "app", [{ hook: "complete", token, url }], "default");
  const secrets = out.filter((o) => o.kind === "Secret");
  assert.deepEqual(
    secrets.map((s) => [s.metadata.name, s.metadata.namespace ?? null]),
    [
      [hookSecretName("app", "complete"), null],
      [hookSecretName("app", "complete"), "other"],
    ],
  );
  assert.equal(Buffer.from(secrets[0]!.data.krake_complete_token, "base64").toString(), token);
  assert.equal(Buffer.from(secrets[0]!.data.krake_complete_url, "base64").toString(), url);
  const containers = out[0]!.spec.template.spec.containers;
  assert.deepEqual(
    containers[1].env.map((e: any) => e.name),
    ["KEEP", "KRAKE_COMPLETE_TOKEN", "KRAKE_COMPLETE_URL"],
  );
  assert.deepEqual(containers[0].env[0].valueFrom, {
    secretKeyRef: { name: "app-krake-complete-secret-token", key: "krake_complete_token" },
  });
  assert.equal((manifest[0] as any).spec.template.spec.containers[0].env, undefined, "input untouched");
  // Injecting again into an already injected manifest adds nothing twice.
  const twice = injectHooks(
    out.filter((o) => o.kind !== "Secret"),
    "app",
    [{ hook: "complete", token, url }],
    "default",
  );
  assert.equal(twice[0]!.spec.template.spec.containers[1].env.length, 3);
  assert.deepEqual(injectHooks(manifest, "app", [], "default"), manifest);
});

test("injectHooks with TLS adds a certificate Secret, mounted read-only in every container once", () => {
  const tls = { mountPath: "/etc/krake_complete_cert", caBundle: "CA", cert: "CERT", key: "KEY" };
  const hook = { hook: "complete" as const, token: "t", url: "https://krake/x", tls };
  const out = injectHooks([deployment("d1"), deployment("d2", "other")], "app", [hook], "default");
  const certSecrets = out.filter((o) => o.kind === "Secret" && o.metadata.name === hookCertSecretName("app", "complete"));
  assert.deepEqual(
    certSecrets.map((s) => s.metadata.namespace ?? null),
    [null, "other"],
  );
  assert.deepEqual(
    Object.fromEntries(Object.entries(certSecrets[0]!.data).map(([k, v]) => [k, Buffer.from(v as string, "base64").toString()])),
    { "ca-bundle.pem": "CA", "cert.pem": "CERT", "key.pem": "KEY" },
  );
  const pod = out[0]!.spec.template.spec;
  assert.deepEqual(pod.volumes, [{ name: "krake-complete-cert", secret: { secretName: "app-krake-complete-secret-cert" } }]);
  for (const c of pod.containers)
    assert.deepEqual(c.volumeMounts, [{ name: "krake-complete-cert", mountPath: "/etc/krake_complete_cert", readOnly: true }]);
  const again = injectHooks(out.filter((o) => o.kind !== "Secret"), "app", [hook], "default");
  assert.equal(again[0]!.spec.template.spec.volumes.length, 1);
  assert.equal(again[0]!.spec.template.spec.containers[0].volumeMounts.length, 1);
});

test("removedObjects finds what left the manifest by identity (namespace included)", () => {
  const prev = [deployment("a"), deployment("b"), deployment("a", "other")];
  const removed = removedObjects(prev, [deployment("a"), deployment("b")]);
  assert.deepEqual(
    removed.map((o: any) => [o.metadata.name, o.metadata.namespace]),
    [["a", "other"]],
  );
});
