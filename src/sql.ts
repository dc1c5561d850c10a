/**
 * Every SQL statement the library runs, in one place, named after its operation. The method that
 * runs a statement carries the same name, so one search finds a statement and all its callers.
 * Statements are gue v5's (spec §2) except where DESIGN.md says otherwise.
 *
 * @module
 */

/** gue's columns, then ours (`max_attempts`: a row Go gue inserted has NULL, retried forever). */
const JOB_COLUMNS =
  "job_id, queue, priority, run_at, job_type, args, error_count, last_error, created_at, max_attempts";

/** Parameters per job in {@linkcode jobInsert}. */
export const JOB_INSERT_PARAMS = 8;

/**
 * Most jobs one {@linkcode jobInsert} could hold: Postgres binds at most 65,535 parameters per
 * statement. Batches use {@linkcode jobInsertBatch}, which has no such limit.
 */
export const JOB_INSERT_MAX_ROWS = Math.floor(65_535 / JOB_INSERT_PARAMS);

const insertTexts = new Map<number, string>();

/**
 * INSERT of `rows` jobs, gue's text: `(job_id, queue, priority, run_at, job_type, args,
 * created_at, updated_at)` per row. Texts are cached per row count.
 */
export function jobInsert(rows: number): string {
  let text = insertTexts.get(rows);
  if (text === undefined) {
    const tuples: string[] = [];
    for (let i = 0; i < rows; i++) {
      const p = i * JOB_INSERT_PARAMS;
      tuples.push(
        `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}, $${p + 8})`,
      );
    }
    text = "INSERT INTO gue_jobs\n" +
      "(job_id, queue, priority, run_at, job_type, args, created_at, updated_at)\n" +
      "VALUES\n" + tuples.join(", ");
    insertTexts.set(rows, text);
  }
  return text;
}

/**
 * INSERT of a batch of jobs in one statement, whatever its size: `$1` the jobs as a JSON array
 * of `{ i: id, q: queue, p: priority, r: run_at, t: type, s: args as text or a: in base64 }`,
 * `$2` created_at and updated_at (see `job_batch.ts` for why JSON). Rows go in in array order.
 */
export const jobInsertBatch = `INSERT INTO gue_jobs
(job_id, queue, priority, run_at, job_type, args, created_at, updated_at)
SELECT j.i, j.q, j.p, j.r, j.t, coalesce(convert_to(j.s, 'UTF8'), decode(j.a, 'base64')), $2, $2
FROM json_to_recordset($1::text::json)
  AS j(i text, q text, p smallint, r timestamptz, t text, s text, a text)`;

/**
 * Locks the next job of a queue, priority first. Unlike gue (which orders by priority only and
 * so sorts every eligible row), equal priorities run oldest first, and the order matches the
 * `(queue, priority, run_at)` index of migration 002 so the scan stops at the first free row.
 * `$1` queue, `$2` the client's clock.
 */
export const jobLockNext = `SELECT ${JOB_COLUMNS}
FROM gue_jobs
WHERE queue = $1 AND run_at <= $2
ORDER BY priority ASC, run_at ASC
LIMIT 1 FOR UPDATE SKIP LOCKED`;

/** Locks the next job of a queue, earliest `run_at` first (gue's text). `$1` queue, `$2` now. */
export const jobLockNextScheduled = `SELECT ${JOB_COLUMNS}
FROM gue_jobs
WHERE queue = $1 AND run_at <= $2
ORDER BY run_at, priority ASC
LIMIT 1 FOR UPDATE SKIP LOCKED`;

/** Locks one job by id, in any queue, due or not (gue's text). `$1` id. */
export const jobLockById = `SELECT ${JOB_COLUMNS}
FROM gue_jobs
WHERE job_id = $1 FOR UPDATE SKIP LOCKED`;

/** Deletes a finished job, inside its transaction. `$1` id. */
export const jobDelete = "DELETE FROM gue_jobs WHERE job_id = $1";

/**
 * Records a failure, inside the job's transaction (gue's text). `$1` new error count, `$2` new
 * run_at, `$3` last_error, `$4` updated_at, `$5` id.
 */
