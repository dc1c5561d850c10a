/**
 * A job: its stored values, and — once locked — the open transaction that holds its row lock
 * until {@linkcode Job.done} commits it.
 *
 * @module
 */
import type { ConnPool, QueryResult, Tx } from "./adapter.ts";
import type { Backoff } from "./backoff.ts";
import { DEFAULT_FAILURE_POLICY, type FailurePolicy, findDeadLetter } from "./dead_letter.ts";
import { DatabaseError, DiscardJobError, errorText, findOutcome } from "./errors.ts";
import type { FailReason } from "./inspect.ts";
import { type Logger, safeLog } from "./logger.ts";
import {
  canCommitWith,
  commitWith,
  commitWithThenBegin,
  isCommitFailure,
  type NextBegin,
} from "./pipelining.ts";
import {
  handlerRollbackToSavepoint,
  handlerSavepoint,
  jobDelete,
  jobMoveToFailed,
  type JobRow,
  jobUpdateError,
} from "./sql.ts";

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
  /**
   * Opaque bytes: JSON text unless enqueued as a `Uint8Array`, empty when enqueued without
   * `args`. Read JSON with `json()`.
   */
  readonly args: Uint8Array;
  /** Failures so far, as read when the job was locked (gue's `error_count`). */
  readonly errorCount: number;
  /** The last failure's text, or `null` before the first. */
  readonly lastError: string | null;
  /** When it was enqueued (the client's clock). */
  readonly createdAt: Date;
  /**
   * Attempts allowed in all: after that many failures the job moves to the failed jobs.
   * `null` (or absent): retried forever, as gue does.
   */
  readonly maxAttempts?: number | null;
  /** Its unique key: no other live job has it. `null` (or absent): none. */
  readonly uniqueKey?: string | null;
}

/**
 * Used by the worker to delete a finished job and commit, in one round trip where the adapter
 * pipelines; not part of the public API. See {@linkcode Job}'s method of that name.
 */
export const deleteAndCommit: unique symbol = Symbol("gue.deleteAndCommit");

/** Used by the worker to roll back an interrupted job untouched; not part of the public API. */
export const rollbackJob: unique symbol = Symbol("gue.rollbackJob");

/**
 * Used by the worker around a handler; not part of the public API. `[guardWrites]()` makes the
 * handler's first `job.tx()` set a savepoint; `[undoWrites]()` rolls back to it (so a failed
 * handler's writes are gone and the failure can be recorded in the same, still locked,
 * transaction); `[keepWrites]()` ends the guard and keeps them.
 */
export const guardWrites: unique symbol = Symbol("gue.guardWrites");
/** See {@linkcode guardWrites}. */
export const undoWrites: unique symbol = Symbol("gue.undoWrites");
/** See {@linkcode guardWrites}. */
export const keepWrites: unique symbol = Symbol("gue.keepWrites");

/**
 * Used by the worker: what recording a failure does to this job, as `error()` records it; the
 * batch worker records many at once. Not part of the public API.
 */
export const failureOutcome: unique symbol = Symbol("gue.failureOutcome");

/**
 * Used by the batch worker: says the job was moved to the failed jobs and that committed, for
 * `job.failReason`. Not part of the public API.
 */
export const recordFailReason: unique symbol = Symbol("gue.recordFailReason");

/**
 * Why `tx()`, `delete()`, `error()` and `done()` of a job worked in batch mode throw: the
 * batch's transaction is shared by handlers running at once.
 */
function batchModeError(job: Job, call: string): Error {
  return new Error(
    `job ${job.id} (${job.type}) runs in a batch worker: ${call} cannot be used, because the ` +
      "batch's one transaction is shared by every job of the batch while their handlers run " +
      "at once, so a write of one job could not be committed or rolled back with that job " +
      "alone; the worker deletes the job or records its failure itself. Work jobs that write " +
      "in the job's transaction with a worker in single mode (without the batch option)",
  );
}

const decoder = new TextDecoder();

