import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  constantBackoff,
  DatabaseError,
  type HookFunc,
  type Job,
  type LogFields,
  type Logger,
  Worker,
  WORKER_IDX_UNKNOWN,
  type WorkerOptions,
  type WorkMap,
} from "../mod.ts";
import { useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();

/** A logger that keeps what it is given, to check gue's messages and field keys. */
function recordingLogger(): Logger & {
  lines: { level: string; msg: string; fields: LogFields }[];
} {
  const lines: { level: string; msg: string; fields: LogFields }[] = [];
  const at = (level: string) => (msg: string, fields?: LogFields) => {
    lines.push({ level, msg, fields: fields ?? {} });
  };
  return { lines, debug: at("debug"), info: at("info"), error: at("error") };
}

/** Whether the job's transaction is still open: `job.tx()` throws once the job is done. */
function txState(job: Job | null): string {
  if (job === null) return "none";
  try {
    job.tx();
    return "open";
  } catch (err) {
    assert.match((err as Error).message, /is already done: its transaction is/);
    return "done";
  }
}

async function jobs() {
  return await t.sql`SELECT * FROM gue_jobs ORDER BY job_id`;
}

/** Runs a worker until `until()` holds, then stops it. */
async function runUntil(
  workMap: WorkMap,
  options: WorkerOptions,
  until: () => boolean | Promise<boolean>,
  client: Client = t.client,
): Promise<void> {
  const worker = new Worker(client, workMap, { pollInterval: 20, ...options });
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  try {
    await waitFor(until, 15_000, "the worker");
  } finally {
    stop.abort();
    await running;
  }
}

describe("Worker", () => {
  test("works a job and deletes it; the handler gets the job and its context", async () => {
    await t.client.enqueue({ type: "Hello", queue: "w", args: { name: "gue" } });
    let got: { name: string; index: number; id: string } | undefined;
    const worker = new Worker(t.client, {
      Hello: (job, ctx) => {
        got = { name: job.json<{ name: string }>().name, index: ctx.workerIndex, id: ctx.workerId };
      },
    }, { queue: "w", id: "w-1" });
    assert.equal(await worker.workOne(), true);
    assert.deepEqual(got, { name: "gue", index: WORKER_IDX_UNKNOWN, id: "w-1" });
    assert.equal((await jobs()).length, 0);
    assert.equal(await worker.workOne(), false, "nothing left");
  });

  test("drains a backlog back to back, without sleeping between jobs", async () => {
    await t.client.enqueueBatch(Array.from({ length: 20 }, () => ({ type: "N", queue: "d" })));
    let n = 0;
    // A 60 s poll interval: only back-to-back draining can finish in the time allowed.
    await runUntil({ N: () => void n++ }, { queue: "d", pollInterval: 60_000 }, () => n === 20);
    assert.equal((await jobs()).length, 0);
  });

  test("a failing handler's job is rescheduled with the error; async rejections too", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    await client.enqueue({ type: "Throw", queue: "f" });
    await client.enqueue({ type: "Reject", queue: "f" });
    await client.enqueue({ type: "String", queue: "f" });
    await client.enqueue({ type: "Undefined", queue: "f" });
    const worker = new Worker(client, {
      Throw: () => {
        throw new Error("sync boom");
      },
      Reject: () => Promise.reject(new TypeError("async boom")),
      String: () => {
        throw "a string";
      },
      Undefined: () => {
        throw undefined;
      },
    }, { queue: "f" });
    for (let i = 0; i < 4; i++) assert.equal(await worker.workOne(), true);
    const rows = await jobs();
    const byType = Object.fromEntries(rows.map((r) => [r.job_type, r]));
    assert.equal(rows.length, 4);
    for (const r of rows) {
      assert.equal(r.error_count, 1);
      assert.ok(r.run_at.getTime() > Date.now() + 50_000);
    }
    assert.match(byType.Throw.last_error, /^sync boom\n.*worker_test\.ts/s);
    assert.match(byType.Reject.last_error, /^async boom/);
    assert.equal(byType.String.last_error, "a string");
    assert.equal(byType.Undefined.last_error, "non-Error thrown: undefined");
  });

  test("a job type without a handler is retried with backoff, its hooks fire after commit", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    await client.enqueue({ type: "Nobody", queue: "u" });
    const events: string[] = [];
    const worker = new Worker(client, {}, {
      queue: "u",
      id: "wu",
      hooks: {
        jobDone: [() => void events.push("jobDone")],
        unknownJobType: [(job, err) => {
          events.push(
            `unknown tx=${txState(job)} ${(err as Error).message}`,
          );
        }],
      },
    });
    assert.equal(await worker.workOne(), true);
    assert.deepEqual(events, ['unknown tx=done worker[id=wu] unknown job type: "Nobody"']);
    const [row] = await jobs();
    assert.equal(row.error_count, 1);
    assert.equal(row.last_error, 'worker[id=wu] unknown job type: "Nobody"');
  });

  test("unknownJobWorkFunc handles types missing from the work map", async () => {
    await t.client.enqueue({ type: "Anything", queue: "u2" });
    const seen: string[] = [];
    const worker = new Worker(t.client, {}, {
      queue: "u2",
      unknownJobWorkFunc: (job) => void seen.push(job.type),
    });
    await worker.workOne();
    assert.deepEqual(seen, ["Anything"]);
    assert.equal((await jobs()).length, 0);
  });

  test("a work map's inherited properties are not handlers", async () => {
    await t.client.enqueue({ type: "toString", queue: "proto" });
    const worker = new Worker(t.client, {}, { queue: "proto" });
    await worker.workOne();
    const [row] = await jobs();
    assert.match(row.last_error, /unknown job type: "toString"/);
  });

  test("both poll strategies: priority first, or run_at first", async () => {
    const now = Date.now();
    const enqueueTwo = async () => {
      await t.client.enqueue({
        type: "old-low",
        queue: "s",
        priority: 5,
        runAt: new Date(now - 10_000),
      });
      await t.client.enqueue({
        type: "new-high",
        queue: "s",
        priority: -5,
        runAt: new Date(now - 1000),
      });
    };
    for (
      const [strategy, expected] of [
        ["OrderByPriority", ["new-high", "old-low"]],
        ["OrderByRunAtPriority", ["old-low", "new-high"]],
      ] as const
    ) {
      await enqueueTwo();
      const order: string[] = [];
      const w = new Worker(t.client, {
        "old-low": (j) => void order.push(j.type),
        "new-high": (j) => void order.push(j.type),
      }, { queue: "s", pollStrategy: strategy });
      await w.workOne();
      await w.workOne();
      assert.deepEqual(order, expected, strategy);
    }
  });

  test("rejects bad options with errors that name them", () => {
    // deno-lint-ignore no-explicit-any
    const bad = (o: any) => () => new Worker(t.client, {}, o);
    assert.throws(bad({ pollInterval: 0 }), /pollInterval must be a positive number/);
    assert.throws(bad({ pollInterval: NaN }), /pollInterval/);
    assert.throws(bad({ pollStrategy: "Fastest" }), /pollStrategy must be "OrderByPriority"/);
    assert.throws(bad({ jobTTL: -1 }), /jobTTL/);
    assert.throws(bad({ hooks: { jobDone: [1] } }), /hooks\.jobDone must be an array of functions/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Worker(t.client, { A: 1 as any }), /workMap\["A"\] must be a function/);
  });
});

