import { beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, CronScheduler, WorkerPool } from "../mod.ts";
import { openTestPool, useTestDatabase, waitFor } from "./_db.ts";

const t = useTestDatabase();
const quiet = { debug() {}, info() {}, error() {} };

beforeEach(async () => {
  await t.sql`TRUNCATE gue_cron`;
});

function concurrent(): string | undefined {
  return t.pool.capabilities.concurrentTransactions
    ? undefined
    : "the adapter runs one transaction at a time";
}

async function jobCount(queue: string): Promise<number> {
  const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs WHERE queue = ${queue}`;
  return n;
}

describe("CronScheduler", () => {
  test("three pools racing on the same ticks enqueue exactly one job per tick", async (tt) => {
    const why = concurrent();
    if (why) {
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const every = 250;
    const ticks = 100;
    const pools = await Promise.all([0, 1, 2].map(() => openTestPool(t.db.url, 3)));
    const stop = new AbortController();
    try {
      const schedulers = pools.map((pool) =>
        new CronScheduler(new Client(pool, { logger: quiet }), [{
          name: "race",
          schedule: { every },
          overlap: "queue",
          job: { type: "Tick", queue: "race", args: (tick: Date) => ({ tick: tick.getTime() }) },
        }], { logger: quiet })
      );
      const running = schedulers.map((s) => s.run(stop.signal));
      await waitFor(async () => (await jobCount("race")) >= ticks, 120_000, `${ticks} ticks`);
      stop.abort();
      await Promise.all(running);
      const rows = await t.sql`SELECT convert_from(args, 'UTF8')::json->>'tick' AS tick
        FROM gue_jobs WHERE queue = 'race'`;
      const seen = rows.map((r) => Number(r.tick)).sort((a, b) => a - b);
      const distinct = new Set(seen);
      const span = (seen[seen.length - 1] - seen[0]) / every + 1;
      console.log(
        `cron race: 3 pools, ${seen.length} jobs for ${distinct.size} distinct ticks over a span ` +
          `of ${span} ticks of ${every} ms (duplicates: ${seen.length - distinct.size}, gaps: ${
            span - distinct.size
          })`,
      );
      assert.equal(seen.length, distinct.size, "no tick enqueued twice");
      assert.equal(span, distinct.size, "no tick skipped");
      assert.ok(seen.every((tick) => tick % every === 0), "ticks on the interval's grid");
    } finally {
      stop.abort();
      for (const p of pools) await p.close();
    }
  });

  test("overlap 'skip': while the previous tick's job is queued, ticks enqueue nothing", async () => {
    const ticksSeen: boolean[] = [];
    const stop = new AbortController();
    const cron = new CronScheduler(t.client, [{
      name: "skip",
      schedule: { every: 100 },
      job: { type: "Slow", queue: "skip" },
    }], { logger: quiet, onTick: (_n, _t, enqueued) => ticksSeen.push(enqueued) });
    const running = cron.run(stop.signal);
    await waitFor(() => ticksSeen.length >= 5, 30_000, "5 ticks");
    stop.abort();
    await running;
    assert.equal(await jobCount("skip"), 1);
    assert.ok(ticksSeen.filter((e) => e).length <= 1, JSON.stringify(ticksSeen));
  });

  test("a tick missed while no scheduler ran: run once at start, or not at all", async () => {
    for (const missed of ["once", "none"] as const) {
      const queue = `missed-${missed}`;
      await t.sql`INSERT INTO gue_cron (name, last_tick, updated_at)
        VALUES (${queue}, now() - interval '3 hours', now())`;
      const ticks: Date[] = [];
      const stop = new AbortController();
      const cron = new CronScheduler(t.client, [{
        name: queue,
        schedule: "0 * * * *",
        missed,
        job: { type: "Hourly", queue },
      }], { logger: quiet, onTick: (_n, tick) => void ticks.push(tick) });
      const running = cron.run(stop.signal);
      await waitFor(() => ticks.length === 1, 10_000, "the start-up tick");
      stop.abort();
      await running;
      const hour = Math.floor(Date.now() / 3600_000) * 3600_000;
      assert.equal(ticks[0].getTime(), hour, "the latest missed tick");
      assert.equal(await jobCount(queue), missed === "once" ? 1 : 0, `missed: ${missed}`);
      const [row] = await t.sql`SELECT last_tick FROM gue_cron WHERE name = ${queue}`;
      assert.equal(row.last_tick.getTime(), hour, "the tick is taken either way");
    }
  });

  test("a new job starts at its next tick; cron expressions run in the given time zone", async () => {
    const ticks: Date[] = [];
    const stop = new AbortController();
    const cron = new CronScheduler(t.client, [{
      name: "ny",
      schedule: "0 9 * * *",
      timezone: "America/New_York",
      job: { type: "Morning", queue: "ny" },
    }], { logger: quiet, onTick: (_n, tick) => void ticks.push(tick) });
    const running = cron.run(stop.signal);
    await waitFor(() => ticks.length === 1, 10_000, "the start-up tick");
    stop.abort();
    await running;
    assert.equal(await jobCount("ny"), 0, "a new periodic job does not run for the past");
    const local = new Intl.DateTimeFormat("en-US", {
      timeZone: "America/New_York",
      hour: "numeric",
      minute: "numeric",
      hour12: false,
    }).format(ticks[0]);
    assert.equal(local, "09:00");
  });

  test("rejects bad schedules and options, naming them", () => {
    const bad = (job: object) => () =>
      new CronScheduler(t.client, [{ name: "x", job: { type: "T" }, ...job } as never]);
    assert.throws(bad({ schedule: "* * * * * *" }), /cron\[0\].schedule must be a 5-field/);
    assert.throws(bad({ schedule: "61 * * * *" }), /cron\[0\].schedule "61 \* \* \* \*"/);
    assert.throws(bad({ schedule: { every: 0 } }), /schedule.every must be a positive integer/);
    assert.throws(
      bad({ schedule: "@hourly", overlap: "pile" }),
      /overlap must be "skip" or "queue"/,
    );
    assert.throws(
      bad({ schedule: "@hourly", timezone: "Mars/Olympus" }),
      /cron\[0\].schedule "@hourly"/,
    );
  });

  test("a WorkerPool's cron option enqueues ticks while it runs, none after, and works them", async () => {
    const worked: number[] = [];
    const pool = new WorkerPool(
      t.client,
      {
        PoolTick: (job) => void worked.push(job.json<{ tick: number }>().tick),
      },
      1,
      {
        queue: "pool-cron",
        pollInterval: 50,
        logger: quiet,
        cron: [{
          name: "pool-cron",
          schedule: { every: 200 },
          overlap: "queue",
          job: { type: "PoolTick", args: (tick: Date) => ({ tick: tick.getTime() }) },
        }],
      },
    );
    const stop = new AbortController();
    const running = pool.run(stop.signal);
    await waitFor(() => worked.length >= 3, 30_000, "3 ticks worked by the pool");
    stop.abort();
    await running;
    const [{ n: left }] = await t.sql`SELECT count(*)::int AS n FROM gue_jobs
      WHERE queue = 'pool-cron'`;
    const [row] = await t.sql`SELECT last_tick FROM gue_cron WHERE name = 'pool-cron'`;
    const lastTick = row.last_tick.getTime();
    await new Promise((r) => setTimeout(r, 600));
    const [after] = await t.sql`SELECT last_tick FROM gue_cron WHERE name = 'pool-cron'`;
    assert.equal(after.last_tick.getTime(), lastTick, "no tick claimed after run() resolved");
    assert.equal(await jobCount("pool-cron"), left, "no job enqueued after run() resolved");
    assert.ok(worked.every((tick) => tick % 200 === 0), JSON.stringify(worked));
    assert.equal(new Set(worked).size, worked.length, "each tick worked once");
    assert.throws(
      () =>
        new WorkerPool(t.client, {}, 1, {
          cron: [{ name: "x", schedule: "61 * * * *", job: { type: "T" } }],
        }),
      /cron\[0\].schedule "61 \* \* \* \*"/,
    );
  });
});
