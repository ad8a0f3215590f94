/** A problem+json answer from the API, or a failure to reach it. */
export interface FieldError {
  path: string;
  message: string;
}

export class KrakeApiError extends Error {
  /** Seconds the server asked to wait before trying again (`Retry-After`), when it said. */
  retryAfterSeconds?: number;
  /** Requests made before giving up, when the client retried (429). */
  attempts?: number;

  constructor(
    readonly status: number,
    readonly title: string | null,
    readonly detail: string,
    readonly errors: FieldError[] = [],
    readonly body: unknown = null,
  ) {
    super(title ? `${status} ${title}: ${detail}` : detail || `HTTP ${status}`);
    this.name = "KrakeApiError";
  }
}

export class KrakeConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach the Krake API at ${url}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.name = "KrakeConnectionError";
  }
}
