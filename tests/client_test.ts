import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, DatabaseError, JobNotFoundError, JobPriority, MissingTypeError } from "../mod.ts";
import { postgresjs, unwrapTx } from "../src/adapters/postgresjs.ts";
import { MonotonicUlid, ulidTime } from "../src/id.ts";
import { JOB_INSERT_MAX_ROWS } from "../src/sql.ts";
import { adapterUnderTest, useTestDatabase } from "./_db.ts";

const t = useTestDatabase();

async function rowCount(queue?: string): Promise<number> {
  const rows = queue === undefined
    ? await t.sql`SELECT count(*)::int AS n FROM gue_jobs`
    : await t.sql`SELECT count(*)::int AS n FROM gue_jobs WHERE queue = ${queue}`;
  return rows[0].n;
}

function concurrent(): boolean {
  return t.pool.capabilities.concurrentTransactions;
}

describe("enqueue()", () => {
  test("stores gue's columns: ULID id, queue, priority, run_at, type, args, timestamps", async () => {
    const before = Date.now();
    const job = await t.client.enqueue({
      type: "MyJob",
      queue: "q",
      priority: 5,
      args: { a: 1 },
    });
    assert.match(job.id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.ok(Math.abs(ulidTime(job.id) - before) < 5000, "ULID time is the enqueue time");
    assert.equal(job.runAt.getTime(), job.createdAt.getTime(), "runAt defaults to createdAt");
    const [row] = await t.sql`SELECT * FROM gue_jobs`;
    assert.equal(row.job_id, job.id);
    assert.equal(row.queue, "q");
    assert.equal(row.priority, 5);
    assert.equal(row.job_type, "MyJob");
    assert.equal(new TextDecoder().decode(row.args), '{"a":1}');
    assert.equal(row.error_count, 0);
    assert.equal(row.last_error, null);
    assert.equal(row.run_at.getTime(), job.runAt.getTime());
    assert.equal(row.created_at.getTime(), row.updated_at.getTime());
  });

  test("defaults: queue '', priority 0, empty args", async () => {
    const job = await t.client.enqueue({ type: "MyJob" });
    const [row] = await t.sql`SELECT queue, priority, args FROM gue_jobs WHERE job_id = ${job.id}`;
    assert.equal(row.queue, "");
    assert.equal(row.priority, 0);
    assert.equal(row.args.length, 0);
  });

  test("stores a Uint8Array as opaque bytes, invalid UTF-8 included", async () => {
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
    await t.client.enqueue({ type: "Bytes", args: bytes });
    const job = await t.client.lockJob("");
    assert.ok(job);
    assert.deepEqual(Array.from(job.args), Array.from(bytes));
    assert.throws(() => job.json(), SyntaxError);
    await job.done();
  });

  test("keeps a future runAt in any time zone as the same instant", async () => {
    const runAt = new Date("2099-06-01T12:34:56.789+05:30");
    await t.client.enqueue({ type: "Later", runAt });
    const [row] = await t.sql`SELECT run_at FROM gue_jobs`;
    assert.equal(row.run_at.getTime(), runAt.getTime());
  });

  test("ids of one client increase in enqueue order", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push((await t.client.enqueue({ type: "Seq" })).id);
    assert.deepEqual([...ids].sort(), ids);
  });

  test("rejects bad input before any SQL, naming the field", async () => {
    const cases: [unknown, RegExp, new (...a: never[]) => Error][] = [
      [{ type: "" }, /job type must be specified/, MissingTypeError],
      [{}, /job\.type/, MissingTypeError],
      [{ type: 7 }, /job\.type must be a string/, TypeError],
      [{ type: "a\0b" }, /job\.type must not contain NUL/, TypeError],
      [
        { type: "T", priority: 32768 },
        /job\.priority must be an integer from -32768 to 32767/,
        RangeError,
      ],
      [{ type: "T", priority: -32769 }, /job\.priority/, RangeError],
      [{ type: "T", priority: 1.5 }, /job\.priority/, RangeError],
      [{ type: "T", runAt: new Date("nope") }, /job\.runAt must be a valid Date/, TypeError],
      [{ type: "T", runAt: "2020-01-01" }, /job\.runAt must be a valid Date/, TypeError],
      [{ type: "T", queue: 3 }, /job\.queue must be a string/, TypeError],
      [{ type: "T", args: 10n }, /job\.args must be a Uint8Array or JSON-serialisable/, TypeError],
      [
        { type: "T", args: () => 1 },
        /job\.args must be a Uint8Array or JSON-serialisable/,
        TypeError,
      ],
      [null, /job must be an object/, TypeError],
    ];
    for (const [input, message, type] of cases) {
      await assert.rejects(
        // deno-lint-ignore no-explicit-any
        () => t.client.enqueue(input as any),
        (err: Error) => err instanceof type && message.test(err.message),
        `input ${JSON.stringify(input, (_k, v) => typeof v === "bigint" ? "10n" : v)}`,
      );
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await assert.rejects(() => t.client.enqueue({ type: "T", args: cyclic }), /job\.args/);
    assert.equal(await rowCount(), 0, "nothing was inserted");
  });

  test("a priority at either end of smallint is accepted", async () => {
    await t.client.enqueue({ type: "T", priority: JobPriority.Highest });
    await t.client.enqueue({ type: "T", priority: JobPriority.Lowest });
    assert.equal(await rowCount(), 2);
  });
});

describe("enqueueWithId()", () => {
  test("uses the caller's id (lower case is stored upper case)", async () => {
    const id = new MonotonicUlid().next();
    const job = await t.client.enqueueWithId({ type: "T" }, id.toLowerCase());
    assert.equal(job.id, id);
    const [row] = await t.sql`SELECT job_id FROM gue_jobs`;
    assert.equal(row.job_id, id);
  });

  test("a duplicate id fails with SQLSTATE 23505 and keeps the first job", async () => {
    const id = new MonotonicUlid().next();
    await t.client.enqueueWithId({ type: "First" }, id);
    await assert.rejects(
      () => t.client.enqueueWithId({ type: "Second" }, id),
      (err: DatabaseError) => err instanceof DatabaseError && err.code === "23505",
    );
    const rows = await t.sql`SELECT job_type FROM gue_jobs`;
    assert.deepEqual(rows.map((r) => r.job_type), ["First"]);
  });

  test("rejects a malformed id", async () => {
    for (
      const id of [
        "",
        "123",
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",
        "81ARZ3NDEKTSV4RRFFQ69G5FAV",
      ]
    ) {
      await assert.rejects(
        () => t.client.enqueueWithId({ type: "T" }, id),
        /id must be a 26-character ULID/,
      );
    }
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      () => t.client.enqueueWithId({ type: "T" }, 5 as any),
      /id must be a ULID string/,
    );
  });
});

