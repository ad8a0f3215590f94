/**
 * `krake api` configuration: built-in defaults, then a YAML file (Krake's api.yaml keys, plus ours), then
 * environment variables, then command-line flags — each later source overrides the earlier. Every value is
 * checked, and a bad one is reported with where it came from and which key it is.
 */
import { readFileSync } from "node:fs";
import YAML from "yaml";
import { DEFAULT_PROBLEM_BASE_URL } from "./errors.js";
import { resolveAuthentication } from "./auth/config.js";
import { DEFAULT_KEYSTONE_ENDPOINT } from "./auth/keystone.js";
import { DEFAULT_KEYCLOAK_ENDPOINT } from "./auth/keycloak.js";

/** How to reach etcd beyond its URLs: TLS files and a user (each field present only when configured). */
export interface EtcdAccess {
  /** PEM files: the CA that signed etcd's certificate, and our client certificate and key. */
  tls?: { ca?: string; cert?: string; key?: string };
  /** etcd's own authentication; the password is read from `passwordFile` when the store is opened. */
  user?: string;
  passwordFile?: string;
}

/** Options every store kind takes; present only when configured. */
export interface CommonStoreConfig {
  /** Encryption at rest (src/store/encryption/): a YAML list of named keys, the first encrypts. */
  encryptionKeyFile?: string;
}

export type StoreConfig = CommonStoreConfig &
  (
    | { type: "embedded"; dataDir: string; fsync: boolean; historyLimit: number }
    | ({ type: "etcd"; endpoints: string[]; prefix: string } & EtcdAccess)
  );

export interface ApiConfig {
  host: string;
  port: number;
  /** API processes sharing the port (etcd only: the embedded store lives in one process). */
  workers: number;
  store: StoreConfig;
  retryTransactions: number;
  tls: { enabled: boolean; cert?: string; key?: string; clientCa?: string };
  authentication: AuthenticationConfig;
  authorization: "always-allow" | "always-deny" | "RBAC";
  problemBaseUrl: string;
  bodyLimit: number;
  watchMaxBufferedBytes: number;
  watchSlowGraceMs: number;
  blockingTimeoutMs: number;
  shutdownTimeoutMs: number;
  logLevel: string;
  logRequests: boolean;
  /** Objects written at startup when missing: files, and api.yaml's default_roles/default_role_bindings. */
  bootstrap: { files: string[]; objects: { doc: unknown; where: string }[] };
  /** Sustained requests per second per user (anonymous: per client address); 0 = no rate limit. */
  rateLimit: number;
  rateBurst: number;
  /** User names or `prefix*` patterns exempt from the rate and watch limits. */
  rateLimitExempt: string[];
  /** 0 = no limit. */
  maxWatchesPerUser: number;
  /** File the audit log is appended to, or null for none. */
  auditLog: string | null;
}

/** Authenticators by their name in `authentication-order`. */
export const AUTHENTICATOR_NAMES = ["static", "tls", "token", "oidc", "keystone", "keycloak"] as const;
export type AuthenticatorName = (typeof AUTHENTICATOR_NAMES)[number];

export interface AuthenticationConfig {
  allowAnonymous: boolean;
  staticUser: string | null;
  corsOrigin: string;
  /** The configured authenticators, in the order they are asked. */
  order: AuthenticatorName[];
  tokenFile: string | null;
  oidc: {
    issuer: string;
    audiences: string[];
    usernameClaim: string;
    usernamePrefix: string;
    caFile: string | null;
  } | null;
  keystone: { endpoint: string; cacheTtlMs: number } | null;
  keycloak: { endpoint: string; realm: string } | null;
}

