-- The schema after all migrations, as pg_dump prints it (tests/migrate_test.ts compares).
-- gue_jobs' first ten columns and idx_gue_jobs_selector are Go gue v5's: frozen, shared with Go
-- workers. Ours: gue_jobs.max_attempts and gue_jobs.unique_key (nullable: Go gue's statements
-- never name them), idx_gue_jobs_priority (fast priority-first locking), idx_gue_jobs_unique_key
-- (unique jobs), gue_failed_jobs (dead letters), gue_job_cancellations (cancel requests for
-- running jobs), gue_cron (the last tick of each periodic job) and gue_migrations (applied
-- versions).
CREATE TABLE public.gue_cron (
    name text NOT NULL,
    last_tick timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL
);
CREATE TABLE public.gue_failed_jobs (
    job_id text NOT NULL,
    priority smallint NOT NULL,
    run_at timestamp with time zone NOT NULL,
    job_type text NOT NULL,
    args bytea NOT NULL,
    error_count integer NOT NULL,
    last_error text,
    queue text NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    max_attempts integer,
    unique_key text,
    fail_reason text NOT NULL,
    failed_at timestamp with time zone NOT NULL
);
CREATE TABLE public.gue_job_cancellations (
    job_id text NOT NULL,
    requested_at timestamp with time zone NOT NULL
);
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
    updated_at timestamp with time zone NOT NULL,
    max_attempts integer,
    unique_key text
);
CREATE TABLE public.gue_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);
ALTER TABLE ONLY public.gue_cron
    ADD CONSTRAINT gue_cron_pkey PRIMARY KEY (name);
ALTER TABLE ONLY public.gue_failed_jobs
    ADD CONSTRAINT gue_failed_jobs_pkey PRIMARY KEY (job_id);
ALTER TABLE ONLY public.gue_job_cancellations
    ADD CONSTRAINT gue_job_cancellations_pkey PRIMARY KEY (job_id);
ALTER TABLE ONLY public.gue_jobs
    ADD CONSTRAINT gue_jobs_pkey PRIMARY KEY (job_id);
ALTER TABLE ONLY public.gue_migrations
    ADD CONSTRAINT gue_migrations_pkey PRIMARY KEY (version);
CREATE INDEX idx_gue_failed_jobs_failed_at ON public.gue_failed_jobs USING btree (failed_at);
CREATE INDEX idx_gue_failed_jobs_queue ON public.gue_failed_jobs USING btree (queue, job_id);
CREATE INDEX idx_gue_jobs_priority ON public.gue_jobs USING btree (queue, priority, run_at);
CREATE INDEX idx_gue_jobs_selector ON public.gue_jobs USING btree (queue, run_at, priority);
CREATE UNIQUE INDEX idx_gue_jobs_unique_key ON public.gue_jobs USING btree (unique_key) WHERE (unique_key IS NOT NULL);
