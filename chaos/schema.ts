/**
 * The chaos run's own table: one effect row per job, written by the handler through `job.tx()`.
 *
 * The job id is the primary key; a second committed run of the same job bumps `runs` instead of
 * failing, so the handler behaves like an idempotent-looking application write and the harness
 * can count every committed duplicate (`runs - 1`).
 *
 * @module
 */

/** Creates the effect table (in a fresh database, next to `gue_jobs`). */
export const EFFECT_TABLE = `
create table chaos_effects (
  job_id text primary key,
  runs integer not null default 1,
  pid integer not null,
  worker_index integer not null,
  at timestamptz not null default clock_timestamp()
)`;

/** The handler's write: $1 job id, $2 process id, $3 worker index. */
export const EFFECT_UPSERT = `
insert into chaos_effects (job_id, pid, worker_index) values ($1, $2, $3)
on conflict (job_id) do update set runs = chaos_effects.runs + 1, pid = excluded.pid,
  worker_index = excluded.worker_index, at = excluded.at`;
