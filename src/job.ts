/**
 * A job: its stored values, and — once locked — the open transaction that holds its row lock
 * until {@linkcode Job.done} commits it.
 *
 * @module
 */
import type { Tx } from "./adapter.ts";
import type { Backoff } from "./backoff.ts";
import { DiscardJobError, errorText, findOutcome } from "./errors.ts";
import { type Logger, safeLog } from "./logger.ts";
import { jobDelete, type JobRow, jobUpdateError } from "./sql.ts";

/** Priorities: lower runs first. Any integer from −32768 to 32767 is allowed (Postgres `smallint`). */
export const JobPriority = {
  /** −32768 */
  Highest: -32768,
  /** −16384 */
  High: -16384,
  /** 0, the default. */
  Default: 0,
  /** 16384 */
  Low: 16384,
  /** 32767 */
  Lowest: 32767,
} as const;

/** A job's stored values: what `enqueue` returns and what a locked {@linkcode Job} carries. */
export interface JobData {
  /** ULID: 26 characters, sortable by creation time. */
  readonly id: string;
  /** The queue; `""` is the default queue. */
  readonly queue: string;
  /** Lower runs first; −32768..32767. */
  readonly priority: number;
  /** The earliest time the job may run. */
  readonly runAt: Date;
  /** The handler's key in the work map. */
  readonly type: string;
  /** Opaque bytes; JSON text unless enqueued as a `Uint8Array`. Read JSON with `json()`. */
  readonly args: Uint8Array;
  /** Failures so far, as read when the job was locked (gue's `error_count`). */
  readonly errorCount: number;
  /** The last failure's text, or `null` before the first. */
  readonly lastError: string | null;
  /** When it was enqueued (the client's clock). */
  readonly createdAt: Date;
}

/** Used by the worker to roll back an interrupted job untouched; not part of the public API. */
export const rollbackJob: unique symbol = Symbol("gue.rollbackJob");

const decoder = new TextDecoder();

/**
 * A locked job. Its row stays locked by an open transaction (one pooled connection) until
 * {@linkcode Job.done} commits it. The worker calls `delete`/`error` and `done` for you; call them
 * yourself only for jobs you locked with `client.lockJob*`.
 *
 * @example Lock and finish a job by hand
 * ```ts ignore
 * const job = await client.lockJob("emails");
 * if (job) {
 *   try {
 *     await send(job.json<{ to: string }>());
 *     await job.delete();
 *   } catch (err) {
 *     await job.error(err); // reschedules (or discards) and commits
 *   } finally {
 *     await job.done();    // commits; a no-op after error()
 *   }
 * }
 * ```
 */
export class Job implements JobData {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  readonly runAt: Date;
  readonly type: string;
  readonly args: Uint8Array;
  readonly errorCount: number;
  readonly lastError: string | null;
  readonly createdAt: Date;

  #tx: Tx | null;
  #deleted = false;
  #queue: Promise<unknown> = Promise.resolve();
  readonly #backoff: Backoff;
  readonly #logger: Logger;

  /**
   * Made by the client when it locks a job; not for application code.
   *
   * @param row The locked row.
   * @param tx The transaction holding its lock.
   * @param backoff The client's backoff.
   * @param logger The client's logger.
   */
  constructor(row: JobRow, tx: Tx, backoff: Backoff, logger: Logger) {
    this.id = row.job_id;
    this.queue = row.queue;
    this.priority = row.priority;
    this.runAt = row.run_at;
    this.type = row.job_type;
    this.args = row.args;
    this.errorCount = row.error_count;
    this.lastError = row.last_error;
    this.createdAt = row.created_at;
    this.#tx = tx;
    this.#backoff = backoff;
    this.#logger = logger;
  }

  /**
   * Decodes `args` as UTF-8 JSON. This is a cast, not validation: check the shape yourself if
   * producers may send something else.
   *
   * @returns The parsed value.
   * @throws {SyntaxError} When the args are not JSON (for example bytes enqueued as a `Uint8Array`).
   */
  json<T = unknown>(): T {
    const text = decoder.decode(this.args);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new SyntaxError(
        `job ${this.id} (${this.type}) args are not JSON: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  /**
   * The transaction that holds this job's lock, for SQL that must commit atomically with the
   * job's completion (for example in a `jobDone` hook); `null` once the job is done.
   */
  tx(): Tx | null {
    return this.#tx;
  }

  /**
   * Deletes the job inside its transaction. It takes effect when {@linkcode Job.done} commits.
   * Calling it twice is harmless.
   *
   * @throws {Error} When the job is already done.
   */
  delete(): Promise<void> {
    return this.#serial(async () => {
      if (this.#deleted) return;
      await this.#open().query(jobDelete, [this.id]);
      this.#deleted = true;
    });
  }

  /**
   * Commits the job's transaction: releases the row lock and makes `delete`/`error` visible.
   * Calling it again, or concurrently, is harmless. When the commit fails the transaction is
   * over all the same (the server rolled it back) and the error is thrown.
   */
  done(): Promise<void> {
    return this.#serial(() => this.#commit());
  }

  /**
   * Records a failure and commits: the job runs again after the client's backoff for its new
   * error count, or at the time a {@linkcode rescheduleJobAt}/{@linkcode rescheduleJobIn} outcome
   * gives; it is deleted when the backoff is negative or for a {@linkcode discardJob} outcome.
   * Outcomes are found in `err`'s `cause` chain too.
   *
   * @param err What went wrong; its message and stack are stored in `last_error`.
   * @throws {Error} When the job is already done, or the database rejects the update.
   */
  error(err: unknown): Promise<void> {
    return this.#serial(async () => {
      const tx = this.#open();
      const errorCount = this.errorCount + 1;
      const now = new Date();
      const outcome = findOutcome(err);
      let runAt: Date | null;
      if (outcome instanceof DiscardJobError) runAt = null;
      else if (outcome) runAt = outcome.runAt(now);
      else {
        const delay = this.#backoff(errorCount);
        runAt = delay < 0 ? null : new Date(now.getTime() + delay);
      }
      try {
        if (runAt === null) {
          safeLog(this.#logger, "info", "Got empty new run at for the errored job, discarding it", {
            "job-type": this.type,
            "job-queue": this.queue,
            "job-errors": errorCount,
            error: errorText(err),
          });
          if (!this.#deleted) await tx.query(jobDelete, [this.id]);
          this.#deleted = true;
        } else {
          await tx.query(jobUpdateError, [errorCount, runAt, errorText(err), now, this.id]);
        }
      } catch (updateErr) {
        await this.#rollback();
        throw updateErr;
      }
      await this.#commit();
    });
  }

  /** Rolls the transaction back, leaving the row as it was (used when a worker is aborted). */
  [rollbackJob](): Promise<void> {
    return this.#serial(() => this.#rollback());
  }

  #open(): Tx {
    if (this.#tx === null) throw new Error(`job ${this.id} is already done`);
    return this.#tx;
  }

  async #commit(): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return;
    this.#tx = null;
    await tx.commit();
  }

  async #rollback(): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return;
    this.#tx = null;
    await tx.rollback();
  }

  // Runs job operations one at a time, so concurrent done()/error() calls cannot interleave.
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => {});
    return result;
  }
}
