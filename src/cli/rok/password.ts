/**
 * Passwords come from `--password`, `--password-stdin` or a no-echo prompt on a terminal (cli.md §1.5).
 * Without a terminal there is nobody to ask: fail clearly instead of hanging on stdin.
 */
import { CliError } from "./errors.js";

export interface PasswordFlags {
  password?: string;
  passwordStdin?: boolean;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk));
  // `echo secret | rok …` adds a newline that is not part of the password.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Reads one line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    // Echo goes off before the question appears: a password pasted right after the prompt must not echo.
    stdin.setRawMode(true);
    process.stderr.write(question);
    stdin.resume();
    let value = "";
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: Buffer) => {
      for (const ch of data.toString("utf8")) {
        if (ch === "\r" || ch === "\n" || ch === "\u0004") return done();
        if (ch === "\u0003") return done(new CliError("interrupted"));
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on("data", onData);
  });
}

/** The password to send, or throws when none can be obtained. */
export async function obtainPassword(flags: PasswordFlags, what: string): Promise<string> {
  if (flags.password !== undefined && flags.passwordStdin)
    throw new CliError("use either --password or --password-stdin, not both");
  if (flags.password !== undefined) return flags.password;
  if (flags.passwordStdin) return readStdin();
  if (process.stdin.isTTY) return prompt(`Password for ${what}: `);
  throw new CliError(
    `a password is required for ${what}: pass --password or --password-stdin (no terminal to prompt on)`,
  );
}
