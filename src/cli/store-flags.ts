/**
 * Flags of the commands that open a store directly (`krake backup`, `krake restore`, `krake encryption`):
 * etcd's TLS files and user, and the encryption key file. `krake api` and `krake up` take the same flags
 * through src/cli/api.ts (with environment variables and the config file).
 */
import type { Command } from "commander";
import { ConfigError, resolveEtcdAccess, type EtcdAccess } from "../api/config.js";
import type { Store } from "../store/store.js";

export interface StoreAccessFlags {
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPasswordFile?: string;
  encryptionKeyFile?: string;
}

export function addEtcdAccessOptions(cmd: Command): Command {
  return cmd
    .option("--etcd-ca <file>", "with --etcd: CA that signed etcd's certificate (PEM; needs https:// URLs)")
    .option("--etcd-cert <file>", "with --etcd: client certificate for etcd (PEM)")
    .option("--etcd-key <file>", "with --etcd: private key of --etcd-cert (PEM)")
    .option("--etcd-user <name>", "with --etcd: etcd user")
    .option("--etcd-password-file <file>", "with --etcd: file holding the password of --etcd-user");
}

/** TLS files and user for etcd from the flags; a bad combination is a ConfigError naming the flag. */
export function etcdAccessFromFlags(flags: StoreAccessFlags, endpoints: string[]): EtcdAccess {
  try {
    return resolveEtcdAccess(flags, endpoints);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`--${err.message}`);
    throw err;
  }
}

/** Wraps `raw` for encryption at rest when a key file is given (the key file is read and checked here). */
export async function withEncryption(raw: Store, keyFile: string | undefined): Promise<Store> {
  if (!keyFile) return raw;
  const { readKeyFile } = await import("../store/encryption/keyring.js");
  const { EncryptedStore } = await import("../store/encryption/store.js");
  try {
    return new EncryptedStore(raw, readKeyFile(keyFile));
  } catch (err) {
    await raw.close();
    throw err;
  }
}
