/**
 * WorkerPool: `size` workers on one queue, each job worked exactly once, one run at a time.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Worker, WORKER_IDX_UNKNOWN, WorkerPool } from "../mod.ts";
import { adapterUnderTest, useTestDatabase, waitFor } from "./_db.ts";

// More connections than workers: each running job holds one for its transaction.
const t = useTestDatabase({ max: 10 });

// Bun stops a test after 5 s by default; the waits below have their own, longer bounds.
const LIMIT = { timeout: 60_000 };

async function jobCount(queue: string): Promise<number> {
  const [row] = await t.sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM gue_jobs WHERE queue = ${queue}`;
  return row.n;
}

// Four workers hold four transactions at once; PGlite runs one at a time.
const oneTx = adapterUnderTest() === "pglite"
  ? "PGlite runs one transaction at a time: a pool of 4 needs 4 at once"
  : undefined;
if (oneTx) console.log(`skipped: ${oneTx}`);

/**
 * `n` workers, or 1 where the adapter runs one transaction at a time (a larger pool is refused
 * there at construction): the tests that use it check a pool's run/stop behaviour, not concurrency.
 */
function size(n: number): number {
  return oneTx ? 1 : n;
}

describe("WorkerPool", () => {
  test(
    "a WorkerPool of 4 works 200 jobs exactly once, each worker with its index and id",
    oneTx ? { ...LIMIT, skip: oneTx } : LIMIT,
    async () => {
      const queue = "pool-200";
      const total = 200;
      const enqueued = await t.client.enqueueBatch(
        Array.from({ length: total }, (_, i) => ({ type: "Count", queue, args: { i } })),
      );

      const calls = new Map<string, number>();
      const seen: { workerIndex: number; workerId: string }[] = [];
      // A barrier on the first jobs: each handler waits until all four workers hold a job at once.
      // A worker blocked in its handler cannot take another job, so reaching four proves the pool
      // really runs four workers concurrently, without relying on timing.
      const holding = new Set<number>();
      let barrierOpen = false;
      const pool = new WorkerPool(
        t.client,
        {
          Count: async (job, ctx) => {
            calls.set(job.id, (calls.get(job.id) ?? 0) + 1);
            seen.push({ workerIndex: ctx.workerIndex, workerId: ctx.workerId });
            if (!barrierOpen) {
              holding.add(ctx.workerIndex);
              await waitFor(
                () => holding.size === 4 || barrierOpen,
                20_000,
                "4 workers holding jobs",
              );
              barrierOpen = true;
            }
          },
        },
        4,
        { queue, pollInterval: 50 },
      );

      const stop = new AbortController();
      const running = pool.run(stop.signal);
      try {
        await waitFor(
          async () => calls.size === total && await jobCount(queue) === 0,
          30_000,
          "drain",
        );
      } finally {
        stop.abort();
        await running;
      }

      for (const job of enqueued) assert.equal(calls.get(job.id), 1, `job ${job.id} worked once`);
      assert.equal(calls.size, total);
      assert.equal(await jobCount(queue), 0);
      assert.equal(pool.workers.length, 4);
      assert.deepEqual(
        pool.workers.map((w) => w.id),
        [0, 1, 2, 3].map((i) => `${pool.id}/worker-${i}`),
      );
      for (const { workerIndex, workerId } of seen) {
        assert.ok([0, 1, 2, 3].includes(workerIndex), `workerIndex ${workerIndex} in 0..3`);
        assert.equal(workerId, `${pool.id}/worker-${workerIndex}`);
      }
      assert.deepEqual(new Set(seen.map((s) => s.workerIndex)), new Set([0, 1, 2, 3]));
    },
  );

  test(
    "a second run() on a running pool rejects with `is already running`; after stopping, run() works again",
    LIMIT,
    async () => {
      const queue = "pool-rerun";
      const worked: string[] = [];
      const pool = new WorkerPool(
        t.client,
        {
          Note: (job) => {
            worked.push(job.id);
          },
        },
        size(2),
        { queue, pollInterval: 50 },
      );

      const first = new AbortController();
      const running = pool.run(first.signal);
      await assert.rejects(pool.run(), /is already running/);
      await assert.rejects(pool.run(), new RegExp(`worker\\[id=${pool.id}\\] is already running`));
      first.abort();
      await running;

      // Stopped: the guard is released and a new run works jobs.
      const second = new AbortController();
      const again = pool.run(second.signal);
      try {
        const job = await t.client.enqueue({ type: "Note", queue });
        await waitFor(() => worked.includes(job.id), 10_000, "job worked by the second run");
      } finally {
        second.abort();
        await again;
      }
    },
  );

  test(
    "a second run() on a running Worker rejects with `is already running`; after stopping, run() works again",
    LIMIT,
    async () => {
      const queue = "worker-rerun";
      const worked: string[] = [];
      const worker = new Worker(t.client, {
        Note: (job) => {
          worked.push(job.id);
        },
      }, { queue, pollInterval: 50 });

      const first = new AbortController();
      const running = worker.run(first.signal);
      await assert.rejects(
        worker.run(),
        new RegExp(`worker\\[id=${worker.id}\\] is already running`),
      );
      first.abort();
      await running;

      const second = new AbortController();
      const again = worker.run(second.signal);
      try {
        const job = await t.client.enqueue({ type: "Note", queue });
        await waitFor(() => worked.includes(job.id), 10_000, "job worked by the second run");
      } finally {
        second.abort();
        await again;
      }
    },
  );

  // gue runs its workers in an errgroup: the first error cancels the others, and Run returns
  // only after every worker stopped.
  test(
    "pool.run() rejects when one of its workers is already running, after stopping the others",
    LIMIT,
    async () => {
      const pool = new WorkerPool(t.client, {}, size(3), {
        queue: "pool-conflict",
        pollInterval: 50,
      });
      const alone = new AbortController();
      const first = pool.workers[0].run(alone.signal);
      const stop = new AbortController();
      try {
        await assert.rejects(
          pool.run(stop.signal),
          new RegExp(`worker\\[id=${pool.id}/worker-0\\] is already running`),
        );
        // A stopped worker accepts a run() (one with an aborted signal returns at once); one that
        // is still running rejects it.
        for (const worker of pool.workers.slice(1)) {
          await assert.doesNotReject(
            worker.run(AbortSignal.abort()),
            `${worker.id} still running after pool.run() rejected`,
          );
        }
      } finally {
        stop.abort();
        alone.abort();
        await first;
      }
    },
  );

  test("pool.workOne() works one job with the first worker", LIMIT, async () => {
    const queue = "pool-work-one";
    const seen: { id: string; workerIndex: number; workerId: string }[] = [];
    const pool = new WorkerPool(
      t.client,
      {
        Note: (job, ctx) => {
          seen.push({ id: job.id, workerIndex: ctx.workerIndex, workerId: ctx.workerId });
        },
      },
      size(3),
      { queue, pollInterval: 50 },
    );

    const job = await t.client.enqueue({ type: "Note", queue });
    assert.equal(await pool.workOne(), true);
    // gue: WorkOne outside Run carries no worker index, only the first worker's id.
    assert.deepEqual(seen, [{
      id: job.id,
      workerIndex: WORKER_IDX_UNKNOWN,
      workerId: `${pool.id}/worker-0`,
    }]);
    assert.equal(await jobCount(queue), 0);
    assert.equal(await pool.workOne(), false, "nothing left to work");
    assert.equal(seen.length, 1);
  });
});
