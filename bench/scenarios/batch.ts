/**
 * The batched drain: ours next to graphile-worker and pg-boss with their batching on (the peers'
 * side runs in `bench/peers/`, part `batch`), at W = `--batch-workers` on the largest backlog.
 *
 * Ours runs twice at each W: the library's `WorkerPool` as it ships, one job per transaction,
 * and the same pool in batch mode (`batch: { size: K }`, K = `--batch-fetch`, the peers' batch).
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { refill, topUp } from "../backlog.ts";
import { checkpoint, createBenchDatabase, warmPool } from "../db.ts";
import { sampleRate } from "../meter.ts";
import { openClient, startPool } from "../ours.ts";
import { progress } from "../progress.ts";
import type { BatchCell } from "../results.ts";
import { summarize } from "../stats.ts";

/** Longest a drain may take before the bench gives up on it. */
const DRAIN_TIMEOUT_MS = 120_000;

/**
 * Runs our side of the batched drain.
 *
 * @param config The bench parameters.
 * @returns One figure per worker count.
 */
export async function runBatchScenario(config: BenchConfig): Promise<BatchCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "batch");
  const maxW = Math.max(...config.batchWorkers);
  const backlog = Math.max(...config.backlogs);
  const drain = backlog <= config.drainMax;
  const { client, sql } = await openClient(db.url, maxW + 5);
  const cells: BatchCell[] = [];
  try {
    await warmPool(sql, maxW + 2);
    if (!drain) {
      await refill(sql, backlog);
      await checkpoint(sql);
    }
    const modes = [
      { system: "ours", batch: undefined, name: "one job a transaction" },
      { system: "ours-batch", batch: { size: config.batchFetch }, name: "batch mode" },
    ] as const;
    for (const workers of config.batchWorkers) {
      for (const mode of modes) {
        const samples: number[] = [];
        for (let rep = 0; rep < config.reps; rep++) {
          if (drain) await refill(sql, backlog);
          const loops = startPool(client, workers, "OrderByPriority", undefined, mode.batch);
          try {
            if (drain) {
              await Promise.race([loops.meter.reached(backlog, DRAIN_TIMEOUT_MS), loops.done]);
              samples.push(loops.meter.drainRate());
            } else {
              samples.push(await sampleRate(loops.meter, config.warmupMs, config.windowMs));
            }
          } finally {
            await loops.stop();
          }
          if (!drain) await topUp(sql, backlog);
        }
        const cell: BatchCell = {
          system: mode.system,
          backlog,
          workers,
          mode: drain ? "drain" : "window",
          jobsPerSec: summarize(samples),
        };
        cells.push(cell);
        progress(
          `  batch drain, ours (${mode.name}), W=${workers}: ` +
            `${Math.round(cell.jobsPerSec.median)} jobs/s`,
        );
      }
    }
  } finally {
    await sql.end();
    await db.drop();
  }
  return cells;
}
