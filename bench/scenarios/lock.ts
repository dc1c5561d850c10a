/**
 * Scenarios 1 and 2: lock throughput under contention, and the limit it is measured against.
 *
 * For each backlog, strategy and worker count W, the library's `WorkerPool` and the raw cycle
 * (`limit.ts`) take turns, repetition by repetition, on the same table, so both see the same
 * server state seconds apart. Backlogs up to `drainMax` are filled fresh and drained completely,
 * timed from the first job to the last; larger ones are filled once, sampled over a fixed window
 * after a warm-up, and topped up and vacuumed after every run. pgbench runs the same cycle where
 * it is on PATH. gue v5's shipped priority SQL is measured at the largest backlog, in a database
 * with gue's schema only, to show what the library's index changes.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { refill, topUp } from "../backlog.ts";
import {
  GUE_SHIPPED_LOCK_SQL,
  GUE_SHIPPED_SCHEMA,
  lockSql,
  POLL_STRATEGIES,
  type PollStrategy,
  STRATEGY_LABEL,
} from "../cycle_sql.ts";
import { checkpoint, connect, createBenchDatabase, type Sql, warmPool } from "../db.ts";
import { startLockLoops, startPipelinedLockLoops } from "../limit.ts";
import type { Loops } from "../loops.ts";
import { sampleRate } from "../meter.ts";
import { openClient, startPool } from "../ours.ts";
import { runPgbench } from "../pgbench.ts";
import { progress } from "../progress.ts";
import type { LockCell } from "../results.ts";
import { summarize } from "../stats.ts";
import type { Client } from "../../mod.ts";

/** Longest a drain may take before the bench gives up on it. */
const DRAIN_TIMEOUT_MS = 120_000;
/** Jobs each pgbench run takes from a sampled backlog (it counts transactions, not time). */
const PGBENCH_SAMPLE_JOBS = 1_500;

interface Setup {
  config: BenchConfig;
  client: Client;
  sql: Sql;
}

/**
 * One measurement: start the loops, take a drain or a window, stop them, restore the backlog.
 * The backlog is prepared before (drain: fresh) or after (window: topped up), never inside.
 */
async function measure(
  sql: Sql,
  config: BenchConfig,
  backlog: number,
  start: () => Loops,
): Promise<number> {
  const drain = backlog <= config.drainMax;
  if (drain) {
    await refill(sql, backlog);
  }
  const loops = start();
  let rate: number;
  try {
    if (drain) {
      await Promise.race([loops.meter.reached(backlog, DRAIN_TIMEOUT_MS), loops.done]);
      rate = loops.meter.drainRate();
    } else {
      rate = await sampleRate(loops.meter, config.warmupMs, config.windowMs);
    }
  } finally {
    await loops.stop();
  }
  if (!drain) await topUp(sql, backlog);
  return rate;
}

/** The systems scenarios 1 and 2 alternate between, in the order they run. */
const SYSTEMS = ["ours", "limit", "limit-pipelined"] as const;
type DriverSystem = typeof SYSTEMS[number];

function starter(
  s: Setup,
  system: DriverSystem,
  strategy: PollStrategy,
  workers: number,
  drain: boolean,
) {
  switch (system) {
    case "ours":
      return () => startPool(s.client, workers, strategy);
    case "limit":
      return () => startLockLoops(s.sql, workers, lockSql(strategy), drain);
    case "limit-pipelined":
      return () => startPipelinedLockLoops(s.sql, workers, lockSql(strategy), drain);
  }
}

/** Ours and both limits, alternating repetition by repetition. */
async function oursAndLimit(s: Setup, backlog: number, strategy: PollStrategy, workers: number) {
  const drain = backlog <= s.config.drainMax;
  const samples: Record<DriverSystem, number[]> = {
    ours: [],
    limit: [],
    "limit-pipelined": [],
  };
  for (let rep = 0; rep < s.config.reps; rep++) {
    for (const system of SYSTEMS) {
      samples[system].push(
        await measure(s.sql, s.config, backlog, starter(s, system, strategy, workers, drain)),
      );
    }
  }
  return SYSTEMS.map((system): LockCell => ({
    system,
    strategy,
    backlog,
    workers,
    mode: drain ? "drain" : "window",
    jobsPerSec: summarize(samples[system]),
  }));
}

