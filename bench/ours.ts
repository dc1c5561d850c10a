/**
 * The library under test, driven the way a user drives it: a `Client` on the postgresjs adapter,
 * a `WorkerPool` of W workers with a no-op handler, and producers calling `enqueue` or
 * `enqueueBatch`.
 *
 * @module
 */
import { type BatchOptions, Client, WorkerPool } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { BENCH_QUEUE, NOOP_TYPE } from "./backlog.ts";
import type { PollStrategy } from "./cycle_sql.ts";
import { connect, type Sql } from "./db.ts";
import { type Loops, startLoops } from "./loops.ts";
import { Meter } from "./meter.ts";

/** A client and the postgres.js pool under it (the bench warms and closes the pool itself). */
export interface OurClient {
  client: Client;
  sql: Sql;
}

/**
 * Opens a client on a postgres.js pool of `max` connections and applies the library's migrations.
 *
 * @param url The scenario's database.
 * @param max Pool size: the most workers or producers used, plus a few.
 */
export async function openClient(url: string, max: number): Promise<OurClient> {
  const sql = connect(url, max);
  const client = new Client(postgresjs(sql));
  await client.migrate();
  return { client, sql };
}

/**
 * Starts a `WorkerPool` of `workers` on the bench queue; every job it works is counted at the
 * start of its (no-op) handler.
 *
 * @param client The client.
 * @param workers Pool size.
 * @param pollStrategy The library option.
 * @param pollInterval The library option; omitted means the library default.
 * @param batch The library's batch mode; omitted means one job a transaction.
 */
export function startPool(
  client: Client,
  workers: number,
  pollStrategy: PollStrategy,
  pollInterval?: number,
  batch?: BatchOptions,
): Loops {
  const meter = new Meter();
  const pool = new WorkerPool(client, { [NOOP_TYPE]: () => meter.mark() }, workers, {
    queue: BENCH_QUEUE,
    pollStrategy,
    ...(pollInterval === undefined ? {} : { pollInterval }),
    ...(batch === undefined ? {} : { batch }),
  });
  const stop = new AbortController();
  const done = pool.run(stop.signal);
  done.catch(() => {});
  return {
    meter,
    done,
    stop() {
      stop.abort();
      return done;
    },
  };
}

/**
 * Starts `producers` loops calling `enqueue` (batchSize 1) or `enqueueBatch` until stopped.
 *
 * @param client The client.
 * @param producers Concurrent callers.
 * @param batchSize 1 for `enqueue`, more for `enqueueBatch`.
 */
export function startEnqueueLoops(client: Client, producers: number, batchSize: number): Loops {
  const job = { type: NOOP_TYPE, queue: BENCH_QUEUE, args: {} };
  const batch = Array.from({ length: batchSize }, () => job);
  return startLoops(producers, async (stopped, meter) => {
    while (!stopped()) {
      if (batchSize === 1) await client.enqueue(job);
      else await client.enqueueBatch(batch);
      meter.mark(batchSize);
    }
  });
}
