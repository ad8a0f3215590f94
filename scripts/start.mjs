#!/usr/bin/env node
// `npm start`: install and build as needed, then `krake up`: the API server and every controller in one
// process on the embedded store (./data). Extra arguments go to `krake up`, e.g. `npm start -- --sandbox`.
import { spawn } from "node:child_process";
import { ensureBuilt, ensureNodeModules } from "./bootstrap.mjs";

ensureNodeModules();
ensureBuilt();
const krake = spawn(process.execPath, ["bin/krake.js", "up", ...process.argv.slice(2)], { stdio: "inherit" });
// Ctrl-C reaches krake through the terminal's process group; a SIGTERM sent to npm only must be passed on.
process.on("SIGTERM", () => krake.kill("SIGTERM"));
process.on("SIGINT", () => undefined);
krake.on("exit", (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});
