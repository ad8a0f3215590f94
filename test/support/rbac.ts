/**
 * An API server under RBAC whose callers are told apart by in-process tokens, the way `krake up` tells its
 * controllers apart: any number of users, one server, no certificates.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { resolveApiConfig, type ApiOptions } from "../../src/api/config.js";
import { startApiServer } from "../../src/api/start.js";
import type { ApiServer } from "../../src/api/server.js";
import { InProcessIdentities } from "../../src/api/auth/in-process.js";
import { RbacCache, type AccessRequest } from "../../src/api/auth/rbac.js";
import { KrakeClient } from "../../src/client/index.js";
import { controllerProbe, waitForAccess } from "../../src/cli/identities.js";
import { CONTROLLER_NAMES, CONTROLLER_USERS } from "../../src/controllers/index.js";

export const BASE_ROLES = fileURLToPath(new URL("../../../support/base_roles.yaml", import.meta.url));

const ADMIN_ROLE = {
  api: "core",
  kind: "Role",
  metadata: { name: "role:system" },
  rules: [{ api: "", namespaces: [""], resources: [""], verbs: ["create", "list", "list_all", "get", "update", "delete"] }],
};
const ADMIN_BINDING = {
  api: "core",
  kind: "RoleBinding",
  metadata: { name: "rolebinding:system" },
  roles: ["role:system"],
  users: ["system:admin"],
};

export interface RbacApi {
  url: string;
  server: ApiServer;
  /** A client acting as `user` (a token issued on first use). */
  as(user: string): KrakeClient;
  /** The `Authorization` header of `user`. */
  header(user: string): Record<string, string>;
  /** What the authorizer decides for `user`, for permissions without a route (`<plural>/secrets`). */
  allows(user: string, access: AccessRequest): boolean;
  admin: KrakeClient;
  close(): Promise<void>;
}

export interface RbacApiOptions {
  /** Load support/base_roles.yaml (and wait until the authorizer has it). */
  baseRoles?: boolean;
  api?: ApiOptions;
  /** CA of an HTTPS API's certificate, for the clients. */
  ca?: Buffer;
}

export async function startRbacApi(options: RbacApiOptions = {}): Promise<RbacApi> {
  const dataDir = await mkdtemp(join(tmpdir(), "krake-rbac-test-"));
  const config = resolveApiConfig({
    host: "127.0.0.1",
    port: 0,
    dataDir,
    fsync: false,
    logLevel: "silent",
    authorization: "RBAC",
    allowAnonymous: true,
    // Created before the server listens, as `krake api --bootstrap` does: the administrator, and the rest.
    defaultObjects: [
      { doc: ADMIN_ROLE, where: "the test administrator role" },
      { doc: ADMIN_BINDING, where: "the test administrator binding" },
    ],
    bootstrap: options.baseRoles ? BASE_ROLES : undefined,
    ...options.api,
  });
  const identities = new InProcessIdentities();
  const server = await startApiServer(config, {
    logger: pino({ level: "silent" }),
    authenticators: [identities],
  });
  const tokens = new Map<string, string>();
  const tokenOf = (user: string) => {
    if (!tokens.has(user)) tokens.set(user, identities.issue(user));
    return tokens.get(user)!;
  };
  const as = (user: string) =>
    new KrakeClient({
      url: server.url,
      token: tokenOf(user),
      tls: options.ca ? { ca: options.ca } : undefined,
    });
  const admin = as("system:admin");
  if (options.baseRoles) {
    for (const name of CONTROLLER_NAMES) {
      if (!(await waitForAccess(controllerProbe(as(CONTROLLER_USERS[name]), name), 5000)))
        throw new Error(`${CONTROLLER_USERS[name]} never got its role`);
    }
  }
  // A second view of the same roles, for the permissions that have no route of their own.
  const rbac = new RbacCache(server.store, () => {});
  await rbac.start();
  return {
    url: server.url,
    server,
    as,
    header: (user) => ({ Authorization: `Bearer ${tokenOf(user)}` }),
    allows: (user, access) => rbac.allows(user, access),
    admin,
    async close() {
      rbac.stop();
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
