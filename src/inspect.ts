/**
 * Seeing the queue: the types of `client.countJobs()`, `client.listJobs()` and
 * `client.getJob()`, and how their rows and cursors are read.
 *
 * @module
 */
import type { JobData } from "./job.ts";
import type { JobInfoRow, JobListShape } from "./sql.ts";

/** A job's state. A job is in exactly one. */
export type JobState =
  /** In `gue_jobs`, due now, not running. */
  | "ready"
  /** In `gue_jobs`, due later. */
  | "scheduled"
  /** In `gue_jobs`, its row locked by an open transaction: a worker is running it. */
  | "running"
  /** In `gue_failed_jobs`: dead-lettered (see {@linkcode FailReason}). */
  | "failed";

/** What {@linkcode Client.listJobs} can filter on: a state, or `"failing"`. */
export type JobStateFilter = JobState | "failing";

/**
 * Why a job was dead-lettered: it used up its attempts (`"exhausted"`), its handler discarded
 * it or its backoff gave up (`"discarded"`), it was cancelled (`"cancelled"`), or its args
 * failed its job type's validation (`"invalid"`).
 */
export type FailReason = "exhausted" | "discarded" | "cancelled" | "invalid";

/**
 * A job as stored, with its state: what {@linkcode Client.getJob} and `listJobs` give. For a
 * failed job, `runAt` is when it was last due.
 */
export interface JobInfo extends JobData {
  /** When it last changed (enqueued, failed, moved). */
  readonly updatedAt: Date;
  /** Attempts allowed in all, or `null` for retrying forever (gue's behaviour). */
  readonly maxAttempts: number | null;
  /** Its unique key, or `null`. */
  readonly uniqueKey: string | null;
  /** Its state when read. */
  readonly state: JobState;
  /** When it was dead-lettered; `null` unless `state` is `"failed"`. */
  readonly failedAt: Date | null;
  /** Why it was dead-lettered; `null` unless `state` is `"failed"`. */
  readonly failReason: FailReason | null;
  /**
   * Decodes `args` as UTF-8 JSON (a cast, not validation).
   *
   * @returns The value, or `undefined` for empty args.
   */
  json<T = unknown>(): T;
}

/** Options of {@linkcode Client.listJobs}. */
export interface ListJobsOptions {
  /** Only this queue. @default every queue */
  queue?: string;
  /**
   * Only jobs in this state; `"failing"` is jobs with failures that are waiting to be retried
   * (in `gue_jobs`, `errorCount > 0`, not running). @default every job in `gue_jobs` (failed
   * jobs are listed with `"failed"` only)
   */
  state?: JobStateFilter;
  /** Only this job type. @default every type */
  type?: string;
  /** Jobs per page, 1 to 1000. @default {100} */
  limit?: number;
  /** The `next` cursor of the previous page, with the same filters. @default the first page */
  after?: string | null;
}

/** A page of {@linkcode Client.listJobs}. */
export interface JobPage {
  /** The jobs, in the list's order. */
  jobs: JobInfo[];
  /** Pass as `after` for the next page; `null` on the last page. */
  next: string | null;
}

/** Options of {@linkcode Client.waitUntilDrained}. */
export interface WaitUntilDrainedOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** How often to look, in ms. @default {500} */
  pollInterval?: number;
}

const decoder = new TextDecoder();
const STATES = ["ready", "scheduled", "running", "failing", "failed"];

class StoredJob implements JobInfo {
  readonly id: string;
  readonly queue: string;
  readonly priority: number;
  readonly runAt: Date;
  readonly type: string;
  readonly args: Uint8Array;
  readonly errorCount: number;
  readonly lastError: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly maxAttempts: number | null;
  readonly uniqueKey: string | null;
  readonly state: JobState;
  readonly failedAt: Date | null;
  readonly failReason: FailReason | null;

  constructor(r: JobInfoRow) {
    this.id = r.job_id;
    this.queue = r.queue;
    this.priority = Number(r.priority);
    this.runAt = new Date(r.run_at);
    this.type = r.job_type;
    this.args = r.args;
    this.errorCount = Number(r.error_count);
    this.lastError = r.last_error;
    this.createdAt = new Date(r.created_at);
    this.updatedAt = new Date(r.updated_at);
    this.maxAttempts = r.max_attempts === null ? null : Number(r.max_attempts);
    this.uniqueKey = r.unique_key;
    this.state = r.state;
    this.failedAt = r.failed_at === null ? null : new Date(r.failed_at);
    this.failReason = r.fail_reason as FailReason | null;
  }

  json<T = unknown>(): T {
    if (this.args.length === 0) return undefined as T;
    return JSON.parse(decoder.decode(this.args)) as T;
  }
}

/** Makes a {@linkcode JobInfo} from a row of `jobList`/`jobGet`. */
export function jobInfo(row: JobInfoRow): JobInfo {
  return new StoredJob(row);
}

/** The checked options of a list: its SQL shape and parameters. */
export interface ListQuery {
  shape: JobListShape;
  /** Parameters after `$1` (the clock): limit, queue, type, cursor. */
  params: unknown[];
  limit: number;
}

/**
 * Checks `listJobs` options and turns them into a statement shape and parameters.
 *
 * @param options The caller's options.
 * @returns The shape and the parameters from `$2` on.
 * @throws {TypeError | RangeError} For a bad option, naming it.
 */
export function listQuery(options: ListJobsOptions): ListQuery {
  if (options === null || typeof options !== "object") {
    throw new TypeError("listJobs: options must be an object");
  }
  const { queue, state, type, after } = options;
  const limit = options.limit ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new RangeError(`listJobs: limit must be an integer from 1 to 1000, got ${limit}`);
  }
  if (queue !== undefined && typeof queue !== "string") {
    throw new TypeError(`listJobs: queue must be a string, got ${typeof queue}`);
  }
  if (type !== undefined && typeof type !== "string") {
    throw new TypeError(`listJobs: type must be a string, got ${typeof type}`);
  }
  if (state !== undefined && !STATES.includes(state)) {
    throw new TypeError(
      `listJobs: state must be one of ${STATES.join(", ")}, got ${JSON.stringify(state)}`,
    );
  }
  const table = state === "failed" ? "failed" : "live";
  const byRunAt = table === "live" && queue !== undefined;
  // The limit is fetched plus one, to know whether there is a next page.
  const params: unknown[] = [limit + 1];
  if (queue !== undefined) params.push(queue);
  if (type !== undefined) params.push(type);
  const hasAfter = after !== undefined && after !== null;
  if (hasAfter) params.push(...parseCursor(after, byRunAt));
  return {
    shape: {
      table,
      state: state === "failed" ? undefined : state,
      queue: queue !== undefined,
      type: type !== undefined,
      after: hasAfter,
    },
    params,
    limit,
  };
}

/** The cursor after `row` in a list of the given order. */
export function cursorAfter(row: JobInfoRow, byRunAt: boolean): string {
  return byRunAt ? `${row.run_at_us}.${Number(row.priority)}.${row.job_id}` : row.job_id;
}

function parseCursor(after: unknown, byRunAt: boolean): unknown[] {
  if (typeof after === "string") {
    if (!byRunAt && after !== "") return [after];
    const m = byRunAt ? after.match(/^(-?\d{1,19})\.(-?\d{1,5})\.([^]+)$/) : null;
    if (m) return [m[1], Number(m[2]), m[3]];
  }
  throw new TypeError(
    `listJobs: after must be the next cursor of a page listed with the same queue and state, got ${
      JSON.stringify(after)
    }`,
  );
}
