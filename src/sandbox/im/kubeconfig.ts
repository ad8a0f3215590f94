/**
 * The kubeconfig the simulated clusters "produce". On a real IM the Kubernetes front end's Ansible run prints it
 * (the `kube_conf` task) and `/outputs` extracts it from the contextualization log; the simulator has no
 * Ansible, so it makes one up — deterministically, from the infrastructure id, so tests can compare values and
 * two clusters never share credentials.
 */
import { createHash } from "node:crypto";

/** What the default kubeconfig points at. */
export interface KubeconfigSettings {
  /** The API server URL written into the kubeconfig (`clusters[0].cluster.server`). */
  server: string;
  /** Base64 PEM of the CA; by default a fixed placeholder that is recognisably not a real certificate. */
  caData?: string;
  /** Bearer token of the admin user; by default derived from the infrastructure id. */
  token?: string;
}

/** A placeholder CA: valid PEM framing around text that says what it is, base64-encoded as kubeconfigs want. */
const PLACEHOLDER_CA = Buffer.from(
  "-----BEGIN CERTIFICATE-----\n" +
    Buffer.from("krake-ts IM simulator placeholder CA; not a real certificate").toString("base64") +
    "\n-----END CERTIFICATE-----\n",
).toString("base64");

/** The admin token of a simulated cluster: stable per infrastructure, different across infrastructures. */
export function simulatedToken(infId: string): string {
  return `imsim.${createHash("sha256").update(infId).digest("hex").slice(0, 32)}`;
}

/**
 * A kubeconfig YAML document with one cluster, one user (token auth) and one context, like the one the EC3
 * Kubernetes role prints. Plain text built by hand so the bytes never depend on a YAML library's style.
 */
export function defaultKubeconfig(infId: string, settings: KubeconfigSettings): string {
  const token = settings.token ?? simulatedToken(infId);
  const ca = settings.caData ?? PLACEHOLDER_CA;
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: kubernetes",
    "  cluster:",
    `    certificate-authority-data: ${ca}`,
    `    server: ${settings.server}`,
    "contexts:",
    "- name: kubernetes-admin@kubernetes",
    "  context:",
    "    cluster: kubernetes",
    "    user: kubernetes-admin",
    "current-context: kubernetes-admin@kubernetes",
    "preferences: {}",
    "users:",
    "- name: kubernetes-admin",
    "  user:",
    `    token: ${token}`,
    "",
  ].join("\n");
}
