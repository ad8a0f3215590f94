/**
 * A test Keystone v3 endpoint: `GET /v3/auth/tokens` validates the X-Subject-Token against the tokens the
 * test registered, as Keystone does (200 with token.user.name and expires_at, 404 for an unknown token).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export class TestKeystone {
  /** token → user and expiry. */
  readonly tokens = new Map<string, { user: string; expiresAt: Date }>();
  /** Validation calls received. */
  calls = 0;
  /** When true connections are dropped (Keystone is down); a number answers that HTTP status instead. */
  down: boolean | number = false;
  private server!: Server;
  endpoint = "";

  add(token: string, user: string, ttlSeconds = 3600): void {
    this.tokens.set(token, { user, expiresAt: new Date(Date.now() + ttlSeconds * 1000) });
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      if (this.down === true) {
        req.socket.destroy();
        return;
      }
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { "Content-Type": "application/json" });
        res.end(JSON.stringify(value));
      };
      if (typeof this.down === "number") return json(this.down, { error: { code: this.down } });
      if (req.method !== "GET" || req.url !== "/v3/auth/tokens") return json(404, { error: { code: 404 } });
      this.calls++;
      const auth = this.tokens.get(String(req.headers["x-auth-token"] ?? ""));
      if (!auth || auth.expiresAt.getTime() < Date.now())
        return json(401, { error: { code: 401, title: "Unauthorized" } });
      const subject = this.tokens.get(String(req.headers["x-subject-token"] ?? ""));
      if (!subject || subject.expiresAt.getTime() < Date.now())
        return json(404, { error: { code: 404, title: "Not Found", message: "Could not find token" } });
      json(200, {
        token: {
          user: { id: `id-${subject.user}`, name: subject.user, domain: { id: "default", name: "Default" } },
          expires_at: subject.expiresAt.toISOString(),
          methods: ["password"],
        },
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v3`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

export const startTestKeystone = () => new TestKeystone().start();
