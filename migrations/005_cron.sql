-- Ours: the last tick each periodic job (cron) was claimed for. A scheduler enqueues a tick's job
-- in the transaction that moves last_tick forward, so across any number of processes each tick
-- is enqueued once, and a restart goes on from the last tick claimed.
CREATE TABLE IF NOT EXISTS gue_cron
(
  name       TEXT        NOT NULL PRIMARY KEY,
  last_tick  TIMESTAMPTZ NOT NULL,
  updated_at TIMESTAMPTZ NOT NULL
);
