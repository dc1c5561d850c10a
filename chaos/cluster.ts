/**
 * The chaos run's own PostgreSQL cluster: a throwaway server from `scripts/local_postgres.ts`,
 * plus what the scenarios need beyond it: a restart in `fast` or `immediate` mode, and a fresh
 * database per scenario.
 *
 * The restart uses `pg_ctl restart`, which starts the server again with the options it was
 * started with (kept in `postmaster.opts`), so the port and settings stay the same. The binaries
 * and the data dir are asked from the server itself, so this needs nothing from the helper that
 * started it but its URL.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import pg from "pg";
import { startLocalPostgres } from "../scripts/local_postgres.ts";

/** A running chaos cluster. */
export interface ChaosCluster {
  /** Superuser URL of the `postgres` database. */
  url: string;
  /** The server's port on 127.0.0.1. */
  port: number;
  /** Server version. */
  version: string;
  /** A URL of `database` on the same server. */
  urlOf(database: string): string;
  /** Runs SQL as the superuser on the `postgres` database (a fresh connection per call). */
  admin<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /**
   * Restarts the server (`fast`: clean shutdown that ends every session; `immediate`: a crash
   * without a checkpoint, recovered at start) and resolves once it accepts connections again.
   */
  restart(mode: "fast" | "immediate"): Promise<void>;
  /** Stops the server and removes its dir. */
  stop(): Promise<void>;
}

/**
 * Starts the cluster.
 *
 * @param log Progress lines.
 * @returns The running cluster.
 */
export async function startChaosCluster(log: (line: string) => void): Promise<ChaosCluster> {
  const server = await startLocalPostgres({ log });
  const url = server.url;
  const port = Number(new URL(url).port);
  const admin = async <R>(text: string, params?: unknown[]): Promise<R[]> => {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => {});
    await c.connect();
    try {
      return (await c.query(text, params)).rows as R[];
    } finally {
      await c.end().catch(() => {});
    }
  };
  const [{ data_directory: dataDir }] = await admin<{ data_directory: string }>(
    "show data_directory",
  );
  const [{ setting: bindir }] = await admin<{ setting: string }>(
    "select setting from pg_config where name = 'BINDIR'",
  );
  const logFile = join(dirname(dataDir), "log");
  return {
    url,
    port,
    version: server.version,
    urlOf: (database) => {
      const u = new URL(url);
      u.pathname = `/${database}`;
      return u.toString();
    },
    admin,
    async restart(mode) {
      const result = await run(
        asOwnerOf(dataDir, join(bindir, "pg_ctl"), [
          "-D",
          dataDir,
          "-m",
          mode,
          "-w",
          "-t",
          "60",
          "-l",
          logFile,
          "restart",
        ]),
      );
      if (result.code !== 0) throw new Error(`pg_ctl restart -m ${mode} failed:\n${result.output}`);
    },
    stop: () => server.stop(),
  };
}

/** `[exe, args]` run as the owner of `path` when we are root (the server refuses root). */
export function asOwnerOf(path: string, exe: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [exe, args];
  const uid = statSync(path).uid;
  if (uid === 0) return [exe, args];
  const name = readFileSync("/etc/passwd", "utf8").split("\n").map((l) => l.split(":"))
    .find((f) => Number(f[2]) === uid)?.[0];
  if (!name) throw new Error(`no user with uid ${uid} owns ${path}`);
  return ["runuser", ["-u", name, "--", exe, ...args]];
}

/** Runs a command to completion; its output is only shown when it fails. */
export function run(
  [exe, args]: [string, string[]],
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(exe, args, { cwd: "/", stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    child.on("error", (err) => resolve({ code: null, output: output + String(err) }));
    child.on("close", (code) => resolve({ code, output }));
  });
}