export const jobUpdateError =
  "UPDATE gue_jobs SET error_count = $1, run_at = $2, last_error = $3, updated_at = $4 WHERE job_id = $5";

/**
 * Serialises `migrate()` across processes; held until its transaction ends. A try, polled by the
 * caller, not a blocking wait: a session blocked inside a statement holds a snapshot, and a
 * `CREATE INDEX CONCURRENTLY` running meanwhile waits for every older snapshot to go.
 */
export const migrationLockTry =
  "SELECT pg_try_advisory_xact_lock(hashtext('gue_migrations')) AS locked";

/** Whether `gue_migrations` exists: asked, not `IF NOT EXISTS`, so a current schema is silent. */
export const migrationTableExists = "SELECT to_regclass('gue_migrations') IS NOT NULL AS present";

/** Where applied migrations are recorded (ours, not gue's). */
export const migrationTableCreate = `CREATE TABLE IF NOT EXISTS gue_migrations
(
  version    INTEGER     NOT NULL PRIMARY KEY,
  name       TEXT        NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/** Versions already applied. */
export const migrationListApplied = "SELECT version FROM gue_migrations ORDER BY version";

/**
 * Records one applied migration, once: a no-transaction migration may be finished by two callers
 * at once, and the one that inserts the row is the one that reports it. `$1` version, `$2` name.
 */
export const migrationRecord =
  "INSERT INTO gue_migrations (version, name) VALUES ($1, $2) ON CONFLICT (version) DO NOTHING";

/**
 * An index's name as the server quotes it, whether it is valid, and whether a build of it is
 * running: a `CREATE INDEX CONCURRENTLY` shows its index invalid until it ends, and one that was
 * interrupted leaves it invalid with no build running. `$1` the index's name.
 */
export const migrationIndexState = `SELECT indexrelid::regclass::text AS name, indisvalid AS valid,
  EXISTS (SELECT FROM pg_stat_progress_create_index p WHERE p.index_relid = i.indexrelid) AS building
FROM pg_index i
WHERE indexrelid = to_regclass($1)`;

/** Drops an index without blocking writes; `name` as {@linkcode migrationIndexState} gives it. */
export function migrationIndexDrop(name: string): string {
  return `DROP INDEX CONCURRENTLY IF EXISTS ${name}`;
}

/** The channel enqueues notify and idle workers listen on (see `notify.ts`). */
export const NOTIFY_CHANNEL = "gue_jobs";

/**
 * Notifies idle workers on {@linkcode NOTIFY_CHANNEL}, one notification per payload, `$first`
 * onwards. Postgres delivers them when the transaction commits, never when it rolls back.
 *
 * @param payloads How many payloads.
 * @param first The number of the first payload's parameter.
 */
export function jobNotify(payloads: number, first = 1): string {
  const values: string[] = [];
  for (let i = 0; i < payloads; i++) values.push(`($${first + i}::text)`);
  return `SELECT pg_notify('${NOTIFY_CHANNEL}', n) FROM (VALUES ${
    values.join(", ")
  }) AS notices(n)`;
}

const notifyTexts = new Map<string, string>();

/**
 * An enqueue INSERT that also notifies idle workers, in one statement, so the notification goes
 * out if and only if the INSERT commits, without a round trip of its own. The INSERT keeps its
 * parameters; the payloads follow them.
 *
 * @param insert The INSERT ({@linkcode jobInsert} or {@linkcode jobInsertBatch}).
 * @param insertParams How many parameters the INSERT binds.
 * @param payloads How many notifications.
 */
export function jobInsertNotify(insert: string, insertParams: number, payloads: number): string {
  const key = `${insertParams}/${payloads}/${insert}`;
  let text = notifyTexts.get(key);
  if (text === undefined) {
    text = `WITH inserted AS (\n${insert}\n)\n${jobNotify(payloads, insertParams + 1)}`;
    notifyTexts.set(key, text);
  }
  return text;
}

function lockOrNextRunAt(lock: string): string {
  return `WITH locked AS (\n${lock}\n)