describe("enqueueBatch()", () => {
  test("inserts all jobs with ids in batch order", async () => {
    const jobs = await t.client.enqueueBatch(
      Array.from({ length: 10 }, (_, i) => ({ type: "B", args: { i } })),
    );
    assert.equal(jobs.length, 10);
    assert.deepEqual([...jobs.map((j) => j.id)].sort(), jobs.map((j) => j.id));
    const rows = await t.sql`SELECT args FROM gue_jobs ORDER BY job_id`;
    assert.deepEqual(rows.map((r) => JSON.parse(new TextDecoder().decode(r.args)).i), [
      ...Array(10).keys(),
    ]);
  });

  test("an empty batch touches nothing", async () => {
    assert.deepEqual(await t.client.enqueueBatch([]), []);
  });

  test("a batch over Postgres' 65,535-parameter limit is split and still inserted", async () => {
    const n = JOB_INSERT_MAX_ROWS * 2 + 17;
    const jobs = await t.client.enqueueBatch(
      Array.from({ length: n }, () => ({ type: "Big", queue: "big" })),
    );
    assert.equal(jobs.length, n);
    assert.equal(await rowCount("big"), n);
  });

  test("a split batch is atomic: a row rejected by the database in the last chunk inserts none", async () => {
    const n = JOB_INSERT_MAX_ROWS + 10;
    await t.sql`ALTER TABLE gue_jobs ADD CONSTRAINT no_poison CHECK (job_type <> 'poison')`;
    try {
      const jobs = Array.from({ length: n }, () => ({ type: "Big", queue: "atomic" }));
      jobs.push({ type: "poison", queue: "atomic" });
      await assert.rejects(
        () => t.client.enqueueBatch(jobs),
        (err: DatabaseError) => err instanceof DatabaseError && err.code === "23514",
      );
      assert.equal(await rowCount("atomic"), 0, "the first chunk rolled back too");
    } finally {
      await t.sql`ALTER TABLE gue_jobs DROP CONSTRAINT no_poison`;
    }
  });

  test("a bad job anywhere in a batch rejects it before any SQL, naming its index", async () => {
    await assert.rejects(
      () => t.client.enqueueBatch([{ type: "A" }, { type: "B", priority: 99999 }]),
      /jobs\[1\]\.priority/,
    );
    assert.equal(await rowCount(), 0);
  });
});

