/**
 * The simulated IM's memory: infrastructures, their VMs and how VM states move, with IM's rules for ids,
 * ownership, scaling, deletion and the aggregate state (`IM/InfrastructureManager.py`,
 * `IM/InfrastructureInfo.py`, `IM/VirtualMachine.py`). No HTTP here: `server.ts` maps these operations and
 * their {@link ImFault}s onto IM's endpoints.
 *
 * A VM is modelled as IM models it: a cloud state (pending, running, stopped, …) plus a "configured" flag that is
 * null while contextualization runs, true when it succeeded and false when it failed; the reported state of a
 * running VM is `running` / `configured` / `unconfigured` from that flag. That is why a stopped-then-started VM
 * comes back `configured`, and why a reconfigure shows `running` until it finishes.
 *
 * Time: every step waits a configurable delay ({@link ImDelays}); a delay of 0 applies the step synchronously,
 * so with all delays at 0 the simulator is fully deterministic (a sync create answers with VMs already
 * `configured`, as IM with the Dummy connector does).
 */
import {
  checkAuthData,
  cloudLines,
  isAuthorized,
  type AuthItem,
  type CloudLine,
  type CredentialPolicy,
  type ImIdentity,
} from "./auth.js";
import { ImFault } from "./errors.js";
import { defaultKubeconfig, type KubeconfigSettings } from "./kubeconfig.js";
import { featuresToSimple, networkText, systemText, type RadlDocument } from "./radl.js";
import {
  computeNodes,
  contextualizationEnabled,
  evaluateOutputs,
  mergeTosca,
  planScale,
  serializeTosca,
  softwareTasks,
  toscaNetworks,
  toscaSystems,
  type AnsibleTree,
  type OutputVm,
  type RadlFeature,
  type RadlNetwork,
  type RadlSystem,
  type ToscaDoc,
} from "./tosca.js";

/** IM's VM states (`VirtualMachine.*`). */
export type VmState =
  | "pending"
  | "running"
  | "configured"
  | "unconfigured"
  | "stopped"
  | "off"
  | "failed"
  | "unknown"
  | "deleting";

/** The states a VM can have in the cloud, before IM's contextualization flag is applied. */
type CloudState = "pending" | "running" | "stopped" | "off" | "failed" | "unknown";

/** How long each step takes, in milliseconds. 0 makes the step happen synchronously. */
export interface ImDelays {
  /** Async create: how long the infrastructure has no VMs (`{"state":"pending","vm_states":{}}`); a sync create answers after it. */
  create: number;
  /** How long a new VM stays `pending` before it runs (and gets its IPs). */
  pending: number;
  /** How long a running VM boots before contextualization starts (reported as `running`). */
  running: number;
  /** How long contextualization takes (reported as `running`), also for reconfigure and after scaling. */
  configure: number;
  /** How long `POST /infrastructures/<id>` takes before answering; a DELETE meanwhile gets 409. */
  add: number;
  /** How long a delete takes: the `deleting` window of an async delete, the answer delay of a sync one. */
  delete: number;
}

export const DEFAULT_DELAYS: Readonly<ImDelays> = {
  create: 50,
  pending: 50,
  running: 50,
  configure: 50,
  add: 0,
  delete: 50,
};

/**
 * Timers owned by the simulator, so `close()` can cancel every pending step and no test leaks a timer.
 * A delay ≤ 0 runs the step at once: determinism for tests that do not want to wait at all.
 */
export class Scheduler {
  /** Pending steps in the order they were scheduled (Map keeps insertion order). */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly sleepers = new Set<() => void>();
  private closed = false;

  /** `afterStep` runs after every step, so observers (the sandbox) learn of state changes as they happen. */
  constructor(private readonly afterStep: () => void = () => undefined) {}

  /** Runs `step` after `ms`; returns a function that cancels it. */
  after(ms: number, step: () => void): () => void {
    if (this.closed) return () => undefined;
    if (ms <= 0) {
      step();
      this.afterStep();
      return () => undefined;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      step();
      this.afterStep();
    }, ms);
    timer.unref();
    this.timers.set(timer, step);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }

  /**
   * Runs every pending step now, oldest first, including the steps they schedule, as if all delays had
   * elapsed: lets a test reach the end state without waiting and without depending on timing.
   * Returns how many steps ran.
   */
  flush(limit = 100_000): number {
    let ran = 0;
    while (this.timers.size > 0 && ran < limit) {
      const [timer, step] = this.timers.entries().next().value as [NodeJS.Timeout, () => void];
      clearTimeout(timer);
      this.timers.delete(timer);
      step();
      this.afterStep();
      ran += 1;
    }
    return ran;
  }

  /** Waits `ms` (resolves at once for ≤ 0, and when the scheduler closes). */
  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.sleepers.delete(done);
        resolve();
      };
      this.sleepers.add(done);
      this.after(ms, done);
    });
  }

  /** Cancels every pending step and releases every sleeper. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.keys()) clearTimeout(timer);
    this.timers.clear();
    for (const wake of [...this.sleepers]) wake();
  }
}

/** A parsed request body: what IM's `parse_deployment` returns. */
export interface Deployment {
  radl: RadlDocument;
  tosca?: ToscaDoc;
  /** The TOSCA text exactly as received (for the snapshot). */
  toscaText?: string;
}

interface VmRecord {
  id: number;
  system: string;
  cloudId: string;
  cloudType: string;
  /** The id "the cloud" gave it (IM's `vm.id`), e.g. `dummy-1717171717-3`. */
  cloudVmId: string;
  cloud: CloudState;
  /** IM's `vm.configured`: null while contextualization runs or has not run, then true/false. */
  configured: boolean | null;
  /** Set once contextualization succeeded; the Ansible output stays readable afterwards, as IM's log does. */
  everConfigured: boolean;
  deleting: boolean;
  destroyed: boolean;
  privateIp: string | null;
  publicIp: string | null;
  /** The system's features at creation time, changed by resizes. */
  features: RadlFeature[];
  interfaces: Array<{ index: number; network: string }>;
  /** Why contextualization failed (shown in `/contmsg`). */
  ctxtError: string | null;
  /** When set, every contextualization of this VM fails with this message (injected, see `makeUnconfigured`). */
  persistentCtxtError: string | null;
  /** Cancels the VM's pending step. */
  cancel: () => void;
}

