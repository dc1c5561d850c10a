/**
 * The worker: a loop that locks one job, runs its handler while the row stays locked, then
 * deletes the job (success) or records the failure (error), and commits. It drains back to back;
 * after a poll that found nothing or failed it waits until jobs of its queue are enqueued (when
 * the client listens), its queue's next job is due, or `pollInterval` passes.
 *
 * @module
 */
import { type BatchOptions, BatchRunner, resolveBatchOptions } from "./batch_worker.ts";
import { boundedCall, DriverCallTimeout } from "./bounded_call.ts";
import { cancelWatchOf } from "./cancel_watch.ts";
import { chainedPoll, chainPoll, type Client, clientWakeup, type Poll, pollJob } from "./client.ts";
import { errorText, JobNotFoundError, UnknownJobTypeError } from "./errors.ts";
import {
  armHandler,
  bounded,
  HANDLER_GRACE_MS,
  NEVER_ABORTED,
  recoverPanic,
  runArmed,
  runHooks,
  TIMED_OUT,
} from "./handler_run.ts";
import { randomStringId } from "./id.ts";
import {
  deleteAndCommit,
  guardWrites,
  type Job,
  keepWrites,
  rollbackJob,
  undoWrites,
} from "./job.ts";
import {
  errorLogger,
  type LogFields,
  type Logger,
  logsBelowError,
  safeLog,
  withFields,
} from "./logger.ts";
import { PollFailureLog } from "./poll_failure_log.ts";
import { hintPreparedStatements } from "./prepared_statement_hint.ts";
import type { NextBegin } from "./pipelining.ts";
import { runLock, type RunState } from "./run_lock.ts";
import { checkMeter, checkTracer, type MeterLike, type TracerLike } from "./telemetry/options.ts";
import type { Wakeup } from "./wakeup.ts";
import {
  type FailureRecorder,
  type PollRecorder,
  type WorkerRecorder,
  workerRecorder,
} from "./telemetry/worker_recorder.ts";

export { HANDLER_GRACE_MS, NEVER_ABORTED };

/** `ctx.workerIndex` outside a pool. */
export const WORKER_IDX_UNKNOWN: -1 = -1;

/** What a handler and a hook get besides the job. */
export interface WorkContext {
  /**
   * Aborts when the handler should stop: when `run()` is aborted (unless `gracefulShutdown`),
   * or when `jobTTL` passes. Hooks get the run's signal.
   */
  signal: AbortSignal;
  /** The worker's index in its pool (0…size−1), or {@linkcode WORKER_IDX_UNKNOWN}. */
  workerIndex: number;
  /** The worker's id. */
  workerId: string;
}

/**
 * Works one job. Return (or resolve) to delete it; throw (or reject) to record the failure and
 * retry it after the client's backoff — or throw `discardJob()` / `rescheduleJobAt()` /
 * `rescheduleJobIn()` for those outcomes. While it runs, `job.tx()` is the job's open
 * transaction: what the handler writes in it commits when the handler succeeds, and is rolled
 * back (to a savepoint taken at the handler's first `job.tx()`) when it fails, so only the
 * failure is recorded, with the row still locked.
 */
export type WorkFunc = (job: Job, ctx: WorkContext) => void | Promise<void>;

/** Handlers by job type. */
export type WorkMap = Record<string, WorkFunc>;

/**
 * Called at a point of a job's life (see {@linkcode WorkerHooks}). `job` is `null` and `err` the
 * lock error for a failed poll. Hooks run one after another, in order, and are awaited.
 */
export type HookFunc = (job: Job | null, err: unknown, ctx: WorkContext) => void | Promise<void>;

/**
 * Hook lists, each run in order. Where the job's transaction is still open, `job.tx()` runs SQL
 * in it; where it has ended, `job.tx()` throws. In batch mode hooks run per job as well, and
 * `job.tx()` always throws (see `WorkerOptions.batch`).
 */
