/**
 * JSON Web Tokens (RFC 7519) signed with an asymmetric key (JWS, RFC 7515), verified with node:crypto.
 * Only public-key algorithms are accepted: `none` proves nothing, and HS* would need a secret shared with
 * the issuer (and is the classic key-confusion attack when a public key is used as the HMAC secret).
 */
import { constants, createPublicKey, verify, type JsonWebKey, type KeyObject } from "node:crypto";

export interface DecodedJwt {
  header: { alg?: unknown; kid?: unknown; typ?: unknown; [k: string]: unknown };
  payload: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

interface Algorithm {
  hash: string | null;
  keyTypes: string[];
  /** EC curve (node's name), where the algorithm fixes one. */
  curve?: string;
  pss?: boolean;
  ecdsa?: boolean;
}

export const ALGORITHMS: Record<string, Algorithm> = {
  RS256: { hash: "sha256", keyTypes: ["rsa"] },
  RS384: { hash: "sha384", keyTypes: ["rsa"] },
  RS512: { hash: "sha512", keyTypes: ["rsa"] },
  PS256: { hash: "sha256", keyTypes: ["rsa", "rsa-pss"], pss: true },
  PS384: { hash: "sha384", keyTypes: ["rsa", "rsa-pss"], pss: true },
  PS512: { hash: "sha512", keyTypes: ["rsa", "rsa-pss"], pss: true },
  ES256: { hash: "sha256", keyTypes: ["ec"], curve: "prime256v1", ecdsa: true },
  ES384: { hash: "sha384", keyTypes: ["ec"], curve: "secp384r1", ecdsa: true },
  ES512: { hash: "sha512", keyTypes: ["ec"], curve: "secp521r1", ecdsa: true },
  EdDSA: { hash: null, keyTypes: ["ed25519", "ed448"] },
};

const B64URL = /^[A-Za-z0-9_-]+$/;

function jsonPart(part: string): Record<string, unknown> | null {
  try {
    const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value && typeof value === "object" && !Array.isArray(value) ? value : null;
  } catch {
    return null;
  }
}

/** The parts of a compact JWS, or null when `token` is not one (then it is some other kind of token). */
export function decodeJwt(token: string): DecodedJwt | null {
  const parts = token.split(".");
  if (
    parts.length !== 3 ||
    !B64URL.test(parts[0]) ||
    !B64URL.test(parts[1]) ||
    (parts[2] && !B64URL.test(parts[2]))
  )
    return null;
  const header = jsonPart(parts[0]);
  const payload = jsonPart(parts[1]);
  if (!header || !payload || typeof header.alg !== "string") return null;
  return {
    header,
    payload,
    signingInput: Buffer.from(`${parts[0]}.${parts[1]}`, "ascii"),
    signature: Buffer.from(parts[2], "base64url"),
  };
}

export function isSupportedAlgorithm(alg: unknown): alg is string {
  return typeof alg === "string" && Object.hasOwn(ALGORITHMS, alg);
}

/** A verification key from a JWKS entry, or null for one that cannot verify signatures (e.g. `use: enc`). */
export function keyFromJwk(jwk: JsonWebKey & { use?: string; kid?: string; alg?: string }): KeyObject | null {
  if (jwk.use !== undefined && jwk.use !== "sig") return null;
  if (!["RSA", "EC", "OKP"].includes(String(jwk.kty))) return null;
  try {
    return createPublicKey({ key: jwk, format: "jwk" });
  } catch {
    return null;
  }
}

/** Whether `key` is of the type `alg` needs (an RSA key must never verify an EC algorithm and so on). */
export function keyFits(key: KeyObject, alg: string): boolean {
  const a = ALGORITHMS[alg];
  if (!a || !a.keyTypes.includes(key.asymmetricKeyType ?? "")) return false;
  return !a.curve || key.asymmetricKeyDetails?.namedCurve === a.curve;
}

export function verifySignature(jwt: DecodedJwt, key: KeyObject): boolean {
  const alg = String(jwt.header.alg);
  const a = ALGORITHMS[alg];
  if (!a || !keyFits(key, alg)) return false;
  try {
    if (a.pss)
      return verify(
        a.hash,
        jwt.signingInput,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        jwt.signature,
      );
    if (a.ecdsa) return verify(a.hash, jwt.signingInput, { key, dsaEncoding: "ieee-p1363" }, jwt.signature);
    return verify(a.hash, jwt.signingInput, key, jwt.signature);
  } catch {
    return false;
  }
}
