/**
 * The client: enqueues jobs and locks them. Workers use it to take jobs; applications use it to
 * add them, inside their own transactions when the job must exist only if their write commits.
 *
 * @module
 */
import type { ConnPool, Queryable, Tx } from "./adapter.ts";
import { type Backoff, defaultExponentialBackoff } from "./backoff.ts";
import { DatabaseError, JobNotFoundError, MissingTypeError } from "./errors.ts";
import { MonotonicUlid, parseUlid, randomStringId } from "./id.ts";
import { Job, type JobData } from "./job.ts";
import { errorLogger, type Logger, logsBelowError, safeLog, withFields } from "./logger.ts";
import { applyMigrations } from "./migrate.ts";
import { migrations } from "./migrations.ts";
import {
  JOB_INSERT_MAX_ROWS,
  JOB_INSERT_PARAMS,
  jobCountByQueue,
  jobInsert,
  jobLockById,
  jobLockNext,
  jobLockNextScheduled,
  type JobRow,
} from "./sql.ts";
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
}

/** The jobs of one queue in `gue_jobs`, as {@linkcode Client.countJobs} counts them. */
export interface QueueCount {
  /** The queue (`""` is the default queue). */
  readonly queue: string;
  /** Jobs due now (`runAt` at or before the client's clock), including those being worked. */
  readonly ready: number;
  /** Jobs due later. */
  readonly scheduled: number;
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
  return encoder.encode(text);
}

function checkText(value: unknown, field: string): string {
  if (typeof value !== "string") {
    throw new TypeError(`${field} must be a string, got ${value === null ? "null" : typeof value}`);
  }
  if (value.includes("\0")) throw new TypeError(`${field} must not contain NUL characters`);
  return value;
}

/** Validates one job and makes its stored values; throws before any SQL runs. */
function prepareJob(input: JobInput, field: string, id: string, now: Date): JobData {
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
    runAt = input.runAt;
  }
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
  };
}