describe("enqueueTx()", () => {
  test("a job enqueued in a rolled-back transaction does not exist", async () => {
    const tx = await t.pool.begin();
    await t.client.enqueueTx({ type: "T", queue: "tx" }, tx);
    await t.client.enqueueBatchTx([{ type: "T", queue: "tx" }, { type: "T", queue: "tx" }], tx);
    await t.client.enqueueTxWithId({ type: "T", queue: "tx" }, new MonotonicUlid().next(), tx);
    await tx.rollback();
    assert.equal(await rowCount("tx"), 0);
  });

  test("a job enqueued in a committed transaction exists", async () => {
    const tx = await t.pool.begin();
    await t.client.enqueueTx({ type: "T", queue: "tx" }, tx);
    if (concurrent()) assert.equal(await rowCount("tx"), 0, "invisible before commit");
    await tx.commit();
    assert.equal(await rowCount("tx"), 1);
  });

  test("works inside the application's own postgres.js sql.begin()", async (tt) => {
    if (adapterUnderTest() !== "postgresjs") {
      console.log("skipped: postgres.js native transactions need the postgresjs adapter");
      return tt.skip("postgresjs only");
    }
    await t.sql`CREATE TABLE IF NOT EXISTS orders (id int primary key)`;
    await t.sql.begin(async (tx) => {
      await tx`INSERT INTO orders VALUES (1)`;
      await t.client.enqueueTx(
        { type: "SendReceipt", queue: "app", args: { id: 1 } },
        postgresjs.tx(tx),
      );
    });
    assert.equal(await rowCount("app"), 1);
    await assert.rejects(() =>
      t.sql.begin(async (tx) => {
        await t.client.enqueueTx(
          { type: "SendReceipt", queue: "app", args: { id: 2 } },
          postgresjs.tx(tx),
        );
        await tx`INSERT INTO orders VALUES (1)`; // duplicate: the whole transaction rolls back
      })
    );
    assert.equal(await rowCount("app"), 1, "the second job rolled back with the order");
    await t.sql`DROP TABLE orders`;
  });

  test("rejects something that is not a transaction", async () => {
    // deno-lint-ignore no-explicit-any
    await assert.rejects(() => t.client.enqueueTx({ type: "T" }, {} as any), /tx must be a gue Tx/);
  });
});

