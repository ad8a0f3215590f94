/**
 * Every route of every kind, derived from the kind definitions. Per request: authenticate and authorize
 * (before the body is read), then validate the body, then look up the object — Krake's order.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { KindDef, SubresourceAction } from "../resources/kind.js";
import { ActionRejected } from "../resources/kind.js";
import { KINDS } from "../resources/registry.js";
import { ApiError, Errors } from "./errors.js";
import type { Auth } from "./auth/index.js";
import type { AccessRequest, NamespaceScope } from "./auth/rbac.js";
import type { ResourceService, Stored } from "./service.js";
import type { WatchHub } from "./watch.js";
import { waitForState } from "./blocking.js";
import type { RequestLimits } from "./limits/request-limits.js";
import type { Identify } from "./backup-route.js";
import { REDACTED_HEADER, REDACTED_HEADER_VALUE, hasSecrets, mayRedact, redactJson, secretsVisibility } from "./redaction.js";
import { namespaceOfKey } from "./keys.js";

export interface RouteDeps {
  service: ResourceService;
  auth: Auth;
  watches: WatchHub;
  blockingTimeoutMs: number;
  /** Sets `req.user` and applies the per-caller rate limit. */
  identify: Identify;
  /** Per-caller watch limit. */
  limits?: RequestLimits;
}

type Params = { namespace?: string; name?: string };
type Query = Record<string, string | undefined>;

declare module "fastify" {
  interface FastifyRequest {
    user: string;
    listScope: NamespaceScope;
  }
}

const ALL_METHODS: HTTPMethods[] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

function sendJson(reply: FastifyReply, stored: Stored | string) {
  return reply
    .code(200)
    .type("application/json; charset=utf-8")
    .send(typeof stored === "string" ? stored : stored.json);
}

/** D2: absent → no watch; `false`, `0`, `no` → no watch; anything else, including empty → watch. */
export function isWatch(value: string | undefined): boolean {
  return value !== undefined && !["false", "0", "no"].includes(value.toLowerCase());
}

function intQuery(query: Query, name: string, fallback: number | undefined): number | undefined {
  const raw = query[name];
  if (raw === undefined) return fallback;
  if (!/^-?\d+$/.test(raw)) {
    throw Errors.validation([{ path: ["query", name], message: "Not a valid integer." }]);
  }
  const n = Number(raw);
  if (n < 0) throw Errors.validation([{ path: ["query", name], message: "Must be greater than or equal to 0." }]);
  return n;
}

/** A write without a body is Krake's "not JSON" case (aiohttp's json() fails on an empty body). */
function bodyOf(req: FastifyRequest): unknown {
  if (req.body === undefined) throw Errors.unsupportedMediaType();
  return req.body;
}

function blockingState(def: KindDef, query: Query): string | null {
  const raw = query.blocking;
  if (!def.blocking || raw === undefined || raw === "False") return null;
  return raw;
}

