/**
 * `krake backup` and `krake restore`: a point-in-time copy of every key of a store in the backup format
 * (src/store/backup.ts), and putting one back (src/store/restore.ts). Operator guide: docs/operator-guide.md, "Backup and restore".
 *
 * Exit codes: 0 done, 1 refused or failed (the message names the file, line, directory or key), 2 usage.
 */
import { createReadStream } from "node:fs";
import { open, rename, unlink, type FileHandle } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import type { Backup, BackupHeader } from "../store/backup.js";
import type { EtcdAccess } from "../api/config.js";
import {
  addEtcdAccessOptions,
  etcdAccessFromFlags,
  withEncryption,
  type StoreAccessFlags,
} from "./store-flags.js";

/** A problem to report in one line and exit 1 with. */
class CliError extends Error {
  override name = "CliError";
}

const usage = (command: string, message: string): never => {
  process.stderr.write(`krake ${command}: ${message}\n`);
  process.exit(2);
};

const nonNegativeInteger = (flag: string) => (value: string) => {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError(`${flag} must be a whole number from 0 to 2^53, got '${value}'`);
  return Number(value);
};

function etcdEndpoints(value: string, command: string): string[] {
  const endpoints = value
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean);
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e))
      usage(command, `--etcd: expected URLs like http://127.0.0.1:2379, got '${e}'`);
  }
  if (endpoints.length === 0) usage(command, "--etcd: no URL given");
  return endpoints;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function describeBackup(h: BackupHeader): string {
  return `backup of an ${h.store} store at revision ${h.revision}, taken ${h.created}`;
}

// ---- where a backup goes ----

interface Sink {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the output final (the file appears under its name only now). */
  commit(): Promise<void>;
  /** Removes a partial output. */
  abort(): Promise<void>;
  readonly name: string;
}

/**
 * A file is written under a temporary name (mode 0600: it holds every secret of the installation) and
 * renamed only once complete and on disk, so an interrupted backup never leaves a file that looks finished.
 */
async function fileSink(path: string): Promise<Sink> {
  const final = resolve(path);
  const tmp = `${final}.tmp-${process.pid}`;
  let fh: FileHandle;
  try {
    fh = await open(tmp, "wx", 0o600);
  } catch (err) {
    throw new CliError(`cannot write ${final}: ${errText(err)}`);
  }
  let position = 0;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    name: final,
    async write(chunk) {
      let done = 0;
      while (done < chunk.length) {
        const { bytesWritten } = await fh.write(chunk, done, chunk.length - done, position);
        done += bytesWritten;
        position += bytesWritten;
      }
    },
    async commit() {
      await fh.datasync();
      await close();
      await rename(tmp, final);
      const dir = await open(dirname(final), "r");
      await dir.sync().finally(() => dir.close());
    },
    async abort() {
      await close().catch(() => {});
      await unlink(tmp).catch(() => {});
    },
  };
}

function stdoutSink(): Sink {
  return {
    name: "standard output",
    write: (chunk) =>
      new Promise<void>((resolveWrite, reject) => {
        process.stdout.write(chunk, (err) => (err ? reject(err) : resolveWrite()));
      }),
    async commit() {},
    async abort() {},
  };
}

// ---- backup ----

interface BackupFlags extends StoreAccessFlags {
  dataDir?: string;
  etcd?: string;
  etcdPrefix?: string;
  api?: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  output: string;
}

