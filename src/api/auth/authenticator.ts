/**
 * One way of telling who is calling. The API tries its authenticators in the configured order; the first
 * that recognises a credential decides. An authenticator that finds no credential of its kind answers null
 * and the next one is asked; one that finds a credential it cannot accept throws (401), because a caller who
 * sent a bad token must learn that, not be served as someone else (anonymous).
 */
import type { FastifyRequest } from "fastify";
import type { TLSSocket } from "node:tls";
import { Errors } from "../errors.js";

export interface Authenticator {
  /** Short name for logs and the configured order, e.g. `tls`, `token`, `oidc`, `keystone`. */
  readonly name: string;
  authenticate(req: FastifyRequest): Promise<string | null> | string | null;
  /** Releases timers, caches and sockets. */
  close?(): void;
}

/** Every request is this user (Krake's `static` strategy, for development). */
export function staticUserAuthenticator(user: string): Authenticator {
  return { name: "static", authenticate: () => user };
}

/** The subject CN of a client certificate the TLS layer verified against the client CA. */
export function tlsClientCertAuthenticator(): Authenticator {
  return {
    name: "tls",
    authenticate(req) {
      const socket = req.raw.socket as TLSSocket;
      if (typeof socket.getPeerCertificate !== "function") return null;
      const cert = socket.getPeerCertificate();
      if (!cert || Object.keys(cert).length === 0) return null;
      // A certificate the client CA did not sign is a credential, and a bad one: never anonymous.
      if (!socket.authorized)
        throw Errors.credentialRejected(`the client certificate is not accepted (${String(socket.authorizationError)})`);
      const cn = cert.subject?.CN;
      return typeof cn === "string" && cn ? cn : null;
    },
  };
}

/** `Authorization: Bearer <token>`, or null. The scheme is case-insensitive (RFC 7235). */
export function bearerToken(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (typeof header !== "string") return null;
  const match = /^bearer\s+(\S+)\s*$/i.exec(header);
  return match ? match[1] : null;
}
