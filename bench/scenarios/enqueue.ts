/**
 * Scenario 3: enqueue throughput. P producers call `enqueue` (one job a call) or `enqueueBatch`
 * (100 or 1,000 jobs a call) as fast as they can; the raw INSERT limit runs the library's INSERT
 * text through postgres.js with ids from a counter. Library and limit alternate repetition by
 * repetition; the table is emptied before every run so each starts from the same size.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { resetTable } from "../backlog.ts";
import { createBenchDatabase, warmPool } from "../db.ts";
import { startInsertLoops } from "../limit.ts";
import { sampleRate } from "../meter.ts";
import { openClient, startEnqueueLoops } from "../ours.ts";
import { progress } from "../progress.ts";
import type { EnqueueCell } from "../results.ts";
import { summarize } from "../stats.ts";

/**
 * Runs scenario 3.
 *
 * @param config The bench parameters.
 * @returns Ours and the limit for single enqueue per producer count, and for each batch size.
 */
export async function runEnqueueScenario(config: BenchConfig): Promise<EnqueueCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "enqueue");
  const maxP = Math.max(...config.producers, ...config.batchProducers);
  const { client, sql } = await openClient(db.url, maxP + 5);
  const runs: { batchSize: number; producers: number }[] = [
    ...config.producers.map((producers) => ({ batchSize: 1, producers })),
    ...config.batchSizes.flatMap((batchSize) =>
      config.batchProducers.map((producers) => ({ batchSize, producers }))
    ),
  ];
  const cells: EnqueueCell[] = [];
  try {
    await warmPool(sql, maxP + 2);
    const once = async (system: "ours" | "limit", batchSize: number, producers: number) => {
      await resetTable(sql);
      const loops = system === "ours"
        ? startEnqueueLoops(client, producers, batchSize)
        : startInsertLoops(sql, producers, batchSize);
      try {
        return await sampleRate(loops.meter, config.warmupMs, config.windowMs);
      } finally {
        await loops.stop();
      }
    };
    // One unrecorded run of each first, so the JIT is warm for the first recorded figure; each
    // window's own warm-up covers the rest (a new statement's first PARSE, the pool).
    await once("ours", 1, 1);
    await once("limit", 1, 1);
    for (const { batchSize, producers } of runs) {
      const samples = { ours: [] as number[], limit: [] as number[] };
      for (let rep = 0; rep < config.reps; rep++) {
        samples.ours.push(await once("ours", batchSize, producers));
        samples.limit.push(await once("limit", batchSize, producers));
      }
      const kind = batchSize === 1 ? "single" : "batch";
      for (const system of ["ours", "limit"] as const) {
        cells.push({ system, kind, batchSize, producers, jobsPerSec: summarize(samples[system]) });
      }
      const [ours, limit] = cells.slice(-2).map((c) => c.jobsPerSec.median);
      progress(
        `  ${kind === "single" ? "enqueue" : `enqueueBatch(${batchSize})`}, P=${producers}: ` +
          `ours ${Math.round(ours)} jobs/s, limit ${Math.round(limit)} jobs/s (${
            (ours / limit).toFixed(2)
          })`,
      );
    }
  } finally {
    await sql.end();
    await db.drop();
  }
  return cells;
}
