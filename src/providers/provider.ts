/**
 * What the infrastructure controller needs from an infrastructure provider (IM today, Cluster API later):
 * building a Kubernetes cluster from a template, following it, scaling it, repairing it and removing it.
 * The controller only ever sees these calls and these states, so adding a provider touches no controller.
 */

/** Where a provider's infrastructure stands, reduced to what the controller decides on. */
export type InfrastructurePhase =
  /** Accepted, nothing running yet. */
  | "pending"
  /** Machines starting or being configured. */
  | "creating"
  /** Built and configured: the kubeconfig can be read. */
  | "ready"
  /** Up, but configuration failed somewhere: a reconfigure may repair it. */
  | "degraded"
  /** Failed for good (launch error, cloud error). */
  | "failed"
  /** Being removed. */
  | "deleting";

export interface InfrastructureStatus {
  phase: InfrastructurePhase;
  /** The provider's own word for it (e.g. IM's aggregate state), for reasons and logs. */
  detail: string;
  /** Per machine, provider words (IM: VM id → state). */
  machines: Record<string, string>;
  /** Why it failed or degraded, when the provider says. */
  message?: string;
}

/** A provider call failed; `retryable` tells the controller whether trying again can help. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly kind: "not-found" | "unauthorized" | "invalid" | "conflict" | "unavailable",
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "ProviderError";
  }

  get retryable(): boolean {
    return this.kind === "unavailable" || this.kind === "conflict";
  }
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface InfrastructureProvider {
  /**
   * Starts building from `template` and returns the provider's id at once (creation goes on). `marker`
   * (the cluster's uid) is embedded so that an infrastructure whose id was never stored — the controller
   * died between the call and the write — can be found again with findByMarker instead of built twice.
   */
  create(template: Record<string, unknown>, marker: string, opts?: CallOptions): Promise<string>;
  /** The infrastructure created with `marker`, if any. */
  findByMarker(marker: string, opts?: CallOptions): Promise<string | null>;
  status(id: string, opts?: CallOptions): Promise<InfrastructureStatus>;
  /** The cluster's kubeconfig; only meaningful once the phase is `ready`. */
  kubeconfig(id: string, opts?: CallOptions): Promise<Record<string, unknown>>;
  /** Applies a changed template (scaling): machines are added or removed to match it. */
  update(id: string, template: Record<string, unknown>, marker: string, opts?: CallOptions): Promise<void>;
  /** Re-runs the configuration of an infrastructure whose configuration failed. */
  reconfigure(id: string, opts?: CallOptions): Promise<void>;
  /** Starts removal; an infrastructure that is already gone is not an error. */
  delete(id: string, opts?: CallOptions): Promise<void>;
  /**
   * The provider's id of the machine whose host name is `hostname` (a Kubernetes node), among the machines of
   * `system` when given; null when there is none. What a scale-down names in the template's `removal_list`.
   */
  vmIdOfHost?(id: string, hostname: string, opts?: CallOptions & { system?: string }): Promise<string | null>;
}
