/**
 * Keys for encryption at rest, and the sealed value format.
 *
 * A key file is a YAML list of named 256-bit keys; the first one encrypts, every one decrypts:
 *
 *   - name: k2025-06
 *     secret: 3q2+7w…base64 of 32 random bytes…=
 *   - name: k2024-11
 *     secret: …
 *
 * A sealed value is `krake:enc:v1:<key name>:` + base64(iv | ciphertext | tag): AES-256-GCM with a fresh
 * 96-bit random IV per write, and the store key as additional authenticated data, so a value copied to
 * another key fails authentication instead of being read as that key's object. The prefix names the key so
 * that any number of keys can be in use at once during a rotation; values without it are plaintext (a
 * store from before encryption was switched on) and are read as they are.
 */
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  randomBytes,
  randomFillSync,
  type KeyObject,
} from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import YAML from "yaml";

export const SEALED_PREFIX = "krake:enc:";
const V1 = "krake:enc:v1:";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Key names appear in stored values and log lines; no `:` (the format's separator), nothing to escape. */
const KEY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** The key file is unusable: unreadable, too open, or an entry is malformed. The message names the entry. */
export class KeyFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "KeyFileError";
  }
}

/**
 * A stored value that cannot be decrypted: its key is not in the key file, or authentication failed (wrong
 * key material, tampering, a value moved to another key). Names the key name and the store key, never the
 * value.
 */
export class DecryptionError extends Error {
  constructor(
    readonly storeKey: string,
    readonly keyName: string | null,
    reason: string,
  ) {
    super(`cannot decrypt the value of store key ${JSON.stringify(storeKey)}: ${reason}`);
    this.name = "DecryptionError";
  }
}

export interface NamedKey {
  name: string;
  secret: Buffer;
}

/**
 * IVs come from a pool filled 4 KiB at a time: one random 96-bit IV per write as before, without a call into
 * the CSPRNG for each one (measurable next to the cipher itself).
 */
const ivPool = Buffer.alloc(IV_BYTES * 341);
let ivNext = ivPool.length;
function freshIv(): Buffer {
  if (ivNext + IV_BYTES > ivPool.length) {
    randomFillSync(ivPool);
    ivNext = 0;
  }
  const iv = Buffer.from(ivPool.subarray(ivNext, ivNext + IV_BYTES));
  ivNext += IV_BYTES;
  return iv;
}

export class Keyring {
  /** KeyObjects: the key material is imported into OpenSSL once, not on every call. */
  private readonly byName: Map<string, KeyObject>;
  private readonly currentKey: KeyObject;
  /** Encrypts every write. */
  readonly current: NamedKey;

  constructor(
    readonly keys: readonly NamedKey[],
    /** Where the keys came from, for messages. */
    readonly source = "the key list",
  ) {
    if (keys.length === 0)
      throw new KeyFileError(`${source}: no keys: the first key encrypts, so at least one is needed`);
    this.byName = new Map(keys.map((k) => [k.name, createSecretKey(k.secret)]));
    this.current = keys[0];
    this.currentKey = this.byName.get(keys[0].name)!;
  }

  names(): string[] {
    return this.keys.map((k) => k.name);
  }

