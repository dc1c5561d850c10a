/**
 * One throwaway cluster in a temp dir: create it with initdb, start and stop it with pg_ctl, and
 * remove it, however the process ends.
 *
 * The temp dir holds the cluster in `data/` (initdb wants an empty dir), with the server log and
 * the Unix socket next to it rather than inside PGDATA. Teardown is registered before initdb, and
 * the watchdog started before the server is, so that no moment exists where a Ctrl-C or a killed
 * process leaves a server or a dir behind.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { chownSync, existsSync, rmSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Binaries } from "./binaries.ts";
import { type Command, run, type RunResult, shellQuote, tail } from "./commands.ts";
import { asServerUser, type ServerUser, tempParent } from "./server_user.ts";
import { stopOnExit, type Stoppable } from "./stop_on_exit.ts";
import { startWatchdog } from "./watchdog.ts";

/** A cluster's temp dir, its server, and everything needed to tear them down, sync or async. */
export class Cluster implements Stoppable {
  /** The temp dir holding everything; removed by `stop()`. */
  readonly root: string;
  /** PGDATA. */
  readonly dataDir: string;
  /** The server log, shown when the server fails to start. */
  readonly logFile: string;
  readonly #bin: Binaries;
  readonly #user: ServerUser | undefined;
  readonly #unregister: () => void;
  readonly #killWatchdog: () => void;
  #stopping: Promise<void> | undefined;
  /** The initdb or pg_ctl still running, which a stop waits for before removing the dir. */
  #inFlight: Promise<unknown> = Promise.resolve();

  private constructor(
    root: string,
    bin: Binaries,
    user: ServerUser | undefined,
    handleSignals: boolean,
  ) {
    this.root = root;
    this.dataDir = join(root, "data");
    this.logFile = join(root, "log");
    this.#bin = bin;
    this.#user = user;
    this.#unregister = stopOnExit(this, handleSignals);
    const [cmd, args] = this.#stopCommand();
    this.#killWatchdog = startWatchdog(
      `[ -f ${shellQuote(this.#pidFile())} ] && ${
        [cmd, ...args].map(shellQuote).join(" ")
      } >/dev/null 2>&1\nrm -rf ${shellQuote(root)}`,
    );
  }

  /**
   * Makes the temp dir, owned by the server user, and registers its teardown.
   *
   * @param bin The binaries to run.
   * @param user The user to run them as (`undefined`: as ourselves).
   * @param handleSignals Whether SIGINT/SIGTERM/SIGHUP stop the cluster and exit.
   * @returns The cluster, not yet initialised.
   */
  static async create(
    bin: Binaries,
    user: ServerUser | undefined,
    handleSignals: boolean,
  ): Promise<Cluster> {
    const root = await mkdtemp(join(tempParent(user), "gue-pg-"));
    if (user) {
      // mkdtemp creates the dir 0700 and owned by root; the server user must own it to create
      // the cluster, the log and the socket in it. It is still empty, so chowning it alone is the
      // recursive chown.
      chownSync(root, user.uid, user.gid);
    }
    return new Cluster(root, bin, user, handleSignals);
  }

  /**
   * Runs initdb: superuser `postgres`, trust auth, UTF8, C locale.
   *
   * @throws {Error} With the tail of initdb's output when it fails.
   */
  async init(): Promise<void> {
    const init = await this.#run(
      this.#command(this.#bin.initdb, [
        "-D",
        this.dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "--no-sync",
        "-E",
        "UTF8",
        "--locale=C",
      ]),
    );
    if (init.code !== 0) {
      throw new Error(`initdb failed (${init.status}):\n${tail(init.output)}`);
    }
  }

  /**
   * Starts the server on `port` of 127.0.0.1 and waits until it accepts connections.
   *
   * @param port The port, from `freePort()`.
   * @param mayRetry Whether the caller will retry on another port if this one was taken.
   * @returns `true` once it runs; `false` when the port was taken and `mayRetry` (the log is then
   *   cleared, so the next attempt's errors stand alone).
   * @throws {Error} With pg_ctl's output and the server log when it fails otherwise.
   */
  async start(port: number, mayRetry: boolean): Promise<boolean> {
    const options = [
      `-p ${port}`,
      `-k ${shellQuote(this.root)}`,
      "-c listen_addresses=127.0.0.1",
      // Durability is pointless for a cluster that is deleted afterwards, and costs a lot of test
      // time on slow disks.
      "-c fsync=off",
      "-c synchronous_commit=off",
      "-c full_page_writes=off",
      // Worker/concurrency tests open many connections at once.
      "-c max_connections=300",
      "-c shared_buffers=128MB",
    ].join(" ");
    const start = await this.#run(
      this.#command(this.#bin.pgCtl, [
        "-D",
        this.dataDir,
        "-w",
        "-o",
        options,
        "-l",
        this.logFile,
        "start",
      ]),
    );
    if (start.code === 0) return true;
    const serverLog = await readFile(this.logFile, "utf8").catch(() => "");
    if (mayRetry && /could not bind|address already in use/i.test(serverLog)) {
      if (this.#serverMayRun()) await this.#run(this.#stopCommand());
      // pg_ctl -l appends; start the next attempt with a clean log.
      rmSync(this.logFile, { force: true });
      return false;
    }
    throw new Error(
      `pg_ctl start failed (${start.status}):\n${tail(start.output)}\n` +
        `server log (${this.logFile}):\n${tail(serverLog)}`,
    );
  }

  /**
   * Stops the server (immediate shutdown: the data is thrown away, so there is nothing to flush)
   * and removes the temp dir.
   *
   * @returns The first call's promise, on every call.
   */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#killWatchdog();
      try {
        // A signal during initdb or pg_ctl start (sent to us alone, not to our process group)
        // leaves them running: removing the dir under them would race with the files they write,
        // and the server pg_ctl is starting may not have written the pid file checked below yet.
        await this.#inFlight;
        if (this.#serverMayRun()) await run(this.#stopCommand(), this.root);
      } finally {
        rmSync(this.root, { recursive: true, force: true });
        this.#unregister();
      }
    })();
    return this.#stopping;
  }

  /** Synchronous variant of `stop()` for the `exit` event, where async work never completes. */
  stopSync(): void {
    this.#killWatchdog();
    try {
      if (this.#serverMayRun()) {
        const [cmd, args] = this.#stopCommand();
        spawnSync(cmd, args, { cwd: this.root, stdio: "ignore", timeout: 30_000 });
      }
    } finally {
      rmSync(this.root, { recursive: true, force: true });
      this.#unregister();
    }
  }

  #run(command: Command): Promise<RunResult> {
    const result = run(command, this.root);
    this.#inFlight = result;
    return result;
  }

  #command(exe: string, args: string[]): Command {
    return asServerUser(this.#user, exe, args);
  }

  #stopCommand(): Command {
    return this.#command(this.#bin.pgCtl, ["-D", this.dataDir, "-m", "immediate", "-w", "stop"]);
  }

  #pidFile(): string {
    return join(this.dataDir, "postmaster.pid");
  }

  #serverMayRun(): boolean {
    return existsSync(this.#pidFile());
  }
}
