/**
 * The client: enqueues jobs and locks them. Workers use it to take jobs; applications use it to
 * add them, inside their own transactions when the job must exist only if their write commits.
 *
 * @module
 */
import type { ConnPool, Queryable, QueryResult, Tx } from "./adapter.ts";
import { type Backoff, defaultExponentialBackoff } from "./backoff.ts";
import { CancelWatch, setCancelWatch } from "./cancel_watch.ts";
import {
  checkMaxAttempts,
  DEFAULT_FAILURE_POLICY,
  type FailurePolicy,
  type OnDiscard,
} from "./dead_letter.ts";
import { DatabaseError, JobNotFoundError, MissingTypeError } from "./errors.ts";
import { MonotonicUlid, parseUlid, randomStringId } from "./id.ts";
import { Job, type JobData, rollbackJob } from "./job.ts";
import { errorLogger, type Logger, logsBelowError, safeLog, withFields } from "./logger.ts";
import { applyMigrations } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import { jobInsertBatchParams } from "./job_batch.ts";
import { BeginError, beginWith, type NextBegin } from "./pipelining.ts";
import { type Notice, noticePayload, noticesFor, NotifyCoalescer, splitForIdle } from "./notify.ts";
import { Wakeup } from "./wakeup.ts";
import { hasCapability } from "./capabilities.ts";
import {
  failedJobDelete,
  failedJobPrune,
  failedJobRetry,
  jobByUniqueKeys,
  jobCancellationRequest,
  jobCancellationRequestNotify,
  jobCountByQueueAndState,
  jobGet,
  type JobInfoRow,
  jobInsert,
  jobInsertBatch,
  jobInsertNotify,
  jobInsertOwn,
  jobInsertOwnNotify,
  jobList,
  jobLockBatchOrNextRunAt,
  jobLockById,
  jobLockNext,
  jobLockNextOrNextRunAt,
  jobLockNextScheduled,
  jobLockNextScheduledOrNextRunAt,
  jobMoveToFailed,
  jobNotify,
  type JobPollRow,
  jobQueueBusy,
  type JobRow,
} from "./sql.ts";
import {
  cursorAfter,
  type JobInfo,
  jobInfo,
  type JobPage,
  type ListJobsOptions,
  listQuery,
  type WaitUntilDrainedOptions,
} from "./inspect.ts";
import { ClientMetrics } from "./telemetry/client_metrics.ts";
import { checkMeter, type MeterLike } from "./telemetry/options.ts";
import { observeQueueDepth, type QueueDepthOptions } from "./telemetry/queue_depth.ts";

/** What to enqueue. Only `type` is required. */
export interface JobInput {
  /** The handler's key in the workers' work map. Required, non-empty. */
  type: string;
  /** The queue. @default {""} (the default queue) */
  queue?: string;
  /** Lower runs first; an integer from −32768 to 32767. @default {0} */
  priority?: number;
  /** The earliest time to run it. @default now */
  runAt?: Date;
  /**
   * The payload. A `Uint8Array` is stored as is (gue's opaque bytes); anything else is stored as
   * its UTF-8 JSON text, so Go gue's `json.Unmarshal` reads it. Without it the job's args are
   * empty bytes (as gue stores them), and `job.json()` returns `undefined`.
   * @default empty bytes
   */
  args?: unknown;
  /**
   * Attempts allowed in all: after this many failures the job moves to the failed jobs
   * (`gue_failed_jobs`, see `client.listJobs({ state: "failed" })`) instead of being retried.
   * `null`: retried forever, as gue does. @default the client's `maxAttempts`
   */
  maxAttempts?: number | null;
  /**
   * A unique key: while a job with this key is queued or running, enqueueing another with the
   * same key inserts nothing and resolves to that job (with `inserted: false`). The key is free
   * again once that job is done, dead-lettered, or its enqueue rolled back. @default none
   */
  uniqueKey?: string;
}

/**
 * What {@linkcode Client.cancelJob} did: `"cancelled"` a queued job (now failed, reason
 * `"cancelled"`), `"requested"` that a running job stop, or nothing, the job being `"absent"`.
 */
export type CancelResult = "cancelled" | "requested" | "absent";

/** What an enqueue resolves to: the job as stored, and whether this call inserted it. */
export interface EnqueuedJob extends JobData {
  /**
   * `false` when a live job already held the `uniqueKey`: the values are then that job's (its
   * id, args, runAt…), not this request's.
   */
  readonly inserted: boolean;
}

/**
 * The jobs of one queue, as {@linkcode Client.countJobs} counts them. `ready` and `scheduled`
 * split the queue's jobs in `gue_jobs` (the `gue_jobs_waiting` gauge reports them); `running`
 * and `failing` are among those; `failed` are the dead-lettered jobs in `gue_failed_jobs`.
 */
export interface QueueCount {
  /** The queue (`""` is the default queue). */
  readonly queue: string;
  /** Jobs due now (`runAt` at or before the client's clock), including those being worked. */
  readonly ready: number;
  /** Jobs due later. */
  readonly scheduled: number;
  /** Jobs being worked: their rows are locked by an open transaction. */
  readonly running: number;
  /** Jobs that failed before and wait for their next try (`errorCount > 0`, not running). */
  readonly failing: number;
  /** Dead-lettered jobs (`gue_failed_jobs`): attempts exhausted, discarded, cancelled, invalid. */
  readonly failed: number;
}

