/** Entry point of `rok`: folds multi-value flags, parses, maps failures to exit codes. */
import { CommanderError } from "commander";
import { normaliseArgv } from "./argv.js";
import { completionScript } from "./completion.js";
import { fail } from "./errors.js";
import { buildProgram } from "./program.js";

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  // `rok … | head`: the reader went away; stop quietly, as Unix tools do, instead of a stack trace.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  const program = buildProgram();
  try {
    if (argv[0] === "--print-completion" || argv[0]?.startsWith("--print-completion=")) {
      const shell = argv[0].includes("=") ? argv[0].split("=")[1] : argv[1];
      process.stdout.write(completionScript(program, shell ?? ""));
      return;
    }
    await program.parseAsync(normaliseArgv(argv), { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    fail(err);
  }
}

await main();