describe("lockJob()", () => {
  test("returns null on an empty queue", async () => {
    assert.equal(await t.client.lockJob("nothing"), null);
  });

  test("returns every field, and json() decodes the args", async () => {
    const e = await t.client.enqueue({
      type: "F",
      queue: "f",
      priority: -3,
      args: { name: "gue" },
    });
    const job = await t.client.lockJob("f");
    assert.ok(job);
    assert.equal(job.id, e.id);
    assert.equal(job.queue, "f");
    assert.equal(job.priority, -3);
    assert.equal(job.type, "F");
    assert.equal(job.errorCount, 0);
    assert.equal(job.lastError, null);
    assert.equal(job.runAt.getTime(), e.runAt.getTime());
    assert.equal(job.createdAt.getTime(), e.createdAt.getTime());
    assert.deepEqual(job.json<{ name: string }>(), { name: "gue" });
    assert.ok(job.tx(), "the job holds its transaction");
    await job.done();
    assert.throws(
      () => job.tx(),
      (e: Error) =>
        e.message.startsWith(`job ${job.id} (F) is already done: its transaction is committed;`),
    );
  });

  test("takes the highest priority first, then the oldest among equals", async () => {
    const now = Date.now();
    await t.client.enqueue({ type: "low", queue: "p", priority: 10 });
    await t.client.enqueue({
      type: "newer",
      queue: "p",
      priority: -1,
      runAt: new Date(now - 1000),
    });
    await t.client.enqueue({
      type: "older",
      queue: "p",
      priority: -1,
      runAt: new Date(now - 5000),
    });
    await t.client.enqueue({ type: "high", queue: "p", priority: -100, runAt: new Date(now - 10) });
    const order: string[] = [];
    for (let job = await t.client.lockJob("p"); job; job = await t.client.lockJob("p")) {
      order.push(job.type);
      await job.delete();
      await job.done();
    }
    assert.deepEqual(order, ["high", "older", "newer", "low"]);
  });

  test("skips jobs scheduled in the future and jobs of other queues", async () => {
    await t.client.enqueue({ type: "future", queue: "s", runAt: new Date(Date.now() + 60_000) });
    await t.client.enqueue({ type: "other", queue: "other" });
    assert.equal(await t.client.lockJob("s"), null);
    assert.equal(await t.client.lockJob(""), null, "'' is a queue of its own, not all queues");
  });

  test("skips a job locked by another transaction (FOR UPDATE SKIP LOCKED)", async (tt) => {
    if (!concurrent()) {
      console.log(`skipped: ${t.pool.name} runs one transaction at a time`);
      return tt.skip("no concurrent transactions");
    }
    await t.client.enqueue({ type: "a", queue: "sk", priority: 1 });
    await t.client.enqueue({ type: "b", queue: "sk", priority: 2 });
    const first = await t.client.lockJob("sk");
    const second = await t.client.lockJob("sk");
    assert.equal(first?.type, "a");
    assert.equal(second?.type, "b", "the second lock skipped the first's row");
    assert.equal(await t.client.lockJob("sk"), null);
    await first!.done(); // commit without delete: the job is free again
    const again = await t.client.lockJob("sk");
    assert.equal(again?.type, "a");
    await again!.done();
    await second!.done();
  });

  test("job.tx() runs SQL inside the job's transaction, and unwrapTx gives the native one", async () => {
    await t.client.enqueue({ type: "T", queue: "txq" });
    const job = await t.client.lockJob("txq");
    assert.ok(job);
    const { rows } = await job.tx().query<{ n: number }>(
      "SELECT count(*)::int AS n FROM gue_jobs WHERE queue = $1",
      ["txq"],
    );
    assert.equal(rows[0].n, 1);
    if (adapterUnderTest() === "postgresjs") {
      const native = unwrapTx(job.tx());
      assert.ok(native);
      const [r] = await native`SELECT 1 AS one`;
      assert.equal(r.one, 1);
    }
    await job.delete();
    await job.done();
    assert.equal(await rowCount("txq"), 0);
  });
});

describe("lockNextScheduledJob()", () => {
  test("takes the earliest runAt first, then priority", async () => {
    const now = Date.now();
    await t.client.enqueue({
      type: "late-high",
      queue: "r",
      priority: -100,
      runAt: new Date(now - 1000),
    });
    await t.client.enqueue({
      type: "early-low",
      queue: "r",
      priority: 100,
      runAt: new Date(now - 5000),
    });
    await t.client.enqueue({
      type: "early-high",
      queue: "r",
      priority: 1,
      runAt: new Date(now - 5000),
    });
    const order: string[] = [];
    for (
      let job = await t.client.lockNextScheduledJob("r");
      job;
      job = await t.client.lockNextScheduledJob("r")
    ) {
      order.push(job.type);
      await job.delete();
      await job.done();
    }
    assert.deepEqual(order, ["early-high", "early-low", "late-high"]);
  });
});

