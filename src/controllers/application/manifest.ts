/**
 * What the application controller puts on a cluster (controllers.md §7.2): the app's manifest, with the
 * hook Secrets and environment injected (§8.2), ports given the protocol server-side apply needs, in an
 * order a cluster accepts (namespaces and CRDs before what lives in them).
 */
import { randomBytes } from "node:crypto";
import { identityOf } from "../../kube/observe.js";

type Obj = Record<string, any>;

export const APP_FINALIZER = "kubernetes_resources_deletion";

export type HookName = "complete" | "shutdown";

export interface HookInjection {
  hook: HookName;
  token: string;
  /** Where the workload sends `PUT {token}`. */
  url: string;
  /** A client certificate for an API that demands one, mounted at `mountPath` (ca-bundle.pem, cert.pem, key.pem). */
  tls?: { mountPath: string; caBundle: string; cert: string; key: string };
}

/** A fresh hook token: URL-safe, 256 bits. */
export function newHookToken(): string {
  return randomBytes(32).toString("base64url");
}

/** `<endpoint>/kubernetes/namespaces/{ns}/applications/{name}/{hook}`, as Krake's hooks send it. */
export function hookUrl(endpoint: string, namespace: string, name: string, hook: HookName): string {
  const base = endpoint.replace(/\/+$/, "");
  return `${base}/kubernetes/namespaces/${encodeURIComponent(namespace)}/applications/${encodeURIComponent(name)}/${hook}`;
}

export const hookEnvNames = (hook: HookName) => ({
  token: `KRAKE_${hook.toUpperCase()}_TOKEN`,
  url: `KRAKE_${hook.toUpperCase()}_URL`,
});

/** Krake's Secret name, so workloads written for Krake find it. */
export const hookSecretName = (app: string, hook: HookName) => `${app}-krake-${hook}-secret-token`;
export const hookCertSecretName = (app: string, hook: HookName) => `${app}-krake-${hook}-secret-cert`;
const hookCertVolume = (hook: HookName) => `krake-${hook}-cert`;

/**
 * The pod specs of a workload object: where hook environment goes. Krake injected into Pods, Deployments
 * and ReplicationControllers only; a Job is the typical user of the complete hook, so every pod-template
 * kind is covered.
 */
export function podSpecsOf(obj: Obj): Obj[] {
  const spec = obj.spec;
  if (!spec || typeof spec !== "object") return [];
  switch (obj.kind) {
    case "Pod":
      return [spec];
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
    case "ReplicaSet":
    case "ReplicationController":
    case "Job":
      return spec.template?.spec ? [spec.template.spec] : [];
    case "CronJob":
      return spec.jobTemplate?.spec?.template?.spec ? [spec.jobTemplate.spec.template.spec] : [];
    default:
      return [];
  }
}

/** Objects that other objects live in or depend on go first; deletion runs the other way round. */
const APPLY_ORDER = [
  "Namespace",
  "CustomResourceDefinition",
  "PriorityClass",
  "StorageClass",
  "ServiceAccount",
  "ClusterRole",
  "Role",
  "ClusterRoleBinding",
  "RoleBinding",
  "Secret",
  "ConfigMap",
  "PersistentVolume",
  "PersistentVolumeClaim",
  "Service",
];

function rank(o: Obj): number {
  const i = APPLY_ORDER.indexOf(String(o.kind));
  return i === -1 ? APPLY_ORDER.length : i;
}

export function inApplyOrder<T extends Obj>(objects: T[]): T[] {
  return objects
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o) - rank(b.o) || a.i - b.i)
    .map((x) => x.o);
}

/**
 * Kubernetes 1.20's server-side apply refuses a port without `protocol` (it is part of the list key), where
 * create and kubectl default it to TCP. Returns a copy with the default written out where it is missing.
 */
