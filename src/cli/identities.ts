/**
 * `krake up` under RBAC: its callers act as their own users, and a role written a moment ago reaches the
 * API's authorizer through a watch. Waiting for it here keeps the first calls of the loader and of each
 * controller from being refused while it is on its way.
 */
import { KrakeApiError, type KrakeClient } from "../client/index.js";
import { Lease } from "../resources/registry.js";

/**
 * Retries `probe` while the API refuses it (403) until the deadline; true once it is let through (any
 * answer but 403, a 404 included: authorization comes before the lookup).
 */
export async function waitForAccess(probe: () => Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      await probe();
      return true;
    } catch (err) {
      if (!(err instanceof KrakeApiError && err.status === 403)) return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** A controller may read its leader lease: the first call of every leader-elected controller. */
export const controllerProbe = (client: KrakeClient, controller: string) => () =>
  client.kind(Lease).get(`controller-${controller}`);
