/**
 * Client certificates for the complete and shutdown hooks (controllers.md §8.2, TLS row). When the API
 * demands client certificates, a workload calling its hook needs one: the controller signs a certificate per
 * application and hook with a signing CA the API trusts (CN = the hook's user, which RBAC grants only the
 * hook subresource), stores it in the application's status like the token, and mounts it into the workload.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { createCertificate } from "../../util/x509.js";
import type { HookName } from "./manifest.js";

export interface HookTlsConfig {
  /** The CA that signs hook certificates (PEM); the API's client CA must trust it. */
  signingCertPem: string;
  signingKeyPem: string;
  /** CAs the workload uses to verify the API's serving certificate (PEM bundle). */
  caBundlePem: string;
  /** The user each hook authenticates as (Krake's `hook_user`). */
  users: Record<HookName, string>;
  /** Where the Secret is mounted in every container (Krake's `cert_dest`). */
  mountPaths: Record<HookName, string>;
  /** How long a certificate is valid; it is renewed when less than a fifth of that is left. */
  validityDays: number;
}

export const DEFAULT_HOOK_USERS: Record<HookName, string> = {
  complete: "system:complete-hook",
  shutdown: "system:shutdown-hook",
};

export const DEFAULT_HOOK_MOUNT_PATHS: Record<HookName, string> = {
  complete: "/etc/krake_complete_cert",
  shutdown: "/etc/krake_shutdown_cert",
};

/** Reads and checks the signing pair once, so a wrong file fails at startup and not per application. */
export function loadHookTls(
  files: { cert: string; key: string; caBundle: string },
  read: (file: string) => string,
  options: Partial<Pick<HookTlsConfig, "users" | "mountPaths" | "validityDays">> = {},
): HookTlsConfig {
  const signingCertPem = read(files.cert);
  const signingKeyPem = read(files.key);
  let signing: X509Certificate;
  try {
    signing = new X509Certificate(signingCertPem);
  } catch (err) {
    throw new Error(`${files.cert}: not a PEM certificate (${(err as Error).message})`);
  }
  if (!signing.ca) throw new Error(`${files.cert}: not a CA certificate, it cannot sign hook certificates`);
  try {
    if (!signing.checkPrivateKey(createPrivateKey(signingKeyPem)))
      throw new Error("the key does not belong to the certificate");
  } catch (err) {
    throw new Error(`${files.key}: not the private key of ${files.cert} (${(err as Error).message})`);
  }
  return {
    signingCertPem,
    signingKeyPem,
    caBundlePem: read(files.caBundle),
    users: options.users ?? DEFAULT_HOOK_USERS,
    mountPaths: options.mountPaths ?? DEFAULT_HOOK_MOUNT_PATHS,
    validityDays: options.validityDays ?? 365,
  };
}

/**
 * Certificates already checked, by hook and PEM: every reconcile of an app with hooks asks again, and parsing
 * and verifying two certificates each time would cost far more than the answer. Bounded: cleared when full.
 */
const checked = new Map<string, { signingCertPem: string; validToMs: number }>();
const CHECKED_MAX = 10_000;

/**
 * Whether the stored certificate can stay: it parses, names the hook's user, was signed by the current
 * signing CA (a rotated CA re-issues every certificate) and has enough validity left.
 */
export function hookCertificateIsCurrent(
  certPem: unknown,
  hook: HookName,
  tls: HookTlsConfig,
  now = Date.now(),
): boolean {
  if (typeof certPem !== "string" || !certPem) return false;
  const key = `${hook}\0${tls.users[hook]}\0${certPem}`;
  let verdict = checked.get(key);
  if (verdict?.signingCertPem !== tls.signingCertPem) {
    const validToMs = verifiedValidTo(certPem, hook, tls);
    if (validToMs === null) return false;
    if (checked.size >= CHECKED_MAX) checked.clear();
    verdict = { signingCertPem: tls.signingCertPem, validToMs };
    checked.set(key, verdict);
  }
  const renewBefore = (tls.validityDays * 24 * 60 * 60_000) / 5;
  return verdict.validToMs - now > renewBefore;
}

/** The certificate's end of validity, or null when it is not the hook's, by the current signing CA. */
function verifiedValidTo(certPem: string, hook: HookName, tls: HookTlsConfig): number | null {
  try {
    const cert = new X509Certificate(certPem);
    const signing = new X509Certificate(tls.signingCertPem);
    if (!cert.checkIssued(signing) || !cert.verify(signing.publicKey)) return null;
    if (!cert.subject.split("\n").includes(`CN=${tls.users[hook]}`)) return null;
    return Date.parse(cert.validTo);
  } catch {
    return null;
  }
}

/** A new client certificate for `hook`; the certificate file carries the signing CA too (the chain). */
export function issueHookCertificate(hook: HookName, tls: HookTlsConfig): { cert: string; key: string } {
  const leaf = createCertificate({
    commonName: tls.users[hook],
    issuer: { certPem: tls.signingCertPem, keyPem: tls.signingKeyPem },
    extKeyUsage: ["clientAuth"],
    validityDays: tls.validityDays,
  });
  return { cert: leaf.certPem + tls.signingCertPem, key: leaf.keyPem };
}
