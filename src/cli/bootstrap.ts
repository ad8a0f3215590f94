/**
 * `krake bootstrap FILE…`: seeds resources (static metrics providers and metrics, roles, providers, clouds)
 * from YAML through the API, as Krake's krake_bootstrap_db seeds its store. Every document is validated
 * before anything is written, so bad input writes nothing; an object that already exists is left as it is
 * (or updated with --update), so running it twice is harmless; if a write fails midway, the objects this run
 * created are deleted again.
 */
import { KrakeApiError, KrakeClient } from "../client/index.js";
import { BootstrapError, plan, readDocuments, type Planned } from "../resources/documents.js";

export { BootstrapError } from "../resources/documents.js";

export interface BootstrapOptions {
  /** The API to write to, as a URL or as a client (with its credentials and TLS settings). */
  api: string | KrakeClient;
  namespace: string;
  update: boolean;
  /** Where progress lines go. */
  out: (line: string) => void;
}

export async function bootstrap(files: string[], opts: BootstrapOptions): Promise<{ created: number; updated: number; unchanged: number }> {
  const planned = plan(await readDocuments(files), opts.namespace);
  const client = typeof opts.api === "string" ? new KrakeClient({ url: opts.api }) : opts.api;
  const created: Planned[] = [];
  const counts = { created: 0, updated: 0, unchanged: 0 };
  try {
    for (const p of planned) {
      const kind = client.kind(p.def);
      try {
        await kind.create(p.body, p.namespace);
        created.push(p);
        counts.created++;
        opts.out(`created ${p.where}`);
      } catch (err) {
        if (!(err instanceof KrakeApiError && err.status === 409)) throw err;
        if (!opts.update) {
          counts.unchanged++;
          opts.out(`exists, left unchanged: ${p.where}`);
          continue;
        }
        const current = await kind.get(p.body.metadata.name, p.namespace);
        const { metadata: _m, status: _s, ...rest } = p.body;
        const next = { ...current, ...rest, metadata: { ...current.metadata, labels: p.body.metadata.labels ?? current.metadata.labels } };
        try {
          await kind.update(next as typeof current);
          counts.updated++;
          opts.out(`updated ${p.where}`);
        } catch (e) {
          if (!(e instanceof KrakeApiError && e.status === 400 && e.title === "UPDATE_ERROR")) throw e;
          counts.unchanged++;
          opts.out(`already up to date: ${p.where}`);
        }
      }
    }
  } catch (err) {
    for (const p of created.reverse()) await removeCompletely(client, p).catch(() => {});
    const reason = err instanceof KrakeApiError ? `${err.message}${err.errors.length ? `: ${err.errors.map((e) => `${e.path}: ${e.message}`).join("; ")}` : ""}` : (err as Error).message;
    throw new BootstrapError(`bootstrap failed; the ${created.length} object(s) created by this run were deleted again: ${reason}`);
  }
  return counts;
}

/**
 * Undoes a create of this run. DELETE only marks an object (its `cascade_deletion` finalizer waits for the
 * garbage collector); nothing can depend on an object created seconds ago, so the mark is finished at once.
 */
async function removeCompletely(client: KrakeClient, p: Planned): Promise<void> {
  const kind = client.kind(p.def);
  const marked = await kind.delete(p.body.metadata.name, p.namespace);
  await kind.update({ ...marked, metadata: { ...marked.metadata, finalizers: [] } });
}
