/**
 * `gue bench`: a quick benchmark of this library on the user's own server, from the package
 * alone. The full harness (the limits of the same SQL without the library, pgbench, gue v5's
 * SQL, graphile-worker and pg-boss side by side, JSON and SVG reports) lives in the repository's
 * bench/ directory, runs on Deno with `deno task bench`, and is not published: it needs Node for
 * the peers and writes files next to itself.
 *
 * @module
 */
import { postgresjs } from "../../adapters/postgresjs.ts";
import { Client } from "../../client.ts";
import { noopLogger } from "../../logger.ts";
import { WorkerPool } from "../../pool.ts";
import { type Command, flag, integerOption, stringOption } from "../command.ts";
import { databaseUrl, explain, openSql } from "../connect.ts";
import { CliError, ExitCode, usageError } from "../exit_codes.ts";
import type { Io } from "../io.ts";
import { renderTable } from "../table.ts";

/** One measured figure. */
export interface BenchFigure {
  /** What was measured. */
  name: string;
  /** Jobs in the measurement. */
  jobs: number;
  /** Seconds it took. */
  seconds: number;
  /** Jobs per second. */
  jobsPerSecond: number;
}

/** How long a drain may go without a job starting before the bench gives up. */
const STALL_MS = 30_000;

/** `gue bench`. */
export const benchCommand: Command = {
  name: "bench",
  summary: "Measure enqueue and work throughput on your server",
  usage: "bench [--jobs N] [--workers 1,4,16] [options]",
  description: `
Measures, on the server in the URL: single enqueues from --producers concurrent callers,
enqueueBatch in batches of 1000, and the rate at which a WorkerPool of each --workers size
locks, runs (a no-op handler) and deletes --jobs queued jobs (from the first job started to the
last). Progress goes to standard error, one table (or --json) to standard output.

By default it works in a scratch database, gue_bench_<random>, created and dropped (WITH FORCE)
around the run: the role needs CREATEDB, and the database in the URL is only used to connect.
With --in-place it uses the URL's database itself, in a queue of its own (gue-bench-<random>)
whose jobs it deletes afterwards; the gue tables must exist there (gue migrate), and your own
workers and traffic share the server with the measurement.

For the full benchmark (the same SQL without the library as the limit, pgbench, gue v5's SQL,
graphile-worker and pg-boss side by side, JSON and SVG reports), clone the repository and run
\`deno task bench\` (bench/README.md).

Exit codes: 0 done, 1 the database failed (or workers stalled), 2 bad options.`,
  options: {
    jobs: {
      type: "string",
      short: "n",
      value: "N",
      help: "jobs per drain, 100-1000000 (default: 10000)",
    },
    workers: {
      type: "string",
      short: "w",
      value: "LIST",
      help: "worker pool sizes, comma-separated, each 1-256 (default: 1,4,16)",
    },
    producers: {
      type: "string",
      value: "N",
      help: "concurrent callers of single enqueues, 1-256 (default: 8)",
    },
    "in-place": { type: "boolean", help: "use the URL's database, in a queue of its own" },
    json: { type: "boolean", help: "print the figures as JSON" },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run({ values, io }) {
    const jobs = integerOption(values, "jobs", "bench", { min: 100, max: 1_000_000 }) ?? 10_000;
    const producers = integerOption(values, "producers", "bench", { min: 1, max: 256 }) ?? 8;
    const workersText = stringOption(values, "workers") ?? "1,4,16";
    const workers = workersText.split(",").map((w) => {
      const n = Number(w.trim());
      if (!/^\d+$/.test(w.trim()) || n < 1 || n > 256) {
        throw usageError(
          `--workers must be comma-separated integers from 1 to 256, got ${
            JSON.stringify(workersText)
          }`,
          "bench",
        );
      }
      return n;
    });
    const url = databaseUrl(values, io, "bench");
    const figures = await runBench(url, io, {
      jobs,
      producers,
      workers,
      inPlace: flag(values, "in-place"),
    });
    if (flag(values, "json")) io.out(JSON.stringify(figures));
    else {
      const lines = renderTable(
        [
          { header: "MEASURE" },
          { header: "JOBS", numeric: true },
          { header: "SECONDS", numeric: true },
          { header: "JOBS/S", numeric: true },
        ],
        figures.map((f) => [f.name, String(f.jobs), f.seconds.toFixed(2), String(f.jobsPerSecond)]),
      );
      for (const line of lines) io.out(line);
    }
    return ExitCode.Ok;
  },
};

interface BenchPlan {
  jobs: number;
  producers: number;
  workers: number[];
  inPlace: boolean;
}

async function runBench(url: string, io: Io, plan: BenchPlan): Promise<BenchFigure[]> {
  const suffix = `${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 6)}`;
  const scratch = plan.inPlace ? undefined : `gue_bench_${suffix}`;
  const queue = plan.inPlace ? `gue-bench-${suffix}` : "bench";
  const admin = openSql(url, 1);
  let sql;
  try {
    let benchUrl = url;
    if (scratch !== undefined) {
      try {
        await admin.unsafe(`CREATE DATABASE ${scratch}`);
      } catch (err) {
        if ((err as { code?: string }).code === "42501") {
          throw new CliError(
            "the role may not create databases (CREATEDB): grant it, or pass --in-place to " +
              "measure in the URL's database, in a queue of its own",
            ExitCode.Failure,
            { cause: err },
          );
        }
        throw err;
      }
      const u = new URL(url);
      u.pathname = `/${scratch}`;
      benchUrl = u.toString();
    }
    sql = openSql(benchUrl, Math.max(...plan.workers, plan.producers) + 2);
    const client = new Client(postgresjs(sql), { logger: noopLogger });
    if (scratch !== undefined) await client.migrate();
    const [{ server_version: version }] = await sql`SHOW server_version`;
    io.err(
      `gue bench: PostgreSQL ${version}, ${runtime()}, ${
        scratch ? `scratch database ${scratch}` : `queue ${JSON.stringify(queue)} in place`
      }`,
    );
    const clear = async () => {
      // Not in src/sql.ts: the bench's own housekeeping, not a statement of the library.
      await sql!.unsafe("DELETE FROM gue_jobs WHERE queue = $1", [queue]);
    };
    const figures: BenchFigure[] = [];
    const record = (name: string, jobs: number, ms: number) => {
      const figure = {
        name,
        jobs,
        seconds: Math.round(ms) / 1000,
        jobsPerSecond: Math.round(jobs / (ms / 1000)),
      };
      figures.push(figure);
      io.err(`  ${name}: ${figure.jobsPerSecond} jobs/s`);
    };

    const singles = Math.min(plan.jobs, 2000);
    let next = 0;
    let t0 = performance.now();
    await Promise.all(Array.from({ length: plan.producers }, async () => {
      while (next++ < singles) await client.enqueue({ type: "noop", queue });
    }));
    record(`enqueue, ${plan.producers} producers`, singles, performance.now() - t0);
    await clear();

    t0 = performance.now();
    await fill(client, queue, plan.jobs);
    record("enqueueBatch, 1000 a batch", plan.jobs, performance.now() - t0);

    for (const size of plan.workers) {
      await clear();
      await fill(client, queue, plan.jobs);
      await sql.unsafe("ANALYZE gue_jobs");
      const ms = await drain(client, queue, plan.jobs, size);
      record(`work, ${size} worker${size === 1 ? "" : "s"}`, plan.jobs - 1, ms);
    }
    if (plan.inPlace) await clear();
    return figures;
  } catch (err) {
    throw explain(err, url);
  } finally {
    await sql?.end({ timeout: 5 }).catch(() => {});
    if (scratch !== undefined) {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${scratch} WITH (FORCE)`).catch((err) => {
        io.err(`gue bench: could not drop ${scratch}: ${(err as Error).message}`);
      });
    }
    await admin.end({ timeout: 5 }).catch(() => {});
  }
}

async function fill(client: Client, queue: string, jobs: number): Promise<void> {
  for (let done = 0; done < jobs; done += 1000) {
    const n = Math.min(1000, jobs - done);
    await client.enqueueBatch(Array.from({ length: n }, () => ({ type: "noop", queue })));
  }
}

/** Runs a pool of `size` until `jobs` handlers have started; ms from the first start to the last. */
async function drain(client: Client, queue: string, jobs: number, size: number): Promise<number> {
  let started = 0;
  let first = 0;
  let last = 0;
  const stop = new AbortController();
  let resolveAll!: () => void;
  const all = new Promise<void>((r) => (resolveAll = r));
  const pool = new WorkerPool(
    client,
    {
      noop: () => {
        last = performance.now();
        if (started++ === 0) first = last;
        if (started === jobs) resolveAll();
      },
    },
    size,
    { queue, pollInterval: 100, logger: noopLogger },
  );
  const running = pool.run(stop.signal);
  // Fails the drain when no job started for STALL_MS (a lost connection, a broken schema).
  let seen = 0;
  let onStall!: (err: Error) => void;
  const stalled = new Promise<never>((_, reject) => (onStall = reject));
  const watch = setInterval(() => {
    if (started === seen) {
      onStall(
        new CliError(
          `workers stalled: ${started} of ${jobs} jobs started, none in the last ${
            STALL_MS / 1000
          } s`,
          ExitCode.Failure,
        ),
      );
    }
    seen = started;
  }, STALL_MS);
  try {
    await Promise.race([
      all,
      stalled,
      running.then(() => {
        throw new Error(`the worker pool stopped after ${started} of ${jobs} jobs`);
      }),
    ]);
  } finally {
    clearInterval(watch);
    stop.abort();
    await running.catch(() => {});
  }
  return last - first;
}

function runtime(): string {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Bun) return `Bun ${g.Bun.version}`;
  if (g.Deno) return `Deno ${g.Deno.version.deno}`;
  return "unknown runtime";
}
