#!/usr/bin/env node
// Builds once, then runs every compiled *.test.js under dist/ with node's own test runner.
// Node 20's `node --test` has no glob support, so the files are collected here.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { ensureNodeModules, ensureSystemPackages } from "./bootstrap.mjs";

const args = process.argv.slice(2);
const skipChecks = args.includes("--no-checks");
const filters = args.filter((a) => !a.startsWith("--"));

function run(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

// A bare machine: bring what the tests need (etcd for the store contract suite), then the npm packages.
ensureSystemPackages([
  ["etcd", "etcd-server"],
  ["openssl", "openssl"],
  ["prometheus", "prometheus"],
]);
ensureNodeModules();

// A real kube-apiserver (and kube-controller-manager) for the Kubernetes controller tests, built once per
// machine from Debian's source package into ~/.cache/krake (about 6 minutes on 2 cores; seconds after).
// Built here rather than inside a test, whose 5-minute limit the first build would exceed.
const needsKube = filters.length === 0 || filters.some((f) => /kube|controllers/.test(f));
if (needsKube && process.env.KRAKE_SKIP_KUBE !== "1") run("bash", ["scripts/kube/build.sh"]);

if (!skipChecks) {
  run("npx", ["tsc", "-p", "tsconfig.json"]);
  run("npx", ["eslint", "."]);
} else {
  run("npx", ["tsc", "-p", "tsconfig.json"]);
}

function collect(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) collect(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

let files = [...collect("dist/src", []), ...collect("dist/test", [])].sort();
if (filters.length > 0) files = files.filter((f) => filters.some((flt) => f.includes(flt)));
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
console.error(`running ${files.length} test files: ${files.map((f) => relative("dist", f)).join(" ")}`);
const r = spawnSync(
  process.execPath,
  ["--enable-source-maps", "--test", "--test-concurrency=2", "--test-timeout=300000", ...files],
  { stdio: "inherit", env: { ...process.env, NODE_ENV: "test" } },
);
process.exit(r.status ?? 1);
