/**
 * What a scenario left behind, read from its database: lost jobs, duplicated effects, leftover
 * jobs, and how long the workers took to commit again after each fault.
 *
 * @module
 */
import type pg from "pg";

/** The outcome of the jobs of one scenario. */
export interface JobOutcome {
  /** Jobs enqueued (committed enqueues only). */
  jobs: number;
  /** Enqueued jobs with neither an effect nor a row in gue_jobs or gue_failed_jobs. */
  lost: number;
  /** Jobs moved to gue_failed_jobs (dead-lettered): not lost, not done either. */
  failed: number;
  /** Committed effects beyond the first, over all jobs. */
  duplicated: number;
  /** Jobs still in gue_jobs. */
  leftover: number;
  /** Jobs with a committed effect. */
  done: number;
}

/**
 * Counts the outcome of the jobs whose ids are `enqueued`.
 *
 * @param db The scenario's database.
 * @param enqueued Ids of every job whose enqueue committed.
 * @returns The counts.
 */
export async function jobOutcome(db: pg.Pool, enqueued: string[]): Promise<JobOutcome> {
  const { rows: [r] } = await db.query<
    { done: string; duplicated: string; leftover: string; lost: string; failed: string }
  >(
    `with expected(id) as (select unnest($1::text[]))
     select
       (select count(*) from chaos_effects) as done,
       (select coalesce(sum(runs - 1), 0) from chaos_effects) as duplicated,
       (select count(*) from gue_jobs) as leftover,
       (select count(*) from gue_failed_jobs) as failed,
       (select count(*) from expected e
         where not exists (select 1 from chaos_effects f where f.job_id = e.id)
           and not exists (select 1 from gue_jobs j where j.job_id = e.id)
           and not exists (select 1 from gue_failed_jobs d where d.job_id = e.id)) as lost`,
    [enqueued],
  );
  return {
    jobs: enqueued.length,
    lost: Number(r.lost),
    failed: Number(r.failed),
    duplicated: Number(r.duplicated),
    leftover: Number(r.leftover),
    done: Number(r.done),
  };
}

/** How the workers came back after the faults. */
export interface Recovery {
  /** The longest time from a fault to the last worker's first commit after it, in ms. */
  worstMs: number | null;
  /** Worker slots (process × index) alive at the end that never committed after the last fault. */
  stuck: number;
}

/**
 * For each fault, the time until every worker slot alive at the end had committed once more.
 *
 * @param db The scenario's database.
 * @param faults When each fault ended (ms since the epoch; for a restart: when the server
 *   accepted connections again).
 * @param slots The worker slots alive at the end: pid and worker index, with the process's start.
 *   A slot answers for the faults after its process started, and for the last one before (the
 *   fault its process may have replaced a victim of); older faults are not its to recover from.
 * @returns The worst recovery time and the number of slots that never recovered.
 */
export async function recovery(
  db: pg.Pool,
  faults: number[],
  slots: { pid: number; index: number; startedAt: number }[],
): Promise<Recovery> {
  if (faults.length === 0 || slots.length === 0) return { worstMs: null, stuck: 0 };
  const { rows } = await db.query<{ pid: number; worker_index: number; at: Date }>(
    "select pid, worker_index, at from chaos_effects order by at",
  );
  const bySlot = new Map<string, number[]>();
  for (const r of rows) {
    const key = `${r.pid}/${r.worker_index}`;
    let list = bySlot.get(key);
    if (!list) bySlot.set(key, list = []);
    list.push(r.at.getTime());
  }
  let worst = 0;
  let stuck = 0;
  faults.forEach((fault, i) => {
    const last = i === faults.length - 1;
    const following = faults[i + 1] ?? Infinity;
    for (const { pid, index, startedAt } of slots) {
      if (following <= startedAt) continue;
      const next = bySlot.get(`${pid}/${index}`)?.find((t) => t >= fault);
      if (next === undefined) {
        if (last) stuck++;
        continue;
      }
      worst = Math.max(worst, next - fault);
    }
  });
  return { worstMs: worst, stuck };
}