describe("hooks", () => {
  test("fire in gue's order with the transaction open where gue has it open", async () => {
    await t.sql`CREATE TABLE IF NOT EXISTS finished_jobs_log (job_id text, note text)`;
    await t.client.enqueue({ type: "Ok", queue: "h" });
    const events: string[] = [];
    const hook = (name: string): HookFunc => async (job, err) => {
      events.push(
        `${name}(${job ? job.type : "null"}, ${err === null ? "null" : "err"}, tx=${txState(job)})`,
      );
      if (name === "done" && job) {
        // Side effect written atomically with the job's completion.
        await job.tx().query("INSERT INTO finished_jobs_log VALUES ($1, $2)", [job.id, "done"]);
      }
    };
    const worker = new Worker(t.client, { Ok: () => void events.push("handler") }, {
      queue: "h",
      hooks: { jobLocked: [hook("locked1"), hook("locked2")], jobDone: [hook("done")] },
    });
    await worker.workOne();
    assert.deepEqual(events, [
      "locked1(Ok, null, tx=open)",
      "locked2(Ok, null, tx=open)",
      "handler",
      "done(Ok, null, tx=open)",
    ]);
    const log = await t.sql`SELECT * FROM finished_jobs_log`;
    assert.equal(log.length, 1, "the hook's insert committed with the job");
    assert.equal((await jobs()).length, 0);
    await t.sql`DROP TABLE finished_jobs_log`;
  });

  test("jobDone gets the handler's error, before the failure is recorded", async () => {
    await t.client.enqueue({ type: "Bad", queue: "h2" });
    let seen: { message: string; errorCount: number } | undefined;
    const worker = new Worker(t.client, {
      Bad: () => {
        throw new Error("nope");
      },
    }, {
      queue: "h2",
      hooks: {
        jobDone: [async (job, err) => {
          const { rows } = await job!.tx().query<{ error_count: number }>(
            "SELECT error_count FROM gue_jobs WHERE job_id = $1",
            [job!.id],
          );
          seen = { message: (err as Error).message, errorCount: rows[0].error_count };
        }],
      },
    });
    await worker.workOne();
    assert.deepEqual(seen, { message: "nope", errorCount: 0 });
    assert.equal((await jobs())[0].error_count, 1);
  });

  test("a lock error fires jobLocked with no job and the error, and the worker keeps polling", async () => {
    const logger = recordingLogger();
    const locked: unknown[] = [];
    await t.sql`ALTER TABLE gue_jobs RENAME TO gue_jobs_away`;
    const worker = new Worker(t.client, {}, {
      queue: "le",
      pollInterval: 20,
      logger,
      hooks: {
        jobLocked: [(job, err) => void locked.push({ job, code: (err as { code?: string }).code })],
      },
    });
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    try {
      await waitFor(() => locked.length >= 2, 10_000, "two failed polls");
    } finally {
      await t.sql`ALTER TABLE gue_jobs_away RENAME TO gue_jobs`;
    }
    stop.abort();
    await running;
    assert.deepEqual(locked[0], { job: null, code: "42P01" });
    const line = logger.lines.find((l) => l.msg === "Worker failed to lock a job");
    assert.ok(line, "gue's message is logged");
    assert.equal(line.level, "error");
    assert.ok(line.fields.error, "with the error under gue's key");
    assert.ok(line.fields["worker-id"], "and the worker id");
    // Work goes on once the table is back.
    let worked = false;
    await t.client.enqueue({ type: "After", queue: "le" });
    const w2 = new Worker(t.client, { After: () => void (worked = true) }, { queue: "le" });
    await w2.workOne();
    assert.ok(worked);
  });

  test("a jobDone hook that throws fails the job (gue: a panic) and runs once more with that error", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    await client.enqueue({ type: "Ok", queue: "hp" });
    const calls: string[] = [];
    const worker = new Worker(client, { Ok: () => {} }, {
      queue: "hp",
      hooks: {
        jobDone: [(_job, err) => {
          calls.push(err === null ? "null" : (err as Error).message.split("\n")[0]);
          if (err === null) throw new Error("hook broke");
        }],
      },
    });
    await worker.workOne();
    assert.deepEqual(calls, ["null", "job panicked:"]);
    const [row] = await jobs();
    assert.equal(row.error_count, 1, "errored instead of deleted");
    assert.match(row.last_error, /^job panicked:\nhook broke/);
  });

  test("a jobDone hook that throws again during recovery still records the failure", async () => {
    const client = new Client(t.pool, { backoff: constantBackoff(60_000) });
    await client.enqueue({ type: "Ok", queue: "hp2" });
    const worker = new Worker(client, { Ok: () => {} }, {
      queue: "hp2",
      hooks: {
        jobDone: [() => {
          throw new Error("always");
        }],
      },
    });
    await worker.workOne();
    const [row] = await jobs();
    assert.equal(row.error_count, 1);
    assert.match(
      row.last_error,
      /^hook job done panicked in job panic recovery \(job panicked\):\nalways/,
    );
  });

  test("jobUndone fires with the commit error when the final commit fails", async () => {
    // A deferred constraint fails at COMMIT, after the handler and the delete succeeded.
    await t.sql`CREATE TABLE IF NOT EXISTS parent (id int primary key)`;
    await t
      .sql`CREATE TABLE IF NOT EXISTS child (parent_id int references parent(id) deferrable initially deferred)`;
    await t.client.enqueue({ type: "Orphan", queue: "undone" });
    const logger = recordingLogger();
    const undone: string[] = [];
    const worker = new Worker(t.client, {
      Orphan: async (job) => {
        await job.tx().query("INSERT INTO child VALUES (42)");
      },
    }, {
      queue: "undone",
      logger,
      hooks: {
        jobUndone: [
          (job, err) => {
            assert.ok(err instanceof DatabaseError, "the commit error is a DatabaseError");
            assert.equal(err.constraint, "child_parent_id_fkey");
            assert.ok(err.cause, "with the driver's error as cause");
            assert.throws(() => job!.tx(), /ended by a failed commit/, "the transaction is gone");
            undone.push(`${job!.type} ${err.code} ${err.message.split(":")[0]}`);
          },
        ],
      },
    });
    assert.equal(await worker.workOne(), true);
    assert.deepEqual(undone, ["Orphan 23503 job.done"]);
    assert.ok(logger.lines.some((l) => l.msg === "Failed to mark job as done"));
    const rows = await jobs();
    assert.equal(rows.length, 1, "the delete rolled back with the failed commit");
    // Unlike gue, which would run it again at once (forever, as the commit fails every time), the
    // failure is recorded in a transaction of its own and the job backs off.
    assert.equal(rows[0].error_count, 1);
    assert.match(rows[0].last_error, /foreign key/);
    assert.ok(rows[0].run_at.getTime() > Date.now(), "run_at moved by the backoff");
    await t.sql`DROP TABLE child`;
    await t.sql`DROP TABLE parent`;
  });

  test("a handler that swallows an SQL error in job.tx() does not make its job run again at once", async () => {
    await t.client.enqueue({ type: "Sloppy", queue: "aborted" });
    const logger = recordingLogger();
    let runs = 0;
    const worker = new Worker(t.client, {
      Sloppy: async (job) => {
        runs++;
        // The error aborts the job's transaction; the handler ignores it and returns.
        await job.tx().query("SELECT * FROM no_such_table").catch(() => {});
      },
    }, { queue: "aborted", logger });
    assert.equal(await worker.workOne(), true);
    assert.equal(await worker.workOne(), false, "the job is not due again at once");
    assert.equal(runs, 1);
    assert.ok(logger.lines.some((l) => l.msg === "Got an error on deleting a job"));
    const [row] = await jobs();
    assert.equal(row.error_count, 1);
    assert.ok(row.last_error, "the failure is stored");
  });
});

