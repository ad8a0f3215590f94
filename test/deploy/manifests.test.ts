/**
 * The files an operator deploys Krake with (deploy/kubernetes, deploy/systemd, deploy/Dockerfile) and the
 * local helpers (support/etcd/run.sh, support/im/run.sh), checked against what they drive: every `krake`
 * flag against the flags `krake <cmd> --help` prints, the etcd topology against the StatefulSet and its
 * Service, probes against the ports containers expose, and the scripts by running them.
 *
 * `krake`'s flags come from krakeProgram() (src/cli/krake-program.ts), which builds the program the entry
 * point parses argv with, without side effects; commander's help lists exactly the options read here.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { X509Certificate } from "node:crypto";
import {
  createServer as createHttpServer,
  get as httpGet,
  request as httpRequest,
  type Server as HttpServer,
} from "node:http";
import { createServer as createNetServer, type Server as NetServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, posix, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import YAML from "yaml";
import { optionsFromFile, resolveApiConfig } from "../../src/api/config.js";
import { CONTROLLER_NAMES } from "../../src/controllers/index.js";
import { krakeProgram } from "../../src/cli/krake-program.js";
import { initPki } from "../../src/cli/pki.js";
import { kubeBinDir, startKubeApiServer } from "../support/kube-apiserver.js";

type Obj = Record<string, any>;

/** The repository root, from test/deploy (tsx) or dist/test/deploy (compiled) alike. */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, "package.json");
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "krake-ts") return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("repository root (package.json of krake-ts) not found");
    dir = parent;
  }
}

const ROOT = findRoot();
const KUBE_DIR = join(ROOT, "deploy/kubernetes");
const SYSTEMD_DIR = join(ROOT, "deploy/systemd");
const ETCD_SCRIPT = join(ROOT, "support/etcd/run.sh");
const IM_SCRIPT = join(ROOT, "support/im/run.sh");
const KRAKE_IMAGE = "ghcr.io/example/krake-ts";

