/** A stand-in for a fastify request carrying only what authenticators read: headers and the socket. */
import type { FastifyRequest } from "fastify";
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export function fakeRequest(headers: Record<string, string> = {}, socket: object = {}): FastifyRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return { method: "GET", headers: lower, raw: { socket } } as unknown as FastifyRequest;
}

/** A logger whose JSON lines are kept, so tests can check what was (and was not) logged. */
export function capturingLogger(): { logger: Logger; lines: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { logger: pino({ level: "debug" }, sink), lines: () => text };
}

/** Runs `fn` and returns the ApiError-like value it threw (fails if it did not throw). */
export async function thrown(
  fn: () => unknown,
): Promise<{ status: number; title: string | null; detail: string; headers?: Record<string, string> }> {
  try {
    await fn();
  } catch (err) {
    return err as never;
  }
  throw new Error("expected an error, none was thrown");
}
