/**
 * Workers woken by LISTEN/NOTIFY, run on the adapter under test (`GUE_TEST_ADAPTER`). Tests that
 * need listening are skipped, saying why, on an adapter without the capability.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { Client, type ClientOptions, constantBackoff, WorkerPool } from "../mod.ts";
import type { ConnPool } from "../src/adapter.ts";
import { clientWakeup } from "../src/client.ts";
import { noopLogger } from "../src/logger.ts";
import { NOTIFY_CHANNEL } from "../src/notify.ts";
import { adapterUnderTest, useTestDatabase, waitFor } from "./_db.ts";
import { countNotifications, type NotificationCounter } from "./_notifications.ts";

/** Workers sleep this long between polls: a job that starts much sooner was woken. */
const LONG_POLL = 30_000;
/** "Long before the poll interval". */
const WOKEN_WITHIN = LONG_POLL / 3;

const t = useTestDatabase({ max: 12 });

/** Adapters without LISTEN (deno-postgres cannot receive notifications): their workers poll. */
const NO_LISTEN = new Set(["denoPostgres"]);
const cannotListen = NO_LISTEN.has(adapterUnderTest())
  ? `skipped: the ${adapterUnderTest()} adapter cannot LISTEN, its workers poll`
  : undefined;
const inProcess = adapterUnderTest() === "pglite"
  ? "skipped: PGlite runs in-process, there is no connection to kill"
  : undefined;

/** Fails when the adapter does not say it can listen, though it should. */
function assertListens(): void {
  assert.equal(t.pool.capabilities.listen, true, `${t.pool.name}: capabilities.listen`);
}

/** A counter of notifications on gue's channel, on a connection of the test's own. */
async function counter(): Promise<NotificationCounter> {
  if (adapterUnderTest() !== "pglite") return await countNotifications(t.db.url);
  // PGlite lives in this process: count through a LISTEN of its own on the same database.
  const payloads: string[] = [];
  const pool = t.pool as ConnPool & Required<Pick<ConnPool, "listen">>;
  const conn = await pool.listen(NOTIFY_CHANNEL, (p) => payloads.push(p), () => {});
  return {
    payloads,
    async settle(quietMs = 150) {
      await new Promise((r) => setTimeout(r, quietMs));
      return payloads;
    },
    close: () => conn.close(),
  };
}

/** Starts a pool whose handler records when each job (by `args.n`) started. */
function startPool(client: Client, size: number, queue: string, pollInterval = LONG_POLL) {
  // PGlite runs one transaction at a time: one worker.
  if (!client.pool.capabilities.concurrentTransactions) size = 1;
  const started = new Map<number, number>();
  const stop = new AbortController();
  const pool = new WorkerPool(
    client,
    {
      Probe: (job) => void started.set(job.json<{ n: number }>().n, Date.now()),
    },
    size,
    { queue, pollInterval },
  );
  const running = pool.run(stop.signal);
  return {
    started,
    async stop() {
      stop.abort();
      await running;
    },
  };
}

/** Lets a freshly started pool make its first (empty) polls and go idle. */
const settle = () => new Promise((r) => setTimeout(r, 300));

