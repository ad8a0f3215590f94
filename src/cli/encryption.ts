/**
 * `krake encryption`: keys for encryption at rest and key rotation (docs/operator-guide.md, "Encryption at
 * rest"). `generate-key` prints a key entry; `status` counts the stored values per key; `rewrite`
 * re-encrypts every value with the key file's first key, so older keys can be removed.
 *
 * Where the store is reached: etcd directly (online: API servers may keep running), an embedded data
 * directory whose server is stopped, or a running API server (`--api`, the only way to the embedded store
 * while its server runs; the server uses its own key file).
 *
 * Exit codes: 0 done, 1 failed (the message names the key, the store key or the file), 2 usage.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { Command } from "commander";
import type { Store } from "../store/store.js";
import { addEtcdAccessOptions, etcdAccessFromFlags, type StoreAccessFlags } from "./store-flags.js";

interface EncryptionFlags extends StoreAccessFlags {
  dataDir?: string;
  etcd?: string;
  etcdPrefix?: string;
  api?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

class CliError extends Error {
  override name = "CliError";
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function usage(command: string, message: string): never {
  process.stderr.write(`krake encryption ${command}: ${message}\n`);
  process.exit(2);
}

function fail(command: string, err: unknown): never {
  process.stderr.write(`krake encryption ${command}: ${errText(err)}\n`);
  process.exit(1);
}

/** The store source flags shared by status and rewrite. */
function withSource(cmd: Command): Command {
  return addEtcdAccessOptions(
    cmd
      .option("--data-dir <dir>", "the embedded store in this directory (its API server must be stopped)")
      .option("--etcd <urls>", "the etcd store: comma-separated client URLs (API servers may keep running)")
      .option("--etcd-prefix <prefix>", "with --etcd: the key prefix the API servers use", ""),
  )
    .option(
      "--encryption-key-file <file>",
      "with --data-dir or --etcd: the key file (the first key encrypts)",
    )
    .option("--api <url>", "a running API server, which uses its own key file (needs an admin user)")
    .option("--token <token>", "with --api: bearer token (env KRAKE_TOKEN)", process.env.KRAKE_TOKEN)
    .option("--tls-ca <file>", "with --api: CA that signed the API's certificate")
    .option("--tls-cert <file>", "with --api: client certificate (its CN is the user)")
    .option("--tls-key <file>", "with --api: private key of --tls-cert");
}

function checkSource(flags: EncryptionFlags, command: string): void {
  const sources = [flags.dataDir, flags.etcd, flags.api].filter((s) => s !== undefined).length;
  if (sources !== 1) usage(command, "give exactly one of --api, --data-dir or --etcd");
  if (flags.api === undefined && !flags.encryptionKeyFile)
    usage(command, "--encryption-key-file is needed with --data-dir and --etcd");
  if (flags.api !== undefined && flags.encryptionKeyFile)
    usage(command, "--encryption-key-file is for --data-dir and --etcd: with --api the server uses its own");
  if (flags.etcdPrefix && !flags.etcd) usage(command, "--etcd-prefix needs --etcd");
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey))
    usage(command, "--tls-cert and --tls-key go together");
}

/** Opens the store named by the flags, wrapped with the key file. */
async function openDirect(flags: EncryptionFlags, command: string) {
  const { EncryptedStore } = await import("../store/encryption/store.js");
  const { readKeyFile } = await import("../store/encryption/keyring.js");
  const keyring = readKeyFile(flags.encryptionKeyFile!);
  let raw: Store;
  if (flags.etcd !== undefined) {
    const endpoints = flags.etcd
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    const bad = endpoints.find((e) => !/^https?:\/\/[^/\s]+\/?$/.test(e));
    if (endpoints.length === 0 || bad !== undefined)
      usage(command, `--etcd: expected URLs like http://127.0.0.1:2379, got '${bad ?? flags.etcd}'`);
    let access;
    try {
      access = etcdAccessFromFlags(flags, endpoints);
    } catch (err) {
      usage(command, errText(err));
    }
    const { openEtcdStore } = await import("../store/etcd.js");
    const { etcdStoreOptions } = await import("../store/open.js");
    raw = await openEtcdStore(
      await etcdStoreOptions({ endpoints, prefix: flags.etcdPrefix ?? "", ...access }),
    );
  } else {
    const dir = resolve(flags.dataDir!);
    const { inspectDataDir } = await import("../store/restore.js");
    const contents = await inspectDataDir(dir);
    // Opening would create a store: a mistyped path must not be "rewritten" as an empty one.
    if (!contents.exists || (contents.data.length === 0 && contents.emptyWals.length === 0)) {
      throw new CliError(`${dir} holds no embedded store (no snapshot or wal-*.log files)`);
    }
    const { openEmbeddedStore } = await import("../store/embedded.js");
    const { LockedError } = await import("../store/embedded/lock.js");
    try {
      raw = await openEmbeddedStore({ dataDir: dir, historyLimit: 0 });
    } catch (err) {
      if (err instanceof LockedError) {
        throw new CliError(
          `${err.message}. A running API server owns its data directory: use --api URL to go through it`,
        );
      }
      throw err;
    }
  }
  return new EncryptedStore(raw, keyring);
}

