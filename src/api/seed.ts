/**
 * Objects an API server writes at startup when they are missing (`--bootstrap FILE`, Krake's `default_roles`
 * and `default_role_bindings` in api.yaml). Written straight through the resource service, not through
 * HTTP: the first roles of an RBAC installation cannot be created by anybody the API would let in.
 * Existing objects are left as they are, so every replica may seed at every start.
 */
import type { Logger } from "pino";
import { ApiError } from "./errors.js";
import type { ResourceService } from "./service.js";
import { BootstrapError, plan, readDocuments } from "../resources/documents.js";

export interface SeedSource {
  /** A file name, or where in the configuration the objects came from. */
  source: string;
  /** Documents already read (api.yaml's default objects); otherwise the file is read. */
  docs?: { doc: unknown; where: string }[];
}

export interface Seeded {
  source: string;
  created: number;
  existing: number;
}

/** Every source is read and validated before the first write: a bad document writes nothing. */
export async function seed(
  service: ResourceService,
  sources: SeedSource[],
  logger: Logger,
): Promise<Seeded[]> {
  const planned = [];
  for (const s of sources)
    planned.push({
      source: s.source,
      objects: plan(s.docs ?? (await readDocuments([s.source])), "system:admin"),
    });
  const result: Seeded[] = [];
  for (const { source, objects } of planned) {
    const counts = { source, created: 0, existing: 0 };
    for (const p of objects) {
      try {
        await service.create(p.def, p.namespace, p.body);
        counts.created++;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) counts.existing++;
        else throw new BootstrapError(`${p.where}: ${(err as Error).message}`);
      }
    }
    logger.info(counts, "bootstrap objects loaded");
    result.push(counts);
  }
  return result;
}
