/**
 * Scenario 4: latency from `enqueue` to the start of the handler, with idle workers, woken by
 * LISTEN/NOTIFY and, for comparison, by polling alone; and how late a job scheduled with `runAt`
 * starts.
 *
 * Woken workers: a `WorkerPool` of 1 and one of 8 on a queue of their own, at the default poll
 * interval; jobs are enqueued one at a time, 5–25 ms apart (as the peers' probes do), each after
 * the previous one started; by another client (as by another process: LISTEN/NOTIFY wakes the
 * workers), then by the workers' own client (it hands the job to an idle worker directly).
 *
 * Scheduled jobs: a batch of jobs whose `runAt`s are 25–75 ms apart, enqueued at once for an
 * idle pool of 1; the figure per job is handler start minus `runAt`.
 *
 * Polling only (listening off):
 * A polling worker that finds its queue empty sleeps `pollInterval`, so a job waits on average
 * half an interval: measuring 200 jobs one after another at the default 5 s would take minutes.
 * Instead the bench runs many probes side by side, each a queue of its own with one idle worker
 * (a `WorkerPool` of 1), and each probe enqueues its jobs one at a time at a random moment of
 * the worker's poll cycle. The probes' workers start spread over one interval, so their polls do
 * not arrive at the server together. Repetitions run side by side too, each its own set of probes.
 *
 * Otherwise the figure per job is the time from calling `enqueue` to the handler's first line; the figure
 * per repetition is its p50/p95/p99; the table shows their median, min and max.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { NOOP_TYPE } from "../backlog.ts";
import { connect, createBenchDatabase, warmPool } from "../db.ts";
import { sleep } from "../meter.ts";
import { postgresjs } from "../../src/adapters/postgresjs.ts";
import { progress } from "../progress.ts";
import type { LatencyCell } from "../results.ts";
import { percentile, summarize } from "../stats.ts";
import { Client, WorkerPool } from "../../mod.ts";
import type { Sql } from "../db.ts";

/** The library's default poll interval (DESIGN.md: 5000 ms), measured by passing no option. */
const LIBRARY_DEFAULT_POLL_MS = 5_000;
/** Roughly how long the probing of one setting may take, beyond the start-up spread. */
const BUDGET_MS = 2_500;
/** A job that has not started after this long means something is broken. */
const STUCK_MS = 60_000;
/**
 * Consecutive scheduled jobs are due 25–75 ms apart: far enough that one worker finishes a job
 * before the next is due, so the figure is the wake-up's lateness, not a queue's.
 */
const SCHEDULE_GAP_MS = [25, 75];

/**
 * A client on `sql` with wake-up on or off, migrated. Off is `listen: false` and `notify: false`:
 * with `notify` on, the client would hand its jobs to its own idle workers, and the poll-only
 * rows would not measure polling.
 */
export async function clientWithWakeup(sql: Sql, wakeup: boolean): Promise<Client> {
  const client = new Client(postgresjs(sql), { listen: wakeup, notify: wakeup });
  await client.migrate();
  return client;
}