export interface WorkerHooks {
  /**
   * After each poll that locked a job (`job`, `err` null) or failed (`null`, the error); not after
   * an empty poll. The job's transaction is open.
   */
  jobLocked?: HookFunc[];
  /**
   * After the handler returned (`err` null) or threw (`err` what it threw), before the job is
   * deleted or its failure recorded: `job.tx()` is open, so SQL run in it commits with the job.
   * A hook that throws turns the job into a failed one.
   */
  jobDone?: HookFunc[];
  /**
   * When the final commit failed (`err` the commit error, a `DatabaseError`); the transaction is
   * gone and `job.tx()` throws.
   */
  jobUndone?: HookFunc[];
  /**
   * After a job without a handler was rescheduled and committed (`err` its
   * `UnknownJobTypeError`); the transaction is committed and `job.tx()` throws.
   */
  unknownJobType?: HookFunc[];
  /**
   * After a job was moved to the failed jobs and that committed (`err` its last failure;
   * `job.failReason` says why: attempts exhausted, discarded, cancelled, invalid args). The
   * transaction is committed and `job.tx()` throws. Not called for failures that will be retried.
   */
  jobFailed?: HookFunc[];
}

/** Which job a poll takes first. */
export type PollStrategy = "OrderByPriority" | "OrderByRunAtPriority";

/** Options of {@linkcode Worker} (and, the same, of `WorkerPool`). */
export interface WorkerOptions {
  /** The queue to work. @default {""} */
  queue?: string;
  /** Sleep after a poll that found nothing or failed, in ms. @default {5000} */
  pollInterval?: number;
  /**
   * `"OrderByPriority"`: lowest priority number first, oldest first among equals.
   * `"OrderByRunAtPriority"`: earliest `runAt` first, then priority.
   * @default {"OrderByPriority"}
   */
  pollStrategy?: PollStrategy;
  /** Names the worker in logs (`worker-id`). @default a random 6-hex-digit id */
  id?: string;
  /**
   * Where to log. `console` and `jsonLogger()` write every level; `noopLogger` nothing. Failed
   * polls are logged at once, then at most once per 30 s while they keep failing, with the
   * number that failed since (`failed-polls`), then once (info) when polling recovers.
   * @default {errorLogger} errors only, to `console.error`
   */
  logger?: Logger;
  /** Hook lists. */
  hooks?: WorkerHooks;
  /**
   * Aborts the handler's signal after this many ms (0: never). A handler that has not returned
   * 2 s after that is abandoned, whether or not it honours its signal: its writes through
   * `job.tx()` are rolled back and the TTL is recorded as the job's failure, so the worker and
   * the row are free again.
   * @default {0}
   */
  jobTTL?: number;
  /**
   * When true, aborting `run()` lets the running handler finish and commits its result, then
   * stops. When false, the handler's signal aborts with the run, and a handler that then throws
   * leaves its job untouched (rolled back, error not counted) for the next worker; one that
   * ignores its signal is abandoned 2 s later, the same way. Database calls still in hand are
   * given up 4 s after the abort, so `run()` resolves within 4 s of it. With `gracefulShutdown`
   * and no `jobTTL`, `run()` waits for the handler however long it takes.
   * @default {false}
   */
  gracefulShutdown?: boolean;
  /** Handler for job types missing from the work map; without it such jobs are retried with backoff. */
  unknownJobWorkFunc?: WorkFunc;
  /**
   * OpenTelemetry spans: `Worker.WorkOne` per locked job (attributes `job-id`, `job-queue`,
   * `job-type`; the handler and hooks run with it active, so their spans nest under it), and
   * `Worker.recoverPanic` when a hook throws. Pass `tracerProvider.getTracer("gue")`.
   * @default none: no spans
   */
  tracer?: TracerLike;
  /**
   * OpenTelemetry metrics: `gue_worker_jobs_worked` and `gue_worker_jobs_duration`. Pass
   * `meterProvider.getMeter("gue")`. @default none: no metrics
   */
  meter?: MeterLike;
  /**
   * When true, every poll produces a `Worker.WorkOne` span, also those that found no job; when
   * false, only polls that locked a job or failed do.
   * @default {false}
   */
  spanWorkOneNoJob?: boolean;
  /**
   * Batch mode: lock up to `size` due jobs in one transaction, run their handlers at once (at
   * most `concurrency`), then delete the finished jobs and record the failures in one statement
   * and commit once. Outcomes, hooks, telemetry, `jobTTL`, cancellation and shutdown stay per
   * job. What changes: a job's `job.tx()` (and `delete()`, `error()`, `done()`) throws, since
   * the transaction is the whole batch's; the batch commits when its slowest handler has ended;
   * a crash or a failed commit leaves every job of the batch as it was, to run again
   * (at-least-once, as always), and a failed commit runs the jobUndone hooks of each. Jobs of
   * the batch not started when the worker stops are left as they were. `workOne()` works one
   * batch. `size` is an integer from 1 to 1000; `concurrency` from 1 to `size`.
   * @default none: one job per transaction
   */
  batch?: BatchOptions;
}

