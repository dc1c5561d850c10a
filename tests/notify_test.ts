import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { noopLogger } from "../src/logger.ts";
import {
  noticePayload,
  noticesFor,
  NotifyCoalescer,
  parseCancelPayload,
  parseNoticePayload,
  splitForIdle,
} from "../src/notify.ts";
import { jobNotify } from "../src/sql.ts";
import { createTestDatabase, type TestDatabase } from "./_db.ts";
import { countNotifications } from "./_notifications.ts";
import type { Queryable } from "../src/adapter.ts";

describe("notification payloads", () => {
  test("cancellation payloads are told apart from job payloads", () => {
    assert.equal(
      parseCancelPayload("cancel|01HZZZZZZZZZZZZZZZZZZZZZZZ"),
      "01HZZZZZZZZZZZZZZZZZZZZZZZ",
    );
    assert.equal(parseCancelPayload("cancel|"), undefined);
    assert.equal(parseCancelPayload("3|0|emails"), undefined);
    assert.equal(parseCancelPayload("q"), undefined);
    assert.equal(
      parseCancelPayload(noticePayload({ queue: "cancel", count: 1, runAt: 0 })),
      undefined,
    );
  });

  test("round-trip count, runAt and a queue that contains the separator", () => {
    for (
      const notice of [
        { queue: "emails", count: 3, runAt: 0 },
        { queue: "", count: 1, runAt: 0 },
        { queue: "a|b|c", count: 7, runAt: 1_764_000_000_123 },
        { queue: "ünïcödé", count: 1, runAt: 0 },
      ]
    ) {
      assert.deepEqual(parseNoticePayload(noticePayload(notice)), notice);
    }
  });

  test("a plain NOTIFY with a queue name means one job of that queue, due now", () => {
    assert.deepEqual(parseNoticePayload("emails"), { queue: "emails", count: 1, runAt: 0 });
    assert.deepEqual(parseNoticePayload("x|y"), { queue: "x|y", count: 1, runAt: 0 });
    assert.deepEqual(parseNoticePayload(""), { queue: "", count: 1, runAt: 0 });
  });

  test("a queue name too long for a payload becomes 'any queue'", () => {
    const payload = noticePayload({ queue: "q".repeat(8000), count: 2, runAt: 0 });
    assert.equal(payload, "2|0");
    assert.deepEqual(parseNoticePayload(payload), { queue: undefined, count: 2, runAt: 0 });
    const multibyte = noticePayload({ queue: "é".repeat(3000), count: 1, runAt: 0 });
    assert.ok(new TextEncoder().encode(multibyte).length < 8000, "under Postgres' limit");
  });

  test("noticesFor() groups per queue: jobs due now, and later ones at the earliest runAt", () => {
    const now = 1_000_000;
    const at = (ms: number) => new Date(ms);
    const notices = noticesFor([
      { queue: "a", runAt: at(now) },
      { queue: "a", runAt: at(now - 5) },
      { queue: "b", runAt: at(now + 500) },
      { queue: "b", runAt: at(now + 100) },
      { queue: "a", runAt: at(now + 300) },
    ], now);
    assert.deepEqual(notices, [
      { queue: "a", count: 2, runAt: 0 },
      { queue: "b", count: 2, runAt: now + 100 },
      { queue: "a", count: 1, runAt: now + 300 },
    ]);
  });

  test("splitForIdle() hands jobs due now to idle workers, up to their number; the rest notify", () => {
    const idle = new Map([["a", 2], ["b", 5]]);
    const [handOff, notify] = splitForIdle([
      { queue: "a", count: 3, runAt: 0 },
      { queue: "b", count: 1, runAt: 0 },
      { queue: "b", count: 4, runAt: 123 },
      { queue: "c", count: 1, runAt: 0 },
      { queue: undefined, count: 1, runAt: 0 },
    ], (q) => idle.get(q) ?? 0);
    assert.deepEqual(handOff, [
      { queue: "a", count: 2, runAt: 0 },
      { queue: "b", count: 1, runAt: 0 },
    ]);
    // Later jobs are announced: idle workers elsewhere must learn when they fall due.
    assert.deepEqual(notify, [
      { queue: "a", count: 1, runAt: 0 },
      { queue: "b", count: 4, runAt: 123 },
      { queue: "c", count: 1, runAt: 0 },
      { queue: undefined, count: 1, runAt: 0 },
    ]);
  });
});

