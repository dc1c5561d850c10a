/**
 * The chaos scenarios: what runs, and what is done to it. Each one is a steady stream of jobs
 * into a fresh database, worked by a fleet of worker processes, with faults at fixed points of
 * the stream; `--short` scales the stream and the number of faults down for CI.
 *
 * @module
 */
import type { ChaosCluster } from "./cluster.ts";
import type { Fleet } from "./fleet.ts";
import type { ChaosArgs } from "./worker_process.ts";

/** What a fault can reach. */
export interface FaultContext {
  /** The cluster (restarts, admin SQL). */
  cluster: ChaosCluster;
  /** The scenario's worker processes. */
  fleet: Fleet;
  /** The `application_name` of the workers' connections. */
  applicationName: string;
}

/** One scenario. */
export interface Scenario {
  /** Its name in the table. */
  name: string;
  /** One line on what it checks. */
  what: string;
  /** Worker processes. */
  processes: number;
  /** Workers per process. */
  poolSize: number;
  /** The workers' jobTTL in ms (0: none). */
  jobTTL?: number;
  /** Connect the workers through PgBouncer in this pool mode. */
  pgbouncer?: "transaction" | "session";
  /** postgres.js `prepare` for the workers. @default true */
  prepare?: boolean;
  /** The args of the `n`th job (deterministic, so runs repeat). */
  args(n: number): ChaosArgs;
  /** How many faults over the stream (short run, full run). */
  faults: [short: number, full: number];
  /**
   * Injects one fault; resolves with the time it ended (for a restart: when the server accepted
   * connections again), from which recovery is measured.
   */
  fault?(ctx: FaultContext): Promise<number>;
  /** Only in the full run (a known failure or a slow case, reported rather than gated). */
  fullOnly?: boolean;
  /** Not gated: reported for information (what happens with a setting the docs warn against). */
  informational?: boolean;
}

const plain = (): ChaosArgs => ({ ms: 10 });

/** A random process whose pool runs (one still starting has no SIGTERM handler yet). */
function pickLive(fleet: Fleet) {
  const live = fleet.live().filter((p) => p.readyAt !== undefined);
  return live[Math.floor(Math.random() * live.length)];
}

/** All scenarios, in the order they run. */
export const scenarios: Scenario[] = [
  {
    name: "sigkill",
    what: "SIGKILL a worker process mid-stream (a supervisor restarts it)",
    processes: 3,
    poolSize: 4,
    args: plain,
    faults: [3, 12],
    fault({ fleet }) {
      const victim = pickLive(fleet);
      if (victim) fleet.kill(victim);
      return Promise.resolve(Date.now());
    },
  },
  {
    name: "terminate",
    what: "pg_terminate_backend on 3 random worker backends",
    processes: 3,
    poolSize: 4,
    args: plain,
    faults: [6, 40],
    async fault({ cluster, applicationName }) {
      await cluster.admin(
        `select pg_terminate_backend(pid) from pg_stat_activity
          where application_name = $1 order by random() limit 3`,
        [applicationName],
      );
      return Date.now();
    },
  },
  {
    name: "restart-fast",
    what: "restart PostgreSQL in fast mode",
    processes: 3,
    poolSize: 4,
    args: plain,
    faults: [1, 3],
    async fault({ cluster }) {
      await cluster.restart("fast");
      return Date.now();
    },
  },
  {
    name: "restart-immediate",
    what: "restart PostgreSQL in immediate mode (crash and recovery)",
    processes: 3,
    poolSize: 4,
    args: plain,
    faults: [1, 3],
    async fault({ cluster }) {
      await cluster.restart("immediate");
      return Date.now();
    },
  },
  {
    name: "ttl-hang",
    what: "1 job in 40 hangs once ignoring its signal; jobTTL 1000 ms must free the worker",
    processes: 3,
    poolSize: 4,
    jobTTL: 1000,
    args: (n) => n % 40 === 7 ? { ms: 10, hangUntil: 1 } : { ms: 10 },
    faults: [0, 0],
  },
  {
    name: "throw",
    what: "1 job in 5 writes through job.tx() then throws once; its write must roll back",
    processes: 3,
    poolSize: 4,
    args: (n) => n % 5 === 2 ? { ms: 10, throwUntil: 1 } : { ms: 10 },
    faults: [0, 0],
  },
  {
    name: "sigterm",
    what: "SIGTERM a worker process mid-job; it must exit within the bound",
    processes: 3,
    poolSize: 4,
    // Long enough to be caught mid-job, short enough that 12 workers outrun the feed.
    args: () => ({ ms: 25 }),
    faults: [3, 12],
    async fault({ fleet }) {
      const victim = pickLive(fleet);
      if (victim) await fleet.terminate(victim);
      return Date.now();
    },
  },
  {
    name: "pgbouncer-transaction",
    what: "through PgBouncer in transaction mode, prepare: false",
    processes: 3,
    poolSize: 4,
    pgbouncer: "transaction",
    prepare: false,
    args: plain,
    faults: [0, 0],
  },
  {
    name: "pgbouncer-session",
    what: "through PgBouncer in session mode, default prepare",
    processes: 3,
    poolSize: 4,
    pgbouncer: "session",
    args: plain,
    faults: [0, 0],
  },
  {
    name: "pgbouncer-tx-prepared",
    what: "PgBouncer transaction mode with named prepared statements: the hint must be logged",
    processes: 1,
    poolSize: 4,
    pgbouncer: "transaction",
    prepare: true,
    args: plain,
    faults: [0, 0],
    fullOnly: true,
    informational: true,
  },
];
