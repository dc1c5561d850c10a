-- gue:no-transaction
-- Ours, not gue's. The priority-first lock (ORDER BY priority, run_at) walks this index and stops
-- at the first free due row, instead of sorting every due row of the queue as gue's SQL must with
-- only idx_gue_jobs_selector (about 8 jobs/s at a 200k backlog). Go gue ignores it. Built
-- CONCURRENTLY, outside a transaction, so writers to a large live gue_jobs (Go gue's too) are not
-- blocked while it builds; the runner rebuilds it if an interrupted build left it invalid.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_gue_jobs_priority
  ON gue_jobs (queue, priority, run_at);