SELECT *, NULL::timestamptz AS next_run_at FROM locked
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  (SELECT min(run_at) FROM gue_jobs WHERE queue = $1 AND run_at > $2)
WHERE NOT EXISTS (SELECT FROM locked)`;
}

/**
 * A worker's poll: {@linkcode jobLockNext}, and when no job is due, one row whose `job_id` is
 * NULL and whose `next_run_at` is the queue's earliest later `run_at` (NULL when none), so the
 * worker can sleep until then. That `run_at` comes from gue's `(queue, run_at, priority)` index
 * and is read only when no job was locked. `$1` queue, `$2` the client's clock.
 */
export const jobLockNextOrNextRunAt: string = lockOrNextRunAt(jobLockNext);

/** {@linkcode jobLockNextScheduled}, with the next `run_at` as {@linkcode jobLockNextOrNextRunAt}. */
export const jobLockNextScheduledOrNextRunAt: string = lockOrNextRunAt(jobLockNextScheduled);

/** A row of {@linkcode jobLockNextOrNextRunAt}: a locked job, or none and the next `run_at`. */
export type JobPollRow =
  | (JobRow & { next_run_at: null })
  | { job_id: null; job_type: null; next_run_at: Date | null };

/** The row shape the lock statements return. */
export interface JobRow {
  job_id: string;
  queue: string;
  priority: number;
  run_at: Date;
  job_type: string;
  args: Uint8Array;
  error_count: number;
  last_error: string | null;
  created_at: Date;
  /** Ours; NULL for a row Go gue inserted. */
  max_attempts: number | null;
}

/**
 * The server's running totals of rows inserted into and deleted from `gue_jobs` (jobs enqueued;
 * jobs finished, discarded or moved away), from its table statistics. The dashboard's throughput
 * chart reads them: gue deletes a finished job, so the table keeps no history of its own. The
 * server publishes a backend's counts about once a second while busy and within ~10 s when idle.
 */
export const jobTableActivity = `SELECT n_tup_ins AS inserted, n_tup_del AS deleted
FROM pg_stat_user_tables
WHERE relid = 'gue_jobs'::regclass`;

// ---- Inspection and dead letters (ours, not gue's) ----

/**
 * What a row lock looks like from outside, as `x`: a row a worker locks (or deletes or updates)
 * has the worker's transaction id in its `xmax`, and that transaction is in progress for our
 * snapshot when its id is among the snapshot's in-progress ids (`x.running`) or not below the
 * snapshot's horizon (`x.horizon`, the next id after the latest completed one, modulo 2^32).
 * Reading this takes no lock and never hides a row from workers (unlike
 * `FOR KEY SHARE SKIP LOCKED`, which locks every row it reads and writes their headers), and
 * needs no extension (unlike `pgrowlocks`, which also reads the whole table).
 */
const LOCK_VIEW = "SELECT coalesce((SELECT array_agg(xid(t)) FROM pg_snapshot_xip(s) t), " +
  "'{}'::xid[]) AS running, pg_snapshot_xmax(s)::text::bigint % 4294967296 AS horizon " +
  "FROM pg_current_snapshot() s";

/**
 * Whether row `j` is locked by an open transaction, with `x` from {@linkcode LOCK_VIEW}. Ids
 * compare modulo 2^32 as the server compares them: at or after the horizon (a signed 32-bit
 * difference >= 0) means not completed when the snapshot was taken.
 */
const LOCKED = "(j.xmax <> '0'::xid AND (j.xmax = ANY(x.running) OR " +
  "(j.xmax::text::bigint - x.horizon + 6442450944) % 4294967296 >= 2147483648))";

/** A live job's state; `x` from {@linkcode LOCK_VIEW}, `$1` the client's clock. */
const LIVE_STATE = `CASE WHEN ${LOCKED} THEN 'running' ` +
  "WHEN j.run_at <= $1 THEN 'ready' ELSE 'scheduled' END";

/** Columns of a listed job; run_at in whole microseconds too, for exact keyset cursors. */
const INFO_COLUMNS = "j.job_id, j.queue, j.priority, j.run_at, j.job_type, j.args, " +
  "j.error_count, j.last_error, j.created_at, j.updated_at, j.max_attempts, j.unique_key, " +
  "(extract(epoch FROM j.run_at) * 1000000)::bigint::text AS run_at_us";

/**
 * Counts jobs per queue: `ready`/`scheduled` by the client's clock `$1` (the gauge's meaning:
 * they split gue_jobs, running jobs are among the ready), `running` (rows locked by an open
 * transaction), `failing` (error_count > 0, not running) and `failed` (in gue_failed_jobs).
 * One pass over each table; no locks.
 */
export const jobCountByQueueAndState = `WITH x AS (${LOCK_VIEW}),
live AS (
  SELECT j.queue,
    count(*) FILTER (WHERE j.run_at <= $1) AS ready,
    count(*) FILTER (WHERE j.run_at > $1) AS scheduled,
    count(*) FILTER (WHERE ${LOCKED}) AS running,
    count(*) FILTER (WHERE j.error_count > 0 AND NOT ${LOCKED}) AS failing
  FROM gue_jobs j, x
  GROUP BY j.queue),
