/**
 * Who is calling (authentication) and may they (authorization). Each request is authenticated before its
 * body is read, as Krake does: an unauthenticated caller learns nothing about body validation.
 */
import type { FastifyRequest } from "fastify";
import type { TLSSocket } from "node:tls";
import { Errors } from "../errors.js";
import type { AccessRequest, NamespaceScope, RbacCache } from "./rbac.js";

export const ANONYMOUS = "system:anonymous";

export interface AuthConfig {
  allowAnonymous: boolean;
  staticUser: string | null;
  tlsClientAuth: boolean;
  authorization: "always-allow" | "always-deny" | "RBAC";
}

export class Auth {
  constructor(
    private readonly config: AuthConfig,
    private readonly rbac: RbacCache | null,
  ) {}

  /** The user name, or an ApiError (401). */
  authenticate(req: FastifyRequest): string {
    if (this.config.staticUser) return this.config.staticUser;
    if (this.config.tlsClientAuth) {
      const socket = req.raw.socket as TLSSocket;
      if (typeof socket.getPeerCertificate === "function" && socket.authorized) {
        const cn = socket.getPeerCertificate()?.subject?.CN;
        if (typeof cn === "string" && cn) return cn;
      }
    }
    if (this.config.allowAnonymous || req.method === "OPTIONS") return ANONYMOUS;
    throw Errors.unauthenticated();
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

  rolesOf(user: string): string[] {
    return this.rbac ? this.rbac.roleNamesOf(user) : [];
  }
}
