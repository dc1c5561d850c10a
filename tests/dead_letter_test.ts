import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  discardJob,
  type HookFunc,
  InvalidJobArgsError,
  type Job,
  rescheduleJobIn,
  Worker,
} from "../mod.ts";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { startFixture, waitForExit } from "./fixtures/child.ts";
import { adapterUnderTest, useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();
const quiet = { debug() {}, info() {}, error() {} };

beforeEach(async () => {
  await t.sql`TRUNCATE gue_failed_jobs`;
});

/** Works one job of `queue` with `handler`; returns what the jobFailed hooks saw. */
async function workOne(
  client: Client,
  queue: string,
  handler: (job: Job) => void | Promise<void>,
): Promise<{ job: Job; err: unknown }[]> {
  const failed: { job: Job; err: unknown }[] = [];
  const hook: HookFunc = (job, err) => void failed.push({ job: job!, err });
  const worker = new Worker(client, { T: handler }, {
    queue,
    logger: quiet,
    hooks: { jobFailed: [hook] },
  });
  assert.equal(await worker.workOne(), true, "a job was worked");
  return failed;
}

async function live(id: string) {
  const [row] = await t.sql`SELECT error_count, last_error FROM gue_jobs WHERE job_id = ${id}`;
  return row ? { ...row } : undefined;
}

async function dead(id: string) {
  const [row] = await t.sql`SELECT error_count, last_error, fail_reason, max_attempts
    FROM gue_failed_jobs WHERE job_id = ${id}`;
  return row ? { ...row } : undefined;
}

/** Makes the job due again, as if its backoff had passed. */
async function due(id: string) {
  await t.sql`UPDATE gue_jobs SET run_at = now() - interval '1 second' WHERE job_id = ${id}`;
}

describe("maxAttempts", () => {
  test("a job that fails its last attempt moves to gue_failed_jobs, in that transaction", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "a", maxAttempts: 2 });
    assert.equal(job.maxAttempts, 2);
    const boom = () => {
      throw new Error("boom");
    };
    assert.deepEqual(await workOne(t.client, "a", boom), []);
    assert.equal((await live(job.id))?.error_count, 1, "first failure: retried");
    await due(job.id);
    const failed = await workOne(t.client, "a", boom);
    assert.equal(await live(job.id), undefined);
    const row = await dead(job.id);
    assert.equal(row?.error_count, 2);
    assert.equal(row?.fail_reason, "exhausted");
    assert.equal(row?.max_attempts, 2);
    assert.match(row?.last_error, /^boom\n/);
    // The hook sees the final failure as such.
    assert.equal(failed.length, 1);
    assert.equal(failed[0].job.id, job.id);
    assert.equal(failed[0].job.failReason, "exhausted");
    assert.match(String(failed[0].err), /boom/);
    const info = await t.client.getJob(job.id);
    assert.equal(info?.state, "failed");
    assert.equal(info?.failReason, "exhausted");
  });

  test("the client's default applies; null on a job means retry forever", async () => {
    const client = new Client(t.pool, { maxAttempts: 1, logger: quiet });
    const limited = await client.enqueue({ type: "T", queue: "b" });
    const forever = await client.enqueue({ type: "T", queue: "c", maxAttempts: null });
    assert.equal(limited.maxAttempts, 1);
    assert.equal(forever.maxAttempts, null);
    const boom = () => Promise.reject(new Error("boom"));
    await workOne(client, "b", boom);
    assert.equal((await dead(limited.id))?.fail_reason, "exhausted");
    for (let i = 1; i <= 3; i++) {
      await workOne(client, "c", boom);
      assert.equal((await live(forever.id))?.error_count, i);
      await due(forever.id);
    }
  });

  test("an explicit reschedule is honoured even on the last attempt", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "d", maxAttempts: 1 });
    await workOne(t.client, "d", () => {
      throw rescheduleJobIn(60_000, "not yet");
    });
    assert.equal((await live(job.id))?.error_count, 1);
  });

  test("rejects a maxAttempts that is not a positive integer, naming it", async () => {
    await assert.rejects(
      t.client.enqueue({ type: "T", maxAttempts: 0 }),
      /job.maxAttempts must be a positive integer or null, got 0/,
    );
    await assert.rejects(
      t.client.enqueueBatch([{ type: "T" }, { type: "T", maxAttempts: 1.5 }]),
      /jobs\[1\].maxAttempts must be a positive integer or null, got 1.5/,
    );
    assert.throws(() => new Client(t.pool, { maxAttempts: -1 }), /Client: maxAttempts/);
    assert.throws(
      // @ts-expect-error: not an option value
      () => new Client(t.pool, { onDiscard: "keep" }),
      /onDiscard must be "deadLetter" or "delete", got "keep"/,
    );
  });
});

/** A reader the test collects from by hand. */
class TestReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

