import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, type HookFunc, JobCancelledError, Worker } from "../mod.ts";
import { clientWakeup } from "../src/client.ts";
import { useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();
const quiet = { debug() {}, info() {}, error() {} };

beforeEach(async () => {
  await t.sql`TRUNCATE gue_failed_jobs, gue_job_cancellations`;
});

function concurrent(): string | undefined {
  return t.pool.capabilities.concurrentTransactions
    ? undefined
    : "the adapter runs one transaction at a time: nothing can cancel while a job runs";
}

describe("cancelJob()", () => {
  test("a queued job is moved to the failed jobs as cancelled and never runs", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "c1", uniqueKey: "c1" });
    assert.equal(await t.client.cancelJob(job.id), "cancelled");
    const info = await t.client.getJob(job.id);
    assert.equal(info?.state, "failed");
    assert.equal(info?.failReason, "cancelled");
    assert.equal(info?.errorCount, 0);
    let ran = false;
    const worker = new Worker(t.client, { T: () => void (ran = true) }, { queue: "c1" });
    assert.equal(await worker.workOne(), false);
    assert.equal(ran, false);
    // Its unique key is free again.
    assert.equal(
      (await t.client.enqueue({ type: "T", queue: "c1", uniqueKey: "c1" })).inserted,
      true,
    );
    assert.equal(await t.client.cancelJob(job.id), "absent", "already failed");
    assert.equal(await t.client.cancelJob("01HZZZZZZZZZZZZZZZZZZZZZZZ"), "absent");
  });

  test("a running job's signal aborts with JobCancelledError; it ends cancelled, not retried", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const client = new Client(t.pool, { cancelPollInterval: 50, logger: quiet });
    const job = await client.enqueue({ type: "Long", queue: "c2", maxAttempts: 10 });
    let started = false;
    let reason: unknown;
    const failed: string[] = [];
    const hook: HookFunc = (j) => void failed.push(j!.failReason!);
    const worker = new Worker(client, {
      Long: async (j, { signal }) => {
        started = true;
        // Writes through the job's transaction are rolled back with the cancellation.
        await j.tx().query("CREATE TEMP TABLE cancelled_write (x int)");
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            resolve();
          }, { once: true });
        });
        throw signal.reason;
      },
    }, { queue: "c2", logger: quiet, hooks: { jobFailed: [hook] } });
    const working = worker.workOne();
    await waitFor(() => started, 10_000, "the handler to start");
    const asked = performance.now();
    assert.equal(await client.cancelJob(job.id), "requested");
    assert.equal(await working, true);
    const ms = performance.now() - asked;
    assert.ok(reason instanceof JobCancelledError, `signal reason: ${reason}`);
    assert.ok(ms < 5_000, `stopped ${ms.toFixed(0)} ms after cancelJob`);
    const info = await client.getJob(job.id);
    assert.equal(info?.state, "failed");
    assert.equal(info?.failReason, "cancelled");
    assert.deepEqual(failed, ["cancelled"]);
    const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_job_cancellations`;
    assert.equal(n, 0, "the request is gone with the job");
  });

  test("a handler that ignores the signal and returns still ends cancelled", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const client = new Client(t.pool, { cancelPollInterval: 50, logger: quiet });
    const job = await client.enqueue({ type: "Stubborn", queue: "c3" });
    let started = false;
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    const worker = new Worker(client, {
      Stubborn: async () => {
        started = true;
        await released;
      },
    }, { queue: "c3", logger: quiet });
    const working = worker.workOne();
    await waitFor(() => started, 10_000, "the handler to start");
    assert.equal(await client.cancelJob(job.id), "requested");
    await waitFor(
      async () => (await t.sql`SELECT 1 FROM gue_job_cancellations`).length === 1,
      10_000,
      "the request",
    );
    await new Promise((r) => setTimeout(r, 200)); // the watch has seen it
    release();
    await working;
    assert.equal((await client.getJob(job.id))?.failReason, "cancelled");
  });

  test("with cancelPollInterval 0, running jobs ignore cancelJob", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const client = new Client(t.pool, { cancelPollInterval: 0, logger: quiet });
    const job = await client.enqueue({ type: "Short", queue: "c4" });
    let started = false;
    let release!: () => void;
    const released = new Promise<void>((r) => release = r);
    const worker = new Worker(client, {
      Short: async () => {
        started = true;
        await released;
      },
    }, { queue: "c4", logger: quiet });
    const working = worker.workOne();
    await waitFor(() => started, 10_000, "the handler to start");
    assert.equal(await client.cancelJob(job.id), "requested");
    await new Promise((r) => setTimeout(r, 200));
    release();
    await working;
    assert.equal(await client.getJob(job.id), null, "done and deleted");
    assert.throws(() => new Client(t.pool, { cancelPollInterval: -1 }), /cancelPollInterval/);
  });
});

describe("cancelJob() when the client listens", () => {
  test("a running job's signal aborts at once, long before cancelPollInterval", async (tt) => {
    const why = concurrent() ??
      (t.pool.capabilities.listen ? undefined : `the ${t.pool.name} adapter cannot LISTEN`);
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const client = new Client(t.pool, { cancelPollInterval: 60_000, logger: quiet });
    const job = await client.enqueue({ type: "Long", queue: "c3", maxAttempts: 10 });
    let started = false;
    let reason: unknown;
    const worker = new Worker(client, {
      Long: async (_j, { signal }) => {
        started = true;
        await new Promise<void>((resolve) => {
          signal.addEventListener("abort", () => {
            reason = signal.reason;
            resolve();
          }, { once: true });
        });
        throw signal.reason;
      },
    }, { queue: "c3", logger: quiet, pollInterval: 50 });
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    try {
      await waitFor(() => started, 10_000, "the handler to start");
      await waitFor(() => clientWakeup(client).listening, 10_000, "the LISTEN connection");
      const asked = performance.now();
      assert.equal(await client.cancelJob(job.id), "requested");
      await waitFor(() => reason !== undefined, 10_000, "the signal to abort");
      const ms = performance.now() - asked;
      assert.ok(reason instanceof JobCancelledError, `signal reason: ${reason}`);
      assert.ok(ms < 10_000, `aborted ${ms.toFixed(0)} ms after cancelJob`);
      await waitFor(
        async () => (await client.getJob(job.id))?.state === "failed",
        10_000,
        "the job to fail",
      );
      assert.equal((await client.getJob(job.id))?.failReason, "cancelled");
    } finally {
      stop.abort();
      await running;
    }
  });
});