/** Options of {@linkcode Client}. */
export interface ClientOptions {
  /** Names this client in logs (`client-id`). @default a random 6-hex-digit id */
  id?: string;
  /**
   * Where to log. `console` and `jsonLogger()` write every level; `noopLogger` nothing.
   * @default {errorLogger} errors only, to `console.error`
   */
  logger?: Logger;
  /** Delay before a failed job's next try, for the jobs this client locks. @default {defaultExponentialBackoff} */
  backoff?: Backoff;
  /**
   * The `maxAttempts` of the jobs this client enqueues without one: after that many failures a
   * job moves to the failed jobs. @default {null} retried forever, as gue does
   */
  maxAttempts?: number | null;
  /**
   * What happens to a job that is discarded (a `discardJob()` outcome, or a backoff that gives
   * up), for the jobs this client locks: `"deadLetter"` moves it to the failed jobs with reason
   * `"discarded"`; `"delete"` deletes it, as gue does. @default {"deadLetter"}
   */
  onDiscard?: OnDiscard;
  /**
   * How often, in ms, this client's workers look for cancellation requests (`cancelJob`) of the
   * jobs they are running: one small query per interval while any job runs, none while idle.
   * `0` turns it off: running jobs then ignore `cancelJob` (queued jobs are still cancelled).
   * @default {1000}
   */
  cancelPollInterval?: number;
  /**
   * OpenTelemetry metrics: `gue_client_enqueue` and `gue_client_lock_job` (gue's names, units and
   * attributes), and `gue_jobs_waiting` when `queueDepth` is on. Pass
   * `meterProvider.getMeter("gue")`. @default none: no metrics
   */
  meter?: MeterLike;
  /**
   * Report `gue_jobs_waiting`, an observable gauge of the jobs per queue (`job-queue`) that are
   * due now (`state: "ready"`) or later (`state: "scheduled"`), read with one query at most once
   * per `interval`. Needs `meter`. Turn it on in one client per process. @default {false}
   */
  queueDepth?: boolean | QueueDepthOptions;
  /**
   * Wake idle workers of this client as soon as jobs are enqueued, through one LISTEN
   * connection shared by all of them, opened when the first worker starts. Turn it off where
   * LISTEN cannot work, such as behind PgBouncer in transaction mode: workers then poll every
   * `pollInterval`. Adapters that cannot LISTEN (deno-postgres) poll whatever this says.
   * @default {true}
   */
  listen?: boolean;
  /**
   * Send a notification on the `gue_jobs` channel when jobs are enqueued, so listening workers
   * (of any process) start them at once. A burst of enqueues sends a bounded number of them;
   * `enqueueTx` sends its own inside your transaction, delivered only if it commits. Jobs due
   * now that this client's own idle workers can take are handed to them directly instead, once
   * committed. `false` turns both off: enqueued jobs wait for a poll.
   * @default {true}
   */
  notify?: boolean;
}

/** A worker's poll: the job locked, or none and the queue's next `run_at` (null: none known). */
export interface Poll {
  /** The job, or `null` when none is due and unlocked. */
  job: Job | null;
  /** When no job: the earliest `runAt` of the queue's later jobs, or `null` when there are none. */
  nextRunAt: Date | null;
}

/**
 * A batch worker's poll: the jobs locked and the one transaction that holds them, or none and
 * the queue's next `run_at`.
 */
export interface BatchPoll {
  /** The transaction holding the jobs' row locks; `null` when no job was locked. */
  tx: Tx | null;
  /** The jobs, in poll order; their `tx()` throws (see `Job`'s constructor). */
  jobs: Job[];
  /** When no job: the earliest `runAt` of the queue's later jobs, or `null` when there are none. */
  nextRunAt: Date | null;
}

/** What workers use of a client beyond its public API, by client. */
const internals = new WeakMap<Client, {
  wakeup: Wakeup;
  poll(queue: string, byRunAt: boolean): Promise<Poll>;
  pollBatch(queue: string, byRunAt: boolean, limit: number): Promise<BatchPoll>;
  chainPoll(queue: string, byRunAt: boolean): NextBegin;
  chainedPoll(next: NextBegin, byRunAt: boolean): Promise<Poll | null>;
}>();

/**
 * Used by workers: a poll to send with a finished job's commit (`Job[deleteAndCommit]`), so a
 * worker that keeps finding jobs spends one round trip per job. Not part of the public API.
 *
 * @param client The client.
 * @param queue The queue.
 * @param byRunAt Earliest `runAt` first instead of priority first.
 * @returns The poll's transaction, to hand to the job.
 */
export function chainPoll(client: Client, queue: string, byRunAt: boolean): NextBegin {
  return internals.get(client)!.chainPoll(queue, byRunAt);
}

/**
 * Used by workers: the outcome of a poll sent with a commit ({@linkcode chainPoll}; `next.sent`
 * must be set), as {@linkcode pollJob} says it. Not part of the public API.
 *
 * @param client The client.
 * @param next What the job was handed.
 * @param byRunAt As given to `chainPoll`.
 * @returns The poll; `null` when its transaction could not be opened (its connection died with
 *   the commit, say): poll as usual then.
 * @throws {DatabaseError} When the lock failed.
 */
export function chainedPoll(
  client: Client,
  next: NextBegin,
  byRunAt: boolean,
): Promise<Poll | null> {
  return internals.get(client)!.chainedPoll(next, byRunAt);
}

/**
 * Used by workers: the client's wake-up registry. Not part of the public API.
 *
 * @param client The client.
 * @returns Where its idle workers wait.
 */
export function clientWakeup(client: Client): Wakeup {
  return internals.get(client)!.wakeup;
}

/**
 * Used by workers: locks the next due job like `lockJob` (or `lockNextScheduledJob` when
 * `byRunAt`), and when there is none says when the queue's next job is due, in the same
 * statement. Not part of the public API.
 *
 * @param client The client.
 * @param queue The queue.
 * @param byRunAt Earliest `runAt` first instead of priority first.
 * @returns The job, or none and the next `runAt`.
 */
export function pollJob(client: Client, queue: string, byRunAt: boolean): Promise<Poll> {
  return internals.get(client)!.poll(queue, byRunAt);
}