async function apiClient(flags: EncryptionFlags) {
  const { KrakeClient } = await import("../client/index.js");
  const read = (f?: string) => (f ? readFileSync(f) : undefined);
  const tls =
    flags.tlsCa || flags.tlsCert
      ? { ca: read(flags.tlsCa), cert: read(flags.tlsCert), key: read(flags.tlsKey) }
      : undefined;
  // A rewrite of a large store takes a while; the server answers when it is done.
  return new KrakeClient({ url: flags.api!, token: flags.token, tls, timeoutMs: 30 * 60_000 });
}

function printCensus(c: {
  values: number;
  plaintext: number;
  by_key: Record<string, number>;
  current_key: string;
}): void {
  const lines = [`${c.values} stored values`];
  for (const [name, n] of Object.entries(c.by_key))
    lines.push(`  ${name}: ${n}${name === c.current_key ? " (current key)" : ""}`);
  lines.push(`  plaintext: ${c.plaintext}`);
  const stale = Object.entries(c.by_key).filter(([name, n]) => name !== c.current_key && n > 0);
  lines.push(
    stale.length === 0 && c.plaintext === 0
      ? `every value is encrypted with ${c.current_key}: the other keys can be removed from the key file`
      : `run krake encryption rewrite before removing ${stale.length > 0 ? stale.map(([n]) => n).join(", ") : "anything"} from the key file`,
  );
  process.stdout.write(lines.map((l) => `${l}\n`).join(""));
}

function generateKeyCommand(): Command {
  return new Command("generate-key")
    .description("Print a new key entry (256 random bits, base64) for an encryption key file")
    .argument("[name]", "the key's name (default: k and today's date, e.g. k2025-06-01)")
    .addHelpText(
      "after",
      [
        "",
        "Example (a new key file, readable by its owner only):",
        "  $ (umask 077; krake encryption generate-key k2025-06 > /etc/krake/encryption-keys.yaml)",
        "",
      ].join("\n"),
    )
    .action(async (given: string | undefined) => {
      const name = given ?? `k${new Date().toISOString().slice(0, 10)}`;
      const { generateKeyEntry } = await import("../store/encryption/keyring.js");
      try {
        process.stdout.write(generateKeyEntry(name));
      } catch (err) {
        usage("generate-key", errText(err));
      }
    });
}

function statusCommand(): Command {
  return withSource(new Command("status"))
    .description(
      "Count the stored values per encryption key (and plaintext ones); every value is checked to decrypt",
    )
    .action(async (flags: EncryptionFlags) => {
      checkSource(flags, "status");
      try {
        if (flags.api !== undefined) {
          const client = await apiClient(flags);
          printCensus(await client.request("GET", "/encryption"));
          return;
        }
        const store = await openDirect(flags, "status");
        try {
          const c = await store.census();
          printCensus({
            values: c.total,
            plaintext: c.plaintext,
            by_key: c.byKey,
            current_key: store.keyring.current.name,
          });
        } finally {
          await store.close();
        }
      } catch (err) {
        fail("status", err);
      }
    });
}

function rewriteCommand(): Command {
  return withSource(new Command("rewrite"))
    .description(
      "Re-encrypt every stored value with the key file's first key (compare-and-swap per key; safe while API servers run, once they all know that key)",
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ krake encryption rewrite --etcd https://etcd-0:2379 --etcd-ca ca.pem --etcd-cert krake.pem --etcd-key krake-key.pem --encryption-key-file keys.yaml",
        "  $ krake encryption rewrite --api https://krake:8443 --tls-ca ca.pem --tls-cert admin.pem --tls-key admin-key.pem",
        "  $ krake encryption rewrite --data-dir /var/lib/krake --encryption-key-file keys.yaml   # server stopped",
        "",
        "Every rewritten object gets a new resource version (watchers see MODIFIED with unchanged content).",
        "",
      ].join("\n"),
    )
    .action(async (flags: EncryptionFlags) => {
      checkSource(flags, "rewrite");
      try {
        let r: {
          current_key: string;
          keys: number;
          rewritten: number;
          unchanged: number;
          vanished: number;
          conflicts: number;
        };
        if (flags.api !== undefined) {
          const client = await apiClient(flags);
          r = await client.request("POST", "/encryption/rewrite");
        } else {
          const { rewriteStore } = await import("../store/encryption/rewrite.js");
          const store = await openDirect(flags, "rewrite");
          try {
            const report = await rewriteStore(store, {
              onProgress: (done, total) =>
                process.stderr.write(`krake encryption rewrite: ${done} of ${total} keys\n`),
              progressEvery: 10_000,
            });
            r = { ...report, current_key: report.currentKey };
          } finally {
            await store.close();
          }
        }
        process.stdout.write(
          `${r.keys} keys: ${r.rewritten} re-encrypted with ${r.current_key}, ${r.unchanged} already were` +
            (r.vanished ? `, ${r.vanished} deleted meanwhile` : "") +
            (r.conflicts ? ` (${r.conflicts} concurrent writes retried)` : "") +
            "\n",
        );
      } catch (err) {
        fail("rewrite", err);
      }
    });
}

export function encryptionCommand(): Command {
  return new Command("encryption")
    .description(
      "Encryption at rest: generate keys, see which keys the stored values use, re-encrypt after a key change",
    )
    .addCommand(generateKeyCommand())
    .addCommand(statusCommand())
    .addCommand(rewriteCommand());
}