/** Reads every key of an embedded store whose server is stopped. */
async function backupEmbedded(dataDir: string, keyFile: string | undefined, sink: Sink): Promise<BackupHeader> {
  const { inspectDataDir } = await import("../store/restore.js");
  const dir = resolve(dataDir);
  const contents = await inspectDataDir(dir).catch((err: Error) => {
    throw new CliError(err.message);
  });
  // Opening would create a store: a mistyped path must not yield a backup of nothing.
  if (!contents.exists) throw new CliError(`${dir} does not exist`);
  if (contents.data.length === 0 && contents.emptyWals.length === 0) {
    throw new CliError(`${dir} holds no embedded store (no snapshot or wal-*.log files)`);
  }
  const { openEmbeddedStore } = await import("../store/embedded.js");
  const { LockedError } = await import("../store/embedded/lock.js");
  let store;
  try {
    store = await openEmbeddedStore({ dataDir: dir, historyLimit: 0 });
  } catch (err) {
    if (err instanceof LockedError) {
      throw new CliError(
        `${err.message}. A running API server owns its data directory: back it up through the server with ` +
          `\`krake backup --api URL\` instead`,
      );
    }
    throw new CliError(`cannot open the embedded store in ${dir}: ${errText(err)}`);
  }
  try {
    return await dumpStore(await withEncryption(store, keyFile), sink);
  } finally {
    await store.close();
  }
}

async function backupEtcd(
  endpoints: string[],
  prefix: string,
  access: EtcdAccess,
  keyFile: string | undefined,
  sink: Sink,
): Promise<BackupHeader> {
  const { openEtcdStore } = await import("../store/etcd.js");
  const { etcdStoreOptions } = await import("../store/open.js");
  let store;
  try {
    store = await openEtcdStore(await etcdStoreOptions({ endpoints, prefix, ...access }));
  } catch (err) {
    throw new CliError(errText(err));
  }
  try {
    return await dumpStore(await withEncryption(store, keyFile), sink);
  } finally {
    await store.close();
  }
}

async function dumpStore(store: import("../store/store.js").Store, sink: Sink): Promise<BackupHeader> {
  const { encodeBackup, readForBackup } = await import("../store/backup.js");
  let read;
  try {
    read = await readForBackup(store);
  } catch (err) {
    throw new CliError(`reading the store failed: ${errText(err)}`);
  }
  for (const chunk of encodeBackup(read.header, read.kvs)) await sink.write(chunk);
  return read.header;
}

/** Streams `GET /backup` of a running server to the sink, checking it on the way (a cut-off is caught). */
async function backupApi(flags: BackupFlags, sink: Sink): Promise<BackupHeader> {
  const { readFileSync } = await import("node:fs");
  const { KrakeApiError, KrakeClient } = await import("../client/index.js");
  const { BackupReader } = await import("../store/backup.js");
  const read = (f?: string) => {
    if (!f) return undefined;
    try {
      return readFileSync(f);
    } catch (err) {
      throw new CliError(`cannot read ${f}: ${errText(err)}`);
    }
  };
  const tls =
    flags.tlsCa || flags.tlsCert
      ? { ca: read(flags.tlsCa), cert: read(flags.tlsCert), key: read(flags.tlsKey) }
      : undefined;
  const client = new KrakeClient({ url: flags.api!, token: flags.token, tls });
  const url = `${flags.api!.replace(/\/+$/, "")}/backup`;
  let res: import("../util/http.js").HttpResponse;
  try {
    res = await client.request("GET", "/backup", undefined, { stream: true });
  } catch (err) {
    if (err instanceof KrakeApiError && (err.status === 401 || err.status === 403)) {
      throw new CliError(
        `${url} refused the backup (${err.message}): a backup holds every object and secret, so it needs a ` +
          `user who may list every resource of every API in every namespace (e.g. system:admin with role:system)`,
      );
    }
    if (err instanceof KrakeApiError && err.status === 404) {
      throw new CliError(`${url} answered 404: this API server does not offer online backups (too old?)`);
    }
    throw new CliError(errText(err));
  }
  const reader = new BackupReader(url, false);
  try {
    for await (const chunk of res.chunks()) {
      reader.push(chunk);
      await sink.write(chunk);
    }
  } catch (err) {
    if ((err as Error).name === "BackupFormatError") throw err;
    throw new CliError(`the connection to ${url} broke during the backup: ${errText(err)}`);
  }
  return reader.finish().header;
}