/** How a job's transaction ended, for the error of `tx()` and friends once it has. */
type Ended = "committed" | "rolled back" | "ended by a failed commit" | "in a batch";

/**
 * A locked job. Its row stays locked by an open transaction (one pooled connection) until
 * {@linkcode Job.done} commits it. The worker calls `delete`/`error` and `done` for you; call them
 * yourself only for jobs you locked with `client.lockJob*`. Database failures of `delete`,
 * `error` and `done` reject with a `DatabaseError`, as the client's methods do.
 *
 * @example Lock and finish a job by hand
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 *
 * async function send(email: { to: string }): Promise<void> {
 *   console.log(`sending to ${email.to}`);
 * }
 *
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
 * await sql.end();
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
  readonly maxAttempts: number | null;

  #tx: Tx | null;
  #failReason: FailReason | null = null;
  readonly #policy: FailurePolicy;
  #ended: Ended = "committed";
  #deleted = false;
  /** The statement sent with the COMMIT, where the adapter pipelines (pipelining.ts). */
  #last: [string, unknown[]] | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  /** While a handler runs: its first `tx()` sets the savepoint (a handler without SQL pays nothing). */
  #guarding = false;
  /** The savepoint's statement, sent (not awaited) by the first `tx()` of a guarded handler. */
  #savepoint: Promise<unknown> | undefined;
  readonly #backoff: Backoff;
  readonly #logger: Logger;

  /**
   * Made by the client when it locks a job; not for application code.
   *
   * @param row The locked row.
   * @param tx The transaction holding its lock; `null` for a job of a batch worker, whose
   *   transaction the worker keeps (its `tx()`, `delete()`, `error()` and `done()` then throw).
   * @param backoff The client's backoff.
   * @param logger The client's logger.
   * @param policy What the client does with discarded jobs.
   */
  constructor(
    row: JobRow,
    tx: Tx | null,
    backoff: Backoff,
    logger: Logger,
    policy: FailurePolicy = DEFAULT_FAILURE_POLICY,
  ) {
    this.id = row.job_id;
    this.queue = row.queue;
    this.priority = row.priority;
    this.runAt = row.run_at;
    this.type = row.job_type;
    this.args = row.args;
    this.errorCount = row.error_count;
    this.lastError = row.last_error;
    this.createdAt = row.created_at;
    this.maxAttempts = row.max_attempts ?? null;
    this.#policy = policy;
    this.#tx = tx;
    if (tx === null) this.#ended = "in a batch";
    this.#backoff = backoff;
    this.#logger = logger;
  }

  /**
   * Decodes `args` as UTF-8 JSON. This is a cast, not validation: check the shape yourself if
   * producers may send something else.
   *
   * A job enqueued without `args` has empty args, and `json()` returns `undefined` for them
   * (typed as `T`: declare `T | undefined` when producers may leave `args` out).
   *
   * @returns The parsed value, or `undefined` when the args are empty.
   * @throws {SyntaxError} When the args are not JSON (for example bytes enqueued as a `Uint8Array`).
   *
   * @example Optional args
   * ```ts
   * import type { Job } from "@gue/gue";
   *
   * const workMap = {
   *   Report: (job: Job) => {
   *     const opts = job.json<{ day?: string } | undefined>() ?? {};
   *     console.log(opts.day ?? "today");
   *   },
   * };
   * ```
   */
  json<T = unknown>(): T {
    if (this.args.length === 0) return undefined as T;
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
   * The transaction that holds this job's lock, for SQL that must commit or roll back with the
   * job: in a handler, and in `jobLocked`/`jobDone` hooks. It is valid until the job is done;
   * after that (in `jobUndone` and `unknownJobType` hooks, or after `done()`/`error()`) it throws.
   * Unwrap it with the adapter's `unwrapTx` for the driver's own API (tagged templates).
   *
   * In batch mode (a worker's `batch` option) there is no job's own transaction: the batch's is
   * shared by handlers running at once, so `tx()` — and `delete()`, `error()` and `done()` —
   * throw, saying so.
   *
   * @returns The job's open transaction.
   * @throws {Error} When the job is already done: its transaction is committed or rolled back;
   *   or when it runs in a batch worker.
   *
   * @example Write in the job's transaction, with `query` or the driver's own API
   * ```ts
   * import type { Job } from "@gue/gue";
   * import { unwrapTx } from "@gue/gue/adapters/postgresjs";
   *
   * const workMap = {
   *   SendReceipt: async (job: Job) => {
   *     await job.tx().query("UPDATE orders SET receipt_sent = true WHERE id = $1", [job.id]);
   *     const sql = unwrapTx(job.tx());
   *     await sql`INSERT INTO audit (job_id) VALUES (${job.id})`;
   *   },
   * };
   * ```
   */
  tx(): Tx {
    const tx = this.#open("job.tx()");
    if (this.#guarding && this.#savepoint === undefined) {
      // Sent before the handler gets the transaction, so the connection runs it before any of
      // the handler's statements; awaited only if the handler fails.
      this.#savepoint = tx.query(handlerSavepoint).then(() => undefined, (err) => err);
    }
    return tx;
  }

  /** Starts guarding a handler's writes (see {@linkcode guardWrites}). */
  [guardWrites](): void {
    this.#guarding = true;
    this.#savepoint = undefined;
  }

  /** Ends the guard and keeps the handler's writes. */
  [keepWrites](): void {
    this.#guarding = false;
  }

  /**
   * Ends the guard and undoes the handler's writes, if it made any through `job.tx()`: the
   * transaction (and the row lock) stays, usable again even if a statement of the handler failed.
   *
   * @throws {DatabaseError} When the transaction is gone (its connection died): the failure can
   *   then only be recorded apart.
   */
  [undoWrites](): Promise<void> {
    this.#guarding = false;
    const savepoint = this.#savepoint;
    this.#savepoint = undefined;
    if (savepoint === undefined) return Promise.resolve();
    return this.#serial(async () => {
      const tx = this.#open("job rollback to savepoint");
      const failed = await savepoint;
      if (failed !== undefined) throw new DatabaseError("job savepoint", failed);
      try {
        await tx.query(handlerRollbackToSavepoint);
      } catch (err) {
        throw new DatabaseError("job rollback to savepoint", err);
      }
    });
  }

  /**
   * Why `error()` moved this job to the failed jobs (`gue_failed_jobs`), once it has: its
   * attempts ran out (`"exhausted"`), it was discarded (`"discarded"`), cancelled
   * (`"cancelled"`) or had invalid args (`"invalid"`). `null` while it has not been, or when the
   * failure was recorded for a retry; `null` too when the commit failed.
   */
  get failReason(): FailReason | null {
    return this.#failReason;
  }

  /**
   * Deletes the job inside its transaction. It takes effect when {@linkcode Job.done} commits.
   * Calling it twice is harmless.
   *
   * @throws {Error} When the job is already done.
   * @throws {DatabaseError} When the database rejects the delete.
   */
  delete(): Promise<void> {
    return this.#serial(async () => {
      if (this.#deleted) return;
      const tx = this.#open("job.delete()");
      try {
        await tx.query(jobDelete, [this.id]);
      } catch (err) {
        throw new DatabaseError("job.delete", err);
      }
      this.#deleted = true;
    });
  }

  /**
   * Commits the job's transaction: releases the row lock and makes `delete`/`error` visible.
   * Calling it again, or concurrently, is harmless. When the commit fails the transaction is
   * over all the same (the server rolled it back) and the error is thrown.
   *
   * @throws {DatabaseError} When the commit fails (a deferred constraint, a lost connection, a
   *   transaction that an earlier statement aborted).
   */
  done(): Promise<void> {
    if (this.#ended === "in a batch") return Promise.reject(batchModeError(this, "job.done()"));
    return this.#serial(() => this.#commit("job.done"));
  }

  /**
   * Records a failure and commits: the job runs again after the client's backoff for its new
   * error count, or at the time a {@linkcode rescheduleJobAt}/{@linkcode rescheduleJobIn} outcome
   * gives. It moves to the failed jobs (`gue_failed_jobs`, see {@linkcode Job.failReason}), in
   * this same transaction, when this failure uses up its `maxAttempts`, for a
   * {@linkcode discardJob} outcome or a negative backoff (or is deleted, with the client's
   * `onDiscard: "delete"`), or for a cancellation or invalid args. Outcomes are found in
   * `err`'s `cause` chain too.
   *
   * @param err What went wrong; its message and stack are stored in `last_error`.
   * @throws {Error} When the job is already done.
   * @throws {DatabaseError} When the database rejects the update or the commit; the
   *   transaction is rolled back.
   */
  error(err: unknown): Promise<void> {
    return this.#serial(async () => {
      const tx = this.#open("job.error()");
      const now = new Date();
      const { errorCount, runAt, lastError, failReason: reason } = this[failureOutcome](err, now);
      let failReason = reason;
      let last: [string, unknown[]] | undefined;
      if (failReason !== null) {
        // Moved to gue_failed_jobs in the transaction that records its last failure. When the
        // handler deleted the job first, there is nothing left to move.
        if (!this.#deleted) {
          last = [jobMoveToFailed, [this.id, errorCount, lastError, now, failReason]];
        } else failReason = null;
        this.#deleted = true;
      } else if (runAt === null) {
        if (!this.#deleted) last = [jobDelete, [this.id]];
        this.#deleted = true;
      } else {
        last = [jobUpdateError, [errorCount, runAt, lastError, now, this.id]];
      }
      if (last !== undefined && canCommitWith(tx)) {
        // The UPDATE (or DELETE) and the COMMIT in one round trip.
        this.#last = last;
      } else if (last !== undefined) {
        try {
          await tx.query(last[0], last[1]);
        } catch (updateErr) {
          await this.#rollback().catch(() => {});
          throw new DatabaseError("job.error", updateErr);
        }
      }
      await this.#commit("job.error");
      this.#failReason = failReason;
    });
  }

  /**
   * What recording `err` as this job's failure does: dead-lettered
   * by its error, by running out of attempts, or discarded (unless the client deletes discarded
   * jobs, as gue does); an explicit reschedule is honoured, attempts or not; otherwise the
   * client's backoff. Logs a discard as `error()` does.
   *
   * @param err What went wrong.
   * @param now The time the failure is recorded.
   */
  [failureOutcome](err: unknown, now: Date): {
    /** The job's error count with this failure. */
    readonly errorCount: number;
    /** The text stored in `last_error`. */
    readonly lastError: string;
    /** When the job runs again; `null` when it does not (moved to the failed jobs, or deleted). */
    readonly runAt: Date | null;
    /** Why it moves to the failed jobs, or `null` when it does not. */
    readonly failReason: FailReason | null;
  } {
    const errorCount = this.errorCount + 1;
    const dead = findDeadLetter(err);
    const outcome = dead === undefined ? findOutcome(err) : undefined;
    let runAt: Date | null = null;
    let failReason: FailReason | null = dead?.reason ?? null;
    if (dead !== undefined || outcome instanceof DiscardJobError) {
      // runAt stays null
    } else if (outcome) runAt = outcome.runAt(now);
    else if (this.maxAttempts !== null && errorCount >= this.maxAttempts) {
      failReason = "exhausted";
    } else {
      const delay = this.#backoff(errorCount);
      if (delay >= 0) runAt = new Date(now.getTime() + delay);
    }
    if (runAt === null && failReason === null && this.#policy.onDiscard === "deadLetter") {
      failReason = "discarded";
    }
    const lastError = errorText(err);
    if (runAt === null && (failReason === null || failReason === "discarded")) {
      safeLog(this.#logger, "info", "Got empty new run at for the errored job, discarding it", {
        "job-type": this.type,
        "job-queue": this.queue,
        "job-errors": errorCount,
        error: lastError,
      });
    }
    return { errorCount, lastError, runAt, failReason };
  }

  /** Sets {@linkcode Job.failReason} once the batch that moved the job committed. */
  [recordFailReason](reason: FailReason | null): void {
    this.#failReason = reason;
  }

  /**
   * A finished job: deletes it (unless its handler did) and commits, the DELETE sent with the
   * COMMIT where the adapter pipelines. The transaction is over when this settles.
   *
   * @param next A transaction to open right after the commit, sent with it where the adapter
   *   chains them (see `commitWithThenBegin` of pipelining.ts); `next.sent` is set when it was.
   *   Not sent when `next.cancelled` is set, or when the handler deleted the job itself.
   * @returns `undefined` once committed, or what failed: the DELETE (the transaction was rolled
   *   back) or the COMMIT, with the error `job.delete()` or `job.done()` would have thrown.
   * @throws {Error} When the job is already done (its handler ended it).
   */
  [deleteAndCommit](
    // pipelining.ts's NextBegin, spelled out: this method is reachable from the public Job.
    next?: {
      readonly pool: ConnPool;
      readonly text: string;
      readonly params: unknown[];
      sent?: Promise<{ tx: Tx; result: QueryResult<unknown> }>;
      cancelled?: boolean;
    },
  ): Promise<{ failed: "delete" | "commit"; error: DatabaseError } | undefined> {
    return this.#serial(async () => {
      this.#open("job.delete()");
      if (!this.#deleted) this.#last = [jobDelete, [this.id]];
      try {
        await this.#commit("job.done", "job.delete", next);
      } catch (err) {
        const failed = this.#ended === "rolled back" ? "delete" : "commit";
        return { failed, error: err as DatabaseError };
      }
      this.#deleted = true;
      return undefined;
    });
  }

  /** Rolls the transaction back, leaving the row as it was (used when a worker is aborted). */
  [rollbackJob](): Promise<void> {
    return this.#serial(() => this.#rollback());
  }

  #open(call: string): Tx {
    if (this.#ended === "in a batch") throw batchModeError(this, call);
    if (this.#tx === null) {
      throw new Error(
        `job ${this.id} (${this.type}) is already done: its transaction is ${this.#ended}; ` +
          `${call} is only valid while the handler runs (or, for a job locked by hand, until done())`,
      );
    }
    return this.#tx;
  }

  /**
   * Commits, sending the statement left in `#last` with the COMMIT. When that statement fails
   * the transaction is rolled back and its error thrown as `lastOperation`'s.
   */
  async #commit(operation: string, lastOperation = operation, next?: NextBegin): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return;
    this.#tx = null;
    const last = this.#last;
    this.#last = undefined;
    try {
      if (last === undefined) await tx.commit();
      else if (next === undefined || next.cancelled) await commitWith(tx, last[0], last[1]);
      else {
        const chained = commitWithThenBegin(
          tx,
          next.pool,
          last[0],
          last[1],
          next.text,
          next.params,
        );
        next.sent = chained.next;
        chained.next.catch(() => {}); // Its consumer comes after this commit has settled.
        await chained.last;
      }
    } catch (err) {
      if (last !== undefined && !isCommitFailure(err)) {
        this.#ended = "rolled back";
        throw new DatabaseError(lastOperation, err);
      }
      this.#ended = "ended by a failed commit";
      throw new DatabaseError(operation, err);
    }
  }

  async #rollback(): Promise<void> {
    const tx = this.#tx;
    if (tx === null) return;
    this.#tx = null;
    this.#last = undefined;
    this.#ended = "rolled back";
    try {
      await tx.rollback();
    } catch (err) {
      throw new DatabaseError("job rollback", err);
    }
  }

  // Runs job operations one at a time, so concurrent done()/error() calls cannot interleave.
  #serial<T>(op: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(op);
    this.#queue = result.catch(() => {});
    return result;
  }
}
