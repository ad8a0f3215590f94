/**
 * A real API server on a free loopback port with an embedded store in a temp dir, for HTTP-level tests.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { resolveApiConfig, type ApiOptions } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import type { ApiServer } from "../../src/api/server.js";
import { KrakeClient } from "../../src/client/index.js";
import type { Store } from "../../src/store/store.js";

export interface TestApi {
  url: string;
  client: KrakeClient;
  server: ApiServer;
  dataDir: string;
  close(): Promise<void>;
}

export async function startTestApi(options: ApiOptions = {}, store?: Store): Promise<TestApi> {
  const dataDir = await mkdtemp(join(tmpdir(), "krake-api-test-"));
  // Tests are anonymous callers from one address, and some (fuzzing) send thousands of requests: no rate
  // limit unless a test asks for one (test/api/limits.test.ts covers it).
  const config = resolveApiConfig({ host: "127.0.0.1", port: 0, dataDir, fsync: false, logLevel: "silent", rateLimit: 0, ...options });
  const server = await startApiServer(config, { logger: pino({ level: "silent" }), store });
  const client = new KrakeClient({ url: server.url });
  return {
    url: server.url,
    client,
    server,
    dataDir,
    async close() {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A raw HTTP call that returns status, headers and the parsed (or raw) body, for wire-level assertions. */
export async function http(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: any; text: string }> {
  const res = await fetch(url + path, {
    method,
    headers: { ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: any = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(
  check: () => Promise<T> | T,
  timeoutMs = 5000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

/** A rule that grants every verb on every resource (and subresource, secrets included) everywhere. */
export const ALL_VERBS = ["create", "list", "get", "update", "delete"];
export const EVERYTHING = { api: "", resources: [""], namespaces: [""], verbs: ALL_VERBS };

/**
 * Writes Roles and RoleBindings straight into a store: how a test under RBAC gets its first roles, which
 * nobody could create through the API. Servers over the store pick them up through their watch.
 */
export async function putRbac(
  store: Store,
  objects: {
    roles?: Record<string, { api: string; resources: string[]; namespaces: string[]; verbs: string[] }[]>;
    bindings?: Record<string, { users: string[]; roles: string[] }>;
  },
): Promise<void> {
  const now = "2026-01-01T00:00:00.000000+00:00";
  const metadata = (name: string) => ({
    name,
    namespace: null,
    labels: {},
    inherit_labels: false,
    finalizers: [],
    uid: name,
    created: now,
    modified: now,
    deleted: null,
    owners: [],
  });
  for (const [name, rules] of Object.entries(objects.roles ?? {}))
    await store.put(`/core/roles/${name}`, JSON.stringify({ metadata: metadata(name), api: "core", kind: "Role", rules }));
  for (const [name, binding] of Object.entries(objects.bindings ?? {}))
    await store.put(
      `/core/rolebindings/${name}`,
      JSON.stringify({ metadata: metadata(name), api: "core", kind: "RoleBinding", ...binding }),
    );
}

/** Krake's administrator: `role:system` for `system:admin`. */
export const ADMIN_RBAC = {
  roles: { "role:system": [EVERYTHING] },
  bindings: { "rb:system": { users: ["system:admin"], roles: ["role:system"] } },
};
