/** SIGTERM or SIGINT: log it, run `close`, exit 0, or 1 when closing failed. */
import type { Logger } from "pino";

export function exitOnSignals(log: Logger, close: () => Promise<void>): void {
  const stop = (signal: string) => {
    log.info({ signal }, "shutting down");
    close().then(
      () => process.exit(0),
      (err) => {
        log.error({ err: (err as Error).message }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}
