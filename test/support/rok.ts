/**
 * Runs the real `rok` (bin/rok.js) as a subprocess, as a user does, in a temp dir so that no real
 * configuration file is picked up.
 */
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { eventually, startTestApi } from "./api.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROK_BIN = fileURLToPath(new URL("../../../bin/rok.js", import.meta.url));

export interface RokResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RokOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; stdin is empty (not a terminal) otherwise. */
  input?: string;
  cwd?: string;
}

/** The rows of a list table as rok prints it (the header row left out), one array of cell texts per row. */
export const tableRows = (table: string): string[][] =>
  table
    .split("\n")
    .filter((l) => l.startsWith("| ") && !l.startsWith("| name "))
    .map((l) =>
      l
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim()),
    );

export function runRok(args: string[], options: RokOptions = {}): Promise<RokResult> {
  return startRok(args, options).done;
}

export interface StartedRok {
  child: ChildProcess;
  /** What it printed so far. */
  output: { stdout: string; stderr: string };
  done: Promise<RokResult>;
}

/** Starts rok without waiting for it to end (`--watch`, `--wait`): the test reads `output` and stops it. */
export function startRok(args: string[], options: RokOptions = {}): StartedRok {
  const child = spawn(process.execPath, [ROK_BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  child.stdout.on("data", (d) => (output.stdout += d));
  child.stderr.on("data", (d) => (output.stderr += d));
  const done = new Promise<RokResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, ...output }));
  });
  child.stdin.end(options.input ?? "");
  return { child, output, done };
}

/** A scratch directory used as cwd and XDG_CONFIG_HOME, and a runner bound to it and to an API URL. */
export async function rokSandbox(url: string | null, env: NodeJS.ProcessEnv = {}) {
  const dir = await mkdtemp(join(tmpdir(), "rok-test-"));
  // COLUMNS is cleared so that tables have the no-terminal width (80) unless a test asks for another.
  const baseEnv: NodeJS.ProcessEnv = {
    XDG_CONFIG_HOME: dir,
    KRAKE_NAMESPACE: "",
    KRAKE_URL: url ?? "",
    COLUMNS: "",
    ...env,
  };
  return {
    dir,
    rok: (args: string[], options: RokOptions = {}) =>
      runRok(args, { cwd: dir, ...options, env: { ...baseEnv, ...options.env } }),
    start: (args: string[], options: RokOptions = {}) =>
      startRok(args, { cwd: dir, ...options, env: { ...baseEnv, ...options.env } }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * A real `krake api` and a rok sandbox bound to it for the tests of one file, started in `before` and torn
 * down in `after`. Tables are unwrapped (COLUMNS=1000) so that rows are whole; wrapping is tested apart.
 */
export function useRokApi(
  env: NodeJS.ProcessEnv = { COLUMNS: "1000" },
  /** Runs once both are up, e.g. to write the files the tests use into `sb.dir`. */
  setup?: (ctx: { sb: Awaited<ReturnType<typeof rokSandbox>> }) => Promise<void>,
) {
  const ctx = {} as {
    api: import("./api.js").TestApi;
    sb: Awaited<ReturnType<typeof rokSandbox>>;
    rok: (args: string[], options?: RokOptions) => Promise<RokResult>;
    /** Both the 80-column (wrapped) and the unwrapped table, for secret checks: a wrapped secret would hide. */
    tables: (args: string[]) => Promise<string>;
  };
  before(async () => {
    ctx.api = await startTestApi();
    ctx.sb = await rokSandbox(ctx.api.url, env);
    ctx.rok = ctx.sb.rok;
    ctx.tables = async (args) =>
      [(await ctx.sb.rok(args)).stdout, (await ctx.sb.rok(args, { env: { COLUMNS: "" } })).stdout].join("\n");
    await setup?.(ctx);
  });
  after(async () => {
    await ctx.sb?.cleanup();
    await ctx.api?.close();
  });
  return ctx;
}

/**
 * The walkthrough's last step: delete my-cluster, then os-cloud and im-provider, waiting until each list is
 * empty. `rok` runs one command line against the walkthrough's Krake.
 */
export async function deleteWalkthroughResources(rok: (line: string) => Promise<string>): Promise<void> {
  const emptied = (list: string, what: string, ms: number) =>
    eventually(async () => tableRows(await rok(list)).length === 0, ms, what);
  await rok("rok kube cluster delete my-cluster");
  await emptied("rok kube cluster list", "cluster gone", 60_000);
  await rok("rok infra cloud delete os-cloud");
  await rok("rok infra provider delete im-provider");
  await emptied("rok infra cloud list", "cloud gone", 30_000);
  await emptied("rok infra provider list", "provider gone", 30_000);
}

/**
 * Runs one walkthrough line (`rok …`, no quoting needed) from the repository root against `krakeUrl`, with
 * `home` as the configuration directory, and returns stdout; any failure fails the test.
 */
export async function runRokLine(line: string, krakeUrl: string, home: string): Promise<string> {
  const args = line.trim().split(/\s+/);
  assert.equal(args.shift(), "rok");
  const r = await runRok(args, {
    cwd: fileURLToPath(new URL("../../../", import.meta.url)),
    env: { KRAKE_URL: krakeUrl, XDG_CONFIG_HOME: home, KRAKE_NAMESPACE: "", COLUMNS: "200" },
  });
  assert.equal(r.code, 0, `${line}\n${r.stderr}`);
  return r.stdout;
}