/**
 * Enqueues and locks jobs on one connection pool.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const client = new Client(postgresjs(postgres(Deno.env.get("DATABASE_URL")!)));
 * await client.migrate();
 * const job = await client.enqueue({ type: "SendEmail", queue: "emails", args: { to: "a@b.c" } });
 * console.log(job.id); // 01J… (a ULID)
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
  readonly #ids = new MonotonicUlid();
  readonly #metrics: ClientMetrics;
  readonly #logsDebug: boolean;

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
    const meter = checkMeter(options.meter, "Client");
    this.#metrics = new ClientMetrics(meter);
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
  async enqueue(job: JobInput): Promise<JobData> {
    return await this.#insertOne(job, undefined, this.pool);
  }

  /**
   * Enqueues one job inside `tx`: it exists only if `tx` commits.
   *
   * @param job The job.
   * @param tx A transaction: your own wrapped with the adapter's `tx()`, or `job.tx()`.
   * @returns The stored values.
   */
  async enqueueTx(job: JobInput, tx: Tx): Promise<JobData> {
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
  async enqueueWithId(job: JobInput, id: string): Promise<JobData> {
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
  async enqueueTxWithId(job: JobInput, id: string, tx: Tx): Promise<JobData> {
    return await this.#insertOne(job, parseUlid(id), checkTx(tx));
  }

  /**
   * Enqueues many jobs atomically: all or none. Any size works; past Postgres' parameter limit
   * the batch is split into several statements inside one transaction. Ids follow batch order.
   *
   * @param jobs The jobs.
   * @returns Their stored values, in the same order.
   */
  async enqueueBatch(jobs: readonly JobInput[]): Promise<JobData[]> {
    return await this.#insertMany(jobs, undefined);
  }

  /**
   * {@linkcode Client.enqueueBatch} inside `tx`.
   *
   * @param jobs The jobs.
   * @param tx The transaction.
   * @returns Their stored values, in the same order.
   */
  async enqueueBatchTx(jobs: readonly JobInput[], tx: Tx): Promise<JobData[]> {
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
   * Counts the jobs in `gue_jobs` per queue: due now (`ready`, which includes jobs being worked,
   * whose rows are locked) and due later (`scheduled`), by this client's clock. One query over
   * the table that takes no locks; queues without jobs are absent.
   *
   * @returns One entry per queue that has jobs, ordered by queue.
   * @throws {DatabaseError} When the query fails.
   *
   * @example
   * ```ts ignore
   * for (const { queue, ready, scheduled } of await client.countJobs()) {
   *   console.log(`${queue || "(default)"}: ${ready} ready, ${scheduled} scheduled`);
   * }
   * ```
   */
  async countJobs(): Promise<QueueCount[]> {
    let rows: { queue: string; ready: unknown; scheduled: unknown }[];
    try {
      // The client's clock decides "due", as it does when workers lock.
      rows = (await this.pool.query<{ queue: string; ready: unknown; scheduled: unknown }>(
        jobCountByQueue,
        [new Date()],
      )).rows;
    } catch (err) {
      throw new DatabaseError("countJobs", err);
    }
    // count(*) is a bigint: drivers give a string, a bigint or a number.
    return rows.map((r) => ({
      queue: r.queue,
      ready: Number(r.ready),
      scheduled: Number(r.scheduled),
    }));
  }

  async #lock(operation: string, text: string, params: unknown[]): Promise<Job | null> {
    let tx: Tx;
    try {
      tx = await this.pool.begin();
    } catch (err) {
      this.#metrics.beginFailed();
      throw new DatabaseError(operation, err);
    }
    let rows: JobRow[];
    try {
      rows = (await tx.query<JobRow>(text, params)).rows;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw new DatabaseError(operation, err);
    }
    if (rows.length === 0) {
      await tx.rollback().catch(() => {});
      return null;
    }
    this.#metrics.locked(rows[0].job_type);
    return new Job(rows[0], tx, this.backoff, this.logger);
  }

  async #insertOne(job: JobInput, id: string | undefined, on: Queryable): Promise<JobData> {
    const now = new Date();
    const data = prepareJob(job, "job", id ?? this.#ids.next(now.getTime()), now);
    await this.#insert([data], on, "enqueue");
    return data;
  }

  async #insertMany(jobs: readonly JobInput[], tx: Tx | undefined): Promise<JobData[]> {
    if (!Array.isArray(jobs)) throw new TypeError("jobs must be an array");
    if (jobs.length === 0) return [];
    const now = new Date();
    const data = jobs.map((job, i) =>
      prepareJob(job, `jobs[${i}]`, this.#ids.next(now.getTime()), now)
    );
    if (tx !== undefined || data.length <= JOB_INSERT_MAX_ROWS) {
      await this.#insert(data, tx ?? this.pool, "enqueueBatch");
      return data;
    }
    // Too many parameters for one statement: several statements, one transaction, all or none.
    let own: Tx;
    try {
      own = await this.pool.begin();
    } catch (err) {
      throw new DatabaseError("enqueueBatch", err);
    }
    try {
      await this.#insert(data, own, "enqueueBatch");
      await own.commit();
    } catch (err) {
      await own.rollback().catch(() => {});
      throw err instanceof DatabaseError ? err : new DatabaseError("enqueueBatch", err);
    }
    return data;
  }

  /** Inserts jobs in statements of at most {@linkcode JOB_INSERT_MAX_ROWS} rows. */
  async #insert(data: JobData[], on: Queryable, operation: string): Promise<void> {
    let failure: unknown;
    try {
      for (let start = 0; start < data.length; start += JOB_INSERT_MAX_ROWS) {
        const chunk = data.slice(start, start + JOB_INSERT_MAX_ROWS);
        const params = new Array<unknown>(chunk.length * JOB_INSERT_PARAMS);
        let p = 0;
        for (const j of chunk) {
          params[p++] = j.id;
          params[p++] = j.queue;
          params[p++] = j.priority;
          params[p++] = j.runAt;
          params[p++] = j.type;
          params[p++] = j.args;
          params[p++] = j.createdAt;
          params[p++] = j.createdAt;
        }
        await on.query(jobInsert(chunk.length), params);
      }
    } catch (err) {
      failure = new DatabaseError(operation, err);
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
  }
}

function checkTx(tx: Tx): Tx {
  if (tx === null || typeof tx !== "object" || typeof tx.query !== "function") {
    throw new TypeError(
      "tx must be a gue Tx: wrap your driver's transaction with the adapter, e.g. postgresjs.tx(tx)",
    );
  }
  return tx;
}