/** Flat option names shared by the YAML file (nested keys), the environment and the flags. */
export interface ApiOptions {
  host?: string;
  port?: string | number;
  workers?: string | number;
  dataDir?: string;
  fsync?: boolean | string;
  etcd?: string | string[];
  etcdPrefix?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
  encryptionKeyFile?: string;
  retryTransactions?: string | number;
  tlsCert?: string;
  tlsKey?: string;
  tlsClientCa?: string;
  allowAnonymous?: boolean | string;
  staticUser?: string;
  tokenFile?: string;
  authenticationOrder?: string | string[];
  oidcIssuerUrl?: string;
  oidcAudience?: string | string[];
  oidcUsernameClaim?: string;
  oidcUsernamePrefix?: string;
  oidcCaFile?: string;
  keystoneEndpoint?: string;
  keystoneCacheTtl?: string | number;
  keycloakEndpoint?: string;
  keycloakRealm?: string;
  authorization?: string;
  corsOrigin?: string;
  problemBaseUrl?: string;
  bodyLimit?: string | number;
  watchBufferBytes?: string | number;
  watchSlowGrace?: string | number;
  watchHistory?: string | number;
  blockingTimeout?: string | number;
  shutdownTimeout?: string | number;
  logLevel?: string;
  logRequests?: boolean | string;
  bootstrap?: string | string[];
  /** Only from the file (Krake's `default_roles`, `default_role_bindings`). */
  defaultObjects?: { doc: unknown; where: string }[];
  rateLimit?: string | number;
  rateBurst?: string | number;
  rateLimitExempt?: string | string[];
  maxWatchesPerUser?: string | number;
  auditLog?: string;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Options that can come from the environment (not the file-only default objects). */
type EnvOption = Exclude<keyof ApiOptions, "defaultObjects">;

const ENV: Record<EnvOption, string> = {
  host: "KRAKE_API_HOST",
  port: "KRAKE_API_PORT",
  workers: "KRAKE_API_WORKERS",
  dataDir: "KRAKE_DATA_DIR",
  fsync: "KRAKE_FSYNC",
  etcd: "KRAKE_ETCD",
  etcdPrefix: "KRAKE_ETCD_PREFIX",
  etcdCa: "KRAKE_ETCD_CA",
  etcdCert: "KRAKE_ETCD_CERT",
  etcdKey: "KRAKE_ETCD_KEY",
  etcdUser: "KRAKE_ETCD_USER",
  etcdPasswordFile: "KRAKE_ETCD_PASSWORD_FILE",
  encryptionKeyFile: "KRAKE_ENCRYPTION_KEY_FILE",
  retryTransactions: "KRAKE_RETRY_TRANSACTIONS",
  tlsCert: "KRAKE_TLS_CERT",
  tlsKey: "KRAKE_TLS_KEY",
  tlsClientCa: "KRAKE_TLS_CLIENT_CA",
  allowAnonymous: "KRAKE_ALLOW_ANONYMOUS",
  staticUser: "KRAKE_STATIC_USER",
  tokenFile: "KRAKE_TOKEN_FILE",
  authenticationOrder: "KRAKE_AUTHENTICATION_ORDER",
  oidcIssuerUrl: "KRAKE_OIDC_ISSUER_URL",
  oidcAudience: "KRAKE_OIDC_AUDIENCE",
  oidcUsernameClaim: "KRAKE_OIDC_USERNAME_CLAIM",
  oidcUsernamePrefix: "KRAKE_OIDC_USERNAME_PREFIX",
  oidcCaFile: "KRAKE_OIDC_CA_FILE",
  keystoneEndpoint: "KRAKE_KEYSTONE_ENDPOINT",
  keystoneCacheTtl: "KRAKE_KEYSTONE_CACHE_TTL",
  keycloakEndpoint: "KRAKE_KEYCLOAK_ENDPOINT",
  keycloakRealm: "KRAKE_KEYCLOAK_REALM",
  authorization: "KRAKE_AUTHORIZATION",
  corsOrigin: "KRAKE_CORS_ORIGIN",
  problemBaseUrl: "KRAKE_PROBLEM_BASE_URL",
  bodyLimit: "KRAKE_BODY_LIMIT",
  watchBufferBytes: "KRAKE_WATCH_BUFFER_BYTES",
  watchSlowGrace: "KRAKE_WATCH_SLOW_GRACE",
  watchHistory: "KRAKE_WATCH_HISTORY",
  blockingTimeout: "KRAKE_BLOCKING_TIMEOUT",
  shutdownTimeout: "KRAKE_SHUTDOWN_TIMEOUT",
  logLevel: "KRAKE_LOG_LEVEL",
  logRequests: "KRAKE_LOG_REQUESTS",
  bootstrap: "KRAKE_API_BOOTSTRAP",
  rateLimit: "KRAKE_RATE_LIMIT",
  rateBurst: "KRAKE_RATE_BURST",
  rateLimitExempt: "KRAKE_RATE_LIMIT_EXEMPT",
  maxWatchesPerUser: "KRAKE_MAX_WATCHES_PER_USER",
  auditLog: "KRAKE_AUDIT_LOG",
};

export const ENV_VARIABLES = ENV;

/** Reads Krake's api.yaml layout (and our additions) into flat options. */
export function optionsFromFile(path: string): ApiOptions {
  let doc: any;
  try {
    doc = YAML.parse(readFileSync(path, "utf8"), { maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(`config file ${path}: must be a mapping`);
  const etcd = doc.etcd ?? {};
  const tls = doc.tls ?? {};
  const authn = doc.authentication ?? {};
  const staticStrategy = authn.strategy?.static ?? {};
  const keystone = authn.strategy?.keystone ?? {};
  const keycloak = authn.strategy?.keycloak ?? {};
  const oidc = authn.oidc ?? {};
  const opts: ApiOptions = {
    host: doc.host,
    port: doc.port,
    workers: doc.workers,
    dataDir: doc.data_dir,
    fsync: doc.fsync,
    etcd: etcd.endpoints ?? (etcd.host ? `http://${etcd.host}:${etcd.port ?? 2379}` : undefined),
    etcdPrefix: etcd.prefix,
    etcdCa: etcd.ca,
    etcdCert: etcd.cert,
    etcdKey: etcd.key,
    etcdUser: etcd.user,
    etcdPasswordFile: etcd.password_file,
    encryptionKeyFile: doc.encryption?.key_file,
    retryTransactions: etcd.retry_transactions,
    tlsCert: tls.enabled ? tls.cert : undefined,
    tlsKey: tls.enabled ? tls.key : undefined,
    tlsClientCa: tls.enabled ? tls.client_ca : undefined,
    allowAnonymous: authn.allow_anonymous,
    staticUser: staticStrategy.enabled ? (staticStrategy.name ?? "system") : undefined,
    tokenFile: authn.token_file,
    authenticationOrder: authn.order,
    oidcIssuerUrl: oidc.issuer_url,
    oidcAudience: oidc.audience,
    oidcUsernameClaim: oidc.username_claim,
    oidcUsernamePrefix: oidc.username_prefix,
    oidcCaFile: oidc.ca_file,
    keystoneEndpoint: keystone.enabled ? (keystone.endpoint ?? DEFAULT_KEYSTONE_ENDPOINT) : undefined,
    keystoneCacheTtl: keystone.cache_ttl,
    keycloakEndpoint: keycloak.enabled ? (keycloak.endpoint ?? DEFAULT_KEYCLOAK_ENDPOINT) : undefined,
    keycloakRealm: keycloak.enabled ? keycloak.realm : undefined,
    authorization: doc.authorization,
    corsOrigin: authn.cors_origin,
    problemBaseUrl: doc.docs?.problem_base_url,
    bodyLimit: doc.limits?.body_bytes,
    watchBufferBytes: doc.limits?.watch_buffer_bytes,
    watchSlowGrace: doc.limits?.watch_slow_grace,
    watchHistory: doc.limits?.watch_history,
    blockingTimeout: doc.blocking_timeout,
    shutdownTimeout: doc.shutdown_timeout,
    logLevel: typeof doc.log === "object" ? doc.log?.level : doc.log,
    logRequests: doc.log_requests,
    bootstrap: doc.bootstrap,
    defaultObjects: defaultObjectsOf(doc, path),
    rateLimit: doc.limits?.rate_limit,
    rateBurst: doc.limits?.rate_burst,
    rateLimitExempt: doc.limits?.rate_limit_exempt,
    maxWatchesPerUser: doc.limits?.watches_per_user,
    auditLog: doc.audit_log,
  };
  // The store kind is decided by `store:`; a Krake file without it that names etcd means etcd.
  if (doc.store === "embedded") opts.etcd = undefined;
  return opts;
}

/** Krake's `default_roles` and `default_role_bindings`: lists of Role and RoleBinding objects. */
function defaultObjectsOf(doc: any, path: string): ApiOptions["defaultObjects"] {
  const objects: { doc: unknown; where: string }[] = [];
  for (const [key, kind] of [["default_roles", "Role"], ["default_role_bindings", "RoleBinding"]] as const) {
    const list = doc[key];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) throw new ConfigError(`config file ${path}: ${key} must be a list of ${kind} objects`);
    list.forEach((item, i) => objects.push({ doc: { api: "core", kind, ...item }, where: `${path}, ${key}[${i}]` }));
  }
  return objects.length > 0 ? objects : undefined;
}

export function optionsFromEnv(env: NodeJS.ProcessEnv): ApiOptions {
  const opts: ApiOptions = {};
  for (const [key, name] of Object.entries(ENV) as [EnvOption, string][]) {
    if (env[name] !== undefined && env[name] !== "") (opts as any)[key] = env[name];
  }
  return opts;
}

export function int(value: unknown, name: string, min: number, max: number): number {
  const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(`${name}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return n;
}

export function bool(value: unknown, name: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string") {
    if (/^(true|1|yes|on)$/i.test(value)) return true;
    if (/^(false|0|no|off)$/i.test(value)) return false;
  }
  throw new ConfigError(`${name}: expected true or false, got ${JSON.stringify(value)}`);
}

export function seconds(value: unknown, name: string): number {
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${name}: expected a number of seconds ≥ 0, got ${JSON.stringify(value)}`);
  return Math.round(n * 1000);
}

function rate(value: unknown, name: string): number {
  const n = typeof value === "number" ? value : typeof value === "string" && value.trim() !== "" ? Number(value) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 1_000_000) {
    throw new ConfigError(`${name}: expected a number of requests per second from 0 (off) to 1000000, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** A YAML list or a comma-separated string of user names and `prefix*` patterns. */
function userPatterns(value: unknown, name: string): string[] {
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : null;
  if (items === null || items.some((i) => typeof i !== "string")) {
    throw new ConfigError(`${name}: expected user names or prefix* patterns, comma-separated, got ${JSON.stringify(value)}`);
  }
  const patterns = (items as string[]).map((i) => i.trim()).filter(Boolean);
  const bad = patterns.find((p) => p.indexOf("*") !== -1 && p.indexOf("*") !== p.length - 1);
  if (bad !== undefined) throw new ConfigError(`${name}: '*' may only end a pattern, got ${JSON.stringify(bad)}`);
  return patterns;
}

/** Merges the sources (later wins) and checks every value. */
export function resolveApiConfig(...sources: ApiOptions[]): ApiConfig {
  const o: ApiOptions = {};
  for (const s of sources) for (const [k, v] of Object.entries(s)) if (v !== undefined) (o as any)[k] = v;

  const endpoints = (Array.isArray(o.etcd) ? o.etcd : o.etcd ? [o.etcd] : [])
    .flatMap((e) => String(e).split(","))
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new ConfigError(`etcd: expected URLs like http://127.0.0.1:2379, got ${JSON.stringify(e)}`);
  }
  const etcdAccess = resolveEtcdAccess(o, endpoints);
  const authorization = o.authorization ?? "always-allow";
  if (!["always-allow", "always-deny", "RBAC"].includes(authorization)) {
    throw new ConfigError(`authorization: expected always-allow, always-deny or RBAC, got ${JSON.stringify(authorization)}`);
  }
  const tlsEnabled = Boolean(o.tlsCert || o.tlsKey);
  if (tlsEnabled && !(o.tlsCert && o.tlsKey)) throw new ConfigError("tls: both a certificate (tls-cert) and a key (tls-key) are needed");
  if (o.tlsClientCa && !tlsEnabled) throw new ConfigError("tls-client-ca: client certificates need TLS (tls-cert and tls-key)");
  const logLevel = o.logLevel ?? "info";
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    throw new ConfigError(`log-level: expected one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(logLevel)}`);
  }
  const workers = int(o.workers ?? 1, "workers", 1, 64);
  const rateLimit = rate(o.rateLimit ?? 100, "rate-limit");
  if (workers > 1 && endpoints.length === 0) {
    throw new ConfigError("workers: several API processes need a shared store: add --etcd (the embedded store lives in one process)");
  }
  const host = o.host ?? "127.0.0.1";
  const store: StoreConfig =
    endpoints.length > 0
      ? { type: "etcd", endpoints, prefix: o.etcdPrefix ?? "", ...etcdAccess }
      : {
          type: "embedded",
          dataDir: o.dataDir ?? "./data",
          fsync: o.fsync === undefined ? true : bool(o.fsync, "fsync"),
          historyLimit: int(o.watchHistory ?? 50_000, "watch-history", 100, 10_000_000),
        };
  if (o.encryptionKeyFile) store.encryptionKeyFile = String(o.encryptionKeyFile);
  return {
    host,
    workers,
    port: int(o.port ?? 8080, "port", 0, 65535),
    store,
    retryTransactions: int(o.retryTransactions ?? 5, "retry-transactions", 0, 100),
    tls: { enabled: tlsEnabled, cert: o.tlsCert, key: o.tlsKey, clientCa: o.tlsClientCa },
    authentication: resolveAuthentication(o, host, tlsEnabled && Boolean(o.tlsClientCa)),
    authorization: authorization as ApiConfig["authorization"],
    problemBaseUrl: o.problemBaseUrl ?? DEFAULT_PROBLEM_BASE_URL,
    bodyLimit: int(o.bodyLimit ?? 4 * 1024 * 1024, "body-limit", 1024, 1024 * 1024 * 1024),
    watchMaxBufferedBytes: int(o.watchBufferBytes ?? 16 * 1024 * 1024, "watch-buffer-bytes", 64 * 1024, 1024 * 1024 * 1024),
    watchSlowGraceMs: seconds(o.watchSlowGrace ?? 10, "watch-slow-grace"),
    blockingTimeoutMs: seconds(o.blockingTimeout ?? 60, "blocking-timeout"),
    shutdownTimeoutMs: seconds(o.shutdownTimeout ?? 10, "shutdown-timeout"),
    logLevel,
    logRequests: o.logRequests === undefined ? false : bool(o.logRequests, "log-requests"),
    bootstrap: {
      files: (Array.isArray(o.bootstrap) ? o.bootstrap : o.bootstrap ? [o.bootstrap] : [])
        .flatMap((f) => String(f).split(","))
        .map((f) => f.trim())
        .filter(Boolean),
      objects: o.defaultObjects ?? [],
    },
    rateLimit,
    // Twice the rate: a client that was quiet for two seconds may catch up at once.
    rateBurst: int(o.rateBurst ?? Math.max(1, Math.ceil(2 * rateLimit)), "rate-burst", 1, 10_000_000),
    rateLimitExempt: userPatterns(o.rateLimitExempt ?? "system:*", "rate-limit-exempt"),
    maxWatchesPerUser: int(o.maxWatchesPerUser ?? 100, "max-watches-per-user", 0, 1_000_000),
    auditLog: o.auditLog ? String(o.auditLog) : null,
  };
}

/**
 * TLS and user for etcd, checked: a certificate needs its key, a user needs a password file, and TLS needs
 * https:// URLs (gRPC would otherwise speak TLS to a plaintext port and fail obscurely).
 */
export function resolveEtcdAccess(o: ApiOptions, endpoints: string[]): EtcdAccess {
  const access: EtcdAccess = {};
  const given = (["etcdCa", "etcdCert", "etcdKey", "etcdUser", "etcdPasswordFile"] as const).filter((k) => o[k]);
  if (given.length === 0) return access;
  const flag = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
  if (endpoints.length === 0) throw new ConfigError(`${flag(given[0])}: applies to etcd only: add --etcd`);
  if (Boolean(o.etcdCert) !== Boolean(o.etcdKey)) {
    throw new ConfigError("etcd-cert: a client certificate (etcd-cert) and its key (etcd-key) go together");
  }
  if (Boolean(o.etcdUser) !== Boolean(o.etcdPasswordFile)) {
    throw new ConfigError("etcd-user: an etcd user (etcd-user) needs its password file (etcd-password-file), and the other way round");
  }
  if (o.etcdCa || o.etcdCert) {
    const plain = endpoints.find((e) => !e.startsWith("https://"));
    if (plain) throw new ConfigError(`etcd: TLS (etcd-ca, etcd-cert) needs https:// URLs, got ${JSON.stringify(plain)}`);
    access.tls = {};
    if (o.etcdCa) access.tls.ca = String(o.etcdCa);
    if (o.etcdCert) access.tls.cert = String(o.etcdCert);
    if (o.etcdKey) access.tls.key = String(o.etcdKey);
  }
  if (o.etcdUser) {
    access.user = String(o.etcdUser);
    access.passwordFile = String(o.etcdPasswordFile);
  }
  return access;
}