/** Checks and fills in options shared by Worker and WorkerPool. */
export function resolveWorkerOptions(options: WorkerOptions, owner: string) {
  const pollInterval = options.pollInterval ?? 5000;
  if (typeof pollInterval !== "number" || !(pollInterval > 0) || !Number.isFinite(pollInterval)) {
    throw new RangeError(
      `${owner}: pollInterval must be a positive number of ms, got ${pollInterval}`,
    );
  }
  const pollStrategy = options.pollStrategy ?? "OrderByPriority";
  if (pollStrategy !== "OrderByPriority" && pollStrategy !== "OrderByRunAtPriority") {
    throw new TypeError(
      `${owner}: pollStrategy must be "OrderByPriority" or "OrderByRunAtPriority", got ${
        JSON.stringify(pollStrategy)
      }`,
    );
  }
  const jobTTL = options.jobTTL ?? 0;
  if (typeof jobTTL !== "number" || !(jobTTL >= 0) || !Number.isFinite(jobTTL)) {
    throw new RangeError(`${owner}: jobTTL must be a number of ms >= 0, got ${jobTTL}`);
  }
  const queue = options.queue ?? "";
  if (typeof queue !== "string") throw new TypeError(`${owner}: queue must be a string`);
  const hooks = options.hooks ?? {};
  for (
    const key of ["jobLocked", "jobDone", "jobUndone", "unknownJobType", "jobFailed"] as const
  ) {
    const list = hooks[key];
    if (list !== undefined && (!Array.isArray(list) || list.some((h) => typeof h !== "function"))) {
      throw new TypeError(`${owner}: hooks.${key} must be an array of functions`);
    }
  }
  if (
    options.unknownJobWorkFunc !== undefined && typeof options.unknownJobWorkFunc !== "function"
  ) {
    throw new TypeError(`${owner}: unknownJobWorkFunc must be a function`);
  }
  const spanWorkOneNoJob = options.spanWorkOneNoJob ?? false;
  if (typeof spanWorkOneNoJob !== "boolean") {
    throw new TypeError(`${owner}: spanWorkOneNoJob must be a boolean`);
  }
  return {
    queue,
    pollInterval,
    pollStrategy,
    jobTTL,
    hooks: {
      jobLocked: hooks.jobLocked ?? [],
      jobDone: hooks.jobDone ?? [],
      jobUndone: hooks.jobUndone ?? [],
      unknownJobType: hooks.unknownJobType ?? [],
      jobFailed: hooks.jobFailed ?? [],
    },
    gracefulShutdown: options.gracefulShutdown ?? false,
    unknownJobWorkFunc: options.unknownJobWorkFunc,
    tracer: checkTracer(options.tracer, owner),
    meter: checkMeter(options.meter, owner),
    spanWorkOneNoJob,
    batch: resolveBatchOptions(options.batch, owner),
  };
}

/** Checks a work map: an object of functions. */
export function checkWorkMap(workMap: WorkMap, owner: string): WorkMap {
  if (workMap === null || typeof workMap !== "object") {
    throw new TypeError(`${owner}: workMap must be an object of job type → handler`);
  }
  for (const [type, fn] of Object.entries(workMap)) {
    if (typeof fn !== "function") {
      throw new TypeError(`${owner}: workMap[${JSON.stringify(type)}] must be a function`);
    }
  }
  return workMap;
}

/** Used by WorkerPool to run a worker with its index; not part of the public API. */
export const runIndexed: unique symbol = Symbol("gue.runIndexed");

/** Used by WorkerPool to give its workers one failed-poll log; not part of the public API. */
export const sharedPollFailureLog: unique symbol = Symbol("gue.sharedPollFailureLog");

/** The options a WorkerPool passes to its workers. */
interface PoolWorkerOptions extends WorkerOptions {
  [sharedPollFailureLog]?: PollFailureLog;
}

/**
 * What the worker says when a job's outcome cannot be stored: gue's span text and log message
 * for each place it can happen.
 */
interface EndReport {
  /** Recorded on the span, with the database's error after `: `. */
  readonly span: string;
  /** Logged (error), with the database's error under `error`. */
  readonly log: string;
}