/** Server backends of the test database whose last statement was LISTEN. */
async function listeners(): Promise<number[]> {
  const admin = postgres(t.db.url, { max: 1, onnotice: () => {} });
  try {
    const rows = await admin`SELECT pid FROM pg_stat_activity WHERE datname = current_database()
      AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
    return rows.map((r) => r.pid);
  } finally {
    await admin.end();
  }
}

describe("wake-up on enqueue", () => {
  test("a job enqueued by another client for an idle pool starts long before the poll interval", {
    skip: cannotListen,
  }, async () => {
    assertListens();
    const pool = startPool(t.client, 2, "woken");
    // A client of its own, as another process would have: its enqueues must NOTIFY.
    const producer = new Client(t.pool, { logger: noopLogger });
    try {
      await settle();
      for (let n = 0; n < 5; n++) {
        const t0 = Date.now();
        await producer.enqueue({ type: "Probe", queue: "woken", args: { n } });
        await waitFor(() => pool.started.has(n), WOKEN_WITHIN, `job ${n} to start`);
        assert.ok(pool.started.get(n)! - t0 < WOKEN_WITHIN);
      }
    } finally {
      await pool.stop();
    }
  });

  test("the client's own idle workers take its jobs without a NOTIFY; the jobs beyond them are notified", async () => {
    const pool = startPool(t.client, 2, "handoff");
    const size = t.pool.capabilities.concurrentTransactions ? 2 : 1;
    const notes = await counter();
    const idle = () => clientWakeup(t.client).idleWorkers("handoff") === size;
    try {
      await settle();
      for (let n = 0; n < 3; n++) {
        await waitFor(idle, WOKEN_WITHIN, "the workers to be idle");
        const t0 = Date.now();
        await t.client.enqueue({ type: "Probe", queue: "handoff", args: { n } });
        await waitFor(() => pool.started.has(n), WOKEN_WITHIN, `job ${n} to start`);
        assert.ok(pool.started.get(n)! - t0 < WOKEN_WITHIN);
      }
      await waitFor(idle, WOKEN_WITHIN, "the workers to be idle");
      const announced = (await notes.settle()).filter((p) => p.endsWith("|handoff"));
      assert.deepEqual(announced, [], "jobs taken by the client's own idle workers");
      await t.client.enqueueBatch(
        [3, 4, 5, 6, 7].map((n) => ({ type: "Probe", queue: "handoff", args: { n } })),
      );
      await waitFor(() => pool.started.size === 8, WOKEN_WITHIN, "the batch to start");
      const payloads = (await notes.settle()).filter((p) => p.endsWith("|handoff"));
      // The batch's jobs beyond the idle workers are announced with the INSERT. (PGlite delivers
      // that notification in-process before the INSERT resolves: it wakes the idle worker first,
      // and the job handed to it is announced after all, in a second notification.)
      assert.equal(payloads[0], `${5 - size}|0|handoff`, payloads.join(", "));
      assert.ok(payloads.length <= 2, payloads.join(", "));
    } finally {
      await notes.close();
      await pool.stop();
    }
  });

  test(
    "enqueueBatch of 1,000 jobs sends a bounded number of notifications",
    { skip: cannotListen },
    async () => {
      assertListens();
      const notes = await counter();
      try {
        await t.client.enqueueBatch(
          Array.from({ length: 1000 }, (_, n) => ({ type: "Probe", queue: "batch", args: { n } })),
        );
        const payloads = await notes.settle();
        assert.ok(payloads.length >= 1 && payloads.length <= 2, `${payloads.length} notifications`);
        assert.equal(payloads[0], `1000|0|batch`);
      } finally {
        await notes.close();
      }
    },
  );

  test("enqueueTx wakes nobody when rolled back, and wakes a worker once committed", {
    skip: cannotListen,
  }, async () => {
    assertListens();
    const pool = startPool(t.client, 1, "tx");
    const notes = await counter();
    try {
      await settle();
      const rolledBack = await t.pool.begin();
      await t.client.enqueueTx({ type: "Probe", queue: "tx", args: { n: 1 } }, rolledBack);
      await rolledBack.rollback();
      assert.deepEqual(await notes.settle(), [], "no notification from a rolled-back enqueue");

      const committed = await t.pool.begin();
      await t.client.enqueueTx({ type: "Probe", queue: "tx", args: { n: 2 } }, committed);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(pool.started.size, 0, "not before the commit");
      const t0 = Date.now();
      await committed.commit();
      await waitFor(() => pool.started.has(2), WOKEN_WITHIN, "the committed job to start");
      assert.ok(pool.started.get(2)! - t0 < WOKEN_WITHIN);
      assert.deepEqual(await notes.settle(), ["1|0|tx"]);
      assert.equal(pool.started.has(1), false);
    } finally {
      await notes.close();
      await pool.stop();
    }
  });

  test(
    "the LISTEN connection killed by pg_terminate_backend comes back, and jobs still start fast",
    { skip: cannotListen ?? inProcess },
    async () => {
      assertListens();
      const pool = startPool(t.client, 1, "killed");
      try {
        await settle();
        await waitFor(async () => (await listeners()).length === 1, 5_000, "one LISTEN connection");
        const [before] = await listeners();
        const admin = postgres(t.db.url, { max: 1, onnotice: () => {} });
        await admin`SELECT pg_terminate_backend(${before})`;
        await admin.end();
        await waitFor(
          async () => {
            const now = await listeners();
            return now.length === 1 && now[0] !== before;
          },
          10_000,
          "a new LISTEN connection",
        );
        await settle();
        const t0 = Date.now();
        await t.client.enqueue({ type: "Probe", queue: "killed", args: { n: 1 } });
        await waitFor(() => pool.started.has(1), WOKEN_WITHIN, "the job to start");
        assert.ok(pool.started.get(1)! - t0 < WOKEN_WITHIN);
      } finally {
        await pool.stop();
      }
    },
  );

  test("a job scheduled with runAt starts on time, long before the poll interval", {
    skip: cannotListen,
  }, async () => {
    assertListens();
    const pool = startPool(t.client, 1, "scheduled", 10_000);
    try {
      await settle();
      const runAt = new Date(Date.now() + 1_000);
      await t.client.enqueue({ type: "Probe", queue: "scheduled", args: { n: 1 }, runAt });
      await waitFor(() => pool.started.has(1), 10_000, "the scheduled job to start");
      const late = pool.started.get(1)! - runAt.getTime();
      assert.ok(late >= 0, `started ${-late} ms early`);
      assert.ok(late < 5_000, `started ${late} ms late`);
    } finally {
      await pool.stop();
    }
  });

  test("a failed job's retry starts at its backoff, long before the poll interval", async () => {
    // No notification says when the retry is due: the worker that failed it polls again at once,
    // learns the queue's next run_at from that empty poll, and sleeps only until then.
    // The job is there before the worker starts, so its first attempt needs no wake-up and the
    // test holds for adapters that cannot LISTEN too.
    const client = new Client(t.pool, { backoff: constantBackoff(500), logger: noopLogger });
    await client.enqueue({ type: "Flaky", queue: "retried", args: {} });
    const attempts: number[] = [];
    const stop = new AbortController();
    const running = new WorkerPool(
      client,
      {
        Flaky: () => {
          attempts.push(Date.now());
          if (attempts.length === 1) throw new Error("first attempt fails");
        },
      },
      1,
      { queue: "retried", pollInterval: LONG_POLL, logger: noopLogger },
    ).run(stop.signal);
    try {
      await waitFor(() => attempts.length === 2, WOKEN_WITHIN, "the retry to start");
      const gap = attempts[1] - attempts[0];
      assert.ok(gap >= 500, `retried after ${gap} ms, before its backoff`);
      assert.ok(gap < WOKEN_WITHIN, `retried after ${gap} ms`);
    } finally {
      stop.abort();
      await running;
    }
  });
});

describe("poll only", () => {
  test("a worker sleeps until its queue's next runAt, not the whole poll interval", async () => {
    const options: ClientOptions = { listen: false };
    const client = new Client(t.pool, options);
    const runAt = new Date(Date.now() + 1_500);
    await client.enqueue({ type: "Probe", queue: "next_due", args: { n: 1 }, runAt });
    const pool = startPool(client, 2, "next_due", 10_000);
    try {
      await waitFor(() => pool.started.has(1), 10_000, "the scheduled job to start");
      const late = pool.started.get(1)! - runAt.getTime();
      assert.ok(late >= 0, `started ${-late} ms early`);
      assert.ok(late < 5_000, `started ${late} ms late`);
    } finally {
      await pool.stop();
    }
  });

  test("listen: false opens no LISTEN connection, logs why once, and jobs start by polling", async () => {
    const infos: string[] = [];
    const logger = {
      debug() {},
      info: (msg: string) => void infos.push(msg),
      error() {},
    };
    const options: ClientOptions = { listen: false, logger };
    const client = new Client(t.pool, options);
    const a = startPool(client, 2, "polled", 300);
    const b = startPool(client, 1, "polled_too", 300);
    try {
      await settle();
      if (adapterUnderTest() !== "pglite") assert.deepEqual(await listeners(), []);
      await client.enqueue({ type: "Probe", queue: "polled", args: { n: 1 } });
      await waitFor(() => a.started.has(1), 10_000, "the job to start by polling");
      assert.equal(infos.filter((m) => m.startsWith("Workers poll only")).length, 1);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
