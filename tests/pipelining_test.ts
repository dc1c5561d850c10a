import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { Client, type Logger, Worker } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { beginWith, commitWith, commitWithThenBegin, isCommitFailure } from "../src/pipelining.ts";
import { adapterUnderTest, useTestDatabase } from "./_db.ts";

const MAX = 4;
const t = useTestDatabase({ max: MAX });

/**
 * The chained-poll tests check the server's tables and connections through `t.sql`; PGlite keeps
 * its data in-process, and runs one transaction at a time, so they do not apply there.
 */
const notOnPglite = adapterUnderTest() === "pglite"
  ? "skipped: PGlite keeps its tables in-process (these checks read the server's) and runs one transaction at a time"
  : undefined;

async function jobCount(): Promise<number> {
  const [{ n }] = await t.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM gue_jobs`;
  return n;
}

/** Every connection of the pool can open a transaction at once: none was kept out of it. */
async function allConnectionsFree(): Promise<void> {
  // PGlite has one connection and runs one transaction at a time.
  const n = t.pool.capabilities.concurrentTransactions ? MAX : 1;
  const all = await Promise.all(Array.from({ length: n }, () => t.pool.begin()));
  for (const tx of all) await tx.query("SELECT 1");
  for (const tx of all) await tx.commit();
}

describe("beginWith() and commitWith()", () => {
  test("beginWith() runs the first statement in a transaction that holds its locks", async () => {
    const [job] = await t.client.enqueueBatch([{ type: "T", queue: "p" }]);
    const { tx, result } = await beginWith<{ job_id: string }>(
      t.pool,
      "SELECT job_id FROM gue_jobs WHERE job_id = $1 FOR UPDATE",
      [job.id],
    );
    assert.deepEqual(result.rows.map((r) => r.job_id), [job.id]);
    if (t.pool.capabilities.concurrentTransactions) {
      assert.equal(await t.client.lockJob("p"), null, "the row is locked by the open transaction");
    }
    await tx.commit();
    const again = await t.client.lockJob("p");
    assert.equal(again?.id, job.id, "commit released the lock");
    await again!.done();
  });

  test("beginWith() rolls back and throws when its statement fails, keeping no connection", async () => {
    for (let i = 0; i < MAX + 1; i++) {
      await assert.rejects(beginWith(t.pool, "SELECT 1/0"), (err: { code?: string }) => {
        assert.equal(err.code, "22012");
        return true;
      });
    }
    await allConnectionsFree();
  });

  test("commitWith() runs the last statement and commits both it and what came before", async () => {
    const [a, b] = await t.client.enqueueBatch([{ type: "T" }, { type: "T" }]);
    const { tx } = await beginWith(t.pool, "DELETE FROM gue_jobs WHERE job_id = $1", [a.id]);
    const result = await commitWith(tx, "DELETE FROM gue_jobs WHERE job_id = $1", [b.id]);
    assert.equal(result.rowCount, 1);
    assert.equal(await jobCount(), 0);
    await assert.rejects(tx.query("SELECT 1"), /ended/, "the transaction is over");
  });

  test("commitWith() throws the statement's error and commits nothing", async () => {
    const [a] = await t.client.enqueueBatch([{ type: "T" }]);
    const { tx } = await beginWith(t.pool, "DELETE FROM gue_jobs WHERE job_id = $1", [a.id]);
    await assert.rejects(
      commitWith(tx, "INSERT INTO gue_jobs (job_id) VALUES (NULL)"),
      (err: { code?: string }) => {
        assert.equal(err.code, "23502", "the INSERT's own error, not the commit's");
        return true;
      },
    );
    assert.equal(await jobCount(), 1, "the DELETE before it was rolled back");
    await tx.rollback(); // harmless: the transaction is over
    await allConnectionsFree();
  });

  test("commitWith() throws when the server refuses the COMMIT itself", async () => {
    await t.sql`CREATE TABLE IF NOT EXISTS pipelining_deferred (
      id int PRIMARY KEY, ref int REFERENCES pipelining_deferred DEFERRABLE INITIALLY DEFERRED)`;
    const { tx } = await beginWith(t.pool, "INSERT INTO pipelining_deferred VALUES (1, 2)");
    await assert.rejects(
      commitWith(tx, "INSERT INTO pipelining_deferred VALUES (3, 3)"),
      (err: { code?: string }) => {
        assert.equal(err.code, "23503", "the deferred foreign key fails at COMMIT");
        return true;
      },
    );
    const [{ n }] = await t.sql<
      { n: number }[]
    >`SELECT count(*)::int AS n FROM pipelining_deferred`;
    assert.equal(n, 0);
    await allConnectionsFree();
  });

  /** A transaction as the adapter's pipelined poll opens it, and a plain one (the fallback). */
  const openers = {
    pipelined: async () => (await beginWith(t.pool, "SELECT 1")).tx,
    plain: () => t.pool.begin(),
  };

  for (const [name, open] of Object.entries(openers)) {
    test(
      `commitWithThenBegin() commits the last statement and opens the next transaction (${name})`,
      { skip: notOnPglite },
      async () => {
        const [a, b] = await t.client.enqueueBatch([{ type: "T" }, { type: "T" }]);
        const tx = await open();
        const chained = commitWithThenBegin<unknown, { job_id: string }>(
          tx,
          t.pool,
          "DELETE FROM gue_jobs WHERE job_id = $1",
          [a.id],
          "SELECT job_id FROM gue_jobs WHERE job_id = $1 FOR UPDATE",
          [b.id],
        );
        assert.equal((await chained.last).rowCount, 1);
        const { tx: next, result } = await chained.next;
        assert.deepEqual(result.rows.map((r) => r.job_id), [b.id]);
        assert.equal(await jobCount(), 1, "the DELETE was committed before the next began");
        if (t.pool.capabilities.concurrentTransactions) {
          assert.equal(await t.client.lockJobById(b.id).catch(() => null), null, "b is locked");
        }
        await next.rollback();
        const again = await t.client.lockJobById(b.id);
        await again.done();
        await allConnectionsFree();
      },
    );

    test(
      `commitWithThenBegin(): after a failed last statement the next transaction starts fresh (${name})`,
      { skip: notOnPglite },
      async () => {
        const [a] = await t.client.enqueueBatch([{ type: "T" }]);
        const tx = await open();
        await tx.query("DELETE FROM gue_jobs WHERE job_id = $1", [a.id]);
        const chained = commitWithThenBegin<unknown, { job_id: string }>(
          tx,
          t.pool,
          "INSERT INTO gue_jobs (job_id) VALUES (NULL)",
          [],
          "SELECT job_id FROM gue_jobs WHERE job_id = $1 FOR UPDATE",
          [a.id],
        );
        await assert.rejects(chained.last, (err: { code?: string }) => {
          assert.equal(err.code, "23502", "the INSERT's own error");
          assert.equal(isCommitFailure(err), false, "not counted as the commit's");
          return true;
        });
        // The server turned the COMMIT into a ROLLBACK: the DELETE is undone, and the next
        // transaction, a new one, sees and locks the row.
        const { tx: next, result } = await chained.next;
        assert.deepEqual(result.rows.map((r) => r.job_id), [a.id]);
        await next.query("DELETE FROM gue_jobs WHERE job_id = $1", [a.id]);
        await next.commit();
        assert.equal(await jobCount(), 0, "the next transaction committed its own DELETE");
        await allConnectionsFree();
      },
    );
  }

  test(
    "a worker stopped right after a commit that carried the next poll leaves that job as it was",
    { skip: notOnPglite },
    async () => {
      const stop = new AbortController();
      const seen: string[] = [];
      // "Job finished" is logged after the commit, with the next poll in flight or answered.
      const logger: Logger = {
        debug: (msg) => void (msg === "Job finished" && stop.abort()),
        info: () => {},
        error: () => {},
      };
      const worker = new Worker(t.client, { T: (job) => void seen.push(job.id) }, {
        queue: "stop",
        logger,
      });
      const jobs = await t.client.enqueueBatch([
        { type: "T", queue: "stop" },
        { type: "T", queue: "stop" },
      ]);
      await worker.run(stop.signal);
      assert.equal(seen.length, 1, "one job worked");
      const left = await t.client.lockJob("stop");
      assert.ok(left !== null, "the other job is free to lock");
      assert.equal(left.id, jobs.find((j) => j.id !== seen[0])!.id);
      assert.equal(left.errorCount, 0, "and untouched");
      await left.delete();
      await left.done();
      await allConnectionsFree();
    },
  );

  test("a draining worker whose DELETE fails records the failure apart before its next poll", {
    skip: notOnPglite,
  }, async () => {
    await t.sql.unsafe(`
      CREATE OR REPLACE FUNCTION pipelining_no_delete() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'no delete'; END $$;
      CREATE TRIGGER pipelining_no_delete BEFORE DELETE ON gue_jobs
        FOR EACH ROW WHEN (OLD.job_type = 'NoDelete') EXECUTE FUNCTION pipelining_no_delete();`);
    try {
      const stop = new AbortController();
      const seen: string[] = [];
      const errors: string[] = [];
      const logger: Logger = { debug: () => {}, info: () => {}, error: (msg) => errors.push(msg) };
      const worker = new Worker(t.client, {
        NoDelete: () => void seen.push("NoDelete"),
        Ok: () => {
          seen.push("Ok");
          stop.abort();
        },
      }, { queue: "nodel", logger, pollInterval: 60_000 });
      await t.client.enqueueBatch([
        { type: "NoDelete", queue: "nodel", priority: -1 },
        { type: "Ok", queue: "nodel" },
      ]);
      await worker.run(stop.signal);
      // Not run again at once (the next poll, sent with the failed commit, is let go): its
      // failure was recorded, and it backs off.
      assert.deepEqual(seen, ["NoDelete", "Ok"]);
      assert.ok(errors.includes("Got an error on deleting a job"), errors.join(", "));
      const rows = await t.sql<{ job_type: string; error_count: number; last_error: string }[]>`
        SELECT job_type, error_count, last_error FROM gue_jobs WHERE queue = 'nodel'`;
      assert.equal(rows.length, 1);
      assert.equal(rows[0].job_type, "NoDelete");
      assert.equal(rows[0].error_count, 1);
      assert.match(rows[0].last_error, /no delete/);
      await allConnectionsFree();
    } finally {
      await t.sql.unsafe(`DROP TRIGGER pipelining_no_delete ON gue_jobs`);
      await t.client.pool.query("DELETE FROM gue_jobs WHERE queue = 'nodel'");
    }
  });

  test("a worker deletes a finished job and records a failed one, pipelined or not", {
    skip: notOnPglite,
  }, async () => {
    const seen: string[] = [];
    const worker = new Worker(t.client, {
      Ok: () => void seen.push("ok"),
      Fail: () => {
        throw new Error("boom");
      },
    }, { queue: "w" });
    await t.client.enqueueBatch([
      { type: "Ok", queue: "w" },
      { type: "Fail", queue: "w", args: { n: 1 } },
    ]);
    assert.equal(await worker.workOne(), true);
    assert.equal(await worker.workOne(), true);
    const rows = await t.sql<{ job_type: string; error_count: number; last_error: string }[]>`
      SELECT job_type, error_count, last_error FROM gue_jobs`;
    assert.deepEqual(seen, ["ok"]);
    assert.equal(rows.length, 1, "the successful job was deleted");
    assert.equal(rows[0].job_type, "Fail");
    assert.equal(rows[0].error_count, 1);
    assert.match(rows[0].last_error, /boom/);
  });

  test(
    "postgres.js sends BEGIN with the first statement and the last with COMMIT: a worker's job is 2 writes",
    { skip: notOnPglite },
    async () => {
      // Counted on the sockets, so a silent fallback to one statement a round trip fails here.
      const url = new URL(t.db.url);
      let writes = 0;
      const sql = postgres(t.db.url, {
        max: 2,
        onnotice: () => {},
        // postgres.js takes an already connected socket from this option (not in its types).
        socket: () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(Number(url.port || 5432), url.hostname);
            const write = socket.write;
            socket.write = function (this: net.Socket, ...args: unknown[]) {
              writes++;
              return (write as (...a: unknown[]) => boolean).apply(this, args);
            } as typeof socket.write;
            socket.once("connect", () => resolve(socket));
            socket.once("error", reject);
          }),
      } as postgres.Options<Record<string, never>>);
      try {
        const client = new Client(postgresjs(sql));
        // The server database, whatever adapter the other tests use (PGlite's lives elsewhere).
        await client.migrate();
        const worker = new Worker(client, { Ok: () => {} }, { queue: "rt" });
        const jobs = 10;
        await client.enqueueBatch(
          Array.from({ length: jobs + 2 }, () => ({ type: "Ok", queue: "rt" })),
        );
        // Warm-up: the connection's start-up and each statement's first PARSE are not counted.
        assert.equal(await worker.workOne(), true);
        assert.equal(await worker.workOne(), true);
        const before = writes;
        for (let i = 0; i < jobs; i++) assert.equal(await worker.workOne(), true);
        // 2: BEGIN+lock, then DELETE+COMMIT (4 when each statement waits for the one before). A
        // write of something else (a background poll) may land in the window, hence the margin.
        const perJob = (writes - before) / jobs;
        assert.ok(perJob >= 2 && perJob < 2.5, `${perJob} writes a job`);
        const [{ n }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM gue_jobs`;
        assert.equal(n, 0, "every job was deleted");
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  );

  test(
    "postgres.js: a draining worker sends the next poll with the last job's commit, 1 write a job",
    { skip: notOnPglite },
    async () => {
      const url = new URL(t.db.url);
      let writes = 0;
      const sql = postgres(t.db.url, {
        max: 2,
        onnotice: () => {},
        socket: () =>
          new Promise<net.Socket>((resolve, reject) => {
            const socket = net.connect(Number(url.port || 5432), url.hostname);
            const write = socket.write;
            socket.write = function (this: net.Socket, ...args: unknown[]) {
              writes++;
              return (write as (...a: unknown[]) => boolean).apply(this, args);
            } as typeof socket.write;
            socket.once("connect", () => resolve(socket));
            socket.once("error", reject);
          }),
      } as postgres.Options<Record<string, never>>);
      try {
        const client = new Client(postgresjs(sql));
        await client.migrate();
        const jobs = 10;
        const at: number[] = [];
        const stop = new AbortController();
        const worker = new Worker(client, {
          Ok: () => {
            at.push(writes);
            if (at.length === jobs + 3) stop.abort();
          },
        }, { queue: "rt1", pollInterval: 60_000 });
        await client.enqueueBatch(
          Array.from({ length: jobs + 3 }, () => ({ type: "Ok", queue: "rt1" })),
        );
        await worker.run(stop.signal);
        // From the 2nd job's handler to the 12th's: 10 jobs, each its DELETE, COMMIT, the next
        // BEGIN and lock in one write (2 when the poll waits for the commit). A write of
        // something else (the listener) may land in the window, hence the margin.
        const perJob = (at[jobs + 1] - at[1]) / jobs;
        assert.ok(perJob >= 1 && perJob < 1.5, `${perJob} writes a job`);
        const [{ n }] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM gue_jobs`;
        assert.equal(n, 0, "every job was deleted");
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
  );
});
