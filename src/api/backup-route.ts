/**
 * `GET /backup`: the whole store, read at one revision, streamed in the backup format (src/store/backup.ts).
 *
 * This is how a running server is backed up. The embedded store belongs to the one process that holds its
 * data directory's LOCK, so a second process cannot read it while the server runs; the server itself can,
 * and its `range` is a consistent snapshot that costs no copy of the values. For etcd it is an alternative
 * to `krake backup --etcd` that needs no access to etcd.
 *
 * A backup holds every object of every namespace, secrets included, so only a caller who may already read
 * all of that may take one: under RBAC, someone allowed to `list` every resource of every API in every
 * namespace, and to `get` the secrets (`<plural>/secrets`) of every kind that has them (Krake's `role:system`,
 * given to `system:admin`). Nobody else, however many namespaces they may read.
 */
import { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Store } from "../store/store.js";
import { encodeBackup, readForBackup } from "../store/backup.js";
import { KINDS } from "../resources/registry.js";
import type { Auth } from "./auth/index.js";
import { Errors } from "./errors.js";
import { hasSecrets, mayRedact } from "./redaction.js";

/** Who calls, with the per-caller limits applied (set on `req.user`); 401 or 429 otherwise. */
export type Identify = (req: FastifyRequest) => Promise<void>;

export interface AdminRouteDeps {
  store: Store;
  auth: Auth;
  identify: Identify;
}

/** Throws 401/403 unless `user` may read every object of every kind in every namespace, secrets included. */
export function authorizeBackup(auth: Auth, user: string): void {
  for (const def of KINDS) {
    if (def.namespaced) {
      if (auth.listAllScope(user, def.group, def.plural) !== "all") throw Errors.forbidden();
    } else {
      auth.authorize(user, { verb: "list", api: def.group, resource: def.plural, namespace: null });
    }
    if (hasSecrets(def) && mayRedact(auth, user, def, null)) throw Errors.forbidden();
  }
}

/** The hook of routes that read or rewrite the whole store: only for who may read everything. */
export function adminOnly(deps: AdminRouteDeps) {
  return async (req: FastifyRequest): Promise<void> => {
    await deps.identify(req);
    authorizeBackup(deps.auth, req.user);
  };
}

export function registerBackupRoute(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { store } = deps;
  app.route({
    method: "GET",
    url: "/backup",
    onRequest: adminOnly(deps),
    handler: async (req, reply) => {
      const { header, kvs } = await readForBackup(store);
      req.log.info({ user: req.user, revision: header.revision, keys: header.keys }, "backup requested");
      return reply
        .code(200)
        .type("application/x-ndjson; charset=utf-8")
        .header("Cache-Control", "no-store")
        .header("Content-Disposition", `attachment; filename="krake-backup-${header.revision}.ndjson"`)
        .header("X-Krake-Backup-Revision", String(header.revision))
        .send(Readable.from(encodeBackup(header, kvs), { objectMode: false }));
    },
  });
  app.route({
    method: ["POST", "PUT", "DELETE", "PATCH"],
    url: "/backup",
    handler: async () => {
      throw Errors.methodNotAllowed(["GET", "HEAD"]);
    },
  });
}
