-- The schema after all migrations, as pg_dump prints it (tests/migrate_test.ts compares).
-- gue_jobs and idx_gue_jobs_selector are Go gue v5's: frozen, shared with Go workers.
-- Ours: idx_gue_jobs_priority (fast priority-first locking) and gue_migrations (applied versions).
CREATE TABLE public.gue_jobs (
    job_id text NOT NULL,
    priority smallint NOT NULL,
    run_at timestamp with time zone NOT NULL,
    job_type text NOT NULL,
    args bytea NOT NULL,
    error_count integer DEFAULT 0 NOT NULL,
    last_error text,
    queue text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE TABLE public.gue_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.gue_jobs
    ADD CONSTRAINT gue_jobs_pkey PRIMARY KEY (job_id);
ALTER TABLE ONLY public.gue_migrations
    ADD CONSTRAINT gue_migrations_pkey PRIMARY KEY (version);
CREATE INDEX idx_gue_jobs_priority ON public.gue_jobs USING btree (queue, priority, run_at);
CREATE INDEX idx_gue_jobs_selector ON public.gue_jobs USING btree (queue, run_at, priority);
