/**
 * Static bearer tokens from a file, in the Kubernetes static-token CSV format operators already know:
 *
 *     # token,user[,uid[,"group1,group2"]]
 *     3f9c…,alice
 *     8d1e…,ci-bot,1002,"ci,deploy"
 *
 * `uid` and groups are accepted so Kubernetes files work unchanged; Krake's RBAC binds users, so they are
 * not used. Tokens are looked up by their SHA-256 digest (no secret-dependent string comparison). The file is
 * re-read when it changes and on SIGHUP; a broken file keeps the previous table in force.
 */
import { readFileSync, statSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "pino";
import type { Authenticator } from "./authenticator.js";
import { bearerToken, tokenDigest } from "./credentials.js";

export class TokenFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenFileError";
  }
}

export interface TokenEntry {
  user: string;
  uid?: string;
  groups: string[];
}

/** Splits one CSV line: commas separate fields, double quotes enclose fields that hold commas (`""` is a quote). */
function csvFields(line: string): string[] | null {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    while (line[i] === " " || line[i] === "\t") i++;
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) return null;
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += line[i++];
      }
      while (line[i] === " " || line[i] === "\t") i++;
      if (i < line.length && line[i] !== ",") return null;
    } else {
      const end = line.indexOf(",", i);
      field = end < 0 ? line.slice(i) : line.slice(i, end);
      if (field.includes('"')) return null;
      i = end < 0 ? line.length : end;
    }
    fields.push(field.trim());
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/** The token table (digest → entry); a bad line is an error naming the file and the line, never its token. */
export function parseTokenFile(text: string, path: string): Map<string, TokenEntry> {
  const table = new Map<string, TokenEntry>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const where = `${path} line ${index + 1}`;
    const fields = csvFields(line);
    if (!fields) throw new TokenFileError(`${where}: unbalanced double quotes`);
    if (fields.length < 2 || fields.length > 4)
      throw new TokenFileError(
        `${where}: expected token,user[,uid[,"group1,group2"]], got ${fields.length} field(s)`,
      );
    const [token, user, uid, groups] = fields;
    if (!token) throw new TokenFileError(`${where}: the token is empty`);
    if (/\s/.test(token)) throw new TokenFileError(`${where}: the token contains whitespace`);
    if (!user) throw new TokenFileError(`${where}: the user is empty`);
    const digest = tokenDigest(token);
    if (table.has(digest)) throw new TokenFileError(`${where}: this token is already given to another line`);
    table.set(digest, {
      user,
      ...(uid ? { uid } : {}),
      groups: groups
        ? groups
            .split(",")
            .map((g) => g.trim())
            .filter(Boolean)
        : [],
    });
  });
  return table;
}

export interface TokenFileOptions {
  logger: Logger;
  /** How often the file's modification time is checked, default 1 s. */
  pollIntervalMs?: number;
  /** Also re-read on SIGHUP (the API process; tests leave it off). */
  reloadOnSighup?: boolean;
}

export class TokenFileAuthenticator implements Authenticator {
  readonly name = "token";
  private table: Map<string, TokenEntry>;
  private readonly onChange = (current: Stats, previous: Stats) => {
    if (
      current.mtimeMs !== previous.mtimeMs ||
      current.size !== previous.size ||
      current.ino !== previous.ino
    )
      this.reload();
  };
  private readonly onSighup = () => this.reload();

  /** Reads the file now: a broken file at startup is a configuration error (TokenFileError). */
  constructor(
    readonly path: string,
    private readonly options: TokenFileOptions,
  ) {
    this.table = this.read();
    watchFile(path, { interval: options.pollIntervalMs ?? 1_000, persistent: false }, this.onChange);
    if (options.reloadOnSighup) process.on("SIGHUP", this.onSighup);
  }

  private read(): Map<string, TokenEntry> {
    let text: string;
    try {
      statSync(this.path);
      text = readFileSync(this.path, "utf8");
    } catch (err) {
      throw new TokenFileError(
        `cannot read token file ${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    return parseTokenFile(text, this.path);
  }

  /** Re-reads the file; on error the previous table stays in force and a warning is logged. */
  reload(): boolean {
    try {
      this.table = this.read();
      this.options.logger.info({ path: this.path, tokens: this.table.size }, "token file reloaded");
      return true;
    } catch (err) {
      this.options.logger.warn(
        { path: this.path, err: (err as Error).message },
        "token file not reloaded; the previous tokens stay in force",
      );
      return false;
    }
  }

  get size(): number {
    return this.table.size;
  }

  authenticate(req: import("fastify").FastifyRequest): string | null {
    const token = bearerToken(req);
    if (token === null) return null;
    // Not in the file: maybe an OIDC or Keystone token; the next authenticator decides.
    return this.table.get(tokenDigest(token))?.user ?? null;
  }

  close(): void {
    unwatchFile(this.path, this.onChange);
    process.off("SIGHUP", this.onSighup);
  }
}
