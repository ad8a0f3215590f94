/**
 * `<dataDir>/LOCK`: one process per data directory. Two writers appending to the same WAL would interleave
 * records and corrupt the store, so a second opener must fail loudly.
 *
 * Node has no flock, so the lock is a file created exclusively, holding `<pid> <process start time>`. A lock
 * whose process is gone is stale and taken over (after a crash or kill -9). The start time guards against pid
 * reuse: in a container the API server is often pid 1 on every start, so a bare pid would look alive forever.
 * Within one process, a module-level set catches a second open of the same directory.
 *
 * Residual race, accepted: two processes finding the same stale lock at the same instant can both take it
 * over. Starting two servers on one directory at the same moment after a crash is an operator error this
 * does not fully guard against.
 */
import { open, readFile, realpath, unlink } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const heldHere = new Set<string>();

/** State and start time from /proc/<pid>/stat (fields 3 and 22), or null where there is no /proc. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    // Fields are counted after the parenthesised command name, which may itself hold spaces.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { state: fields[0] ?? "", start: fields[19] ?? "" };
  } catch {
    return null;
  }
}

function alive(pid: number, start: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const stat = procStat(pid);
  if (stat === null) return true; // no /proc: the pid exists, assume it is the holder
  // A zombie holds no files; a different start time means the pid now belongs to another process.
  return stat.state !== "Z" && (start === "" || stat.start === start);
}

export class LockedError extends Error {
  constructor(dir: string, holder: string) {
    super(`embedded store ${dir} is in use by another process (${holder}); refusing to open it twice`);
    this.name = "LockedError";
  }
}

export interface DirLock {
  release(): Promise<void>;
}

export async function lockDir(dir: string): Promise<DirLock> {
  const real = await realpath(dir);
  if (heldHere.has(real)) throw new LockedError(dir, `this process, pid ${process.pid}`);
  const path = join(dir, "LOCK");
  const me = `${process.pid} ${procStat(process.pid)?.start ?? ""}\n`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, "wx");
      try {
        await fh.writeFile(me);
        await fh.sync();
      } finally {
        await fh.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw err;
    }
    let content = "";
    try {
      content = await readFile(path, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // released meanwhile
      throw err;
    }
    const [pidText = "", start = ""] = content.trim().split(" ");
    const pid = Number(pidText);
    // Our own pid with no open store here: a previous incarnation with the same pid (container restarts).
    if (pid !== process.pid && alive(pid, start)) throw new LockedError(dir, `pid ${pid}`);
    await unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw err;
    });
  }
  heldHere.add(real);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(real);
      await unlink(path).catch(() => {});
    },
  };
}