  seal(storeKey: string, plaintext: string): string {
    const iv = freshIv();
    const cipher = createCipheriv("aes-256-gcm", this.currentKey, iv);
    cipher.setAAD(Buffer.from(storeKey, "utf8"));
    const body = Buffer.concat([iv, cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${V1}${this.current.name}:${body.toString("base64")}`;
  }

  /** The plaintext of a sealed value; a value without the prefix is returned as it is. */
  open(storeKey: string, stored: string): string {
    if (!stored.startsWith(SEALED_PREFIX)) return stored;
    const { keyName, body } = parseSealed(storeKey, stored);
    const secret = this.byName.get(keyName);
    if (secret === undefined) {
      throw new DecryptionError(
        storeKey,
        keyName,
        `it was encrypted with key ${JSON.stringify(keyName)}, which is not in ${this.source} (it has ${this.names()
          .map((n) => JSON.stringify(n))
          .join(", ")})`,
      );
    }
    if (body.length < IV_BYTES + TAG_BYTES)
      throw new DecryptionError(storeKey, keyName, "the sealed value is truncated");
    try {
      const decipher = createDecipheriv("aes-256-gcm", secret, body.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(storeKey, "utf8"));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      return Buffer.concat([
        decipher.update(body.subarray(IV_BYTES, body.length - TAG_BYTES)),
        decipher.final(),
      ]).toString("utf8");
    } catch {
      throw new DecryptionError(
        storeKey,
        keyName,
        `authentication failed with key ${JSON.stringify(keyName)}: the key file holds different key material under that name, or the value was altered or moved from another store key`,
      );
    }
  }

  /** Bytes a sealed value of `plaintextBytes` takes, to derive the largest plaintext a store accepts. */
  sealedBytes(plaintextBytes: number): number {
    return (
      V1.length + this.current.name.length + 1 + 4 * Math.ceil((IV_BYTES + plaintextBytes + TAG_BYTES) / 3)
    );
  }

  /** The largest plaintext whose sealed form fits in `storeMax` bytes. */
  maxPlaintextBytes(storeMax: number): number {
    const room = storeMax - (V1.length + this.current.name.length + 1);
    return Math.max(0, Math.floor(room / 4) * 3 - IV_BYTES - TAG_BYTES);
  }
}

/** The key name of a sealed value, or null for a plaintext one. */
export function sealedKeyName(storeKey: string, stored: string): string | null {
  return stored.startsWith(SEALED_PREFIX) ? parseSealed(storeKey, stored).keyName : null;
}

function parseSealed(storeKey: string, stored: string): { keyName: string; body: Buffer } {
  if (!stored.startsWith(V1)) {
    throw new DecryptionError(
      storeKey,
      null,
      `unknown sealed-value format ${JSON.stringify(stored.slice(0, stored.indexOf(":", SEALED_PREFIX.length) + 1))}`,
    );
  }
  const end = stored.indexOf(":", V1.length);
  const keyName = end > V1.length ? stored.slice(V1.length, end) : "";
  if (!KEY_NAME.test(keyName))
    throw new DecryptionError(storeKey, null, "the sealed value has no valid key name");
  return { keyName, body: Buffer.from(stored.slice(end + 1), "base64") };
}

/** A fresh key entry for a key file, as YAML (`krake encryption generate-key`). */
export function generateKeyEntry(name: string): string {
  checkName(name, "the key name");
  return YAML.stringify([{ name, secret: randomBytes(KEY_BYTES).toString("base64") }]);
}

function checkName(name: unknown, where: string): asserts name is string {
  if (typeof name !== "string" || !KEY_NAME.test(name)) {
    throw new KeyFileError(
      `${where}: expected a name of 1 to 64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${JSON.stringify(name)}`,
    );
  }
}

/**
 * Reads and checks a key file. Like ssh with a private key, a file that group or others may read is
 * refused: it protects every secret in the store.
 */
export function readKeyFile(path: string): Keyring {
  let text: string;
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new KeyFileError(
        `encryption key file ${path} is accessible by group or others (mode ${mode.toString(8).padStart(4, "0")}); it must be readable by its owner only: chmod 600 ${path}`,
      );
    }
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(
      `cannot read encryption key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  return parseKeyFile(text, `encryption key file ${path}`);
}

export function parseKeyFile(text: string, source: string): Keyring {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    // YAML's message quotes the offending line, which may hold a key: give only the position.
    const pos = (err as { linePos?: { line: number; col: number }[] }).linePos?.[0];
    throw new KeyFileError(`${source}: not valid YAML${pos ? ` (line ${pos.line}, column ${pos.col})` : ""}`);
  }
  if (!Array.isArray(doc)) {
    throw new KeyFileError(
      `${source}: expected a YAML list of keys (- name: …, secret: <base64 of 32 bytes>)`,
    );
  }
  const seen = new Set<string>();
  const keys = doc.map((entry: unknown, i): NamedKey => {
    const where = `${source}, entry ${i + 1}`;
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw new KeyFileError(`${where}: expected a mapping with name and secret`);
    }
    const { name, secret, ...rest } = entry as Record<string, unknown>;
    checkName(name, `${where}: name`);
    const named = `${source}, entry ${i + 1} (${name})`;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw new KeyFileError(`${named}: unknown field ${unknown[0]} (expected name and secret)`);
    if (seen.has(name))
      throw new KeyFileError(`${named}: the name is used by an earlier entry; names must be unique`);
    seen.add(name);
    if (typeof secret !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(secret.trim())) {
      throw new KeyFileError(
        `${named}: secret must be base64 (generate one with krake encryption generate-key)`,
      );
    }
    const bytes = Buffer.from(secret.trim(), "base64");
    if (bytes.length !== KEY_BYTES) {
      throw new KeyFileError(
        `${named}: secret must decode to exactly ${KEY_BYTES} bytes, it decodes to ${bytes.length}`,
      );
    }
    return { name, secret: bytes };
  });
  return new Keyring(keys, source);
}
