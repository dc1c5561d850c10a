/**
 * What the PGlite adapter adds to the conformance suite: PGlite runs one transaction at a time,
 * so the adapter queues callers, and a caller that would wait forever (a job handler using the
 * pool while its own job's transaction is open) fails with an error that says what to do.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PGlite } from "@electric-sql/pglite";
import type { ConnPool } from "../src/adapter.ts";
import { pglite } from "../src/adapters/pglite.ts";

describe("pglite adapter", () => {
  let db: PGlite;
  let pool: ConnPool;

  before(async () => {
    db = new PGlite();
    pool = pglite(db, { waitTimeout: 300 });
    await pool.query("CREATE TABLE items (id integer PRIMARY KEY)");
  });
  after(async () => {
    await pool.close();
  });

  test("states that it runs one transaction at a time", () => {
    assert.equal(pool.capabilities.concurrentTransactions, false);
  });

  test("begin() waits for the open transaction to end, then runs", async () => {
    const first = await pool.begin();
    await first.query("INSERT INTO items VALUES (1)");
    let secondStarted = false;
    const second = pool.begin().then((tx) => {
      secondStarted = true;
      return tx;
    });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(secondStarted, false, "the second transaction waits");
    await first.commit();
    const tx = await second;
    const { rowCount } = await tx.query("SELECT 1 FROM items WHERE id = 1");
    assert.equal(rowCount, 1, "and sees what the first committed");
    await tx.query("DELETE FROM items");
    await tx.commit();
  });

  test("a pool query during an open transaction fails after waitTimeout, naming job.tx()", async () => {
    const tx = await pool.begin();
    try {
      const started = Date.now();
      await assert.rejects(pool.query("INSERT INTO items VALUES (2)"), (err: unknown) => {
        assert.ok(err instanceof Error);
        assert.equal((err as { code?: string }).code, "55P03");
        assert.match(err.message, /job\.tx\(\)/);
        assert.match(err.message, /waitTimeout/);
        return true;
      });
      assert.ok(Date.now() - started >= 250, "it waited for the timeout first");
      // The job's own transaction is unaffected and still usable.
      await tx.query("INSERT INTO items VALUES (3)");
    } finally {
      await tx.rollback();
    }
    const { rows } = await pool.query<{ id: number }>("SELECT id FROM items");
    assert.deepEqual(rows, [], "the timed-out statement never ran later, the rollback held");
  });

  test("a begin() inside an open transaction fails the same way instead of hanging", async () => {
    const tx = await pool.begin();
    try {
      await assert.rejects(pool.begin(), { code: "55P03" });
    } finally {
      await tx.rollback();
    }
    const next = await pool.begin();
    await next.rollback();
  });

  test("queued callers run in arrival order", async () => {
    const tx = await pool.begin();
    const order: number[] = [];
    const waiting = [1, 2, 3].map((i) =>
      pool.query("SELECT $1::int AS i", [i]).then(() => order.push(i))
    );
    await tx.rollback();
    await Promise.all(waiting);
    assert.deepEqual(order, [1, 2, 3]);
  });

  test("direct use of the PGlite instance waits for our transaction instead of joining it", async () => {
    const tx = await pool.begin();
    // PGlite has one session: without its transaction lock this INSERT would run inside `tx`
    // and vanish with the rollback below.
    const direct = db.query("INSERT INTO items VALUES (4)");
    await tx.query("INSERT INTO items VALUES (5)");
    await tx.rollback();
    await direct;
    const { rows } = await pool.query<{ id: number }>("SELECT id FROM items ORDER BY id");
    assert.deepEqual(rows, [{ id: 4 }]);
    await pool.query("DELETE FROM items");
  });

  test("start-up time does not count against waitTimeout", async () => {
    const fresh = pglite(new PGlite(), { waitTimeout: 50 });
    try {
      // All of these queue behind the first, which waits for PGlite to start (about 2 s).
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => fresh.query<{ i: number }>("SELECT $1::int AS i", [i])),
      );
      assert.deepEqual(results.map((r) => r.rows[0].i), [0, 1, 2, 3, 4]);
    } finally {
      await fresh.close();
    }
  });

  test("close() rolls back a transaction left open, instead of waiting for it forever", async () => {
    const other = pglite(new PGlite());
    await other.query("CREATE TABLE t (id integer)");
    const tx = await other.begin();
    await tx.query("INSERT INTO t VALUES (1)");
    const waiting = other.query("SELECT 1").then(() => "ran", (err: Error) => err.message);
    await other.close();
    await assert.rejects(tx.query("SELECT 1"), /ended/);
    assert.match(await waiting, /closed/, "a caller queued behind it is refused, not run");
    await assert.rejects(other.begin(), /closed/);
  });

  test("waitTimeout must be a positive number", () => {
    assert.throws(() => pglite(db, { waitTimeout: 0 }), RangeError);
    assert.throws(() => pglite(db, { waitTimeout: Number.NaN }), RangeError);
  });
});
