/**
 * Runs `krake` as a real subprocess, the way an operator does, and finds the URL it listens on.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const KRAKE_BIN = fileURLToPath(new URL("../../../bin/krake.js", import.meta.url));

export interface KrakeProcess {
  child: ChildProcess;
  url: string;
  output(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startKrake(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 15_000,
  /** The log message that says the process is ready; its `url` field is returned. */
  readyMessage = "Krake API server listening",
): Promise<KrakeProcess> {
  const pattern = new RegExp(
    `"url":"([^"]+)"[^\\n]*"msg":"${readyMessage}"|"msg":"${readyMessage}"[^\\n]*"url":"([^"]+)"`,
  );
  return spawnKrake(args, env, timeoutMs, (out) => {
    const m = pattern.exec(out);
    return m ? (m[1] ?? m[2]) : undefined;
  });
}

/** `krake up …`, ready once it prints the line that gives its URL. */
export function startKrakeUp(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<KrakeProcess> {
  return spawnKrake(["up", ...args], env, timeoutMs, (out) => / is up at (\S+) /.exec(out)?.[1]);
}

async function spawnKrake(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  readyUrl: (output: string) => string | undefined,
): Promise<KrakeProcess> {
  const child = spawn(process.execPath, [KRAKE_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`krake did not start within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const found = readyUrl(out);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`krake exited (${code ?? signal}) before listening:\n${out}`));
    });
  });
  return {
    child,
    url,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs krake to completion (for --help and usage errors). */
export function runKrake(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KRAKE_BIN, ...args], { env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}
