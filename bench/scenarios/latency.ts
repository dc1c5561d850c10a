/**
 * Scenario 4: latency from `enqueue` to the start of the handler, with idle workers.
 *
 * A polling worker that finds its queue empty sleeps `pollInterval`, so a job waits on average
 * half an interval: measuring 200 jobs one after another at the default 5 s would take minutes.
 * Instead the bench runs many probes side by side, each a queue of its own with one idle worker
 * (a `WorkerPool` of 1), and each probe enqueues its jobs one at a time at a random moment of
 * the worker's poll cycle. The probes' workers start spread over one interval, so their polls do
 * not arrive at the server together. Repetitions run side by side too, each its own set of probes.
 *
 * The figure per job is the time from calling `enqueue` to the handler's first line; the figure
 * per repetition is its p50/p95/p99; the table shows their median, min and max.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { NOOP_TYPE } from "../backlog.ts";
import { createBenchDatabase, warmPool } from "../db.ts";
import { sleep } from "../meter.ts";
import { openClient } from "../ours.ts";
import { progress } from "../progress.ts";
import type { LatencyCell } from "../results.ts";
import { percentile, summarize } from "../stats.ts";
import { type Client, WorkerPool } from "../../mod.ts";

/** The library's default poll interval (DESIGN.md: 5000 ms), measured by passing no option. */
const LIBRARY_DEFAULT_POLL_MS = 5_000;
/** Roughly how long the probing of one setting may take, beyond the start-up spread. */
const BUDGET_MS = 2_500;
/** A job that has not started after this long means something is broken. */
const STUCK_MS = 60_000;

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
 * Runs scenario 4 at the library's default poll interval and at `config.shortPollMs`.
 *
 * @param config The bench parameters.
 */
export async function runLatencyScenario(config: BenchConfig): Promise<LatencyCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "latency");
  const { client, sql } = await openClient(db.url, 20);
  const cells: LatencyCell[] = [];
  try {
    await warmPool(sql, 20);
    const settings: [string, number | undefined][] = [
      [`default poll (${LIBRARY_DEFAULT_POLL_MS} ms)`, undefined],
      [`short poll (${config.shortPollMs} ms)`, config.shortPollMs],
    ];
    for (const [setting, pollInterval] of settings) {
      const cell = { setting, ...await measureSetting(client, config, pollInterval) };
      cells.push(cell);
      progress(
        `  latency, ${setting}: p50 ${cell.p50.median.toFixed(1)} ms, ` +
          `p95 ${cell.p95.median.toFixed(1)} ms, p99 ${cell.p99.median.toFixed(1)} ms`,
      );
    }
  } finally {
    await sql.end();
    await db.drop();
  }
  return cells;
}
