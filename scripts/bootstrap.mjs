// Brings a bare machine to the point where Krake builds and its tests run: system packages the tests need
// (etcd), npm dependencies, and a fresh build. Idempotent and quiet when there is nothing to do.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) {
    console.error(`bootstrap: '${cmd} ${args.join(" ")}' failed (exit ${r.status})`);
    process.exit(r.status ?? 1);
  }
}

function have(cmd) {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

/** Debian packages the tests use, installed when missing (needs root, as on CI and the dev machines). */
export function ensureSystemPackages(packages) {
  const missing = packages.filter(([bin]) => !have(bin)).map(([, pkg]) => pkg);
  if (missing.length === 0) return;
  const isRoot = process.getuid?.() === 0;
  if (!isRoot || !have("apt-get")) {
    console.error(
      `bootstrap: missing ${missing.join(", ")}; install them (Debian: apt-get install -y ${missing.join(" ")})`,
    );
    process.exit(1);
  }
  console.error(`bootstrap: installing ${missing.join(", ")}`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-qq"], { env });
  run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], { env });
}

function newest(dir) {
  let latest = 0;
  if (!existsSync(dir)) return latest;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    latest = Math.max(latest, s.isDirectory() ? newest(p) : s.mtimeMs);
  }
  return latest;
}

export function ensureNodeModules() {
  const lock = statSync("package-lock.json").mtimeMs;
  const marker = "node_modules/.package-lock.json";
  if (!existsSync(marker) || statSync(marker).mtimeMs < lock) {
    console.error("bootstrap: installing npm dependencies (npm ci)");
    run("npm", ["ci", "--no-audit", "--no-fund"]);
  }
}

export function ensureBuilt() {
  const built = existsSync("dist/src/cli/krake.js") ? statSync("dist/src/cli/krake.js").mtimeMs : 0;
  if (built === 0 || newest("src") > built) {
    console.error("bootstrap: building (tsc)");
    run("npx", ["tsc", "-p", "tsconfig.json"]);
  }
}