/** Ending a job by committing what its handler did, rather than by recording a failure. */
const COMMIT: unique symbol = Symbol("commit");

const END_DONE: EndReport = {
  span: "failed to mark job as done",
  log: "Failed to mark job as done",
};
const END_UNKNOWN_TYPE: EndReport = {
  span: "failed to mark job as error",
  log: "Got an error on setting an error to unknown job",
};
const END_ERRORED: EndReport = {
  span: "failed to mark job as error",
  log: "Got an error on setting an error to an errored job",
};
const END_PANICKED: EndReport = {
  span: "failed to mark panicked job as error",
  log: "Got an error on setting an error to a panicked job",
};
const END_PANICKED_AGAIN: EndReport = {
  span: "failed to mark panicked job (hook job done) as error",
  log: "Got an error on setting an error to a panicked job (hook job done)",
};

/**
 * Works the jobs of one queue, one at a time.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Client, Worker } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * const worker = new Worker(client, {
 *   SendEmail: async (job, { signal }) => {
 *     const { to } = job.json<{ to: string }>();
 *     await fetch(`https://mail.example/send?to=${to}`, { signal });
 *   },
 * }, { queue: "emails", pollInterval: 1000 });
 * const stop = new AbortController();
 * const running = worker.run(stop.signal);
 * // later:
 * stop.abort();
 * await running;
 * await sql.end();
 * ```
 */
export class Worker {
  /** This worker's id (`worker-id` in logs). */
  readonly id: string;
  /** The queue it works. */
  readonly queue: string;
  /** Sleep after an empty or failed poll, in ms. */
  readonly pollInterval: number;
  /** Which job a poll takes first. */
  readonly pollStrategy: PollStrategy;
  readonly #client: Client;
  readonly #workMap: WorkMap;
  readonly #options: ReturnType<typeof resolveWorkerOptions>;
  readonly #logger: Logger;
  readonly #logsDebug: boolean;
  readonly #state: RunState = { running: false };
  /** What the last poll said about the queue's next job, for the wait after it. */
  #nextRunAt: Date | null = null;
  readonly #recorder: WorkerRecorder;
  readonly #pollFailures: PollFailureLog;
  /** Batch mode's loop, when the `batch` option is set. */
  readonly #batch: BatchRunner | undefined;
  /** The job in hand, once its move to the failed jobs committed, with its last failure. */
  #deadLetter: { job: Job; err: unknown } | undefined;
  /**
   * While `run()` loops: its wake-up registry; a finished job's commit then carries the next
   * poll (one round trip per job while the worker keeps finding jobs).
   */
  #chainWakeup: Wakeup | undefined;
  /** The next poll, sent with the last job's commit; taken by the next `#lockNext`. */
  #prefetched: Promise<Poll | null> | undefined;

