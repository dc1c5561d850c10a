import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { JobInfo } from "../mod.ts";
import { useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

beforeEach(async () => {
  await t.sql`TRUNCATE gue_failed_jobs, gue_job_cancellations`;
});

function concurrent(): string | undefined {
  return t.pool.capabilities.concurrentTransactions
    ? undefined
    : "the adapter runs one transaction at a time: no job can run while another reads";
}

const hour = 3600_000;

/** Puts a job into gue_failed_jobs the way a worker does, for listing. */
async function deadLetter(id: string, queue: string, reason = "exhausted", failedAt = new Date()) {
  await t.sql`INSERT INTO gue_failed_jobs
    (job_id, priority, run_at, job_type, args, error_count, last_error, queue, created_at,
     updated_at, max_attempts, unique_key, fail_reason, failed_at)
    VALUES (${id}, 0, now(), 'T', '\\x7b7d', 3, 'boom', ${queue}, now(), now(), 3, NULL,
      ${reason}, ${failedAt})`;
}

describe("countJobs()", () => {
  test("counts ready, scheduled, failing and failed per queue", async () => {
    await t.client.enqueue({ type: "T", queue: "a" });
    await t.client.enqueue({ type: "T", queue: "a", runAt: new Date(Date.now() + hour) });
    const failing = await t.client.enqueue({ type: "T", queue: "b" });
    await t.sql`UPDATE gue_jobs SET error_count = 2 WHERE job_id = ${failing.id}`;
    await deadLetter("F1", "c");
    assert.deepEqual(await t.client.countJobs(), [
      { queue: "a", ready: 1, scheduled: 1, running: 0, failing: 0, failed: 0 },
      { queue: "b", ready: 1, scheduled: 0, running: 0, failing: 1, failed: 0 },
      { queue: "c", ready: 0, scheduled: 0, running: 0, failing: 0, failed: 1 },
    ]);
  });

  test("a job locked by a worker's open transaction counts as running, and not failing", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const job = await t.client.enqueue({ type: "T", queue: "r" });
    await t.sql`UPDATE gue_jobs SET error_count = 1 WHERE job_id = ${job.id}`;
    const locked = await t.client.lockJob("r");
    assert.ok(locked);
    try {
      assert.deepEqual(await t.client.countJobs(), [
        { queue: "r", ready: 1, scheduled: 0, running: 1, failing: 0, failed: 0 },
      ]);
      const info = await t.client.getJob(job.id);
      assert.equal(info?.state, "running");
      // Reading took no lock: another worker would still skip only this row, and the lock holder
      // can finish at once.
      assert.equal(await t.client.lockJob("r"), null);
    } finally {
      await locked.delete();
      await locked.done();
    }
    assert.deepEqual(await t.client.countJobs(), []);
  });
});

describe("getJob()", () => {
  test("gives a live job with its state, a failed one with why, and null for none", async () => {
    const ready = await t.client.enqueue({ type: "T", queue: "q", args: { n: 1 } });
    const later = await t.client.enqueue({ type: "T", runAt: new Date(Date.now() + hour) });
    await deadLetter("F1", "q", "cancelled");
    const a = await t.client.getJob(ready.id);
    assert.ok(a);
    assert.equal(a.state, "ready");
    assert.equal(a.queue, "q");
    assert.deepEqual(a.json(), { n: 1 });
    assert.equal(a.maxAttempts, null);
    assert.equal(a.failedAt, null);
    assert.equal((await t.client.getJob(later.id))?.state, "scheduled");
    const f = await t.client.getJob("F1");
    assert.equal(f?.state, "failed");
    assert.equal(f?.failReason, "cancelled");
    assert.equal(f?.lastError, "boom");
    assert.ok(f?.failedAt instanceof Date);
    assert.equal(await t.client.getJob("01HZZZZZZZZZZZZZZZZZZZZZZZ"), null);
  });
});

