/**
 * One audit record per mutating request (POST, PUT, DELETE, PATCH: creates, updates, deletes and every
 * subresource action) and per `GET /backup` (it reads every secret) — refused ones included, because an
 * auditor wants to see the attempts too. A record says who, from where, what, when and with which result; it
 * never holds a body, a header or a query string, so no password, token or kubeconfig can reach it.
 */
import { randomBytes } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { AuditFile } from "./audit-file.js";

/** What routes tell the audit about themselves (fastify route `config.krake`). */
export interface AuditRouteInfo {
  api: string;
  kind: string;
}

export interface AuditRecord {
  time: string;
  request_id: string;
  user: string | null;
  client: string;
  method: string;
  path: string;
  api: string | null;
  kind: string | null;
  namespace: string | null;
  name: string | null;
  subresource: string | null;
  verb: string;
  status: number;
  problem: string | null;
  uid: string | null;
  resource_version: string | null;
  duration_ms: number;
}

interface AuditContext {
  id: string;
  time: string;
  started: number;
  problem: string | null;
  written: { uid?: string; name?: string; resource_version?: string } | null;
}

declare module "fastify" {
  interface FastifyRequest {
    audit?: AuditContext;
  }
  interface FastifyContextConfig {
    krake?: AuditRouteInfo;
  }
}

const MUTATING = new Set(["POST", "PUT", "DELETE", "PATCH"]);
const VERBS: Record<string, string> = { POST: "create", PUT: "update", DELETE: "delete", PATCH: "patch" };

function pathOf(url: string): string {
  const q = url.indexOf("?");
  return q === -1 ? url : url.slice(0, q);
}

function isAudited(req: FastifyRequest): boolean {
  if (MUTATING.has(req.method)) return true;
  return (req.method === "GET" || req.method === "HEAD") && pathOf(req.url) === "/backup";
}

/** `status`, `binding`, … for a route like `/kube/namespaces/:namespace/applications/:name/status`. */
function subresourceOf(routeUrl: string | undefined): string | null {
  if (!routeUrl) return null;
  const at = routeUrl.indexOf("/:name/");
  return at === -1 ? null : routeUrl.slice(at + "/:name/".length);
}

/** The metadata of a written object, read from the answer (only for audited requests). */
function writtenOf(payload: string): AuditContext["written"] {
  try {
    const metadata = (JSON.parse(payload) as { metadata?: Record<string, unknown> })?.metadata;
    if (!metadata || typeof metadata !== "object") return null;
    const str = (v: unknown) => (typeof v === "string" ? v : undefined);
    return {
      uid: str(metadata.uid),
      name: str(metadata.name),
      resource_version: str(metadata.resource_version),
    };
  } catch {
    return null;
  }
}

function problemOf(payload: string, status: number): string | null {
  try {
    const title = (JSON.parse(payload) as { title?: unknown })?.title;
    if (typeof title === "string") return title;
  } catch {
    // Not a problem body: fall back to the status text.
  }
  return STATUS_CODES[status] ?? null;
}

/** Adds the hooks that write audit records to `file`. Register before the routes. */
export function registerAuditLog(app: FastifyInstance, file: AuditFile): void {
  // Request ids are unique across restarts and across the processes of `--workers`.
  const processId = randomBytes(4).toString("hex");
  let counter = 0;

  app.addHook("onRequest", async (req, reply) => {
    if (!isAudited(req)) return;
    const id = `${processId}-${(++counter).toString(36)}`;
    req.audit = {
      id,
      time: new Date().toISOString(),
      started: performance.now(),
      problem: null,
      written: null,
    };
    reply.header("X-Request-Id", id);
  });

  app.addHook("onSend", async (req, reply, payload) => {
    const audit = req.audit;
    if (audit === undefined || typeof payload !== "string") return payload;
    if (reply.statusCode >= 400) audit.problem = problemOf(payload, reply.statusCode);
    else if (req.method !== "GET" && req.method !== "HEAD") audit.written = writtenOf(payload);
    return payload;
  });

  app.addHook("onResponse", async (req, reply) => {
    const audit = req.audit;
    if (audit === undefined) return;
    const params = (req.params ?? {}) as { namespace?: string; name?: string };
    const route = req.routeOptions.config?.krake;
    const record: AuditRecord = {
      time: audit.time,
      request_id: audit.id,
      user: req.user ?? null,
      client: req.ip,
      method: req.method,
      path: pathOf(req.url),
      api: route?.api ?? null,
      kind: route?.kind ?? null,
      namespace: params.namespace ?? null,
      name: params.name ?? audit.written?.name ?? null,
      subresource: subresourceOf(req.routeOptions.url),
      // The only audited reads are of /backup.
      verb: VERBS[req.method] ?? "backup",
      status: reply.statusCode,
      problem: reply.statusCode >= 400 ? (audit.problem ?? STATUS_CODES[reply.statusCode] ?? null) : null,
      uid: audit.written?.uid ?? null,
      resource_version: audit.written?.resource_version ?? null,
      duration_ms: Math.round((performance.now() - audit.started) * 1000) / 1000,
    };
    file.write(record);
  });
}