  /**
   * Makes a worker; it polls only once `run()` or `workOne()` is called.
   *
   * @param client The client to lock jobs with (its backoff applies to failures).
   * @param workMap Handlers by job type.
   * @param options Queue, poll interval and strategy, hooks, TTL, shutdown behaviour, telemetry.
   */
  constructor(client: Client, workMap: WorkMap, options: WorkerOptions = {}) {
    this.#options = resolveWorkerOptions(options, "Worker");
    this.#workMap = checkWorkMap(workMap, "Worker");
    this.#client = client;
    this.id = options.id ?? randomStringId();
    this.queue = this.#options.queue;
    this.pollInterval = this.#options.pollInterval;
    this.pollStrategy = this.#options.pollStrategy;
    this.#logger = withFields(options.logger ?? errorLogger, { "worker-id": this.id });
    this.#logsDebug = logsBelowError(this.#logger);
    this.#recorder = workerRecorder(this.#options);
    this.#pollFailures = (options as PoolWorkerOptions)[sharedPollFailureLog] ??
      new PollFailureLog();
    this.#batch = this.#options.batch === undefined ? undefined : new BatchRunner({
      id: this.id,
      client,
      workMap: this.#workMap,
      options: this.#options,
      batch: this.#options.batch,
      logger: this.#logger,
      logsDebug: this.#logsDebug,
      recorder: this.#recorder,
      pollFailures: this.#pollFailures,
    });
  }

  /**
   * Works jobs until `signal` aborts. Resolves once the worker has stopped (after the job in
   * hand is finished or rolled back).
   *
   * @param signal Stops the worker.
   * @throws {Error} When this worker is already running.
   */
  run(signal: AbortSignal = NEVER_ABORTED): Promise<void> {
    return this[runIndexed](signal, WORKER_IDX_UNKNOWN);
  }

  /** Runs the loop with a pool index; used by WorkerPool. */
  [runIndexed](signal: AbortSignal, index: number): Promise<void> {
    return runLock(this.#state, this.id, async () => {
      // Idle, the worker waits for a notification of new jobs, its queue's next runAt, or
      // pollInterval, whichever comes first (wakeup.ts).
      const wakeup = clientWakeup(this.#client);
      const detach = wakeup.attach();
      this.#chainWakeup = this.#batch === undefined ? wakeup : undefined;
      try {
        while (!signal.aborted) {
          // A poll sent with the last commit told the wake-up registry when it was sent.
          if (this.#prefetched === undefined) wakeup.polling(this.queue);
          this.#nextRunAt = null;
          const didWork = await this.#workOne(signal, index);
          if (!didWork) await wakeup.wait(this.queue, this.pollInterval, this.#nextRunAt, signal);
        }
      } finally {
        this.#chainWakeup = undefined;
        // Stopped with a poll sent with the last commit: leave its job for the next worker.
        const prefetched = this.#prefetched;
        this.#prefetched = undefined;
        if (prefetched !== undefined) await this.#letGo(prefetched, signal);
        await detach();
      }
      safeLog(this.#logger, "info", "Worker finished");
    });
  }

  /**
   * Polls once and works the job found, if any.
   *
   * @param signal Aborts the handler (see `gracefulShutdown`).
   * @returns Whether a job was locked (worked, failed, or rolled back).
   */
  workOne(signal: AbortSignal = NEVER_ABORTED): Promise<boolean> {
    return this.#workOne(signal, WORKER_IDX_UNKNOWN);
  }

  async #workOne(signal: AbortSignal, index: number): Promise<boolean> {
    if (this.#batch !== undefined) {
      const didWork = await this.#batch.work(signal, index);
      this.#nextRunAt = this.#batch.nextRunAt;
      return didWork;
    }
    const ctx: WorkContext = { signal, workerIndex: index, workerId: this.id };
    // One recorder per poll; without tracer and meter a shared one that does nothing.
    const rec = this.#recorder.poll();
    try {
      let job: Job | null;
      try {
        job = await rec.within(this.#lockNext, this, signal, undefined, undefined);
      } catch (err) {
        // A poll cut short by the stop is no failure; one that hung is (it was given up).
        if (signal.aborted && err instanceof DriverCallTimeout) return false;
        rec.lockFailed(err);
        this.#pollFailures.failed(this.#logger, err);
        hintPreparedStatements(this.#logger, err);
        await rec.within(this.#lockFailedHooks, this, err, ctx, undefined);
        return false;
      }
      this.#pollFailures.succeeded(this.#logger);
      if (job === null) return false;
      rec.locked(job);
      await rec.within(this.#workLocked, this, job, ctx, rec);
      return true;
    } finally {
      // Unlike gue, every span started is ended, whatever happened.
      rec.finish();
    }
  }

  async #lockNext(signal: AbortSignal): Promise<Job | null> {
    const prefetched = this.#prefetched;
    if (prefetched !== undefined) {
      this.#prefetched = undefined;
      const poll = await boundedCall(prefetched, "the poll", signal, letGoLate);
      // null: its transaction could not be opened (the connection died); poll as usual.
      if (poll !== null) {
        this.#nextRunAt = poll.nextRunAt;
        return poll.job;
      }
    }
    const poll = await boundedCall(
      pollJob(this.#client, this.queue, this.pollStrategy !== "OrderByPriority"),
      "the poll",
      signal,
      // The poll was given up, then locked a job after all: let it go for the next poll.
      (late) => void late.job?.[rollbackJob]().catch(() => {}),
    );
    this.#nextRunAt = poll.nextRunAt;
    return poll.job;
  }

  /**
   * Lets a poll sent with a commit go, unworked: its job, if any, is rolled back for the next
   * poll. Bounded as the poll is; failures leave the row to the server.
   */
  async #letGo(prefetched: Promise<Poll | null>, signal: AbortSignal): Promise<void> {
    try {
      const poll = await boundedCall(prefetched, "the poll", signal, letGoLate);
      if (poll?.job) await boundedCall(poll.job[rollbackJob](), "the job's rollback", signal);
    } catch {
      // A failed poll locked nothing; a hung one is let go when it settles (letGoLate).
    }
  }

  /** Logs a line about `job`, with gue's `job-id` and `job-type` keys. */
  #logJob(job: Job, level: "debug" | "info" | "error", msg: string, fields?: LogFields): void {
    safeLog(this.#logger, level, msg, { "job-id": job.id, "job-type": job.type, ...fields });
  }

  /** Works a locked job to the end: hooks, handler, outcome, commit. */
  async #workLocked(job: Job, ctx: WorkContext, rec: PollRecorder): Promise<void> {
    try {
      await this.#process(job, ctx, rec);
    } catch (panic) {
      await this.#recoverPanic(job, panic, ctx, rec);
    }
    // After a failure was recorded the job is done already, and this does nothing.
    await this.#end(job, COMMIT, END_DONE, rec, ctx);
    const dead = this.#deadLetter;
    if (dead !== undefined) {
      this.#deadLetter = undefined;
      rec.deadLettered(dead.job.failReason!);
      this.#logJob(job, "info", "Job moved to the failed jobs", {
        "fail-reason": dead.job.failReason,
        "job-errors": dead.job.errorCount + 1,
      });
      await this.#runHooksLogged(this.#options.hooks.jobFailed, dead.job, dead.err, ctx);
    }
  }

  /** Hooks, handler and outcome. Throws only when a jobLocked/jobDone hook throws (gue: a panic). */
  async #process(job: Job, ctx: WorkContext, rec: PollRecorder): Promise<void> {
    const { hooks, unknownJobWorkFunc, gracefulShutdown, jobTTL } = this.#options;
    await runHooks(hooks.jobLocked, job, null, ctx);

    const handler = Object.hasOwn(this.#workMap, job.type)
      ? this.#workMap[job.type]
      : unknownJobWorkFunc;
    if (handler === undefined) {
      const errUnknown = new UnknownJobTypeError(this.id, job.type);
      rec.worked(false);
      rec.fail(`job with unknown type: ${JSON.stringify(job.type)}`);
      this.#logJob(job, "error", "Got a job with unknown type");
      await this.#end(job, errUnknown, END_UNKNOWN_TYPE, rec, ctx);
      await this.#runHooksLogged(hooks.unknownJobType, job, errUnknown, ctx);
      return;
    }

    // The handler's signal: the run's (unless graceful), its TTL, its cancellation.
    const armed = armHandler(
      job.id,
      ctx.signal,
      gracefulShutdown,
      jobTTL,
      cancelWatchOf(this.#client),
    );
    const cancel = armed.cancel;

    job[guardWrites]();
    const run = await runArmed(handler, job, ctx, armed);
    let { failed, failure } = run;
    const abandoned = run.abandoned;

    const interrupted = !gracefulShutdown && ctx.signal.aborted;
    if (abandoned && interrupted) {
      // Stopping, and the handler ignores its signal: the worker stops all the same, and the job
      // is left as it was for the next worker (its transaction rolled back, error not counted).
      rec.interrupted();
      this.#logJob(job, "error", "Job handler ignored the shutdown; job rolled back", {
        error: `the handler did not return within ${HANDLER_GRACE_MS} ms of its signal's abort`,
      });
      await bounded(job[rollbackJob]()).catch(() => {}); // A dead connection rolled back already.
      return;
    }
    if (abandoned) {
      failed = true;
      failure = new Error(
        `job TTL of ${jobTTL} ms exceeded, and the handler did not return within ` +
          `${HANDLER_GRACE_MS} ms of its signal's abort: its writes are rolled back`,
      );
    }
    if (cancel?.signal.aborted) {
      // Cancelled: fails as such (dead-lettered, not retried) whatever the handler did.
      failed = true;
      failure = cancel.signal.reason;
    }
    if (failed && !abandoned && interrupted) {
      // Interrupted by shutdown: leave the job as it was for the next worker, error not counted.
      rec.interrupted();
      this.#logJob(job, "info", "Job interrupted by shutdown, rolled back", { error: failure });
      // A rollback that fails or hangs leaves the row to the server (a dead connection's
      // transaction is rolled back there).
      await boundedCall(job[rollbackJob](), "the job's rollback", ctx.signal).catch(() => {});
      return;
    }
    if (failed) {
      rec.handlerFailed(failure);
      this.#logJob(job, "error", "Job failed", {
        error: failure,
        "job-errors": job.errorCount + 1,
      });
      // Undo what the handler wrote through job.tx() (a savepoint), keeping the row lock, so
      // only the failure is recorded, in the same transaction. When that transaction is gone,
      // #end records the failure apart.
      // A rejection means the transaction is gone, which #end handles.
      const undone = await bounded(job[undoWrites]()).catch(() => undefined);
      if (undone === TIMED_OUT) {
        // The handler still holds the connection (stuck in a statement): give the transaction
        // up and record the failure in a new one, once the server lets go of the row.
        void job[rollbackJob]().catch(() => {});
        await this.#recordApart(job, failure, this.#stopSignal(ctx));
        return;
      }
      await runHooks(hooks.jobDone, job, failure, ctx);
      await this.#end(job, failure, END_ERRORED, rec, ctx, { "job-error": errorText(failure) });
      return;
    }
    job[keepWrites]();
    await runHooks(hooks.jobDone, job, null, ctx);
    // The DELETE goes with the COMMIT: one round trip where the adapter pipelines. A failure of
    // either is reported as job.delete() and job.done() report theirs.
    // While run() loops and is not stopping, the next poll goes with them (one write).
    const chainWakeup = this.#chainWakeup;
    let next: NextBegin | undefined;
    if (chainWakeup !== undefined && !ctx.signal.aborted) {
      next = chainPoll(this.#client, this.queue, this.pollStrategy !== "OrderByPriority");
      chainWakeup.polling(this.queue);
    }
    let ended: Awaited<ReturnType<Job[typeof deleteAndCommit]>>;
    let deleted = true;
    try {
      ended = await boundedCall(
        job[deleteAndCommit](next),
        "the job's commit",
        this.#stopSignal(ctx),
      );
      if (next?.sent !== undefined) {
        const poll = chainedPoll(this.#client, next, this.pollStrategy !== "OrderByPriority");
        // Not committed: the job's failure is recorded apart first, with the poll's lock (which
        // may be this very job, unlocked by the rollback) let go, so the job backs off.
        if (ended !== undefined) await this.#letGo(poll, this.#stopSignal(ctx));
        else this.#prefetched = poll;
      }
    } catch (err) {
      if (next !== undefined) {
        // Given up: a poll sent with the commit is let go when it settles.
        next.cancelled = true;
        if (next.sent !== undefined) {
          const poll = chainedPoll(this.#client, next, this.pollStrategy !== "OrderByPriority");
          void this.#letGo(poll, NEVER_ABORTED);
        }
      }
      // Given up, or the handler ended the job itself: #workLocked's job.done() sees to the rest.
      deleted = false;
      rec.fail("failed to delete finished job", err);
      this.#logJob(job, "error", "Got an error on deleting a job", { error: err });
    }
    if (ended?.failed === "delete") {
      deleted = false;
      rec.fail("failed to delete finished job", ended.error);
      this.#logJob(job, "error", "Got an error on deleting a job", { error: ended.error });
    }
    rec.worked(deleted);
    if (this.#logsDebug) this.#logJob(job, "debug", "Job finished");
    // Not committed (the DELETE rolled back with the transaction, or the COMMIT failed).
    if (ended !== undefined) await this.#endFailed(job, COMMIT, END_DONE, rec, ctx, ended.error);
  }

  /** Runs the jobLocked hooks after a failed poll; a method, so a span runs it without a closure. */
  #lockFailedHooks(err: unknown, ctx: WorkContext): Promise<void> {
    return this.#runHooksLogged(this.#options.hooks.jobLocked, null, err, ctx);
  }

  /** A jobLocked/jobDone hook threw: fail the job with it, as gue does for a panic. */
  async #recoverPanic(
    job: Job,
    panic: unknown,
    ctx: WorkContext,
    rec: PollRecorder,
  ): Promise<void> {
    // Spans as gue's: Worker.recoverPanic under Worker.WorkOne, and Worker.recoverPanicRecovery
    // under that when a jobDone hook throws again.
    const panicRec = rec.panicked(errorText(panic));
    try {
      const { error: errPanic, again } = await recoverPanic(
        job,
        panic,
        ctx,
        panicRec,
        this.#options.hooks.jobDone,
        (j, level, msg, fields) => this.#logJob(j, level, msg, fields),
      );
      const report = again ? END_PANICKED_AGAIN : END_PANICKED;
      await this.#end(job, errPanic, report, panicRec, ctx);
    } finally {
      panicRec.end();
    }
  }

  /**
   * Ends a job: commits what its handler did (`COMMIT`), or records `failure` and commits. When
   * the database refuses, this is the one failure path: the refusal is recorded on the span
   * and logged with gue's text for that place; a failed commit runs the jobUndone hooks; and
   * the failure is recorded apart, in a transaction of its own.
   *
   * @param job The job.
   * @param failure What to record, or `COMMIT`.
   * @param report gue's span text and log message for this place.
   * @param rec Where the refusal is recorded.
   * @param ctx The hooks' context.
   * @param fields More fields for the log line.
   */
  async #end(
    job: Job,
    failure: unknown,
    report: EndReport,
    rec: FailureRecorder,
    ctx: WorkContext,
    fields?: LogFields,
  ): Promise<void> {
    const stop = this.#stopSignal(ctx);
    try {
      if (failure === COMMIT) await boundedCall(job.done(), "the job's commit", stop);
      else {
        await boundedCall(job.error(failure), "recording the job's failure", stop);
        if (job.failReason !== null) this.#deadLetter = { job, err: failure };
      }
    } catch (err) {
      await this.#endFailed(job, failure, report, rec, ctx, err, fields);
    }
  }

  /** `#end`'s failure path: the database refused the job's end with `err`. */
  async #endFailed(
    job: Job,
    failure: unknown,
    report: EndReport,
    rec: FailureRecorder,
    ctx: WorkContext,
    err: unknown,
    fields?: LogFields,
  ): Promise<void> {
    rec.fail(report.span, err);
    this.#logJob(job, "error", report.log, { error: err, ...fields });
    hintPreparedStatements(this.#logger, err);
    if (failure === COMMIT) {
      await this.#runHooksLogged(this.#options.hooks.jobUndone, job, err, ctx);
    }
    await this.#recordApart(job, failure === COMMIT ? err : failure, this.#stopSignal(ctx));
  }

  /**
   * What cuts the commit path's database calls short (see bounded_call.ts): the run's signal, or
   * none when `gracefulShutdown` lets the job finish (then only their time limit applies).
   */
  #stopSignal(ctx: WorkContext): AbortSignal {
    return this.#options.gracefulShutdown ? NEVER_ABORTED : ctx.signal;
  }

  /**
   * The job's outcome could not be committed with it (its transaction failed, its connection
   * died, or the commit was refused): record the failure in a transaction of its own, so the job
   * backs off like any failed job. gue leaves such a job untouched, which runs it again at once —
   * forever when the failure repeats. Nothing to do when the job is gone (the commit did land) or
   * another worker holds it (or the given-up transaction still does).
   */
  async #recordApart(job: Job, failure: unknown, stop: AbortSignal): Promise<void> {
    let again: Job;
    try {
      again = await boundedCall(
        this.#client.lockJobById(job.id),
        "locking the job again",
        stop,
        (late) => void late[rollbackJob]().catch(() => {}),
      );
    } catch (err) {
      if (!(err instanceof JobNotFoundError)) {
        this.#logJob(job, "error", "Could not record the failure in a new transaction", {
          error: err,
        });
      }
      return;
    }
    try {
      await boundedCall(again.error(failure), "recording the job's failure", stop);
      if (again.failReason !== null) this.#deadLetter = { job: again, err: failure };
    } catch (err) {
      this.#logJob(job, "error", "Could not record the failure in a new transaction", {
        error: err,
      });
      await boundedCall(again.done(), "the job's commit", stop).catch(() => {});
    }
  }

  /** Runs hooks whose failure has no job left to fail (after commit, or without a job). */
  async #runHooksLogged(hooks: HookFunc[], job: Job | null, err: unknown, ctx: WorkContext) {
    try {
      await runHooks(hooks, job, err, ctx);
    } catch (hookErr) {
      safeLog(this.#logger, "error", "Hook failed", { error: hookErr });
    }
  }
}

/** A poll that settled after it was given up: its job, if any, is let go for the next poll. */
function letGoLate(late: Poll | null): void {
  void late?.job?.[rollbackJob]().catch(() => {});
}
