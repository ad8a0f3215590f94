import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { FastifyRequest } from "fastify";
import { InProcessIdentities } from "./in-process.js";

const request = (authorization?: string) =>
  ({ headers: authorization ? { authorization } : {} }) as FastifyRequest;

describe("in-process identities", () => {
  it("a token it issued is its user; each issue is a fresh, unguessable token", () => {
    const ids = new InProcessIdentities();
    const a = ids.issue("system:scheduler");
    const b = ids.issue("system:scheduler");
    assert.notEqual(a, b);
    assert.ok(Buffer.from(a, "base64url").length >= 32, "256 bits");
    assert.equal(ids.authenticate(request(`Bearer ${a}`)), "system:scheduler");
    assert.equal(ids.authenticate(request(`bearer ${b}`)), "system:scheduler");
  });

  it("leaves other credentials to the next authenticator (null), and forgets its tokens on close", () => {
    const ids = new InProcessIdentities();
    const token = ids.issue("system:gc");
    assert.equal(ids.authenticate(request()), null);
    assert.equal(ids.authenticate(request("Bearer someone-elses-token")), null);
    assert.equal(ids.authenticate(request(token)), null, "not a bearer header");
    ids.close();
    assert.equal(ids.authenticate(request(`Bearer ${token}`)), null);
  });

  it("refuses to issue a token for no user", () => {
    assert.throws(() => new InProcessIdentities().issue(""), /needs a user name/);
  });
});
