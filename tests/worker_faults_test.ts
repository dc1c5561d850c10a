/**
 * The worker under faults of the handler: a failing handler's writes roll back and only its
 * failure is recorded, in the same transaction; a handler that ignores its signal past jobTTL or
 * shutdown does not hold the worker; handler failures are logged at error level.
 */
import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { constantBackoff, type Logger, Worker } from "../mod.ts";
import { Client } from "../src/client.ts";
import { HANDLER_GRACE_MS } from "../src/worker.ts";
import { STOP_BOUND_MS } from "../src/bounded_call.ts";
import { adapterUnderTest, useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

const concurrentReason = "needs concurrent transactions (not PGlite)";

before(async () => {
  await t.sql`CREATE TABLE IF NOT EXISTS fault_effects (job_id text PRIMARY KEY)`;
});

async function effects(): Promise<number> {
  const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM fault_effects`;
  return n;
}

async function jobRow(id: string) {
  const [row] = await t
    .sql`SELECT error_count, last_error, run_at FROM gue_jobs WHERE job_id = ${id}`;
  return row as { error_count: number; last_error: string | null; run_at: Date } | undefined;
}

function capture(): { logger: Logger; lines: { level: string; msg: string; fields: unknown }[] } {
  const lines: { level: string; msg: string; fields: unknown }[] = [];
  const at = (level: string) => (msg: string, fields?: unknown) =>
    lines.push({ level, msg, fields });
  return { logger: { debug: at("debug"), info: at("info"), error: at("error") }, lines };
}

describe("a failing handler's writes through job.tx()", () => {
  test("roll back: only the failure is recorded, and the job backs off", async () => {
    await t.sql`TRUNCATE fault_effects`;
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    const job = await client.enqueue({ type: "WriteThenThrow" });
    const worker = new Worker(client, {
      WriteThenThrow: async (j) => {
        await j.tx().query("INSERT INTO fault_effects (job_id) VALUES ($1)", [j.id]);
        throw new Error("boom after the write");
      },
    }, { logger: capture().logger });
    assert.equal(await worker.workOne(), true);
    assert.equal(await effects(), 0, "the handler's write is rolled back");
    const row = await jobRow(job.id);
    assert.ok(row, "the job stays");
    assert.equal(row.error_count, 1);
    assert.match(row.last_error ?? "", /boom after the write/);
    assert.ok(row.run_at.getTime() > Date.now() + 30_000, "it backs off");
  });

  test("a failed statement is recorded with its own cause, not 'transaction is aborted'", async () => {
    await t.sql`TRUNCATE fault_effects`;
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    const job = await client.enqueue({ type: "Duplicate" });
    await t.sql`INSERT INTO fault_effects (job_id) VALUES (${job.id})`;
    const worker = new Worker(client, {
      Duplicate: async (j) => {
        await j.tx().query("INSERT INTO fault_effects (job_id) VALUES ($1)", [j.id]);
      },
    }, { logger: capture().logger });
    assert.equal(await worker.workOne(), true);
    const row = await jobRow(job.id);
    assert.ok(row);
    assert.equal(row.error_count, 1, "recorded in the job's own transaction");
    assert.match(row.last_error ?? "", /duplicate key|23505/);
    assert.doesNotMatch(row.last_error ?? "", /current transaction is aborted/);
  });

  test("a handler that succeeds keeps its writes", async () => {
    await t.sql`TRUNCATE fault_effects`;
    const job = await t.client.enqueue({ type: "Write" });
    const worker = new Worker(t.client, {
      Write: async (j) => {
        await j.tx().query("INSERT INTO fault_effects (job_id) VALUES ($1)", [j.id]);
      },
    }, { logger: capture().logger });
    assert.equal(await worker.workOne(), true);
    assert.equal(await effects(), 1);
    assert.equal(await jobRow(job.id), undefined);
  });
});

describe("a handler that ignores its signal", () => {
  test("past jobTTL plus the grace: its writes roll back and its failure is recorded", async () => {
    await t.sql`TRUNCATE fault_effects`;
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    const job = await client.enqueue({ type: "Hang" });
    const worker = new Worker(client, {
      Hang: async (j) => {
        await j.tx().query("INSERT INTO fault_effects (job_id) VALUES ($1)", [j.id]);
        await new Promise(() => {}); // Never settles, whatever its signal says.
      },
    }, { jobTTL: 100, logger: capture().logger });
    const started = Date.now();
    assert.equal(await worker.workOne(), true);
    assert.ok(Date.now() - started < 100 + HANDLER_GRACE_MS + 5000, "the worker is free again");
    assert.equal(await effects(), 0, "its write is rolled back");
    const row = await jobRow(job.id);
    assert.ok(row);
    assert.equal(row.error_count, 1);
    assert.match(row.last_error ?? "", /job TTL of 100 ms exceeded/);
  });

  test("on shutdown: run() stops within the grace, the job is rolled back untouched", {
    skip: adapterUnderTest() === "pglite" ? concurrentReason : false,
  }, async () => {
    await t.sql`TRUNCATE fault_effects`;
    const job = await t.client.enqueue({ type: "Hang" });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const worker = new Worker(t.client, {
      Hang: async (j) => {
        await j.tx().query("INSERT INTO fault_effects (job_id) VALUES ($1)", [j.id]);
        started();
        await new Promise(() => {});
      },
    }, { pollInterval: 20, logger: capture().logger });
    const stop = new AbortController();
    const run = worker.run(stop.signal);
    await running;
    const stopping = Date.now();
    stop.abort();
    await run;
    assert.ok(Date.now() - stopping < HANDLER_GRACE_MS + 5000, "run() resolved");
    assert.equal(await effects(), 0);
    const row = await jobRow(job.id);
    assert.ok(row, "the job is still there for the next worker");
    assert.equal(row.error_count, 0, "an interrupted job is not counted as failed");
  });
});

describe("handler failures are logged", () => {
  test("at error level, with the error", async () => {
    const { logger, lines } = capture();
    await t.client.enqueue({ type: "Fail" });
    const worker = new Worker(t.client, {
      Fail: () => {
        throw new Error("the real cause");
      },
    }, { logger });
    assert.equal(await worker.workOne(), true);
    const line = lines.find((l) => l.msg === "Job failed");
    assert.ok(line, `no "Job failed" line in ${JSON.stringify(lines.map((l) => l.msg))}`);
    assert.equal(line.level, "error");
    assert.match(String((line.fields as { error: unknown }).error), /the real cause/);
  });
});

describe("database calls that hang", () => {
  const skip = adapterUnderTest() === "pglite" ? concurrentReason : false;

  test("a poll stuck on a lock: run() resolves within the stop bound of its abort", {
    skip,
  }, async () => {
    const admin = await t.sql.reserve();
    try {
      await admin`BEGIN`;
      await admin`LOCK TABLE gue_jobs IN ACCESS EXCLUSIVE MODE`;
      const worker = new Worker(t.client, {}, { pollInterval: 20, logger: capture().logger });
      const stop = new AbortController();
      const run = worker.run(stop.signal);
      await new Promise((r) => setTimeout(r, 300)); // the poll waits for the lock by now
      const stopping = Date.now();
      stop.abort();
      const outcome = await Promise.race([
        run.then(() => "resolved"),
        new Promise((r) => setTimeout(() => r("still running"), STOP_BOUND_MS + 5000)),
      ]);
      assert.equal(outcome, "resolved", `run() after ${Date.now() - stopping} ms`);
    } finally {
      await admin`ROLLBACK`;
      admin.release();
    }
  });

  test("a commit that does not answer: run() resolves within the stop bound of its abort", {
    skip,
  }, async () => {
    // A deferred trigger makes the job's COMMIT take 30 s.
    await t.sql`CREATE TABLE IF NOT EXISTS slow_commit (id text)`;
    await t.sql.unsafe(`CREATE OR REPLACE FUNCTION slow_commit_fn() RETURNS trigger
      LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$`);
    await t.sql.unsafe(`DROP TRIGGER IF EXISTS slow_commit_tr ON slow_commit;
      CREATE CONSTRAINT TRIGGER slow_commit_tr AFTER INSERT ON slow_commit
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit_fn()`);
    const job = await t.client.enqueue({ type: "SlowCommit" });
    const { logger, lines } = capture();
    let handled!: () => void;
    const returned = new Promise<void>((r) => (handled = r));
    const worker = new Worker(t.client, {
      SlowCommit: async (j) => {
        await j.tx().query("INSERT INTO slow_commit (id) VALUES ($1)", [j.id]);
        handled();
      },
    }, { pollInterval: 20, logger });
    const stop = new AbortController();
    const run = worker.run(stop.signal);
    try {
      await returned;
      await new Promise((r) => setTimeout(r, 200)); // the COMMIT is in flight
      const stopping = Date.now();
      stop.abort();
      const outcome = await Promise.race([
        run.then(() => "resolved"),
        new Promise((r) => setTimeout(() => r("still running"), STOP_BOUND_MS + 5000)),
      ]);
      assert.equal(outcome, "resolved", `run() after ${Date.now() - stopping} ms`);
      const line = lines.find((l) => l.msg === "Failed to mark job as done");
      assert.ok(line, `no "Failed to mark job as done" in ${JSON.stringify(lines)}`);
      assert.match(String((line.fields as { error: unknown }).error), /did not answer within/);
    } finally {
      await t.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event = 'PgSleep'`;
      await run;
    }
    const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs WHERE job_id = ${job.id}`;
    assert.equal(n, 1, "the commit never landed: the job is still there");
  });
});
