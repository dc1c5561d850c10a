/**
 * Batch mode (a worker's `batch` option): a worker locks up to `size` due jobs of its queue in
 * one transaction, runs their handlers at once (up to `concurrency`), then deletes the finished
 * jobs and records the failures in one statement sent with the COMMIT. A job costs a share of
 * two round trips instead of two round trips of its own.
 *
 * Each job's handler and hooks run as in single mode (handler_run.ts): its own signal, TTL,
 * cancellation, `Worker.WorkOne` span and metrics, and its failure has the same outcome
 * (`Job[failureOutcome]`, as `job.error()` records it). What changes is the transaction: it is
 * the batch's, shared by handlers running at once, so a job's `tx()` (and `delete()`, `error()`,
 * `done()`) throws, and a crash or a failed commit leaves every job of the batch as it was, to
 * be run again.
 *
 * @module
 */
import type { Tx } from "./adapter.ts";
import { boundedCall, DriverCallTimeout } from "./bounded_call.ts";
import { cancelWatchOf } from "./cancel_watch.ts";
import { type BatchPoll, type Client, pollJobBatch } from "./client.ts";
import { DatabaseError, errorText, UnknownJobTypeError } from "./errors.ts";
import {
  armHandler,
  HANDLER_GRACE_MS,
  NEVER_ABORTED,
  recoverPanic,
  runArmed,
  runHooks,
} from "./handler_run.ts";
import type { FailReason } from "./inspect.ts";
import { failureOutcome, type Job, recordFailReason } from "./job.ts";
import { type LogFields, type Logger, safeLog } from "./logger.ts";
import { commitWith } from "./pipelining.ts";
import type { PollFailureLog } from "./poll_failure_log.ts";
import { hintPreparedStatements } from "./prepared_statement_hint.ts";
import { jobBatchDelete, jobBatchEnd } from "./sql.ts";
import type { PollRecorder, WorkerRecorder } from "./telemetry/worker_recorder.ts";
import type { HookFunc, PollStrategy, WorkContext, WorkerHooks, WorkMap } from "./worker.ts";

/** The most jobs one batch may hold. */
export const BATCH_SIZE_MAX = 1000;

/** A worker's `batch` option: see `WorkerOptions.batch`. */
export interface BatchOptions {
  /** Most jobs locked and committed together; an integer from 1 to 1000. */
  size: number;
  /**
   * Most handlers of the batch running at once; an integer from 1 to `size`.
   * @default {size} all of them
   */
  concurrency?: number;
}

/** A checked `batch` option. */
export interface ResolvedBatch {
  /** Most jobs a batch holds. */
  readonly size: number;
  /** Most handlers running at once. */
  readonly concurrency: number;
}

/**
 * Checks a worker's `batch` option.
 *
 * @param batch The option as given.
 * @param owner `"Worker"` or `"WorkerPool"`, for the error.
 * @returns The checked option, or `undefined` for single mode.
 * @throws {TypeError} When it is not an object.
 * @throws {RangeError} When `size` or `concurrency` is out of range.
 */
export function resolveBatchOptions(
  batch: BatchOptions | undefined,
  owner: string,
): ResolvedBatch | undefined {
  if (batch === undefined) return undefined;
  if (batch === null || typeof batch !== "object") {
    throw new TypeError(
      `${owner}: batch must be an object { size, concurrency? }, got ${
        batch === null ? "null" : typeof batch
      }`,
    );
  }
  const { size, concurrency = size } = batch;
  if (!Number.isInteger(size) || size < 1 || size > BATCH_SIZE_MAX) {
    throw new RangeError(
      `${owner}: batch.size must be an integer from 1 to ${BATCH_SIZE_MAX}, got ${String(size)}`,
    );
  }
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > size) {
    throw new RangeError(
      `${owner}: batch.concurrency must be an integer from 1 to batch.size (${size}), got ${
        String(concurrency)
      }`,
    );
  }
  return { size, concurrency };
}

/** What a worker hands its batch runner. */
export interface BatchWorkerParts {
  /** The worker's id. */
  id: string;
  /** The client to lock jobs with. */
  client: Client;
  /** Handlers by type. */
  workMap: WorkMap;
  /** The worker's checked options. */
  options: {
    queue: string;
    pollStrategy: PollStrategy;
    jobTTL: number;
    gracefulShutdown: boolean;
    hooks: Required<WorkerHooks>;
    unknownJobWorkFunc: WorkMap[string] | undefined;
  };
  /** The batch option. */
  batch: ResolvedBatch;
  /** The worker's logger (with its `worker-id`). */
  logger: Logger;
  /** Whether the logger writes debug lines. */
  logsDebug: boolean;
  /** The worker's telemetry. */
  recorder: WorkerRecorder;
  /** The worker's (or its pool's) failed-poll log. */
  pollFailures: PollFailureLog;
}

