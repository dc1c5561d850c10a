// Shared by the peer benches (graphile-worker.mjs, pg-boss.mjs), which run on Node as children of
// bench/main.ts. They take their parameters as one JSON argument, print progress on stderr and
// their figures as one JSON object on stdout. The measuring rules are the ones of bench/meter.ts
// and bench/stats.ts, repeated here in plain JavaScript because Node 20 does not run TypeScript.
import { readFileSync } from "node:fs";
import process from "node:process";

/**
 * Imports a package from bench/peers/node_modules. The specifier goes through a variable so that
 * `deno check bench/`, which sees these files but not this folder's package.json, leaves it alone.
 */
export function load(name) {
  return import(name);
}

const { default: pg } = await load("pg");

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The parameters main.ts passed (see `peerParams` in bench/scenarios/peers.ts). */
export function readParams() {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: node <peer>.mjs '<json parameters>'");
  return JSON.parse(arg);
}

/** The installed version of a package of bench/peers (some do not export their package.json). */
export function packageVersion(name) {
  const file = new URL(`./node_modules/${name}/package.json`, import.meta.url);
  return JSON.parse(readFileSync(file, "utf8")).version;
}

/** Progress for the person watching; stdout is kept for the result. */
export function log(...parts) {
  process.stderr.write(parts.join(" ") + "\n");
}

/** Counts finished jobs and when the first and the last finished (bench/meter.ts). */
export class Meter {
  count = 0;
  first = 0;
  last = 0;
  #waiters = [];

  mark(n = 1) {
    const now = performance.now();
    if (this.count === 0) this.first = now;
    this.count += n;
    this.last = now;
    this.#waiters = this.#waiters.filter((w) => {
      if (this.count < w.n) return true;
      w.resolve();
      return false;
    });
  }

  reached(n, timeoutMs) {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out: ${this.count} of ${n} jobs finished`)),
        timeoutMs,
      );
      this.#waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Jobs after the first over the time from the first to the last, per second. */
  drainRate() {
    if (this.count < 2 || this.last <= this.first) return 0;
    return ((this.count - 1) / (this.last - this.first)) * 1000;
  }
}

/** Waits `warmupMs`, then counts what the meter records during `windowMs`, per second. */
export async function sampleRate(meter, warmupMs, windowMs) {
  await sleep(warmupMs);
  const c0 = meter.count;
  const t0 = performance.now();
  await sleep(windowMs);
  return ((meter.count - c0) / (performance.now() - t0)) * 1000;
}

/** Linear-interpolation percentile of sorted values (bench/stats.ts). */
export function percentile(sorted, p) {
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

/** Median, min, max and the samples (bench/stats.ts `Summary`). */
export function summarize(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: percentile(sorted, 50),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    samples,
  };
}

/** Runs `measure(rep)` `reps` times in a row and summarises. */
export async function repeat(reps, measure) {
  const samples = [];
  for (let rep = 0; rep < reps; rep++) samples.push(await measure(rep));
  return summarize(samples);
}

/** A pg pool on the peer's database, for filling and resetting its tables. */
export function adminPool(url) {
  return new pg.Pool({ connectionString: url, max: 2 });
}

/** CHECKPOINT after a large fill, as bench/db.ts `checkpoint` does; skipped without the privilege. */
export async function checkpoint(db) {
  try {
    await db.query("CHECKPOINT");
  } catch (err) {
    if (err.code !== "42501") throw err;
  }
}

/**
 * The latency figures of one setting: p50/p95/p99 per repetition, each summarised.
 *
 * @param perRep one sorted array of latencies (ms) per repetition
 */
export function latencySummary(perRep) {
  return {
    jobsPerRep: perRep[0].length,
    p50: summarize(perRep.map((s) => percentile(s, 50))),
    p95: summarize(perRep.map((s) => percentile(s, 95))),
    p99: summarize(perRep.map((s) => percentile(s, 99))),
  };
}

/**
 * Runs `producers` loops calling `enqueue()` (which adds `perCall` jobs) for a warm-up and a
 * window, and returns jobs per second inside the window.
 */
export async function enqueueRate(producers, perCall, enqueue, warmupMs, windowMs) {
  const meter = new Meter();
  let stopping = false;
  const loops = Array.from({ length: producers }, async () => {
    while (!stopping) {
      await enqueue();
      meter.mark(perCall);
    }
  });
  const rate = await sampleRate(meter, warmupMs, windowMs);
  stopping = true;
  await Promise.all(loops);
  return rate;
}

/**
 * Measures enqueue → handler start for `jobs` jobs enqueued one at a time on an idle worker.
 * Between jobs it waits a random 5–25 ms so the worker is idle again and arrivals do not line
 * up with anything the worker does.
 *
 * @param jobs how many jobs
 * @param enqueue (i) => Promise: adds job i, whose handler calls `started(i)`
 * @returns sorted latencies in ms, and the `started` callback to pass to the handler
 */
export function latencyProbe() {
  const pending = new Map();
  return {
    started(i) {
      const p = pending.get(i);
      if (p) p(performance.now());
    },
    async run(jobs, enqueue) {
      const latencies = [];
      for (let i = 0; i < jobs; i++) {
        await sleep(5 + Math.random() * 20);
        const startedAt = new Promise((resolve) => pending.set(i, resolve));
        const t0 = performance.now();
        await enqueue(i);
        const t1 = await Promise.race([startedAt, sleep(30_000).then(() => NaN)]);
        pending.delete(i);
        if (Number.isNaN(t1)) throw new Error(`job ${i} did not start within 30 s`);
        latencies.push(t1 - t0);
      }
      return latencies.sort((a, b) => a - b);
    },
  };
}

/** Prints the result for main.ts and ends the process (pg pools keep Node alive otherwise). */
export function emit(result) {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}
