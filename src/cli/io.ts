/**
 * Where the command line writes and what it reads: standard output for results (so they can be
 * piped), standard error for progress and errors, the environment for `DATABASE_URL`.
 *
 * @module
 */
import process from "node:process";

/** The command line's view of the process, replaceable in tests. */
export interface Io {
  /** Writes a result line to standard output. */
  out(line: string): void;
  /** Writes a message line to standard error. */
  err(line: string): void;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Reads all of standard input as text. */
  stdin(): Promise<string>;
}

/** The real process: stdout, stderr, environment, stdin. */
export const processIo: Io = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  env: (name) => process.env[name],
  async stdin() {
    const chunks: Uint8Array[] = [];
    for await (const chunk of process.stdin) {
      chunks.push(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
    }
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return new TextDecoder().decode(all);
  },
};
