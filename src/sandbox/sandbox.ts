/**
 * The sandbox of `krake up --sandbox`: an IM simulator and a Kubernetes simulator wired together, so the
 * whole walkthrough (provider, cloud, cluster, application) runs on a laptop with no cloud. Nothing here is
 * reachable from production code paths: only `krake up --sandbox` and tests import it.
 */
import { ClusterLink, type ClusterLinkEvent } from "./link.js";
import { startImSimulator, type ImDelays, type ImSimulator } from "./im/server.js";
import { startKubeSimulator, type KubeSimulator } from "./kube/simulator.js";

export interface SandboxOptions {
  /** Address both simulators listen on; default 127.0.0.1. */
  host?: string;
  /** IM's port; default 8800, the port of the walkthrough's `--url http://localhost:8800`. */
  imPort?: number;
  /** The Kubernetes simulator's (HTTPS) port; default 0, any free port (kubeconfigs carry it). */
  kubePort?: number;
  /**
   * How long IM's steps take. The defaults make a cluster go CREATING → CONNECTING → ONLINE in a few
   * seconds: slow enough to watch, fast enough not to wait for (a real IM takes about 15 minutes).
   */
  delays?: Partial<ImDelays>;
  /** How long a pod takes to become Ready on the simulated clusters; default 1 s. */
  podStartDelayMs?: number;
  onEvent?: (event: ClusterLinkEvent) => void;
}

export const SANDBOX_DELAYS: ImDelays = {
  create: 500,
  pending: 1000,
  running: 500,
  configure: 1500,
  add: 500,
  delete: 1000,
};

export interface Sandbox {
  readonly im: ImSimulator;
  readonly kube: KubeSimulator;
  /** IM's URL, for `rok infra provider register --url`. */
  readonly imUrl: string;
  readonly kubeUrl: string;
  close(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const host = options.host ?? "127.0.0.1";
  const kube = await startKubeSimulator({ host, port: options.kubePort ?? 0 });
  const link = new ClusterLink(kube, { podStartDelayMs: options.podStartDelayMs, onEvent: options.onEvent });
  let im: ImSimulator;
  try {
    im = await startImSimulator({
      host,
      port: options.imPort ?? 8800,
      // IM's default configuration: no user database, every username/password pair is its own identity.
      users: "any",
      delays: { ...SANDBOX_DELAYS, ...options.delays },
      kubeconfigFor: (infId) => link.kubeconfigFor(infId),
      onChange: () => link.changed(),
    });
  } catch (err) {
    await kube.close();
    throw err;
  }
  link.attach(im);
  return {
    im,
    kube,
    imUrl: im.url,
    kubeUrl: kube.url,
    async close() {
      link.close();
      await Promise.all([im.close(), kube.close()]);
    },
  };
}
