/**
 * `GET /encryption` (how the stored values are encrypted: a count per key name) and
 * `POST /encryption/rewrite` (re-encrypt every value with the current key): the online side of key
 * rotation. They exist for the embedded store, which only its own process can read while it runs; over
 * etcd, `krake encryption rewrite --etcd` does the same without an API server.
 *
 * Both see every object of every namespace, so they need what `GET /backup` needs (backup-route.ts):
 * permission to list every resource everywhere.
 */
import type { FastifyInstance } from "fastify";
import { isEncryptedStore } from "../store/encryption/store.js";
import { rewriteStore } from "../store/encryption/rewrite.js";
import { adminOnly, type AdminRouteDeps } from "./backup-route.js";
import { ApiError } from "./errors.js";

const notEncrypted = () =>
  new ApiError(
    409,
    "ENCRYPTION_NOT_CONFIGURED",
    "this API server has no --encryption-key-file: its store is not encrypted at rest",
  );

export function registerEncryptionRoutes(app: FastifyInstance, deps: AdminRouteDeps): void {
  const { store } = deps;
  const onRequest = adminOnly(deps);
  app.get("/encryption", { onRequest }, async (_req, reply) => {
    if (!isEncryptedStore(store)) throw notEncrypted();
    const census = await store.census();
    return reply
      .type("application/json")
      .send(
        JSON.stringify({
          current_key: store.keyring.current.name,
          keys: store.keyring.names(),
          ...censusBody(census),
        }),
      );
  });
  app.post("/encryption/rewrite", { onRequest }, async (req, reply) => {
    if (!isEncryptedStore(store)) throw notEncrypted();
    const started = performance.now();
    const report = await rewriteStore(store);
    const ms = Math.round(performance.now() - started);
    req.log.info({ user: req.user, ...report, ms }, "stored values re-encrypted with the current key");
    return reply.type("application/json").send(
      JSON.stringify({
        current_key: report.currentKey,
        keys: report.keys,
        rewritten: report.rewritten,
        unchanged: report.unchanged,
        vanished: report.vanished,
        conflicts: report.conflicts,
        ms,
      }),
    );
  });
}

function censusBody(c: {
  revision: number;
  total: number;
  plaintext: number;
  byKey: Record<string, number>;
}) {
  return { revision: c.revision, values: c.total, plaintext: c.plaintext, by_key: c.byKey };
}
