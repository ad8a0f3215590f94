/**
 * A real, throw-away Kubernetes API server (v1.20.2) for integration tests: Kubernetes' own kube-apiserver
 * over a throw-away etcd (test/support/etcd.ts), on a free loopback port, HTTPS only, with a fresh PKI, a
 * static admin token (group system:masters) and RBAC. Optionally kube-controller-manager too, so that
 * Deployments get ReplicaSets and Pods, namespaces get their default ServiceAccount and deletions finish.
 * There is no kubelet and no scheduler: Pods stay Pending.
 *
 * The binaries are built from Debian's `kubernetes` source package by scripts/kube/build.sh and cached in
 * `${KRAKE_KUBE_CACHE:-~/.cache/krake/kube-1.20.2}/bin`; the first start on a machine runs that build
 * (several minutes, progress on stderr), later ones find the binaries.
 *
 * Process lifetime is test/support/daemon.ts's: SIGTERM/SIGKILL on close(), an exit hook and a watchdog
 * for whatever a test forgets, the stderr tail in every startup error.
 */
import { execFile, spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DaemonProcess, freePort } from "./daemon.js";
import { startEtcd, type TestEtcd } from "./etcd.js";

const execFileP = promisify(execFile);

/** From dist/test/support/ (compiled) or test/support/ (tsx) alike: both are three levels below the root. */
export const KUBE_BUILD_SCRIPT = fileURLToPath(new URL("../../../scripts/kube/build.sh", import.meta.url));

export const KUBE_BINARIES = ["kube-apiserver", "kube-controller-manager"] as const;

/** Where scripts/kube/build.sh puts the binaries (same default as the script). */
export function kubeBinDir(): string {
  const cache = process.env.KRAKE_KUBE_CACHE || join(homedir(), ".cache", "krake", "kube-1.20.2");
  return join(cache, "bin");
}

/** A kubeconfig as kubectl reads it (JSON is YAML, so `JSON.stringify` of it is a valid kubeconfig file). */
export interface Kubeconfig {
  apiVersion: "v1";
  kind: "Config";
  clusters: { name: string; cluster: { server: string; "certificate-authority-data": string } }[];
  users: { name: string; user: { token: string } }[];
  contexts: { name: string; context: { cluster: string; user: string; namespace?: string } }[];
  "current-context": string;
  preferences: Record<string, never>;
}

export interface KubeApiServer {
  /** `https://127.0.0.1:PORT`. */
  url: string;
  /** Bearer token of `admin` (group system:masters: every request is allowed). */
  token: string;
  /** The CA that signed the serving certificate, base64 of the PEM (kubeconfig's certificate-authority-data). */
  caData: string;
  /** The CA PEM itself, for `https.request({ ca })`. */
  caPem: string;
  kubeconfig: Kubeconfig;
  /** The kubeconfig written as a file (for kubectl or a subprocess). */
  kubeconfigPath: string;
  etcd: TestEtcd;
  /** How long the startup took: kube-apiserver to /readyz, then the controller manager to act (if run). */
  timings: { apiserverReadyMs: number; controllerManagerReadyMs?: number };
  /** Kills kube-controller-manager, kube-apiserver and etcd, and removes the temp dirs. Idempotent. */
  close(): Promise<void>;
}

export interface StartKubeApiServerOptions {
  /** Also run kube-controller-manager (Deployments -> ReplicaSets -> Pods, namespace deletion, GC). */
  controllerManager?: boolean;
  /**
   * Admission plugins to run. Default: only NamespaceLifecycle. Every other plugin the server would enable by
   * default is disabled (notably ServiceAccount, so Pods can be created without the controller manager).
   */
  admissionPlugins?: string[];
  /** How long to wait for /readyz (and for the controller manager to act). Default 60 s. */
  readyTimeoutMs?: number;
  /** How long a first-time build may take. Default 45 min. */
  buildTimeoutMs?: number;
  /** Extra kube-apiserver flags (`--name=value`). */
  extraArgs?: string[];
  signal?: AbortSignal;
}

/** kube-apiserver 1.20's default-on admission plugins (pkg/kubeapiserver/options/plugins.go). */
const DEFAULT_ON_ADMISSION_PLUGINS = [
  "NamespaceLifecycle",
  "LimitRanger",
  "ServiceAccount",
  "DefaultStorageClass",
  "PersistentVolumeClaimResize",
  "DefaultTolerationSeconds",
  "MutatingAdmissionWebhook",
  "ValidatingAdmissionWebhook",
  "ResourceQuota",
  "StorageObjectInUseProtection",
  "Priority",
  "TaintNodesByCondition",
  "RuntimeClass",
  "CertificateApproval",
  "CertificateSigning",
  "CertificateSubjectRestriction",
  "DefaultIngressClass",
];

const DEFAULT_READY_TIMEOUT_MS = 60_000;
const DEFAULT_BUILD_TIMEOUT_MS = 45 * 60_000;
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error("startKubeApiServer aborted");
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

