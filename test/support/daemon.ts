/**
 * A throw-away server process for tests (etcd, Prometheus) that never outlives the test process.
 *
 * - stop() sends SIGTERM, then SIGKILL after a grace period, and waits for the exit.
 * - A process 'exit' hook kills whatever a test forgot to stop and removes its temp dir.
 * - 'exit' hooks do not run when node itself is killed by a signal (e.g. the runner's timeout), so every
 *   daemon also gets a watchdog shell whose stdin is a pipe from us: the kernel closes that pipe however we
 *   die, the watchdog's `read` sees EOF, kills the daemon and removes the dir. No Linux-only prctl tricks.
 * - The child and its pipes are unref'd, so a forgotten stop() lets node exit (the hook then cleans up).
 * - `group`: the child was spawned detached and is killed as a process group (it may fork helpers).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";

const STOP_GRACE_MS = 5_000;
const STDERR_TAIL_LINES = 40;

const live = new Set<DaemonProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const daemon of live) {
      daemon.kill("SIGKILL");
      rmSync(daemon.dir, { recursive: true, force: true });
    }
  });
}

export class DaemonProcess {
  private readonly stderrTail: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitedYet = false;
  private readonly watchdog: ChildProcess;

  constructor(
    readonly child: ChildProcess,
    /** Removed when the daemon is killed behind the test's back. */
    readonly dir: string,
    readonly name: string,
    private readonly group = false,
  ) {
    installExitHook();
    live.add(this);
    let partial = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      this.stderrTail.push(...lines);
      if (this.stderrTail.length > STDERR_TAIL_LINES)
        this.stderrTail.splice(0, this.stderrTail.length - STDERR_TAIL_LINES);
    });
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => {
        this.exitedYet = true;
        live.delete(this);
        resolve({ code, signal });
      });
    });
    // `read` is a shell builtin, so the watchdog is one process and killing it leaves nothing behind. The
    // pid (or group id) stays ours until we reap the daemon, and stop() kills the watchdog before that, so
    // it can never hit an unrelated process. `kill -9 -PGID`, not `kill -9 -- -PGID`: dash rejects the `--`.
    const target = group ? `-"$1"` : `"$1"`;
    this.watchdog = spawn(
      "/bin/sh",
      [
        "-c",
        `read -r _; kill -9 ${target} 2>/dev/null; rm -rf "$2"`,
        `${name}-watchdog`,
        String(child.pid),
        dir,
      ],
      { stdio: ["pipe", "ignore", "ignore"] },
    );
    this.watchdog.on("error", () => undefined);
    this.watchdog.stdin?.on("error", () => undefined);
    this.watchdog.unref();
    (this.watchdog.stdin as Socket | null)?.unref();
    child.unref();
    (child.stderr as Socket | null)?.unref();
  }

  /** The last lines the daemon wrote to stderr, for error messages. */
  stderr(): string {
    return this.stderrTail.join("\n");
  }

  kill(signal: NodeJS.Signals): void {
    try {
      if (this.group && this.child.pid !== undefined) process.kill(-this.child.pid, signal);
      else this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  async stop(): Promise<void> {
    this.watchdog.kill("SIGKILL");
    if (this.exitedYet) return;
    // Waiting on an unref'd child alone would let node exit mid-stop.
    this.child.ref();
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }
}

/** A loopback port nobody listens on at this instant (the OS picks it; the caller binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => {
        if (addr === null || typeof addr === "string") reject(new Error("unexpected listener address"));
        else resolve(addr.port);
      });
    });
  });
}
