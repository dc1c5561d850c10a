/**
 * The limits: the library's SQL cycle issued straight through postgres.js, no library code in
 * between, in two shapes.
 *
 * A lock loop holds one connection (as a gue worker holds one while it works a job) and repeats
 * BEGIN, lock one row with SKIP LOCKED, DELETE it, COMMIT. Statements are prepared, as
 * postgres.js's own tagged templates are.
 *
 * - **awaited** (`startLockLoops`): each statement awaited before the next, 4 round trips a job.
 * - **pipelined** (`startPipelinedLockLoops`): BEGIN and the lock sent together, then DELETE and
 *   COMMIT sent together, 2 round trips a job: the least a worker that holds its transaction open
 *   while the handler runs can do, and so the best this driver can do with this SQL.
 *
 * The library divided by a limit is the share of that limit the library reaches.
 *
 * @module
 */
import type { Sql } from "./db.ts";
import { BENCH_QUEUE, NOOP_TYPE } from "./backlog.ts";
import { DELETE_SQL, INSERT_BATCH_SQL, insertBatchParams, insertSql } from "./cycle_sql.ts";
import { type Loops, startLoops } from "./loops.ts";
import { sleep } from "./meter.ts";

/**
 * Starts `workers` lock loops, each on a connection of its own.
 *
 * @param sql A pool with at least `workers` connections.
 * @param workers How many loops.
 * @param lockText The lock statement (`$1` queue, `$2` now).
 * @param untilEmpty End a loop when the lock finds no job (a drain); otherwise retry after 1 ms.
 */
export function startLockLoops(
  sql: Sql,
  workers: number,
  lockText: string,
  untilEmpty: boolean,
): Loops {
  return startLoops(workers, async (stopped, meter) => {
    const conn = await sql.reserve();
    try {
      while (!stopped()) {
        await conn.unsafe("BEGIN");
        const rows = await conn.unsafe(lockText, [BENCH_QUEUE, new Date()], { prepare: true });
        if (rows.length === 0) {
          await conn.unsafe("ROLLBACK");
          if (untilEmpty) return;
          await sleep(1);
          continue;
        }
        await conn.unsafe(DELETE_SQL, [rows[0].job_id], { prepare: true });
        await conn.unsafe("COMMIT");
        meter.mark();
      }
    } finally {
      conn.release();
    }
  });
}

/**
 * Starts `workers` lock loops that pipeline: BEGIN and the lock statement go out back to back and
 * are answered together, then DELETE and COMMIT likewise (postgres.js sends queries started on one
 * connection without waiting for the previous answer). 2 round trips a job, 2 for an empty poll.
 *
 * @param sql A pool with at least `workers` connections.
 * @param workers How many loops.
 * @param lockText The lock statement (`$1` queue, `$2` now).
 * @param untilEmpty End a loop when the lock finds no job (a drain); otherwise retry after 1 ms.
 */
export function startPipelinedLockLoops(
  sql: Sql,
  workers: number,
  lockText: string,
  untilEmpty: boolean,
): Loops {
  return startLoops(workers, async (stopped, meter) => {
    const conn = await sql.reserve();
    try {
      while (!stopped()) {
        // execute() sends now; a postgres.js query otherwise waits for its first then().
        const begin = conn.unsafe("BEGIN").execute();
        const lock = conn.unsafe(lockText, [BENCH_QUEUE, new Date()], { prepare: true }).execute();
        await begin;
        const rows = await lock;
        if (rows.length === 0) {
          await conn.unsafe("ROLLBACK");
          if (untilEmpty) return;
          await sleep(1);
          continue;
        }
        const del = conn.unsafe(DELETE_SQL, [rows[0].job_id], { prepare: true }).execute();
        const commit = conn.unsafe("COMMIT").execute();
        await del;
        await commit;
        meter.mark();
      }
    } finally {
      conn.release();
    }
  });
}

const ARGS = new Uint8Array([0x7b, 0x7d]); // "{}", what the library stores for `args: {}`

/**
 * Starts `producers` loops that each insert `batchSize` jobs per statement with the library's
 * INSERT texts (gue's eight-parameter INSERT for one job, the JSON-bound batch INSERT for more),
 * until stopped. Ids come from a counter: unique, and as cheap as an id can be.
 *
 * @param sql A pool with at least `producers` connections.
 * @param producers How many concurrent loops.
 * @param batchSize Jobs per INSERT.
 */
export function startInsertLoops(sql: Sql, producers: number, batchSize: number): Loops {
  const prefix = Math.floor(Math.random() * 0xfffffffff).toString(16).toUpperCase().padStart(
    9,
    "0",
  );
  let next = 0;
  const nextId = () => "1" + prefix + (next++).toString(16).toUpperCase().padStart(16, "0");
  return startLoops(producers, async (stopped, meter) => {
    while (!stopped()) {
      const now = new Date();
      if (batchSize === 1) {
        await sql.unsafe(insertSql(1), [nextId(), BENCH_QUEUE, 0, now, NOOP_TYPE, ARGS, now, now], {
          prepare: true,
        });
      } else {
        const jobs = Array.from({ length: batchSize }, () => ({
          id: nextId(),
          queue: BENCH_QUEUE,
          priority: 0,
          runAt: now,
          type: NOOP_TYPE,
          args: ARGS,
          errorCount: 0,
          lastError: null,
          createdAt: now,
        }));
        // deno-lint-ignore no-explicit-any
        await sql.unsafe(INSERT_BATCH_SQL, insertBatchParams(jobs) as any[], { prepare: true });
      }
      meter.mark(batchSize);
    }
  });
}
