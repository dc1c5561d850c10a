/**
 * A pool of workers on one queue: `size` jobs worked at once, each worker with its index.
 *
 * @module
 */
import { requireCapability } from "./capabilities.ts";
import type { Client } from "./client.ts";
import { type CronJob, CronScheduler } from "./cron.ts";
import { randomStringId } from "./id.ts";
import { errorLogger, type Logger, safeLog, withFields } from "./logger.ts";
import { PollFailureLog } from "./poll_failure_log.ts";
import { runLock, type RunState } from "./run_lock.ts";
import {
  checkWorkMap,
  NEVER_ABORTED,
  resolveWorkerOptions,
  runIndexed,
  sharedPollFailureLog,
  Worker,
} from "./worker.ts";
import type { WorkerOptions, WorkMap } from "./worker.ts";

/** Options of {@linkcode WorkerPool}: the workers' options, and periodic jobs. */
export interface WorkerPoolOptions extends WorkerOptions {
  /**
   * Periodic jobs declared on the pool: while `run()` runs, a {@linkcode CronScheduler} enqueues
   * them (each tick once across every process that declares the same `name`), and stops with
   * the pool; `run()` resolves once it has stopped too. A job without a `queue` goes to the
   * pool's queue, so the pool works it. Bad entries throw at construction, as the scheduler's
   * constructor does. Cron logs go to the pool's logger.
   *
   * @default {[]}
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { Client, WorkerPool } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * const pool = new WorkerPool(client, {
   *   Report: (job) => console.log("report for", job.json<{ day: string }>().day),
   * }, 2, {
   *   queue: "reports",
   *   cron: [{
   *     name: "nightly-report",
   *     schedule: "0 3 * * *",
   *     timezone: "Europe/Berlin",
   *     job: { type: "Report", args: (tick: Date) => ({ day: tick.toISOString().slice(0, 10) }) },
   *   }],
   * });
   * const stop = new AbortController();
   * Deno.addSignalListener("SIGTERM", () => stop.abort());
   * await pool.run(stop.signal);
   * await sql.end();
   * ```
   */
  cron?: readonly CronJob[];
}

/**
 * Runs `size` {@linkcode Worker}s on one queue with the same handlers and options. Worker `i` is
 * named `<pool id>/worker-<i>` and its handlers see `ctx.workerIndex === i`. Give the client's
 * connection pool more connections than `size`: each running job holds one (in batch mode each
 * worker's batch holds one, and a pool runs up to `size` × `batch.size` jobs). A pool of more than
 * one worker needs an adapter that runs transactions concurrently (not PGlite); the constructor
 * refuses one that does not. Failed polls are logged as one worker's would be: the first at once,
 * then at most one line per 30 s for the whole pool.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Client, WorkerPool } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * const pool = new WorkerPool(client, {
 *   PrintName: (job, ctx) => console.log(ctx.workerIndex, job.json<{ name: string }>().name),
 * }, 4, { queue: "names", pollInterval: 1000 });
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => stop.abort());
 * await pool.run(stop.signal);
 * await sql.end();
 * ```
 */
export class WorkerPool {
  /** This pool's id (`worker-pool-id` in logs). */
  readonly id: string;
  /** The workers, index `i` at position `i`. */
  readonly workers: readonly Worker[];
  readonly #logger: Logger;
  readonly #state: RunState = { running: false };
  readonly #cron: CronScheduler | undefined;

  /**
   * Makes `size` workers; they poll only once `run()` is called.
   *
   * @param client The client to lock jobs with.
   * @param workMap Handlers by job type.
   * @param size How many workers (jobs at once); an integer ≥ 1.
   * @param options The workers' options; `id` names the pool; `cron` declares periodic jobs.
   * @throws {RangeError} When `size` is not an integer ≥ 1.
   * @throws {TypeError} When `size` > 1 and the client's adapter runs one transaction at a time.
   * @throws {TypeError | RangeError} For a bad `cron` entry, naming it (`cron[i]…`).
   */
  constructor(
    client: Client,
    workMap: WorkMap,
    size: number,
    { cron, ...options }: WorkerPoolOptions = {},
  ) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`WorkerPool: size must be an integer >= 1, got ${size}`);
    }
    resolveWorkerOptions(options, "WorkerPool");
    checkWorkMap(workMap, "WorkerPool");
    if (size > 1) {
      requireCapability(
        client.pool,
        "concurrentTransactions",
        `WorkerPool: a pool of ${size} workers`,
        "use a WorkerPool of size 1 or one Worker, or a server-backed adapter such as postgresjs",
      );
    }
    this.id = options.id ?? randomStringId();
    this.#logger = withFields(options.logger ?? errorLogger, { "worker-pool-id": this.id });
    const pollFailures = new PollFailureLog();
    const workers: Worker[] = [];
    for (let i = 0; i < size; i++) {
      workers.push(
        new Worker(client, workMap, {
          ...options,
          id: `${this.id}/worker-${i}`,
          logger: this.#logger,
          [sharedPollFailureLog]: pollFailures,
        } as WorkerOptions),
      );
    }
    this.workers = workers;
    if (cron !== undefined && !Array.isArray(cron)) {
      throw new TypeError("WorkerPool: cron must be an array of periodic jobs");
    }
    const queue = options.queue ?? "";
    this.#cron = cron?.length
      ? new CronScheduler(
        client,
        cron.map((c) =>
          c !== null && typeof c === "object" && c.job !== null && typeof c.job === "object" &&
            c.job.queue === undefined
            ? { ...c, job: { ...c.job, queue } }
            : c
        ),
        { logger: this.#logger },
      )
      : undefined;
  }

  /**
   * Runs every worker, and the `cron` scheduler if any, until `signal` aborts; resolves when all
   * have stopped.
   *
   * @param signal Stops the pool.
   * @throws {Error} When this pool is already running.
   */
  run(signal: AbortSignal = NEVER_ABORTED): Promise<void> {
    return runLock(this.#state, this.id, async () => {
      // Like gue's errgroup: the first failure stops every worker; return once all have stopped.
      const group = new AbortController();
      const follow = () => group.abort(signal.reason);
      if (signal.aborted) follow();
      else signal.addEventListener("abort", follow, { once: true });
      try {
        const stopAll = (err: unknown) => {
          group.abort(err);
          throw err;
        };
        const results = await Promise.allSettled([
          ...this.workers.map((w, i) => w[runIndexed](group.signal, i).catch(stopAll)),
          ...(this.#cron ? [this.#cron.run(group.signal).catch(stopAll)] : []),
        ]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
        if (failed) throw failed.reason;
      } finally {
        signal.removeEventListener("abort", follow);
      }
      safeLog(this.#logger, "info", "Worker pool finished");
    });
  }

  /**
   * Polls once with the first worker and works the job found.
   *
   * @param signal Aborts the handler.
   * @returns Whether a job was locked.
   */
  workOne(signal: AbortSignal = NEVER_ABORTED): Promise<boolean> {
    return this.workers[0].workOne(signal);
  }
}