dead AS (SELECT queue, count(*) AS failed FROM gue_failed_jobs GROUP BY queue)
SELECT coalesce(l.queue, d.queue) AS queue, coalesce(l.ready, 0) AS ready,
  coalesce(l.scheduled, 0) AS scheduled, coalesce(l.running, 0) AS running,
  coalesce(l.failing, 0) AS failing, coalesce(d.failed, 0) AS failed
FROM live l FULL JOIN dead d ON d.queue = l.queue
ORDER BY 1`;

/** What a list filters on; each flag adds a condition and a parameter. */
export interface JobListShape {
  /** `"live"`: gue_jobs; `"failed"`: gue_failed_jobs. */
  table: "live" | "failed";
  /** The live state to keep, if any. */
  state?: "ready" | "scheduled" | "running" | "failing";
  /** Filter on queue (and order by the queue's index). */
  queue: boolean;
  /** Filter on job_type. */
  type: boolean;
  /** Start after a cursor. */
  after: boolean;
}

const listTexts = new Map<string, string>();

/**
 * A page of jobs, keyset-paginated. Parameters: `$1` the client's clock, `$2` the limit, then
 * the queue, the type and the cursor, each only when the shape has it. Live jobs of one queue
 * come in `(run_at, priority, job_id)` order along idx_gue_jobs_selector (the cursor is
 * `run_at` in microseconds, priority and id); live jobs of every queue and failed jobs come in
 * id order, along the primary key or idx_gue_failed_jobs_queue (the cursor is the id).
 */
export function jobList(shape: JobListShape): string {
  const key = JSON.stringify(shape);
  let text = listTexts.get(key);
  if (text !== undefined) return text;
  const where: string[] = [];
  let n = 2;
  if (shape.queue) where.push(`j.queue = $${++n}`);
  if (shape.type) where.push(`j.job_type = $${++n}`);
  const byRunAt = shape.table === "live" && shape.queue;
  if (shape.after) {
    where.push(
      byRunAt
        ? `(j.run_at, j.priority, j.job_id) > ('epoch'::timestamptz + $${++n}::bigint * ` +
          `interval '1 microsecond', $${++n}::smallint, $${++n}::text)`
        : `j.job_id > $${++n}`,
    );
  }
  if (shape.table === "failed") {
    text = `SELECT ${INFO_COLUMNS}, 'failed' AS state, j.failed_at, j.fail_reason
FROM gue_failed_jobs j
WHERE $1::timestamptz IS NOT NULL${where.map((w) => ` AND ${w}`).join("")}
ORDER BY j.job_id
LIMIT $2`;
  } else {
    if (shape.state === "ready") where.push(`j.run_at <= $1 AND NOT ${LOCKED}`);
    else if (shape.state === "scheduled") where.push("j.run_at > $1");
    else if (shape.state === "running") where.push(LOCKED);
    else if (shape.state === "failing") {
      where.push(`j.error_count > 0 AND NOT ${LOCKED}`);
    }
    text = `WITH x AS (${LOCK_VIEW})
SELECT ${INFO_COLUMNS}, ${LIVE_STATE} AS state, NULL::timestamptz AS failed_at, NULL AS fail_reason
FROM gue_jobs j, x
${where.length ? `WHERE ${where.join(" AND ")}\n` : ""}ORDER BY ${
      byRunAt ? "j.run_at, j.priority, j.job_id" : "j.job_id"
    }
