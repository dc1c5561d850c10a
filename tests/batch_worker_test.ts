/**
 * Batch mode: a worker locks up to K jobs in one transaction, runs their handlers at once, and
 * ends them all with one statement and one commit; each job's outcome, hooks, TTL and shutdown
 * are what single mode gives it, and a crash leaves every job of the batch to run again.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  BATCH_SIZE_MAX,
  Client,
  constantBackoff,
  discardJob,
  type Job,
  rescheduleJobAt,
  Worker,
  type WorkerOptions,
  WorkerPool,
  type WorkMap,
} from "../mod.ts";
import { observePool } from "./fixtures/observed_pool.ts";
import { adapterUnderTest, useTestDatabase, waitFor } from "./_db.ts";
import { startFixture, waitForExit } from "./fixtures/child.ts";
import { STOP_BOUND_MS } from "../src/bounded_call.ts";

const t = useTestDatabase({ max: 12 });

// Bun stops a test after 5 s by default; the waits below have their own, longer bounds.
const LIMIT = { timeout: 60_000 };

const pglite = adapterUnderTest() === "pglite";
const NO_SERVER = "PGlite runs in-process: there is no server session or child process to kill";
const ONE_TX = "PGlite runs one transaction at a time: the test reads rows while a batch runs";
if (pglite) console.log(`skipped: ${NO_SERVER}; ${ONE_TX}`);
const SERVER_ONLY = pglite ? { ...LIMIT, skip: NO_SERVER } : LIMIT;
const CONCURRENT_ONLY = pglite ? { ...LIMIT, skip: ONE_TX } : LIMIT;
const quiet = { debug() {}, info() {}, error() {} };

/** A promise with its resolve function, for handlers the test releases. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** Resolves when `signal` aborts, or at once if it has. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

interface Row {
  job_id: string;
  job_type: string;
  error_count: number;
  last_error: string | null;
  run_at: Date;
}

async function live(queue: string): Promise<Row[]> {
  return [
    ...await t.sql<Row[]>`
    SELECT job_id, job_type, error_count, last_error, run_at FROM gue_jobs
    WHERE queue = ${queue} ORDER BY job_id`,
  ];
}

async function failed(queue: string): Promise<{ job_type: string; fail_reason: string }[]> {
  return [
    ...await t.sql<{ job_type: string; fail_reason: string }[]>`
    SELECT job_type, fail_reason FROM gue_failed_jobs WHERE queue = ${queue} ORDER BY job_id`,
  ];
}

async function enqueueN(queue: string, n: number, type = "Job"): Promise<string[]> {
  const jobs = await t.client.enqueueBatch(Array.from({ length: n }, () => ({ type, queue })));
  return jobs.map((j) => j.id);
}

/** Runs a worker until `until()` holds, then stops it. */
async function runUntil(
  client: Client,
  workMap: WorkMap,
  options: WorkerOptions,
  until: () => boolean | Promise<boolean>,
): Promise<void> {
  const worker = new Worker(client, workMap, { pollInterval: 20, ...options });
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  try {
    await waitFor(until, 30_000, "the batch worker");
  } finally {
    stop.abort();
    await running;
  }
}

