/**
 * The Krake API client of a `krake` command that talks to the API (controller, bootstrap): URL, bearer token
 * and TLS from its flags. A file that cannot be read or half a key pair is a usage error (exit 2).
 */
import { readFileSync } from "node:fs";
import { KrakeClient } from "../client/index.js";

export interface ApiClientFlags {
  api: string;
  token?: string;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

export function apiClientFromFlags(flags: ApiClientFlags, command: string): KrakeClient {
  const usage = (message: string): never => {
    process.stderr.write(`${command}: ${message}\n`);
    process.exit(2);
  };
  const read = (file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      return usage(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  };
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) usage("--tls-cert and --tls-key must be given together");
  const tls =
    flags.tlsCa || flags.tlsCert
      ? { ca: read(flags.tlsCa), cert: read(flags.tlsCert), key: read(flags.tlsKey) }
      : undefined;
  return new KrakeClient({ url: flags.api, token: flags.token, tls });
}