LIMIT $2`;
  }
  listTexts.set(key, text);
  return text;
}

/** One job by id, live or failed. `$1` the client's clock, `$2` the id. */
export const jobGet = `WITH x AS (${LOCK_VIEW})
SELECT ${INFO_COLUMNS}, ${LIVE_STATE} AS state, NULL::timestamptz AS failed_at, NULL AS fail_reason
FROM gue_jobs j, x WHERE j.job_id = $2
UNION ALL
SELECT ${INFO_COLUMNS}, 'failed', j.failed_at, j.fail_reason
FROM gue_failed_jobs j WHERE j.job_id = $2`;

/**
 * Whether a queue still has work: a due job, running or not (a running job's row stays visible,
 * with its old `run_at`, until its worker commits). A job locked by id before it is due is the
 * one running job this misses. Along idx_gue_jobs_selector. `$1` the queue, `$2` the clock.
 */
export const jobQueueBusy =
  "SELECT EXISTS (SELECT FROM gue_jobs WHERE queue = $1 AND run_at <= $2) AS busy";

/**
 * Moves a locked job to gue_failed_jobs, inside its transaction, recording its last failure, and
 * drops its cancellation request if it has one:
 * `$1` id, `$2` error count, `$3` last_error, `$4` now (updated_at and failed_at), `$5` reason.
 */
export const jobMoveToFailed = `WITH moved AS (DELETE FROM gue_jobs WHERE job_id = $1 RETURNING *),
request AS (DELETE FROM gue_job_cancellations WHERE job_id = $1)
INSERT INTO gue_failed_jobs
(job_id, priority, run_at, job_type, args, error_count, last_error, queue, created_at, updated_at,
 max_attempts, unique_key, fail_reason, failed_at)
SELECT job_id, priority, run_at, job_type, args, $2, $3, queue, created_at, $4, max_attempts,
  unique_key, $5, $4
FROM moved`;

/**
 * Moves a failed job back to gue_jobs with its error count reset (so it gets its attempts
 * again) and its last error kept. `$1` id, `$2` run_at, `$3` now. Returns the id when moved.
 */
export const failedJobRetry =
  `WITH moved AS (DELETE FROM gue_failed_jobs WHERE job_id = $1 RETURNING *)
INSERT INTO gue_jobs
(job_id, priority, run_at, job_type, args, error_count, last_error, queue, created_at, updated_at,
 max_attempts, unique_key)
SELECT job_id, priority, $2, job_type, args, 0, last_error, queue, created_at, $3, max_attempts,
  unique_key
FROM moved
RETURNING job_id`;

/** Deletes a failed job. `$1` id. */
export const failedJobDelete = "DELETE FROM gue_failed_jobs WHERE job_id = $1";

/** Deletes failed jobs that failed before `$1` (idx_gue_failed_jobs_failed_at). */
export const failedJobPrune = "DELETE FROM gue_failed_jobs WHERE failed_at < $1";

/** A row of {@linkcode jobList} and {@linkcode jobGet}. */
export interface JobInfoRow extends JobRow {
  updated_at: Date;
  max_attempts: number | null;
  unique_key: string | null;
  run_at_us: string;
  state: "ready" | "scheduled" | "running" | "failed";
  failed_at: Date | null;
  fail_reason: string | null;
}

/**
 * Set before a handler's first use of `job.tx()`, so that a failing handler's writes can be
 * undone without losing the row lock (the failure is then recorded in the same transaction).
 */
export const handlerSavepoint = "SAVEPOINT gue_handler";

/** Undoes a failed handler's writes (and clears an aborted transaction) back to the savepoint. */
export const handlerRollbackToSavepoint = "ROLLBACK TO SAVEPOINT gue_handler";

// ---- Enqueue with our columns: attempts and unique keys (ours, not gue's) ----

/**
 * INSERT of jobs that use our columns (`max_attempts`, `unique_key`), bound like
 * {@linkcode jobInsertBatch} with two more fields per job (`m`, `u`): `$1` the JSON array, `$2`
 * created_at. A job whose unique key a live job holds is skipped (a key held by a transaction
 * that has not committed yet is waited for: taken if it commits, free if it rolls back), and
 * so is a second job with the same key in the batch. Returns the ids it inserted.
 */
export const jobInsertOwn = `INSERT INTO gue_jobs
(job_id, queue, priority, run_at, job_type, args, created_at, updated_at, max_attempts, unique_key)
SELECT j.i, j.q, j.p, j.r, j.t, coalesce(convert_to(j.s, 'UTF8'), decode(j.a, 'base64')), $2, $2,
  j.m, j.u
