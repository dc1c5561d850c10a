/**
 * Shutdown and time limits: what happens to the job in hand when `run()` is aborted (rolled back
 * untouched by default, finished and committed with `gracefulShutdown`), when `jobTTL` passes,
 * and that an aborted worker leaves nothing running behind it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client, constantBackoff, type Job, Worker } from "../mod.ts";
import { adapterUnderTest, useTestDatabase, waitFor } from "./_db.ts";
import { startFixture, waitForExit } from "./fixtures/child.ts";
import { observePool } from "./fixtures/observed_pool.ts";

const t = useTestDatabase({ max: 10 });

// Bun stops a test after 5 s by default; the waits below have their own, longer bounds.
const LIMIT = { timeout: 60_000 };

// PGlite runs in-process, one transaction at a time: a test cannot read a row while a job's
// transaction is open, and a child process cannot reach the test's database.
const pglite = adapterUnderTest() === "pglite";
const ONE_TX = "PGlite runs one transaction at a time: the test reads the row while a job runs";
const NO_SERVER = "PGlite runs in-process: a child process cannot reach its database";
if (pglite) console.log(`skipped: ${ONE_TX}; ${NO_SERVER}`);

interface Row {
  job_id: string;
  error_count: number;
  last_error: string | null;
  run_at: Date;
}

async function row(id: string): Promise<Row | undefined> {
  const [found] = await t.sql<Row[]>`
    SELECT job_id, error_count, last_error, run_at FROM gue_jobs WHERE job_id = ${id}`;
  return found;
}

/** Resolves when `signal` aborts, or at once if it has. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** A promise with its resolve function, for handlers the test releases. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("shutdown", () => {
  test(
    "non-graceful shutdown (default) aborts the handler and rolls its job back untouched for the next worker",
    LIMIT,
    async () => {
      const queue = "shutdown-default";
      const enqueued = await t.client.enqueue({ type: "Wait", queue });
      let started = false;
      let sawAbort = false;
      const worker = new Worker(t.client, {
        Wait: async (_job, ctx) => {
          started = true;
          await aborted(ctx.signal);
          sawAbort = true;
          throw new Error("interrupted by shutdown", { cause: ctx.signal.reason });
        },
      }, { queue, pollInterval: 50 });

      const stop = new AbortController();
      const running = worker.run(stop.signal);
      await waitFor(() => started, 10_000, "handler started");
      stop.abort();
      await running;

      assert.equal(sawAbort, true, "the handler's signal aborted with the run");
      const after = await row(enqueued.id);
      assert.ok(after, "the job is still in gue_jobs");
      assert.equal(after.error_count, 0, "the interruption is not counted as an error");
      assert.equal(after.last_error, null);
      assert.equal(after.run_at.getTime(), enqueued.runAt.getTime(), "run_at unchanged");

      // The row lock went with the rolled-back transaction: another worker takes the job at once.
      const again: Job[] = [];
      const next = new Worker(t.client, { Wait: (job) => void again.push(job) }, {
        queue,
        pollInterval: 50,
      });
      const stopNext = new AbortController();
      const runningNext = next.run(stopNext.signal);
      try {
        await waitFor(
          async () => again.length === 1 && !(await row(enqueued.id)),
          10_000,
          "rework",
        );
      } finally {
        stopNext.abort();
        await runningNext;
      }
      assert.equal(again[0].id, enqueued.id);
      assert.equal(again[0].errorCount, 0);
    },
  );

  test(
    "graceful shutdown lets the running handler finish and commits it, then takes no further job",
    pglite ? { ...LIMIT, skip: ONE_TX } : LIMIT,
    async () => {
      const queue = "shutdown-graceful";
      // Priorities fix the order: the slow job is taken first, the other would be next.
      const slow = await t.client.enqueue({ type: "Slow", queue, priority: 0 });
      const other = await t.client.enqueue({ type: "Fast", queue, priority: 1 });
      const release = gate();
      let started = false;
      let signalAbortedAtEnd: boolean | undefined;
      let fastCalls = 0;
      // The order in which the handler finished and run() resolved: "run() waits" means exactly
      // this order, whatever the timing.
      const order: string[] = [];
      const worker = new Worker(t.client, {
        Slow: async (_job, ctx) => {
          started = true;
          await release.promise;
          signalAbortedAtEnd = ctx.signal.aborted;
          order.push("handler finished");
        },
        Fast: () => void fastCalls++,
      }, { queue, pollInterval: 50, gracefulShutdown: true });

      const stop = new AbortController();
      const running = worker.run(stop.signal).then(() => void order.push("run() resolved"));
      await waitFor(() => started, 10_000, "slow handler started");
      stop.abort();
      // Observed after the abort, without sleeping: the slow job's row is still there and still
      // locked (SKIP LOCKED skips it), so its transaction is neither committed nor rolled back;
      // and these round trips let anything the abort set off (a run() that stopped waiting)
      // happen before the handler is released.
      try {
        assert.ok(await row(slow.id), "the slow job is not committed before its handler finishes");
        const lockable = await t.sql`
          SELECT job_id FROM gue_jobs WHERE job_id = ${slow.id} FOR UPDATE SKIP LOCKED`;
        assert.equal(lockable.length, 0, "the worker still holds the slow job's row lock");
        assert.deepEqual(order, [], "run() has not resolved while the handler runs");
      } finally {
        release.open();
        await running;
      }

      assert.deepEqual(order, ["handler finished", "run() resolved"], "run() waited for it");
      assert.equal(signalAbortedAtEnd, false, "the handler's signal did not abort with the run");
      assert.equal(await row(slow.id), undefined, "the finished job was deleted and committed");
      assert.equal(fastCalls, 0, "no job is taken after the abort");
      const untouched = await row(other.id);
      assert.ok(untouched, "the second job is still queued");
      assert.equal(untouched.error_count, 0);
    },
  );

  test(
    "jobTTL aborts the handler's signal; a handler that honours it fails the job, and the worker goes on",
    LIMIT,
    async () => {
      const queue = "shutdown-ttl";
      const ttl = 300;
      // A long constant backoff keeps the failed job out of the way, so error_count stays at 1.
      const client = new Client(t.pool, { backoff: constantBackoff(60 * 60_000) });
      const timedOut = await t.client.enqueue({ type: "Slow", queue, priority: 0 });
      const next = await t.client.enqueue({ type: "Fast", queue, priority: 1 });
      let reason: unknown;
      const fast: string[] = [];
      const worker = new Worker(client, {
        Slow: async (_job, ctx) => {
          await aborted(ctx.signal);
          reason = ctx.signal.reason;
          throw ctx.signal.reason;
        },
        Fast: (job) => void fast.push(job.id),
      }, { queue, pollInterval: 50, jobTTL: ttl });

      const stop = new AbortController();
      const running = worker.run(stop.signal);
      try {
        await waitFor(async () => fast.length === 1 && !(await row(next.id)), 10_000, "next job");
      } finally {
        stop.abort();
        await running;
      }

      assert.ok(reason instanceof Error, "the signal's reason is an error");
      assert.equal((reason as Error).name, "TimeoutError");
      assert.deepEqual(fast, [next.id], "the worker went on to the next job");
      const failed = await row(timedOut.id);
      assert.ok(failed, "the timed-out job was rescheduled, not deleted");
      assert.equal(failed.error_count, 1);
      assert.match(failed.last_error ?? "", /TTL/);
      assert.ok(failed.run_at.getTime() > Date.now() + 30 * 60_000, "rescheduled with the backoff");
    },
  );

  test("run() wakes from its poll sleep at once when the signal aborts", LIMIT, async () => {
    const observed = observePool(t.pool);
    const worker = new Worker(new Client(observed.pool), {}, {
      queue: "shutdown-sleep",
      pollInterval: 60_000,
    });
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    // The first poll found nothing and rolled back: the worker is now asleep for a minute.
    await waitFor(() => observed.rollbacks() >= 1, 10_000, "an empty poll");

    stop.abort();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), 5_000)));
    const outcome = await Promise.race([running.then(() => "stopped" as const), bound]);
    clearTimeout(timer);
    assert.equal(outcome, "stopped", "run() resolved well before the 60 s poll interval");
    assert.equal(observed.rollbacks(), 1, "no second poll");
  });

  for (const mode of ["idle", "busy"] as const) {
    const what = mode === "idle"
      ? "aborting while idle leaves no timers or connections behind"
      : "aborting mid-job under a jobTTL leaves no timers or connections behind";
    test(
      `${what}: the process exits by itself`,
      pglite ? { ...LIMIT, skip: NO_SERVER } : LIMIT,
      async () => {
        // Deno applies no leak sanitizers to node:test tests and Bun has none, so the check runs in
        // a child process: it aborts its worker, closes its pool and returns. Anything left behind
        // (the 60 s poll or TTL timer, a socket) would keep it alive, and it would not exit.
        const fixture = startFixture("stop_worker.ts", {
          GUE_FIXTURE_DATABASE_URL: t.db.url,
          GUE_FIXTURE_MODE: mode,
        });
        const exit = await waitForExit(fixture, 30_000);
        assert.ok(
          exit !== null,
          `the process did not exit within 30 s: something keeps it alive\n` +
            `stdout: ${fixture.stdout()}\nstderr: ${fixture.stderr()}`,
        );
        assert.deepEqual(exit, { code: 0, signal: null }, `stderr: ${fixture.stderr()}`);
        assert.equal(fixture.stdout(), `${mode}\nstopped\n`);
        if (mode === "busy") {
          const [left] = await t.sql<{ error_count: number }[]>`
          SELECT error_count FROM gue_jobs WHERE queue = 'busy-stop'`;
          assert.equal(left?.error_count, 0, "the interrupted job was rolled back untouched");
        }
      },
    );
  }
});