let building: Promise<string> | undefined;

/**
 * The directory holding kube-apiserver and kube-controller-manager; runs scripts/kube/build.sh first if
 * either is missing. One build per process (the script's flock covers concurrent test processes); its
 * progress goes to our stderr.
 */
export async function ensureKubeBinaries(timeoutMs = DEFAULT_BUILD_TIMEOUT_MS): Promise<string> {
  const bin = kubeBinDir();
  const present = await Promise.all(KUBE_BINARIES.map((b) => executable(join(bin, b))));
  if (present.every(Boolean)) return bin;
  building ??= runBuild(timeoutMs).finally(() => (building = undefined));
  return building;
}

function runBuild(timeoutMs: number): Promise<string> {
  process.stderr.write(
    `kube-apiserver: binaries missing in ${kubeBinDir()}; building Kubernetes v1.20.2 with ${KUBE_BUILD_SCRIPT} ` +
      `(takes several minutes the first time; KRAKE_SKIP_KUBE=1 skips the Kubernetes tests)\n`,
  );
  const started = Date.now();
  // Detached, in its own process group: our timeout kills the whole group (go build's compilers included),
  // while a runner that kills this test process leaves the build running to completion (it ignores SIGPIPE),
  // so the next run finds the binaries or waits on the script's lock instead of starting over.
  const child = spawn("bash", [KUBE_BUILD_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], detached: true });
  let stdout = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d: string) => (stdout += d));
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      reject(new Error(`${KUBE_BUILD_SCRIPT} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`${KUBE_BUILD_SCRIPT} failed (code ${code}, signal ${signal}); its log is above`));
        return;
      }
      process.stderr.write(
        `kube-apiserver: build finished in ${Math.round((Date.now() - started) / 1000)} s\n`,
      );
      resolve(stdout.trim().split("\n").at(-1) || kubeBinDir());
    });
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileP("openssl", args, { cwd });
  } catch (err) {
    const e = err as { stderr?: string };
    throw new Error(`openssl ${args.join(" ")} failed: ${e.stderr ?? String(err)}`);
  }
}

interface Pki {
  caCert: string;
  caPem: string;
  serverCert: string;
  serverKey: string;
  saKey: string;
}

/** A CA, a serving certificate for 127.0.0.1/localhost/kubernetes.default..., a service-account key. */
async function makePki(dir: string): Promise<Pki> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=krake-test-kube-ca",
    ],
    dir,
  );
  await openssl(
    ["req", ...ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"],
    dir,
  );
  await writeFile(
    join(dir, "apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default," +
      "DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n" +
      "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
  );
  await openssl(
    [
      "x509",
      "-req",
      "-in",
      "apiserver.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "apiserver.crt",
      "-days",
      "2",
      "-extfile",
      "apiserver.ext",
    ],
    dir,
  );
  // RSA: what every Kubernetes version signs service-account tokens with (RS256) without further flags.
  await openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "sa.key"], dir);
  return {
    caCert: join(dir, "ca.crt"),
    caPem: await readFile(join(dir, "ca.crt"), "utf8"),
    serverCert: join(dir, "apiserver.crt"),
    serverKey: join(dir, "apiserver.key"),
    saKey: join(dir, "sa.key"),
  };
}

/** One HTTPS request to the API server (for readiness polling); resolves with status and body text. */
function get(
  url: string,
  path: string,
  token: string,
  ca: string,
  timeoutMs: number,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${url}${path}`,
      { method: "GET", ca, headers: { Authorization: `Bearer ${token}` }, timeout: timeoutMs },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/** Polls `path` until `ok` holds; fails early (with its stderr) when one of `procs` exits. */
async function waitFor(
  what: string,
  procs: DaemonProcess[],
  probe: () => Promise<{ status: number; text: string }>,
  ok: (r: { status: number; text: string }) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (signal?.aborted) throw abortError(signal);
    for (const p of procs) {
      if (p.exitedYet) {
        const { code, signal: sig } = await p.exited;
        throw new Error(
          `${p.name} exited while waiting for ${what} (code ${code}, signal ${sig}):\n${p.stderr()}`,
        );
      }
    }
    try {
      const r = await probe();
      if (ok(r)) return;
      last = `HTTP ${r.status}: ${r.text.slice(0, 2000)}`;
    } catch (err) {
      last = String(err);
    }
    // Not a synchronisation sleep: the condition is re-checked, the pause only keeps the poll polite.
    await Promise.race([...procs.map((p) => p.exited), new Promise((resolve) => setTimeout(resolve, 100))]);
  }
  throw new Error(
    `${what} not reached after ${timeoutMs} ms (last: ${last}):\n` +
      procs.map((p) => `--- ${p.name} stderr (tail) ---\n${p.stderr()}`).join("\n"),
  );
}

async function spawnDaemon(bin: string, args: string[], dir: string, name: string): Promise<DaemonProcess> {
  const child = spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return new DaemonProcess(child, dir, name);
}

export async function startKubeApiServer(opts: StartKubeApiServerOptions = {}): Promise<KubeApiServer> {
  const { signal } = opts;
  const readyTimeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const bin = await ensureKubeBinaries(opts.buildTimeoutMs);
  if (signal?.aborted) throw abortError(signal);

  const dir = await mkdtemp(join(tmpdir(), "krake-kube-"));
  let etcd: TestEtcd | undefined;
  let apiserver: DaemonProcess | undefined;
  let controllerManager: DaemonProcess | undefined;
  const onAbort = () => {
    void apiserver?.stop();
    void controllerManager?.stop();
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  const cleanup = async () => {
    await controllerManager?.stop();
    await apiserver?.stop();
    await etcd?.stop();
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const [pki, etcdServer] = await Promise.all([makePki(dir), startEtcd({ signal })]);
    etcd = etcdServer;
    const token = `krake-admin-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;
    const tokenFile = join(dir, "tokens.csv");
    // token,user,uid,"group1,group2"
    await writeFile(tokenFile, `${token},admin,admin,"system:masters"\n`, { mode: 0o600 });

    const plugins = opts.admissionPlugins ?? ["NamespaceLifecycle"];
    const disabled = DEFAULT_ON_ADMISSION_PLUGINS.filter((p) => !plugins.includes(p));
    let url = "";
    let apiserverReadyMs = 0;
    // A free port can be taken by someone else between our probe and the server's bind; try fresh ones then.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      url = `https://127.0.0.1:${port}`;
      const args = [
        `--etcd-servers=${etcd.endpoint}`,
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        `--secure-port=${port}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${tokenFile}`,
        "--authorization-mode=RBAC",
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.saKey}`,
        `--service-account-signing-key-file=${pki.saKey}`,
        "--service-cluster-ip-range=10.0.0.0/24",
        `--enable-admission-plugins=${plugins.join(",")}`,
        ...(disabled.length > 0 ? [`--disable-admission-plugins=${disabled.join(",")}`] : []),
        "--allow-privileged=true",
        "--profiling=false",
        ...(opts.extraArgs ?? []),
      ];
      apiserver = await spawnDaemon(join(bin, "kube-apiserver"), args, dir, "kube-apiserver");
      const started = Date.now();
      try {
        await waitFor(
          "kube-apiserver /readyz",
          [apiserver],
          () => get(url, "/readyz", token, pki.caPem, 2_000),
          (r) => r.status === 200 && r.text.trim() === "ok",
          readyTimeoutMs,
          signal,
        );
        apiserverReadyMs = Date.now() - started;
        break;
      } catch (err) {
        await apiserver.stop();
        apiserver = undefined;
        if (!/address already in use/.test(String(err)) || attempt >= 3) throw err;
      }
    }

    const caPem = pki.caPem;
    const caData = Buffer.from(caPem).toString("base64");
    const kubeconfig: Kubeconfig = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "krake-test", cluster: { server: url, "certificate-authority-data": caData } }],
      users: [{ name: "admin", user: { token } }],
      contexts: [{ name: "krake-test", context: { cluster: "krake-test", user: "admin" } }],
      "current-context": "krake-test",
      preferences: {},
    };
    const kubeconfigPath = join(dir, "kubeconfig.yaml");
    await writeFile(kubeconfigPath, `${JSON.stringify(kubeconfig, null, 2)}\n`, { mode: 0o600 });

    let controllerManagerReadyMs: number | undefined;
    if (opts.controllerManager) {
      const started = Date.now();
      const args = [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        // No serving at all: nothing to collide with when several test processes run one each.
        "--port=0",
        "--secure-port=0",
        `--service-account-private-key-file=${pki.saKey}`,
        `--root-ca-file=${pki.caCert}`,
        "--use-service-account-credentials=false",
        "--profiling=false",
      ];
      controllerManager = await spawnDaemon(
        join(bin, "kube-controller-manager"),
        args,
        dir,
        "kube-controller-manager",
      );
      // The service-account controller gives every namespace a `default` ServiceAccount once the controllers
      // run: a sign that the controller manager is connected and working, without serving a port of its own.
      await waitFor(
        "kube-controller-manager (ServiceAccount default/default)",
        [apiserver!, controllerManager],
        () => get(url, "/api/v1/namespaces/default/serviceaccounts/default", token, caPem, 2_000),
        (r) => r.status === 200,
        readyTimeoutMs,
        signal,
      );
      controllerManagerReadyMs = Date.now() - started;
    }

    let closed: Promise<void> | undefined;
    return {
      url,
      token,
      caData,
      caPem,
      kubeconfig,
      kubeconfigPath,
      etcd,
      timings: { apiserverReadyMs, controllerManagerReadyMs },
      close() {
        closed ??= cleanup();
        return closed;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}
