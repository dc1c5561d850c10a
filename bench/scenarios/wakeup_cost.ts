/**
 * What waking workers with LISTEN/NOTIFY costs: enqueue throughput with it on and off (a NOTIFY
 * takes a database-wide lock at commit, so notifying on every enqueue would cap throughput), and
 * the statements an idle worker sends per second (wake-up must not make idle workers busier).
 *
 * "On" is a client that listens and notifies, with an idle pool on another queue so its LISTEN
 * connection is open and receives every notification; "off" is a client with both turned off,
 * as the library behaved before. Runs alternate repetition by repetition, and the ratio is the
 * median of each repetition's on over off.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { BENCH_QUEUE, NOOP_TYPE, resetTable } from "../backlog.ts";
import { connect, createBenchDatabase, type Sql, warmPool } from "../db.ts";
import { sampleRate, sleep } from "../meter.ts";
import { startEnqueueLoops } from "../ours.ts";
import { progress } from "../progress.ts";
import { summarize, type Summary } from "../stats.ts";
import { postgresjs } from "../../src/adapters/postgresjs.ts";
import type { ConnPool, Tx } from "../../src/adapter.ts";
import { Client, type ClientOptions, WorkerPool } from "../../mod.ts";

/** Enqueue throughput at one producer count, wake-up on and off. */
export interface WakeupEnqueueCell {
  producers: number;
  on: Summary;
  off: Summary;
  /** On over off, per repetition (the two ran back to back). */
  ratio: Summary;
}

/** Statements per second per idle worker. */
export interface IdleCostCell {
  wakeup: "on" | "off";
  workers: number;
  pollIntervalMs: number;
  statementsPerSecPerWorker: Summary;
}

/** What the scenario measured. */
export interface WakeupCost {
  enqueue: WakeupEnqueueCell[];
  idle: IdleCostCell[];
}

/**
 * At least this many repetitions and this long a window for the enqueue rates: the ratio is
 * a few percent either way, and 300 ms windows on a 2-core machine move by 20 %.
 */
const ENQUEUE_REPS = 11;
const ENQUEUE_WINDOW_MS = 1_000;

const IDLE_WORKERS = 8;
const IDLE_POLL_MS = 1_000;
const IDLE_WINDOW_MS = 5_000;

/** The options that turn wake-up on or off. */
function wakeupOptions(on: boolean): ClientOptions {
  return { listen: on, notify: on };
}

/** Wraps a pool so every statement sent through it (BEGIN, COMMIT and ROLLBACK too) is counted. */
function countingPool(pool: ConnPool): { pool: ConnPool; statements: () => number } {
  let n = 0;
  const countTx = (tx: Tx): Tx => ({
    query: (text, params) => (n++, tx.query(text, params)),
    commit: () => (n++, tx.commit()),
    rollback: () => (n++, tx.rollback()),
  });
  const counted: ConnPool = {
    name: pool.name,
    capabilities: pool.capabilities,
    query: (text: string, params?: unknown[]) => (n++, pool.query(text, params)),
    begin: async () => (n++, countTx(await pool.begin())),
    close: () => pool.close(),
    // LISTEN runs on a connection of its own: not an idle worker's statements.
    ...(pool.listen ? { listen: pool.listen.bind(pool) } : {}),
  };
  return { pool: counted, statements: () => n };
}

async function openWakeupClient(sql: Sql, on: boolean, pool?: ConnPool): Promise<Client> {
  const client = new Client(pool ?? postgresjs(sql), wakeupOptions(on));
  await client.migrate();
  return client;
}

async function measureEnqueue(config: BenchConfig, sql: Sql): Promise<WakeupEnqueueCell[]> {
  const clients = {
    on: await openWakeupClient(sql, true),
    off: await openWakeupClient(sql, false),
  };
  // Keeps the "on" client's LISTEN connection open: its notifications are received and dropped.
  const stop = new AbortController();
  const listening = new WorkerPool(clients.on, { [NOOP_TYPE]: () => {} }, 1, {
    queue: "wakeup_cost_idle",
  }).run(stop.signal);
  const cells: WakeupEnqueueCell[] = [];
  try {
    await sleep(200);
    const once = async (mode: "on" | "off", producers: number) => {
      await resetTable(sql);
      const loops = startEnqueueLoops(clients[mode], producers, 1);
      try {
        return await sampleRate(
          loops.meter,
          config.warmupMs,
          Math.max(config.windowMs, ENQUEUE_WINDOW_MS),
        );
      } finally {
        await loops.stop();
      }
    };
    await once("on", 1);
    await once("off", 1);
    for (const producers of config.producers) {
      const samples = { on: [] as number[], off: [] as number[] };
      const ratios: number[] = [];
      for (let rep = 0; rep < Math.max(config.reps, ENQUEUE_REPS); rep++) {
        // Alternate which goes first, so a drift of the machine favours neither.
        const on = rep % 2 === 0 ? await once("on", producers) : undefined;
        const off = await once("off", producers);
        const onRate = on ?? await once("on", producers);
        samples.on.push(onRate);
        samples.off.push(off);
        ratios.push(onRate / off);
      }
      const cell = {
        producers,
        on: summarize(samples.on),
        off: summarize(samples.off),
        ratio: summarize(ratios),
      };
      cells.push(cell);
      progress(
        `  enqueue, P=${producers}: wake-up on ${Math.round(cell.on.median)} jobs/s, off ${
          Math.round(cell.off.median)
        } jobs/s (${cell.ratio.median.toFixed(2)})`,
      );
    }
  } finally {
    stop.abort();
    await listening;
  }
  return cells;
}

