/**
 * One chaos worker process: a gue `WorkerPool` on postgres.js, as an application would run it.
 *
 * The harness (`chaos/main.ts`) starts several of these and then hurts them. The handler writes
 * one effect row through `job.tx()`, so the row commits if and only if the job's completion
 * commits; the row's unique key (the job id) lets the harness count effects that committed twice.
 * Nothing here guards the process against errors the library lets escape: an uncaught exception
 * must kill it, so the harness can count it as a crash.
 *
 * Configuration comes as one JSON argument ({@linkcode WorkerProcessConfig}). It prints `ready`
 * on stdout once the pool runs and logs JSON lines on stderr. SIGTERM stops the pool; the process
 * then exits by itself (no forced exit: a worker that never stops shows up as hung).
 *
 * @module
 */
import process from "node:process";
import postgres from "postgres";
import { Client, constantBackoff, type Logger, WorkerPool, type WorkMap } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { EFFECT_UPSERT } from "./schema.ts";

/** What the harness passes to a worker process. */
export interface WorkerProcessConfig {
  /** Where to connect (the cluster, or PgBouncer in front of it). */
  url: string;
  /** Workers in this process's pool. */
  poolSize: number;
  /** The pool's jobTTL in ms (0: none). */
  jobTTL: number;
  /** postgres.js `prepare` option (false behind PgBouncer in transaction mode). */
  prepare: boolean;
  /** `application_name` of the process's connections, so faults can pick its backends. */
  applicationName: string;
}

/** A chaos job's args: how its handler behaves. */
export interface ChaosArgs {
  /** How long the handler works after its write, in ms (honours its signal). */
  ms?: number;
  /** Throw after the write while the job's errorCount is below this. */
  throwUntil?: number;
  /** Hang after the write, ignoring the signal, while the job's errorCount is below this. */
  hangUntil?: number;
}

const config = JSON.parse(process.argv[2] ?? process.argv.at(-1)!) as WorkerProcessConfig;

function fieldText(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return `${value.name}: ${value.message}${code ? ` [${code}]` : ""}`;
  }
  return value;
}

/** Every level, as JSON lines on stderr: the harness keeps them in the scenario's log file. */
const logger: Logger = Object.fromEntries(
  (["debug", "info", "error"] as const).map((level) => [
    level,
    (msg: string, fields?: Record<string, unknown>) => {
      if (level === "debug") return;
      const f = Object.fromEntries(Object.entries(fields ?? {}).map(([k, v]) => [k, fieldText(v)]));
      process.stderr.write(JSON.stringify({ t: Date.now(), level, msg, ...f }) + "\n");
    },
  ]),
) as unknown as Logger;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    const stop = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    signal.addEventListener("abort", stop, { once: true });
  });
}

const work: WorkMap = {
  chaos: async (job, ctx) => {
    const args = job.json<ChaosArgs>();
    await job.tx()!.query(EFFECT_UPSERT, [job.id, process.pid, ctx.workerIndex]);
    if (args.throwUntil !== undefined && job.errorCount < args.throwUntil) {
      throw new Error(`chaos: handler failed after its write (attempt ${job.errorCount + 1})`);
    }
    if (args.hangUntil !== undefined && job.errorCount < args.hangUntil) {
      // A handler stuck on something that never answers and ignores its signal. The interval
      // keeps the event loop alive the way a pending socket would.
      await new Promise<void>(() => setInterval(() => {}, 60_000));
    }
    if (args.ms) await sleep(args.ms, ctx.signal);
  },
};

const sql = postgres(config.url, {
  max: config.poolSize + 2,
  prepare: config.prepare,
  connection: { application_name: config.applicationName },
  // postgres.js waits 3^n / 100 s (up to 20 s) before reconnecting, n counting connection
  // errors across the whole pool: after a restart every connection has failed at once, and
  // workers would sit idle for seconds with the server up. A worker wants its connections back
  // at once, and the server's own refusals pace the retries.
  backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 0.5),
  onnotice: () => {},
});
const client = new Client(postgresjs(sql), { logger, backoff: constantBackoff(200) });
const pool = new WorkerPool(client, work, config.poolSize, {
  pollInterval: 100,
  jobTTL: config.jobTTL,
  logger,
});

const stop = new AbortController();
process.on("SIGTERM", () => stop.abort(new Error("SIGTERM")));
const running = pool.run(stop.signal);
process.stdout.write("ready\n");
try {
  await running;
} catch (err) {
  logger.error("pool.run() rejected", { error: err });
  process.exitCode = 3;
}
await sql.end({ timeout: 5 });
process.stdout.write(process.exitCode ? "failed\n" : "stopped\n");
// The pool has stopped and the connections are closed; a handler abandoned past its TTL may still
// hold a timer, which must not keep a stopped worker process alive.
process.exit();
