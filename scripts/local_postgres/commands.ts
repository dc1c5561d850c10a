/**
 * Running the PostgreSQL binaries (`initdb`, `pg_ctl`) to completion and reporting their failures.
 *
 * Their output is captured rather than inherited: a successful start is noise in a test run, and
 * a failed one is best shown as the tail of what they printed, next to the server log.
 *
 * @module
 */

import { spawn } from "node:child_process";

/** An executable and its arguments, ready for `spawn`. */
export type Command = [exe: string, args: string[]];

/** What a finished command left behind. */
export interface RunResult {
  /** The exit code, or `null` when it was killed or could not be started. */
  code: number | null;
  /** "exit code N" or "signal S", for error messages. */
  status: string;
  /** stdout and stderr, interleaved. */
  output: string;
}

/**
 * Runs a command to completion, capturing its output (shown only if something goes wrong).
 *
 * @param command The executable and its arguments.
 * @param cwd The working directory: the server user may not be allowed into the caller's cwd,
 *   and initdb fails if it cannot getcwd(), so callers pass the cluster's own dir.
 * @returns Its exit code, a printable status and its output; never rejects.
 */
export function run([cmd, args]: Command, cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ code: null, status: String(err), output }));
    child.on("close", (code, signal) =>
      resolve({
        code,
        status: signal ? `signal ${signal}` : `exit code ${code}`,
        output,
      }));
  });
}

/**
 * The last lines of a command's output or a log, indented for an error message.
 *
 * @param text The whole output.
 * @param lines How many lines to keep.
 * @returns The indented tail, or "(empty)".
 */
export function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).map((l) => `  ${l}`).join("\n") || "  (empty)";
}

/**
 * Quotes one word for `/bin/sh` (left bare when it needs no quoting, to keep commands readable).
 *
 * @param s The word.
 * @returns The word, safe to paste into a shell command line.
 */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
