import { describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import postgres from "postgres";
import { Client, Worker } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { beginWith, commitWith } from "../src/pipelining.ts";
import { useTestDatabase } from "./_db.ts";

const MAX = 4;
const t = useTestDatabase({ max: MAX });

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

  test("a worker deletes a finished job and records a failed one, pipelined or not", async () => {
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

  test("postgres.js sends BEGIN with the first statement and the last with COMMIT: a worker's job is 2 writes", async () => {
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
  });
});