/**
 * Used by batch workers: locks up to `limit` due jobs in one transaction, in `pollJob`'s order,
 * and when there is none says when the queue's next job is due, in the same statement. Not part
 * of the public API.
 *
 * @param client The client.
 * @param queue The queue.
 * @param byRunAt Earliest `runAt` first instead of priority first.
 * @param limit Most jobs to lock.
 * @returns The jobs and their transaction, or none and the next `runAt`.
 */
export function pollJobBatch(
  client: Client,
  queue: string,
  byRunAt: boolean,
  limit: number,
): Promise<BatchPoll> {
  return internals.get(client)!.pollBatch(queue, byRunAt, limit);
}

const encoder = new TextEncoder();
const EMPTY = new Uint8Array(0);

function encodeArgs(args: unknown, field: string): Uint8Array {
  if (args === undefined) return EMPTY;
  if (args instanceof Uint8Array) return args;
  let text: string | undefined;
  try {
    text = JSON.stringify(args);
  } catch (err) {
    throw new TypeError(
      `${field} must be a Uint8Array or JSON-serialisable: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (text === undefined) {
    throw new TypeError(`${field} must be a Uint8Array or JSON-serialisable, got ${typeof args}`);
  }
  return encodeText(text);
}

/**
 * UTF-8 of `text`; short ASCII text (the usual JSON args) is copied byte by byte, which costs a
 * fraction of a `TextEncoder` call.
 */
function encodeText(text: string): Uint8Array {
  const n = text.length;
  if (n > 128) return encoder.encode(text);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return encoder.encode(text);
    out[i] = c;
  }
  return out;
}

function checkText(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`${field} must be a string, got ${value === null ? "null" : typeof value}`);
  }
  if (value.includes("\0")) throw new TypeError(`${field} must not contain NUL characters`);
  // A lone UTF-16 surrogate cannot be stored as UTF-8 text: it would silently become U+FFFD.
  if (!value.isWellFormed()) {
    throw new TypeError(`${field} must be well-formed Unicode, got a lone surrogate`);
  }
  return value;
}

/** Years 1 to 9999: what every driver sends as ISO 8601 text and Postgres stores as it was. */
const RUN_AT_MIN = Date.parse("0001-01-01T00:00:00.000Z");
const RUN_AT_MAX = Date.parse("9999-12-31T23:59:59.999Z");

/** Validates one job and makes its stored values; throws before any SQL runs. */
function prepareJob(
  input: JobInput,
  field: string,
  id: string,
  now: Date,
  defaultMaxAttempts: number | null,
): EnqueuedJob {
  if (input === null || typeof input !== "object") {
    throw new TypeError(`${field} must be an object with a type, got ${input}`);
  }
  if (input.type === undefined || input.type === "") throw new MissingTypeError(`${field}.type`);
  const type = checkText(input.type, `${field}.type`);
  const queue = input.queue === undefined ? "" : checkText(input.queue, `${field}.queue`);
  const priority = input.priority ?? 0;
  if (!Number.isInteger(priority) || priority < -32768 || priority > 32767) {
    throw new RangeError(
      `${field}.priority must be an integer from -32768 to 32767, got ${priority}`,
    );
  }
  let runAt = now;
  if (input.runAt !== undefined) {
    if (!(input.runAt instanceof Date) || Number.isNaN(input.runAt.getTime())) {
      throw new TypeError(`${field}.runAt must be a valid Date, got ${String(input.runAt)}`);
    }
    const ms = input.runAt.getTime();
    if (ms < RUN_AT_MIN || ms > RUN_AT_MAX) {
      throw new RangeError(
        `${field}.runAt must be between 0001-01-01 and 9999-12-31 (UTC), got ${input.runAt.toISOString()}`,
      );
    }
    runAt = input.runAt;
  }
  const maxAttempts = checkMaxAttempts(input.maxAttempts, `${field}.maxAttempts`) ??
    (input.maxAttempts === null ? null : defaultMaxAttempts);
  const uniqueKey = input.uniqueKey === undefined
    ? null
    : checkText(input.uniqueKey, `${field}.uniqueKey`);
  return {
    id,
    queue,
    priority,
    runAt,
    type,
    args: encodeArgs(input.args, `${field}.args`),
    errorCount: 0,
    lastError: null,
    createdAt: now,
    maxAttempts,
    uniqueKey,
    inserted: true,
  };
}

/**
 * Enqueues and locks jobs on one connection pool.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * await client.migrate();
 * const job = await client.enqueue({ type: "SendEmail", queue: "emails", args: { to: "a@b.c" } });
 * console.log(job.id); // 01J… (a ULID)
 * await sql.end();
 * ```
 */
export class Client {
  /** The connection pool this client runs on. */
  readonly pool: ConnPool;
  /** This client's id, in logs as `client-id`. */
  readonly id: string;
  /** This client's logger (with `client-id`). */
  readonly logger: Logger;
  /** The backoff of the jobs this client locks. */
  readonly backoff: Backoff;
  /** The `maxAttempts` of jobs enqueued without one (`null`: retried forever). */
  readonly maxAttempts: number | null;
  readonly #failurePolicy: FailurePolicy;
  readonly #ids = new MonotonicUlid();
  readonly #metrics: ClientMetrics;
  readonly #logsDebug: boolean;
  readonly #notifier: NotifyCoalescer | undefined;
  readonly #wakeup: Wakeup;
  readonly #announcesCancels: boolean;

  /**
   * Makes a client on a connection pool; nothing runs until the first call.
   *
   * @param pool A pool from an adapter, e.g. `postgresjs(sql)`.
   * @param options Id, logger, backoff, meter, queue-depth gauge.
   */
  constructor(pool: ConnPool, options: ClientOptions = {}) {
    if (
      pool === null || typeof pool !== "object" || typeof pool.begin !== "function" ||
      typeof pool.query !== "function"
    ) {
      throw new TypeError(
        "Client: pool must be a gue ConnPool; wrap your driver's pool with an adapter, " +
          "e.g. new Client(postgresjs(sql))",
      );
    }
    if (options.backoff !== undefined && typeof options.backoff !== "function") {
      throw new TypeError("Client: backoff must be a function (retries) => milliseconds");
    }
    this.pool = pool;
    this.id = options.id ?? randomStringId();
    this.logger = withFields(options.logger ?? errorLogger, { "client-id": this.id });
    this.#logsDebug = logsBelowError(this.logger);
    this.backoff = options.backoff ?? defaultExponentialBackoff;
    this.maxAttempts = checkMaxAttempts(options.maxAttempts, "Client: maxAttempts") ?? null;
    const onDiscard = options.onDiscard ?? "deadLetter";
    if (onDiscard !== "deadLetter" && onDiscard !== "delete") {
      throw new TypeError(
        `Client: onDiscard must be "deadLetter" or "delete", got ${JSON.stringify(onDiscard)}`,
      );
    }
    this.#failurePolicy = onDiscard === "deadLetter" ? DEFAULT_FAILURE_POLICY : { onDiscard };
    const cancelPollInterval = options.cancelPollInterval ?? 1000;
    if (
      typeof cancelPollInterval !== "number" || !(cancelPollInterval >= 0) ||
      !Number.isFinite(cancelPollInterval)
    ) {
      throw new RangeError(
        `Client: cancelPollInterval must be a number of ms >= 0, got ${cancelPollInterval}`,
      );
    }
    const cancelWatch = cancelPollInterval > 0
      ? new CancelWatch(pool, cancelPollInterval, this.logger)
      : undefined;
    if (cancelWatch !== undefined) setCancelWatch(this, cancelWatch);
    const meter = checkMeter(options.meter, "Client");
    this.#metrics = new ClientMetrics(meter);
    for (const key of ["listen", "notify"] as const) {
      if (options[key] !== undefined && typeof options[key] !== "boolean") {
        throw new TypeError(`Client: ${key} must be a boolean, got ${String(options[key])}`);
      }
    }
    const canListen = hasCapability(pool, "listen") && typeof pool.listen === "function";
    const listen = options.listen ?? true;
    const wakeup = new Wakeup({
      listen: listen && canListen ? pool.listen!.bind(pool) : undefined,
      pollOnlyReason: listen
        ? `the ${pool.name} adapter cannot LISTEN`
        : "listening is off (listen: false)",
      logger: this.logger,
      onCancel: cancelWatch === undefined ? undefined : (id) => cancelWatch.check(id),
    });
    this.#wakeup = wakeup;
    this.#announcesCancels = listen && canListen && options.notify !== false;
    internals.set(this, {
      wakeup,
      poll: (queue, byRunAt) => this.#poll(queue, byRunAt),
      pollBatch: (queue, byRunAt, limit) => this.#pollBatch(queue, byRunAt, limit),
      chainPoll: (queue, byRunAt) => ({
        pool: this.pool,
        text: byRunAt ? jobLockNextScheduledOrNextRunAt : jobLockNextOrNextRunAt,
        params: [checkText(queue, "queue"), new Date()],
      }),
      chainedPoll: (next, byRunAt) => this.#chainedPoll(next, byRunAt),
    });
    this.#notifier = options.notify === false
      ? undefined
      : new NotifyCoalescer(pool, jobNotify, this.logger);
    const queueDepth = options.queueDepth ?? false;
    if (queueDepth !== false) {
      if (meter === undefined) throw new TypeError("Client: queueDepth needs a meter");
      observeQueueDepth(
        meter,
        () => this.countJobs(),
        queueDepth === true ? {} : queueDepth,
        this.logger,
      );
    }
  }

  /**
   * Creates the `gue_jobs` table and our indexes, or brings them up to date. Safe to call from
   * every process at start: concurrent calls wait for each other and apply each migration once.
   *
   * @returns The migration versions this call applied.
   */
  async migrate(): Promise<number[]> {
    try {
      return await applyMigrations(this.pool, migrations);
    } catch (err) {
      throw new DatabaseError("migrate", err);
    }
  }

  /**
   * Enqueues one job.
   *
   * @param job The job; only `type` is required.
   * @returns The stored values, with `id`, `runAt` and `createdAt` filled in.
   * @throws {MissingTypeError | TypeError | RangeError} For bad input, before any SQL.
   */
  async enqueue(job: JobInput): Promise<EnqueuedJob> {
    return await this.#insertOne(job, undefined, this.pool);
  }

  /**
   * Enqueues one job inside `tx`: it exists only if `tx` commits.
   *
   * @param job The job.
   * @param tx A transaction: your own wrapped with the adapter's `tx()`, or `job.tx()`.
   * @returns The stored values.
   */
  async enqueueTx(job: JobInput, tx: Tx): Promise<EnqueuedJob> {
    return await this.#insertOne(job, undefined, checkTx(tx));
  }

  /**
   * Enqueues one job with your id, which makes enqueueing idempotent: a second job with the same
   * id fails with a {@linkcode DatabaseError} whose `code` is `23505` while the first exists.
   *
   * @param job The job.
   * @param id A ULID.
   * @returns The stored values.
   */
  async enqueueWithId(job: JobInput, id: string): Promise<EnqueuedJob> {
    return await this.#insertOne(job, parseUlid(id), this.pool);
  }

  /**
   * {@linkcode Client.enqueueWithId} inside `tx`.
   *
   * @param job The job.
   * @param id A ULID.
   * @param tx The transaction.
   * @returns The stored values.
   */
  async enqueueTxWithId(job: JobInput, id: string, tx: Tx): Promise<EnqueuedJob> {
    return await this.#insertOne(job, parseUlid(id), checkTx(tx));
  }

  /**
   * Enqueues many jobs atomically, all or none, in one statement whatever the batch's size (its
   * jobs travel as one JSON parameter, so a batch is not bound by Postgres' 65,535-parameter
   * limit). Ids follow batch order.
   *
   * @param jobs The jobs.
   * @returns Their stored values, in the same order.
   */
  async enqueueBatch(jobs: readonly JobInput[]): Promise<EnqueuedJob[]> {
    return await this.#insertMany(jobs, undefined);
  }

  /**
   * {@linkcode Client.enqueueBatch} inside `tx`.
   *
   * @param jobs The jobs.
   * @param tx The transaction.
   * @returns Their stored values, in the same order.
   */
  async enqueueBatchTx(jobs: readonly JobInput[], tx: Tx): Promise<EnqueuedJob[]> {
    return await this.#insertMany(jobs, checkTx(tx));
  }

  /**
   * Locks the next due job of `queue`, highest priority (lowest number) first, oldest first among
   * equals. The job's row stays locked until `job.done()`; other workers skip it.
   *
   * @param queue The queue (`""` is the default queue).
   * @returns The job, or `null` when none is due and unlocked.
   */
  async lockJob(queue: string): Promise<Job | null> {
    return await this.#lock("lockJob", jobLockNext, [checkText(queue, "queue"), new Date()]);
  }

  /**
   * Locks the next due job of `queue`, earliest `runAt` first, then by priority.
   *
   * @param queue The queue.
   * @returns The job, or `null` when none is due and unlocked.
   */
  async lockNextScheduledJob(queue: string): Promise<Job | null> {
    return await this.#lock("lockNextScheduledJob", jobLockNextScheduled, [
      checkText(queue, "queue"),
      new Date(),
    ]);
  }

  /**
   * Locks one job by id, in any queue, due or not.
   *
   * @param id The job's ULID.
   * @returns The job.
   * @throws {JobNotFoundError} When there is no such job, or another transaction holds it.
   */
  async lockJobById(id: string): Promise<Job> {
    const canonical = parseUlid(id);
    const job = await this.#lock("lockJobById", jobLockById, [canonical]);
    if (job === null) throw new JobNotFoundError(canonical);
    return job;
  }

  /**
   * Counts jobs per queue and state, by this client's clock: `ready` and `scheduled` (as the
   * `gue_jobs_waiting` gauge reports them), `running`, `failing` and `failed`. One query, one
   * pass over each table; it takes no locks, so workers never wait for it.
   *
   * @returns One entry per queue that has jobs (live or failed), ordered by queue.
   * @throws {DatabaseError} When the query fails.
   *
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * for (const c of await client.countJobs()) {
   *   console.log(`${c.queue || "(default)"}: ${c.ready} ready, ${c.running} running, ${c.failed} failed`);
   * }
   * await sql.end();
   * ```
   */
  async countJobs(): Promise<QueueCount[]> {
    type Row = Record<"ready" | "scheduled" | "running" | "failing" | "failed", unknown> & {
      queue: string;
    };
    let rows: Row[];
    try {
      // The client's clock decides "due", as it does when workers lock.
      rows = (await this.pool.query<Row>(jobCountByQueueAndState, [new Date()])).rows;
    } catch (err) {
      throw new DatabaseError("countJobs", err);
    }
    // count(*) is a bigint: drivers give a string, a bigint or a number.
    return rows.map((r) => ({
      queue: r.queue,
      ready: Number(r.ready),
      scheduled: Number(r.scheduled),
      running: Number(r.running),
      failing: Number(r.failing),
      failed: Number(r.failed),
    }));
  }

  /**
   * Lists jobs, a page at a time. Jobs of one queue come in the order they are due (`runAt`,
   * then priority, then id); without `queue`, and for failed jobs, in id (creation) order. Each
   * page is one index-backed query that takes no locks.
   *
   * @param options Filters (`queue`, `state`, `type`), page size (`limit`) and cursor (`after`).
   * @returns The page's jobs and the cursor of the next page (`null` after the last).
   * @throws {TypeError | RangeError} For a bad option. {DatabaseError} When the query fails.
   *
   * @example Every failed job of a queue
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * let after: string | null = null;
   * do {
   *   const page = await client.listJobs({ queue: "emails", state: "failed", after });
   *   for (const job of page.jobs) console.log(job.id, job.failReason, job.lastError);
   *   after = page.next;
   * } while (after !== null);
   * await sql.end();
   * ```
   */
  async listJobs(options: ListJobsOptions = {}): Promise<JobPage> {
    const { shape, params, limit } = listQuery(options);
    let rows: JobInfoRow[];
    try {
      rows = (await this.pool.query<JobInfoRow>(jobList(shape), [new Date(), ...params])).rows;
    } catch (err) {
      throw new DatabaseError("listJobs", err);
    }
    const more = rows.length > limit;
    if (more) rows = rows.slice(0, limit);
    const byRunAt = shape.table === "live" && shape.queue;
    return {
      jobs: rows.map(jobInfo),
      next: more ? cursorAfter(rows[rows.length - 1], byRunAt) : null,
    };
  }

  /**
   * Reads one job, live or failed, with its state. Takes no lock.
   *
   * @param id The job's id.
   * @returns The job, or `null` when it is in neither table (done, deleted, or never enqueued).
   * @throws {DatabaseError} When the query fails.
   *
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * const { id } = await client.enqueue({ type: "Report" });
   * const job = await client.getJob(id);
   * console.log(job?.state); // "ready" | "scheduled" | "running" | "failed", or undefined
   * await sql.end();
   * ```
   */
  async getJob(id: string): Promise<JobInfo | null> {
    checkText(id, "id");
    let rows: JobInfoRow[];
    try {
      rows = (await this.pool.query<JobInfoRow>(jobGet, [new Date(), id])).rows;
    } catch (err) {
      throw new DatabaseError("getJob", err);
    }
    return rows.length === 0 ? null : jobInfo(rows[0]);
  }

  /**
   * Resolves once `queue` is drained: no job due now, and none running (a running job's row
   * stays in the table until its worker commits). Jobs scheduled for later do not count. Looks
   * every `pollInterval` ms with one small index-only query.
   *
   * @param queue The queue (`""` is the default queue).
   * @param options `signal` to stop waiting (the promise then rejects with its reason),
   *   `pollInterval` in ms (default 500).
   * @throws {DatabaseError} When a query fails.
   *
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * const jobs = ["a.csv", "b.csv"].map((file) => ({ type: "Import", queue: "imports", args: { file } }));
   * await client.enqueueBatch(jobs); // a WorkerPool on "imports" elsewhere works them
   * await client.waitUntilDrained("imports", { signal: AbortSignal.timeout(60_000) });
   * await sql.end();
   * ```
   */
  async waitUntilDrained(queue: string, options: WaitUntilDrainedOptions = {}): Promise<void> {
    checkText(queue, "queue");
    const { signal } = options;
    const pollInterval = options.pollInterval ?? 500;
    if (typeof pollInterval !== "number" || !(pollInterval > 0) || !Number.isFinite(pollInterval)) {
      throw new RangeError(
        `waitUntilDrained: pollInterval must be a positive number of ms, got ${pollInterval}`,
      );
    }
    for (;;) {
      signal?.throwIfAborted();
      let busy: boolean;
      try {
        busy = (await this.pool.query<{ busy: boolean }>(jobQueueBusy, [queue, new Date()]))
          .rows[0].busy;
      } catch (err) {
        throw new DatabaseError("waitUntilDrained", err);
      }
      if (!busy) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        };
        const timer = setTimeout(done, pollInterval);
        signal?.addEventListener("abort", done, { once: true });
      });
    }
  }

  /**
   * Cancels a job. A queued job (not running) moves to the failed jobs at once, with reason
   * `"cancelled"`: it never runs. A running job gets a cancellation request: its worker sees it
   * at once when this client listens (the request is announced with `cancel|<id>` on the
   * wake-up channel, in the same statement, and the worker's client checks when it hears it),
   * and within its client's `cancelPollInterval` otherwise (an adapter that cannot listen,
   * `listen: false`, `notify: false`, a missed notification). It aborts the handler's
   * `ctx.signal` with a `JobCancelledError`, rolls back what the handler wrote through
   * `job.tx()`, and moves the job to the failed jobs as `"cancelled"` — not retried, whatever
   * the handler then does.
   *
   * @param id The job's id.
   * @returns `"cancelled"` (it was queued and is now failed), `"requested"` (it is running; its
   *   worker will stop it), or `"absent"` (no such live job: done, already failed, or unknown).
   * @throws {DatabaseError} When a query fails.
   *
   * @example
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * const job = await client.enqueue({ type: "Export", args: { report: 7 } });
   * console.log(await client.cancelJob(job.id)); // "cancelled"
   * await sql.end();
   * ```
   */
  async cancelJob(id: string): Promise<CancelResult> {
    const canonical = parseUlid(id);
    let job: Job | undefined;
    try {
      job = await this.lockJobById(canonical);
    } catch (err) {
      if (!(err instanceof JobNotFoundError)) throw err;
    }
    if (job !== undefined) {
      try {
        await job.tx().query(jobMoveToFailed, [
          job.id,
          job.errorCount,
          `job ${job.id} was cancelled`,
          new Date(),
          "cancelled",
        ]);
      } catch (err) {
        await job[rollbackJob]().catch(() => {});
        throw new DatabaseError("cancelJob", err);
      }
      await job.done();
      return "cancelled";
    }
    // Locked by another transaction (a worker's), or gone.
    try {
      const { rows } = await this.pool.query<{ live: boolean }>(
        this.#announcesCancels ? jobCancellationRequestNotify : jobCancellationRequest,
        [canonical, new Date()],
      );
      return rows[0].live ? "requested" : "absent";
    } catch (err) {
      throw new DatabaseError("cancelJob", err);
    }
  }

  /**
   * Moves a failed job back into its queue to run again: its error count starts again from 0,
   * so it gets all its attempts; its last error is kept until its next failure.
   *
   * @param id The failed job's id.
   * @param options `runAt`: when to run it. @default now
   * @returns Whether a failed job with that id was moved.
   * @throws {DatabaseError} When the move fails, e.g. `code` `23505` when a live job holds its
   *   unique key.
   */
  async retryFailedJob(id: string, options: { runAt?: Date } = {}): Promise<boolean> {
    checkText(id, "id");
    const now = new Date();
    const runAt = options.runAt ?? now;
    if (!(runAt instanceof Date) || Number.isNaN(runAt.getTime())) {
      throw new TypeError(`retryFailedJob: runAt must be a valid Date, got ${String(runAt)}`);
    }
    try {
      return (await this.pool.query(failedJobRetry, [id, runAt, now])).rowCount === 1;
    } catch (err) {
      throw new DatabaseError("retryFailedJob", err);
    }
  }

  /**
   * Deletes a failed job for good.
   *
   * @param id The failed job's id.
   * @returns Whether there was one.
   * @throws {DatabaseError} When the delete fails.
   */
  async deleteFailedJob(id: string): Promise<boolean> {
    checkText(id, "id");
    try {
      return (await this.pool.query(failedJobDelete, [id])).rowCount === 1;
    } catch (err) {
      throw new DatabaseError("deleteFailedJob", err);
    }
  }

  /**
   * Deletes the failed jobs that failed before a time: run it now and then to keep failures for a
   * retention period.
   *
   * @param olderThan A retention period in ms (failed longer ago than that), or a `Date`.
   * @returns How many were deleted.
   * @throws {DatabaseError} When the delete fails.
   *
   * @example Keep failures for 7 days
   * ```ts
   * import postgres from "postgres";
   * import { Client } from "@gue/gue";
   * import { postgresjs } from "@gue/gue/adapters/postgresjs";
   *
   * const sql = postgres(Deno.env.get("DATABASE_URL")!);
   * const client = new Client(postgresjs(sql));
   * await client.pruneFailedJobs(7 * 24 * 3600_000);
   * await sql.end();
   * ```
   */
  async pruneFailedJobs(olderThan: number | Date): Promise<number> {
    let before: Date;
    if (olderThan instanceof Date && !Number.isNaN(olderThan.getTime())) before = olderThan;
    else if (typeof olderThan === "number" && olderThan >= 0 && Number.isFinite(olderThan)) {
      before = new Date(Date.now() - olderThan);
    } else {
      throw new TypeError(
        `pruneFailedJobs: olderThan must be a number of ms >= 0 or a valid Date, got ${
          String(olderThan)
        }`,
      );
    }
    try {
      return (await this.pool.query(failedJobPrune, [before])).rowCount;
    } catch (err) {
      throw new DatabaseError("pruneFailedJobs", err);
    }
  }

  /** See {@linkcode pollJob}. */
  async #poll(queue: string, byRunAt: boolean): Promise<Poll> {
    const poll: Poll = { job: null, nextRunAt: null };
    poll.job = await this.#lock(
      byRunAt ? "lockNextScheduledJob" : "lockJob",
      byRunAt ? jobLockNextScheduledOrNextRunAt : jobLockNextOrNextRunAt,
      [checkText(queue, "queue"), new Date()],
      poll,
    );
    return poll;
  }

  /** See {@linkcode chainedPoll}. */
  async #chainedPoll(next: NextBegin, byRunAt: boolean): Promise<Poll | null> {
    const poll: Poll = { job: null, nextRunAt: null };
    try {
      poll.job = await this.#lock(
        byRunAt ? "lockNextScheduledJob" : "lockJob",
        next.text,
        next.params,
        poll,
        next.sent as Promise<{ tx: Tx; result: QueryResult<JobRow> }>,
      );
    } catch (err) {
      if (err instanceof BeginError) return null;
      throw err;
    }
    return poll;
  }

  /** See {@linkcode pollJobBatch}. */
  async #pollBatch(queue: string, byRunAt: boolean, limit: number): Promise<BatchPoll> {
    const operation = byRunAt ? "lockNextScheduledJob" : "lockJob";
    const params = [checkText(queue, "queue"), new Date()];
    let tx: Tx;
    let rows: JobPollRow[];
    try {
      ({ tx, result: { rows } } = await beginWith<JobPollRow>(
        this.pool,
        jobLockBatchOrNextRunAt(limit, byRunAt),
        params,
      ));
    } catch (err) {
      if (!(err instanceof BeginError)) throw new DatabaseError(operation, err);
      this.#metrics.beginFailed();
      throw new DatabaseError(operation, err.cause);
    }
    if (rows.length === 0 || rows[0].job_id === null) {
      const next = rows[0]?.next_run_at;
      await tx.rollback().catch(() => {});
      return { tx: null, jobs: [], nextRunAt: next == null ? null : new Date(next) };
    }
    const jobs = new Array<Job>(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as JobRow;
      this.#metrics.locked(row.job_type);
      jobs[i] = new Job(row, null, this.backoff, this.logger, this.#failurePolicy);
    }
    return { tx, jobs, nextRunAt: null };
  }

  async #lock(
    operation: string,
    text: string,
    params: unknown[],
    poll?: Poll,
    sent?: Promise<{ tx: Tx; result: QueryResult<JobRow> }>,
  ): Promise<Job | null> {
    // BEGIN and the lock in one round trip where the adapter pipelines (pipelining.ts), or
    // sent already with the last job's commit (`sent`).
    let tx: Tx;
    let rows: JobRow[];
    try {
      ({ tx, result: { rows } } = await (sent ?? beginWith<JobRow>(this.pool, text, params)));
    } catch (err) {
      if (!(err instanceof BeginError)) throw new DatabaseError(operation, err);
      // A chained transaction that could not be opened: the caller polls as usual.
      if (sent !== undefined) throw err;
      this.#metrics.beginFailed();
      throw new DatabaseError(operation, err.cause);
    }
    if (rows.length === 0 || (rows[0] as JobRow | JobPollRow).job_id === null) {
      // The poll statements answer "no job" with a row that says when the next one is due.
      const next = (rows[0] as JobPollRow | undefined)?.next_run_at;
      if (poll !== undefined && next != null) poll.nextRunAt = new Date(next);
      await tx.rollback().catch(() => {});
      return null;
    }
    this.#metrics.locked(rows[0].job_type);
    return new Job(rows[0], tx, this.backoff, this.logger, this.#failurePolicy);
  }

  async #insertOne(job: JobInput, id: string | undefined, on: Queryable): Promise<EnqueuedJob> {
    const now = new Date();
    const data = prepareJob(job, "job", id ?? this.#ids.next(now.getTime()), now, this.maxAttempts);
    const [stored] = await this.#insert([data], on, "enqueue");
    return stored;
  }

  async #insertMany(jobs: readonly JobInput[], tx: Tx | undefined): Promise<EnqueuedJob[]> {
    if (!Array.isArray(jobs)) throw new TypeError("jobs must be an array");
    if (jobs.length === 0) return [];
    const now = new Date();
    const data = jobs.map((job, i) =>
      prepareJob(job, `jobs[${i}]`, this.#ids.next(now.getTime()), now, this.maxAttempts)
    );
    // One statement at any size: all or none without a transaction of our own.
    return await this.#insert(data, tx ?? this.pool, "enqueueBatch");
  }

  /**
   * Inserts jobs in one statement: gue's for one job, a JSON-bound one for a batch, ours for
   * jobs that use our columns (attempts, unique keys).
   *
   * @returns The jobs as stored: a job whose unique key a live job holds is that job.
   */
  async #insert(data: EnqueuedJob[], on: Queryable, operation: string): Promise<EnqueuedJob[]> {
    let failure: unknown;
    let text: string;
    let params: unknown[];
    const own = usesOwnColumns(data);
    if (own) {
      text = jobInsertOwn;
      params = jobInsertBatchParams(data, true);
    } else if (data.length === 1) {
      const j = data[0];
      text = jobInsert(1);
      params = [j.id, j.queue, j.priority, j.runAt, j.type, j.args, j.createdAt, j.createdAt];
    } else {
      text = jobInsertBatch;
      params = jobInsertBatchParams(data);
    }
    // On the pool, jobs due now go to this client's own idle workers first, once committed,
    // with no NOTIFY; the rest notify with at most one notifying statement in flight and one
    // per gap (see notify.ts). In the caller's transaction, always its own NOTIFY, delivered
    // only if that transaction commits.
    const ownTx = on === this.pool;
    let notices: Notice[] = [];
    let handOff: Notice[] = [];
    if (this.#notifier !== undefined) {
      notices = noticesFor(data, data[0].createdAt.getTime());
      if (ownTx) {
        [handOff, notices] = splitForIdle(notices, (q) => this.#wakeup.idleWorkers(q));
        notices = this.#notifier.claim(notices);
      }
    }
    let inserted: { job_id: string }[] = [];
    try {
      if (notices.length === 0) inserted = (await on.query<{ job_id: string }>(text, params)).rows;
      else {
        inserted = (await on.query<{ job_id: string }>(
          own
            ? jobInsertOwnNotify(notices.length)
            : jobInsertNotify(text, params.length, notices.length),
          [...params, ...notices.map(noticePayload)],
        )).rows;
      }
    } catch (err) {
      failure = new DatabaseError(operation, err);
    } finally {
      // Our INSERT notifies only when it inserted a row (all skipped for their keys: none).
      const delivered = failure === undefined && (!own || inserted.length > 0);
      if (ownTx && this.#notifier !== undefined) {
        this.#notifier.release(notices.length > 0, delivered);
        if (delivered) this.#handOff(handOff, this.#notifier);
      }
    }
    this.#metrics.enqueued(data, failure === undefined);
    if (this.#logsDebug) {
      for (const j of data) {
        safeLog(this.logger, "debug", "Tried to enqueue a job", {
          error: failure,
          queue: j.queue,
          id: j.id,
        });
      }
    }
    if (failure !== undefined) throw failure;
    if (!own || inserted.length === data.length) return data;
    return await this.#keyHolders(data, new Set(inserted.map((r) => r.job_id)), on, operation);
  }

  /**
   * Wakes this client's idle workers for committed jobs due now; what they cannot take (they
   * went busy since the INSERT was sent) is told to everyone by NOTIFY after all.
   */
  #handOff(notices: Notice[], notifier: NotifyCoalescer): void {
    const left: Notice[] = [];
    for (const n of notices) {
      const woken = this.#wakeup.wakeIdle(n.queue!, n.count);
      if (woken < n.count) left.push({ ...n, count: n.count - woken });
    }
    if (left.length > 0) notifier.defer(left);
  }

  /**
   * The jobs of an insert that skipped some for their unique keys: each skipped job is replaced
   * by the live job holding its key. A holder that finished in between leaves its key free, and
   * the job is inserted again (a few times at most: each retry means another job ran to its end).
   */
  async #keyHolders(
    data: EnqueuedJob[],
    inserted: Set<string>,
    on: Queryable,
    operation: string,
    retries = 8,
  ): Promise<EnqueuedJob[]> {
    const skipped = data.filter((j) => !inserted.has(j.id));
    let rows: (JobRow & { unique_key: string })[];
    try {
      rows = (await on.query<JobRow & { unique_key: string }>(jobByUniqueKeys, [
        JSON.stringify(skipped.map((j) => j.uniqueKey)),
      ])).rows;
    } catch (err) {
      throw new DatabaseError(operation, err);
    }
    const holders = new Map(rows.map((r) => [r.unique_key, r]));
    const again = skipped.filter((j) => !holders.has(j.uniqueKey!));
    let reinserted = new Map<string, EnqueuedJob>();
    if (again.length > 0) {
      if (retries === 0) {
        throw new DatabaseError(
          operation,
          new Error("unique keys kept changing hands while enqueueing; try again"),
        );
      }
      const stored = await this.#insert(again, on, operation);
      reinserted = new Map(again.map((j, i) => [j.id, stored[i]]));
    }
    return data.map((j) => {
      if (inserted.has(j.id)) return j;
      const holder = holders.get(j.uniqueKey!);
      return holder === undefined ? reinserted.get(j.id)! : storedJob(holder);
    });
  }
}

/** Whether any job needs our columns, so our INSERT rather than gue's. */
function usesOwnColumns(data: readonly EnqueuedJob[]): boolean {
  for (const j of data) if (j.maxAttempts != null || j.uniqueKey != null) return true;
  return false;
}

/** A live job as {@linkcode Client.enqueue} gives one it did not insert. */
function storedJob(row: JobRow & { unique_key: string }): EnqueuedJob {
  return {
    id: row.job_id,
    queue: row.queue,
    priority: row.priority,
    runAt: new Date(row.run_at),
    type: row.job_type,
    args: row.args,
    errorCount: row.error_count,
    lastError: row.last_error,
    createdAt: new Date(row.created_at),
    maxAttempts: row.max_attempts,
    uniqueKey: row.unique_key,
    inserted: false,
  };
}

function checkTx(tx: Tx): Tx {
  if (tx === null || typeof tx !== "object" || typeof tx.query !== "function") {
    throw new TypeError(
      "tx must be a gue Tx: wrap your driver's transaction with the adapter, e.g. postgresjs.tx(tx)",
    );
  }
  return tx;
}
