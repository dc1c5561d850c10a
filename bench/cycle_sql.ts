/**
 * The SQL text of the gue cycle, for the measurements that bypass the library: the raw driver
 * limit (scenario 2), pgbench, and gue v5's shipped SQL as a reference.
 *
 * The limit runs the library's own statement texts (imported from `src/sql.ts`, no library code),
 * so library and limit differ only in what the library does around the SQL.
 *
 * @module
 */
import { migrations } from "../src/migrations.ts";
import { jobInsertBatchParams } from "../src/job_batch.ts";
import {
  jobDelete,
  jobInsert,
  jobInsertBatch,
  jobLockNext,
  jobLockNextScheduled,
} from "../src/sql.ts";

/** The two poll strategies of the library, by their option value. */
export type PollStrategy = "OrderByPriority" | "OrderByRunAtPriority";

/** Both strategies, in the order tables show them. */
export const POLL_STRATEGIES: PollStrategy[] = ["OrderByPriority", "OrderByRunAtPriority"];

/** Short names for tables and the chart. */
export const STRATEGY_LABEL: Record<PollStrategy, string> = {
  OrderByPriority: "priority",
  OrderByRunAtPriority: "run_at",
};

/** The library's lock statement for a strategy: `$1` queue, `$2` the client's clock. */
export function lockSql(strategy: PollStrategy): string {
  return strategy === "OrderByPriority" ? jobLockNext : jobLockNextScheduled;
}

/** The library's delete of a finished job: `$1` the id. */
export const DELETE_SQL = jobDelete;

/** The library's (and gue's) enqueue statement for `n` jobs, eight parameters a job. */
export const insertSql: (n: number) => string = jobInsert;

/** The library's batch INSERT: the jobs as one JSON parameter, their created_at as another. */
export const INSERT_BATCH_SQL: string = jobInsertBatch;

/** The parameters of {@linkcode INSERT_BATCH_SQL}, as the library makes them. */
export const insertBatchParams = jobInsertBatchParams;

/** gue v5's priority lock exactly as shipped (spec §2.2): `ORDER BY priority ASC`, nothing else. */
export const GUE_SHIPPED_LOCK_SQL =
  `SELECT job_id, queue, priority, run_at, job_type, args, error_count, last_error, created_at
FROM gue_jobs
WHERE queue = $1 AND run_at <= $2
ORDER BY priority ASC
LIMIT 1 FOR UPDATE SKIP LOCKED`;

/**
 * gue v5's `migrations/schema.sql` (spec §1.1): its table and its one secondary index. It is our
 * first migration, shipped unchanged, so the bench reads it from there.
 */
export const GUE_SHIPPED_SCHEMA: string = migrations[0].sql;

/**
 * The limit's cycle as a pgbench script: the library's lock statement for `strategy`, reading only
 * `job_id` (pgbench stores one variable per column with `\gset`), then the delete and the commit.
 * `now()` stands in for the client's clock.
 *
 * @param strategy Which lock statement.
 * @param queue The queue the backlog is in.
 */
export function pgbenchScript(strategy: PollStrategy, queue: string): string {
  const lock = lockSql(strategy)
    .replace(/^SELECT [\s\S]*?\bFROM\b/, "SELECT job_id AS id FROM")
    .replace("$1", `'${queue}'`)
    .replace("$2", "now()")
    .replace(/\s+/g, " ");
  return ["BEGIN;", `${lock} \\gset`, "DELETE FROM gue_jobs WHERE job_id = :id;", "COMMIT;", ""]
    .join("\n");
}
