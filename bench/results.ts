/**
 * The shape of a bench result: every figure of one invocation, with what it was measured on.
 * `bench/results/<timestamp>.json` holds one of these; the tables and the chart are drawn from it.
 *
 * @module
 */
import type { BenchConfig } from "./config.ts";
import type { PollStrategy } from "./cycle_sql.ts";
import type { ActivitySummary } from "./activity.ts";
import type { ServerInfo } from "./db.ts";
import type { Summary } from "./stats.ts";
import type { RoundTripCell } from "./round_trips.ts";
import type { WakeupCost } from "./scenarios/wakeup_cost.ts";

/**
 * Who did the work of a lock-throughput figure:
 * - `ours`: the library's `WorkerPool`;
 * - `limit`: the library's SQL cycle through postgres.js directly, each statement awaited
 *   (4 round trips a job; scenario 2);
 * - `limit-pipelined`: the same cycle with BEGIN + lock and DELETE + COMMIT sent in pairs
 *   (2 round trips a job; scenario 2);
 * - `pgbench`: the same cycle from pgbench, PostgreSQL's C client (scenario 2);
 * - `gue-v5`: gue v5's priority SQL as shipped, with only gue's index, through postgres.js.
 */
export type LockSystem = "ours" | "limit" | "limit-pipelined" | "pgbench" | "gue-v5";

/** One lock-throughput figure (scenarios 1 and 2). */
export interface LockCell {
  system: LockSystem;
  strategy: PollStrategy;
  backlog: number;
  workers: number;
  /** `drain`: the whole backlog, first job to last; `window`: a fixed window on a topped-up backlog. */
  mode: "drain" | "window";
  jobsPerSec: Summary;
}

/** One enqueue figure (scenario 3): `ours` through the library, `limit` the raw INSERT. */
export interface EnqueueCell {
  system: "ours" | "limit";
  /** `single`: `enqueue`, one job a call; `batch`: `enqueueBatch` of `batchSize`. */
  kind: "single" | "batch";
  batchSize: number;
  producers: number;
  jobsPerSec: Summary;
}

/** Latency enqueue → handler start at one poll interval (scenario 4); percentiles in ms. */
export interface LatencyCell {
  /** Human description of the setting. */
  setting: string;
  /** The worker's poll interval in ms (for ours). */
  pollIntervalMs?: number;
  /** Jobs measured per repetition. */
  jobsPerRep: number;
  /** Idle single-worker queues measured side by side (see scenarios/latency.ts). */
  probes?: number;
  p50: Summary;
  p95: Summary;
  p99: Summary;
}

/** A peer's throughput figure (scenario 5, as scenario 1). */
export interface PeerThroughputCell {
  backlog: number;
  workers: number;
  mode: "drain" | "window";
  jobsPerSec: Summary;
}

/** A peer's enqueue figure (scenario 5, as scenario 3). */
export interface PeerEnqueueCell {
  kind: "single" | "batch";
  batchSize: number;
  producers: number;
  jobsPerSec: Summary;
}

/** RSS of a pool draining a large backlog (the `memory` scenario), in MiB. */
export interface MemoryCell {
  workers: number;
  jobs: number;
  /** Samples taken, one a second. */
  samples: number;
  rssStartMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  heapStartMiB: number;
  heapEndMiB: number;
  /** The drain's rate, first job to last. */
  jobsPerSec: number;
}

/** A batched-drain figure of ours (the `batch` scenario). */
export interface BatchCell {
  /** `ours`: one job a transaction; `ours-batch`: the batch mode. */
  system: "ours" | "ours-batch";
  backlog: number;
  workers: number;
  mode: "drain" | "window";
  jobsPerSec: Summary;
}

/** What one peer measured, or why it could not. */
export interface PeerResult {
  peer: string;
  version?: string;
  node?: string;
  throughput: PeerThroughputCell[];
  enqueue: PeerEnqueueCell[];
  latency: LatencyCell[];
  /** Its batched drain (the `batch` part): its batching options on. */
  batch?: PeerThroughputCell[];
  /** Set when the peer failed; its figures are then missing. */
  error?: string;
}

/** Everything one invocation measured. */
export interface BenchResults {
  startedAt: string;
  finishedAt: string;
  wallSeconds: number;
  /** The command line after `bench/main.ts`. */
  args: string[];
  machine: { cores: number; cpuModel: string; memoryBytes: number; os: string; osRelease: string };
  postgres: ServerInfo;
  /** Other work seen on the server during the run (see activity.ts). */
  otherActivity: ActivitySummary;
  runtimes: Record<string, string>;
  /** The parameters, with the password removed from the database URL. */
  parameters: Omit<BenchConfig, "databaseUrl"> & { databaseUrl: string };
  lock: LockCell[];
  enqueue: EnqueueCell[];
  latency: LatencyCell[];
  /** What wake-up costs: enqueue with it on and off, statements of idle workers (latency scenario). */
  wakeupCost?: WakeupCost;
  roundTrips: RoundTripCell[];
  memory: MemoryCell[];
  batch: BatchCell[];
  peers: PeerResult[];
}