describe("lockJobById()", () => {
  test("locks a job in any queue, even a future one", async () => {
    const e = await t.client.enqueue({
      type: "T",
      queue: "byid",
      runAt: new Date(Date.now() + 3_600_000),
    });
    const job = await t.client.lockJobById(e.id);
    assert.equal(job.id, e.id);
    await job.done();
  });

  test("throws JobNotFoundError for a missing id, or one locked elsewhere", async () => {
    const missing = new MonotonicUlid().next();
    await assert.rejects(() => t.client.lockJobById(missing), JobNotFoundError);
    if (!concurrent()) return;
    const e = await t.client.enqueue({ type: "T" });
    const held = await t.client.lockJobById(e.id);
    await assert.rejects(() => t.client.lockJobById(e.id), JobNotFoundError);
    await held.done();
  });

  test("rejects a malformed id", async () => {
    await assert.rejects(() => t.client.lockJobById("nope"), TypeError);
  });
});

describe("Client", () => {
  test("rejects a raw driver pool with a message that says to wrap it", () => {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Client({} as any), /wrap your driver's pool with an adapter/);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => new Client(t.pool, { backoff: 5 as any }), /backoff must be a function/);
  });

  test("without the schema, errors say to call migrate()", async () => {
    await t.sql`ALTER TABLE gue_jobs RENAME TO gue_jobs_hidden`;
    try {
      await assert.rejects(
        () => t.client.enqueue({ type: "T" }),
        (err: DatabaseError) =>
          err.code === "42P01" && /enqueue: .*gue_jobs.*call client\.migrate\(\)/.test(err.message),
      );
      await assert.rejects(() => t.client.lockJob(""), /lockJob: .*client\.migrate\(\)/);
    } finally {
      await t.sql`ALTER TABLE gue_jobs_hidden RENAME TO gue_jobs`;
    }
  });

  test("migrate() is idempotent and safe when many callers run it at once", async () => {
    const clients = Array.from({ length: 5 }, () => new Client(t.pool));
    const applied = await Promise.all(clients.map((c) => c.migrate()));
    assert.deepEqual(applied.flat(), [], "the schema was already current");
    const rows = await t.sql`SELECT version FROM gue_migrations ORDER BY version`;
    assert.deepEqual(rows.map((r) => r.version), [1, 2, 3, 4, 5]);
  });
});

describe("countJobs()", () => {
  test("counts ready and scheduled jobs per queue, by the client's clock, ordered by queue", async () => {
    assert.deepEqual(await t.client.countJobs(), [], "no queue without jobs");
    const later = new Date(Date.now() + 3_600_000);
    await t.client.enqueueBatch([
      { type: "X", queue: "b" },
      { type: "X", queue: "b", runAt: later },
      { type: "X", queue: "b", runAt: later },
      { type: "X", queue: "" },
      { type: "X", queue: "a", runAt: new Date(Date.now() - 1000) },
    ]);
    assert.deepEqual(await t.client.countJobs(), [
      { queue: "", ready: 1, scheduled: 0, running: 0, failing: 0, failed: 0 },
      { queue: "a", ready: 1, scheduled: 0, running: 0, failing: 0, failed: 0 },
      { queue: "b", ready: 1, scheduled: 2, running: 0, failing: 0, failed: 0 },
    ]);
  });

  test("counts a job being worked (its row locked) as ready and running", async (tt) => {
    if (!concurrent()) {
      console.log(`skipped: ${t.pool.name} runs one transaction at a time`);
      return tt.skip("no concurrent transactions");
    }
    await t.client.enqueue({ type: "X", queue: "busy" });
    const job = await t.client.lockJob("busy");
    try {
      assert.deepEqual(await t.client.countJobs(), [
        { queue: "busy", ready: 1, scheduled: 0, running: 1, failing: 0, failed: 0 },
      ]);
    } finally {
      await job!.done();
    }
  });

  test("rejects with DatabaseError when the query fails", async () => {
    await t.sql`ALTER TABLE gue_jobs RENAME TO gue_jobs_hidden`;
    try {
      await assert.rejects(
        () => t.client.countJobs(),
        (err: DatabaseError) =>
          err instanceof DatabaseError && err.code === "42P01" && /^countJobs: /.test(err.message),
      );
    } finally {
      await t.sql`ALTER TABLE gue_jobs_hidden RENAME TO gue_jobs`;
    }
  });
});
