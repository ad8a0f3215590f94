/**
 * A test OpenID Connect issuer in the test process: discovery, a JWKS with RSA and EC keys (rotatable), a
 * token endpoint (password, device_code and refresh_token grants), a device authorization endpoint, and
 * Keycloak's userinfo endpoint (Krake's Keycloak strategy). `sign` makes any token a test needs, including
 * ones signed with a key the JWKS does not publish.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { generateKeyPairSync, randomBytes, sign as cryptoSign, constants, type KeyObject } from "node:crypto";
import type { AddressInfo } from "node:net";

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export interface SignOptions {
  /** Default: the current RSA key. */
  key?: TestKey;
  /** Overrides the header's kid (undefined keeps the key's; null leaves kid out). */
  kid?: string | null;
  /** Overrides the header's alg (the signature is still made with the key's own algorithm). */
  alg?: string;
}

export interface IssuerOptions {
  realm?: string;
  clientId?: string;
  /** When set, the token endpoint requires it. */
  clientSecret?: string;
  users?: Record<string, string>;
  grantTypes?: string[];
  accessTokenTtlSeconds?: number;
  deviceInterval?: number;
}

export function makeKey(kid: string, alg: "RS256" | "PS256" | "ES256" | "ES384" | "EdDSA"): TestKey {
  const pair =
    alg === "RS256" || alg === "PS256"
      ? generateKeyPairSync("rsa", { modulusLength: 2048 })
      : alg === "EdDSA"
        ? generateKeyPairSync("ed25519")
        : generateKeyPairSync("ec", { namedCurve: alg === "ES256" ? "P-256" : "P-384" });
  return { kid, alg, ...pair };
}

const HASH: Record<string, string | null> = {
  RS256: "sha256",
  PS256: "sha256",
  ES256: "sha256",
  ES384: "sha384",
  EdDSA: null,
};

