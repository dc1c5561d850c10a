/**
 * `with_postgres.ts <command> [args...]`: run a command with `DATABASE_URL` pointing at a
 * PostgreSQL server.
 *
 * If `DATABASE_URL` is already set, the command runs against that server unchanged. Otherwise a
 * throwaway server is started (see `local_postgres.ts`), the command runs with `DATABASE_URL` set
 * to it, and the server and its data are removed afterwards. This lets `deno task test` and
 * `bun run test` work on a machine that merely has PostgreSQL installed, while CI can still point
 * them at a service container. Works the same under Deno and Bun:
 *
 * ```sh
 * deno run -A scripts/with_postgres.ts deno test -A tests/
 * bun scripts/with_postgres.ts bun test tests/
 * ```
 *
 * Exits with the command's exit code (128 + signal number if it was killed by a signal), so
 * callers and CI see the test result. SIGINT/SIGTERM/SIGHUP are forwarded to the command, and the
 * server is stopped after the command has exited, so the command can still clean up its tables.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { constants } from "node:os";
import process from "node:process";
import { type LocalPostgres, startLocalPostgres } from "./local_postgres.ts";

const FORWARDED = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
type Forwarded = typeof FORWARDED[number];

function signalNumber(signal: string): number {
  return (constants.signals as Record<string, number>)[signal] ??
    ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[signal] ?? 1;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd) {
    console.error("usage: with_postgres.ts <command> [args...]");
    return 2;
  }

  // Signals are handled here rather than by local_postgres: the server must outlive the command,
  // which gets the signal forwarded and may need the database while it shuts down.
  let child: ReturnType<typeof spawn> | undefined;
  let received: Forwarded | undefined;
  const listeners = FORWARDED.map((signal) =>
    [signal, () => {
      received ??= signal;
      child?.kill(signal);
    }] as const
  );
  for (const [signal, listener] of listeners) process.on(signal, listener);

  let server: LocalPostgres | undefined;
  // An empty DATABASE_URL (e.g. an unset CI secret) means "none", not "connect to defaults".
  if (!process.env.DATABASE_URL) {
    try {
      server = await startLocalPostgres({ handleSignals: false });
    } catch (err) {
      // A Ctrl-C also hits initdb/pg_ctl (same process group); their output is noise then.
      if (received) {
        console.error(`with_postgres: ${received} while starting PostgreSQL, nothing left behind`);
        return 128 + signalNumber(received);
      }
      console.error(`with_postgres: ${err instanceof Error ? err.message : err}`);
      return 1;
    }
    const { host } = new URL(server.url);
    console.error(
      `with_postgres: started throwaway PostgreSQL ${server.version} on ${host} (removed on exit)`,
    );
  }

  try {
    // Interrupted while the server was starting: do not start the command at all.
    if (received) return 128 + signalNumber(received);
    const env = server ? { ...process.env, DATABASE_URL: server.url } : process.env;
    return await new Promise<number>((resolve) => {
      child = spawn(cmd, args, { stdio: "inherit", env });
      child.on("error", (err) => {
        console.error(`with_postgres: cannot run ${cmd}: ${err.message}`);
        // Shell convention: 127 = command not found, 126 = found but not runnable.
        resolve((err as { code?: string }).code === "ENOENT" ? 127 : 126);
      });
      child.on("exit", (code, signal) => {
        resolve(code ?? (signal ? 128 + signalNumber(signal) : 1));
      });
    });
  } finally {
    await server?.stop();
    for (const [signal, listener] of listeners) process.off(signal, listener);
  }
}

if (import.meta.main) {
  // process.exit rather than exitCode: an inherited stdin can keep the event loop alive.
  process.exit(await main(process.argv.slice(2)));
}