/** How a job of the batch ends, once its handler and hooks have run. */
const End = {
  /** Not started: the worker was stopping. Left as it was. */
  NotStarted: 0,
  /** Interrupted by shutdown: left as it was, error not counted. */
  Untouched: 1,
  /** Finished: deleted. */
  Done: 2,
  /** Failed: its failure recorded (retried, rescheduled, discarded or moved to failed jobs). */
  Failed: 3,
} as const;

/** One job of a batch and what became of it. */
interface Entry {
  readonly job: Job;
  rec: PollRecorder | undefined;
  end: (typeof End)[keyof typeof End];
  failure: unknown;
  /** Its handler was missing: the unknownJobType hooks run after the commit. */
  unknown: boolean;
  /** Set once its move to the failed jobs is part of the batch's end. */
  failReason: FailReason | null;
}

/** A lone surrogate in an error text would make the JSON invalid for the server. */
function wellFormed(text: string): string {
  const s = text as string & { toWellFormed?(): string };
  return typeof s.toWellFormed === "function" ? s.toWellFormed() : text;
}

/** Works a worker's queue a batch at a time; made by a `Worker` with the `batch` option. */
export class BatchRunner {
  /** What the last poll said about the queue's next job, for the worker's wait. */
  nextRunAt: Date | null = null;
  readonly #p: BatchWorkerParts;

  /**
   * @param parts The worker's client, handlers, options, logger and telemetry.
   */
  constructor(parts: BatchWorkerParts) {
    this.#p = parts;
  }

  /**
   * Polls once and works the batch found, if any, to its commit.
   *
   * @param signal The worker's run signal.
   * @param index The worker's index in its pool.
   * @returns Whether any job was locked.
   */
  async work(signal: AbortSignal, index: number): Promise<boolean> {
    const p = this.#p;
    const ctx: WorkContext = { signal, workerIndex: index, workerId: p.id };
    this.nextRunAt = null;
    let poll: BatchPoll;
    try {
      // Bounded as a single worker's poll (bounded_call.ts): a batch locked after the poll was
      // given up is let go for the next poll.
      poll = await boundedCall(
        pollJobBatch(
          p.client,
          p.options.queue,
          p.options.pollStrategy !== "OrderByPriority",
          p.batch.size,
        ),
        "the poll",
        signal,
        (late) => void late.tx?.rollback().catch(() => {}),
      );
    } catch (err) {
      // A poll cut short by the stop is no failure; one that hung is (it was given up).
      if (signal.aborted && err instanceof DriverCallTimeout) return false;
      const rec = p.recorder.poll();
      try {
        rec.lockFailed(err);
        p.pollFailures.failed(p.logger, err);
        hintPreparedStatements(p.logger, err);
        await rec.within(this.#lockFailedHooks, this, err, ctx, undefined);
      } finally {
        rec.finish();
      }
      return false;
    }
    p.pollFailures.succeeded(p.logger);
    if (poll.tx === null) {
      this.nextRunAt = poll.nextRunAt;
      p.recorder.poll().finish(); // An empty poll's span, with spanWorkOneNoJob.
      return false;
    }
    const entries = poll.jobs.map((job): Entry => ({
      job,
      rec: undefined,
      end: End.NotStarted,
      failure: undefined,
      unknown: false,
      failReason: null,
    }));
    try {
      await this.#runAll(entries, ctx);
      await this.#end(poll.tx, entries, ctx);
    } finally {
      for (const e of entries) e.rec?.finish();
    }
    return true;
  }

  /** Runs the jobLocked hooks after a failed poll; a method, so a span runs it without a closure. */
  #lockFailedHooks(err: unknown, ctx: WorkContext): Promise<void> {
    return this.#runHooksLogged(this.#p.options.hooks.jobLocked, null, err, ctx);
  }