/** TLS files and the user with the password read from its file, for the restore's etcd client. */
async function etcdClientAccess(endpoints: string[], access: EtcdAccess) {
  const { etcdStoreOptions } = await import("../store/open.js");
  const { tls, auth } = await etcdStoreOptions({ endpoints, prefix: "", ...access });
  return { tls, auth };
}

/** etcd's TLS files and user from the flags; a bad combination is a usage error. */
function storeAccess(flags: StoreAccessFlags & { etcd?: string }, endpoints: string[], command: string): EtcdAccess {
  try {
    return etcdAccessFromFlags(flags, endpoints);
  } catch (err) {
    return usage(command, errText(err));
  }
}

/**
 * With a key file, every value of the backup is made sealed before anything is written: sealed ones must
 * decrypt with the key file (a restore the API servers cannot read is refused), plaintext ones are sealed
 * with its first key. Without one, a backup holding sealed values is restored as it is, with a note.
 */
async function sealForRestore(backup: Backup, keyFile: string | undefined): Promise<Backup> {
  const { sealedKeyName } = await import("../store/encryption/keyring.js");
  if (!keyFile) {
    const names = new Set<string>();
    for (const kv of backup.kvs) {
      const name = sealedKeyName(kv.key, kv.value);
      if (name !== null) names.add(name);
    }
    if (names.size > 0) {
      process.stderr.write(
        `krake restore: note: the backup holds values encrypted with key(s) ${[...names].join(", ")}: ` +
          `the API servers need --encryption-key-file with them\n`,
      );
    }
    return backup;
  }
  const { readKeyFile } = await import("../store/encryption/keyring.js");
  const { sealKv } = await import("../store/encryption/store.js");
  const keyring = readKeyFile(keyFile);
  return { ...backup, kvs: backup.kvs.map((kv) => sealKv(keyring, kv)) };
}

export function backupCommand(): Command {
  return addEtcdAccessOptions(new Command("backup"))
    .description(
      "Write every key of a store, read at one revision, to a file (NDJSON with a checksum; see docs/operator-guide.md)",
    )
    .option("--api <url>", "back up a running API server through GET /backup (needs an admin user)")
    .option("--token <token>", "with --api: bearer token (env KRAKE_TOKEN)", process.env.KRAKE_TOKEN)
    .option("--tls-ca <file>", "with --api: CA that signed the API's certificate")
    .option("--tls-cert <file>", "with --api: client certificate (its CN is the user)")
    .option("--tls-key <file>", "with --api: private key of --tls-cert")
    .option(
      "--data-dir <dir>",
      "back up the embedded store in this directory (its API server must be stopped)",
    )
    .option(
      "--etcd <urls>",
      "back up the etcd store: comma-separated client URLs (API servers may keep running)",
    )
    .option("--etcd-prefix <prefix>", "with --etcd: the key prefix the API servers use", "")
    .option(
      "--encryption-key-file <file>",
      "with --data-dir or --etcd: the store's key file; values stay encrypted in the backup, plaintext ones are encrypted with the first key, and every value is checked to decrypt",
    )
    .option("-o, --output <file>", "write here instead of standard output (created with mode 0600)", "-")
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ krake backup --api https://krake:8443 --tls-ca ca.pem --tls-cert admin.pem --tls-key admin-key.pem -o krake.ndjson",
        "  $ krake backup --etcd http://127.0.0.1:2379 --etcd-prefix /krake -o krake.ndjson",
        "  $ krake backup --data-dir /var/lib/krake | gzip > krake-$(date +%F).ndjson.gz",
        "",
        "Without encryption at rest, the file holds every secret stored in Krake (kubeconfigs, cloud passwords)",
        "in clear text: protect it. With it, values stay encrypted and a restored store needs the key file.",
        "",
      ].join("\n"),
    )
    .action(async (flags: BackupFlags) => {
      const sources = [flags.dataDir, flags.etcd, flags.api].filter((s) => s !== undefined).length;
      if (sources !== 1) usage("backup", "give exactly one of --api, --data-dir or --etcd");
      if (flags.etcdPrefix && !flags.etcd) usage("backup", "--etcd-prefix needs --etcd");
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey))
        usage("backup", "--tls-cert and --tls-key go together");
      if (flags.api !== undefined && !/^https?:\/\/[^\s]+$/.test(flags.api)) {
        usage("backup", `--api: expected an http(s) URL, got '${flags.api}'`);
      }
      const endpoints = flags.etcd !== undefined ? etcdEndpoints(flags.etcd, "backup") : [];
      if (flags.encryptionKeyFile && flags.api !== undefined) {
        usage("backup", "--encryption-key-file is for --data-dir and --etcd: with --api the server uses its own");
      }
      const access = storeAccess(flags, endpoints, "backup");
      let sink: Sink | null = null;
      try {
        sink = flags.output === "-" ? stdoutSink() : await fileSink(flags.output);
        const header =
          flags.dataDir !== undefined
            ? await backupEmbedded(flags.dataDir, flags.encryptionKeyFile, sink)
            : flags.etcd !== undefined
              ? await backupEtcd(endpoints, flags.etcdPrefix ?? "", access, flags.encryptionKeyFile, sink)
              : await backupApi(flags, sink);
        await sink.commit();
        process.stderr.write(
          `krake backup: ${header.keys} keys of the ${header.store} store at revision ${header.revision} written to ${sink.name}\n`,
        );
      } catch (err) {
        await sink?.abort();
        process.stderr.write(
          `krake backup: ${errText(err)}${sink && sink.name !== "standard output" ? "; no file was written" : ""}\n`,
        );
        process.exit(1);
      }
    });
}

