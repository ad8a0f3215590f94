/**
 * How to reach a cluster from a stored kubeconfig: its current context's server, TLS material and
 * credentials. Stored kubeconfigs hold everything inline (`rok kube cluster register` inlines file references;
 * the infrastructure controller stores IM's output), so nothing here reads files.
 */
import { SECRET_MARKER } from "../resources/secrets.js";

export interface KubeConnection {
  /** The API server URL without a trailing slash. */
  server: string;
  /** The default namespace of the context (`default` when unset). */
  namespace: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  /** `insecure-skip-tls-verify`. */
  insecure: boolean;
  /** `tls-server-name`. */
  servername?: string;
  /** The Authorization header value, when the user authenticates with a token or a password. */
  authorization?: string;
}

export class KubeconfigError extends Error {
  constructor(message: string) {
    super(`kubeconfig: ${message}`);
    this.name = "KubeconfigError";
  }
}

type Doc = Record<string, any>;

function named(list: unknown, name: string | undefined, section: string): Doc {
  if (!Array.isArray(list) || list.length === 0) throw new KubeconfigError(`no ${section}`);
  const entry = name === undefined ? list[0] : list.find((e: Doc) => e?.name === name);
  if (!entry) throw new KubeconfigError(`no ${section} named '${name}'`);
  return entry as Doc;
}

function pem(data: unknown, field: string): Buffer | undefined {
  if (data === undefined || data === null || data === "") return undefined;
  if (typeof data !== "string") throw new KubeconfigError(`${field} must be base64 text`);
  return Buffer.from(data, "base64");
}

/** The connection of the kubeconfig's current context (or its only one). */
export function connectionOf(kubeconfig: Doc): KubeConnection {
  const contexts = kubeconfig.contexts;
  const current: string | undefined = kubeconfig["current-context"] || undefined;
  const context = named(
    contexts,
    Array.isArray(contexts) && contexts.length === 1 ? undefined : current,
    "context",
  );
  const ctx: Doc = context.context ?? {};
  const cluster: Doc = named(kubeconfig.clusters, ctx.cluster, "cluster").cluster ?? {};
  const user: Doc = kubeconfig.users?.length ? (named(kubeconfig.users, ctx.user, "user").user ?? {}) : {};
  const server = typeof cluster.server === "string" ? cluster.server.replace(/\/+$/, "") : "";
  if (!/^https?:\/\/./.test(server)) throw new KubeconfigError(`the cluster has no usable server URL`);
  // A reader without `get` on clusters/secrets got the marker instead of the credentials (src/api/redaction.ts).
  if (Object.values(user).includes(SECRET_MARKER))
    throw new KubeconfigError(
      `the user's credentials are redacted ('${SECRET_MARKER}'): this identity may not get clusters/secrets`,
    );
  for (const unsupported of ["exec", "auth-provider"])
    if (user[unsupported])
      throw new KubeconfigError(
        `users with '${unsupported}' credentials are not supported; use a token or a client certificate`,
      );
  let authorization: string | undefined;
  if (typeof user.token === "string" && user.token) authorization = `Bearer ${user.token}`;
  else if (typeof user.username === "string" && typeof user.password === "string")
    authorization = `Basic ${Buffer.from(`${user.username}:${user.password}`).toString("base64")}`;
  const cert = pem(user["client-certificate-data"], "client-certificate-data");
  const key = pem(user["client-key-data"], "client-key-data");
  if (Boolean(cert) !== Boolean(key))
    throw new KubeconfigError("client-certificate-data and client-key-data must be given together");
  return {
    server,
    namespace: typeof ctx.namespace === "string" && ctx.namespace ? ctx.namespace : "default",
    ca: pem(cluster["certificate-authority-data"], "certificate-authority-data"),
    cert,
    key,
    insecure: cluster["insecure-skip-tls-verify"] === true,
    servername: typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined,
    authorization,
  };
}