export function registerRoutes(app: FastifyInstance, deps: RouteDeps): void {
  const { service, auth } = deps;
  for (const def of KINDS) {
    const base = def.namespaced
      ? `/${def.group}/namespaces/:namespace/${def.plural}`
      : `/${def.group}/${def.plural}`;
    const item = `${base}/:name`;
    const nsOf = (req: FastifyRequest) => (def.namespaced ? ((req.params as Params).namespace ?? null) : null);
    const nameOf = (req: FastifyRequest) => (req.params as Params).name!;

    /** Registers `handlers` under `url`, answers other methods with 405 and the Allow header. */
    const path = (
      url: string,
      handlers: Partial<Record<"GET" | "POST" | "PUT" | "DELETE", {
        access: (req: FastifyRequest) => AccessRequest | "list-all";
        handle: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
      }>>,
    ) => {
      const allowed = Object.keys(handlers) as ("GET" | "POST" | "PUT" | "DELETE")[];
      for (const method of allowed) {
        const h = handlers[method]!;
        app.route({
          method,
          url,
          config: { krake: { api: def.group, kind: def.kind } },
          onRequest: async (req) => {
            await deps.identify(req);
            const access = h.access(req);
            if (access === "list-all") req.listScope = auth.listAllScope(req.user, def.group, def.plural);
            else {
              auth.authorize(req.user, access);
              req.listScope = "all";
            }
          },
          handler: h.handle,
        });
      }
      const others = ALL_METHODS.filter((m) => !allowed.includes(m as never));
      app.route({
        method: others,
        url,
        config: { krake: { api: def.group, kind: def.kind } },
        handler: async () => {
          throw Errors.methodNotAllowed([...allowed, ...(allowed.includes("GET") ? ["HEAD"] : [])]);
        },
      });
    };

    const access = (verb: string, resource = def.plural) => (req: FastifyRequest): AccessRequest => ({
      verb,
      api: def.group,
      resource,
      namespace: nsOf(req),
    });

    /** One object as the caller may see it: secrets replaced by the marker without `<plural>/secrets`. */
    const answer = (req: FastifyRequest, reply: FastifyReply, stored: Stored | string) => {
      const namespace = nsOf(req);
      if (!hasSecrets(def) || secretsVisibility(auth, req.user, def, namespace)(namespace)) return sendJson(reply, stored);
      reply.header(REDACTED_HEADER, REDACTED_HEADER_VALUE);
      return sendJson(reply, redactJson(def, typeof stored === "string" ? stored : stored.json));
    };

    const list = async (req: FastifyRequest, reply: FastifyReply, namespace: string | null) => {
      const query = req.query as Query;
      const visible = secretsVisibility(auth, req.user, def, namespace);
      const redact = hasSecrets(def) ? (key: string) => !visible(namespaceOfKey(def, key)) : undefined;
      const headers: Record<string, string> = mayRedact(auth, req.user, def, namespace)
        ? { [REDACTED_HEADER]: REDACTED_HEADER_VALUE }
        : {};
      if (isWatch(query.watch)) {
        const heartbeatSeconds = intQuery(query, "heartbeat", 10)!;
        const afterRevision = intQuery(query, "resource_version", undefined);
        const release = deps.limits?.acquireWatch(req);
        try {
          await deps.watches.start(
            { def, namespace, scope: req.listScope, heartbeatSeconds, afterRevision, onEnd: release, redact, headers },
            reply.raw,
            () => reply.hijack(),
          );
        } catch (err) {
          release?.();
          throw err;
        }
        return reply;
      }
      const present = redact && ((key: string, json: string) => (redact(key) ? redactJson(def, json) : json));
      return sendJson(reply.headers(headers), await service.list(def, namespace, req.listScope, present));
    };

    const create = async (req: FastifyRequest, reply: FastifyReply) => {
      const stored = await service.create(def, nsOf(req), bodyOf(req));
      const state = blockingState(def, req.query as Query);
      if (state === null) return answer(req, reply, stored);
      return answer(
        req,
        reply,
        await waitForState(service.store, stored.kv, state, deps.blockingTimeoutMs),
      );
    };

    const remove = async (req: FastifyRequest, reply: FastifyReply) => {
      const query = req.query as Query;
      const force = def.blocking && query.force === "True";
      const stored = await service.delete(def, nsOf(req), nameOf(req), force);
      const state = blockingState(def, query);
      if (state === null || force) return answer(req, reply, stored);
      return answer(req, reply, await waitForState(service.store, stored.kv, state, deps.blockingTimeoutMs));
    };

    path(base, {
      GET: {
        access: access("list"),
        handle: (req, reply) => list(req, reply, nsOf(req)),
      },
      POST: { access: access("create"), handle: create },
    });
    if (def.namespaced) {
      path(`/${def.group}/${def.plural}`, {
        GET: { access: () => "list-all", handle: (req, reply) => list(req, reply, null) },
      });
    }
    path(item, {
      GET: {
        access: access("get"),
        handle: async (req, reply) => answer(req, reply, await service.read(def, nsOf(req), nameOf(req))),
      },
      PUT: {
        access: access("update"),
        handle: async (req, reply) => answer(req, reply, await service.update(def, nsOf(req), nameOf(req), bodyOf(req))),
      },
      DELETE: { access: access("delete"), handle: remove },
    });
    if (def.hasStatus) {
      path(`${item}/status`, {
        PUT: {
          access: access("update", `${def.plural}/status`),
          handle: async (req, reply) =>
            answer(req, reply, await service.updateStatus(def, nsOf(req), nameOf(req), bodyOf(req))),
        },
      });
    }
    for (const action of def.actions) {
      path(`${item}/${action.name}`, {
        PUT: {
          access: access("update", action.rbacResource),
          handle: async (req, reply) => answer(req, reply, await runAction(def, action, req)),
        },
      });
    }

    async function runAction(def: KindDef, action: SubresourceAction, req: FastifyRequest) {
      try {
        return await service.action(def, action, nsOf(req), nameOf(req), action.body ? bodyOf(req) : null);
      } catch (err) {
        if (err instanceof ActionRejected) {
          throw new ApiError(err.status, err.title, err.status === 401 ? `401: ${err.message}` : err.message);
        }
        throw err;
      }
    }
  }
}