async function measureIdle(config: BenchConfig, sql: Sql): Promise<IdleCostCell[]> {
  const samples = { on: [] as number[], off: [] as number[] };
  await resetTable(sql);
  for (let rep = 0; rep < config.reps; rep++) {
    for (const mode of ["on", "off"] as const) {
      const counted = countingPool(postgresjs(sql));
      const client = await openWakeupClient(sql, mode === "on", counted.pool);
      const stop = new AbortController();
      const running = new WorkerPool(client, { [NOOP_TYPE]: () => {} }, IDLE_WORKERS, {
        queue: BENCH_QUEUE,
        pollInterval: IDLE_POLL_MS,
      }).run(stop.signal);
      // Past the first polls, which every worker makes at start.
      await sleep(IDLE_POLL_MS / 2);
      const n0 = counted.statements();
      const t0 = performance.now();
      await sleep(IDLE_WINDOW_MS);
      const rate = (counted.statements() - n0) / ((performance.now() - t0) / 1000);
      stop.abort();
      await running;
      samples[mode].push(rate / IDLE_WORKERS);
    }
  }
  const cells = (["on", "off"] as const).map((wakeup) => ({
    wakeup,
    workers: IDLE_WORKERS,
    pollIntervalMs: IDLE_POLL_MS,
    statementsPerSecPerWorker: summarize(samples[wakeup]),
  }));
  progress(
    `  idle: ${cells[0].statementsPerSecPerWorker.median.toFixed(2)} statements/s per worker ` +
      `with wake-up, ${cells[1].statementsPerSecPerWorker.median.toFixed(2)} without`,
  );
  return cells;
}

/**
 * Runs the wake-up cost measurements (part of the `latency` scenario).
 *
 * @param config The bench parameters.
 */
export async function runWakeupCostScenario(config: BenchConfig): Promise<WakeupCost> {
  const db = await createBenchDatabase(config.databaseUrl, "wakeup");
  const maxP = Math.max(...config.producers);
  const sql = connect(db.url, maxP + 5);
  try {
    await warmPool(sql, maxP + 2);
    return { enqueue: await measureEnqueue(config, sql), idle: await measureIdle(config, sql) };
  } finally {
    await sql.end();
    await db.drop();
  }
}

const rate = (s: Summary) => `${Math.round(s.median)} (${Math.round(s.min)}–${Math.round(s.max)})`;

/**
 * The tables of the wake-up cost: enqueue on/off per producer count, and idle statements.
 *
 * @param cost What was measured.
 * @returns Markdown.
 */
export function wakeupCostTables(cost: WakeupCost): string {
  const lines = [
    "| call | producers | ours, wake-up on | ours, wake-up off | on / off, per repetition |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...cost.enqueue.map((c) =>
      `| enqueue | ${c.producers} | ${rate(c.on)} | ${rate(c.off)} | ${
        c.ratio.median.toFixed(2)
      } (${c.ratio.min.toFixed(2)}–${c.ratio.max.toFixed(2)}) |`
    ),
    "",
    "| wake-up | idle workers | poll interval | statements/s per idle worker |",
    "| --- | ---: | ---: | ---: |",
    ...cost.idle.map((c) =>
      `| ${c.wakeup} | ${c.workers} | ${c.pollIntervalMs} ms | ${
        c.statementsPerSecPerWorker.median.toFixed(2)
      } (${c.statementsPerSecPerWorker.min.toFixed(2)}–${
        c.statementsPerSecPerWorker.max.toFixed(2)
      }) |`
    ),
  ];
  return lines.join("\n");
}
