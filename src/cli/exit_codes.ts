/**
 * The exit codes of the `gue` command, which scripts can rely on.
 *
 * @module
 */

/**
 * What `gue` exits with. Stable: a script may test them.
 *
 * | code | meaning |
 * | ---- | ------- |
 * | 0 | done |
 * | 1 | the operation failed: the database is unreachable, refused the login, lacks the schema, or a statement failed; `patch-postgres` found a copy of postgres it cannot patch (or, with `--check`, one not patched) |
 * | 2 | usage error: unknown command or option, missing or malformed argument; nothing was sent to the database |
 * | 3 | no such job: `show`, `retry`, `cancel` or `delete` found no job with that id |
 * | 4 | the job is in the wrong state for the command: `retry` of a job that has not failed, `delete` of a running job, `cancel` of a failed one |
 */
export const ExitCode = {
  /** Done. */
  Ok: 0,
  /** The operation failed (connection, login, schema, statement; a postgres copy not patched). */
  Failure: 1,
  /** Unknown command or option, or a malformed argument. */
  Usage: 2,
  /** No job with that id. */
  NotFound: 3,
  /** The job exists but is in the wrong state for the command. */
  WrongState: 4,
} as const;

/** One of the {@linkcode ExitCode} values. */
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** A failure the command line reports with a message and an exit code, without a stack trace. */
export class CliError extends Error {
  /** The code `gue` exits with. */
  readonly exitCode: ExitCode;

  /**
   * @param message What went wrong and what to do about it.
   * @param exitCode The code to exit with.
   * @param options The underlying error, if any.
   */
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/**
 * A usage error: exit code 2, and the message tells how to get the command's help.
 *
 * @param message What is wrong with the command line.
 * @param command The command, to point at its `--help`.
 * @returns The error to throw.
 */
export function usageError(message: string, command?: string): CliError {
  const help = command ? `gue ${command} --help` : "gue --help";
  return new CliError(`${message}\n(see \`${help}\`)`, ExitCode.Usage);
}
