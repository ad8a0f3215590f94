/**
 * The audit log file: JSON lines appended to a file created with mode 0600, reopened on request (SIGHUP,
 * after logrotate moved it away) and flushed on close.
 *
 * Lines are batched per event-loop turn and written with one synchronous append, so concurrent requests
 * never interleave within a line, several API processes (`--workers`) may share one file (O_APPEND), and a
 * close right after a request still has its line on disk.
 *
 * A failed write does not fail requests (the line is written after the answer was sent; see the operator
 * guide): it is logged as an error at most every ten seconds, and up to MAX_PENDING lines are kept and
 * written once the file is writable again (next write, or SIGHUP after fixing the cause).
 */
import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { Logger } from "pino";

const MAX_PENDING = 10_000;
const ERROR_LOG_INTERVAL_MS = 10_000;

export class AuditLogError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuditLogError";
  }
}

/** Throws an AuditLogError unless `path` can be opened for appending (creating it with mode 0600). */
export function checkAuditLogWritable(path: string): void {
  closeSync(openAuditLog(path));
}

function openAuditLog(path: string): number {
  try {
    return openSync(path, "a", 0o600);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new AuditLogError(`audit log ${path}: cannot open it for appending (${e.code ?? e.message})`, {
      cause: err,
    });
  }
}

export class AuditFile {
  private fd: number;
  private pending: string[] = [];
  private scheduled = false;
  private dropped = 0;
  private lastErrorLog = -Infinity;
  private closed = false;

  /** Opens (creating with mode 0600) `path` for appending; a file that cannot be opened is an AuditLogError. */
  constructor(
    readonly path: string,
    private readonly logger: Logger,
  ) {
    this.fd = openAuditLog(path);
  }

  /** Queues one record; it reaches the file at the end of this event-loop turn. */
  write(record: object): void {
    if (this.closed) return;
    if (this.pending.length >= MAX_PENDING) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(JSON.stringify(record) + "\n");
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes every queued line now. */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0 || this.fd < 0) return;
    const data = Buffer.from(this.pending.join(""));
    try {
      for (let at = 0; at < data.length;) at += writeSync(this.fd, data, at);
      this.pending = [];
    } catch (err) {
      this.reportFailure(err as NodeJS.ErrnoException);
    }
  }

  /** Closes and reopens the file by name: after logrotate renamed it, new lines go to a new file. */
  reopen(): void {
    if (this.closed) return;
    this.flush();
    let fd: number;
    try {
      fd = openAuditLog(this.path);
    } catch (err) {
      // Keep writing to the old file: losing audit lines is worse than writing them under the old name.
      this.logger.error(
        { path: this.path, err: (err as Error).message },
        "audit log: reopen failed; still writing to the previous file",
      );
      return;
    }
    const old = this.fd;
    this.fd = fd;
    try {
      closeSync(old);
    } catch {
      // Already gone: nothing to release.
    }
    this.logger.info({ path: this.path }, "audit log reopened");
    this.flush();
  }

  /** Flushes, syncs to disk and closes; later writes are ignored. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    if (this.pending.length > 0) {
      this.logger.error(
        { path: this.path, lost: this.pending.length + this.dropped },
        "audit log: lines could not be written before shutdown",
      );
    }
    try {
      fsyncSync(this.fd);
    } catch {
      // fsync is best effort (some file systems refuse it); the data was written.
    }
    closeSync(this.fd);
    this.fd = -1;
  }

  private reportFailure(err: NodeJS.ErrnoException): void {
    const now = performance.now();
    if (now - this.lastErrorLog < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLog = now;
    this.logger.error(
      { path: this.path, err: err.code ?? err.message, waiting: this.pending.length, dropped: this.dropped },
      "AUDIT LOG WRITE FAILED: audit records are kept in memory (up to 10000) until the file is writable again; fix the cause and send SIGHUP",
    );
  }
}