describe("batch mode", () => {
  test(
    "K jobs are locked in one transaction, run at once, and deleted in one commit",
    LIMIT,
    async () => {
      const queue = "batch-one-commit";
      const ids = await enqueueN(queue, 5);
      const { pool, counts } = observePool(t.pool);
      const client = new Client(pool);
      let running = 0;
      let most = 0;
      const all = gate();
      const hooked: string[] = [];
      const worker = new Worker(client, {
        Job: async (_job, ctx) => {
          running++;
          most = Math.max(most, running);
          if (running === 5) all.open();
          // Every handler waits until all five run: they can only finish if they run at once.
          await Promise.race([all.promise, aborted(ctx.signal)]);
          running--;
        },
      }, {
        queue,
        batch: { size: 5 },
        hooks: {
          jobLocked: [(job, err) => void hooked.push(`locked ${job!.id} ${err}`)],
          jobDone: [(job, err) => void hooked.push(`done ${job!.id} ${err}`)],
        },
      });
      assert.equal(await worker.workOne(), true);
      assert.equal(most, 5, "the five handlers ran at once");
      assert.deepEqual(await live(queue), [], "all five jobs are gone");
      assert.equal(counts.begins, 1, "one transaction");
      assert.equal(counts.commits, 1, "one commit");
      assert.equal(counts.rollbacks, 0);
      assert.equal(counts.statements.length, 2, `the lock and the delete: ${counts.statements}`);
      assert.match(counts.statements[1], /^DELETE FROM/);
      assert.deepEqual(
        hooked.toSorted(),
        [...ids.map((id) => `locked ${id} null`), ...ids.map((id) => `done ${id} null`)].toSorted(),
        "jobLocked and jobDone ran once per job",
      );
      assert.equal(await worker.workOne(), false, "nothing left");
    },
  );

  test(
    "a batch takes at most `size` jobs, in the queue's order, and runs at most `concurrency` at once",
    LIMIT,
    async () => {
      const queue = "batch-limits";
      const ids = await enqueueN(queue, 7);
      let running = 0;
      let most = 0;
      const order: string[] = [];
      const worker = new Worker(t.client, {
        Job: async (job) => {
          order.push(job.id);
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 20));
          running--;
        },
      }, { queue, batch: { size: 5, concurrency: 2 } });
      assert.equal(await worker.workOne(), true);
      assert.deepEqual(order, ids.slice(0, 5), "the five oldest, in order");
      assert.equal(most, 2, "two at a time");
      assert.deepEqual((await live(queue)).map((r) => r.job_id), ids.slice(5));
      assert.equal(await worker.workOne(), true);
      assert.deepEqual(await live(queue), []);

      // Earliest runAt first, with OrderByRunAtPriority: the order a single worker takes.
      const now = Date.now();
      const late = await t.client.enqueue({ type: "Job", queue, runAt: new Date(now - 1_000) });
      const early = await t.client.enqueue({ type: "Job", queue, runAt: new Date(now - 5_000) });
      const high = await t.client.enqueue({ type: "Job", queue, priority: -10 });
      const byRunAt: string[] = [];
      const scheduled = new Worker(t.client, { Job: (job) => void byRunAt.push(job.id) }, {
        queue,
        pollStrategy: "OrderByRunAtPriority",
        batch: { size: 2, concurrency: 1 },
      });
      assert.equal(await scheduled.workOne(), true);
      assert.deepEqual(byRunAt, [early.id, late.id]);
      assert.equal(await scheduled.workOne(), true);
      assert.deepEqual(byRunAt, [early.id, late.id, high.id]);
    },
  );

  test(
    "a mixed batch ends each job as single mode does: success, backoff, discard, reschedule, attempts, unknown type",
    LIMIT,
    async () => {
      const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
      const later = new Date("2030-01-01T00:00:00Z");
      const workMap: WorkMap = {
        Ok: () => {},
        Throws: () => {
          throw new Error("boom");
        },
        Discards: () => {
          throw discardJob("not wanted");
        },
        Reschedules: () => {
          throw rescheduleJobAt(later, "wait");
        },
      };
      const types = ["Ok", "Throws", "Discards", "Reschedules", "Ok", "Missing"];
      const outcome = async (queue: string, batch: boolean) => {
        for (const type of types) await client.enqueue({ type, queue });
        await client.enqueue({ type: "Throws", queue, maxAttempts: 1 });
        const failedHooks: string[] = [];
        const unknownHooks: string[] = [];
        const worker = new Worker(client, workMap, {
          queue,
          ...(batch ? { batch: { size: 10 } } : {}),
          logger: quiet,
          hooks: {
            jobFailed: [
              (job, err) =>
                void failedHooks.push(`${job!.type} ${job!.failReason} ${(err as Error).message}`),
            ],
            unknownJobType: [(job) => void unknownHooks.push(job!.type)],
          },
        });
        const started = Date.now();
        while (await worker.workOne());
        const rows = (await live(queue)).map((r) => ({
          type: r.job_type,
          errors: r.error_count,
          lastError: r.last_error?.split("\n")[0].replace(/worker\[id=[^\]]*\]/, "worker"),
          runAt: r.run_at.getTime() === later.getTime()
            ? "2030"
            : Math.abs(r.run_at.getTime() - (started + 60_000)) < 10_000
            ? "backoff"
            : r.run_at.toISOString(),
        }));
        return { rows, failed: await failed(queue), failedHooks, unknownHooks };
      };
      const single = await outcome("mixed-single", false);
      const batched = await outcome("mixed-batch", true);
      assert.deepEqual(batched, single, "the same outcome per job as single mode");
      // And that outcome is the one each handler asked for.
      assert.deepEqual(batched.rows, [
        { type: "Throws", errors: 1, lastError: "boom", runAt: "backoff" },
        {
          type: "Reschedules",
          errors: 1,
          lastError: 'rescheduling job at "2030-01-01 00:00:00 +0000 UTC" because "wait"',
          runAt: "2030",
        },
        {
          type: "Missing",
          errors: 1,
          lastError: 'worker unknown job type: "Missing"',
          runAt: "backoff",
        },
      ]);
      assert.deepEqual(batched.failed, [
        { job_type: "Discards", fail_reason: "discarded" },
        { job_type: "Throws", fail_reason: "exhausted" },
      ]);
      assert.deepEqual(batched.failedHooks.toSorted(), [
        'Discards discarded discarding job because "not wanted"',
        "Throws exhausted boom",
      ]);
      assert.deepEqual(batched.unknownHooks, ["Missing"]);
    },
  );

  test(
    "a backoff that throws leaves its job as it was; the rest of the batch commits",
    LIMIT,
    async () => {
      const queue = "batch-bad-backoff";
      const client = new Client(t.pool, {
        backoff: () => {
          throw new Error("no backoff today");
        },
      });
      const [ok, bad] = await enqueueN(queue, 2);
      const errors: string[] = [];
      const worker = new Worker(client, {
        Job: (job) => {
          if (job.id === bad) throw new Error("boom");
        },
      }, {
        queue,
        batch: { size: 2 },
        logger: { debug() {}, info() {}, error: (msg) => void errors.push(msg) },
      });
      assert.equal(await worker.workOne(), true);
      const rows = await live(queue);
      assert.deepEqual(rows.map((r) => [r.job_id, r.error_count]), [[bad, 0]], `${ok} is gone`);
      assert.ok(errors.includes("Could not record the failure; job left as it was"), `${errors}`);
    },
  );

  test(
    "job.tx(), delete(), error() and done() throw in batch mode, naming the problem and the fix",
    LIMIT,
    async () => {
      const queue = "batch-tx";
      await enqueueN(queue, 2);
      const messages: string[] = [];
      const note = (err: unknown) => void messages.push((err as Error).message);
      const worker = new Worker(t.client, {
        Job: async (job) => {
          try {
            job.tx();
          } catch (err) {
            note(err);
          }
          await job.delete().catch(note);
          await job.error(new Error("x")).catch(note);
          await job.done().catch(note);
        },
      }, {
        queue,
        batch: { size: 2 },
        hooks: {
          jobLocked: [(job) => {
            try {
              job!.tx();
            } catch (err) {
              note(err);
            }
          }],
        },
      });
      assert.equal(await worker.workOne(), true);
      assert.equal(messages.length, 10, "each call threw, in the hook and in both handlers");
      for (const m of messages) {
        assert.match(m, /runs in a batch worker: job\.(tx|delete|error|done)\(\) cannot be used/);
        assert.match(m, /shared by every job of the batch/);
        assert.match(m, /single mode \(without the batch option\)/);
      }
      assert.deepEqual(await live(queue), [], "the worker still deleted both jobs");
    },
  );

  test(
    "a handler that uses job.tx() and lets the error through fails, and its job is retried",
    LIMIT,
    async () => {
      const queue = "batch-tx-fails";
      const [id] = await enqueueN(queue, 1);
      const worker = new Worker(t.client, {
        Job: async (job) => void (await job.tx().query("SELECT 1")),
      }, { queue, batch: { size: 4 }, logger: quiet });
      assert.equal(await worker.workOne(), true);
      const [row] = await live(queue);
      assert.equal(row.job_id, id);
      assert.equal(row.error_count, 1);
      assert.match(row.last_error!, /runs in a batch worker: job\.tx\(\) cannot be used/);
    },
  );

  test("bad batch options are refused with a clear error, by Worker and WorkerPool", () => {
    const bad: [unknown, RegExp][] = [
      [{ size: 0 }, /batch\.size must be an integer from 1 to 1000, got 0/],
      [{ size: BATCH_SIZE_MAX + 1 }, /batch\.size must be an integer from 1 to 1000, got 1001/],
      [{ size: 2.5 }, /batch\.size must be an integer/],
      [{ size: "10" }, /batch\.size must be an integer/],
      [{}, /batch\.size must be an integer from 1 to 1000, got undefined/],
      [
        { size: 4, concurrency: 0 },
        /batch\.concurrency must be an integer from 1 to batch\.size \(4\), got 0/,
      ],
      [
        { size: 4, concurrency: 5 },
        /batch\.concurrency must be an integer from 1 to batch\.size \(4\), got 5/,
      ],
      [null, /batch must be an object \{ size, concurrency\? \}, got null/],
      [10, /batch must be an object/],
    ];
    for (const [batch, message] of bad) {
      const options = { batch } as unknown as WorkerOptions;
      assert.throws(
        () => new Worker(t.client, {}, options),
        message,
        `Worker ${JSON.stringify(batch)}`,
      );
      assert.throws(() => new WorkerPool(t.client, {}, 1, options), message);
    }
    new Worker(t.client, {}, { batch: { size: 1 } });
    new Worker(t.client, {}, { batch: { size: 1000, concurrency: 1 } });
  });

  test("a WorkerPool in batch mode drains a backlog, each job once", CONCURRENT_ONLY, async () => {
    const queue = "batch-pool";
    const ids = await enqueueN(queue, 200);
    const seen = new Map<string, number>();
    const pool = new WorkerPool(
      t.client,
      {
        Job: (job) => void seen.set(job.id, (seen.get(job.id) ?? 0) + 1),
      },
      4,
      { queue, pollInterval: 20, batch: { size: 10 } },
    );
    const stop = new AbortController();
    const running = pool.run(stop.signal);
    try {
      await waitFor(async () => (await live(queue)).length === 0, 30_000, "the backlog drained");
    } finally {
      stop.abort();
      await running;
    }
    assert.equal(seen.size, ids.length);
    assert.ok([...seen.values()].every((n) => n === 1), "each job ran once");
  });

  test(
    "graceful shutdown mid-batch: the running handlers finish and the batch commits",
    LIMIT,
    async () => {
      const queue = "batch-graceful";
      await enqueueN(queue, 4);
      const release = gate();
      let started = 0;
      let finished = 0;
      const worker = new Worker(t.client, {
        Job: async (_job, ctx) => {
          started++;
          await release.promise;
          assert.equal(ctx.signal.aborted, false, "a graceful handler's signal does not abort");
          finished++;
        },
      }, { queue, pollInterval: 20, gracefulShutdown: true, batch: { size: 4 } });
      const stop = new AbortController();
      let stopped = false;
      const running = worker.run(stop.signal).finally(() => (stopped = true));
      await waitFor(() => started === 4, 10_000, "four handlers running");
      stop.abort();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(stopped, false, "run() waits for the batch");
      release.open();
      await running;
      assert.equal(finished, 4);
      assert.deepEqual(await live(queue), [], "the batch committed");
    },
  );

  test(
    "non-graceful shutdown mid-batch: handlers that stop leave their jobs as they were; finished ones commit",
    LIMIT,
    async () => {
      const queue = "batch-interrupted";
      const ids = await enqueueN(queue, 4);
      const finishFirst = ids[0];
      let started = 0;
      const worker = new Worker(t.client, {
        Job: async (job, ctx) => {
          started++;
          if (job.id === finishFirst) return;
          await aborted(ctx.signal);
          throw ctx.signal.reason;
        },
      }, { queue, pollInterval: 20, batch: { size: 4 } });
      const stop = new AbortController();
      const running = worker.run(stop.signal);
      await waitFor(() => started === 4, 10_000, "four handlers running");
      stop.abort();
      await running;
      const rows = await live(queue);
      assert.deepEqual(rows.map((r) => r.job_id), ids.slice(1), "the finished job is gone");
      assert.ok(
        rows.every((r) => r.error_count === 0 && r.last_error === null),
        "errors not counted",
      );
    },
  );

  test(
    "jobTTL is per job: a handler past TTL + grace is abandoned and fails; the others commit",
    LIMIT,
    async () => {
      const queue = "batch-ttl";
      const ids = await enqueueN(queue, 3);
      const stuck = ids[1];
      const worker = new Worker(t.client, {
        Job: async (job) => {
          if (job.id === stuck) await new Promise((r) => setTimeout(r, 4_000)); // ignores its signal
        },
      }, { queue, jobTTL: 100, batch: { size: 3 }, logger: quiet });
      assert.equal(await worker.workOne(), true);
      const rows = await live(queue);
      assert.deepEqual(rows.map((r) => r.job_id), [stuck]);
      assert.equal(rows[0].error_count, 1);
      assert.match(
        rows[0].last_error!,
        /job TTL of 100 ms exceeded, and the handler did not return/,
      );
    },
  );

  test(
    "a job cancelled while its batch runs fails as cancelled; the others commit",
    CONCURRENT_ONLY,
    async () => {
      const queue = "batch-cancel";
      const ids = await enqueueN(queue, 3);
      const target = ids[1];
      let started = 0;
      let reason: unknown;
      const worker = new Worker(t.client, {
        Job: async (job, ctx) => {
          started++;
          if (job.id !== target) return;
          await aborted(ctx.signal);
          reason = ctx.signal.reason;
          throw reason;
        },
      }, { queue, batch: { size: 3 }, logger: quiet });
      const working = worker.workOne();
      await waitFor(() => started === 3, 10_000, "the batch running");
      assert.equal(await t.client.cancelJob(target), "requested");
      assert.equal(await working, true);
      assert.match(String(reason), /was cancelled/);
      assert.deepEqual(await live(queue), [], "the other two are gone");
      assert.deepEqual(await failed(queue), [{ job_type: "Job", fail_reason: "cancelled" }]);
    },
  );

  test(
    "a poll stuck on a lock: run() resolves within the stop bound of its abort",
    CONCURRENT_ONLY,
    async () => {
      const admin = await t.sql.reserve();
      try {
        await admin`BEGIN`;
        await admin`LOCK TABLE gue_jobs IN ACCESS EXCLUSIVE MODE`;
        const worker = new Worker(t.client, {}, {
          pollInterval: 20,
          logger: quiet,
          batch: { size: 5 },
        });
        const stop = new AbortController();
        const run = worker.run(stop.signal);
        await new Promise((r) => setTimeout(r, 300)); // the poll waits for the lock by now
        stop.abort();
        const outcome = await Promise.race([
          run.then(() => "resolved"),
          new Promise((r) => setTimeout(() => r("still running"), STOP_BOUND_MS + 5000)),
        ]);
        assert.equal(outcome, "resolved");
      } finally {
        await admin`ROLLBACK`;
        admin.release();
      }
    },
  );

  test(
    "a batch commit that does not answer: run() resolves within the stop bound; the jobs stay",
    CONCURRENT_ONLY,
    async () => {
      const queue = "batch-slow-commit";
      // A deferred trigger on the delete makes the batch's COMMIT take 30 s.
      await t.sql.unsafe(`CREATE OR REPLACE FUNCTION batch_slow_commit_fn() RETURNS trigger
      LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(30); RETURN NULL; END $$`);
      await t.sql.unsafe(`CREATE CONSTRAINT TRIGGER batch_slow_commit_tr AFTER DELETE ON gue_jobs
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
      WHEN (OLD.queue = 'batch-slow-commit') EXECUTE FUNCTION batch_slow_commit_fn()`);
      const ids = await enqueueN(queue, 3);
      let handled = 0;
      const errors: { msg: string; fields: unknown }[] = [];
      const worker = new Worker(t.client, { Job: () => void handled++ }, {
        queue,
        pollInterval: 20,
        batch: { size: 3 },
        logger: {
          debug() {},
          info() {},
          error: (msg, fields) => void errors.push({ msg, fields }),
        },
      });
      const stop = new AbortController();
      const run = worker.run(stop.signal);
      try {
        await waitFor(() => handled === 3, 10_000, "the batch's handlers");
        await new Promise((r) => setTimeout(r, 200)); // the COMMIT is in flight
        stop.abort();
        const outcome = await Promise.race([
          run.then(() => "resolved"),
          new Promise((r) => setTimeout(() => r("still running"), STOP_BOUND_MS + 5000)),
        ]);
        assert.equal(outcome, "resolved");
        const line = errors.find((l) =>
          l.msg === "Failed to end the batch; its jobs are left as they were"
        );
        assert.ok(line, JSON.stringify(errors));
        assert.match(String((line.fields as { error: unknown }).error), /did not answer within/);
      } finally {
        await t.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event = 'PgSleep'`;
        await run;
        await t.sql.unsafe("DROP TRIGGER batch_slow_commit_tr ON gue_jobs");
      }
      await waitFor(async () => (await live(queue)).length === 3, 10_000, "the jobs back");
      assert.deepEqual((await live(queue)).map((r) => r.job_id), ids, "the commit never landed");
    },
  );

  test(
    "a worker process killed mid-batch leaves all K jobs to run again, none lost, errors not counted",
    SERVER_ONLY,
    async () => {
      const queue = "batch-sigkill";
      const k = 5;
      const ids = await enqueueN(queue, k, "Hang");
      const fixture = startFixture("crash_worker.ts", {
        GUE_FIXTURE_DATABASE_URL: t.db.url,
        GUE_FIXTURE_QUEUE: queue,
        GUE_FIXTURE_BATCH: String(k),
      });
      try {
        await waitFor(
          () => fixture.stdout().split("\n").filter((l) => l.startsWith("started ")).length === k,
          30_000,
          `${k} handlers started in the child`,
        );
      } finally {
        fixture.child.kill("SIGKILL");
      }
      assert.deepEqual(await waitForExit(fixture, 30_000), { code: null, signal: "SIGKILL" });
      const startedIds = fixture.stdout().split("\n").filter((l) => l.startsWith("started "))
        .map((l) => l.slice("started ".length));
      assert.deepEqual(startedIds.toSorted(), ids.toSorted(), "the child ran the whole batch");

      const worked: Job[] = [];
      await runUntil(
        t.client,
        { Hang: (job) => void worked.push(job) },
        { queue, batch: { size: k } },
        async () => (await live(queue)).length === 0,
      );
      assert.deepEqual(worked.map((j) => j.id).toSorted(), ids.toSorted(), "all K ran again");
      assert.ok(worked.every((j) => j.errorCount === 0), "the crash is not counted as an error");
    },
  );

  test(
    "a failed commit leaves every job of the batch as it was, runs jobUndone for each, and the jobs run again",
    SERVER_ONLY,
    async () => {
      const queue = "batch-commit-fails";
      const ids = await enqueueN(queue, 3);
      const undone: { id: string; err: unknown }[] = [];
      let runs = 0;
      const worker = new Worker(t.client, {
        Job: async () => {
          runs++;
          if (runs === 3) {
            // Every handler of the first batch has started: cut the batch's connection.
            await t.sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = ${t.db.name} AND state = 'idle in transaction'
              AND query LIKE '%FOR UPDATE SKIP LOCKED%'`;
          }
        },
      }, {
        queue,
        batch: { size: 3 },
        logger: quiet,
        hooks: { jobUndone: [(job, err) => void undone.push({ id: job!.id, err })] },
      });
      assert.equal(await worker.workOne(), true);
      assert.deepEqual(
        undone.map((u) => u.id).toSorted(),
        ids.toSorted(),
        "jobUndone ran for each",
      );
      assert.ok(undone.every((u) => u.err instanceof Error));
      await waitFor(async () => (await live(queue)).length === 3, 10_000, "the jobs unlocked");
      assert.ok((await live(queue)).every((r) => r.error_count === 0), "left as they were");
      assert.equal(await worker.workOne(), true, "the worker goes on");
      assert.equal(runs, 6, "and runs them again");
      assert.deepEqual(await live(queue), []);
    },
  );
});
