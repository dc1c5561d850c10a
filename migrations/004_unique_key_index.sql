-- gue:no-transaction
-- Ours: at most one job per unique key in gue_jobs (a job's key is free again once it is done or
-- dead-lettered). Partial, so rows without a key (all of Go gue's) cost nothing. Built
-- CONCURRENTLY so a live gue_jobs keeps taking writes while it builds.
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS idx_gue_jobs_unique_key
  ON gue_jobs (unique_key) WHERE unique_key IS NOT NULL;