FROM json_to_recordset($1::text::json)
  AS j(i text, q text, p smallint, r timestamptz, t text, s text, a text, m integer, u text)
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL DO NOTHING
RETURNING job_id`;

const ownNotifyTexts = new Map<number, string>();

/**
 * {@linkcode jobInsertOwn} that also notifies idle workers when it inserted anything: the
 * payloads are `$3` onwards.
 *
 * @param payloads How many notifications.
 */
export function jobInsertOwnNotify(payloads: number): string {
  let text = ownNotifyTexts.get(payloads);
  if (text === undefined) {
    // A scalar subquery runs once, and only when a row was inserted.
    text = `WITH inserted AS (\n${jobInsertOwn}\n)
SELECT job_id, (SELECT count(*) FROM (${jobNotify(payloads, 3)}) AS n) AS notified
FROM inserted`;
    ownNotifyTexts.set(payloads, text);
  }
  return text;
}

/** The live jobs holding unique keys. `$1` the keys, as a JSON array of strings. */
export const jobByUniqueKeys = `SELECT ${JOB_COLUMNS}, unique_key
FROM gue_jobs
WHERE unique_key IN (SELECT json_array_elements_text($1::text::json))`;

// ---- Cancellation (ours) ----

/** The cancellation requests among running jobs. `$1` their ids, as a JSON array. */
export const jobCancellationFind = `SELECT job_id FROM gue_job_cancellations
WHERE job_id IN (SELECT json_array_elements_text($1::text::json))`;

/**
 * Asks a running job to stop: records the request if the job is live, and drops requests left
 * by jobs that ended before their worker saw them. `$1` id, `$2` now. Returns whether the job is
 * live.
 */
export const jobCancellationRequest =
  `WITH live AS (SELECT EXISTS (SELECT FROM gue_jobs WHERE job_id = $1) AS live),
request AS (
  INSERT INTO gue_job_cancellations (job_id, requested_at)
  SELECT $1, $2 FROM live WHERE live.live
  ON CONFLICT (job_id) DO NOTHING
),
stale AS (
  DELETE FROM gue_job_cancellations c
  WHERE c.requested_at < $2::timestamptz - interval '1 hour'
    AND NOT EXISTS (SELECT FROM gue_jobs j WHERE j.job_id = c.job_id)
)
SELECT live FROM live`;

/**
 * {@linkcode jobCancellationRequest} that also announces the request, when the job is live, on
 * {@linkcode NOTIFY_CHANNEL} with the payload `cancel|<id>`: in the same statement, so workers
 * hear of it only once it is committed.
 */
export const jobCancellationRequestNotify =
  `WITH live AS (SELECT EXISTS (SELECT FROM gue_jobs WHERE job_id = $1) AS live),