/** Resolves when `started` has been called for `key`, or rejects after {@linkcode STUCK_MS}. */
function startOf(started: Map<string, (t: number) => void>, key: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${key}: job not started in ${STUCK_MS} ms`)),
      STUCK_MS,
    );
    Deno.unrefTimer(timer);
    started.set(key, (t) => {
      clearTimeout(timer);
      started.delete(key);
      resolve(t);
    });
  });
}

/**
 * Latency with listening on: an idle pool of `size` workers on one queue at the default poll
 * interval; `config.latencyJobs` jobs per repetition, one at a time, 5–25 ms apart.
 */
async function measureWoken(
  client: Client,
  producer: Client,
  config: BenchConfig,
  size: number,
): Promise<Omit<LatencyCell, "setting">> {
  const queue = `woken_${size}_${producer === client ? "own" : "other"}`;
  const started = new Map<string, (t: number) => void>();
  const pool = new WorkerPool(
    client,
    {
      [NOOP_TYPE]: () => started.get(queue)?.(performance.now()),
    },
    size,
    { queue },
  );
  const stop = new AbortController();
  const running = pool.run(stop.signal);
  const perRep: number[][] = [];
  try {
    // The pool's first polls find nothing; its workers are idle from then on.
    await sleep(200);
    for (let rep = 0; rep < config.reps; rep++) {
      const latencies: number[] = [];
      for (let j = 0; j < config.latencyJobs; j++) {
        await sleep(5 + Math.random() * 20);
        const handlerStart = startOf(started, queue);
        const t0 = performance.now();
        await producer.enqueue({ type: NOOP_TYPE, queue, args: {} });
        latencies.push((await handlerStart) - t0);
      }
      perRep.push(latencies.sort((a, b) => a - b));
    }
  } finally {
    stop.abort();
    await running;
  }
  return {
    pollIntervalMs: LIBRARY_DEFAULT_POLL_MS,
    jobsPerRep: config.latencyJobs,
    p50: summarize(perRep.map((l) => percentile(l, 50))),
    p95: summarize(perRep.map((l) => percentile(l, 95))),
    p99: summarize(perRep.map((l) => percentile(l, 99))),
  };
}

/**
 * Lateness of scheduled jobs: `config.latencyJobs` jobs per repetition, enqueued at once with
 * `runAt`s {@linkcode SCHEDULE_GAP_MS} apart, worked by an idle pool of 1 at the
 * default poll interval; the figure is handler start minus `runAt`, on the same clock.
 */
async function measureScheduled(
  client: Client,
  config: BenchConfig,
): Promise<Omit<LatencyCell, "setting">> {
  const queue = "scheduled";
  const started = new Map<string, (t: number) => void>();
  const pool = new WorkerPool(
    client,
    {
      [NOOP_TYPE]: (job) => started.get(job.id)?.(Date.now()),
    },
    1,
    { queue },
  );
  const stop = new AbortController();
  const running = pool.run(stop.signal);
  const perRep: number[][] = [];
  try {
    await sleep(200);
    for (let rep = 0; rep < config.reps; rep++) {
      let at = Date.now() + 300;
      const [gapMin, gapMax] = SCHEDULE_GAP_MS;
      const jobs = Array.from({ length: config.latencyJobs }, () => {
        at += gapMin + Math.random() * (gapMax - gapMin);
        return { type: NOOP_TYPE, queue, args: {}, runAt: new Date(at) };
      });
      const stored = await client.enqueueBatch(jobs);
      const lateness = await Promise.all(
        stored.map(async (job) => (await startOf(started, job.id)) - job.runAt.getTime()),
      );
      perRep.push(lateness.sort((a, b) => a - b));
    }
  } finally {
    stop.abort();
    await running;
  }
  return {
    pollIntervalMs: LIBRARY_DEFAULT_POLL_MS,
    jobsPerRep: config.latencyJobs,
    p50: summarize(perRep.map((l) => percentile(l, 50))),
    p95: summarize(perRep.map((l) => percentile(l, 95))),
    p99: summarize(perRep.map((l) => percentile(l, 99))),
  };
}

/** Measures one poll interval; `pollInterval` undefined means the library's default. */
async function measureSetting(
  client: Client,
  config: BenchConfig,
  pollInterval: number | undefined,
): Promise<Omit<LatencyCell, "setting">> {
  const interval = pollInterval ?? LIBRARY_DEFAULT_POLL_MS;
  const probesPerRep = Math.min(
    config.latencyJobs,
    Math.max(1, Math.ceil((config.latencyJobs * interval) / BUDGET_MS)),
  );
  const jobsPerProbe = Math.ceil(config.latencyJobs / probesPerRep);
  const probes = probesPerRep * config.reps;
  const started = new Map<string, (t: number) => void>();
  const stop = new AbortController();
  const running: Promise<void>[] = [];
  const latencies: number[][] = Array.from({ length: config.reps }, () => []);

  const probe = async (k: number) => {
    const queue = `latency_${k}`;
    // Spread the workers' start (and so their polls) over one interval.
    await sleep(Math.random() * interval);
    const pool = new WorkerPool(
      client,
      { [NOOP_TYPE]: () => started.get(queue)?.(performance.now()) },
      1,
      {
        queue,
        ...(pollInterval === undefined ? {} : { pollInterval }),
      },
    );
    running.push(pool.run(stop.signal));
    for (let j = 0; j < jobsPerProbe; j++) {
      // A random moment of the worker's cycle: it is idle, sleeping since its last empty poll.
      await sleep(Math.random() * interval);
      const handlerStart = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${queue}: job not started in ${STUCK_MS} ms`)),
          STUCK_MS,
        );
        Deno.unrefTimer(timer);
        started.set(queue, (t) => {
          clearTimeout(timer);
          resolve(t);
        });
      });
      const t0 = performance.now();
      await client.enqueue({ type: NOOP_TYPE, queue, args: {} });
      latencies[k % config.reps].push((await handlerStart) - t0);
      started.delete(queue);
    }
  };

  try {
    await Promise.all(Array.from({ length: probes }, (_, k) => probe(k)));
  } finally {
    stop.abort();
    await Promise.all(running);
  }
  const perRep = latencies.map((l) => l.sort((a, b) => a - b));
  return {
    pollIntervalMs: interval,
    jobsPerRep: probesPerRep * jobsPerProbe,
    probes: probesPerRep,
    p50: summarize(perRep.map((l) => percentile(l, 50))),
    p95: summarize(perRep.map((l) => percentile(l, 95))),
    p99: summarize(perRep.map((l) => percentile(l, 99))),
  };
}

