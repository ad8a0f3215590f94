/**
 * Leader election through a `core/Lease` in the API (Krake has none: defect X1). Copies of one controller
 * compete for the lease named after it; only the holder works.
 *
 * Safety does not rest on clocks agreeing: a candidate considers the lease expired only when it has seen
 * the same record (same resource_version) unchanged for `duration` on its own clock, and every write is a
 * compare-and-swap on the resource_version it read (409 when someone else wrote first). The leader stops
 * working when it could not renew for `renewDeadline` (< duration), so it is idle before anyone else can
 * take over.
 */
import { setMaxListeners } from "node:events";
import { KrakeApiError, type KrakeClient } from "../client/index.js";
import { Lease } from "../resources/registry.js";
import type { ResourceOf } from "../resources/kind.js";
import { sleep } from "./informer.js";
import { linkedController } from "../util/deadline.js";
import type { Logger } from "./log.js";

type LeaseObject = ResourceOf<typeof Lease>;

export interface LeaderElectionOptions {
  /** Lease name: one per controller kind, e.g. `scheduler`. */
  name: string;
  /** Unique per process, e.g. host/pid/random. */
  identity: string;
  durationMs?: number;
  /** The leader gives up when it could not renew for this long; must be below durationMs. */
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log?: Logger;
  now?: () => number;
}

export interface Leadership {
  /** Aborted when leadership is lost (or the election is stopped). */
  signal: AbortSignal;
}

export class LeaderElector {
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private readonly now: () => number;
  private observed: { version: string | null; at: number; holder: string | null } | null = null;
  private current: LeaseObject | null = null;
  private leading = false;

  constructor(
    private readonly client: KrakeClient,
    private readonly opts: LeaderElectionOptions,
  ) {
    this.durationMs = opts.durationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? Math.round((this.durationMs * 2) / 3);
    this.retryPeriodMs = opts.retryPeriodMs ?? Math.max(100, Math.round(this.durationMs / 5));
    if (this.renewDeadlineMs >= this.durationMs) throw new Error("renewDeadlineMs must be below durationMs");
    this.now = opts.now ?? Date.now;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * Campaigns until the signal aborts; each time leadership is won, `lead` runs with a signal that aborts
   * when it is lost. Resolves after releasing the lease on shutdown.
   */
  async run(signal: AbortSignal, lead: (leadership: Leadership) => Promise<void>): Promise<void> {
    while (!signal.aborted) {
      if (!(await this.tryAcquireOrRenew(signal))) {
        await sleep(this.retryPeriodMs * (0.8 + Math.random() * 0.4), signal);
        continue;
      }
      this.opts.log?.info({ lease: this.opts.name, identity: this.opts.identity }, "became leader");
      // Aborted when leadership is lost, and when the whole election stops.
      const { controller: lost, dispose } = linkedController(signal);
      const both = lost.signal;
      setMaxListeners(0, both);
      this.leading = true;
      const renewing = this.renewLoop(both, lost);
      try {
        await lead({ signal: both });
      } finally {
        // lead() may return early (its work ended): step down so another copy can take over.
        lost.abort();
        await renewing;
        dispose();
        this.leading = false;
      }
      if (signal.aborted) await this.release();
      else this.opts.log?.warn({ lease: this.opts.name }, "lost leadership");
    }
  }

  private async renewLoop(signal: AbortSignal, lost: AbortController): Promise<void> {
    let lastRenew = this.now();
    while (!signal.aborted) {
      await sleep(this.retryPeriodMs, signal);
      if (signal.aborted) return;
      if (await this.tryAcquireOrRenew(signal)) lastRenew = this.now();
      else if (!this.leading || this.current?.spec.holder !== this.opts.identity) {
        lost.abort(new Error("lease taken by another holder"));
        return;
      }
      if (this.now() - lastRenew > this.renewDeadlineMs) {
        lost.abort(new Error("could not renew the lease in time"));
        return;
      }
    }
  }

  /** One attempt; true when this process holds the lease afterwards. */
  async tryAcquireOrRenew(signal?: AbortSignal): Promise<boolean> {
    const leases = this.client.kind(Lease);
    const me = this.opts.identity;
    const nowIso = new Date(this.now()).toISOString();
    let lease: LeaseObject;
    try {
      lease = await leases.get(this.opts.name, null, { signal });
    } catch (err) {
      if (!(err instanceof KrakeApiError && err.status === 404)) return this.failed(err);
      try {
        this.current = await leases.create(
          {
            api: "core",
            kind: "Lease",
            metadata: { name: this.opts.name },
            spec: {
              holder: me,
              duration_seconds: Math.ceil(this.durationMs / 1000),
              acquired: nowIso,
              renewed: nowIso,
              transitions: 0,
            },
          },
          null,
          { signal },
        );
        return true;
      } catch (createErr) {
        return this.failed(createErr);
      }
    }
    this.current = lease;
    const version = lease.metadata.resource_version ?? null;
    if (!this.observed || this.observed.version !== version) {
      this.observed = { version, at: this.now(), holder: lease.spec.holder };
    }
    const heldByOther = lease.spec.holder !== null && lease.spec.holder !== me;
    const durationMs = Math.max(lease.spec.duration_seconds * 1000, this.durationMs);
    if (heldByOther && this.now() - this.observed.at < durationMs) return false;
    const next = structuredClone(lease);
    if (next.spec.holder !== me) {
      next.spec.transitions += 1;
      next.spec.acquired = nowIso;
      next.spec.holder = me;
    }
    next.spec.renewed = nowIso;
    next.spec.duration_seconds = Math.ceil(this.durationMs / 1000);
    try {
      // Carries the resource_version read above: a concurrent writer makes this a 409, not a second leader.
      this.current = await this.client.kind(Lease).update(next, { signal });
      this.observed = { version: this.current.metadata.resource_version ?? null, at: this.now(), holder: me };
      return true;
    } catch (err) {
      return this.failed(err);
    }
  }

  private failed(err: unknown): false {
    if (!(err instanceof KrakeApiError && err.status === 409))
      this.opts.log?.warn({ lease: this.opts.name, err: (err as Error).message }, "lease call failed");
    return false;
  }

  /** Hands the lease back so another copy takes over at once instead of after a lease period. */
  private async release(): Promise<void> {
    const lease = this.current;
    if (!lease || lease.spec.holder !== this.opts.identity) return;
    const next = structuredClone(lease);
    next.spec.holder = null;
    next.spec.renewed = new Date(this.now()).toISOString();
    try {
      await this.client.kind(Lease).update(next, { signal: AbortSignal.timeout(2000) });
      this.opts.log?.info({ lease: this.opts.name }, "released the lease");
    } catch {
      // Not fatal: the lease simply expires.
    }
  }
}
