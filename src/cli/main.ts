#!/usr/bin/env bun
/**
 * The `gue` command line: look at and operate a gue queue from a shell, on Deno or Bun.
 *
 * ```sh
 * deno run -A jsr:@gue/gue/cli --help          # Deno
 * bunx gue --help                              # Bun, with the package installed
 * export DATABASE_URL=postgres://postgres@localhost:5432/app
 * gue migrate
 * gue enqueue SendEmail '{"to":"a@example.com"}' --queue emails
 * gue stats
 * ```
 *
 * Commands: `migrate`, `stats`, `list`, `show`, `enqueue`, `retry`, `cancel`, `delete`, `bench`,
 * `dashboard`, `patch-postgres` (fixes postgres.js 3.4 connection bugs in `node_modules`; needs no
 * database); `gue <command> --help` describes each.
 * The database comes from `--database-url` or `DATABASE_URL`. Results go to standard output,
 * messages to standard error. Exit codes: 0 done, 1 the operation failed (connection, login,
 * missing schema, a failing statement; `patch-postgres`: a copy it cannot patch), 2 usage error
 * (nothing was done), 3 no such job, 4 the job is in the wrong state for the command.
 *
 * Run it from code with {@linkcode main}, which returns the exit code instead of exiting.
 *
 * @example Run a command from a script
 * ```ts
 * import { main } from "@gue/gue/cli";
 *
 * const code = await main(["stats", "--json"]);
 * if (code !== 0) console.error("gue stats failed");
 * ```
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { type Command, commandHelp, parseCommandArgs } from "./command.ts";
import { commands } from "./commands.ts";
import { CliError, ExitCode, usageError } from "./exit_codes.ts";
import { type Io, processIo } from "./io.ts";

export { ExitCode } from "./exit_codes.ts";
export type { Io } from "./io.ts";

function topHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "gue: look at and operate a gue job queue on PostgreSQL",
    "",
    "Usage: gue <command> [options]",
    "",
    "Commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Options of every command (patch-postgres needs no database):",
    "      --database-url URL  PostgreSQL connection URL (default: $DATABASE_URL)",
    "  -h, --help              show the command's help",
    "",
    "Exit codes: 0 done, 1 the operation failed (connection, login, missing schema, a statement;",
    "patch-postgres: a postgres copy it cannot patch, or --check found one not patched), 2 usage",
    "error (nothing was done), 3 no such job (show, retry, cancel, delete), 4 the job is in the",
    "wrong state for the command (retry of a job that has not failed, delete of a running one).",
    "",
    "`gue <command> --help` describes a command.",
    "",
  ].join("\n");
}

/** Splits global options given before the command name from the command and its arguments. */
function findCommand(args: string[]): { name?: string; rest: string[] } {
  // Non-strict: only to find where the command name is; the command's own parse is strict.
  const { tokens } = parseArgs({
    args,
    options: { "database-url": { type: "string" }, help: { type: "boolean", short: "h" } },
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const first = tokens.find((t) => t.kind === "positional");
  if (first === undefined) return { rest: args };
  return {
    name: first.value,
    rest: [...args.slice(0, first.index), ...args.slice(first.index + 1)],
  };
}

/**
 * Runs the `gue` command line with `args` (without the program name) and returns the exit code
 * (see {@linkcode ExitCode}); never calls `process.exit`.
 *
 * @param args The arguments, e.g. `["stats", "--json"]`.
 * @param io Where to write and read; the real process by default.
 * @returns 0 done, 1 the operation failed, 2 usage error, 3 no such job, 4 wrong state.
 *
 * @example
 * ```ts
 * import { main } from "@gue/gue/cli";
 * const code = await main(["enqueue", "Report", "--queue", "reports"]);
 * ```
 */
export async function main(args: string[], io: Io = processIo): Promise<number> {
  let command: Command | undefined;
  try {
    const { name, rest } = findCommand(args);
    if (name === undefined) {
      if (rest.includes("--help") || rest.includes("-h")) {
        io.out(topHelp());
        return ExitCode.Ok;
      }
      io.err(topHelp());
      return ExitCode.Usage;
    }
    if (name === "help") {
      const about = commands.find((c) => c.name === rest[0]);
      io.out(about ? commandHelp(about) : topHelp());
      return ExitCode.Ok;
    }
    command = commands.find((c) => c.name === name);
    if (command === undefined) {
      throw usageError(
        `unknown command ${JSON.stringify(name)}; commands: ${
          commands.map((c) => c.name).join(", ")
        }`,
      );
    }
    const parsed = parseCommandArgs(command, rest);
    if (parsed === "help") {
      io.out(commandHelp(command));
      return ExitCode.Ok;
    }
    return await command.run({ ...parsed, io });
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`gue${command ? ` ${command.name}` : ""}: ${err.message}`);
      return err.exitCode;
    }
    // A bug or an error nobody explained: keep the stack, it is what a bug report needs.
    io.err(
      `gue${command ? ` ${command.name}` : ""}: ${
        err instanceof Error ? err.stack ?? err.message : String(err)
      }`,
    );
    return ExitCode.Failure;
  }
}

if (import.meta.main) {
  // exitCode, not exit(): let standard output drain when it is a pipe.
  process.exitCode = await main(process.argv.slice(2));
}