export function withPortProtocols(obj: Obj): Obj {
  const copy = structuredClone(obj);
  const fill = (ports: unknown) => {
    if (!Array.isArray(ports)) return;
    for (const p of ports) if (p && typeof p === "object" && !("protocol" in p)) p.protocol = "TCP";
  };
  for (const spec of podSpecsOf(copy))
    for (const list of [spec.containers, spec.initContainers])
      if (Array.isArray(list)) for (const c of list) fill(c?.ports);
  if (copy.kind === "Service") fill(copy.spec?.ports);
  return copy;
}

/**
 * The manifest with the hooks injected: one Secret per namespace the manifest uses holding the token and
 * the URL, and both as environment variables (from that Secret) in every container of every pod template.
 * `defaultNamespace` is where objects without a namespace land (the kubeconfig context's).
 */
export function injectHooks(
  manifest: Obj[],
  appName: string,
  hooks: HookInjection[],
  defaultNamespace: string,
): Obj[] {
  if (hooks.length === 0) return manifest;
  const out = manifest.map((o) => structuredClone(o));
  const namespaces = new Set<string>();
  for (const o of manifest) {
    if (o.kind === "Namespace" || !podSpecsOf(o).length) continue;
    namespaces.add(o.metadata?.namespace || defaultNamespace);
  }
  const base64 = (text: string) => Buffer.from(text).toString("base64");
  const secretIn = (ns: string, name: string, data: Record<string, string>): Obj => {
    const obj: Obj = { apiVersion: "v1", kind: "Secret", metadata: { name }, type: "Opaque", data };
    if (ns !== defaultNamespace) obj.metadata.namespace = ns;
    return obj;
  };
  for (const { hook, token, url, tls } of hooks) {
    const env = hookEnvNames(hook);
    const secret = hookSecretName(appName, hook);
    const certSecret = hookCertSecretName(appName, hook);
    for (const ns of [...namespaces].sort()) {
      out.push(secretIn(ns, secret, { [env.token.toLowerCase()]: base64(token), [env.url.toLowerCase()]: base64(url) }));
      if (tls)
        out.push(
          secretIn(ns, certSecret, {
            "ca-bundle.pem": base64(tls.caBundle),
            "cert.pem": base64(tls.cert),
            "key.pem": base64(tls.key),
          }),
        );
    }
    for (const o of out) {
      for (const spec of podSpecsOf(o)) {
        if (tls) {
          const volumes: Obj[] = Array.isArray(spec.volumes) ? spec.volumes : (spec.volumes = []);
          if (!volumes.some((v) => v?.name === hookCertVolume(hook)))
            volumes.push({ name: hookCertVolume(hook), secret: { secretName: certSecret } });
        }
        for (const c of Array.isArray(spec.containers) ? spec.containers : []) {
          const vars: Obj[] = Array.isArray(c.env) ? c.env : (c.env = []);
          for (const name of [env.token, env.url]) {
            if (vars.some((v) => v?.name === name)) continue;
            vars.push({ name, valueFrom: { secretKeyRef: { name: secret, key: name.toLowerCase() } } });
          }
          if (tls) {
            const mounts: Obj[] = Array.isArray(c.volumeMounts) ? c.volumeMounts : (c.volumeMounts = []);
            if (!mounts.some((m) => m?.name === hookCertVolume(hook)))
              mounts.push({ name: hookCertVolume(hook), mountPath: tls.mountPath, readOnly: true });
          }
        }
      }
    }
  }
  return out;
}

/** The objects of `previous` that `desired` no longer has (by identity). */
export function removedObjects(previous: Obj[], desired: Obj[]): Obj[] {
  const wanted = new Set(desired.map(identityOf));
  return previous.filter((o) => !wanted.has(identityOf(o)));
}

/** A reference to a Kubernetes object: what get and delete need. */
export function refOf(o: Obj): {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
} {
  const md: { name: string; namespace?: string } = { name: String(o.metadata?.name) };
  if (o.metadata?.namespace) md.namespace = String(o.metadata.namespace);
  return { apiVersion: String(o.apiVersion), kind: String(o.kind), metadata: md };
}
