/**
 * Memory: the resident set size of this process while a `WorkerPool` of `--memory-workers`
 * (32) drains `--memory-jobs` (200,000) jobs, sampled once a second. A pool that leaks per job
 * (a listener, a timer, a map entry) grows from start to end; one that does not stays flat once
 * its connections and prepared statements exist.
 *
 * "start" is the first sample once a tenth of the jobs is done (connections open, code compiled,
 * statements prepared: the first thousands of jobs grow the process for those reasons), "end"
 * the last sample before the pool stops; the difference is what the rest of the drain added.
 * Where the runtime exposes `gc()` (`deno run --v8-flags=--expose-gc`) each sample collects
 * first, so the heap figures count live objects only.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { refill } from "../backlog.ts";
import { checkpoint, createBenchDatabase, warmPool } from "../db.ts";
import { sleep } from "../meter.ts";
import { openClient, startPool } from "../ours.ts";
import { progress } from "../progress.ts";
import type { MemoryCell } from "../results.ts";

/** Longest the drain may take; past it the figures cover the jobs done so far. */
const TIMEOUT_MS = 1_800_000;

const mib = (bytes: number) => bytes / 2 ** 20;

/**
 * Runs the memory scenario once (a drain of this size is long, and its figure is not noisy).
 *
 * @param config The bench parameters.
 * @returns RSS and heap at the start, at the end and at most, and the drain's rate.
 */
export async function runMemoryScenario(config: BenchConfig): Promise<MemoryCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "memory");
  const workers = config.memoryWorkers;
  const jobs = config.memoryJobs;
  const { client, sql } = await openClient(db.url, workers + 5);
  try {
    await warmPool(sql, workers + 2);
    await refill(sql, jobs);
    await checkpoint(sql);
    const samples: { rss: number; heap: number; done: number }[] = [];
    const gc = (globalThis as { gc?: () => void }).gc;
    const sample = (done: number) => {
      gc?.();
      const m = Deno.memoryUsage();
      samples.push({ rss: m.rss, heap: m.heapUsed, done });
    };
    const loops = startPool(client, workers, "OrderByPriority");
    try {
      await Promise.race([
        loops.meter.reached(Math.min(jobs, workers * 4), TIMEOUT_MS),
        loops.done,
      ]);
      sample(loops.meter.count);
      const deadline = performance.now() + TIMEOUT_MS;
      while (loops.meter.count < jobs && performance.now() < deadline) {
        await Promise.race([sleep(1_000), loops.meter.reached(jobs, TIMEOUT_MS)]);
        sample(loops.meter.count);
        if (samples.length % 10 === 0) {
          const last = samples[samples.length - 1];
          progress(`  ${last.done} jobs, RSS ${mib(last.rss).toFixed(1)} MiB`);
        }
      }
    } finally {
      await loops.stop();
    }
    if (loops.meter.count < jobs) {
      progress(
        `  memory: only ${loops.meter.count} of ${jobs} jobs done in ${TIMEOUT_MS / 1000} s`,
      );
    }
    const start = samples.find((s) => s.done >= jobs / 10) ?? samples[0];
    const end = samples[samples.length - 1];
    const cell: MemoryCell = {
      workers,
      jobs: loops.meter.count,
      samples: samples.length,
      rssStartMiB: mib(start.rss),
      rssEndMiB: mib(end.rss),
      rssMaxMiB: mib(Math.max(...samples.map((s) => s.rss))),
      heapStartMiB: mib(start.heap),
      heapEndMiB: mib(end.heap),
      jobsPerSec: loops.meter.drainRate(),
    };
    progress(
      `  memory, W=${workers}, ${jobs} jobs: RSS ${cell.rssStartMiB.toFixed(1)} → ` +
        `${cell.rssEndMiB.toFixed(1)} MiB (max ${cell.rssMaxMiB.toFixed(1)}), ` +
        `heap ${cell.heapStartMiB.toFixed(1)} → ${cell.heapEndMiB.toFixed(1)} MiB, ` +
        `${Math.round(cell.jobsPerSec)} jobs/s`,
    );
    return [cell];
  } finally {
    await sql.end();
    await db.drop();
  }
}
