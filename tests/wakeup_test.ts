import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { listenPostgresjs } from "../src/adapters/_listen_postgresjs.ts";
import type { ListenFn } from "../src/listener.ts";
import { noopLogger } from "../src/logger.ts";
import { NOTIFY_CHANNEL } from "../src/notify.ts";
import { Wakeup } from "../src/wakeup.ts";
import { createTestDatabase, type TestDatabase, waitFor } from "./_db.ts";

const LONG_POLL = 30_000;

let db: TestDatabase;
let sql: postgres.Sql;
let listen: ListenFn;
before(async () => {
  db = await createTestDatabase();
  sql = postgres(db.url, { max: 4, onnotice: () => {} });
  listen = (ch, onNotify, onEnd) => listenPostgresjs(sql, ch, onNotify, onEnd);
});
after(async () => {
  await sql?.end();
  await db?.drop();
});

async function notify(payload: string): Promise<void> {
  await sql`SELECT pg_notify(${NOTIFY_CHANNEL}, ${payload})`;
}

/** A Wakeup listening on the test database, attached once; `done()` detaches. */
async function listening(): Promise<{ wakeup: Wakeup; done: () => Promise<void> }> {
  const wakeup = new Wakeup({ listen, logger: noopLogger, retryMinMs: 20 });
  const done = wakeup.attach();
  await waitFor(() => wakeup.listening, 5_000, "listening");
  return { wakeup, done };
}

/** Starts an idle wait; `woken` says whether it has ended. */
function idle(wakeup: Wakeup, queue: string, signal: AbortSignal, nextRunAt: Date | null = null) {
  const started = Date.now();
  const w = { woken: false, after: -1, done: Promise.resolve() };
  wakeup.polling(queue);
  w.done = wakeup.wait(queue, LONG_POLL, nextRunAt, signal).then(() => {
    w.woken = true;
    w.after = Date.now() - started;
  });
  return w;
}

describe("Wakeup", () => {
  test("a notification wakes an idle worker of its queue long before the poll interval", async () => {
    const { wakeup, done } = await listening();
    const stop = new AbortController();
    try {
      const w = idle(wakeup, "emails", stop.signal);
      await waitFor(() => wakeup.idleWorkers("emails") === 1, 1_000, "idle");
      await notify("1|0|emails");
      await w.done;
      assert.ok(w.after < LONG_POLL / 10, `woken after ${w.after} ms`);
    } finally {
      stop.abort();
      await done();
    }
    assert.equal(wakeup.listening, false, "the last detach closes the connection");
  });

  test("a notification of n jobs wakes n idle workers, not all, and not other queues'", async () => {
    const { wakeup, done } = await listening();
    const stop = new AbortController();
    try {
      const ws = [0, 1, 2].map(() => idle(wakeup, "q", stop.signal));
      const other = idle(wakeup, "other", stop.signal);
      await notify("2|0|q");
      await waitFor(() => ws.filter((w) => w.woken).length === 2, 5_000, "two woken");
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(ws.filter((w) => w.woken).length, 2);
      assert.equal(wakeup.idleWorkers("q"), 1);
      assert.equal(other.woken, false);
    } finally {
      stop.abort();
      await done();
    }
  });

  test("a notification that arrives while the worker polls makes its next wait return at once", async () => {
    const wakeup = new Wakeup({ logger: noopLogger });
    const done = wakeup.attach();
    const stop = new AbortController();
    try {
      wakeup.polling("q");
      wakeup.notify({ queue: "q", count: 1, runAt: 0 }); // no worker idle: kept
      const started = Date.now();
      await wakeup.wait("q", LONG_POLL, null, stop.signal);
      assert.ok(Date.now() - started < 1_000);
      // A poll that begins after a notification serves it: the next wait sleeps.
      wakeup.notify({ queue: "q", count: 1, runAt: 0 });
      wakeup.polling("q");
      const w = idle(wakeup, "q", stop.signal);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(w.woken, false);
    } finally {
      stop.abort();
      await done();
    }
  });

  test("the queue's next run_at wakes one idle worker then, not the others", async () => {
    const wakeup = new Wakeup({ logger: noopLogger });
    const done = wakeup.attach();
    const stop = new AbortController();
    try {
      const runAt = new Date(Date.now() + 300);
      const a = idle(wakeup, "q", stop.signal, runAt);
      const b = idle(wakeup, "q", stop.signal, runAt);
      await waitFor(() => a.woken || b.woken, 5_000, "one woken at runAt");
      assert.ok(Date.now() >= runAt.getTime(), "not before runAt");
      assert.ok(Date.now() - runAt.getTime() < LONG_POLL / 10);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(Number(a.woken) + Number(b.woken), 1);
    } finally {
      stop.abort();
      await done();
    }
  });

  test("a notified runAt earlier than the one waited for moves the wake-up forward", async () => {
    const { wakeup, done } = await listening();
    const stop = new AbortController();
    try {
      const w = idle(wakeup, "q", stop.signal, new Date(Date.now() + 20_000));
      const runAt = Date.now() + 300;
      await notify(`1|${runAt}|q`);
      await waitFor(() => w.woken, 5_000, "woken at the earlier runAt");
      assert.ok(Date.now() >= runAt);
    } finally {
      stop.abort();
      await done();
    }
  });

  test("after the LISTEN connection is killed and back, every queue with idle workers polls", async () => {
    const { wakeup, done } = await listening();
    const stop = new AbortController();
    try {
      const w = idle(wakeup, "q", stop.signal);
      await sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
      await w.done;
      assert.ok(w.after < LONG_POLL / 10);
      await waitFor(() => wakeup.listening, 5_000, "listening again");
      const again = idle(wakeup, "q", stop.signal);
      await notify("q");
      await again.done;
    } finally {
      stop.abort();
      await done();
    }
  });

  test("poll only: says once why, and waits the poll interval", async () => {
    const infos: unknown[] = [];
    const logger = { ...noopLogger, info: (msg: string, f?: unknown) => infos.push([msg, f]) };
    const wakeup = new Wakeup({ logger, pollOnlyReason: "the adapter cannot LISTEN" });
    const d1 = wakeup.attach();
    const d2 = wakeup.attach();
    const stop = new AbortController();
    try {
      const started = Date.now();
      await wakeup.wait("q", 150, null, stop.signal);
      assert.ok(Date.now() - started >= 140);
      assert.deepEqual(infos, [["Workers poll only: not listening for new jobs", {
        reason: "the adapter cannot LISTEN",
      }]]);
      assert.equal(wakeup.listening, false);
    } finally {
      await d1();
      await d2();
    }
  });

  test("aborting the signal ends the wait and leaves no timer", async () => {
    const wakeup = new Wakeup({ logger: noopLogger });
    const done = wakeup.attach();
    const stop = new AbortController();
    const w = idle(wakeup, "q", stop.signal, new Date(Date.now() + 10_000));
    stop.abort();
    await w.done;
    assert.equal(wakeup.idleWorkers("q"), 0);
    await done();
  });
});