describe("NOTIFY delivery", () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  before(async () => {
    db = await createTestDatabase();
    sql = postgres(db.url, { max: 20, onnotice: () => {} });
  });
  after(async () => {
    await sql?.end();
    await db?.drop();
  });

  test("a notification sent in a transaction is delivered only if it commits", async () => {
    const counter = await countNotifications(db.url);
    try {
      await sql.begin(async (tx) => {
        await tx.unsafe(jobNotify(1), ["1|0|rolled-back"]);
        throw new Error("roll back");
      }).catch(() => {});
      await sql.begin((tx) => tx.unsafe(jobNotify(2), ["1|0|a", "1|0|b"]));
      assert.deepEqual(await counter.settle(), ["1|0|a", "1|0|b"]);
    } finally {
      await counter.close();
    }
  });

  test("identical payloads in one transaction are delivered once", async () => {
    const counter = await countNotifications(db.url);
    try {
      await sql.begin(async (tx) => {
        for (let i = 0; i < 50; i++) await tx.unsafe(jobNotify(1), ["1|0|same"]);
      });
      assert.deepEqual(await counter.settle(), ["1|0|same"]);
    } finally {
      await counter.close();
    }
  });

  /** Runs SQL on the test database as the client's pool would. */
  const poolOf = (fail?: () => boolean): Queryable => ({
    query: async (text, params) => {
      if (fail?.()) throw new Error("connection lost");
      const rows = await sql.unsafe(text, params as string[]);
      return { rows: [...rows] as never[], rowCount: rows.count };
    },
  });

  /** Stands in for an enqueue: a statement that carries the notices its claim got. */
  async function enqueue(coalescer: NotifyCoalescer, pool: Queryable, queue: string) {
    const notices = coalescer.claim([{ queue, count: 1, runAt: 0 }]);
    try {
      await pool.query("SELECT pg_sleep(0.0002)");
      if (notices.length > 0) {
        await pool.query(jobNotify(notices.length), notices.map(noticePayload));
      }
    } finally {
      coalescer.release(notices.length > 0);
    }
    return notices.length;
  }

  test("NotifyCoalescer: 200 concurrent enqueues send at most a handful of notifications", async () => {
    const counter = await countNotifications(db.url);
    const pool = poolOf();
    const coalescer = new NotifyCoalescer(pool, (n) => jobNotify(n), noopLogger);
    try {
      const carried = await Promise.all(
        Array.from({ length: 200 }, (_, i) => enqueue(coalescer, pool, `q${i % 2}`)),
      );
      await coalescer.settled();
      const payloads = await counter.settle();
      const jobs = payloads.map(parseNoticePayload).reduce((sum, n) => sum + n.count, 0);
      assert.equal(jobs, 200, `every job is counted once: ${payloads.join(", ")}`);
      assert.ok(carried.some((n) => n > 0));
      assert.ok(payloads.length <= 10, `${payloads.length} notifications for 200 enqueues`);
    } finally {
      await counter.close();
    }
  });

  test("NotifyCoalescer: one producer's stream notifies at most once per gap, and every job is told", async () => {
    const counter = await countNotifications(db.url);
    const pool = poolOf();
    // A gap longer than an enqueue takes here, so the stream must ride on few notifications.
    const gapMs = 50;
    let standalone = 0;
    const counted: Queryable = {
      query: (text, params) => (standalone++, pool.query(text, params)),
    };
    const coalescer = new NotifyCoalescer(counted, (n) => jobNotify(n), noopLogger, gapMs);
    try {
      const t0 = performance.now();
      let carriers = 0;
      for (let i = 0; i < 100; i++) if (await enqueue(coalescer, pool, "stream") > 0) carriers++;
      const elapsed = performance.now() - t0;
      await coalescer.settled();
      const payloads = await counter.settle();
      const jobs = payloads.map(parseNoticePayload).reduce((sum, n) => sum + n.count, 0);
      assert.equal(jobs, 100, `every job is counted once: ${payloads.join(", ")}`);
      // The first enqueue notifies at once; then one notifying statement per gap at most.
      assert.ok(carriers >= 1);
      assert.ok(
        payloads.length <= Math.ceil(elapsed / gapMs) + 1,
        `${payloads.length} notifications in ${elapsed.toFixed(0)} ms`,
      );
      // The notices ride on the producer's next enqueue: a NOTIFY of their own only at the end.
      assert.ok(standalone <= 1, `${standalone} standalone NOTIFYs`);
    } finally {
      await counter.close();
    }
  });

  test("NotifyCoalescer: notices that waited ride on the next enqueue after the gap, not on a NOTIFY of their own", async () => {
    const standalone: unknown[][] = [];
    const pool: Queryable = {
      query: (_text, params) => {
        standalone.push(params ?? []);
        return Promise.resolve({ rows: [], rowCount: 0 });
      },
    };
    // Gap 5 ms, standalone NOTIFY 500 ms after the last notification.
    const coalescer = new NotifyCoalescer(pool, (n) => jobNotify(n), noopLogger, 5, 500);
    assert.equal(coalescer.claim([{ queue: "q", count: 1, runAt: 0 }]).length, 1);
    coalescer.release(true);
    assert.deepEqual(coalescer.claim([{ queue: "q", count: 1, runAt: 0 }]), [], "within the gap");
    coalescer.release(false);
    // Past the gap, well before the standalone NOTIFY: the producer's next enqueue carries both.
    await new Promise((resolve) => setTimeout(resolve, 30));
    const carried = coalescer.claim([{ queue: "q", count: 1, runAt: 0 }]);
    coalescer.release(true);
    assert.deepEqual(carried, [{ queue: "q", count: 2, runAt: 0 }]);
    assert.deepEqual(standalone, [], "no NOTIFY of their own");
    // The last enqueue of a stream waits, and goes out alone once the producer is gone.
    assert.deepEqual(coalescer.claim([{ queue: "q", count: 1, runAt: 0 }]), []);
    coalescer.release(false);
    await coalescer.settled();
    assert.deepEqual(standalone, [["1|0|q"]]);
  });

  test("NotifyCoalescer: notices an enqueue carried for others wait again when it fails", async () => {
    const counter = await countNotifications(db.url);
    const coalescer = new NotifyCoalescer(poolOf(), (n) => jobNotify(n), noopLogger, 0);
    try {
      assert.equal(coalescer.claim([{ queue: "a", count: 1, runAt: 0 }]).length, 1);
      assert.deepEqual(coalescer.claim([{ queue: "b", count: 1, runAt: 0 }]), []);
      coalescer.release(true);
      coalescer.release(false);
      // The next enqueue carries its own notice and the one that waited…
      const carried = coalescer.claim([{ queue: "c", count: 1, runAt: 0 }]);
      assert.deepEqual(carried.map((n) => n.queue).sort(), ["b", "c"]);
      // …and fails: its own jobs are not there, but b's are, and b's notice goes out alone.
      coalescer.release(true, false);
      await coalescer.settled();
      assert.deepEqual(await counter.settle(), ["1|0|b"]);
    } finally {
      await counter.close();
    }
  });

  test("NotifyCoalescer: deferred notices (jobs the client's idle workers could not take) go out merged", async () => {
    const counter = await countNotifications(db.url);
    const coalescer = new NotifyCoalescer(poolOf(), (n) => jobNotify(n), noopLogger, 0);
    try {
      coalescer.defer([{ queue: "a", count: 2, runAt: 0 }]);
      coalescer.defer([{ queue: "a", count: 1, runAt: 0 }]);
      await coalescer.settled();
      assert.deepEqual(await counter.settle(), ["3|0|a"]);
    } finally {
      await counter.close();
    }
  });

  test("NotifyCoalescer: a failed standalone NOTIFY is logged (info) and the next one still goes out", async () => {
    const infos: string[] = [];
    const errors: string[] = [];
    let fail = true;
    const counter = await countNotifications(db.url);
    const pool = poolOf(() => {
      const now = fail;
      fail = false;
      return now;
    });
    const logger = {
      ...noopLogger,
      info: (msg: string) => infos.push(msg),
      error: (msg: string) => errors.push(msg),
    };
    const coalescer = new NotifyCoalescer(pool, (n) => jobNotify(n), logger, 0);
    try {
      const first = coalescer.claim([{ queue: "a", count: 1, runAt: 0 }]);
      assert.equal(first.length, 1);
      assert.deepEqual(coalescer.claim([{ queue: "b", count: 1, runAt: 0 }]), []);
      coalescer.release(true);
      coalescer.release(false);
      await coalescer.settled();
      assert.deepEqual(infos, ["Could not notify workers of enqueued jobs; they poll for them"]);
      // The jobs are committed and found by polling; a pool closed right after enqueues ends here.
      assert.deepEqual(errors, []);
      const again = coalescer.claim([{ queue: "c", count: 1, runAt: 0 }]);
      assert.equal(again.length, 1, "the claim is free again after the failure");
      assert.deepEqual(coalescer.claim([{ queue: "d", count: 2, runAt: 0 }]), []);
      coalescer.release(true);
      coalescer.release(false);
      await coalescer.settled();
      assert.deepEqual(await counter.settle(), ["2|0|d"]);
    } finally {
      await counter.close();
    }
  });
});
