/**
 * An AbortController that also aborts when `parent` does; dispose() unhooks it from the parent. Not
 * AbortSignal.any: on Node 20 every call registers the
 * combined signal on the caller's signal for good (nodejs/node#55351); controllers pass one long-lived
 * shutdown signal to every call, so that set would grow without bound. Here the listener is removed again
 * by dispose(), once the call is over.
 */
export function linkedController(parent: AbortSignal | undefined): {
  controller: AbortController;
  dispose(): void;
} {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent?.reason);
  if (parent?.aborted) onParentAbort();
  else parent?.addEventListener("abort", onParentAbort, { once: true });
  return { controller, dispose: () => parent?.removeEventListener("abort", onParentAbort) };
}

/** A caller's signal and a timeout as one signal (see linkedController). */
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
  const { controller, dispose } = linkedController(callerSignal);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(timeoutReason());
  }, timeoutMs);
  return {
    signal: controller.signal,
    timedOut: () => timedOut,
    dispose() {
      clearTimeout(timer);
      dispose();
    },
  };
}