// ---- restore ----

interface RestoreFlags extends StoreAccessFlags {
  dataDir?: string;
  etcd?: string;
  etcdPrefix?: string;
  force?: boolean;
  bumpRevision?: number;
  compact: boolean;
  dryRun?: boolean;
}

async function readBackupFile(file: string): Promise<Backup> {
  const { readBackup } = await import("../store/backup.js");
  if (file === "-") {
    if (process.stdin.isTTY)
      throw new CliError("the backup is to come from standard input, but that is a terminal");
    return readBackup(process.stdin, "standard input");
  }
  const path = resolve(file);
  try {
    return await readBackup(createReadStream(path), path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== undefined) throw new CliError(`cannot read ${path}: ${errText(err)}`);
    throw err;
  }
}

export function restoreCommand(): Command {
  return addEtcdAccessOptions(new Command("restore"))
    .description(
      "Put a backup of `krake backup` into an embedded data directory or etcd; checks the whole file before writing",
    )
    .argument("<file>", "the backup file (- for standard input)")
    .option(
      "--data-dir <dir>",
      "restore into the embedded store in this directory (its API server must be stopped)",
    )
    .option("--etcd <urls>", "restore into etcd: comma-separated client URLs (stop every API server first)")
    .option("--etcd-prefix <prefix>", "with --etcd: the key prefix the API servers use", "")
    .option(
      "--encryption-key-file <file>",
      "the key file the API servers will use: encrypted values are checked to decrypt with it, plaintext ones are encrypted with its first key",
    )
    .option("--force", "replace a store that is not empty (embedded: the old directory is kept beside it)")
    .option(
      "--bump-revision <n>",
      "start the restored store's revision this far above the backup's, so resource versions never repeat " +
        `(default ${(1_000_000_000).toLocaleString("en")} for --data-dir, where it is free; 0 for --etcd, where it costs one write per revision)`,
      nonNegativeInteger("--bump-revision"),
    )
    .option(
      "--no-compact",
      "with --etcd: do not compact etcd's history after the restore (compaction is etcd-wide)",
    )
    .option(
      "--dry-run",
      "check the file and the target and write nothing; without a target, check only the file",
    )
    .addHelpText(
      "after",
      [
        "",
        "Examples:",
        "  $ krake restore krake.ndjson --data-dir /var/lib/krake --force",
        "  $ gunzip -c krake.ndjson.gz | krake restore - --etcd http://127.0.0.1:2379 --etcd-prefix /krake --force",
        "",
        "After a restore, watches from older resource versions get 410 Gone and clients re-list.",
        "",
      ].join("\n"),
    )
    .action(async (file: string, flags: RestoreFlags) => {
      const targets = [flags.dataDir, flags.etcd].filter((s) => s !== undefined).length;
      // --dry-run alone only checks the file (for scheduled backups: "is last night's file intact?").
      if (targets > 1 || (targets === 0 && !flags.dryRun)) {
        usage("restore", "give exactly one of --data-dir or --etcd (or only --dry-run, to check the file)");
      }
      if (flags.etcdPrefix && !flags.etcd) usage("restore", "--etcd-prefix needs --etcd");
      if (!flags.compact && !flags.etcd) usage("restore", "--no-compact applies to --etcd only");
      const endpoints = flags.etcd !== undefined ? etcdEndpoints(flags.etcd, "restore") : [];
      const access = storeAccess(flags, endpoints, "restore");
      try {
        const backup = await sealForRestore(await readBackupFile(file), flags.encryptionKeyFile);
        if (targets === 0) {
          process.stdout.write(
            `${file}: intact (${describeBackup(backup.header)}, ${backup.kvs.length} keys, ${backup.bytes} bytes, sha256 ${backup.sha256})\n`,
          );
          return;
        }
        const restore = await import("../store/restore.js");
        const report =
          flags.dataDir !== undefined
            ? await restore.restoreEmbedded(backup, {
                dataDir: flags.dataDir,
                force: Boolean(flags.force),
                bumpRevision: flags.bumpRevision ?? restore.DEFAULT_EMBEDDED_BUMP,
                dryRun: flags.dryRun,
              })
            : await restore.restoreEtcd(backup, {
                ...(await etcdClientAccess(endpoints, access)),
                endpoints,
                prefix: flags.etcdPrefix ?? "",
                force: Boolean(flags.force),
                bumpRevision: flags.bumpRevision ?? 0,
                compact: flags.compact,
                dryRun: flags.dryRun,
                onProgress: (line) => process.stderr.write(`krake restore: ${line}\n`),
              });
        for (const w of report.warnings) process.stderr.write(`krake restore: warning: ${w}\n`);
        const from = `${describeBackup(backup.header)}, ${backup.bytes} bytes, sha256 ${backup.sha256}`;
        if (report.dryRun) {
          process.stdout.write(
            `${file}: intact (${from}); ${report.keys} keys could be restored into ${report.target}; nothing was written\n`,
          );
          return;
        }
        const lines = [
          `restored ${report.keys} keys into ${report.target} (${from})`,
          report.olderVersionsExpired
            ? `the store's revision is now ${report.revision}: watches from older resource versions get 410 Gone and clients re-list`
            : `the store's revision is now ${report.revision}; etcd's history was not compacted, so watches from older resource versions replay the restore as changes`,
        ];
        if (report.replacedKeys)
          lines.push(`the ${report.replacedKeys} keys that were there before were replaced`);
        if (report.previous) {
          lines.push(
            `the replaced data directory was moved to ${report.previous}; delete it once the restored store is checked`,
          );
        }
        process.stdout.write(lines.map((l) => `${l}\n`).join(""));
      } catch (err) {
        // RestoreFailedError says itself what state the target is in; everything else stopped before writing.
        const message = errText(err);
        const untouched = ["BackupFormatError", "RestoreRefusedError", "CliError", "KeyFileError", "DecryptionError", "StoreOpenError"].includes(
          (err as Error).name,
        );
        const note = untouched && !message.includes("nothing was written") ? "; nothing was written" : "";
        process.stderr.write(`krake restore: ${message}${note}\n`);
        process.exit(1);
      }
    });
}