/**
 * Runs scenario 4: woken workers (pools of 1 and 8), scheduled jobs' lateness, then polling only
 * at the library's default poll interval and at `config.shortPollMs`.
 *
 * @param config The bench parameters.
 */
export async function runLatencyScenario(config: BenchConfig): Promise<LatencyCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "latency");
  const sql = connect(db.url, 20);
  const cells: LatencyCell[] = [];
  const record = (cell: LatencyCell) => {
    cells.push(cell);
    progress(
      `  latency, ${cell.setting}: p50 ${cell.p50.median.toFixed(1)} ms, ` +
        `p95 ${cell.p95.median.toFixed(1)} ms, p99 ${cell.p99.median.toFixed(1)} ms`,
    );
  };
  try {
    await warmPool(sql, 20);
    const woken = await clientWithWakeup(sql, true);
    // Another client enqueues, as another process would: the workers learn of the job by
    // LISTEN/NOTIFY. The workers' own client hands its jobs to them without a NOTIFY.
    const producer = await clientWithWakeup(sql, true);
    for (const size of [1, 8]) {
      record({
        setting: `LISTEN/NOTIFY, idle pool of ${size}`,
        ...await measureWoken(woken, producer, config, size),
      });
    }
    for (const size of [1, 8]) {
      record({
        setting: `the workers' own client (no NOTIFY), idle pool of ${size}`,
        ...await measureWoken(woken, woken, config, size),
      });
    }
    record({
      setting: "scheduled: handler start − runAt, idle pool of 1",
      ...await measureScheduled(woken, config),
    });
    const polling = await clientWithWakeup(sql, false);
    const settings: [string, number | undefined][] = [
      [`poll only, default poll (${LIBRARY_DEFAULT_POLL_MS} ms)`, undefined],
      [`poll only, short poll (${config.shortPollMs} ms)`, config.shortPollMs],
    ];
    for (const [setting, pollInterval] of settings) {
      record({ setting, ...await measureSetting(polling, config, pollInterval) });
    }
  } finally {
    await sql.end();
    await db.drop();
  }
  return cells;
}
