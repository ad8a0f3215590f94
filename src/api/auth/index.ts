/**
 * Who is calling (authentication) and may they (authorization). Each request is authenticated before its
 * body is read, as Krake does: an unauthenticated caller learns nothing about body validation.
 */
import type { FastifyRequest } from "fastify";
import { Errors } from "../errors.js";
import type { Authenticator } from "./authenticator.js";
import { presentsCredential } from "./credentials.js";
import type { AccessRequest, NamespaceScope, RbacCache } from "./rbac.js";

export type { Authenticator } from "./authenticator.js";

export const ANONYMOUS = "system:anonymous";

export interface AuthConfig {
  /** Tried in order; the first that recognises a credential decides. */
  authenticators: Authenticator[];
  allowAnonymous: boolean;
  authorization: "always-allow" | "always-deny" | "RBAC";
}

export class Auth {
  constructor(
    private readonly config: AuthConfig,
    private readonly rbac: RbacCache | null,
  ) {}

  /** The user name, or an ApiError (401). */
  async authenticate(req: FastifyRequest): Promise<string> {
    for (const authenticator of this.config.authenticators) {
      const user = await authenticator.authenticate(req);
      if (user !== null) return user;
    }
    if (req.method === "OPTIONS") return ANONYMOUS;
    // A credential nobody recognised (a token not in the file, a JWT of an issuer we do not trust…): the
    // caller meant to be someone, so serving them as anonymous would hide their mistake.
    if (presentsCredential(req))
      throw Errors.credentialRejected("the credential was not accepted: unknown token, or no authenticator for its kind is configured");
    if (this.config.allowAnonymous) return ANONYMOUS;
    throw Errors.unauthenticated();
  }

  /** Whether `user` may do `access`, without throwing (e.g. to decide what a reader may see). */
  may(user: string, access: AccessRequest): boolean {
    switch (this.config.authorization) {
      case "always-allow":
        return true;
      case "always-deny":
        return false;
      case "RBAC":
        return user !== ANONYMOUS && this.rbac!.allows(user, access);
    }
  }

  close(): void {
    for (const authenticator of this.config.authenticators) authenticator.close?.();
  }

  authorize(user: string, access: AccessRequest): void {
    switch (this.config.authorization) {
      case "always-allow":
        return;
      case "always-deny":
        throw Errors.forbidden();
      case "RBAC":
        if (user === ANONYMOUS) throw Errors.anonymousDenied();
        if (!this.rbac!.allows(user, access)) throw Errors.forbidden();
    }
  }

  /** Namespaces whose items a list-all may return (D3); 403 when there are none. */
  listAllScope(user: string, api: string, resource: string): NamespaceScope {
    if (this.config.authorization === "always-allow") return "all";
    if (this.config.authorization === "always-deny") throw Errors.forbidden();
    if (user === ANONYMOUS) throw Errors.anonymousDenied();
    const scope = this.rbac!.listableNamespaces(user, api, resource);
    if (scope !== "all" && scope.size === 0) throw Errors.forbidden();
    return scope;
  }

  /** The namespaces in which `user` may `verb` a namespaced `resource`, without throwing. */
  namespaceScope(user: string, verb: string, api: string, resource: string): NamespaceScope {
    switch (this.config.authorization) {
      case "always-allow":
        return "all";
      case "always-deny":
        return new Set();
      case "RBAC":
        return user === ANONYMOUS ? new Set() : this.rbac!.namespacesGranting(user, verb, api, resource);
    }
  }

  rolesOf(user: string): string[] {
    return this.rbac ? this.rbac.roleNamesOf(user) : [];
  }
}
