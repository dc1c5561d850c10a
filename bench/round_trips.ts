/**
 * Round trips per job: how many times a worker sends something to the server and waits for the
 * answer before the next job, for ours and for both limits.
 *
 * Counted, not inferred: the bench opens a postgres.js pool whose sockets count their writes.
 * postgres.js gathers every message queued in one turn of the event loop into one write, so a
 * worker that works jobs one after another makes one write per round trip (BEGIN, the lock, the
 * DELETE and the COMMIT each awaited make 4; sent back to back in pairs, 2; a draining
 * `Worker.run()`, which sends the next poll with the last job's commit, 1). Statements are
 * counted with postgres.js's `debug` hook. Both are divided by the jobs done, one worker, after a
 * warm-up, so a statement's first PARSE does not count. For `run()` everything it sends from
 * start to stop counts (its first poll, the last commit, which carries no poll since the worker
 * is stopping then, and the listener connection's start-up and LISTEN).
 *
 * @module
 */
import net from "node:net";
import postgres from "postgres";
import { Worker } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { BENCH_QUEUE, NOOP_TYPE, refill, resetTable } from "./backlog.ts";
import { lockSql } from "./cycle_sql.ts";
import { BENCH_APP_NAME, type Sql } from "./db.ts";
import { startLockLoops, startPipelinedLockLoops } from "./limit.ts";
import type { Loops } from "./loops.ts";
import { Client } from "../mod.ts";

/** What one system costs per job, counted over a drain. */
export interface RoundTripCell {
  /** `ours` (`workOne()`), `ours-run` (a draining `run()`), `limit` (awaited) or `limit-pipelined`. */
  system: string;
  /** Jobs the count was taken over. */
  jobs: number;
  /** Socket writes per job: round trips, for one worker working jobs one after another. */
  roundTripsPerJob: number;
  /** Statements per job (postgres.js `debug` calls). */
  statementsPerJob: number;
  /** Round trips of a poll that finds no job. */
  roundTripsPerEmptyPoll: number;
}

/** A postgres.js pool that counts what it sends. */
export interface CountingPool {
  sql: Sql;
  /** Socket writes so far (connection start-up included: take differences). */
  writes(): number;
  /** Statements built so far. */
  statements(): number;
}

/**
 * Opens a postgres.js pool whose sockets count their writes and whose `debug` hook counts
 * statements.
 *
 * @param url The database.
 * @param max Pool size.
 */
export function connectCounting(url: string, max: number): CountingPool {
  const u = new URL(url);
  let writes = 0;
  let statements = 0;
  // `socket` is a postgres.js option its type declarations leave out.
  const options = {
    max,
    onnotice: () => {},
    idle_timeout: 0,
    connection: { application_name: BENCH_APP_NAME },
    debug: () => void statements++,
    // postgres.js takes an already connected socket from this option.
    socket: () =>
      new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect(Number(u.port || 5432), u.hostname || "localhost");
        const write = socket.write;
        // deno-lint-ignore no-explicit-any
        socket.write = function (this: net.Socket, ...args: any[]) {
          writes++;
          return write.apply(this, args as Parameters<typeof write>);
        } as typeof socket.write;
        socket.once("connect", () => resolve(socket));
        socket.once("error", reject);
      }),
  };
  const sql = postgres(url, options as postgres.Options<Record<string, never>>);
  return { sql, writes: () => writes, statements: () => statements };
}

async function count(
  pool: CountingPool,
  jobs: number,
  work: () => Promise<void>,
): Promise<{ roundTrips: number; statements: number }> {
  const w0 = pool.writes();
  const s0 = pool.statements();
  await work();
  return {
    roundTrips: (pool.writes() - w0) / jobs,
    statements: (pool.statements() - s0) / jobs,
  };
}

/** Runs a worker until it has worked `n` jobs; the last job's handler stops it. */
async function drainRun(client: Client, n: number): Promise<void> {
  const stop = new AbortController();
  let done = 0;
  const worker = new Worker(client, {
    [NOOP_TYPE]: () => {
      if (++done === n) stop.abort();
    },
  }, { queue: BENCH_QUEUE, pollInterval: 60_000 });
  await worker.run(stop.signal);
}

async function drainLoops(start: () => Loops): Promise<void> {
  const loops = start();
  await loops.done;
}

/**
 * Counts round trips and statements per job, and round trips per empty poll, for ours (a
 * `Worker`'s `workOne()`, and a draining `run()`), the awaited limit and the pipelined limit,
 * with one worker each.
 *
 * @param url The scenario's database (with the library's schema applied).
 * @param admin A pool on it, to fill the backlog.
 * @param jobs Jobs per count.
 */
export async function measureRoundTrips(
  url: string,
  admin: Sql,
  jobs = 500,
): Promise<RoundTripCell[]> {
  const pool = connectCounting(url, 3);
  const lock = lockSql("OrderByPriority");
  const cells: RoundTripCell[] = [];
  try {
    const client = new Client(postgresjs(pool.sql));
    const worker = new Worker(client, { [NOOP_TYPE]: () => {} }, { queue: BENCH_QUEUE });
    const polls = 50;
    const emptyPolls = async () => {
      for (let i = 0; i < polls; i++) await worker.workOne();
    };
    const systems: Record<
      string,
      { job: (n: number) => Promise<void>; empty: () => Promise<void> }
    > = {
      ours: {
        job: async (n) => {
          for (let i = 0; i < n; i++) await worker.workOne();
        },
        empty: emptyPolls,
      },
      // A poll that finds nothing is the same for run(): workOne()'s.
      "ours-run": { job: (n) => drainRun(client, n), empty: emptyPolls },
      limit: {
        job: () => drainLoops(() => startLockLoops(pool.sql, 1, lock, true)),
        empty: async () => {
          for (let i = 0; i < polls; i++) {
            await drainLoops(() => startLockLoops(pool.sql, 1, lock, true));
          }
        },
      },
      "limit-pipelined": {
        job: () => drainLoops(() => startPipelinedLockLoops(pool.sql, 1, lock, true)),
        empty: async () => {
          for (let i = 0; i < polls; i++) {
            await drainLoops(() => startPipelinedLockLoops(pool.sql, 1, lock, true));
          }
        },
      },
    };
    for (const [system, run] of Object.entries(systems)) {
      // Warm-up: prepares the statements on the connection, so their PARSE is not counted.
      await refill(admin, 20);
      await run.job(20);
      await refill(admin, jobs);
      const full = await count(pool, jobs, () => run.job(jobs));
      await resetTable(admin);
      const empty = await count(pool, polls, run.empty);
      cells.push({
        system,
        jobs,
        roundTripsPerJob: full.roundTrips,
        statementsPerJob: full.statements,
        roundTripsPerEmptyPoll: empty.roundTrips,
      });
    }
  } finally {
    await pool.sql.end();
  }
  return cells;
}
