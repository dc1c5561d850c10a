/**
 * # gue for Deno and Bun
 *
 * A job queue on PostgreSQL with Go gue v5's semantics: a worker locks one job row with
 * `FOR UPDATE SKIP LOCKED` inside a transaction, runs the handler while the transaction stays
 * open, then deletes the job (success) or reschedules it (failure) and commits. A crashed worker's
 * transaction rolls back, so its job is free again at once: no leases, no reaper. Enqueue inside
 * your own transaction and the job exists only if your write commits. The `gue_jobs` table is
 * gue v5's, so Go and TypeScript workers can share a queue.
 *
 * @example Enqueue a job, work it, stop
 * ```ts
 * import postgres from "postgres";
 * import { Client, WorkerPool } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(process.env.DATABASE_URL!);
 * const client = new Client(postgresjs(sql));
 * await client.migrate(); // creates the gue_jobs table once
 *
 * const stop = new AbortController();
 * const pool = new WorkerPool(client, {
 *   PrintName: (job) => {
 *     console.log(`Hello ${job.json<{ name: string }>().name}!`);
 *     stop.abort(); // this example stops after one job
 *   },
 * }, 2, { queue: "name_printer", pollInterval: 500 });
 * const running = pool.run(stop.signal);
 *
 * await client.enqueue({ type: "PrintName", queue: "name_printer", args: { name: "gue" } });
 * await running; // the workers have stopped, the job's result committed
 * await sql.end(); // close the connections, or the process keeps running
 * ```
 *
 * @module
 */
export type {
  AdapterCapabilities,
  ConnPool,
  ListenConnection,
  PipelinedTx,
  Queryable,
  QueryResult,
  Tx,
} from "./src/adapter.ts";
export {
  type Backoff,
  backoffNever,
  constantBackoff,
  defaultExponentialBackoff,
  exponentialBackoff,
  type ExponentialBackoffOptions,
} from "./src/backoff.ts";
export {
  type CancelResult,
  Client,
  type ClientOptions,
  type EnqueuedJob,
  type JobInput,
  type QueueCount,
} from "./src/client.ts";
export {
  DeadLetterError,
  InvalidJobArgsError,
  JobCancelledError,
  type OnDiscard,
} from "./src/dead_letter.ts";
export {
  DatabaseError,
  discardJob,
  DiscardJobError,
  JobNotFoundError,
  MissingTypeError,
  rescheduleJobAt,
  RescheduleJobError,
  rescheduleJobIn,
  UnknownJobTypeError,
} from "./src/errors.ts";
export { type CronJob, CronScheduler, type CronSchedulerOptions } from "./src/cron.ts";
export { randomStringId } from "./src/id.ts";
export {
  defineJob,
  type InferInput,
  type InferOutput,
  type JobType,
  type JobTypeOptions,
  type StandardSchemaIssue,
  type StandardSchemaResult,
  type StandardSchemaV1,
  type TypedWorkFunc,
} from "./src/job_type.ts";
export { Job, type JobData, JobPriority } from "./src/job.ts";
export type {
  FailReason,
  JobInfo,
  JobPage,
  JobState,
  JobStateFilter,
  ListJobsOptions,
  WaitUntilDrainedOptions,
} from "./src/inspect.ts";
export {
  errorLogger,
  jsonLogger,
  type LogFields,
  type Logger,
  type LogLevel,
  noopLogger,
} from "./src/logger.ts";
export { BATCH_SIZE_MAX, type BatchOptions } from "./src/batch_worker.ts";
export { WorkerPool, type WorkerPoolOptions } from "./src/pool.ts";
export { runLock, type RunState } from "./src/run_lock.ts";
export type {
  InstrumentOptions,
  MeterLike,
  SpanStartOptions,
  TracerLike,
} from "./src/telemetry/options.ts";
export type { QueueDepthOptions } from "./src/telemetry/queue_depth.ts";
export {
  type HookFunc,
  type PollStrategy,
  type WorkContext,
  Worker,
  WORKER_IDX_UNKNOWN,
  type WorkerHooks,
  type WorkerOptions,
  type WorkFunc,
  type WorkMap,
} from "./src/worker.ts";
