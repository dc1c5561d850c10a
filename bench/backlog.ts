/**
 * Filling and resetting `gue_jobs` for a measurement.
 *
 * Backlogs are written with one `INSERT ... SELECT ... FROM generate_series` rather than through
 * the library: 200,000 jobs go in in about a second this way, and how they got there does not
 * change how they are locked. Between measurements the table is emptied and vacuumed (or topped
 * up and vacuumed), so dead tuples from one run never slow the next.
 *
 * @module
 */
import type { Sql } from "./db.ts";

/** The queue every bench job goes to. */
export const BENCH_QUEUE = "bench";
/** The type of every bench job; its handler does nothing. */
export const NOOP_TYPE = "noop";

let batchNo = 0;

/**
 * Inserts `n` runnable no-op jobs at the default priority.
 *
 * Ids are 26 characters of Crockford base32 (hex digits are a subset), unique per batch, so they
 * pass for ULIDs. `run_at` and `created_at` lie a minute in the past, one microsecond apart, so
 * every job is due and the run_at order is the insertion order.
 *
 * @param sql A pool on a database with `gue_jobs`.
 * @param n How many jobs.
 * @param queue The queue.
 * @param table The table (gue v5's reference database uses the same name).
 */
export async function fillBacklog(
  sql: Sql,
  n: number,
  queue = BENCH_QUEUE,
  table = "gue_jobs",
): Promise<void> {
  if (n <= 0) return;
  const batch = ++batchNo;
  await sql.unsafe(
    `INSERT INTO ${table} (job_id, queue, priority, run_at, job_type, args, created_at, updated_at)
     SELECT '0' || upper(lpad(to_hex($1::int), 9, '0') || lpad(to_hex(i), 16, '0')),
            $2, 0, t, $3, '\\x7b7d'::bytea, t, t
     FROM generate_series(1, $4::int) AS i,
          LATERAL (SELECT now() - interval '1 minute' + i * interval '1 microsecond') AS ts(t)`,
    [batch, queue, NOOP_TYPE, n],
  );
}

/**
 * Empties the table and vacuums it, so the next measurement starts from a clean heap and index.
 *
 * @param sql A pool on the database.
 * @param table The table.
 */
export async function resetTable(sql: Sql, table = "gue_jobs"): Promise<void> {
  await sql.unsafe(`TRUNCATE ${table}`);
  await sql.unsafe(`VACUUM ANALYZE ${table}`);
}

/**
 * Replaces whatever is in the table with a fresh backlog of `n` jobs, and analyzes it so the
 * planner knows its size.
 *
 * @param sql A pool on the database.
 * @param n How many jobs.
 * @param queue The queue.
 * @param table The table.
 */
export async function refill(sql: Sql, n: number, queue = BENCH_QUEUE, table = "gue_jobs") {
  await sql.unsafe(`TRUNCATE ${table}`);
  await fillBacklog(sql, n, queue, table);
  await sql.unsafe(`VACUUM ANALYZE ${table}`);
}

/**
 * Brings a queue back to `target` jobs after a sampled run took some, and vacuums away the rows
 * that run deleted. Cheaper than refilling 200,000 jobs for every cell; the new jobs go to the
 * end of the run_at order, as jobs arriving later would.
 *
 * @param sql A pool on the database.
 * @param target The backlog to restore.
 * @param queue The queue.
 * @param table The table.
 * @returns How many jobs were added.
 */
export async function topUp(
  sql: Sql,
  target: number,
  queue = BENCH_QUEUE,
  table = "gue_jobs",
): Promise<number> {
  const missing = target - await countJobs(sql, queue, table);
  await fillBacklog(sql, missing, queue, table);
  // Plain VACUUM: the run's dead rows go, and the statistics of a table of the same size stand.
  await sql.unsafe(`VACUUM ${table}`);
  return Math.max(0, missing);
}

/**
 * Counts the jobs left in a queue.
 *
 * @param sql A pool on the database.
 * @param queue The queue.
 * @param table The table.
 */
export async function countJobs(
  sql: Sql,
  queue = BENCH_QUEUE,
  table = "gue_jobs",
): Promise<number> {
  const [{ n }] = await sql.unsafe<{ n: number }[]>(
    `SELECT count(*)::int AS n FROM ${table} WHERE queue = $1`,
    [queue],
  );
  return n;
}
