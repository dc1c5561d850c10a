/**
 * gue's OpenTelemetry names: the metrics and spans it records, as gue v5 names them (plus
 * `gue_jobs_waiting`, ours). Dashboards built for Go gue read ours unchanged.
 *
 * @module
 */

/** `gue_client_enqueue`: jobs enqueued, by `job-type` and `success`. */
export const METRIC_CLIENT_ENQUEUE = "gue_client_enqueue";
/** `gue_client_lock_job`: jobs locked, by `job-type` and `success`. */
export const METRIC_CLIENT_LOCK_JOB = "gue_client_lock_job";
/** `gue_worker_jobs_worked`: jobs processed, by `job-type` and `success`. */
export const METRIC_WORKER_JOBS_WORKED = "gue_worker_jobs_worked";
/** `gue_worker_jobs_duration`: ms per locked job, hooks included, by `job-type`. */
export const METRIC_WORKER_JOBS_DURATION = "gue_worker_jobs_duration";
/** `gue_worker_jobs_failed` (ours): jobs moved to the failed jobs, by `job-type` and `fail-reason`. */
export const METRIC_WORKER_JOBS_FAILED = "gue_worker_jobs_failed";
/** `gue_jobs_waiting` (ours): jobs in the table, by `job-queue` and `state`. */
export const METRIC_JOBS_WAITING = "gue_jobs_waiting";
/** The span of one poll and the job it locked. */
export const SPAN_WORK_ONE = "Worker.WorkOne";
/** Child of {@linkcode SPAN_WORK_ONE} when a `jobLocked`/`jobDone` hook throws (gue: a panic). */
export const SPAN_RECOVER_PANIC = "Worker.recoverPanic";
/** Child of {@linkcode SPAN_RECOVER_PANIC} when a `jobDone` hook throws again during recovery. */
export const SPAN_RECOVER_PANIC_RECOVERY = "Worker.recoverPanicRecovery";
