-- Ours, not gue's: attempts, unique keys, the dead-letter table and cancellation requests.
-- gue_jobs only gains nullable columns without defaults (a catalog change, no table rewrite), so
-- Go gue's INSERT, lock SELECT, UPDATE and DELETE, which name their columns, work as before; a row
-- Go gue inserts has neither, which means "retry forever" and "no unique key", gue's behaviour.
ALTER TABLE gue_jobs ADD COLUMN IF NOT EXISTS max_attempts INTEGER;
ALTER TABLE gue_jobs ADD COLUMN IF NOT EXISTS unique_key TEXT;

-- Jobs that exhausted their attempts, were discarded, cancelled, or had invalid args: gue_jobs'
-- row as it was at its last failure, with why and when it failed.
CREATE TABLE IF NOT EXISTS gue_failed_jobs
(
  job_id       TEXT        NOT NULL PRIMARY KEY,
  priority     SMALLINT    NOT NULL,
  run_at       TIMESTAMPTZ NOT NULL,
  job_type     TEXT        NOT NULL,
  args         BYTEA       NOT NULL,
  error_count  INTEGER     NOT NULL,
  last_error   TEXT,
  queue        TEXT        NOT NULL,
  created_at   TIMESTAMPTZ NOT NULL,
  updated_at   TIMESTAMPTZ NOT NULL,
  max_attempts INTEGER,
  unique_key   TEXT,
  fail_reason  TEXT        NOT NULL,
  failed_at    TIMESTAMPTZ NOT NULL
);

CREATE INDEX IF NOT EXISTS idx_gue_failed_jobs_queue ON gue_failed_jobs (queue, job_id);

CREATE INDEX IF NOT EXISTS idx_gue_failed_jobs_failed_at ON gue_failed_jobs (failed_at);

-- Cancellation requests for running jobs: a running job's row is locked by its worker, so the
-- request cannot be written there. The worker finds its job's request here.
CREATE TABLE IF NOT EXISTS gue_job_cancellations
(
  job_id       TEXT        NOT NULL PRIMARY KEY,
  requested_at TIMESTAMPTZ NOT NULL
);
