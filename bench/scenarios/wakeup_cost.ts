/**
 * What waking workers with LISTEN/NOTIFY costs: enqueue throughput with it on and off (a NOTIFY
 * takes a database-wide lock at commit, so notifying on every enqueue would cap throughput), and
 * the statements an idle worker sends per second (wake-up must not make idle workers busier).
 *
 * "On" is a client that listens and notifies, with an idle pool on another queue so its LISTEN
 * connection is open and receives every notification; "off" is a client with both turned off,
 * as the library behaved before. The same producers switch between the two every quarter of a
 * second, and the ratio is the "on" slices' jobs per second over the "off" slices'.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { BENCH_QUEUE, NOOP_TYPE, resetTable } from "../backlog.ts";
import { connect, createBenchDatabase, type Sql, warmPool } from "../db.ts";
import { startLoops } from "../loops.ts";
import { sleep } from "../meter.ts";
import { progress } from "../progress.ts";
import { summarize, type Summary } from "../stats.ts";
import { postgresjs } from "../../src/adapters/postgresjs.ts";
import type { ConnPool, Tx } from "../../src/adapter.ts";
import { Client, type ClientOptions, WorkerPool } from "../../mod.ts";

/** Enqueue throughput at one producer count, wake-up on and off. */
export interface WakeupEnqueueCell {
  producers: number;
  /** Jobs per second over all "on" slices. */
  on: number;
  /** Jobs per second over all "off" slices. */
  off: number;
  /** On over off: the jobs of all "on" slices per second over those of all "off" slices. */
  ratio: number;
  /** On over off per pair of neighbouring slices: how much a quarter of a second moves it. */
  pairRatios: Summary;
  /** Slices per mode. */
  slices: number;
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
 * The enqueue rates are taken in slices that alternate between wake-up on and off while the
 * producers keep running (on, off, off, on, …), and each mode's rate is its jobs over its time.
 * Whole repetitions one after the other moved the ratio by ±0.05 between runs on a 2-core machine
 * (the commit's fsync drifts by more than notifying costs); short alternating slices see the same
 * drift on both sides.
 */
const ENQUEUE_SLICE_MS = 250;
const ENQUEUE_SLICE_PAIRS = 40;

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

type Mode = "on" | "off";

async function measureEnqueue(config: BenchConfig, sql: Sql): Promise<WakeupEnqueueCell[]> {
  const clients: Record<Mode, Client> = {
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
    for (const producers of config.producers) {
      const cell = await interleaved(config, sql, clients, producers);
      cells.push(cell);
      progress(
        `  enqueue, P=${producers}: wake-up on ${Math.round(cell.on)} jobs/s, off ${
          Math.round(cell.off)
        } jobs/s (${cell.ratio.toFixed(3)})`,
      );
    }
  } finally {
    stop.abort();
    await listening;
  }
  return cells;
}

/**
 * Enqueue rates at one producer count, the producers switching between the "on" and the "off"
 * client every slice. A call that straddles a switch counts for neither mode.
 */
async function interleaved(
  config: BenchConfig,
  sql: Sql,
  clients: Record<Mode, Client>,
  producers: number,
): Promise<WakeupEnqueueCell> {
  await resetTable(sql);
  const job = { type: NOOP_TYPE, queue: BENCH_QUEUE, args: {} };
  let mode: Mode = "on";
  const done: Record<Mode, number> = { on: 0, off: 0 };
  const loops = startLoops(producers, async (stopped) => {
    while (!stopped()) {
      const started = mode;
      await clients[started].enqueue(job);
      if (mode === started) done[started]++;
    }
  });
  const totals: Record<Mode, { jobs: number; ms: number }> = {
    on: { jobs: 0, ms: 0 },
    off: { jobs: 0, ms: 0 },
  };
  const pairRatios: number[] = [];
  try {
    // Both clients warm (statements prepared, connections busy) before the first slice counts.
    for (const m of ["on", "off"] as const) {
      mode = m;
      await sleep(config.warmupMs);
    }
    const slice = async (m: Mode): Promise<number> => {
      mode = m;
      const n0 = done[m];
      const t0 = performance.now();
      await sleep(ENQUEUE_SLICE_MS);
      const ms = performance.now() - t0;
      const jobs = done[m] - n0;
      totals[m].jobs += jobs;
      totals[m].ms += ms;
      return (jobs / ms) * 1000;
    };
    for (let pair = 0; pair < ENQUEUE_SLICE_PAIRS; pair++) {
      // on, off, off, on, …: a steady drift of the machine favours neither.
      const [first, second]: Mode[] = pair % 2 === 0 ? ["on", "off"] : ["off", "on"];
      const a = await slice(first);
      const b = await slice(second);
      pairRatios.push(first === "on" ? a / b : b / a);
    }
  } finally {
    await loops.stop();
  }
  const on = (totals.on.jobs / totals.on.ms) * 1000;
  const off = (totals.off.jobs / totals.off.ms) * 1000;
  return {
    producers,
    on,
    off,
    ratio: on / off,
    pairRatios: summarize(pairRatios),
    slices: ENQUEUE_SLICE_PAIRS,
  };
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

/**
 * The tables of the wake-up cost: enqueue on/off per producer count, and idle statements.
 *
 * @param cost What was measured.
 * @returns Markdown.
 */
export function wakeupCostTables(cost: WakeupCost): string {
  const lines = [
    `| call | producers | ours, wake-up on | ours, wake-up off | on / off | per pair of ${ENQUEUE_SLICE_MS} ms slices |`,
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...cost.enqueue.map((c) =>
      `| enqueue | ${c.producers} | ${Math.round(c.on)} | ${Math.round(c.off)} | ${
        c.ratio.toFixed(3)
      } | ${c.pairRatios.median.toFixed(2)} (${c.pairRatios.min.toFixed(2)}–${
        c.pairRatios.max.toFixed(2)
      }, ${c.slices} pairs) |`
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