describe("listJobs()", () => {
  async function all(options: Parameters<typeof t.client.listJobs>[0]): Promise<JobInfo[]> {
    const out: JobInfo[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 100; pages++) {
      const page: { jobs: JobInfo[]; next: string | null } = await t.client.listJobs({
        ...options,
        after,
      });
      out.push(...page.jobs);
      if (page.next === null) return out;
      after = page.next;
    }
    throw new Error("more than 100 pages");
  }

  test("pages through one queue in due order, every job once", async () => {
    const now = Date.now();
    const jobs = await t.client.enqueueBatch(
      Array.from({ length: 23 }, (_, i) => ({
        type: i % 2 ? "Odd" : "Even",
        queue: "q",
        priority: i % 3,
        // Ties on run_at and priority too, so the id decides.
        runAt: new Date(now - 1000 + (i % 5) * 100),
      })),
    );
    await t.client.enqueue({ type: "Other", queue: "elsewhere" });
    const listed = await all({ queue: "q", limit: 5 });
    const expected = [...jobs].sort((a, b) =>
      a.runAt.getTime() - b.runAt.getTime() || a.priority - b.priority ||
      (a.id < b.id ? -1 : 1)
    ).map((j) => j.id);
    assert.deepEqual(listed.map((j) => j.id), expected);
    assert.deepEqual(
      (await all({ queue: "q", type: "Odd", limit: 4 })).map((j) => j.id),
      expected.filter((id) => jobs.find((j) => j.id === id)!.type === "Odd"),
    );
  });

  test("without a queue, lists every queue in id order", async () => {
    const a = await t.client.enqueue({ type: "T", queue: "a" });
    const b = await t.client.enqueue({ type: "T", queue: "b" });
    const c = await t.client.enqueue({ type: "T", queue: "a" });
    assert.deepEqual((await all({ limit: 2 })).map((j) => j.id), [a.id, b.id, c.id]);
  });

  test("filters by state: ready, scheduled, failing, failed", async () => {
    const ready = await t.client.enqueue({ type: "T", queue: "q" });
    const later = await t.client.enqueue({
      type: "T",
      queue: "q",
      runAt: new Date(Date.now() + hour),
    });
    const failing = await t.client.enqueue({
      type: "T",
      queue: "q",
      runAt: new Date(Date.now() + hour),
    });
    await t.sql`UPDATE gue_jobs SET error_count = 1 WHERE job_id = ${failing.id}`;
    await deadLetter("F1", "q");
    await deadLetter("F2", "other");
    await deadLetter("F3", "q");
    const ids = async (o: Parameters<typeof t.client.listJobs>[0]) =>
      (await all(o)).map((j) => j.id);
    assert.deepEqual(await ids({ queue: "q", state: "ready" }), [ready.id]);
    assert.deepEqual(await ids({ queue: "q", state: "scheduled" }), [later.id, failing.id]);
    assert.deepEqual(await ids({ state: "failing" }), [failing.id]);
    assert.deepEqual(await ids({ queue: "q", state: "failed", limit: 1 }), ["F1", "F3"]);
    assert.deepEqual(await ids({ state: "failed", limit: 2 }), ["F1", "F2", "F3"]);
    const [f] = (await t.client.listJobs({ state: "failed", limit: 1 })).jobs;
    assert.equal(f.state, "failed");
    assert.equal(f.failReason, "exhausted");
  });

  test("lists running jobs without waiting for their locks", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const a = await t.client.enqueue({ type: "T", queue: "q" });
    const b = await t.client.enqueue({ type: "T", queue: "q" });
    const locked = await t.client.lockJob("q");
    assert.equal(locked?.id, a.id);
    try {
      const running = await t.client.listJobs({ queue: "q", state: "running" });
      assert.deepEqual(running.jobs.map((j) => [j.id, j.state]), [[a.id, "running"]]);
      const ready = await t.client.listJobs({ state: "ready" });
      assert.deepEqual(ready.jobs.map((j) => [j.id, j.state]), [[b.id, "ready"]]);
    } finally {
      await locked!.done();
    }
    assert.deepEqual((await t.client.listJobs({ state: "running" })).jobs, []);
  });

  test("rejects bad options, naming them", async () => {
    await assert.rejects(
      t.client.listJobs({ limit: 0 }),
      /limit must be an integer from 1 to 1000/,
    );
    await assert.rejects(
      // @ts-expect-error: a state that does not exist
      t.client.listJobs({ state: "done" }),
      /state must be one of ready, scheduled, running, failing, failed, got "done"/,
    );
    await assert.rejects(t.client.listJobs({ queue: "q", after: "nope" }), /after must be/);
  });
});

describe("waitUntilDrained()", () => {
  test("resolves once no due job is left and none runs; scheduled jobs do not count", async () => {
    await t.client.enqueue({ type: "T", queue: "d", runAt: new Date(Date.now() + hour) });
    await t.client.waitUntilDrained("d");
    const job = await t.client.enqueue({ type: "T", queue: "d" });
    let drained = false;
    const waiting = t.client.waitUntilDrained("d", { pollInterval: 20 }).then(() => drained = true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(drained, false);
    await t.sql`DELETE FROM gue_jobs WHERE job_id = ${job.id}`;
    await waiting;
    assert.equal(drained, true);
  });

  test("waits for a running job's commit", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    await t.client.enqueue({ type: "T", queue: "d" });
    const locked = await t.client.lockJob("d");
    assert.ok(locked);
    await locked.delete(); // deleted, not yet committed: still running
    let drained = false;
    const waiting = t.client.waitUntilDrained("d", { pollInterval: 20 }).then(() => drained = true);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(drained, false);
    await locked.done();
    await waiting;
  });

  test("rejects with the signal's reason when aborted", async () => {
    await t.client.enqueue({ type: "T", queue: "d" });
    const stop = new AbortController();
    const waiting = t.client.waitUntilDrained("d", { signal: stop.signal, pollInterval: 20 });
    stop.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);
  });
});

describe("failed jobs", () => {
  test("retry moves one back with its error count reset; delete and prune remove them", async () => {
    await deadLetter("F1", "q");
    await deadLetter("F2", "q", "discarded", new Date(Date.now() - 10 * 24 * hour));
    await deadLetter("F3", "q", "discarded", new Date(Date.now() - 2 * hour));
    assert.equal(await t.client.retryFailedJob("F1"), true);
    assert.equal(await t.client.retryFailedJob("F1"), false);
    const back = await t.client.getJob("F1");
    assert.equal(back?.state, "ready");
    assert.equal(back?.errorCount, 0);
    assert.equal(back?.lastError, "boom");
    assert.equal(back?.maxAttempts, 3);
    assert.equal(await t.client.pruneFailedJobs(7 * 24 * hour), 1);
    assert.equal(await t.client.getJob("F2"), null);
    assert.equal(await t.client.deleteFailedJob("F3"), true);
    assert.equal(await t.client.deleteFailedJob("F3"), false);
    assert.deepEqual((await t.client.countJobs()).map((c) => c.failed), [0]);
  });
});