interface InfRecord {
  id: string;
  owners: ImIdentity[];
  clouds: CloudLine[];
  tosca: ToscaDoc | null;
  /** The last TOSCA text a client sent for this infrastructure (create or add). */
  lastToscaText: string | null;
  networks: RadlNetwork[];
  systems: RadlSystem[];
  ctxtEnabled: boolean;
  vms: VmRecord[];
  contOut: string;
  /** IM's `inf.configured`: null until known; false after a launch failure (aggregate `failed` without VMs). */
  configured: boolean | null;
  deleting: boolean;
  deleted: boolean;
  /** Add-resources calls in progress (IM's `adding` flag): a DELETE meanwhile answers 409. */
  adding: number;
  createdAsync: boolean;
  cancelLaunch: () => void;
  /** Calls that reached this infrastructure (authenticated, owner checked), for assertions on client behaviour. */
  calls: InfrastructureCalls;
}

/** How often a client called the operations that change an infrastructure. */
export interface InfrastructureCalls {
  add: number;
  reconfigure: number;
  delete: number;
}

/** What `infrastructures()` reports about one VM. */
export interface ImVmSnapshot {
  id: number;
  system: string;
  /** The VM's host name: the system's `dns_name` (with `#N#` replaced by the VM id), else `vnode-<id>`. */
  hostname: string;
  /** `cpu.count` and `memory.size` (bytes) of the system, when the template sets them. */
  cpus: number | null;
  memoryBytes: number | null;
  state: VmState;
  cloudId: string;
  cloudType: string;
  privateIp: string | null;
  publicIp: string | null;
}

/** What `infrastructures()` reports about one infrastructure (no secrets: owners by username only). */
export interface ImInfrastructureSnapshot {
  id: string;
  owners: string[];
  status: "active" | "deleting" | "deleted";
  /** The aggregate state `/state` would report now. */
  state: VmState;
  /** Live VMs, by id. */
  vms: ImVmSnapshot[];
  /** Ids of VMs that existed and were removed (scale down, VM delete). */
  removedVmIds: number[];
  /** The last TOSCA text sent for it, verbatim; null for RADL infrastructures. */
  lastTosca: string | null;
  /** The stored (merged) TOSCA document, as `/tosca` serializes it. */
  storedTosca: string | null;
  clouds: Array<{ id: string; type: string }>;
  /** Systems hosting a Kubernetes front end (`…LRMS.FrontEnd.Kubernetes`): the VMs that run the control plane. */
  kubernetesFrontEnds: string[];
  createdAsync: boolean;
  contmsg: string;
  /** `POST /infrastructures/<id>`, reconfigure and DELETE calls this infrastructure received. */
  calls: InfrastructureCalls;
}

/** The machines of one infrastructure: what {@link ImBackend.machines} reports. */
export type ImMachinesSnapshot = Pick<
  ImInfrastructureSnapshot,
  "id" | "status" | "vms" | "kubernetesFrontEnds"
>;

/** Everything the backend needs from the simulator's options. */
export interface BackendSettings {
  policy: CredentialPolicy;
  delays: ImDelays;
  kubeconfig: KubeconfigSettings;
  kubeconfigFor?: (infId: string, vmCount: number) => string;
  /** Called after every change of state: a step that ran, or a request that was answered. */
  onChange?: () => void;
  now: () => Date;
  newId: () => string;
}

