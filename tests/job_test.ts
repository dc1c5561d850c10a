import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  backoffNever,
  Client,
  constantBackoff,
  DatabaseError,
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
    assert.throws(() => job.tx(), /is already done: its transaction is committed/);
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
    await assert.rejects(() => job.delete(), /is already done: .*; job\.delete\(\) is only valid/);
    await assert.rejects(
      () => job.error(new Error("x")),
      /is already done: .*; job\.error\(\) is only valid/,
    );
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
    assert.throws(
      () => job.tx(),
      /is already done: its transaction is committed/,
      "error() commits",
    );
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
    await t.client.enqueue({ type: "T", queue: "j", args: new TextEncoder().encode("{oops") });
    const bad = await t.client.lockJob("j");
    assert.throws(
      () => bad!.json(),
      (e: Error) => e instanceof SyntaxError && e.message.includes(bad!.id),
    );
    await bad!.done();
  });

  test("a job enqueued without args has empty args, and json() returns undefined", async () => {
    await t.client.enqueue({ type: "T", queue: "j" });
    const job = await t.client.lockJob("j");
    assert.ok(job);
    assert.equal(job.args.length, 0, "stored as empty bytes, as gue stores them");
    assert.equal(job.json(), undefined);
    assert.equal(job.json<{ a?: number } | undefined>()?.a ?? 1, 1);
    await job.done();
  });

  test("null and other JSON values are returned as stored", async () => {
    await t.client.enqueue({ type: "T", queue: "j", args: null });
    const job = await t.client.lockJob("j");
    assert.equal(job!.json(), null);
    await job!.done();
  });
});

describe("Job.tx()", () => {
  test("is the open transaction until the job is done, then throws naming the job", async () => {
    const job = await enqueueAndLock();
    const { rows } = await job.tx().query<{ one: number }>("SELECT 1 AS one");
    assert.equal(rows[0].one, 1);
    await job.done();
    assert.throws(
      () => job.tx(),
      (e: Error) =>
        e.message ===
          `job ${job.id} (T) is already done: its transaction is committed; job.tx() is only ` +
            "valid while the handler runs (or, for a job locked by hand, until done())",
    );
  });
});

describe("database errors of job methods", () => {
  /** Asserts a DatabaseError from `operation` with the SQLSTATE `code`, the driver's error as cause. */
  function isDatabaseError(err: unknown, operation: string, code: string): DatabaseError {
    assert.ok(err instanceof DatabaseError, `a DatabaseError, got ${err}`);
    assert.equal(err.code, code);
    assert.ok(err.message.startsWith(`${operation}: `), err.message);
    assert.ok(err.cause instanceof Error, "the driver's error is the cause");
    assert.notEqual(err.cause, err);
    return err;
  }

  test("delete() and error() reject with DatabaseError in an aborted transaction", async () => {
    const job = await enqueueAndLock();
    await assert.rejects(job.tx().query("SELECT * FROM no_such_table"));
    const deleting = await job.delete().then(() => undefined, (err) => err);
    isDatabaseError(deleting, "job.delete", "25P02");
    assert.ok(job.tx(), "a failed delete leaves the transaction to the caller");
    const erroring = await job.error(new Error("x")).then(() => undefined, (err) => err);
    isDatabaseError(erroring, "job.error", "25P02");
    assert.throws(() => job.tx(), /is already done: its transaction is rolled back/);
    const row = await theRow();
    assert.equal(row.error_count, 0, "nothing was recorded");
  });

  test("done() rejects with DatabaseError keeping the server's fields for a deferred constraint", async () => {
    await t.sql`CREATE TABLE job_parent (id int PRIMARY KEY)`;
    await t.sql`CREATE TABLE job_child (parent_id int CONSTRAINT job_child_parent_fk
      REFERENCES job_parent (id) DEFERRABLE INITIALLY DEFERRED)`;
    try {
      const job = await enqueueAndLock();
      await job.tx().query("INSERT INTO job_child VALUES (42)");
      await job.delete();
      const err = isDatabaseError(
        await job.done().then(() => undefined, (e) => e),
        "job.done",
        "23503",
      );
      assert.equal(err.constraint, "job_child_parent_fk");
      assert.equal(err.table, "job_child");
      assert.equal(err.schema, "public");
      assert.match(err.detail ?? "", /\(parent_id\)=\(42\)/);
      assert.ok(err.severity, "the severity is kept");
      assert.equal((err.cause as { code?: string }).code, "23503");
      assert.throws(() => job.tx(), /its transaction is ended by a failed commit/);
      assert.ok(await theRow(), "the delete rolled back with the commit");
    } finally {
      await t.sql`DROP TABLE IF EXISTS job_child`;
      await t.sql`DROP TABLE IF EXISTS job_parent`;
    }
  });
});