request AS (
  INSERT INTO gue_job_cancellations (job_id, requested_at)
  SELECT $1, $2 FROM live WHERE live.live
  ON CONFLICT (job_id) DO NOTHING
),
stale AS (
  DELETE FROM gue_job_cancellations c
  WHERE c.requested_at < $2::timestamptz - interval '1 hour'
    AND NOT EXISTS (SELECT FROM gue_jobs j WHERE j.job_id = c.job_id)
)
SELECT live.live FROM live
LEFT JOIN LATERAL (
  SELECT pg_notify('${NOTIFY_CHANNEL}', 'cancel|' || $1::text) WHERE live.live
) announced ON true`;

// ---- Cron (ours) ----

/** Records a periodic job, once: `$1` name, `$2` its first last_tick (the tick before start). */
export const cronEnsure = `INSERT INTO gue_cron (name, last_tick, updated_at) VALUES ($1, $2, now())
ON CONFLICT (name) DO NOTHING`;

/**
 * Claims a tick of a periodic job, inside the transaction that enqueues its job: one row when
 * this transaction took it, none when the tick (or a later one) is taken. Concurrent claimers
 * wait on the row lock, then find it taken. `$1` name, `$2` tick, `$3` now.
 */
export const cronClaimTick = `UPDATE gue_cron SET last_tick = $2, updated_at = $3
WHERE name = $1 AND last_tick < $2
RETURNING name`;

// ---- Batch mode (ours) ----

const batchLockTexts = new Map<string, string>();

/**
 * A batch worker's poll: {@linkcode jobLockNextOrNextRunAt} (or, `byRunAt`,
 * {@linkcode jobLockNextScheduledOrNextRunAt}) for up to `k` jobs, in the same order, in one
 * statement; when none is due, the one row that says when the next is. `$1` queue, `$2` the
 * client's clock. `k` is written into the text, not bound: with a bound LIMIT the server plans
 * the statement afresh at every poll (its generic plan, made for an unknown LIMIT, looks far
 * dearer than a custom one), with a constant it reuses one plan. Texts are cached per `k`.
 *
 * @param k Most jobs to lock: an integer from 1 to 1000 (checked by the worker's options).
 * @param byRunAt Earliest `run_at` first instead of priority first.
 */
export function jobLockBatchOrNextRunAt(k: number, byRunAt: boolean): string {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`jobLockBatch: bad k ${k}`);
  const key = `${k}/${byRunAt}`;
  let text = batchLockTexts.get(key);
  if (text === undefined) {
    const lock = byRunAt ? jobLockNextScheduled : jobLockNext;
    const limited = lock.replace("LIMIT 1 FOR UPDATE", `LIMIT ${k} FOR UPDATE`);
    if (limited === lock) throw new Error("sql.ts: a lock statement lost its LIMIT 1 FOR UPDATE");
    text = lockOrNextRunAt(limited);
    batchLockTexts.set(key, text);
  }
  return text;
}

/** The ids of a JSON array bound as `$n`, as an array the primary key's index looks up. */
function idsOf(n: number): string {
  return `ARRAY(SELECT json_array_elements_text($${n}::text::json))`;
}

/** Deletes a batch's finished jobs, inside its transaction. `$1` their ids as a JSON array. */
export const jobBatchDelete = `DELETE FROM gue_jobs WHERE job_id = ANY(${idsOf(1)})`;

/**
 * Ends a batch in one statement, inside its transaction: deletes the finished jobs (`$1`, ids as
 * a JSON array), records the failures of the jobs that run again (`$2`, a JSON array of
 * `{ i: id, c: error count, r: run_at, e: last_error }`, as {@linkcode jobUpdateError} does one),
 * and moves the jobs that failed for good to gue_failed_jobs with their cancellation requests
 * dropped (`$3`, `{ i, c, e, f: fail_reason }`, as {@linkcode jobMoveToFailed} does one). `$4`
 * now (updated_at, failed_at). The three sets of rows are disjoint.
 */
export const jobBatchEnd = `WITH done AS (
  DELETE FROM gue_jobs WHERE job_id = ANY(${idsOf(1)})
),
retry AS (
  UPDATE gue_jobs j SET error_count = u.c, run_at = u.r, last_error = u.e, updated_at = $4::timestamptz
  FROM json_to_recordset($2::text::json) AS u(i text, c integer, r timestamptz, e text)
  WHERE j.job_id = u.i
),
failed AS (SELECT * FROM json_to_recordset($3::text::json) AS f(i text, c integer, e text, f text)),
moved AS (
  DELETE FROM gue_jobs j USING failed WHERE j.job_id = failed.i
  RETURNING j.*, failed.c AS new_count, failed.e AS new_error, failed.f AS reason
),
request AS (DELETE FROM gue_job_cancellations c USING failed WHERE c.job_id = failed.i)
INSERT INTO gue_failed_jobs
(job_id, priority, run_at, job_type, args, error_count, last_error, queue, created_at, updated_at,
 max_attempts, unique_key, fail_reason, failed_at)
SELECT job_id, priority, run_at, job_type, args, new_count, new_error, queue, created_at,
  $4::timestamptz, max_attempts, unique_key, reason, $4::timestamptz
FROM moved`;
