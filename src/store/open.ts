import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { EtcdAccess, StoreConfig } from "../api/config.js";
import type { EtcdStoreOptions } from "./etcd.js";
import type { Store } from "./store.js";

/** A store that could not be opened as configured (bad key file, unreadable password file, wrong key). */
export class StoreOpenError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreOpenError";
  }
}

/**
 * Values decrypted at startup to check the key file. Every value's key name is checked, so a missing key
 * always stops the start; decrypting all of a large store would cost seconds per start (docs/performance.md),
 * so beyond this many a sample is taken (first and last value of each key, the rest spread evenly).
 * `krake encryption status` decrypts everything.
 */
const STARTUP_DECRYPT_SAMPLE = 10_000;

/**
 * Opens the configured store; each implementation is loaded only when chosen. With an encryption key
 * file, the store is wrapped (src/store/encryption/) and checked before it is handed out, so a missing or
 * wrong key stops the process at startup, naming the key and the store key, rather than at the first read
 * of that value.
 */
export async function openStore(config: StoreConfig, logger?: Logger): Promise<Store> {
  const keyring = config.encryptionKeyFile ? await loadKeyring(config.encryptionKeyFile) : null;
  let raw: Store;
  if (config.type === "etcd") {
    const { openEtcdStore } = await import("./etcd.js");
    raw = await openEtcdStore(await etcdStoreOptions(config));
  } else {
    const { openEmbeddedStore } = await import("./embedded.js");
    raw = await openEmbeddedStore({ dataDir: config.dataDir, fsync: config.fsync, historyLimit: config.historyLimit, logger });
  }
  if (keyring === null) return raw;
  const { EncryptedStore } = await import("./encryption/store.js");
  const store = new EncryptedStore(raw, keyring, (err) =>
    logger?.error({ err: err.message, keyName: err.keyName, storeKey: err.storeKey }, "stored value cannot be decrypted; the watch is ended"),
  );
  const started = performance.now();
  try {
    const census = await store.census({ decrypt: STARTUP_DECRYPT_SAMPLE });
    logger?.info(
      {
        encryptionKeyFile: config.encryptionKeyFile,
        currentKey: keyring.current.name,
        values: census.total,
        valuesByKey: census.byKey,
        plaintextValues: census.plaintext,
        decryptedToCheck: census.decrypted,
        ms: Math.round(performance.now() - started),
      },
      "encryption at rest: every stored value's key is in the key file, and a sample decrypts",
    );
  } catch (err) {
    await raw.close();
    throw err;
  }
  return store;
}

async function loadKeyring(path: string) {
  const { readKeyFile } = await import("./encryption/keyring.js");
  return readKeyFile(path);
}

/** The etcd client options for a configured etcd store: URLs, prefix, TLS files and user. */
export async function etcdStoreOptions(
  config: { endpoints: string[]; prefix: string } & EtcdAccess,
): Promise<EtcdStoreOptions> {
  const opts: EtcdStoreOptions = { endpoints: config.endpoints, prefix: config.prefix };
  if (config.tls) opts.tls = config.tls;
  if (config.user && config.passwordFile) opts.auth = { username: config.user, password: await readPasswordFile(config.passwordFile) };
  return opts;
}

async function readPasswordFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new StoreOpenError(`cannot read the etcd password file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  // Files written by `echo` or an editor end with a newline that is not part of the password.
  const password = text.replace(/\r?\n$/, "");
  if (password === "") throw new StoreOpenError(`the etcd password file ${path} is empty`);
  return password;
}
