/**
 * Where a caller's credential sits in a request. Several authenticators read the same headers, each taking
 * only the kind it understands; the chain needs to know whether anything was sent at all, because a request
 * that carried a credential nobody accepted must be refused, not served as anonymous.
 */
import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { TLSSocket } from "node:tls";

export { bearerToken } from "./authenticator.js";

/** Keystone's `Authorization: <token>` (api.md §12): a header with one word and no scheme. */
export function rawAuthorization(req: FastifyRequest): string | null {
  const header = req.headers.authorization;
  if (typeof header !== "string") return null;
  const value = header.trim();
  return value && !/\s/.test(value) ? value : null;
}

/** OpenStack's own header for a token. */
export function xAuthToken(req: FastifyRequest): string | null {
  const header = req.headers["x-auth-token"];
  return typeof header === "string" && header.trim() ? header.trim() : null;
}

/** Whether the request carries any credential: a header an authenticator reads, or a client certificate. */
export function presentsCredential(req: FastifyRequest): boolean {
  if (typeof req.headers.authorization === "string" && req.headers.authorization.trim()) return true;
  if (xAuthToken(req)) return true;
  const socket = req.raw.socket as TLSSocket;
  if (typeof socket.getPeerCertificate !== "function") return false;
  const cert = socket.getPeerCertificate();
  return Boolean(cert && Object.keys(cert).length > 0);
}

/**
 * Caches and token tables are keyed by this, not by the token: a lookup costs no secret-dependent
 * comparison, and a heap dump holds no usable token.
 */
export function tokenDigest(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}
