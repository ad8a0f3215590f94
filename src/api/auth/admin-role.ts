/**
 * The administrator of a fresh RBAC installation. Under RBAC nobody may write the first Role through the API,
 * so a process that must load roles as `system:admin` (`krake up --authorization RBAC --bootstrap …`) first
 * makes sure that user is an administrator: Krake's `role:system` and `rolebinding:system`, as in
 * support/base_roles.yaml. Existing objects of those names are left as they are.
 */
import { ApiError } from "../errors.js";
import { ResourceService } from "../service.js";
import type { Store } from "../../store/store.js";
import { Role, RoleBinding } from "../../resources/registry.js";

export const ADMIN_USER = "system:admin";

const ADMIN_ROLE = {
  api: "core",
  kind: "Role",
  metadata: { name: "role:system" },
  rules: [
    {
      api: "",
      namespaces: [""],
      resources: [""],
      verbs: ["create", "list", "list_all", "get", "update", "delete"],
    },
  ],
};

const ADMIN_BINDING = {
  api: "core",
  kind: "RoleBinding",
  metadata: { name: "rolebinding:system" },
  roles: ["role:system"],
  users: [ADMIN_USER],
};

/** Creates the admin role and binding where missing; answers the names it created. */
export async function ensureAdminRole(store: Store): Promise<string[]> {
  const service = new ResourceService(store, { retryTransactions: 5 });
  const created: string[] = [];
  for (const [def, body] of [
    [Role, ADMIN_ROLE],
    [RoleBinding, ADMIN_BINDING],
  ] as const) {
    try {
      await service.create(def, null, structuredClone(body));
      created.push(body.metadata.name);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
    }
  }
  return created;
}