export function signJwt(
  claims: Record<string, unknown>,
  key: TestKey,
  header: { kid?: string | null; alg?: string } = {},
): string {
  const head: Record<string, unknown> = { alg: header.alg ?? key.alg, typ: "JWT" };
  const kid = header.kid === undefined ? key.kid : header.kid;
  if (kid !== null) head.kid = kid;
  const input = `${Buffer.from(JSON.stringify(head)).toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  const opts =
    key.alg === "PS256"
      ? {
          key: key.privateKey,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }
      : key.alg.startsWith("ES")
        ? { key: key.privateKey, dsaEncoding: "ieee-p1363" as const }
        : key.privateKey;
  return `${input}.${cryptoSign(HASH[key.alg], Buffer.from(input), opts).toString("base64url")}`;
}

interface DeviceGrant {
  deviceCode: string;
  userCode: string;
  approvedFor: string | null;
  expiresAt: number;
  slowDownOnce: boolean;
  polls: number;
}

export class TestIssuer {
  readonly realm: string;
  readonly clientId: string;
  readonly keys: { rsa: TestKey; ec: TestKey; ps: TestKey; ed: TestKey; outsider: TestKey };
  /** What the JWKS publishes. */
  published: TestKey[];
  users: Record<string, string>;
  grantTypes: string[];
  accessTokenTtlSeconds: number;
  /** When true every request's connection is dropped: the issuer is down. */
  down = false;
  /** Requests per path, e.g. `/realms/krake/jwks`. */
  readonly hits = new Map<string, number>();
  /** Every grant_type the token endpoint was asked for, in order. */
  readonly grants: string[] = [];
  private readonly devices = new Map<string, DeviceGrant>();
  private readonly refreshTokens = new Map<string, string>();
  private readonly signed = new Map<string, { key: TestKey; claims: Record<string, unknown> }>();
  private server!: Server;
  base = "";

  constructor(private readonly options: IssuerOptions = {}) {
    this.realm = options.realm ?? "krake";
    this.clientId = options.clientId ?? "krake-cli";
    this.keys = {
      rsa: makeKey("rsa-1", "RS256"),
      ec: makeKey("ec-1", "ES256"),
      ps: makeKey("ps-1", "PS256"),
      ed: makeKey("ed-1", "EdDSA"),
      outsider: makeKey("rsa-1", "RS256"),
    };
    this.published = [this.keys.rsa, this.keys.ec, this.keys.ps, this.keys.ed];
    this.users = options.users ?? { alice: "alice-pw", bob: "bob-pw" };
    this.grantTypes = options.grantTypes ?? [
      "password",
      "refresh_token",
      "urn:ietf:params:oauth:grant-type:device_code",
    ];
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 300;
  }

  get issuer(): string {
    return `${this.base}/realms/${this.realm}`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Publishes a new RSA key (and keeps the old ones unless `drop`): the issuer rolled its keys. */
  rotate(kid: string, drop = false): TestKey {
    const key = makeKey(kid, "RS256");
    this.published = drop ? [key] : [...this.published, key];
    return key;
  }

  /** Claims a valid token for `user` has, for tests to vary. */
  claims(user: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
    const now = Math.floor(Date.now() / 1000);
    return {
      iss: this.issuer,
      aud: this.clientId,
      sub: `id-${user}`,
      preferred_username: user,
      iat: now,
      exp: now + this.accessTokenTtlSeconds,
      // Two tokens made in the same second must still differ.
      jti: randomBytes(8).toString("hex"),
      ...extra,
    };
  }

  sign(claims: Record<string, unknown>, options: SignOptions = {}): string {
    const key = options.key ?? this.keys.rsa;
    const token = signJwt(claims, key, { kid: options.kid, alg: options.alg });
    this.signed.set(token, { key, claims });
    return token;
  }

  /** The user approves the device login shown with `userCode`. */
  approve(userCode: string, user: string): void {
    for (const d of this.devices.values()) if (d.userCode === userCode) d.approvedFor = user;
  }

  /** The next poll of every pending device login answers slow_down once. */
  slowDown(): void {
    for (const d of this.devices.values()) d.slowDownOnce = true;
  }

  private count(path: string) {
    this.hits.set(path, (this.hits.get(path) ?? 0) + 1);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? "/", this.base);
    this.count(url.pathname);
    const body = await readForm(req);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "Content-Type": "application/json", "Cache-Control": "no-store" });
      res.end(JSON.stringify(value));
    };
    const realm = `/realms/${this.realm}`;
    switch (url.pathname) {
      case `${realm}/.well-known/openid-configuration`:
        return json(200, {
          issuer: this.issuer,
          jwks_uri: `${this.issuer}/protocol/openid-connect/certs`,
          token_endpoint: `${this.issuer}/protocol/openid-connect/token`,
          device_authorization_endpoint: `${this.issuer}/protocol/openid-connect/auth/device`,
          userinfo_endpoint: `${this.issuer}/protocol/openid-connect/userinfo`,
          grant_types_supported: this.grantTypes,
          id_token_signing_alg_values_supported: ["RS256", "ES256", "PS256", "EdDSA"],
        });
      case `${realm}/protocol/openid-connect/certs`:
        return json(200, {
          keys: this.published.map((k) => ({
            ...k.publicKey.export({ format: "jwk" }),
            kid: k.kid,
            alg: k.alg,
            use: "sig",
          })),
        });
      case `${realm}/protocol/openid-connect/auth/device`: {
        if (body.get("client_id") !== this.clientId) return json(401, { error: "invalid_client" });
        if (!this.grantTypes.includes("urn:ietf:params:oauth:grant-type:device_code"))
          return json(400, { error: "unauthorized_client" });
        const grant: DeviceGrant = {
          deviceCode: randomBytes(16).toString("hex"),
          userCode: randomBytes(3).toString("hex").toUpperCase(),
          approvedFor: null,
          expiresAt: Date.now() + 60_000,
          slowDownOnce: false,
          polls: 0,
        };
        this.devices.set(grant.deviceCode, grant);
        return json(200, {
          device_code: grant.deviceCode,
          user_code: grant.userCode,
          verification_uri: `${this.issuer}/device`,
          verification_uri_complete: `${this.issuer}/device?user_code=${grant.userCode}`,
          expires_in: 60,
          interval: this.options.deviceInterval ?? 1,
        });
      }
      case `${realm}/protocol/openid-connect/token`:
        return this.token(body, json);
      case `/auth/realms/${this.realm}/protocol/openid-connect/userinfo`: {
        // Krake's Keycloak strategy posts the token as a form field; a token is valid if we signed it.
        const token = body.get("access_token") ?? "";
        const user = this.userOf(token);
        return user
          ? json(200, { sub: `id-${user}`, preferred_username: user })
          : json(401, { error: "invalid_token" });
      }
      default:
        return json(404, { error: "not_found" });
    }
  }

  /** The user of an access token this issuer signed with a published key and that has not expired, else null. */
  private userOf(token: string): string | null {
    const signed = this.signed.get(token);
    if (!signed || !this.published.includes(signed.key)) return null;
    const claims = signed.claims;
    return typeof claims.exp === "number" && claims.exp > Date.now() / 1000
      ? String(claims.preferred_username)
      : null;
  }

  private issue(user: string) {
    const refresh = randomBytes(16).toString("hex");
    this.refreshTokens.set(refresh, user);
    return {
      access_token: this.sign(this.claims(user)),
      token_type: "Bearer",
      expires_in: this.accessTokenTtlSeconds,
      refresh_token: refresh,
    };
  }

  private token(body: URLSearchParams, json: (status: number, value: unknown) => void): void {
    const grantType = body.get("grant_type") ?? "";
    this.grants.push(grantType);
    if (body.get("client_id") !== this.clientId) return json(401, { error: "invalid_client" });
    if (this.options.clientSecret && body.get("client_secret") !== this.options.clientSecret)
      return json(401, { error: "invalid_client" });
    if (!this.grantTypes.includes(grantType))
      return json(400, { error: "unsupported_grant_type", error_description: `${grantType} is not enabled` });
    if (grantType === "password") {
      const user = body.get("username") ?? "";
      if (!this.users[user] || this.users[user] !== body.get("password"))
        return json(401, { error: "invalid_grant", error_description: "Invalid user credentials" });
      return json(200, this.issue(user));
    }
    if (grantType === "refresh_token") {
      const user = this.refreshTokens.get(body.get("refresh_token") ?? "");
      if (!user) return json(400, { error: "invalid_grant", error_description: "Invalid refresh token" });
      this.refreshTokens.delete(body.get("refresh_token")!);
      return json(200, this.issue(user));
    }
    const device = this.devices.get(body.get("device_code") ?? "");
    if (!device) return json(400, { error: "invalid_grant" });
    device.polls++;
    if (Date.now() > device.expiresAt) return json(400, { error: "expired_token" });
    if (device.slowDownOnce) {
      device.slowDownOnce = false;
      return json(400, { error: "slow_down" });
    }
    if (!device.approvedFor) return json(400, { error: "authorization_pending" });
    this.devices.delete(device.deviceCode);
    return json(200, this.issue(device.approvedFor));
  }

  /** Makes every pending device login expire. */
  expireDevices(): void {
    for (const d of this.devices.values()) d.expiresAt = 0;
  }

  /** The user code of the newest pending device login. */
  pendingUserCode(): string | null {
    const all = [...this.devices.values()];
    return all.length ? all[all.length - 1].userCode : null;
  }
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

export async function startTestIssuer(options: IssuerOptions = {}): Promise<TestIssuer> {
  return new TestIssuer(options).start();
}
