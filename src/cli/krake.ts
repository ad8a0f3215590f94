/** `krake`: the server-side entry point (`krake up`, `krake api`, `krake controller`, `krake bootstrap`). */
import { CommanderError } from "commander";
import { krakeProgram } from "./krake-program.js";

const program = krakeProgram();
// Usage errors (unknown flag, bad value) exit 2 like every config error of `krake`; help and version 0.
for (const cmd of [program, ...program.commands]) {
  cmd.exitOverride((err: CommanderError) => {
    throw err;
  });
}
try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (!(err instanceof CommanderError)) throw err;
  process.exit(err.exitCode === 0 ? 0 : 2);
}
