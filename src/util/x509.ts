/**
 * X.509 certificates without openssl or a dependency: EC P-256 keys from node:crypto, a minimal DER writer and
 * reader, ECDSA-SHA256 signatures. Enough for a private CA that signs serving certificates (the Kubernetes
 * simulator) and client certificates (per-application hook credentials).
 *
 * The extensions are those a real CA sets (RFC 5280): basicConstraints (critical; `CA:TRUE` for a CA),
 * keyUsage (critical; keyCertSign+cRLSign for a CA, digitalSignature for a leaf), extKeyUsage, subjectAltName,
 * subjectKeyIdentifier and, when signed by a CA, authorityKeyIdentifier.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

export type ExtKeyUsage = "serverAuth" | "clientAuth";

export interface CertificateOptions {
  /** Subject CN. */
  commonName: string;
  /** Subject O (Kubernetes reads it as the user's group). */
  organization?: string;
  /** A CA certificate (may sign others). Default false. */
  isCA?: boolean;
  dnsNames?: string[];
  ipAddresses?: string[];
  /** Default 365. The certificate is valid from one hour ago, to tolerate clock skew. */
  validityDays?: number;
  /** The CA that signs; self-signed without one. */
  issuer?: { certPem: string; keyPem: string };
  /** Default: none for a CA, `["serverAuth", "clientAuth"]` for a leaf. */
  extKeyUsage?: ExtKeyUsage[];
}

export interface CertificateAndKey {
  certPem: string;
  /** PKCS#8 PEM of the certificate's EC P-256 private key. */
  keyPem: string;
}

// --- DER writer --------------------------------------------------------------------------------------------

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...items: Buffer[]) => tlv(0x30, ...items);
const set = (...items: Buffer[]) => tlv(0x31, ...items);
const octets = (b: Buffer) => tlv(0x04, b);
const bool = (v: boolean) => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));
/** BIT STRING whose content is whole bytes. */
const bits = (b: Buffer) => tlv(0x03, Buffer.from([0]), b);
/** `[n]` EXPLICIT (constructed, context-specific). */
const explicit = (n: number, inner: Buffer) => tlv(0xa0 | n, inner);

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && b[i + 1] < 0x80) i++;
  const trimmed = b.subarray(i);
  return tlv(0x02, trimmed[0] >= 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const out = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(d: Date): Buffer {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  return d.getUTCFullYear() < 2050
    ? tlv(0x17, Buffer.from(`${digits.slice(2)}Z`, "ascii"))
    : tlv(0x18, Buffer.from(`${digits}Z`, "ascii"));
}

/** BIT STRING of the named bits (bit 0 = most significant bit of the first byte), without trailing zeros. */
function namedBits(positions: number[]): Buffer {
  const max = Math.max(...positions);
  const bytes = Buffer.alloc(Math.floor(max / 8) + 1);
  for (const p of positions) bytes[Math.floor(p / 8)] |= 0x80 >> (p % 8);
  const unused = 7 - (max % 8);
  return tlv(0x03, Buffer.from([unused]), bytes);
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) throw new Error(`not an IP address: ${ip}`);
  let text = ip;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1].split(".").map(Number);
    text = `${text.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const left = groups(head);
  const right = groups(tail);
  const all =
    tail === undefined ? left : [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

// --- DER reader (just enough to take a certificate apart) ---------------------------------------------------

interface Tlv {
  tag: number;
  /** The whole encoding, header included. */
  raw: Buffer;
  content: Buffer;
}

function readTlv(buf: Buffer, at: number): Tlv {
  const tag = buf[at];
  let len = buf[at + 1];
  let header = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[at + 2 + i];
    header += n;
  }
  return {
    tag,
    raw: buf.subarray(at, at + header + len),
    content: buf.subarray(at + header, at + header + len),
  };
}

function children(t: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < t.content.length;) {
    const c = readTlv(t.content, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

function pemToDer(pem: string): Buffer {
  const m = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(pem);
  if (!m) throw new Error("no PEM certificate found");
  return Buffer.from(m[1].replace(/\s+/g, ""), "base64");
}

/** The subject Name (DER) of a certificate and the key identifier of its public key. */
function issuerInfo(certPem: string): { subject: Buffer; keyId: Buffer } {
  const cert = readTlv(pemToDer(certPem), 0);
  const tbs = children(children(cert)[0]);
  // [0] version is optional; then serial, signature algorithm, issuer, validity, subject, spki.
  const fields = tbs[0].tag === 0xa0 ? tbs.slice(1) : tbs;
  return { subject: fields[4].raw, keyId: keyIdentifier(fields[5].raw) };
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (without its unused-bits byte). */
function keyIdentifier(spkiDer: Buffer): Buffer {
  const publicKey = children(readTlv(spkiDer, 0))[1];
  return createHash("sha1").update(publicKey.content.subarray(1)).digest();
}

// --- certificates -------------------------------------------------------------------------------------------

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecPublicKey: "1.2.840.10045.2.1",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  basicConstraints: "2.5.29.19",
  keyUsage: "2.5.29.15",
  extKeyUsage: "2.5.29.37",
  subjectAltName: "2.5.29.17",
  subjectKeyIdentifier: "2.5.29.14",
  authorityKeyIdentifier: "2.5.29.35",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
};

function name(commonName: string, organization?: string): Buffer {
  const rdns: Buffer[] = [];
  if (organization) rdns.push(set(seq(oid(OID.organization), utf8(organization))));
  rdns.push(set(seq(oid(OID.commonName), utf8(commonName))));
  return seq(...rdns);
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function toPem(der: Buffer, label: string): string {
  const b64 = der.toString("base64").replace(/(.{64})/g, "$1\n");
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith("\n") ? "" : "\n"}-----END ${label}-----\n`;
}

