import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, type EnqueuedJob, Worker } from "../mod.ts";
import { openTestPool, useTestDatabase } from "./_db.ts";

const t = useTestDatabase();
const quiet = { debug() {}, info() {}, error() {} };

beforeEach(async () => {
  await t.sql`TRUNCATE gue_failed_jobs`;
});

function concurrent(): string | undefined {
  return t.pool.capabilities.concurrentTransactions
    ? undefined
    : "the adapter runs one transaction at a time";
}

async function keyed(key: string): Promise<string[]> {
  const rows = await t.sql`SELECT job_id FROM gue_jobs WHERE unique_key = ${key}`;
  return rows.map((r) => r.job_id);
}

describe("unique jobs", () => {
  test("a second enqueue with a held key inserts nothing and gives the holder", async () => {
    const first = await t.client.enqueue({ type: "T", uniqueKey: "k", args: { n: 1 } });
    assert.equal(first.inserted, true);
    assert.equal(first.uniqueKey, "k");
    const second = await t.client.enqueue({ type: "T", uniqueKey: "k", args: { n: 2 } });
    assert.equal(second.inserted, false);
    assert.equal(second.id, first.id);
    assert.equal(new TextDecoder().decode(second.args), '{"n":1}', "the holder's values");
    assert.deepEqual(await keyed("k"), [first.id]);
    // Without a key, nothing changes: gue's INSERT, inserted every time.
    const plain = await t.client.enqueue({ type: "T" });
    assert.equal(plain.inserted, true);
    assert.equal(plain.uniqueKey, null);
  });

  test("the key is free again once the job is done or dead-lettered", async () => {
    const first = await t.client.enqueue({ type: "T", queue: "u", uniqueKey: "k", maxAttempts: 1 });
    const worker = new Worker(t.client, { T: () => {} }, { queue: "u", logger: quiet });
    assert.equal(await worker.workOne(), true);
    const second = await t.client.enqueue({
      type: "T",
      queue: "u",
      uniqueKey: "k",
      maxAttempts: 1,
    });
    assert.equal(second.inserted, true);
    assert.notEqual(second.id, first.id);
    const failing = new Worker(t.client, {
      T: () => {
        throw new Error("no");
      },
    }, { queue: "u", logger: quiet });
    assert.equal(await failing.workOne(), true);
    assert.equal((await t.client.getJob(second.id))?.state, "failed");
    const third = await t.client.enqueue({ type: "T", queue: "u", uniqueKey: "k" });
    assert.equal(third.inserted, true);
  });

  test("a batch skips held keys and its own duplicates, and says which job holds each", async () => {
    const held = await t.client.enqueue({ type: "T", uniqueKey: "a" });
    const jobs = await t.client.enqueueBatch([
      { type: "T", uniqueKey: "a" },
      { type: "T", uniqueKey: "b" },
      { type: "T", uniqueKey: "b" },
      { type: "T" },
    ]);
    assert.deepEqual(jobs.map((j) => j.inserted), [false, true, false, true]);
    assert.equal(jobs[0].id, held.id);
    assert.equal(jobs[2].id, jobs[1].id);
    assert.equal(jobs.length, 4);
    const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs`;
    assert.equal(n, 3);
  });

  test("in enqueueTx: a rolled-back insert frees the key; a waiting producer then takes it", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const tx = await t.pool.begin();
    const mine = await t.client.enqueueTx({ type: "T", uniqueKey: "tx" }, tx);
    assert.equal(mine.inserted, true);
    // Another producer waits for our transaction: taken if it commits, free if it rolls back.
    let settled = false;
    const other = t.client.enqueue({ type: "T", uniqueKey: "tx" }).finally(() => settled = true);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(settled, false, "the other producer waits for the open transaction");
    await tx.rollback();
    const theirs = await other;
    assert.equal(theirs.inserted, true);
    assert.notEqual(theirs.id, mine.id);
    assert.deepEqual(await keyed("tx"), [theirs.id]);
  });

  test("in enqueueTx: a committed insert holds the key for the waiting producer", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const tx = await t.pool.begin();
    const mine = await t.client.enqueueTx({ type: "T", uniqueKey: "tx2" }, tx);
    const other = t.client.enqueue({ type: "T", uniqueKey: "tx2" });
    await new Promise((r) => setTimeout(r, 100));
    await tx.commit();
    const theirs = await other;
    assert.equal(theirs.inserted, false);
    assert.equal(theirs.id, mine.id);
  });

  test("parallel producers on separate pools racing on the same keys: one job per key", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const producers = 4;
    const keys = 150;
    const pools = await Promise.all(
      Array.from({ length: producers }, () => openTestPool(t.db.url, 4)),
    );
    try {
      const clients = pools.map((p) => new Client(p, { logger: quiet }));
      const started = performance.now();
      // Every producer enqueues every key, in its own order, singly and in small batches.
      const results = await Promise.all(clients.map(async (client, p) => {
        const order = Array.from({ length: keys }, (_, i) => (i * [1, 7, 11, 13][p]) % keys);
        const out: EnqueuedJob[] = [];
        for (let i = 0; i < order.length; i += 3) {
          const chunk = order.slice(i, i + 3).map((k) => ({ type: "T", uniqueKey: `race-${k}` }));
          if (p % 2 === 0) out.push(...await client.enqueueBatch(chunk));
          else for (const job of chunk) out.push(await client.enqueue(job));
        }
        return out;
      }));
      const ms = performance.now() - started;
      const rows = await t
        .sql`SELECT job_id, unique_key FROM gue_jobs WHERE unique_key LIKE 'race-%'`;
      assert.equal(rows.length, keys, "exactly one job per key");
      const byKey = new Map(rows.map((r) => [r.unique_key, r.job_id]));
      let inserted = 0;
      for (const job of results.flat()) {
        assert.equal(
          job.id,
          byKey.get(job.uniqueKey),
          `every caller was told the holder of ${job.uniqueKey}`,
        );
        if (job.inserted) inserted++;
      }
      assert.equal(inserted, keys, "exactly one caller inserted each key");
      // Two producers on one fresh key at the same instant, many times over.
      let pairs = 0;
      for (let round = 0; round < 50; round++) {
        const pair = await Promise.all([
          clients[0].enqueue({ type: "T", uniqueKey: `pair-${round}` }),
          clients[1].enqueue({ type: "T", uniqueKey: `pair-${round}` }),
        ]);
        assert.equal(pair.filter((j) => j.inserted).length, 1, `round ${round}: one inserted`);
        assert.equal(pair[0].id, pair[1].id, `round ${round}: both name the same job`);
        pairs++;
      }
      console.log(`unique-key pair race: ${pairs} rounds, each 1 inserted + 1 told the holder`);
      console.log(
        `unique-key race: ${producers} producers x ${keys} keys = ${producers * keys} enqueues, ` +
          `${rows.length} jobs, ${inserted} inserted, ${
            results.flat().length - inserted
          } told the holder, ${ms.toFixed(0)} ms`,
      );
    } finally {
      for (const p of pools) await p.close();
    }
  });

  test("rows written by gue's SQL (no unique_key) never conflict", async () => {
    const now = new Date();
    for (const id of ["01HZZZZZZZZZZZZZZZZZZZZZZ1", "01HZZZZZZZZZZZZZZZZZZZZZZ2"]) {
      await t.sql`INSERT INTO gue_jobs
        (job_id, queue, priority, run_at, job_type, args, created_at, updated_at)
        VALUES (${id}, '', 0, ${now}, 'T', '', ${now}, ${now})`;
    }
    const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs WHERE unique_key IS NULL`;
    assert.equal(n, 2);
  });
});
