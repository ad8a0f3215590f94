/**
 * Identities for callers inside the API's own process (`krake up`'s controllers and bootstrap loader): each
 * gets a random bearer token that lives only in memory, so each acts under its own user and RBAC sees
 * exactly who called. A bearer token this authenticator did not issue is left to the next authenticator.
 */
import { createHash, randomBytes } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { bearerToken, type Authenticator } from "./authenticator.js";

/** Tokens are kept only as digests: a lookup by digest does not leak a token's prefix through timing. */
const digest = (token: string) => createHash("sha256").update(token).digest("base64url");

export class InProcessIdentities implements Authenticator {
  readonly name = "in-process";
  private readonly users = new Map<string, string>();

  /** A fresh 256-bit token that authenticates as `user`. Never log or print it. */
  issue(user: string): string {
    if (!user) throw new Error("an in-process identity needs a user name");
    const token = randomBytes(32).toString("base64url");
    this.users.set(digest(token), user);
    return token;
  }

  authenticate(req: FastifyRequest): string | null {
    const token = bearerToken(req);
    return token === null ? null : (this.users.get(digest(token)) ?? null);
  }

  close(): void {
    this.users.clear();
  }
}