/** A new EC P-256 key and a certificate for it, signed by `issuer` (or by itself). */
export function createCertificate(opts: CertificateOptions): CertificateAndKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  const subject = name(opts.commonName, opts.organization);
  const ownKeyId = keyIdentifier(spki);
  const issuer = opts.issuer ? issuerInfo(opts.issuer.certPem) : { subject, keyId: ownKeyId };
  const signingKey = opts.issuer ? createPrivateKey(opts.issuer.keyPem) : privateKey;

  const serial = randomBytes(16);
  serial[0] = (serial[0] & 0x3f) | 0x40; // positive, 16 bytes long
  const now = Date.now();
  const notBefore = new Date(now - 60 * 60_000);
  const notAfter = new Date(now + (opts.validityDays ?? 365) * 24 * 60 * 60_000);

  const isCA = opts.isCA ?? false;
  const extensions: Buffer[] = [
    extension(OID.basicConstraints, true, isCA ? seq(bool(true)) : seq()),
    // digitalSignature(0); a CA also keyCertSign(5) and cRLSign(6).
    extension(OID.keyUsage, true, namedBits(isCA ? [0, 5, 6] : [0])),
  ];
  const eku = opts.extKeyUsage ?? (isCA ? [] : (["serverAuth", "clientAuth"] as ExtKeyUsage[]));
  if (eku.length > 0) extensions.push(extension(OID.extKeyUsage, false, seq(...eku.map((u) => oid(OID[u])))));
  const san = [
    ...(opts.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, "ascii"))),
    ...(opts.ipAddresses ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  if (san.length > 0) extensions.push(extension(OID.subjectAltName, false, seq(...san)));
  extensions.push(extension(OID.subjectKeyIdentifier, false, octets(ownKeyId)));
  if (opts.issuer)
    extensions.push(extension(OID.authorityKeyIdentifier, false, seq(tlv(0x80, issuer.keyId))));

  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))), // v3
    integer(serial),
    algorithm,
    issuer.subject,
    seq(time(notBefore), time(notAfter)),
    subject,
    spki,
    explicit(3, seq(...extensions)),
  );
  const signature = sign("sha256", tbs, signingKey); // DER-encoded ECDSA signature
  const cert = seq(tbs, algorithm, bits(signature));
  return {
    certPem: toPem(cert, "CERTIFICATE"),
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  };
}

/** A self-signed CA. */
export function createCA(commonName: string, validityDays?: number): CertificateAndKey {
  return createCertificate({ commonName, isCA: true, validityDays });
}
