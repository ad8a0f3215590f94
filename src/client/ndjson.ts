/** Splits a byte stream into non-empty lines (heartbeats are empty lines and are skipped). */
export async function* ndjsonLines(
  chunks: AsyncIterable<Uint8Array>,
  signal?: AbortSignal,
  /** Called on every chunk, heartbeats included: lets a reader detect a stream that went silent. */
  onActivity?: () => void,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    // Leaving this loop early (the consumer broke out) ends the transfer: the iterator's return() closes it.
    for await (const chunk of chunks) {
      onActivity?.();
      buffered += decoder.decode(chunk, { stream: true });
      let start = 0;
      let nl: number;
      while ((nl = buffered.indexOf("\n", start)) >= 0) {
        const line = buffered.slice(start, nl).trim();
        start = nl + 1;
        if (line) yield line;
      }
      buffered = buffered.slice(start);
    }
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  }
  const rest = (buffered + decoder.decode()).trim();
  if (rest) yield rest;
}