const PRIVATE_IP = (vmId: number) => ipFrom("10.0", vmId + 1);
/** Public addresses come from TEST-NET-3 (RFC 5737): recognisably fake, never routed. */
const PUBLIC_IP = (vmId: number) => ipFrom("203.0", 113 * 256 + vmId + 1);
function ipFrom(prefix: string, n: number): string {
  return `${prefix}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** IM replaces `#N#` in a system's `dns_name` with the VM's number; without a name the VM is `vnode-<id>`. */
function hostnameOf(vm: VmRecord): string {
  const dns = vm.features.find((f) => f.name === "net_interface.0.dns_name")?.value;
  return typeof dns === "string" && dns !== "" ? dns.replaceAll("#N#", String(vm.id)) : `vnode-${vm.id}`;
}

/** A numeric feature; sizes are scaled to bytes by their RADL unit (`512m`, `4G`, `1024B`). */
function numericFeature(vm: VmRecord, name: string): number | null {
  const feature = vm.features.find((f) => f.name === name);
  if (!feature || typeof feature.value !== "number" || !Number.isFinite(feature.value)) return null;
  const scale: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
  const unit = (feature.unit ?? "").toLowerCase().replace(/b$/, "") || (feature.unit ? "b" : "");
  return feature.value * (scale[unit] ?? 1);
}

/** `str(datetime.now())` in UTC: the timestamp IM puts in front of contextualization messages. */
export function pythonTimestamp(date: Date): string {
  const iso = date.toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}000`;
}

/**
 * The aggregate state (`GetInfrastructureState`), walking the VMs in id order: `failed` or `unknown` stop the
 * walk; `pending` beats `running`; `stopped`/`off`/`configured` only fill an empty slot; `unconfigured`
 * overrides only `configured` — so `{running, unconfigured}` reports `running`. Without VMs: `failed` if the
 * launch failed, `pending` while it has not happened, `unknown` otherwise. Deleting wins over everything.
 */
export function aggregateState(
  vmStates: readonly VmState[],
  configured: boolean | null,
  deleting: boolean,
): VmState {
  let state: VmState | undefined;
  for (const vm of vmStates) {
    if (vm === "failed") {
      state = "failed";
      break;
    }
    if (vm === "unknown") {
      state = "unknown";
      break;
    }
    if (vm === "pending") state = "pending";
    else if (vm === "running") {
      if (state !== "pending") state = "running";
    } else if (vm === "stopped" || vm === "off" || vm === "configured") {
      if (state === undefined) state = vm;
    } else if (vm === "unconfigured") {
      if (state === undefined || state === "configured") state = "unconfigured";
    }
  }
  if (state === undefined) {
    if (configured === false) state = "failed";
    else if (vmStates.length === 0 && configured === null) state = "pending";
    else state = "unknown";
  }
  return deleting ? "deleting" : state;
}

/** IM's Dummy-connector quotas (`IM/connectors/Dummy.py`). */
const DUMMY_QUOTAS = {
  cores: { used: 1, limit: 10 },
  ram: { used: 1, limit: 10 },
  instances: { used: 1, limit: 10 },
  floating_ips: { used: 1, limit: 10 },
  security_groups: { used: 1, limit: 10 },
};
/** IM's Dummy-connector image list. */
const DUMMY_IMAGES = [
  { uri: "mock0://linux.for.ev.er/image1", name: "Image Name1" },
  { uri: "mock0://linux.for.ev.er/image2", name: "Image Name2" },
];

const VALID_OPENSTACK_AUTH_VERSIONS = new Set([
  "2.0_password",
  "2.0_voms",
  "3.x_password",
  "3.x_appcred",
  "3.x_oidc_access_token",
]);

/** The simulated IM service. Every public method is one IM operation and throws {@link ImFault}s as IM does. */
export class ImBackend {
  readonly scheduler: Scheduler;
  private readonly infs = new Map<string, InfRecord>();
  private readonly launchFailures: string[] = [];
  private cloudVmSeq = 0;

  constructor(readonly settings: BackendSettings) {
    this.scheduler = new Scheduler(() => settings.onChange?.());
  }

  /** Makes the next `times` launches (create or add) fail as an unreachable cloud would. */
  queueLaunchFailure(message: string, times = 1): void {
    for (let i = 0; i < times; i += 1) this.launchFailures.push(message);
  }

  clearLaunchFailures(): void {
    this.launchFailures.length = 0;
  }

  close(): void {
    this.scheduler.close();
  }

  private get delays(): ImDelays {
    return this.settings.delays;
  }

  /** IM's `check_auth_data`. */
  authenticate(items: readonly AuthItem[]): ImIdentity[] {
    return checkAuthData(items, this.settings.policy);
  }

  /** IM's `get_infrastructure`: unknown → 404 kind, other owner → 403 kind, deleted → 404 "Deleted". */
  private infrastructure(id: string, callers: readonly ImIdentity[]): InfRecord {
    const inf = this.infs.get(id);
    if (!inf) throw new ImFault("incorrectInfrastructure");
    if (!isAuthorized(inf.owners, callers)) throw new ImFault("unauthorized");
    if (inf.deleted) throw new ImFault("deletedInfrastructure");
    return inf;
  }

  // ---------------------------------------------------------------------------------------------- listing

  /** `GET /infrastructures`: the caller's infrastructures in creation order; `filter` is a regex (IM 1.x only). */
  list(items: readonly AuthItem[], filter?: string): string[] {
    const callers = this.authenticate(items);
    const ids = [...this.infs.values()]
      .filter((inf) => !inf.deleted && isAuthorized(inf.owners, callers))
      .map((inf) => inf.id);
    if (filter === undefined) return ids;
    const regex = new RegExp(filter);
    return ids.filter((id) => {
      const inf = this.infs.get(id) as InfRecord;
      return regex.test(this.radlText(inf)) || (inf.tosca !== null && regex.test(serializeTosca(inf.tosca)));
    });
  }

  // ---------------------------------------------------------------------------------------------- create

  /**
   * `POST /infrastructures`. Async: answers at once, VMs appear after `delays.create` (or the launch fails and
   * the infrastructure reports `failed` with no VMs). Sync: answers after `delays.create` with the VMs created;
   * a launch failure is thrown (IM's 400 `Error Creating Inf.: …`) and the infrastructure is dropped.
   */
  async create(deployment: Deployment, items: readonly AuthItem[], async: boolean): Promise<string> {
    const callers = this.authenticate(items);
    const id = this.settings.newId();
    const inf: InfRecord = {
      id,
      owners: callers,
      clouds: cloudLines(items),
      tosca: deployment.tosca ?? null,
      lastToscaText: deployment.toscaText ?? null,
      networks: deployment.radl.networks,
      systems: deployment.radl.systems,
      ctxtEnabled: deployment.tosca
        ? contextualizationEnabled(deployment.tosca)
        : deployment.radl.contextualizeItems !== 0,
      vms: [],
      contOut: "",
      configured: null,
      deleting: false,
      deleted: false,
      adding: 0,
      createdAsync: async,
      cancelLaunch: () => undefined,
      calls: { add: 0, reconfigure: 0, delete: 0 },
    };
    this.infs.set(id, inf);
    const launch = () => this.launch(inf, deployment.radl.deploys, true);
    if (async) {
      inf.cancelLaunch = this.scheduler.after(this.delays.create, () => {
        try {
          launch();
        } catch {
          // recorded in the infrastructure (configured = false, /contmsg): that is all an async create shows
        }
      });
      return id;
    }
    await this.scheduler.sleep(this.delays.create);
    try {
      launch();
    } catch (err) {
      inf.deleted = true;
      throw err;
    }
    return id;
  }

  /**
   * IM's `AddResource` core: pick the cloud, create the VMs (ids continue the sequence, never reused) and start
   * their progression. Launch failures leave `configured = false` and a `/contmsg` line, then throw.
   */
  private launch(inf: InfRecord, deploys: RadlDocument["deploys"], context: boolean): number[] {
    if (inf.deleted || inf.deleting) return [];
    const wanted = deploys.filter((d) => d.count > 0);
    if (wanted.length === 0) {
      this.addContMsg(inf, "Infrastructure without any deploy. Exiting.");
      if (inf.configured === null) inf.configured = false;
      return [];
    }
    const failLaunch = (message: string): never => {
      inf.configured = false;
      this.addContMsg(inf, `Error getting VM images: ${message}`);
      throw new ImFault("generic", message);
    };
    if (inf.clouds.length === 0) {
      inf.configured = false;
      this.addContMsg(inf, "No cloud provider available");
      throw new ImFault("generic", "No cloud provider available");
    }
    const placements = wanted.map((deploy) => {
      const cloud = deploy.cloudId ? inf.clouds.find((c) => c.id === deploy.cloudId) : inf.clouds[0];
      if (!cloud) failLaunch(`No auth data for cloud with ID: ${deploy.cloudId}`);
      return { deploy, cloud: cloud as CloudLine };
    });
    for (const { deploy, cloud } of placements) {
      const problem = cloudProblem(cloud);
      if (problem) {
        failLaunch(
          `No VMI obtained from Sites to system '${deploy.system}': Error getting images from cloud: ${cloud.id} (${problem})`,
        );
      }
    }
    const injected = this.launchFailures.shift();
    if (injected !== undefined) failLaunch(injected);

    if (!inf.ctxtEnabled) inf.contOut = "Contextualization disabled by the RADL/TOSCA template.\n\n";
    const created: number[] = [];
    for (const { deploy, cloud } of placements) {
      const system = inf.systems.find((s) => s.name === deploy.system);
      for (let i = 0; i < deploy.count; i += 1) {
        const vm = this.newVm(inf, deploy.system, cloud, system);
        created.push(vm.id);
      }
    }
    for (const id of created) this.startVm(inf, inf.vms[id], context);
    return created;
  }

  private newVm(
    inf: InfRecord,
    systemName: string,
    cloud: CloudLine,
    system: RadlSystem | undefined,
  ): VmRecord {
    this.cloudVmSeq += 1;
    const vm: VmRecord = {
      id: inf.vms.length,
      system: systemName,
      cloudId: cloud.id,
      cloudType: cloud.type,
      cloudVmId: `${cloud.type.toLowerCase()}-${inf.id.slice(0, 8)}-${this.cloudVmSeq}`,
      cloud: "pending",
      configured: null,
      everConfigured: false,
      deleting: false,
      destroyed: false,
      privateIp: null,
      publicIp: null,
      features: structuredClone(system?.features ?? []),
      interfaces: structuredClone(
        system?.interfaces ?? [{ index: 0, network: inf.networks[0]?.id ?? "private_net" }],
      ),
      ctxtError: null,
      persistentCtxtError: null,
      cancel: () => undefined,
    };
    inf.vms.push(vm);
    return vm;
  }

  /** pending → (IPs) running → contextualization → configured / unconfigured. */
  private startVm(inf: InfRecord, vm: VmRecord, context: boolean): void {
    vm.cancel = this.scheduler.after(this.delays.pending, () => {
      vm.cloud = "running";
      this.assignIps(inf, vm);
      if (!context) return;
      vm.cancel = this.scheduler.after(this.delays.running, () => this.contextualize(inf, vm));
    });
  }

  /** The cloud reports addresses once the VM runs; a public one only when an interface is on an outbound network. */
  private assignIps(inf: InfRecord, vm: VmRecord): void {
    vm.privateIp ??= PRIVATE_IP(vm.id);
    const publicNet = vm.interfaces.some((i) => inf.networks.find((n) => n.id === i.network)?.outbound);
    vm.publicIp ??= publicNet ? PUBLIC_IP(vm.id) : null;
  }

  /** Runs (or re-runs) contextualization of one VM: reported `running` for `delays.configure`, then the outcome. */
  private contextualize(inf: InfRecord, vm: VmRecord): void {
    vm.cancel();
    vm.configured = null;
    vm.ctxtError = null;
    vm.cancel = this.scheduler.after(this.delays.configure, () => {
      if (vm.persistentCtxtError !== null) {
        vm.configured = false;
        vm.ctxtError = vm.persistentCtxtError;
      } else {
        vm.configured = true;
        vm.everConfigured = true;
      }
    });
  }

  /**
   * Re-runs contextualization of the live running VMs (all, or those listed): IM's `Contextualize` after VMs
   * were added or removed, and `Reconfigure`. VMs not running (pending, stopped, failed) are left alone.
   */
  private recontextualize(inf: InfRecord, vmIds?: readonly number[]): void {
    for (const vm of this.liveVms(inf)) {
      if (vmIds && !vmIds.includes(vm.id)) continue;
      if (vm.cloud === "running") this.contextualize(inf, vm);
    }
  }

  // ---------------------------------------------------------------------------------------------- add / remove

  /**
   * `POST /infrastructures/<id>`: with TOSCA, the document is merged over the stored one and the Compute node
   * counts decide removals (listed `removal_list` ids, else oldest) and additions; with RADL, its deploys add
   * VMs. Answers after `delays.add` with the ids of the new VMs. `context` (default true) re-contextualizes.
   */
  async addResource(
    id: string,
    deployment: Deployment,
    items: readonly AuthItem[],
    context: boolean,
  ): Promise<{ newVmIds: number[]; removeList: number[]; removed: number }> {
    const callers = this.authenticate(items);
    const inf = this.infrastructure(id, callers);
    inf.calls.add += 1;
    let merged: ToscaDoc | undefined;
    let deploys = deployment.radl.deploys;
    let removeList: number[] = [];
    if (deployment.tosca) {
      merged = inf.tosca ? mergeTosca(inf.tosca, deployment.tosca) : deployment.tosca;
      const plan = planScale(merged, this.vmsBySystem(inf));
      removeList = plan.remove;
      deploys = plan.add.map((a) => ({ system: a.system, count: a.count }));
    }
    let removed = 0;
    if (removeList.length > 0) removed = this.removeVms(inf, removeList.map(String), context);

    if (merged) {
      inf.systems = toscaSystems(merged);
      inf.networks = toscaNetworks(merged);
      inf.ctxtEnabled = contextualizationEnabled(merged);
    } else {
      // a bare `system node` refers to the existing definition (IM's `complete_radl`); a full one replaces it
      for (const system of deployment.radl.systems) {
        if (
          system.features.length === 0 &&
          system.interfaces.length === 0 &&
          inf.systems.some((s) => s.name === system.name)
        ) {
          continue;
        }
        inf.systems = [...inf.systems.filter((s) => s.name !== system.name), system];
      }
      for (const network of deployment.radl.networks) {
        if (!inf.networks.some((n) => n.id === network.id)) inf.networks.push(network);
      }
    }

    inf.adding += 1;
    let newVmIds: number[];
    try {
      await this.scheduler.sleep(this.delays.add);
      newVmIds = deploys.length > 0 ? this.launch(inf, deploys, context) : [];
    } finally {
      inf.adding -= 1;
    }
    if (newVmIds.length > 0 && context && inf.ctxtEnabled) {
      this.recontextualize(
        inf,
        this.liveVms(inf)
          .filter((vm) => !newVmIds.includes(vm.id))
          .map((vm) => vm.id),
      );
    }
    if (removeList.length === 0 && newVmIds.length === 0 && context) this.recontextualize(inf);
    if (deployment.tosca) {
      inf.tosca = merged ?? null;
      inf.lastToscaText = deployment.toscaText ?? inf.lastToscaText;
    }
    return { newVmIds, removeList, removed };
  }

  /** `DELETE /infrastructures/<id>/vms/<ids>` (comma-separated): IM's `RemoveResource`. */
  removeResource(id: string, vmIds: string, items: readonly AuthItem[], context: boolean): number {
    const callers = this.authenticate(items);
    const inf = this.infrastructure(id, callers);
    return this.removeVms(inf, vmIds.split(","), context);
  }

  private removeVms(inf: InfRecord, ids: readonly string[], context: boolean): number {
    const doomed = ids.map((vmId) => this.vm(inf, vmId));
    let count = 0;
    for (const vm of doomed) {
      if (vm.destroyed) continue;
      vm.cancel();
      vm.destroyed = true;
      vm.cloud = "off";
      count += 1;
    }
    if (context && count > 0 && inf.ctxtEnabled) this.recontextualize(inf);
    return count;
  }

  /** IM's `get_vm`: not a number or unknown → "Invalid VM ID"; destroyed → "Deleted VM.". */
  private vm(inf: InfRecord, vmId: string): VmRecord {
    const n = /^\s*[-+]?\d+\s*$/.test(vmId) ? Number.parseInt(vmId, 10) : Number.NaN;
    const vm = inf.vms.find((v) => v.id === n);
    if (!vm) throw new ImFault("incorrectVm");
    if (vm.destroyed) throw new ImFault("deletedVm");
    return vm;
  }

  private liveVms(inf: InfRecord): VmRecord[] {
    return inf.vms.filter((vm) => !vm.destroyed);
  }

  private vmsBySystem(inf: InfRecord): Map<string, number[]> {
    const map = new Map<string, number[]>();
    for (const vm of this.liveVms(inf)) map.set(vm.system, [...(map.get(vm.system) ?? []), vm.id]);
    return map;
  }

  // ---------------------------------------------------------------------------------------------- delete

  /**
   * `DELETE /infrastructures/<id>`: 409 kind while adding resources. Async: `deleting` for `delays.delete`, then
   * every call on the id answers 404 `Deleted infrastructure.`. Sync: answers after `delays.delete`, and the id
   * is forgotten (404 `Invalid infrastructure ID or access not granted.`).
   */
  async destroy(id: string, items: readonly AuthItem[], async: boolean): Promise<void> {
    const callers = this.authenticate(items);
    const inf = this.infrastructure(id, callers);
    inf.calls.delete += 1;
    if (inf.adding > 0) throw new ImFault("incorrectState");
    if (inf.deleting) return;
    inf.deleting = true;
    inf.cancelLaunch();
    for (const vm of this.liveVms(inf)) {
      vm.cancel();
      vm.deleting = true;
    }
    const finish = (forget: boolean) => {
      for (const vm of inf.vms) {
        vm.destroyed = true;
        vm.deleting = false;
        vm.cloud = "off";
      }
      inf.deleting = false;
      inf.deleted = true;
      if (forget) this.infs.delete(inf.id);
    };
    if (async) {
      this.scheduler.after(this.delays.delete, () => finish(false));
      return;
    }
    await this.scheduler.sleep(this.delays.delete);
    finish(true);
  }

  // ---------------------------------------------------------------------------------------------- reads

  /** `GET /infrastructures/<id>`: ids of the live VMs. */
  vmIds(id: string, items: readonly AuthItem[]): number[] {
    const inf = this.infrastructure(id, this.authenticate(items));
    return this.liveVms(inf).map((vm) => vm.id);
  }

  /** `GET /infrastructures/<id>/state`. */
  state(id: string, items: readonly AuthItem[]): { state: VmState; vm_states: Record<string, VmState> } {
    const inf = this.infrastructure(id, this.authenticate(items));
    return this.stateOf(inf);
  }

  private stateOf(inf: InfRecord): { state: VmState; vm_states: Record<string, VmState> } {
    const live = this.liveVms(inf);
    const vmStates: Record<string, VmState> = {};
    for (const vm of live) vmStates[String(vm.id)] = vmState(vm);
    return {
      state: aggregateState(
        live.map((vm) => vmState(vm)),
        inf.configured,
        inf.deleting,
      ),
      vm_states: vmStates,
    };
  }

  /** `GET /infrastructures/<id>/contmsg`: the infrastructure log, then each VM's log unless `headeronly`. */
  contMsg(id: string, items: readonly AuthItem[], headerOnly: boolean): string {
    const inf = this.infrastructure(id, this.authenticate(items));
    return this.contMsgOf(inf, headerOnly);
  }

  private contMsgOf(inf: InfRecord, headerOnly: boolean): string {
    let text = inf.contOut;
    if (headerOnly) return text;
    for (const vm of this.liveVms(inf)) {
      const log = this.vmLog(inf, vm);
      if (log) text += `VM ${vm.id}:\n${log}\n${"*".repeat(75)}\n`;
    }
    return text;
  }

  /** `GET /infrastructures/<id>/radl`. */
  radl(id: string, items: readonly AuthItem[]): string {
    return this.radlText(this.infrastructure(id, this.authenticate(items)));
  }

  private radlText(inf: InfRecord): string {
    const lines = inf.networks.map(networkText);
    for (const system of inf.systems) {
      const connections: RadlFeature[] = system.interfaces.map((i) => ({
        name: `net_interface.${i.index}.connection`,
        op: "=",
        value: i.network,
      }));
      lines.push(systemText(system.name, [...system.features, ...connections]));
    }
    for (const [system, ids] of this.vmsBySystem(inf)) lines.push(`deploy ${system} ${ids.length}`);
    return lines.join("\n");
  }

  /** `GET /infrastructures/<id>/tosca`: the stored (merged) document; 403 kind when not created from TOSCA. */
  tosca(id: string, items: readonly AuthItem[]): string | undefined {
    const inf = this.infrastructure(id, this.authenticate(items));
    return inf.tosca ? serializeTosca(inf.tosca) : undefined;
  }

  /** `GET /infrastructures/<id>/outputs`: evaluated now; undefined when not created from TOSCA. */
  outputs(id: string, items: readonly AuthItem[]): Record<string, unknown> | undefined {
    const inf = this.infrastructure(id, this.authenticate(items));
    if (!inf.tosca) return undefined;
    const views = new Map<string, OutputVm[]>();
    for (const vm of this.liveVms(inf)) {
      views.set(vm.system, [...(views.get(vm.system) ?? []), this.outputView(inf, vm)]);
    }
    return evaluateOutputs(inf.tosca, { vmsOf: (system) => views.get(system) ?? [] });
  }

  private outputView(inf: InfRecord, vm: VmRecord): OutputVm {
    return {
      id: vm.id,
      cloudVmId: vm.cloudVmId,
      privateIp: vm.privateIp,
      publicIp: vm.publicIp,
      ctxtLog: this.vmLog(inf, vm),
      ansible: this.ansibleTree(inf, vm),
    };
  }

  /** The kubeconfig a simulated front end prints: the option's function, else the default document. */
  private kubeconfig(inf: InfRecord): string {
    const count = this.liveVms(inf).length;
    return this.settings.kubeconfigFor
      ? this.settings.kubeconfigFor(inf.id, count)
      : defaultKubeconfig(inf.id, this.settings.kubeconfig);
  }

  /**
   * What IM's Ansible-log parser would extract from this VM's log once contextualization succeeded: one entry
   * per software component on the VM; a Kubernetes front end's has the `kube_conf` task with the kubeconfig.
   */
  private ansibleTree(inf: InfRecord, vm: VmRecord): AnsibleTree | null {
    if (!inf.tosca || !inf.ctxtEnabled || !vm.everConfigured) return null;
    const tree: AnsibleTree = {};
    for (const task of softwareTasks(inf.tosca).filter((t) => t.system === vm.system)) {
      const tasks: AnsibleTree[string]["tasks"] = { "Gathering Facts": { state: "ok", output: null } };
      if (task.kubernetesFrontEnd) tasks.kube_conf = { state: "ok", output: this.kubeconfig(inf) };
      tree[task.ctxtTask] = { tasks };
    }
    return tree;
  }

  /** A VM's contextualization log, shaped like IM's so `Launch task:` / `TASK [...]` parsing works on it. */
  private vmLog(inf: InfRecord, vm: VmRecord): string {
    if (!inf.ctxtEnabled) return "";
    const host = `vnode-${vm.id}`;
    if (vm.configured === false) {
      const message = JSON.stringify({ changed: false, msg: vm.ctxtError ?? "Contextualization failed" });
      return `Launch task: basic\nTASK [Gathering Facts] ${"*".repeat(57)}\nfatal: [${host}]: FAILED! => ${message}\n`;
    }
    const tree = this.ansibleTree(inf, vm);
    if (!tree) return "";
    let log = "Contextualization agent output processed successfully\n";
    for (const [ctxtTask, { tasks }] of Object.entries(tree)) {
      log += `Launch task: ${ctxtTask}\n`;
      for (const [name, { state, output }] of Object.entries(tasks)) {
        log += `TASK [${name}] ${"*".repeat(Math.max(3, 77 - name.length))}\n`;
        if (output === null) log += `${state}: [${host}]\n\n`;
        else {
          const body = JSON.stringify({ changed: false, msg: output }, null, 4);
          log += `${state}: [${host}] => ${body}\n\n`;
        }
      }
    }
    return log;
  }

  /** `GET /infrastructures/<id>/authorization`: owners' usernames. */
  owners(id: string, items: readonly AuthItem[]): string[] {
    return this.infrastructure(id, this.authenticate(items)).owners.map((o) => o.username);
  }

  /** `POST /infrastructures/<id>/authorization`: add (or with `overwrite`, replace) owners. */
  changeOwners(id: string, newOwner: AuthItem, items: readonly AuthItem[], overwrite: boolean): void {
    const inf = this.infrastructure(id, this.authenticate(items));
    let identities: ImIdentity[];
    try {
      identities = this.authenticate([newOwner]);
    } catch (err) {
      throw new ImFault("generic", `Invalid new infrastructure data provided: ${(err as Error).message}`);
    }
    inf.owners = overwrite ? identities : [...inf.owners, ...identities];
  }

  /** `GET /infrastructures/<id>/data`: IM's export; `delete` makes the simulator forget it. */
  exportData(id: string, items: readonly AuthItem[], forget: boolean): string {
    const inf = this.infrastructure(id, this.authenticate(items));
    const data = JSON.stringify({
      id: inf.id,
      owners: inf.owners,
      clouds: inf.clouds,
      tosca: inf.tosca,
      lastToscaText: inf.lastToscaText,
      networks: inf.networks,
      systems: inf.systems,
      ctxtEnabled: inf.ctxtEnabled,
      contOut: inf.contOut,
      configured: inf.configured,
      createdAsync: inf.createdAsync,
      vms: inf.vms.map(({ cancel: _cancel, ...rest }) => rest),
    });
    if (forget) {
      for (const vm of inf.vms) vm.cancel();
      inf.cancelLaunch();
      this.infs.delete(inf.id);
    }
    return data;
  }

  /** `PUT /infrastructures`: IM's import of an exported string; the same id comes back. */
  importData(data: string, items: readonly AuthItem[]): string {
    const callers = this.authenticate(items);
    let parsed: Omit<InfRecord, "vms" | "deleting" | "deleted" | "adding" | "cancelLaunch" | "calls"> & {
      vms: Array<Omit<VmRecord, "cancel">>;
    };
    try {
      parsed = JSON.parse(data);
    } catch (err) {
      throw new ImFault(
        "generic",
        `Error importing the infrastructure, incorrect data: ${(err as Error).message}`,
      );
    }
    if (typeof parsed?.id !== "string" || !Array.isArray(parsed.vms)) {
      throw new ImFault("generic", "Error importing the infrastructure, incorrect data: missing id or vms");
    }
    if (this.infs.has(parsed.id))
      throw new ImFault("generic", "Trying to add an existing infrastructure ID.");
    const inf: InfRecord = {
      ...parsed,
      owners: parsed.owners.length > 0 ? parsed.owners : callers,
      vms: parsed.vms.map((vm) => ({ ...vm, cancel: () => undefined })),
      deleting: false,
      deleted: false,
      adding: 0,
      cancelLaunch: () => undefined,
      calls: { add: 0, reconfigure: 0, delete: 0 },
    };
    if (!isAuthorized(inf.owners, callers)) throw new ImFault("unauthorized");
    this.infs.set(inf.id, inf);
    return inf.id;
  }

  // ---------------------------------------------------------------------------------------------- operations

  /** `PUT /infrastructures/<id>/reconfigure`: re-run contextualization of all (or the listed) VMs. */
  reconfigure(id: string, items: readonly AuthItem[], vmList?: number[]): void {
    const inf = this.infrastructure(id, this.authenticate(items));
    inf.calls.reconfigure += 1;
    this.recontextualize(inf, vmList);
  }

  /** `PUT /infrastructures/<id>/stop|start`. */
  operate(id: string, items: readonly AuthItem[], op: "start" | "stop"): void {
    const inf = this.infrastructure(id, this.authenticate(items));
    for (const vm of this.liveVms(inf)) this.operateVm(inf, vm, op);
  }

  /** `PUT /infrastructures/<id>/vms/<vm>/start|stop|reboot` (Dummy: stop → stopped, start → running). */
  operateVmById(id: string, vmId: string, items: readonly AuthItem[], op: "start" | "stop" | "reboot"): void {
    const inf = this.infrastructure(id, this.authenticate(items));
    this.operateVm(inf, this.vm(inf, vmId), op);
  }

  private operateVm(inf: InfRecord, vm: VmRecord, op: "start" | "stop" | "reboot"): void {
    if (op === "reboot") return;
    if (op === "stop") {
      if (vm.cloud === "running" || vm.cloud === "pending") {
        vm.cancel();
        vm.cloud = "stopped";
      }
      return;
    }
    if (vm.cloud !== "stopped") return;
    vm.cloud = "running";
    this.assignIps(inf, vm);
    if (vm.configured === null) this.contextualize(inf, vm);
  }

  /** `GET /infrastructures/<id>/vms/<vm>`: the VM's RADL (text and RADL-JSON). */
  vmInfo(id: string, vmId: string, items: readonly AuthItem[]): { text: string; simple: unknown[] } {
    const inf = this.infrastructure(id, this.authenticate(items));
    return this.vmRadl(inf, this.vm(inf, vmId));
  }

  /** `PUT /infrastructures/<id>/vms/<vm>`: resize with the first system's features of the body. */
  alterVm(
    id: string,
    vmId: string,
    radl: RadlDocument,
    items: readonly AuthItem[],
  ): { text: string; simple: unknown[] } {
    const inf = this.infrastructure(id, this.authenticate(items));
    const vm = this.vm(inf, vmId);
    const requested = radl.systems[0]?.features ?? [];
    for (const feature of requested) {
      vm.features = [...vm.features.filter((f) => f.name !== feature.name), feature];
    }
    return this.vmRadl(inf, vm);
  }

  /** `GET /infrastructures/<id>/vms/<vm>/<prop>`: `state`, `contmsg` or any RADL feature; undefined if absent. */
  vmProperty(id: string, vmId: string, prop: string, items: readonly AuthItem[]): unknown {
    const inf = this.infrastructure(id, this.authenticate(items));
    const vm = this.vm(inf, vmId);
    if (prop === "contmsg") return this.vmLog(inf, vm);
    const feature = this.vmFeatures(inf, vm).find((f) => f.name === prop);
    return feature?.value;
  }

  /** Every feature of the VM's RADL: template features, connections, state, provider, IPs, credentials, DNS. */
  private vmFeatures(inf: InfRecord, vm: VmRecord): RadlFeature[] {
    const features: RadlFeature[] = vm.features.filter((f) => !/^net_interface\.\d+\.dns_name$/.test(f.name));
    for (const i of vm.interfaces) {
      features.push({ name: `net_interface.${i.index}.connection`, op: "=", value: i.network });
    }
    features.push({ name: "state", op: "=", value: vmState(vm) });
    features.push({ name: "provider.type", op: "=", value: vm.cloudType });
    features.push({ name: "instance_id", op: "=", value: vm.cloudVmId });
    for (const i of vm.interfaces) {
      const outbound = inf.networks.find((n) => n.id === i.network)?.outbound ?? false;
      const ip = outbound ? vm.publicIp : vm.privateIp;
      if (ip) features.push({ name: `net_interface.${i.index}.ip`, op: "=", value: ip });
    }
    features.push({ name: "disk.0.os.credentials.username", op: "=", value: "username" });
    features.push({ name: "disk.0.os.credentials.password", op: "=", value: "password" });
    const dns = vm.features.find((f) => f.name === "net_interface.0.dns_name")?.value ?? `vnode-${vm.id}`;
    features.push({ name: "net_interface.0.dns_name", op: "=", value: dns });
    return features;
  }

  private vmRadl(inf: InfRecord, vm: VmRecord): { text: string; simple: unknown[] } {
    const networks = inf.networks.filter((n) => vm.interfaces.some((i) => i.network === n.id));
    const features = this.vmFeatures(inf, vm);
    return {
      text: [...networks.map(networkText), systemText(vm.system, features)].join("\n"),
      simple: [
        ...networks.map((n) => ({ class: "network", id: n.id, outbound: n.outbound ? "yes" : "no" })),
        { class: "system", id: vm.system, ...featuresToSimple(features) },
      ],
    };
  }

  /** `GET /clouds/<id>/quotas|images`: the Dummy connector's fixed answers for any cloud in the header. */
  cloudInfo(cloudId: string, items: readonly AuthItem[], what: "images" | "quotas"): unknown {
    this.authenticate(items);
    if (!cloudLines(items).some((c) => c.id === cloudId))
      throw new ImFault("generic", `Cloud ID ${cloudId} not found.`);
    return what === "quotas" ? DUMMY_QUOTAS : DUMMY_IMAGES;
  }

  /** `POST /infrastructures?dry_run=true`: IM's resource estimate per cloud. */
  estimate(deployment: Deployment, items: readonly AuthItem[]): Record<string, unknown> {
    this.authenticate(items);
    const clouds = cloudLines(items);
    if (clouds.length === 0) throw new ImFault("generic", "No cloud provider available");
    const cloud = clouds[0];
    const compute = [];
    for (const deploy of deployment.radl.deploys) {
      const system = deployment.radl.systems.find((s) => s.name === deploy.system);
      const value = (name: string) => system?.features.find((f) => f.name === name);
      const memory = value("memory.size");
      const memoryBytes = memory ? Number(Object.values(featuresToSimple([memory]))[0]) || 0 : 0;
      for (let i = 0; i < deploy.count; i += 1) {
        compute.push({
          cpuCores: Number(value("cpu.count")?.value ?? 1),
          memoryInMegabytes: Math.round(memoryBytes / 1e6),
          diskSizeInGigabytes: 0,
        });
      }
    }
    return {
      [cloud.id]: { cloudType: cloud.type, cloudEndpoint: cloud.item.host ?? "", compute, storage: [] },
    };
  }

  // ---------------------------------------------------------------------------------------------- control (tests)

  /** Fault injection: the infrastructure fails (VMs `failed`, or `failed` without VMs), `contmsg` appended. */
  failInfrastructure(id: string, contmsg: string): void {
    const inf = this.requireInf(id);
    inf.cancelLaunch();
    const live = this.liveVms(inf);
    if (live.length === 0) inf.configured = false;
    for (const vm of live) {
      vm.cancel();
      vm.cloud = "failed";
    }
    inf.contOut += contmsg;
  }

  /** Fault injection: a VM's contextualization failed (`unconfigured`); `persistent` makes re-runs fail too. */
  makeUnconfigured(id: string, vmId: number, message: string, persistent: boolean): void {
    const vm = this.requireVm(id, vmId);
    vm.cancel();
    vm.cloud = "running";
    vm.configured = false;
    vm.ctxtError = message;
    vm.persistentCtxtError = persistent ? message : null;
  }

  /** Fault injection: forces a VM's reported state (`configured`/`unconfigured` set IM's flag, others the cloud state). */
  setVmState(id: string, vmId: number, state: Exclude<VmState, "deleting">): void {
    const vm = this.requireVm(id, vmId);
    vm.cancel();
    if (state === "configured" || state === "unconfigured" || state === "running") {
      vm.cloud = "running";
      this.assignIps(this.requireInf(id), vm);
      vm.configured = state === "running" ? null : state === "configured";
      if (state === "configured") vm.everConfigured = true;
    } else vm.cloud = state;
  }

  /** Clears a persistent contextualization fault so the next reconfigure succeeds. */
  clearContextualizationFault(id: string, vmId: number): void {
    this.requireVm(id, vmId).persistentCtxtError = null;
  }

  private requireInf(id: string): InfRecord {
    const inf = this.infs.get(id);
    if (!inf) throw new Error(`IM simulator: no infrastructure ${id}`);
    return inf;
  }

  private requireVm(id: string, vmId: number): VmRecord {
    const vm = this.requireInf(id).vms.find((v) => v.id === vmId && !v.destroyed);
    if (!vm) throw new Error(`IM simulator: infrastructure ${id} has no VM ${vmId}`);
    return vm;
  }

  /** A snapshot of every infrastructure the simulator remembers (including async-deleted ones). */
  snapshot(): ImInfrastructureSnapshot[] {
    return [...this.infs.values()].map((inf) => ({
      ...this.machinesOf(inf),
      owners: inf.owners.map((o) => o.username),
      state: this.stateOf(inf).state,
      removedVmIds: inf.vms.filter((vm) => vm.destroyed).map((vm) => vm.id),
      lastTosca: inf.lastToscaText,
      storedTosca: inf.tosca ? serializeTosca(inf.tosca) : null,
      clouds: inf.clouds.map((c) => ({ id: c.id, type: c.type })),
      createdAsync: inf.createdAsync,
      contmsg: this.contMsgOf(inf, false),
      calls: { ...inf.calls },
    }));
  }

  /**
   * Only what the machines are, for observers that look after every change (the sandbox's cluster link):
   * no TOSCA serialisation, no contextualization log.
   */
  machines(): ImMachinesSnapshot[] {
    return [...this.infs.values()].map((inf) => this.machinesOf(inf));
  }

  private machinesOf(inf: InfRecord): ImMachinesSnapshot {
    return {
      id: inf.id,
      status: inf.deleted ? "deleted" : inf.deleting ? "deleting" : "active",
      vms: this.liveVms(inf).map((vm) => ({
        id: vm.id,
        system: vm.system,
        hostname: hostnameOf(vm),
        cpus: numericFeature(vm, "cpu.count"),
        memoryBytes: numericFeature(vm, "memory.size"),
        state: vmState(vm),
        cloudId: vm.cloudId,
        cloudType: vm.cloudType,
        privateIp: vm.privateIp,
        publicIp: vm.publicIp,
      })),
      kubernetesFrontEnds: inf.tosca
        ? [
            ...new Set(
              softwareTasks(inf.tosca)
                .filter((t) => t.kubernetesFrontEnd)
                .map((t) => t.system),
            ),
          ]
        : [],
    };
  }

  private addContMsg(inf: InfRecord, message: string): void {
    inf.contOut += `${pythonTimestamp(this.settings.now())}: ${message}\n`;
  }
}

/** The deployment IM derives from a TOSCA document (`Tosca.to_radl` without an existing infrastructure). */
export function deploymentFromTosca(doc: ToscaDoc, text: string): Deployment {
  return {
    tosca: doc,
    toscaText: text,
    radl: {
      networks: toscaNetworks(doc),
      systems: toscaSystems(doc),
      deploys: computeNodes(doc).map((node) => ({ system: node.name, count: node.instances })),
      contextualizeItems: null,
      configures: [],
    },
  };
}

/** IM's reported VM state from the cloud state and the contextualization flag. */
function vmState(vm: VmRecord): VmState {
  if (vm.destroyed) return "off";
  if (vm.deleting) return "deleting";
  if (vm.cloud !== "running") return vm.cloud;
  if (vm.configured === null) return "running";
  return vm.configured ? "configured" : "unconfigured";
}

/**
 * What a real connector would fail on before launching: the OpenStack connector needs username, password and
 * tenant (or a VOMS proxy) and a known `auth_version`. Returns the reason, or undefined when the line is usable.
 */
function cloudProblem(cloud: CloudLine): string | undefined {
  if (cloud.type !== "OpenStack") return undefined;
  const item = cloud.item;
  if (!(item.username && item.password && item.tenant) && !item.proxy) {
    return "No correct auth data has been specified to OpenStack: username, password and tenant or proxy";
  }
  const version = item.auth_version ?? "2.0_password";
  if (!VALID_OPENSTACK_AUTH_VERSIONS.has(version)) return "Unsupported Auth Version requested";
  if (!item.host) return "Incorrect format of host in auth line";
  return undefined;
}
