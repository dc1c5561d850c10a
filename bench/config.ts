/**
 * The bench's parameters, from command-line flags (`deno task bench --help` lists them).
 *
 * The defaults are sized so the whole default run takes about two minutes on a 2-core machine:
 * throughput is measured over short fixed windows on a backlog that is topped up between runs,
 * instead of draining 200,000 jobs for every cell.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { POLL_STRATEGIES, type PollStrategy, STRATEGY_LABEL } from "./cycle_sql.ts";

/** Every knob of one bench invocation; recorded as is in the results JSON. */
export interface BenchConfig {
  /** Server to benchmark: `DATABASE_URL`, or the local default. Each scenario makes a database on it. */
  databaseUrl: string;
  /** Worker counts for the lock scenarios (1 and 2). */
  workers: number[];
  /** Backlog sizes. Backlogs up to `drainMax` are drained completely; larger ones are sampled. */
  backlogs: number[];
  /** Largest backlog drained completely; above it, throughput is sampled over `windowMs`. */
  drainMax: number;
  /** Repetitions of every measurement (at least 3 for a result; fewer only to try things). */
  reps: number;
  /** Time the system runs before a measuring window opens, so pools and plans are warm. */
  warmupMs: number;
  /** Length of one throughput measuring window. */
  windowMs: number;
  /** Concurrent producers for single `enqueue` (scenario 3). */
  producers: number[];
  /** Concurrent producers for `enqueueBatch` (scenario 3). */
  batchProducers: number[];
  /** Batch sizes for `enqueueBatch` (scenario 3). */
  batchSizes: number[];
  /** Jobs per repetition for latency (scenario 4); at least 200 for a result. */
  latencyJobs: number;
  /** The short poll interval latency is measured at, besides the library default (ms). */
  shortPollMs: number;
  /** Worker counts at which gue v5's shipped priority SQL is measured as a reference (slow). */
  referenceWorkers: number[];
  /** Poll strategies measured by scenarios 1 and 2. */
  strategies: PollStrategy[];
  /**
   * Which scenarios run: `lock` (1 and 2), `enqueue` (3), `latency` (4, with what wake-up costs),
   * `wakeup` (only what wake-up costs), `roundtrips` (round trips per job), `memory` (RSS of a
   * pool draining a large backlog), `batch` (batched drains). With `--peers` the peers run the
   * same subset of theirs.
   */
  scenarios: string[];
  /** Jobs the `memory` scenario drains. */
  memoryJobs: number;
  /** Workers of the `memory` scenario's pool. */
  memoryWorkers: number;
  /** Worker counts of the `batch` scenario. */
  batchWorkers: number[];
  /** Jobs fetched (and completed) together in the `batch` scenario. */
  batchFetch: number;
  /** Whether to run the pgbench figure of scenario 2 (when pgbench is on PATH). */
  pgbench: boolean;
  /** Whether to run the peers (scenario 5). */
  peers: boolean;
  /** Where results go. */
  outDir: string;
}

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";

/** Every scenario `--scenarios` knows. */
export const SCENARIOS = [
  "lock",
  "enqueue",
  "latency",
  "wakeup",
  "roundtrips",
  "memory",
  "batch",
];
/** The scenarios of a run without `--scenarios`. */
export const DEFAULT_SCENARIOS = ["lock", "enqueue", "latency", "roundtrips", "memory", "batch"];

const HELP = `deno task bench [flags]

  --peers                 also run graphile-worker and pg-boss on Node (scenario 5)
  --quick                 fewer worker counts and shorter windows (a smoke run, not a result)
  --reps N                repetitions per figure (default 3)
  --workers 1,2,4,...     worker counts for scenarios 1 and 2 (default 1,2,4,8,16,32)
  --backlogs 1000,200000  backlog sizes for scenarios 1 and 2
  --drain-max N           backlogs up to N are drained fully, larger ones sampled (default 10000)
  --warmup MS             run time before each window (default 100)
  --window MS             throughput window (default 300)
  --producers 1,4,16      concurrent producers for enqueue (default 1,4,16)
  --batch-producers 1,4   concurrent producers for enqueueBatch (default 1,4)
  --batch-sizes 100,1000  enqueueBatch sizes (default 100,1000)
  --latency-jobs N        jobs per repetition for latency (default 200)
  --short-poll MS         the short poll interval for latency (default 50)
  --reference-workers 1,8 worker counts for gue v5's shipped SQL at the largest backlog
                          (empty, --reference-workers=, skips it)
  --scenarios LIST        subset of ${SCENARIOS.join(",")}
                          (default ${DEFAULT_SCENARIOS.join(",")}); the peers run the same subset
  --strategies LIST       poll strategies of scenarios 1 and 2: priority,run_at (default both)
  --memory-jobs N         jobs the memory scenario drains (default 200000)
  --memory-workers N      workers of the memory scenario's pool (default 32)
  --batch-workers 4,8,... worker counts of the batch scenario (default 4,8,16,32)
  --batch-fetch K         jobs fetched and completed together in the batch scenario (default 10)
  --no-pgbench            skip the pgbench figure
  --out DIR               results directory (default bench/results/)

DATABASE_URL selects the server (default ${DEFAULT_URL});
the bench creates and drops databases named gue_bench_* on it.`;

