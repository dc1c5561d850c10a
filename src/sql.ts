/**
 * Every SQL statement the library runs, in one place, named after its operation. The method that
 * runs a statement carries the same name, so one search finds a statement and all its callers.
 * Statements are gue v5's (spec §2) except where DESIGN.md says otherwise.
 *
 * @module
 */

const JOB_COLUMNS =
  "job_id, queue, priority, run_at, job_type, args, error_count, last_error, created_at";

/** Parameters per job in {@linkcode jobInsert}. */
export const JOB_INSERT_PARAMS = 8;

/**
 * Most jobs in one INSERT: Postgres binds at most 65,535 parameters per statement. Larger
 * batches are split into statements of this size inside one transaction.
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
 * Counts the jobs of every queue, for `client.countJobs()` and the `gue_jobs_waiting` gauge: due
 * now (`ready`, including jobs being worked, whose rows are locked) and due later (`scheduled`).
 * `$1` the client's clock. One pass over the table, however many queues; it takes no locks.
 */
export const jobCountByQueue = `SELECT queue,
  count(*) FILTER (WHERE run_at <= $1) AS ready,
  count(*) FILTER (WHERE run_at > $1) AS scheduled
FROM gue_jobs
GROUP BY queue
ORDER BY queue`;

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
}
