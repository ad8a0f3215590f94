#!/usr/bin/env node
// `npm start`: install and build as needed, then run Krake on its embedded store.
// Extra arguments go to `krake api`, e.g. `npm start -- --port 9000`.
import { spawn } from "node:child_process";
import { ensureBuilt, ensureNodeModules } from "./bootstrap.mjs";

ensureNodeModules();
ensureBuilt();
const child = spawn(process.execPath, ["bin/krake.js", "api", ...process.argv.slice(2)], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