describe("logging", () => {
  test("uses gue's messages and field keys", async () => {
    const logger = recordingLogger();
    const client = new Client(t.pool, { logger, id: "c1", backoff: constantBackoff(60_000) });
    await client.enqueue({ type: "Ok", queue: "log" });
    await client.enqueue({ type: "Missing", queue: "log" });
    const worker = new Worker(client, { Ok: () => {} }, {
      queue: "log",
      logger,
      id: "w9",
      pollInterval: 20,
    });
    const stop = new AbortController();
    const running = worker.run(stop.signal);
    await waitFor(async () =>
      (await t.sql`SELECT 1 FROM gue_jobs WHERE error_count = 1`).length === 1
    );
    stop.abort();
    await running;
    const find = (msg: string) => logger.lines.find((l) => l.msg === msg);
    const enqueued = find("Tried to enqueue a job");
    assert.equal(enqueued?.level, "debug");
    assert.equal(enqueued?.fields["client-id"], "c1");
    assert.equal(enqueued?.fields.queue, "log");
    assert.ok(enqueued?.fields.id);
    const finished = find("Job finished");
    assert.equal(finished?.fields["worker-id"], "w9");
    assert.equal(finished?.fields["job-type"], "Ok");
    assert.ok(finished?.fields["job-id"]);
    assert.equal(find("Got a job with unknown type")?.fields["job-type"], "Missing");
    assert.equal(find("Worker finished")?.level, "info");
  });

  test("a logger that throws does not lose a job", async () => {
    const broken: Logger = {
      debug() {
        throw new Error("log down");
      },
      info() {
        throw new Error("log down");
      },
      error() {
        throw new Error("log down");
      },
    };
    const client = new Client(t.pool, { logger: broken });
    await client.enqueue({ type: "Ok", queue: "bl" });
    let ran = false;
    const worker = new Worker(client, { Ok: () => void (ran = true) }, {
      queue: "bl",
      logger: broken,
    });
    await worker.workOne();
    assert.ok(ran);
    assert.equal((await jobs()).length, 0);
  });
});

describe("Job in a handler", () => {
  test("the handler can enqueue follow-up work in the job's own transaction", async () => {
    await t.client.enqueue({ type: "Parent", queue: "chain" });
    const worker = new Worker(t.client, {
      Parent: async (job: Job) => {
        await t.client.enqueueTx({ type: "Child", queue: "chain" }, job.tx());
      },
      Child: () => {},
    }, { queue: "chain" });
    await worker.workOne();
    const rows = await jobs();
    assert.deepEqual(rows.map((r) => r.job_type), ["Child"]);
  });
});