async function pgbenchCells(s: Setup, url: string, backlog: number, strategy: PollStrategy) {
  const drain = backlog <= s.config.drainMax;
  const cells: LockCell[] = [];
  for (const workers of s.config.workers) {
    const samples: number[] = [];
    for (let rep = 0; rep < s.config.reps; rep++) {
      if (drain) await refill(s.sql, backlog);
      // Every transaction must find a job (pgbench's \gset wants exactly one row), so a drain
      // takes at most the backlog; a sample takes a fixed number of jobs from the large backlog.
      const perClient = drain
        ? Math.max(1, Math.floor(backlog / workers))
        : Math.ceil(PGBENCH_SAMPLE_JOBS / workers);
      samples.push(await runPgbench(url, strategy, workers, perClient));
      if (!drain) await topUp(s.sql, backlog);
    }
    cells.push({
      system: "pgbench",
      strategy,
      backlog,
      workers,
      mode: drain ? "drain" : "window",
      jobsPerSec: summarize(samples),
    });
  }
  return cells;
}

/** gue v5's shipped SQL in a database with only gue's schema: its index cannot serve the sort. */
async function gueShipped(config: BenchConfig, backlog: number): Promise<LockCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "gue_v5");
  const maxW = Math.max(...config.referenceWorkers);
  const sql = connect(db.url, maxW + 2);
  try {
    await sql.unsafe(GUE_SHIPPED_SCHEMA);
    await warmPool(sql, maxW);
    await refill(sql, backlog);
    await checkpoint(sql);
    const cells: LockCell[] = [];
    // Each lock sorts the whole backlog, so few jobs finish: a longer window keeps the count
    // from being a handful.
    const windowMs = Math.max(config.windowMs, 1_000);
    for (const workers of config.referenceWorkers) {
      const samples: number[] = [];
      for (let rep = 0; rep < config.reps; rep++) {
        const loops = startLockLoops(sql, workers, GUE_SHIPPED_LOCK_SQL, false);
        try {
          samples.push(await sampleRate(loops.meter, config.warmupMs, windowMs));
        } finally {
          await loops.stop();
        }
        await topUp(sql, backlog);
      }
      const jobsPerSec = summarize(samples);
      progress(`  gue v5 shipped SQL, backlog ${backlog}, W=${workers}: ${fmt(jobsPerSec.median)}`);
      cells.push({
        system: "gue-v5",
        strategy: "OrderByPriority",
        backlog,
        workers,
        mode: "window",
        jobsPerSec,
      });
    }
    return cells;
  } finally {
    await sql.end();
    await db.drop();
  }
}

const fmt = (n: number) => `${Math.round(n)} jobs/s`;

/**
 * Runs scenarios 1 and 2.
 *
 * @param config The bench parameters.
 * @param withPgbench Whether pgbench is available and wanted.
 * @returns Every figure: ours, the limit, pgbench and gue v5's shipped SQL.
 */
export async function runLockScenario(
  config: BenchConfig,
  withPgbench: boolean,
): Promise<LockCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "lock");
  const maxW = Math.max(...config.workers);
  const { client, sql } = await openClient(db.url, maxW + 5);
  const setup: Setup = { config, client, sql };
  const cells: LockCell[] = [];
  try {
    await warmPool(sql, maxW + 2);
    // One unrecorded round of each system first: JIT, prepared statements and the server's caches
    // are then warm for the first recorded figure as for the last.
    for (const system of SYSTEMS) {
      await measure(
        sql,
        { ...config, drainMax: 2_000 },
        2_000,
        starter(setup, system, "OrderByPriority", 4, true),
      );
    }
    for (const backlog of config.backlogs) {
      const drain = backlog <= config.drainMax;
      if (!drain) {
        await refill(sql, backlog);
        await checkpoint(sql);
      }
      for (const strategy of POLL_STRATEGIES.filter((p) => config.strategies.includes(p))) {
        for (const workers of config.workers) {
          const trio = await oursAndLimit(setup, backlog, strategy, workers);
          cells.push(...trio);
          const [ours, limit, pipelined] = trio.map((c) => c.jobsPerSec.median);
          progress(
            `  backlog ${backlog}, ${STRATEGY_LABEL[strategy]}, W=${workers}: ours ${fmt(ours)}, ` +
              `limit awaited ${fmt(limit)} (${(ours / limit).toFixed(2)}), ` +
              `pipelined ${fmt(pipelined)} (${(ours / pipelined).toFixed(2)})`,
          );
        }
      }
      if (withPgbench && config.strategies.includes("OrderByPriority")) {
        const pg = await pgbenchCells(setup, db.url, backlog, "OrderByPriority");
        cells.push(...pg);
        progress(
          `  pgbench, backlog ${backlog}: ` +
            pg.map((c) => `W=${c.workers} ${fmt(c.jobsPerSec.median)}`).join(", "),
        );
      }
    }
  } finally {
    await sql.end();
    await db.drop();
  }
  const largest = Math.max(...config.backlogs);
  if (config.referenceWorkers.length) cells.push(...await gueShipped(config, largest));
  return cells;
}
