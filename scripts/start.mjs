#!/usr/bin/env node
// `npm start`: install and build as needed, then run Krake on its embedded store: the API server, and once
// it listens, every controller against it. Extra arguments go to `krake api`, e.g. `npm start -- --port 9000`.
// (`krake up`, one process for everything, replaces this when it exists.)
import { spawn } from "node:child_process";
import { ensureBuilt, ensureNodeModules } from "./bootstrap.mjs";

ensureNodeModules();
ensureBuilt();
const api = spawn(process.execPath, ["bin/krake.js", "api", ...process.argv.slice(2)], {
  stdio: ["ignore", "pipe", "inherit"],
});
let controllers = null;
let seen = "";
api.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  if (controllers) return;
  seen += chunk;
  const m = /"msg":"Krake API server listening"[^\n]*|[^\n]*"msg":"Krake API server listening"/.exec(seen);
  const url = m && /"url":"([^"]+)"/.exec(m[0]);
  if (!url) return;
  controllers = spawn(process.execPath, ["bin/krake.js", "controller", "all", "--api", url[1]], {
    stdio: "inherit",
  });
  controllers.on("exit", (code) => {
    if (api.exitCode === null) api.kill("SIGTERM");
    process.exitCode = code ?? 1;
  });
});
for (const signal of ["SIGINT", "SIGTERM"])
  process.on(signal, () => {
    controllers?.kill(signal);
    api.kill(signal);
  });
api.on("exit", (code, signal) => {
  if (controllers && controllers.exitCode === null) controllers.kill("SIGTERM");
  process.exitCode = code ?? (signal ? 1 : 0);
});
