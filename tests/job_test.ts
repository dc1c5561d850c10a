import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  backoffNever,
  Client,
  constantBackoff,
  discardJob,
  type Job,
  rescheduleJobAt,
  rescheduleJobIn,
} from "../mod.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

async function enqueueAndLock(client: Client = t.client, queue = "j"): Promise<Job> {
  await client.enqueue({ type: "T", queue });
  const job = await client.lockJob(queue);
  assert.ok(job, "a job was locked");
  return job;
}

async function theRow() {
  const rows = await t.sql`SELECT * FROM gue_jobs`;
  return rows[0];
}

describe("Job.done()", () => {
  test("commits and releases the lock; calling it again (or concurrently) is harmless", async () => {
    const job = await enqueueAndLock();
    await job.delete();
    await Promise.all([job.done(), job.done(), job.done()]);
    await job.done();
    assert.equal(job.tx(), null);
    assert.equal(await theRow(), undefined, "the delete was committed");
  });

  test("without delete() the job stays and can be locked again", async () => {
    const job = await enqueueAndLock();
    await job.done();
    const again = await t.client.lockJob("j");
    assert.equal(again?.id, job.id);
    await again!.done();
  });

  test("delete() after done() throws a clear error", async () => {
    const job = await enqueueAndLock();
    await job.done();
    await assert.rejects(() => job.delete(), /is already done/);
    await assert.rejects(() => job.error(new Error("x")), /is already done/);
  });

  test("delete() twice deletes once", async () => {
    const job = await enqueueAndLock();
    await job.delete();
    await job.delete();
    await job.done();
    assert.equal(await theRow(), undefined);
  });
});

describe("Job.error()", () => {
  test("increments error_count, stores message and stack, moves run_at by the backoff", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    const job = await enqueueAndLock(client);
    const before = Date.now();
    await job.error(new Error("it broke"));
    assert.equal(job.tx(), null, "error() commits");
    const row = await theRow();
    assert.equal(row.error_count, 1);
    assert.match(row.last_error, /^it broke\n/);
    assert.match(row.last_error, /job_test\.ts/, "the stack is kept");
    const delay = row.run_at.getTime() - before;
    assert.ok(delay >= 59_000 && delay <= 61_000, `run_at moved by the backoff, got ${delay}`);
    assert.ok(row.updated_at.getTime() >= row.created_at.getTime());
  });

  test("the default backoff moves run_at by at least a second on the first error", async () => {
    const job = await enqueueAndLock();
    const before = Date.now();
    await job.error(new Error("first"));
    const row = await theRow();
    const delay = row.run_at.getTime() - before;
    assert.ok(delay >= 1000 && delay <= 2500, `1.28–1.92 s expected, got ${delay}`);
  });

  test("the backoff gets the new error count", async () => {
    const seen: number[] = [];
    const client = new Client(t.pool, { backoff: (n) => (seen.push(n), 0) });
    await client.enqueue({ type: "T", queue: "j" });
    for (let i = 0; i < 3; i++) {
      const job = await client.lockJob("j");
      assert.equal(job?.errorCount, i, "errorCount is read at lock time");
      await job!.error(new Error(`fail ${i}`));
    }
    assert.deepEqual(seen, [1, 2, 3]);
    const row = await theRow();
    assert.equal(row.error_count, 3);
    assert.match(row.last_error, /^fail 2/);
  });

  test("a negative backoff discards the job", async () => {
    const client = new Client(t.pool, { backoff: backoffNever });
    const job = await enqueueAndLock(client);
    await job.error(new Error("give up"));
    assert.equal(await theRow(), undefined);
  });

  test("discardJob() deletes the job, also when wrapped as a cause", async () => {
    const job = await enqueueAndLock();
    await job.error(discardJob("bad input"));
    assert.equal(await theRow(), undefined);

    const job2 = await enqueueAndLock();
    await job2.error(new Error("wrapper", { cause: discardJob("deep") }));
    assert.equal(await theRow(), undefined);
  });

  test("rescheduleJobAt() sets run_at and counts the error with gue's text", async () => {
    const at = new Date("2030-01-02T03:04:05Z");
    const job = await enqueueAndLock();
    await job.error(rescheduleJobAt(at, "new year"));
    const row = await theRow();
    assert.equal(row.run_at.getTime(), at.getTime());
    assert.equal(row.error_count, 1);
    assert.equal(
      row.last_error,
      'rescheduling job at "2030-01-02 03:04:05 +0000 UTC" because "new year"',
    );
  });

  test("rescheduleJobIn() counts from when the error is recorded; negative runs at once", async () => {
    const job = await enqueueAndLock();
    const before = Date.now();
    await job.error(rescheduleJobIn(10_000, "later"));
    let row = await theRow();
    const delay = row.run_at.getTime() - before;
    assert.ok(delay >= 9_000 && delay <= 11_000, `about 10 s, got ${delay}`);
    assert.equal(row.error_count, 1);
    assert.equal(row.last_error, 'rescheduling job in "10s" because "later"');

    await t.sql`UPDATE gue_jobs SET run_at = now() - interval '1 second'`;
    const again = await t.client.lockJob("j");
    await again!.error(rescheduleJobIn(-5000, "now"));
    row = await theRow();
    assert.ok(row, "a negative delay does not discard");
    assert.ok(row.run_at.getTime() <= Date.now());
    assert.equal(row.error_count, 2);
  });

  test("concurrent error() and done() calls finish the job exactly once", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(0) });
    const job = await enqueueAndLock(client);
    const results = await Promise.allSettled([job.error(new Error("a")), job.done(), job.done()]);
    assert.equal(results[0].status, "fulfilled");
    const row = await theRow();
    assert.equal(row.error_count, 1);
  });
});

describe("Job.json()", () => {
  test("decodes JSON args and says which job when they are not JSON", async () => {
    await t.client.enqueue({ type: "T", queue: "j", args: [1, "two", { three: 3 }] });
    const job = await t.client.lockJob("j");
    assert.deepEqual(job!.json(), [1, "two", { three: 3 }]);
    await job!.done();
    await t.sql`TRUNCATE gue_jobs`;
    await t.client.enqueue({ type: "T", queue: "j" });
    const empty = await t.client.lockJob("j");
    assert.throws(
      () => empty!.json(),
      (e: Error) => e instanceof SyntaxError && e.message.includes(empty!.id),
    );
    await empty!.done();
  });
});