function which(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    const p = join(dir, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not in this directory
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------
// krake's flags, from its program

interface CommandFlags {
  /** Long and short flags, e.g. "--api", "-n". */
  flags: Set<string>;
  /** Flags followed by a value (`--api <url>`). */
  takesValue: Set<string>;
}

/** The options `krake <name> --help` lists (`-h, --help` included), as commander defines them. */
function commandFlags(program: Command, name: string): CommandFlags {
  const cmd = program.commands.find((c) => c.name() === name);
  assert.ok(cmd, `krake has no command ${name}`);
  const flags = new Set<string>();
  const takesValue = new Set<string>();
  for (const option of cmd.createHelp().visibleOptions(cmd)) {
    for (const flag of [option.short, option.long]) {
      if (!flag) continue;
      flags.add(flag);
      if (option.required || option.optional) takesValue.add(flag);
    }
  }
  return { flags, takesValue };
}

const KRAKE_COMMANDS = ["api", "controller", "bootstrap"] as const;
type KrakeCommand = (typeof KRAKE_COMMANDS)[number];
const krakeFlags = new Map<KrakeCommand, CommandFlags>();

/** Checks one `krake ...` argument list: subcommand, flags (with their values) and positional arguments. */
function checkKrakeArgs(
  where: string,
  args: string[],
): { cmd: KrakeCommand; positional: string[]; flags: Map<string, string> } {
  const cmd = args[0] as KrakeCommand;
  assert.ok(KRAKE_COMMANDS.includes(cmd), `${where}: unknown krake subcommand ${JSON.stringify(args[0])}`);
  const known = krakeFlags.get(cmd)!;
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 1; i < args.length; i++) {
    const token = args[i];
    if (!token.startsWith("-")) {
      positional.push(token);
      continue;
    }
    const eq = token.indexOf("=");
    const flag = eq > 0 ? token.slice(0, eq) : token;
    assert.ok(known.flags.has(flag), `${where}: krake ${cmd} has no flag ${flag}`);
    if (known.takesValue.has(flag)) {
      const value = eq > 0 ? token.slice(eq + 1) : args[++i];
      assert.ok(value !== undefined, `${where}: ${flag} needs a value`);
      flags.set(flag, value);
    } else {
      assert.ok(eq < 0, `${where}: ${flag} takes no value`);
      flags.set(flag, "");
    }
  }
  return { cmd, positional, flags };
}

// ---------------------------------------------------------------------------------------------------------
// the kustomization

function parseYamlDocs(file: string): Obj[] {
  const docs = YAML.parseAllDocuments(readFileSync(file, "utf8"));
  const list = Array.isArray(docs) ? docs : [docs];
  const out: Obj[] = [];
  for (const doc of list) {
    assert.deepEqual(
      doc.errors.map((e) => e.message),
      [],
      `${relative(ROOT, file)} does not parse`,
    );
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

interface Manifest {
  file: string;
  obj: Obj;
}

const kustomization: Obj = parseYamlDocs(join(KUBE_DIR, "kustomization.yaml"))[0];
const resourceFiles: string[] = kustomization.resources ?? [];
const generators: Obj[] = kustomization.configMapGenerator ?? [];
const manifests: Manifest[] = resourceFiles.flatMap((f) =>
  parseYamlDocs(join(KUBE_DIR, f)).map((obj) => ({ file: f, obj })),
);

function find(kind: string, name: string): Obj {
  const m = manifests.find((x) => x.obj.kind === kind && x.obj.metadata?.name === name);
  assert.ok(m, `no ${kind} ${name} in ${resourceFiles.join(", ")}`);
  return m.obj;
}

/** Objects that carry a pod template, with it. */
function podTemplates(): { where: string; obj: Obj; pod: Obj }[] {
  return manifests
    .filter((m) => ["Deployment", "StatefulSet", "Job", "DaemonSet"].includes(m.obj.kind))
    .map((m) => ({
      where: `${m.file}: ${m.obj.kind} ${m.obj.metadata.name}`,
      obj: m.obj,
      pod: m.obj.spec.template,
    }));
}

function isKrake(container: Obj): boolean {
  return typeof container.image === "string" && container.image.startsWith(`${KRAKE_IMAGE}:`);
}

/** A generated ConfigMap's keys and the files they come from. */
function generatedConfigMap(name: string): Map<string, string> {
  const gen = generators.find((g) => g.name === name);
  assert.ok(gen, `no configMapGenerator named ${name}`);
  const keys = new Map<string, string>();
  for (const entry of gen.files as string[]) {
    const eq = entry.indexOf("=");
    const key = eq > 0 ? entry.slice(0, eq) : basename(entry);
    keys.set(key, join(KUBE_DIR, eq > 0 ? entry.slice(eq + 1) : entry));
  }
  return keys;
}

/** The file behind an absolute path inside a container, through its volume mounts of ConfigMaps. */
function fileMountedAt(pod: Obj, container: Obj, path: string): string | null {
  for (const mount of container.volumeMounts ?? []) {
    if (!path.startsWith(`${mount.mountPath}/`)) continue;
    const volume = (pod.spec.volumes ?? []).find((v: Obj) => v.name === mount.name);
    if (!volume?.configMap) continue;
    const key = path.slice(mount.mountPath.length + 1);
    return generatedConfigMap(volume.configMap.name).get(key) ?? null;
  }
  return null;
}

function portNames(container: Obj): Set<string | number> {
  const ports = new Set<string | number>();
  for (const p of container.ports ?? []) {
    ports.add(p.containerPort);
    if (p.name) ports.add(p.name);
  }
  return ports;
}

function containerPort(container: Obj, port: string | number): number {
  if (typeof port === "number") return port;
  const p = (container.ports ?? []).find((x: Obj) => x.name === port);
  assert.ok(p, `container ${container.name} has no port named ${port}`);
  return p.containerPort;
}

before(() => {
  const program = krakeProgram();
  for (const cmd of KRAKE_COMMANDS) krakeFlags.set(cmd, commandFlags(program, cmd));
  // The flags must have been found at all, or every check below would pass vacuously.
  assert.ok(krakeFlags.get("api")!.flags.has("--etcd"), "krake api --help lists --etcd");
  assert.ok(krakeFlags.get("controller")!.takesValue.has("--metrics-address"));
  assert.ok(!krakeFlags.get("controller")!.flags.has("--etcd"));
});

describe("deploy/kubernetes", () => {
  it("kustomization.yaml lists every file in the directory, and every file it lists exists", () => {
    const listed = new Set<string>([
      ...resourceFiles,
      ...generators.flatMap((g) =>
        (g.files as string[]).map((f) => (f.includes("=") ? f.slice(f.indexOf("=") + 1) : f)),
      ),
    ]);
    const present = filesUnder(KUBE_DIR)
      .map((f) => relative(KUBE_DIR, f).split("\\").join("/"))
      .filter((f) => f !== "kustomization.yaml");
    assert.deepEqual([...listed].sort(), present.sort());
    assert.equal(kustomization.namespace, "krake");
  });

  it("every manifest parses and names its kind, name and namespace", () => {
    assert.ok(manifests.length >= 10, `only ${manifests.length} objects`);
    const seen = new Set<string>();
    for (const { file, obj } of manifests) {
      assert.ok(
        typeof obj.apiVersion === "string" && typeof obj.kind === "string",
        `${file}: apiVersion and kind`,
      );
      assert.ok(typeof obj.metadata?.name === "string", `${file}: ${obj.kind} without a name`);
      if (obj.kind !== "Namespace")
        assert.equal(obj.metadata.namespace, "krake", `${file}: ${obj.kind} ${obj.metadata.name}`);
      const id = `${obj.kind}/${obj.metadata.name}`;
      assert.ok(!seen.has(id), `${id} twice`);
      seen.add(id);
    }
    assert.ok(seen.has("Namespace/krake"));
  });

  it("krake containers use the image entrypoint and only flags krake defines", () => {
    let count = 0;
    for (const { where, pod } of podTemplates()) {
      for (const c of pod.spec.containers) {
        if (!isKrake(c)) continue;
        count++;
        assert.equal(c.command, undefined, `${where}: command would replace the image's entrypoint (krake)`);
        assert.ok(
          Array.isArray(c.args) && c.args.every((a: unknown) => typeof a === "string"),
          `${where}: args are strings`,
        );
        checkKrakeArgs(where, c.args);
      }
    }
    assert.equal(count, 1 + CONTROLLER_NAMES.length + 1, "api, one per controller, bootstrap");
  });

  it("one Deployment per controller, two copies each, at the API Service, with probes on the metrics port", () => {
    const api = find("Service", "krake-api");
    const apiPort = api.spec.ports.find((p: Obj) => p.name === "http").port;
    const found: string[] = [];
    for (const { where, obj, pod } of podTemplates()) {
      const c = pod.spec.containers.find(isKrake);
      if (!c || c.args[0] !== "controller") continue;
      assert.equal(obj.kind, "Deployment", where);
      assert.equal(obj.spec.replicas, 2, `${where}: two copies (leader election)`);
      const { positional, flags } = checkKrakeArgs(where, c.args);
      for (const name of positional) {
        assert.ok(
          (CONTROLLER_NAMES as readonly string[]).includes(name),
          `${where}: unknown controller ${name}`,
        );
      }
      found.push(...positional);
      assert.equal(flags.get("--api"), `http://krake-api:${apiPort}`, `${where}: --api`);
      const metrics = flags.get("--metrics-address");
      assert.ok(metrics, `${where}: --metrics-address`);
      const host = metrics.slice(0, metrics.lastIndexOf(":"));
      const port = Number(metrics.slice(metrics.lastIndexOf(":") + 1));
      assert.equal(host, "0.0.0.0", `${where}: the kubelet probes from outside the pod`);
      assert.equal(
        containerPort(c, "metrics"),
        port,
        `${where}: containerPort 'metrics' is --metrics-address's`,
      );
      for (const probe of [c.readinessProbe, c.livenessProbe]) {
        assert.equal(probe?.httpGet?.path, "/healthz", where);
        assert.equal(containerPort(c, probe.httpGet.port), port, `${where}: probe port`);
      }
    }
    assert.deepEqual(found.sort(), [...CONTROLLER_NAMES].sort());
  });

  it("etcd: --initial-cluster names exactly the StatefulSet's pods under its headless Service", () => {
    const sts = find("StatefulSet", "etcd");
    const svc = find("Service", sts.spec.serviceName);
    assert.equal(svc.spec.clusterIP, "None", "headless: stable per-pod DNS names");
    assert.equal(svc.spec.publishNotReadyAddresses, true, "members resolve each other before they are ready");
    assert.deepEqual(svc.spec.selector, sts.spec.selector.matchLabels);
    assert.equal(sts.spec.podManagementPolicy, "Parallel");
    const replicas: number = sts.spec.replicas;
    assert.ok(replicas >= 3 && replicas % 2 === 1, "an odd number of members, at least 3");

    const c = sts.spec.template.spec.containers[0];
    const arg = (name: string) => {
      const hit = (c.args as string[]).find((a) => a.startsWith(`--${name}=`));
      assert.ok(hit, `etcd has --${name}`);
      return hit.slice(name.length + 3);
    };
    const peerPort = containerPort(c, "peer");
    const clientPort = containerPort(c, "client");
    const expected = Array.from(
      { length: replicas },
      (_, i) => `etcd-${i}=http://etcd-${i}.${svc.metadata.name}:${peerPort}`,
    );
    assert.equal(sts.metadata.name, "etcd");
    assert.deepEqual(arg("initial-cluster").split(","), expected);
    assert.equal(arg("name"), "$(POD_NAME)");
    assert.equal(arg("initial-advertise-peer-urls"), `http://$(POD_NAME).${svc.metadata.name}:${peerPort}`);
    assert.equal(arg("advertise-client-urls"), `http://$(POD_NAME).${svc.metadata.name}:${clientPort}`);
    assert.equal(arg("listen-peer-urls"), `http://0.0.0.0:${peerPort}`);
    assert.equal(arg("listen-client-urls"), `http://0.0.0.0:${clientPort}`);
    assert.equal(
      c.env.find((e: Obj) => e.name === "POD_NAME")?.valueFrom?.fieldRef?.fieldPath,
      "metadata.name",
    );
    const svcPorts = Object.fromEntries(svc.spec.ports.map((p: Obj) => [p.name, p]));
    assert.equal(svcPorts.client.port, clientPort);
    assert.equal(containerPort(c, svcPorts.client.targetPort), clientPort);
    assert.equal(svcPorts.peer.port, peerPort);
    assert.equal(containerPort(c, svcPorts.peer.targetPort), peerPort);
    const dataDir = arg("data-dir");
    const mount = c.volumeMounts.find(
      (m: Obj) => dataDir.startsWith(`${m.mountPath}/`) || dataDir === m.mountPath,
    );
    assert.ok(mount, "the data dir is on a volume");
    assert.ok(
      sts.spec.volumeClaimTemplates.some((t: Obj) => t.metadata.name === mount.name),
      "and that volume is a PersistentVolumeClaim per member",
    );
    const etcdVersion = /^quay\.io\/coreos\/etcd:v3\.(\d+)\./.exec(c.image);
    assert.ok(etcdVersion && Number(etcdVersion[1]) >= 4, `etcd 3.4+: ${c.image}`);
  });

  it("the API reaches every etcd member and nothing else, and its config file resolves", () => {
    const sts = find("StatefulSet", "etcd");
    const svc = find("Service", sts.spec.serviceName);
    const clientPort = containerPort(sts.spec.template.spec.containers[0], "client");
    const deployment = find("Deployment", "krake-api");
    assert.ok(deployment.spec.replicas >= 2, "several API replicas");
    const pod = deployment.spec.template;
    const c = pod.spec.containers.find(isKrake);
    const { cmd, flags } = checkKrakeArgs("krake-api", c.args);
    assert.equal(cmd, "api");
    const endpoints = flags.get("--etcd")!.split(",");
    assert.deepEqual(
      endpoints,
      Array.from(
        { length: sts.spec.replicas },
        (_, i) => `http://etcd-${i}.${svc.metadata.name}:${clientPort}`,
      ),
    );
    assert.equal(flags.get("--host"), "0.0.0.0");

    const configFile = fileMountedAt(pod, c, flags.get("--config")!);
    assert.ok(configFile, `--config ${flags.get("--config")} is a key of a ConfigMap mounted in the pod`);
    const config = resolveApiConfig(optionsFromFile(configFile), {
      host: flags.get("--host"),
      port: flags.get("--port"),
      etcd: flags.get("--etcd"),
    });
    assert.deepEqual(config.store, { type: "etcd", endpoints, prefix: "" });
    assert.equal(config.port, containerPort(c, "http"));
    assert.equal(config.tls.enabled, false, "plain HTTP, as the probes and the controllers' --api expect");

    const service = find("Service", "krake-api");
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      assert.equal(probe.httpGet.path, "/healthz");
      assert.equal(containerPort(c, probe.httpGet.port), config.port);
    }
    const policy = find("NetworkPolicy", "etcd");
    const allowed = policy.spec.ingress.flatMap((r: Obj) =>
      r.from.map((f: Obj) => f.podSelector.matchLabels),
    );
    assert.ok(
      allowed.some((labels: Obj) => Object.entries(labels).every(([k, v]) => pod.metadata.labels[k] === v)),
      "the etcd NetworkPolicy lets the API pods in",
    );
  });

  it("probes name ports their containers expose, and Services select pods and target their ports", () => {
    for (const { where, pod } of podTemplates()) {
      for (const c of pod.spec.containers) {
        for (const kind of ["readinessProbe", "livenessProbe", "startupProbe"]) {
          const probe = c[kind];
          if (!probe) continue;
          const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
          assert.ok(port !== undefined, `${where}: ${kind} is httpGet or tcpSocket`);
          assert.ok(portNames(c).has(port), `${where}: ${kind} port ${port} is not one of ${c.name}'s ports`);
        }
      }
    }
    for (const { obj: svc } of manifests.filter((m) => m.obj.kind === "Service")) {
      const pods = podTemplates().filter(({ pod }) =>
        Object.entries(svc.spec.selector as Obj).every(([k, v]) => pod.metadata.labels?.[k] === v),
      );
      assert.equal(pods.length, 1, `Service ${svc.metadata.name} selects the pods of one workload`);
      for (const p of svc.spec.ports) {
        assert.ok(
          pods[0].pod.spec.containers.some((c: Obj) => portNames(c).has(p.targetPort)),
          `Service ${svc.metadata.name}: targetPort ${p.targetPort}`,
        );
      }
    }
    for (const { obj } of manifests.filter((m) => m.obj.kind === "PodDisruptionBudget")) {
      const pods = podTemplates().filter(({ pod }) =>
        Object.entries(obj.spec.selector.matchLabels as Obj).every(
          ([k, v]) => pod.metadata.labels?.[k] === v,
        ),
      );
      assert.equal(pods.length, 1, `PodDisruptionBudget ${obj.metadata.name} covers one workload`);
    }
  });

  it("every pod runs as non-root without privileges, read-only, with requests and limits", () => {
    const dockerUser = /^USER (\d+):(\d+)$/m.exec(readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8"));
    assert.ok(dockerUser, "deploy/Dockerfile sets a numeric USER");
    for (const { where, pod } of podTemplates()) {
      const sc = pod.spec.securityContext;
      assert.equal(sc?.runAsNonRoot, true, `${where}: runAsNonRoot`);
      assert.ok(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0, `${where}: runAsUser`);
      assert.equal(sc.seccompProfile?.type, "RuntimeDefault", `${where}: seccomp`);
      assert.equal(pod.spec.automountServiceAccountToken, false, `${where}: Krake needs no Kubernetes token`);
      for (const c of pod.spec.containers) {
        const csc = c.securityContext;
        assert.equal(csc?.allowPrivilegeEscalation, false, `${where}/${c.name}`);
        assert.equal(csc.readOnlyRootFilesystem, true, `${where}/${c.name}`);
        assert.deepEqual(csc.capabilities?.drop, ["ALL"], `${where}/${c.name}`);
        for (const section of ["requests", "limits"]) {
          for (const resource of ["cpu", "memory"]) {
            assert.ok(
              c.resources?.[section]?.[resource],
              `${where}/${c.name}: resources.${section}.${resource}`,
            );
          }
        }
        if (isKrake(c)) assert.equal(sc.runAsUser, Number(dockerUser[1]), `${where}: the image's user`);
      }
    }
    assert.equal(
      find("Namespace", "krake").metadata.labels["pod-security.kubernetes.io/enforce"],
      "restricted",
    );
  });

  it("the bootstrap Job loads the mounted copy of support/static_metrics.yaml, and it is unchanged", () => {
    const job = find("Job", "krake-bootstrap");
    const pod = job.spec.template;
    const c = pod.spec.containers.find(isKrake);
    const { cmd, positional, flags } = checkKrakeArgs("krake-bootstrap", c.args);
    assert.equal(cmd, "bootstrap");
    assert.equal(flags.get("--api"), `http://krake-api:${find("Service", "krake-api").spec.ports[0].port}`);
    assert.deepEqual(positional, ["/etc/krake/bootstrap/static_metrics.yaml"]);
    const file = fileMountedAt(pod, c, positional[0]);
    assert.ok(file, `${positional[0]} is a key of a ConfigMap mounted in the Job's pod`);
    assert.deepEqual(parseYamlDocs(file), parseYamlDocs(join(ROOT, "support/static_metrics.yaml")));
    assert.ok(["OnFailure", "Never"].includes(pod.spec.restartPolicy));
  });

  it("every krake container names the image that kustomization.yaml's images: entry replaces", () => {
    const entry = (kustomization.images as Obj[]).find((i) => i.name === KRAKE_IMAGE);
    assert.ok(entry, `images: has ${KRAKE_IMAGE}`);
    for (const { where, pod } of podTemplates()) {
      for (const c of pod.spec.containers) {
        if (c.image.startsWith("ghcr.io/")) assert.equal(c.image, `${KRAKE_IMAGE}:${entry.newTag}`, where);
      }
    }
  });

  it("kubectl renders the kustomization, and a real kube-apiserver accepts every object (server dry run)", async (t) => {
    const kubectl = which("kubectl");
    if (!kubectl) return t.skip("kubectl is not installed");
    const rendered = spawnSync(kubectl, ["kustomize", KUBE_DIR], { encoding: "utf8", timeout: 60_000 });
    assert.equal(rendered.status, 0, rendered.stderr);
    const objects = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Obj);
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(
      names.includes("Namespace/krake") && names.includes("ConfigMap/krake-bootstrap"),
      names.join(" "),
    );
    const apiConfig = objects.find(
      (o) => o.kind === "ConfigMap" && o.metadata.name.startsWith("krake-api-config-"),
    );
    assert.ok(apiConfig, "the API's ConfigMap, with a content hash in its name");
    const volume = objects
      .find((o) => o.kind === "Deployment" && o.metadata.name === "krake-api")!
      .spec.template.spec.volumes.find((v: Obj) => v.configMap);
    assert.equal(volume.configMap.name, apiConfig.metadata.name, "the Deployment follows the hashed name");

    // A server check catches misspelled fields and invalid values that the checks above do not look for.
    await serverDryRun(t, objects);
  });
});

/**
 * `kubectl apply --dry-run=server` of rendered objects against a real kube-apiserver. It needs the
 * kube-apiserver that `npm test` builds (scripts/kube/build.sh); a first build is not started from here.
 */
async function serverDryRun(t: { skip(message: string): void }, objects: Obj[]): Promise<void> {
  const kubectl = which("kubectl")!;
  if (!existsSync(join(kubeBinDir(), "kube-apiserver")))
    return t.skip("no kube-apiserver built (scripts/kube/build.sh)");
  const dir = await mkdtemp(join(tmpdir(), "krake-deploy-dryrun-"));
  const kube = await startKubeApiServer();
  try {
    const env = { ...process.env, KUBECONFIG: kube.kubeconfigPath };
    const served = spawnSync(kubectl, ["api-versions"], { env, encoding: "utf8", timeout: 60_000 });
    assert.equal(served.status, 0, served.stderr);
    const versions = new Set(served.stdout.split("\n").filter(Boolean));
    // kube-apiserver 1.20 predates policy/v1 (PodDisruptionBudget, 1.21): only such objects may be left out.
    const unserved = objects.filter((o) => !versions.has(o.apiVersion));
    assert.deepEqual(
      [...new Set(unserved.map((o) => `${o.apiVersion} ${o.kind}`))].filter(
        (k) => k !== "policy/v1 PodDisruptionBudget",
      ),
      [],
    );
    const namespace = objects.filter((o) => o.kind === "Namespace");
    const rest = objects.filter((o) => o.kind !== "Namespace" && versions.has(o.apiVersion));
    await writeFile(join(dir, "namespace.yaml"), namespace.map((o) => YAML.stringify(o)).join("---\n"));
    await writeFile(join(dir, "rest.yaml"), rest.map((o) => YAML.stringify(o)).join("---\n"));
    // The namespace for real: namespaced objects cannot even be dry-run into one that does not exist.
    const ns = spawnSync(kubectl, ["apply", "-f", join(dir, "namespace.yaml")], {
      env,
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(ns.status, 0, ns.stderr);
    const dry = spawnSync(
      kubectl,
      ["apply", "--dry-run=server", "--validate=strict", "-f", join(dir, "rest.yaml")],
      {
        env,
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.equal(dry.status, 0, `${dry.stdout}${dry.stderr}`);
    assert.equal(
      dry.stdout.split("\n").filter((l) => l.includes("(server dry run)")).length,
      rest.length,
      dry.stdout,
    );
  } finally {
    await kube.close();
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------
// deploy/kubernetes-secure: the base with RBAC, HTTPS and one certificate per controller

describe("deploy/kubernetes-secure", () => {
  const SECURE_DIR = join(ROOT, "deploy/kubernetes-secure");
  let work: string;
  let objects: Obj[] = [];
  before(async () => {
    work = await mkdtemp(join(tmpdir(), "krake-deploy-secure-"));
    // What an operator does first: the certificates, written beside the kustomization (not in git).
    await cp(join(ROOT, "deploy"), join(work, "deploy"), { recursive: true });
    initPki({
      dir: join(work, "deploy/kubernetes-secure/pki"),
      apiHosts: ["krake-api,krake-api.krake.svc,krake-api.krake.svc.cluster.local"],
      days: 2,
      force: false,
    });
    const kubectl = which("kubectl");
    if (!kubectl) return;
    const rendered = spawnSync(kubectl, ["kustomize", join(work, "deploy/kubernetes-secure")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(rendered.status, 0, rendered.stderr);
    objects = YAML.parseAllDocuments(rendered.stdout).map((d) => d.toJS() as Obj);
  });
  after(() => rm(work, { recursive: true, force: true }));

  const object = (kind: string, prefix: string) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name.startsWith(prefix));
    assert.ok(found, `no ${kind} ${prefix}…`);
    return found;
  };
  const secretFile = (name: string, key: string) =>
    Buffer.from(object("Secret", name).data[key], "base64").toString();

  it("config/base_roles.yaml is support/base_roles.yaml, and the pki directory is kept out of git", () => {
    assert.equal(
      readFileSync(join(SECURE_DIR, "config/base_roles.yaml"), "utf8"),
      readFileSync(join(ROOT, "support/base_roles.yaml"), "utf8"),
    );
    assert.match(readFileSync(join(ROOT, ".gitignore"), "utf8"), /^\/deploy\/kubernetes-secure\/pki\/$/m);
  });

  it("the API runs RBAC over HTTPS without anonymous access and creates the roles and static metrics at startup", async (t) => {
    if (objects.length === 0) return t.skip("kubectl is not installed");
    const config = object("ConfigMap", "krake-api-config-");
    const file = join(work, "api.yaml");
    await writeFile(file, config.data["api.yaml"]);
    const resolved = resolveApiConfig(optionsFromFile(file));
    assert.equal(resolved.authorization, "RBAC");
    assert.equal(resolved.authentication.allowAnonymous, false);
    assert.equal(resolved.tls.enabled, true);
    assert.deepEqual(resolved.bootstrap.files, [
      "/etc/krake/config/base_roles.yaml",
      "/etc/krake/bootstrap/static_metrics.yaml",
    ]);
    assert.equal(config.data["base_roles.yaml"], readFileSync(join(ROOT, "support/base_roles.yaml"), "utf8"));
    const pod = object("Deployment", "krake-api").spec.template.spec;
    const api = pod.containers.find((c: Obj) => c.name === "api");
    const mounted = (path: string) =>
      api.volumeMounts.find((m: Obj) => path.startsWith(`${m.mountPath}/`)) &&
      pod.volumes.find(
        (v: Obj) => v.name === api.volumeMounts.find((m: Obj) => path.startsWith(`${m.mountPath}/`)).name,
      );
    for (const path of [
      ...resolved.bootstrap.files,
      resolved.tls.cert!,
      resolved.tls.key!,
      resolved.tls.clientCa!,
    ])
      assert.ok(mounted(path), `${path} is mounted in the API pod`);
    assert.equal(api.readinessProbe.httpGet.scheme, "HTTPS");
    assert.ok(
      new X509Certificate(secretFile("krake-api-tls-", "tls.crt"))
        .subjectAltName!.split(", ")
        .includes("DNS:krake-api"),
      "controllers reach https://krake-api:8080",
    );
    assert.ok(!objects.some((o) => o.kind === "Job"), "no Job holds an administrator's certificate");
  });

  it("each controller calls https://krake-api:8080 with its own certificate, whose CN the base roles bind", async (t) => {
    if (objects.length === 0) return t.skip("kubectl is not installed");
    const bound = new Set(
      parseYamlDocs(join(ROOT, "support/base_roles.yaml"))
        .filter((o) => o.kind === "RoleBinding")
        .flatMap((o) => o.users as string[]),
    );
    const users = new Set<string>();
    for (const name of CONTROLLER_NAMES) {
      const deployment = object("Deployment", `krake-${name}`);
      const pod = deployment.spec.template.spec;
      const container = pod.containers.find((c: Obj) => c.name === name);
      const { flags } = checkKrakeArgs(`krake-${name}`, container.args);
      assert.equal(flags.get("--api"), "https://krake-api:8080");
      const certPath = flags.get("--tls-cert")!;
      const mount = container.volumeMounts.find((m: Obj) => certPath.startsWith(`${m.mountPath}/`));
      const secret = pod.volumes.find((v: Obj) => v.name === mount.name).secret.secretName;
      assert.ok(secret.startsWith(`krake-${name}-tls-`), secret);
      const cert = new X509Certificate(secretFile(secret, certPath.slice(mount.mountPath.length + 1)));
      const cn = /CN=([^\n]+)/.exec(cert.subject)![1]!;
      assert.ok(bound.has(cn), `${name}: ${cn} is bound to a role in support/base_roles.yaml`);
      users.add(cn);
    }
    assert.equal(users.size, CONTROLLER_NAMES.length, "one identity per controller");
  });

  it("a real kube-apiserver accepts every object (server dry run)", async (t) => {
    if (objects.length === 0) return t.skip("kubectl is not installed");
    await serverDryRun(t, objects);
  });
});

// ---------------------------------------------------------------------------------------------------------
// deploy/Dockerfile

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
  const instructions = dockerfile
    .replace(/\\\n/g, " ")
    .split("\n")
    .filter((l) => l.trim() && !l.trim().startsWith("#"));

  it("builds on node:20-slim with npm ci, npm run build and npm prune, and runs bin/krake.js", () => {
    const froms = instructions.filter((l) => l.startsWith("FROM "));
    assert.ok(froms.length >= 1 && froms.every((l) => /^FROM node:20-slim\b/.test(l)), froms.join("\n"));
    const runs = instructions.filter((l) => l.startsWith("RUN ")).join("\n");
    assert.match(runs, /npm ci\b/);
    assert.match(runs, /npm run build\b/);
    assert.match(runs, /npm prune --omit=dev\b/);
    const entrypoint = instructions.find((l) => l.startsWith("ENTRYPOINT "));
    assert.ok(entrypoint, "ENTRYPOINT");
    const argv = JSON.parse(entrypoint.slice("ENTRYPOINT ".length)) as string[];
    assert.equal(argv[0], "node");
    assert.equal(posix.basename(argv[1]), "krake.js");
    assert.equal(posix.basename(posix.dirname(argv[1])), "bin");
    // The runtime stage must carry what bin/krake.js loads and what tells Node these are ES modules.
    for (const needed of ["package.json", "node_modules", "bin", "dist/src"]) {
      assert.ok(
        instructions.some((l) => l.startsWith("COPY --from=build") && l.includes(`/${needed} `)),
        `copies ${needed}`,
      );
    }
  });

  it("Dockerfile.dockerignore lets in everything the build copies from the context", () => {
    const ignore = readFileSync(join(ROOT, "deploy/Dockerfile.dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    assert.equal(ignore[0], "*", "an allowlist: nothing else (node_modules, dist, data) is sent");
    const allowed = ignore.filter((l) => l.startsWith("!")).map((l) => l.slice(1).replace(/\/$/, ""));
    const copied = instructions
      .filter((l) => l.startsWith("COPY ") && !l.includes("--from="))
      .flatMap((l) => l.split(/\s+/).slice(1, -1))
      .map((p) => p.replace(/\/$/, ""));
    assert.ok(copied.length >= 4, copied.join(" "));
    for (const p of copied) {
      assert.ok(allowed.includes(p), `${p} is copied but not let in by Dockerfile.dockerignore`);
      assert.ok(existsSync(join(ROOT, p)), `${p} exists`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// deploy/systemd

/** `ExecStart=` of a unit, split into words the simple way systemd does for these lines (no quotes used). */
function execStart(unit: string): string[] {
  const line = readFileSync(join(SYSTEMD_DIR, unit), "utf8")
    .split("\n")
    .find((l) => l.startsWith("ExecStart="));
  assert.ok(line, `${unit}: ExecStart=`);
  assert.ok(!/["']/.test(line), `${unit}: quoting would need a real systemd parser`);
  return line.slice("ExecStart=".length).trim().split(/\s+/);
}

/** The arguments after `krake.js`, with systemd's ${VAR} and %i replaced by example values. */
function krakeArgsOfUnit(unit: string, vars: Record<string, string>): string[] {
  const words = execStart(unit);
  const i = words.findIndex((w) => w.endsWith("/bin/krake.js"));
  assert.ok(i > 0 && words[0].endsWith("/node"), `${unit}: runs node .../bin/krake.js`);
  return words.slice(i + 1).flatMap((w) => {
    const unbraced = /^\$([A-Z_]+)$/.exec(w);
    // $VAR (unbraced) becomes zero or more words.
    if (unbraced) return (vars[unbraced[1]] ?? "").split(/\s+/).filter(Boolean);
    return [w.replace(/\$\{([A-Z_]+)\}/g, (_, v: string) => vars[v] ?? "").replace(/%i/g, vars["%i"] ?? "")];
  });
}

function envFile(file: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of readFileSync(join(SYSTEMD_DIR, file), "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    assert.ok(m, `${file}: not VAR=value: ${line}`);
    vars.set(m[1], m[2]);
  }
  return vars;
}

describe("deploy/systemd", () => {
  it("krake-api.service runs krake api with flags krake defines, and api.yaml.example resolves to etcd", () => {
    const args = krakeArgsOfUnit("krake-api.service", {});
    const { cmd, flags } = checkKrakeArgs("krake-api.service", args);
    assert.equal(cmd, "api");
    assert.equal(flags.get("--config"), "/etc/krake/api.yaml");
    const workers = Number(flags.get("--workers"));
    const config = resolveApiConfig(optionsFromFile(join(SYSTEMD_DIR, "api.yaml.example")), { workers });
    assert.equal(config.store.type, "etcd", "several processes and machines need etcd");
    assert.ok(config.store.type === "etcd" && config.store.endpoints.length === 3);
    assert.equal(config.host, "0.0.0.0");
    assert.ok(config.workers >= 2);
  });

  it("krake-controller@.service runs each controller (and all) with flags krake defines", () => {
    const env = envFile("controller.env.example");
    for (const instance of [...CONTROLLER_NAMES, "all"]) {
      for (const extra of [
        "",
        "--tls-ca /etc/krake/tls/ca.crt --tls-cert /etc/krake/tls/c.crt --tls-key /etc/krake/tls/c.key",
      ]) {
        const vars = { ...Object.fromEntries(env), KRAKE_CONTROLLER_ARGS: extra, "%i": instance };
        const { cmd, positional, flags } = checkKrakeArgs(
          `krake-controller@${instance}`,
          krakeArgsOfUnit("krake-controller@.service", vars),
        );
        assert.equal(cmd, "controller");
        assert.deepEqual(positional, [instance]);
        assert.equal(flags.get("--api"), env.get("KRAKE_URL"));
        assert.equal(flags.get("--metrics-address"), env.get("KRAKE_METRICS_ADDRESS"));
      }
    }
  });

  it("etcd.env.example sets only variables etcd knows, and a consistent 3-member cluster", (t) => {
    const env = envFile("etcd.env.example");
    const members = env
      .get("ETCD_INITIAL_CLUSTER")!
      .split(",")
      .map((m) => m.split("="));
    assert.equal(members.length, 3);
    const self = members.find(([name]) => name === env.get("ETCD_NAME"));
    assert.ok(self, "ETCD_NAME is one of ETCD_INITIAL_CLUSTER's members");
    assert.equal(env.get("ETCD_INITIAL_ADVERTISE_PEER_URLS"), self[1]);
    const api = resolveApiConfig(optionsFromFile(join(SYSTEMD_DIR, "api.yaml.example")));
    assert.ok(api.store.type === "etcd");
    const clientUrls = members.map(([, peer]) => peer.replace(/:2380$/, ":2379"));
    assert.deepEqual(api.store.endpoints, clientUrls, "api.yaml.example names the members' client URLs");
    assert.ok(env.get("ETCD_ADVERTISE_CLIENT_URLS") === clientUrls[members.indexOf(self)]);

    const etcd = which("etcd");
    if (!etcd) return t.skip("etcd is not installed: variable names not checked against etcd --help");
    const help = spawnSync(etcd, ["--help"], { encoding: "utf8" });
    const text = `${help.stdout}${help.stderr}`;
    const commented = readFileSync(join(SYSTEMD_DIR, "etcd.env.example"), "utf8")
      .split("\n")
      .map((l) => /^#\s*(ETCD_[A-Z0-9_]+)=/.exec(l)?.[1])
      .filter((v): v is string => Boolean(v));
    for (const name of [...env.keys(), ...commented]) {
      const flag = `--${name.slice("ETCD_".length).toLowerCase().replace(/_/g, "-")}`;
      assert.ok(new RegExp(`^\\s+${flag}(\\s|$)`, "m").test(text), `${name}: etcd has no ${flag}`);
    }
  });

  it("systemd-analyze verify finds nothing to complain about", async (t) => {
    const analyze = which("systemd-analyze");
    if (!analyze) return t.skip("systemd-analyze is not installed");
    const dir = await mkdtemp(join(tmpdir(), "krake-units-"));
    try {
      // A template is verified as one of its instances.
      const units: string[] = [];
      for (const unit of readdirSync(SYSTEMD_DIR).filter((f) => f.endsWith(".service"))) {
        const name = unit.replace("@.service", "@all.service");
        await writeFile(join(dir, name), await readFile(join(SYSTEMD_DIR, unit)));
        units.push(join(dir, name));
      }
      assert.equal(units.length, 3);
      const r = spawnSync(analyze, ["verify", ...units], { encoding: "utf8", timeout: 60_000 });
      // Complaints about the machine (no such user, a missing /usr/bin/etcd) are not the units' fault.
      const complaints = `${r.stdout}${r.stderr}`
        .split("\n")
        .filter((l) => /Unknown|Failed to parse|Invalid|Missing|bad-setting|not valid|ignoring/i.test(l))
        .filter((l) => !/is not executable|No such file or directory/i.test(l));
      assert.deepEqual(complaints, []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// support/etcd/run.sh and support/im/run.sh

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to completion without blocking the event loop (a test's own server may have to answer it). */
function runScript(script: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn("/bin/bash", [script, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `${basename(dirname(script))}/run.sh ${args.join(" ")} did not finish in ${timeoutMs} ms:\n${stdout}${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A script left running (etcd), in a process group of its own so that its children can be signalled too. */
interface Daemon {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const daemons = new Set<ChildProcess>();
after(() => {
  // Only when a test failed midway: whatever it started goes, with its whole group.
  for (const child of daemons) killGroup(child, "SIGKILL");
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is gone
  }
}

function startDaemon(script: string, args: string[], cwd: string): Daemon {
  const child = spawn("/bin/bash", [script, ...args], {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  daemons.add(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => {
      daemons.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, output: () => out, exited };
}

function getUrl(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 2_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** POST of a JSON body (etcd's gRPC gateway), answering the response body; non-2xx fails. */
function postJson(url: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: "POST", agent: false, timeout: 5_000, headers: { "Content-Type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () =>
          res.statusCode && res.statusCode < 300
            ? resolve(text)
            : reject(new Error(`${res.statusCode} ${text}`)),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Polls until every URL's /health says healthy; fails early when the script exits, and at the deadline. */
async function waitHealthy(daemon: Daemon, urls: string[], deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  let exited = false;
  void daemon.exited.then(() => (exited = true));
  for (;;) {
    const answers = await Promise.all(urls.map((u) => getUrl(`${u}/health`).catch(() => null)));
    if (answers.every((a) => a?.status === 200 && /"health":\s*"true"/.test(a.body))) return;
    if (exited) throw new Error(`run.sh exited before etcd was healthy:\n${daemon.output()}`);
    if (Date.now() > deadline)
      throw new Error(`etcd not healthy within ${deadlineMs} ms:\n${daemon.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function listen(server: NetServer | HttpServer, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => resolve(true));
  });
}

/** `count` consecutive free loopback ports (held all at once while checked, then released). */
async function freePortBlock(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    const servers = Array.from({ length: count }, () => createNetServer());
    const ok = await Promise.all(servers.map((s, i) => listen(s, base + i)));
    await Promise.all(servers.filter((_, i) => ok[i]).map((s) => new Promise((r) => s.close(r))));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Processes working in `dir` or naming it on their command line (Linux /proc). */
function processesIn(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      let cwd = "";
      try {
        cwd = readlinkSync(`/proc/${pid}/cwd`);
      } catch {
        // another user's process
      }
      if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function groupAlive(child: ChildProcess): boolean {
  try {
    process.kill(-child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

/** A PATH with nothing on it: the scripts must explain themselves using builtins only. */
async function emptyPathDir(parent: string): Promise<string> {
  const dir = join(parent, "empty-bin");
  await mkdir(dir, { recursive: true });
  return dir;
}

describe("support scripts", () => {
  const scripts = [ETCD_SCRIPT, IM_SCRIPT];

  it("parse (bash -n) and pass shellcheck", (t) => {
    const all = [...scripts, ...filesUnder(join(ROOT, "deploy")).filter((f) => f.endsWith(".sh"))];
    for (const script of all) {
      const r = spawnSync("bash", ["-n", script], { encoding: "utf8" });
      assert.equal(r.status, 0, `${relative(ROOT, script)}: ${r.stderr}`);
      assert.ok(statSync(script).mode & 0o100, `${relative(ROOT, script)} is executable`);
    }
    const shellcheck = which("shellcheck");
    if (!shellcheck) return t.skip("shellcheck is not installed");
    const r = spawnSync(shellcheck, all, { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout);
  });

  it("--help exits 0, and a bad option exits 2 naming it", async () => {
    for (const script of scripts) {
      const help = await runScript(script, ["--help"], process.env);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /^Usage: support\/(etcd|im)\/run\.sh/);
      const bad = await runScript(script, ["--bogus"], process.env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /unknown argument '--bogus'/);
    }
    const port = await runScript(ETCD_SCRIPT, ["--port", "http"], process.env);
    assert.equal(port.code, 2);
    assert.match(port.stderr, /--port must be a port number, got 'http'/);
    const even = await runScript(ETCD_SCRIPT, ["--cluster", "2"], process.env);
    assert.equal(even.code, 2);
    assert.match(even.stderr, /--cluster must be 1, 3 or 5/);
  });

  describe("etcd/run.sh", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "krake-etcd-script-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("without etcd on PATH: exit 3, and says how to install it", async () => {
      const r = await runScript(ETCD_SCRIPT, ["--data-dir", join(dir, "unused")], {
        PATH: await emptyPathDir(dir),
      });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /etcd is not installed/);
      assert.match(r.stderr, /apt-get install etcd-server/);
      assert.ok(!existsSync(join(dir, "unused")), "nothing created");
    });

    it("starts one member, answers /health, prints the krake api command, and Ctrl-C stops everything", async (t) => {
      if (!which("etcd")) return t.skip("etcd is not installed");
      const work = await mkdtemp(join(dir, "single-"));
      const base = await freePortBlock(2);
      const daemon = startDaemon(
        ETCD_SCRIPT,
        ["--port", String(base), "--peer-port", String(base + 1), "--data-dir", "data"],
        work,
      );
      try {
        const url = `http://127.0.0.1:${base}`;
        await waitHealthy(daemon, [url], 30_000);
        assert.ok(
          existsSync(join(work, "data", "member")),
          "data in --data-dir (relative to the working directory)",
        );
        assert.ok(
          processesIn(work).some((p) => /\betcd --name etcd-1\b/.test(p)),
          "etcd runs as a child of the script",
        );
        // The ready message comes out after the health checks the script itself makes; wait for it too.
        const deadline = Date.now() + 10_000;
        while (!daemon.output().includes("Ctrl-C stops etcd") && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        assert.match(daemon.output(), new RegExp(`npx krake api --etcd ${url}\\n`));
        // A terminal's Ctrl-C signals the whole foreground process group: the script and etcd.
        killGroup(daemon.child, "SIGINT");
        const exit = await daemon.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, daemon.output());
        assert.match(daemon.output(), /etcd stopped; data kept in data/);
        assert.ok(!groupAlive(daemon.child), "no process of the script's group is left");
        assert.deepEqual(processesIn(work), []);
        await assert.rejects(getUrl(`${url}/health`), "etcd's port is closed");
      } finally {
        killGroup(daemon.child, "SIGKILL");
        await rm(work, { recursive: true, force: true });
      }
      assert.ok(!existsSync(work));
    });

    it("--cluster 3 starts three members that form one cluster; SIGTERM to the script alone stops them", async (t) => {
      if (!which("etcd")) return t.skip("etcd is not installed");
      const work = await mkdtemp(join(dir, "cluster-"));
      // Members' ports: client base, base+2, base+4; peer base+1, base+3, base+5.
      const base = await freePortBlock(6);
      const daemon = startDaemon(
        ETCD_SCRIPT,
        [
          "--cluster",
          "3",
          "--port",
          String(base),
          "--peer-port",
          String(base + 1),
          "--port-step",
          "2",
          "--data-dir",
          "data",
        ],
        work,
      );
      try {
        const urls = [0, 2, 4].map((d) => `http://127.0.0.1:${base + d}`);
        await waitHealthy(daemon, urls, 60_000);
        const members = JSON.parse(await postJson(`${urls[0]}/v3/cluster/member/list`, {}));
        assert.deepEqual(members.members.map((m: Obj) => m.name).sort(), ["etcd-1", "etcd-2", "etcd-3"]);
        for (const i of [1, 2, 3])
          assert.ok(existsSync(join(work, "data", `etcd-${i}`, "member")), `etcd-${i}'s data`);
        assert.equal(processesIn(work).filter((p) => /\betcd --name etcd-\d\b/.test(p)).length, 3);
        // A supervisor (systemd, a test) signals only the script; its trap must take the members down.
        daemon.child.kill("SIGTERM");
        const exit = await daemon.exited;
        assert.deepEqual(exit, { code: 0, signal: null }, daemon.output());
        assert.ok(!groupAlive(daemon.child), "no member is left");
        assert.deepEqual(processesIn(work), []);
      } finally {
        killGroup(daemon.child, "SIGKILL");
        await rm(work, { recursive: true, force: true });
      }
      assert.ok(!existsSync(work));
    });

    it("refuses a port already in use, before starting anything", async (t) => {
      if (!which("etcd")) return t.skip("etcd is not installed");
      const base = await freePortBlock(2);
      const blocker = createNetServer();
      assert.ok(await listen(blocker, base));
      try {
        const r = await runScript(
          ETCD_SCRIPT,
          ["--port", String(base), "--data-dir", join(dir, "busy")],
          process.env,
        );
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`port ${base} on 127\\.0\\.0\\.1 is already in use`));
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  });

  describe("im/run.sh", () => {
    let dir: string;
    let fakeBin: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "krake-im-script-"));
      // A stand-in for the docker CLI: logs its arguments and answers from a state file, so that every path
      // of the script runs here without a Docker engine.
      fakeBin = join(dir, "bin");
      await mkdir(fakeBin);
      await writeFile(
        join(fakeBin, "docker"),
        [
          "#!/bin/bash",
          'printf "%s\\n" "$*" >> "$FAKE_DOCKER_LOG"',
          'case "$1" in',
          "  info)",
          '    if [[ -n ${FAKE_DOCKER_DOWN:-} ]]; then echo "Cannot connect to the Docker daemon at unix:///fake.sock. Is the docker daemon running?" >&2; exit 1; fi',
          "    echo 28.2.2 ;;",
          '  inspect) if [[ -f $FAKE_DOCKER_STATE ]]; then cat "$FAKE_DOCKER_STATE"; else echo "Error: No such object" >&2; exit 1; fi ;;',
          '  run) if [[ $2 == -d ]]; then echo "${FAKE_DOCKER_RUN_STATE:-running} im" > "$FAKE_DOCKER_STATE"; echo 0123456789abcdef; fi ;;',
          '  rm) rm -f "$FAKE_DOCKER_STATE" ;;',
          '  logs) echo "fake IM log line" ;;',
          '  port) echo "127.0.0.1:8800" ;;',
          "esac",
          "",
        ].join("\n"),
      );
      await chmod(join(fakeBin, "docker"), 0o755);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    let runNo = 0;
    /** `state`: what `docker inspect` answers (status and our label) before the script runs. */
    async function withFakeDocker(args: string[], extraEnv: Record<string, string> = {}, state?: string) {
      const run = join(dir, `run-${++runNo}`);
      await mkdir(run);
      const env = {
        PATH: `${fakeBin}:${process.env.PATH}`,
        FAKE_DOCKER_LOG: join(run, "docker.log"),
        FAKE_DOCKER_STATE: join(run, "state"),
        ...extraEnv,
      };
      if (state !== undefined) await writeFile(env.FAKE_DOCKER_STATE, state);
      const r = await runScript(IM_SCRIPT, args, env, 60_000);
      const log = existsSync(env.FAKE_DOCKER_LOG) ? await readFile(env.FAKE_DOCKER_LOG, "utf8") : "";
      return { ...r, docker: log.split("\n").filter(Boolean) };
    }

    it("without docker on PATH: exit 3, and says what is missing", async () => {
      const r = await runScript(IM_SCRIPT, [], { PATH: await emptyPathDir(dir) });
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /docker is not installed/);
      assert.match(r.stderr, /rok infra provider register/);
    });

    it("with the Docker daemon unreachable: exit 4 with Docker's own message", async () => {
      const r = await withFakeDocker([], { FAKE_DOCKER_DOWN: "1" });
      assert.equal(r.code, 4, r.stderr);
      assert.match(r.stderr, /the Docker daemon is not reachable/);
      assert.match(r.stderr, /Cannot connect to the Docker daemon at unix:\/\/\/fake\.sock/);
      assert.deepEqual(
        r.docker.filter((l) => !l.startsWith("info")),
        [],
        "nothing but docker info was tried",
      );
    });

    it("with the real docker CLI and no daemon behind DOCKER_HOST: exit 4", async (t) => {
      if (!which("docker")) return t.skip("docker is not installed");
      const r = await runScript(IM_SCRIPT, [], {
        ...process.env,
        DOCKER_HOST: `unix://${join(dir, "no-such.sock")}`,
      });
      assert.equal(r.code, 4, `${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /the Docker daemon is not reachable/);
      assert.match(r.stderr, /no-such\.sock/);
    });

    it("detached: runs ghcr.io/grycap/im on the port, waits for GET /version, prints the register command", async () => {
      // IM's stand-in: the script polls the published port, which the fake docker run does not open.
      let versionCalls = 0;
      const server = createHttpServer((req, res) => {
        if (req.url === "/version") versionCalls++;
        res.setHeader("Content-Type", "application/json");
        res.end(req.url === "/version" ? '{"version": "1.19.1"}' : "{}");
      });
      const port = await freePortBlock(1);
      assert.ok(await listen(server, port));
      try {
        const r = await withFakeDocker([
          "--port",
          String(port),
          "--name",
          "im-test",
          "--username",
          "alice",
          "--password",
          "s3cret",
        ]);
        assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
        const run = r.docker.find((l) => l.startsWith("run "));
        assert.equal(
          run,
          `run -d --name im-test --label org.krake.support=im --init -p 127.0.0.1:${port}:8800 ghcr.io/grycap/im`,
        );
        assert.ok(versionCalls >= 1, "waited for IM's REST API");
        assert.match(r.stdout, /IM is up on http:\/\/127\.0\.0\.1:\d+: \{"version": "1\.19\.1"\}/);
        assert.ok(
          r.stdout.includes(
            `rok infra provider register --type im --url http://127.0.0.1:${port} --username alice --password s3cret im-provider`,
          ),
          r.stdout,
        );
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    });

    it("detached: a container that stops before IM answers fails with its log", async () => {
      const port = await freePortBlock(1);
      const r = await withFakeDocker(["--port", String(port)], { FAKE_DOCKER_RUN_STATE: "exited" });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /the IM container stopped \(exited\)/);
      assert.match(r.stderr, /fake IM log line/);
    });

    it("foreground: docker run --rm with the data volume, register command printed first", async () => {
      const data = join(dir, "im-data");
      const r = await withFakeDocker([
        "--foreground",
        "--port",
        "18800",
        "--data",
        data,
        "--image",
        "ghcr.io/grycap/im:test",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        r.docker.find((l) => l.startsWith("run ")),
        `run --rm --name krake-im --label org.krake.support=im --init -p 127.0.0.1:18800:8800 -v ${data}:/db -e IM_DATA_DB=/db/inf.dat ghcr.io/grycap/im:test`,
      );
      assert.match(
        r.stdout,
        /--url http:\/\/127\.0\.0\.1:18800 --username krake --password krake im-provider/,
      );
      assert.ok(existsSync(data), "the data dir is created");
    });

    it("an IM it started is running already: nothing is started, its published address is shown", async () => {
      const r = await withFakeDocker(["--port", "9999"], {}, "running im\n");
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!r.docker.some((l) => l.startsWith("run ")), r.docker.join("\n"));
      assert.match(r.stdout, /already running on http:\/\/127\.0\.0\.1:8800\n/);
      assert.match(r.stdout, /--url http:\/\/127\.0\.0\.1:8800 /);
    });

    it("--stop removes only a container this script started", async () => {
      const ours = await withFakeDocker(["--stop"], {}, "running im\n");
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(ours.docker.slice(-2), ["stop krake-im", "rm -f krake-im"]);
      const theirs = await withFakeDocker(["--stop"], {}, "running \n");
      assert.equal(theirs.code, 1);
      assert.match(theirs.stderr, /was not started by this script/);
      assert.ok(!theirs.docker.some((l) => /^(stop|rm) /.test(l)), "left alone");
      const none = await withFakeDocker(["--stop"]);
      assert.equal(none.code, 0);
      assert.match(none.stdout, /nothing to stop/);
    });
  });
});