describe("telemetry of dead letters", () => {
  test("gue_worker_jobs_failed counts a committed move, by job type and reason", async () => {
    const reader = new TestReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    try {
      const meter = meterProvider.getMeter("gue-test");
      const retried = await t.client.enqueue({ type: "T", queue: "m", maxAttempts: 2 });
      await t.client.enqueue({ type: "T", queue: "m", maxAttempts: 1 });
      const worker = new Worker(t.client, {
        T: () => {
          throw new Error("boom");
        },
      }, { queue: "m", logger: quiet, meter });
      assert.equal(await worker.workOne(), true);
      assert.equal(await worker.workOne(), true);
      assert.equal((await live(retried.id))?.error_count, 1, "one retried, not counted");
      const { resourceMetrics } = await reader.collect();
      const failed = resourceMetrics.scopeMetrics.flatMap((m) => m.metrics)
        .find((m) => m.descriptor.name === "gue_worker_jobs_failed");
      assert.deepEqual(
        failed?.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })),
        [{ attributes: { "job-type": "T", "fail-reason": "exhausted" }, value: 1 }],
      );
    } finally {
      await meterProvider.shutdown();
    }
  });
});

describe("discarded jobs", () => {
  test("discardJob() dead-letters the job with reason discarded", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "e" });
    const failed = await workOne(t.client, "e", () => {
      throw discardJob("bad input");
    });
    assert.equal((await dead(job.id))?.fail_reason, "discarded");
    assert.equal(failed[0]?.job.failReason, "discarded");
  });

  test("a backoff that gives up dead-letters the job", async () => {
    const client = new Client(t.pool, { backoff: () => -1, logger: quiet });
    const job = await client.enqueue({ type: "T", queue: "f" });
    await workOne(client, "f", () => {
      throw new Error("no");
    });
    assert.equal((await dead(job.id))?.fail_reason, "discarded");
  });

  test("onDiscard: 'delete' deletes it, as gue does", async () => {
    const client = new Client(t.pool, { onDiscard: "delete", logger: quiet });
    const job = await client.enqueue({ type: "T", queue: "g" });
    const failed = await workOne(client, "g", () => {
      throw discardJob("gone");
    });
    assert.equal(await live(job.id), undefined);
    assert.equal(await dead(job.id), undefined);
    assert.deepEqual(failed, []);
  });

  test("a DeadLetterError in the cause chain dead-letters at once, attempts left or not", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "h", maxAttempts: 5 });
    await workOne(t.client, "h", () => {
      throw new Error("wrapped", { cause: new InvalidJobArgsError("T", "name: required") });
    });
    const row = await dead(job.id);
    assert.equal(row?.fail_reason, "invalid");
    assert.equal(row?.error_count, 1);
  });
});

describe("retrying a failed job", () => {
  test("moves it back with its attempts, and it runs", async () => {
    const job = await t.client.enqueue({ type: "T", queue: "i", maxAttempts: 1 });
    await workOne(t.client, "i", () => {
      throw new Error("flaky");
    });
    assert.equal(await t.client.retryFailedJob(job.id), true);
    let ran = false;
    await workOne(t.client, "i", () => void (ran = true));
    assert.equal(ran, true);
    assert.equal(await live(job.id), undefined);
    assert.equal(await dead(job.id), undefined);
  });
});

describe("crash while dead-lettering", () => {
  test(
    "a worker killed while its dead-lettering statement waits to commit loses nothing",
    {
      skip: adapterUnderTest() === "pglite"
        ? "pglite is in-process: no second process to kill"
        : undefined,
    },
    async () => {
      const queue = "crash-dl";
      const job = await t.client.enqueue({ type: "Fail", queue, maxAttempts: 1 });
      // Hold the job's id in gue_failed_jobs in an open transaction: the worker's move (one
      // DELETE … INSERT statement) then waits on the primary key, inside its transaction.
      const holder = await t.sql.reserve();
      await holder`BEGIN`;
      await holder`INSERT INTO gue_failed_jobs
        (job_id, priority, run_at, job_type, args, error_count, queue, created_at, updated_at,
         fail_reason, failed_at)
        VALUES (${job.id}, 0, now(), 'x', '', 0, 'x', now(), now(), 'x', now())`;
      const fixture = startFixture("failing_worker.ts", {
        GUE_FIXTURE_DATABASE_URL: t.db.url,
        GUE_FIXTURE_QUEUE: queue,
      });
      try {
        assert.equal(await fixture.line("failing ", 30_000), `failing ${job.id}`);
        await waitFor(
          async () =>
            (await t.sql`SELECT 1 FROM pg_stat_activity
              WHERE wait_event_type = 'Lock' AND query LIKE '%gue_failed_jobs%'
                AND datname = current_database()`).length === 1,
          30_000,
          "the worker's move to wait on the held key",
        );
      } finally {
        fixture.child.kill("SIGKILL");
      }
      assert.deepEqual(await waitForExit(fixture, 30_000), { code: null, signal: "SIGKILL" });
      await holder`ROLLBACK`;
      holder.release();
      // The killed transaction rolled back: the job is live, untouched, and not half-moved.
      await waitFor(async () => (await live(job.id)) !== undefined, 30_000, "the rollback");
      assert.deepEqual(await live(job.id), { error_count: 0, last_error: null });
      assert.equal(await dead(job.id), undefined);
      // And the next worker dead-letters it properly.
      await workOne(t.client, queue, () => {
        throw new Error("last straw");
      });
      assert.equal(await live(job.id), undefined);
      assert.equal((await dead(job.id))?.fail_reason, "exhausted");
    },
  );
});
