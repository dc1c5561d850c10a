/**
 * PgBouncer in front of the chaos cluster, in `transaction` or `session` pool mode, from the
 * distribution's package (Debian: `apt-get install pgbouncer`).
 *
 * It runs as the owner of a temp dir it gets to itself (PgBouncer refuses to run as root), on a
 * free port, with trust auth and every database name passed through to the cluster.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { asOwnerOf } from "./cluster.ts";

/** A running PgBouncer. */
export interface PgBouncer {
  /** The URL of `database` through PgBouncer. */
  urlOf(database: string): string;
  /** Stops it and removes its dir. */
  stop(): Promise<void>;
}

const CANDIDATES = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer", "/usr/local/bin/pgbouncer"];

/** The pgbouncer binary, or `undefined` when it is not installed. */
export function findPgBouncer(): string | undefined {
  return CANDIDATES.find((path) => {
    try {
      accessSync(path);
      return true;
    } catch {
      return false;
    }
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/**
 * Starts PgBouncer.
 *
 * @param binary From {@linkcode findPgBouncer}.
 * @param serverPort The cluster's port on 127.0.0.1.
 * @param mode The pool mode.
 * @param ownerDir A dir owned by the user the cluster runs as (PgBouncer runs as that user too).
 * @returns The running PgBouncer.
 */
export async function startPgBouncer(
  binary: string,
  serverPort: number,
  mode: "transaction" | "session",
  ownerDir: string,
): Promise<PgBouncer> {
  const dir = mkdtempSync("/tmp/gue-chaos-pgbouncer-");
  const port = await freePort();
  writeFileSync(join(dir, "users.txt"), `"postgres" ""\n`);
  writeFileSync(
    join(dir, "pgbouncer.ini"),
    [
      "[databases]",
      `* = host=127.0.0.1 port=${serverPort}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      "auth_type = trust",
      `auth_file = ${join(dir, "users.txt")}`,
      `pool_mode = ${mode}`,
      "max_client_conn = 500",
      "default_pool_size = 40",
      "ignore_startup_parameters = extra_float_digits,options",
      `logfile = ${join(dir, "pgbouncer.log")}`,
      "",
    ].join("\n"),
  );
  if (process.getuid?.() === 0) {
    const { uid, gid } = statSync(ownerDir);
    chownSync(dir, uid, gid);
    for (const f of ["users.txt", "pgbouncer.ini"]) chownSync(join(dir, f), uid, gid);
  }
  const [exe, args] = asOwnerOf(dir, binary, [join(dir, "pgbouncer.ini")]);
  const child: ChildProcess = spawn(exe, args, { cwd: dir, stdio: "ignore", detached: true });
  // Its own process group, so a signal reaches PgBouncer and not only the runuser in front of it.
  const signal = (sig: "SIGTERM" | "SIGKILL") => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // Already gone.
    }
  };
  // Ready once it accepts connections.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (await canConnect(port)) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      signal("SIGKILL");
      throw new Error(`pgbouncer did not start (see ${join(dir, "pgbouncer.log")})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    urlOf: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        signal("SIGTERM");
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null) signal("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import("node:net");
  return await new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
