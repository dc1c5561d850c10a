/**
 * Crashes: gue's promise is that a job's row lock lives and dies with its transaction, so a
 * worker process that dies, or a connection the server drops, frees the job at once with nothing
 * recorded against it, and the surviving workers carry on.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Client, type Job, JobNotFoundError, Worker } from "../mod.ts";
import {
  adapterUnderTest,
  createTestDatabase,
  openTestPool,
  useTestDatabase,
  waitFor,
} from "./_db.ts";
import { startFixture, waitForExit } from "./fixtures/child.ts";

const t = useTestDatabase({ max: 10 });

// Bun stops a test after 5 s by default; the waits below have their own, longer bounds.
const LIMIT = { timeout: 60_000 };

// These tests kill server sessions and processes; PGlite runs in the test's own process, with no
// server session to kill.
const noServer = adapterUnderTest() === "pglite"
  ? "PGlite runs in-process: there is no server session to kill or refuse"
  : undefined;
if (noServer) console.log(`skipped: ${noServer}`);
const OPTIONS = noServer ? { ...LIMIT, skip: noServer } : LIMIT;

async function row(id: string): Promise<{ error_count: number } | undefined> {
  const [found] = await t.sql<{ error_count: number }[]>`
    SELECT error_count FROM gue_jobs WHERE job_id = ${id}`;
  return found;
}

describe("crashes", () => {
  test(
    "a worker process killed with SIGKILL mid-job leaves its job to the next worker, error not counted",
    OPTIONS,
    async () => {
      const queue = "crash-sigkill";
      const enqueued = await t.client.enqueue({ type: "Hang", queue });
      const fixture = startFixture("crash_worker.ts", {
        GUE_FIXTURE_DATABASE_URL: t.db.url,
        GUE_FIXTURE_QUEUE: queue,
      });
      try {
        assert.equal(await fixture.line("started ", 30_000), `started ${enqueued.id}`);
        // While the child's transaction is open, the row is locked: nobody else can take it.
        await assert.rejects(t.client.lockJobById(enqueued.id), JobNotFoundError);
      } finally {
        fixture.child.kill("SIGKILL");
      }
      assert.deepEqual(await waitForExit(fixture, 30_000), { code: null, signal: "SIGKILL" });

      // Postgres sees the socket close, ends the dead session and rolls its transaction back.
      const worked: Job[] = [];
      const worker = new Worker(t.client, { Hang: (job) => void worked.push(job) }, {
        queue,
        pollInterval: 50,
      });
      const stop = new AbortController();
      const running = worker.run(stop.signal);
      try {
        await waitFor(
          async () => worked.length === 1 && !(await row(enqueued.id)),
          30_000,
          "the killed worker's job worked by another worker",
        );
      } finally {
        stop.abort();
        await running;
      }
      assert.equal(worked[0].id, enqueued.id);
      assert.equal(worked[0].errorCount, 0, "the crash is not counted as an error");
      assert.equal(await row(enqueued.id), undefined, "the job is gone");
    },
  );

  test(
    "lock errors: while the database refuses connections run() keeps polling, reports them to jobLocked, and recovers",
    OPTIONS,
    async () => {
      // A database of its own, refusing connections before the worker's pool has ever connected:
      // every poll fails to connect. Nothing is terminated, so no open transaction is cut (that
      // is the next test's subject), which keeps this one deterministic.
      const db = await createTestDatabase("gue_test_lockerr");
      const setup = await openTestPool(db.url, 1);
      await new Client(setup).migrate();
      await setup.close();
      await t.sql.unsafe(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);

      const pool = await openTestPool(db.url, 4);
      const client = new Client(pool);
      const locked: { job: Job | null; err: unknown }[] = [];
      const worked: string[] = [];
      const worker = new Worker(client, { Note: (job) => void worked.push(job.id) }, {
        queue: "lock-errors",
        pollInterval: 50,
        hooks: { jobLocked: [(job, err) => void locked.push({ job, err })] },
      });
      const stop = new AbortController();
      let stopped = false;
      const running = worker.run(stop.signal).finally(() => (stopped = true));
      try {
        await waitFor(() => locked.length >= 3, 20_000, "three failed polls");
        for (const { job, err } of locked) {
          assert.equal(job, null, "a failed poll has no job");
          assert.ok(err instanceof Error, "and reports the lock error");
        }
        assert.equal(stopped, false, "run() keeps going through lock errors");

        await t.sql.unsafe(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
        const job = await client.enqueue({ type: "Note", queue: "lock-errors" });
        await waitFor(() => worked.includes(job.id), 30_000, "a job worked after recovery");
        assert.ok(locked.some((l) => l.job?.id === job.id && l.err === null));
      } finally {
        stop.abort();
        await running;
        await t.sql.unsafe(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
        await pool.close();
        await db.drop();
      }
    },
  );

  // Guards the postgresjs adapter against postgres.js issues #1208/#1154: a query on a reserved
  // connection the server closed never settles. Every wait is bounded so a regression fails fast.
  test(
    "a connection terminated mid-job: the commit fails, jobUndone fires, the worker keeps working and the job runs again after backoff",
    OPTIONS,
    async () => {
      const queue = "crash-terminate";
      // A pool of its own: a broken connection must not poison the pool the other tests share.
      const pool = await openTestPool(t.db.url, 4);
      const client = new Client(pool);
      const uncaught: unknown[] = [];
      const onUncaught = (err: unknown) => void uncaught.push(err);
      process.on("uncaughtException", onUncaught);

      const first = await client.enqueue({ type: "Terminated", queue });
      const calls = new Map<string, { workerId: string; errorCount: number }[]>();
      let pid: number | undefined;
      let terminated = false;
      const undone: { job: Job | null; err: unknown }[] = [];
      const errors: string[] = [];
      const logger = { debug() {}, info() {}, error: (msg: string) => void errors.push(msg) };
      const worker = new Worker(client, {
        Terminated: async (job, ctx) => {
          const seen = calls.get(job.id) ?? [];
          seen.push({ workerId: ctx.workerId, errorCount: job.errorCount });
          calls.set(job.id, seen);
          if (seen.length > 1) return; // the second time round it simply succeeds
          const result = await job.tx().query<{ pid: number }>("select pg_backend_pid() as pid");
          pid = result.rows[0].pid;
          // Carry on only once the test has killed this transaction's backend.
          await waitFor(() => terminated, 30_000, "backend terminated");
        },
        Next: (job, ctx) => {
          calls.set(job.id, [{ workerId: ctx.workerId, errorCount: job.errorCount }]);
        },
      }, {
        queue,
        pollInterval: 50,
        logger,
        hooks: { jobUndone: [(job, err) => void undone.push({ job, err })] },
      });

      const stop = new AbortController();
      let stopped = false;
      const running = worker.run(stop.signal).finally(() => (stopped = true));
      try {
        await waitFor(() => pid !== undefined, 10_000, "the handler's backend pid");
        const [{ ok }] = await t.sql<{ ok: boolean }[]>`SELECT pg_terminate_backend(${pid!}) AS ok`;
        assert.equal(ok, true, "terminated the job's backend");
        await waitFor(
          async () =>
            (await t.sql`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid!}`).length === 0,
          10_000,
          "the backend gone",
        );
        terminated = true;

        await waitFor(
          () => undone.length === 1 || uncaught.length > 0,
          15_000,
          "the jobUndone hook (a query on the job's dead connection never settled)",
        );
        assert.deepEqual(uncaught.map(String), [], "no uncaught error from the driver");
        assert.equal(undone[0].job?.id, first.id);
        assert.ok(undone[0].err, "jobUndone gets the commit error");
        assert.ok(
          errors.includes("Failed to mark job as done"),
          `the failed commit is logged; got ${JSON.stringify(errors)}`,
        );

        // The same worker, still running, takes a new job...
        const second = await client.enqueue({ type: "Next", queue });
        await waitFor(
          async () => calls.has(second.id) && !(await row(second.id)),
          30_000,
          "a new job worked after the failure",
        );
        assert.equal(stopped, false, "run() survived the failure");
        assert.deepEqual(calls.get(second.id), [{ workerId: worker.id, errorCount: 0 }]);

        // ...and the first job, never deleted (its transaction died with the backend), runs again
        // after the backoff: the failed commit was recorded as an error in a new transaction.
        await waitFor(
          async () => (calls.get(first.id)?.length ?? 0) >= 2 && !(await row(first.id)),
          30_000,
          "the first job worked again",
        );
        assert.deepEqual(calls.get(first.id), [
          { workerId: worker.id, errorCount: 0 },
          { workerId: worker.id, errorCount: 1 },
        ]);
        assert.equal(undone.length, 1);
        assert.deepEqual(uncaught.map(String), [], "no uncaught error from the driver");
      } finally {
        terminated = true;
        stop.abort();
        // Bounded: if the adapter regresses, run() never returns, and the test must still end.
        await within(running, 5_000);
        await within(pool.close(), 5_000);
        process.off("uncaughtException", onUncaught);
      }
    },
  );
});

/** Waits for `promise` at most `ms`; tells whether it settled. Leaves no timer behind. */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