function intList(flag: string, value: string): number[] {
  const list = value.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new TypeError(
      `--${flag}: expected positive integers separated by commas, got "${value}"`,
    );
  }
  return list;
}

function int(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new TypeError(`--${flag}: expected an integer >= ${min}, got "${value}"`);
  }
  return n;
}

/**
 * Reads the flags.
 *
 * @param args The command line after the script name.
 * @param env Reads environment variables (`DATABASE_URL`).
 * @returns The configuration, or `null` when `--help` was asked for (the help is printed).
 */
export function parseConfig(
  args: string[],
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): BenchConfig | null {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      help: { type: "boolean", short: "h" },
      peers: { type: "boolean" },
      quick: { type: "boolean" },
      reps: { type: "string" },
      workers: { type: "string" },
      backlogs: { type: "string" },
      "drain-max": { type: "string" },
      warmup: { type: "string" },
      window: { type: "string" },
      producers: { type: "string" },
      "batch-producers": { type: "string" },
      "batch-sizes": { type: "string" },
      "latency-jobs": { type: "string" },
      "short-poll": { type: "string" },
      "reference-workers": { type: "string" },
      scenarios: { type: "string" },
      strategies: { type: "string" },
      "memory-jobs": { type: "string" },
      "memory-workers": { type: "string" },
      "batch-workers": { type: "string" },
      "batch-fetch": { type: "string" },
      "no-pgbench": { type: "boolean" },
      out: { type: "string" },
    },
  });
  if (values.help) {
    console.log(HELP);
    return null;
  }
  const quick = values.quick ?? false;
  const config: BenchConfig = {
    databaseUrl: env("DATABASE_URL") || DEFAULT_URL,
    workers: quick ? [1, 4, 16] : [1, 2, 4, 8, 16, 32],
    backlogs: [1_000, 200_000],
    drainMax: 10_000,
    reps: 3,
    warmupMs: 100,
    windowMs: quick ? 200 : 300,
    producers: quick ? [1, 8] : [1, 4, 16],
    batchProducers: quick ? [1] : [1, 4],
    batchSizes: [100, 1_000],
    latencyJobs: 200,
    shortPollMs: 50,
    referenceWorkers: [1, 8],
    strategies: [...POLL_STRATEGIES],
    scenarios: [...DEFAULT_SCENARIOS],
    memoryJobs: quick ? 20_000 : 200_000,
    memoryWorkers: 32,
    batchWorkers: quick ? [4, 16] : [4, 8, 16, 32],
    batchFetch: 10,
    pgbench: !values["no-pgbench"],
    peers: values.peers ?? false,
    outDir: values.out ?? decodeURIComponent(new URL("./results", import.meta.url).pathname),
  };
  if (values.reps) config.reps = int("reps", values.reps);
  if (values.workers) config.workers = intList("workers", values.workers);
  if (values.backlogs) config.backlogs = intList("backlogs", values.backlogs);
  if (values["drain-max"]) config.drainMax = int("drain-max", values["drain-max"]);
  if (values.warmup) config.warmupMs = int("warmup", values.warmup, 0);
  if (values.window) config.windowMs = int("window", values.window);
  if (values.producers) config.producers = intList("producers", values.producers);
  if (values["batch-producers"]) {
    config.batchProducers = intList("batch-producers", values["batch-producers"]);
  }
  if (values["batch-sizes"]) config.batchSizes = intList("batch-sizes", values["batch-sizes"]);
  if (values["latency-jobs"]) config.latencyJobs = int("latency-jobs", values["latency-jobs"]);
  if (values["short-poll"]) config.shortPollMs = int("short-poll", values["short-poll"]);
  if (values["reference-workers"] !== undefined) {
    // An empty list (`--reference-workers=`) skips gue v5's shipped SQL.
    config.referenceWorkers = values["reference-workers"] === ""
      ? []
      : intList("reference-workers", values["reference-workers"]);
  }
  if (values.scenarios) {
    config.scenarios = values.scenarios.split(",").map((s) => s.trim());
    const unknown = config.scenarios.filter((s) => !SCENARIOS.includes(s));
    if (unknown.length) {
      throw new TypeError(
        `--scenarios: unknown ${unknown.join(", ")} (known: ${SCENARIOS.join(", ")})`,
      );
    }
  }
  if (values.strategies) {
    const byLabel = new Map(POLL_STRATEGIES.map((p) => [STRATEGY_LABEL[p], p]));
    config.strategies = values.strategies.split(",").map((label) => {
      const strategy = byLabel.get(label.trim());
      if (!strategy) {
        throw new TypeError(
          `--strategies: unknown "${label}" (known: ${[...byLabel.keys()].join(", ")})`,
        );
      }
      return strategy;
    });
  }
  if (values["memory-jobs"]) config.memoryJobs = int("memory-jobs", values["memory-jobs"]);
  if (values["memory-workers"]) {
    config.memoryWorkers = int("memory-workers", values["memory-workers"]);
  }
  if (values["batch-workers"]) {
    config.batchWorkers = intList("batch-workers", values["batch-workers"]);
  }
  if (values["batch-fetch"]) config.batchFetch = int("batch-fetch", values["batch-fetch"]);
  return config;
}