  /** Runs the entries' jobs, `concurrency` at a time; stops starting new ones once stopping. */
  async #runAll(entries: Entry[], ctx: WorkContext): Promise<void> {
    const { concurrency } = this.#p.batch;
    let next = 0;
    const lane = async () => {
      while (next < entries.length && !ctx.signal.aborted) {
        const entry = entries[next++];
        const rec = this.#p.recorder.poll();
        entry.rec = rec;
        rec.locked(entry.job);
        await rec.within(this.#runJob, this, entry, rec, ctx);
      }
    };
    if (concurrency === 1 || entries.length === 1) return await lane();
    const lanes: Promise<void>[] = [];
    for (let i = 0; i < Math.min(concurrency, entries.length); i++) lanes.push(lane());
    await Promise.all(lanes);
  }

  /** One job: hooks and handler; a hook that throws fails the job (gue: a panic). */
  async #runJob(entry: Entry, rec: PollRecorder, ctx: WorkContext): Promise<void> {
    try {
      await this.#process(entry, rec, ctx);
    } catch (panic) {
      await this.#recoverPanic(entry, panic, rec, ctx);
    }
  }

  /** Hooks, handler and outcome, as `Worker`'s, without the job's own transaction. */
  async #process(entry: Entry, rec: PollRecorder, ctx: WorkContext): Promise<void> {
    const p = this.#p;
    const { hooks, gracefulShutdown, jobTTL } = p.options;
    const job = entry.job;
    await runHooks(hooks.jobLocked, job, null, ctx);
    const handler = Object.hasOwn(p.workMap, job.type)
      ? p.workMap[job.type]
      : p.options.unknownJobWorkFunc;
    if (handler === undefined) {
      rec.worked(false);
      rec.fail(`job with unknown type: ${JSON.stringify(job.type)}`);
      this.#logJob(job, "error", "Got a job with unknown type");
      entry.end = End.Failed;
      entry.failure = new UnknownJobTypeError(p.id, job.type);
      entry.unknown = true;
      return;
    }
    const armed = armHandler(job.id, ctx.signal, gracefulShutdown, jobTTL, cancelWatchOf(p.client));
    const ended = await runArmed(handler, job, ctx, armed);
    let { failed, failure } = ended;
    const abandoned = ended.abandoned;
    const interrupted = !gracefulShutdown && ctx.signal.aborted;
    if (abandoned && interrupted) {
      rec.interrupted();
      this.#logJob(job, "error", "Job handler ignored the shutdown; job left as it was", {
        error: `the handler did not return within ${HANDLER_GRACE_MS} ms of its signal's abort`,
      });
      entry.end = End.Untouched;
      return;
    }
    if (abandoned) {
      failed = true;
      failure = new Error(
        `job TTL of ${jobTTL} ms exceeded, and the handler did not return within ` +
          `${HANDLER_GRACE_MS} ms of its signal's abort`,
      );
    }
    if (armed.cancel?.signal.aborted) {
      // Cancelled: fails as such (dead-lettered, not retried) whatever the handler did.
      failed = true;
      failure = armed.cancel.signal.reason;
    }
    if (failed && !abandoned && interrupted) {
      rec.interrupted();
      this.#logJob(job, "info", "Job interrupted by shutdown, left as it was", { error: failure });
      entry.end = End.Untouched;
      return;
    }
    if (failed) {
      rec.handlerFailed(failure);
      this.#logJob(job, "error", "Job failed", {
        error: failure,
        "job-errors": job.errorCount + 1,
      });
      entry.end = End.Failed;
      entry.failure = failure;
      await runHooks(hooks.jobDone, job, failure, ctx);
      return;
    }
    await runHooks(hooks.jobDone, job, null, ctx);
    entry.end = End.Done;
  }

  /** A jobLocked/jobDone hook threw: fail the job with it, as `Worker` does. */
  async #recoverPanic(
    entry: Entry,
    panic: unknown,
    rec: PollRecorder,
    ctx: WorkContext,
  ): Promise<void> {
    const job = entry.job;
    const panicRec = rec.panicked(errorText(panic));
    try {
      const { error: errPanic } = await recoverPanic(
        job,
        panic,
        ctx,
        panicRec,
        this.#p.options.hooks.jobDone,
        (j, level, msg, fields) => this.#logJob(j, level, msg, fields),
      );
      entry.end = End.Failed;
      entry.failure = errPanic;
    } finally {
      panicRec.end();
    }
  }

  /**
   * Ends the batch: deletes the finished jobs and records the failures in one statement, sent
   * with the COMMIT. When that fails, every job of the batch is left as it was (the server rolled
   * the transaction back) and runs again; the jobUndone hooks run for each job whose outcome was
   * lost. Then, per job: the metrics, the dead-letter log and jobFailed hooks, and the
   * unknownJobType hooks.
   */
  async #end(tx: Tx, entries: Entry[], ctx: WorkContext): Promise<void> {
    const p = this.#p;
    const done: string[] = [];
    const retries: { i: string; c: number; r: string; e: string }[] = [];
    const moves: { i: string; c: number; e: string; f: FailReason }[] = [];
    const now = new Date();
    for (const entry of entries) {
      if (entry.end === End.Done) done.push(entry.job.id);
      else if (entry.end === End.Failed) {
        let o: ReturnType<Job[typeof failureOutcome]>;
        try {
          o = entry.job[failureOutcome](entry.failure, now);
          if (o.runAt !== null && Number.isNaN(o.runAt.getTime())) {
            throw new RangeError(`the backoff gave an invalid run_at for ${o.errorCount} errors`);
          }
        } catch (err) {
          // The client's backoff threw: the job is left as it was, to run again.
          this.#logJob(entry.job, "error", "Could not record the failure; job left as it was", {
            error: err,
          });
          entry.end = End.Untouched;
          continue;
        }
        if (o.failReason !== null) {
          entry.failReason = o.failReason;
          moves.push({
            i: entry.job.id,
            c: o.errorCount,
            e: wellFormed(o.lastError),
            f: o.failReason,
          });
        } else if (o.runAt === null) done.push(entry.job.id);
        else {
          retries.push({
            i: entry.job.id,
            c: o.errorCount,
            r: o.runAt.toISOString(),
            e: wellFormed(o.lastError),
          });
        }
      }
    }
    let commitErr: DatabaseError | undefined;
    // Bounded as a single worker's commit; with gracefulShutdown by the time limit only.
    const stop = p.options.gracefulShutdown ? NEVER_ABORTED : ctx.signal;
    try {
      if (done.length + retries.length + moves.length === 0) {
        await boundedCall(tx.rollback(), "the batch's rollback", stop);
      } else if (retries.length + moves.length === 0) {
        await boundedCall(
          commitWith(tx, jobBatchDelete, [JSON.stringify(done)]),
          "the batch's commit",
          stop,
        );
      } else {
        await boundedCall(
          commitWith(tx, jobBatchEnd, [
            JSON.stringify(done),
            JSON.stringify(retries),
            JSON.stringify(moves),
            now,
          ]),
          "the batch's commit",
          stop,
        );
      }
    } catch (err) {
      commitErr = new DatabaseError("batch commit", err);
      safeLog(p.logger, "error", "Failed to end the batch; its jobs are left as they were", {
        error: commitErr,
        "batch-jobs": entries.length,
      });
      hintPreparedStatements(p.logger, err);
    }
    for (const entry of entries) {
      const { job, rec } = entry;
      if (rec === undefined) continue;
      if (commitErr !== undefined) {
        if (entry.end === End.Done || entry.end === End.Failed) {
          rec.worked(false);
          rec.fail("failed to end the batch", commitErr);
          await this.#runHooksLogged(p.options.hooks.jobUndone, job, commitErr, ctx);
        }
      } else if (entry.end === End.Done) {
        rec.worked(true);
        if (p.logsDebug) this.#logJob(job, "debug", "Job finished");
      } else if (entry.failReason !== null) {
        job[recordFailReason](entry.failReason);
        rec.deadLettered(entry.failReason);
        this.#logJob(job, "info", "Job moved to the failed jobs", {
          "fail-reason": entry.failReason,
          "job-errors": job.errorCount + 1,
        });
        await this.#runHooksLogged(p.options.hooks.jobFailed, job, entry.failure, ctx);
      }
      if (entry.unknown) {
        await this.#runHooksLogged(p.options.hooks.unknownJobType, job, entry.failure, ctx);
      }
    }
  }

  /** Logs a line about `job`, with gue's `job-id` and `job-type` keys. */
  #logJob(job: Job, level: "debug" | "info" | "error", msg: string, fields?: LogFields): void {
    safeLog(this.#p.logger, level, msg, { "job-id": job.id, "job-type": job.type, ...fields });
  }

  /** Runs hooks whose failure has no job left to fail (after commit, or without a job). */
  async #runHooksLogged(
    hooks: HookFunc[],
    job: Job | null,
    err: unknown,
    ctx: WorkContext,
  ): Promise<void> {
    try {
      await runHooks(hooks, job, err, ctx);
    } catch (hookErr) {
      safeLog(this.#p.logger, "error", "Hook failed", { error: hookErr });
    }
  }
}
