/**
 * A caller's signal and a timeout as one signal. Not AbortSignal.any: on Node 20 every call registers the
 * combined signal on the caller's signal for good (nodejs/node#55351); controllers pass one long-lived
 * shutdown signal to every call, so that set would grow without bound. Here the listener is removed again
 * by dispose(), once the call is over.
 */
export interface Deadline {
  signal: AbortSignal;
  timedOut(): boolean;
  dispose(): void;
}

export function startDeadline(
  callerSignal: AbortSignal | undefined,
  timeoutMs: number,
  /** What the signal aborts with on timeout; fetch rethrows it. */
  timeoutReason: () => unknown = () => new DOMException(`timed out after ${timeoutMs} ms`, "TimeoutError"),
): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(timeoutReason());
  }, timeoutMs);
  const onCallerAbort = () => controller.abort(callerSignal?.reason);
  if (callerSignal?.aborted) onCallerAbort();
  else callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      callerSignal?.removeEventListener("abort", onCallerAbort);
    },
  };
}
