/**
 * Turns every failure into one readable message on stderr and an exit code: 1 for API and CLI-side errors,
 * 2 for usage errors (as argparse does, so scripts written for krakectl see the same codes).
 */
import { STATUS_CODES } from "node:http";
import { KrakeApiError, KrakeConnectionError } from "../../client/index.js";

/** A CLI-side validation failure (e.g. a missing type-specific flag): `Error: <message>`, exit 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** Adds advice printed under the error (what to type instead); returns the same error. */
export function withHint<E>(err: E, hint: string): E {
  if (err && typeof err === "object") (err as { hint?: string }).hint = hint;
  return err;
}

/** The text printed for an error, without the trailing newline. */
export function describeError(err: unknown): string {
  const text = describeBody(err);
  const hint = (err as { hint?: unknown } | null)?.hint;
  return typeof hint === "string" ? `${text}\nHint: ${hint}` : text;
}

function describeBody(err: unknown): string {
  if (err instanceof KrakeApiError) {
    const head = `${err.status} ${err.title ?? STATUS_CODES[err.status] ?? "Error"}`;
    // After retrying a 429 as the server asked: say that rok waited and stopped, in the same line.
    const gaveUp = err.status === 429 && err.attempts ? ` (rok gave up after ${err.attempts} attempts)` : "";
    const lines = [`Error: ${head}: ${err.detail}${gaveUp}`];
    for (const e of err.errors ?? []) lines.push(`  ${e.path || "(body)"}: ${e.message}`);
    return lines.join("\n");
  }
  if (err instanceof KrakeConnectionError) {
    const cause = (err.cause as { code?: string; message?: string } | undefined) ?? {};
    const why = cause.code ?? cause.message ?? "connection failed";
    return (
      `Error: cannot reach the Krake API at ${err.url}: ${why}. ` +
      "Start it with `npx krake api` or set api_url/KRAKE_URL."
    );
  }
  if (err instanceof CliError) return `Error: ${err.message}`;
  if ((err as Error)?.name === "TimeoutError") return "Error: the Krake API did not answer in time";
  return `Error: ${(err as Error)?.message ?? String(err)}`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof CliError ? err.exitCode : 1;
}

/** Prints the error and exits; used by every command action. */
export function fail(err: unknown): never {
  process.stderr.write(describeError(err) + "\n");
  process.exit(exitCodeOf(err));
}
