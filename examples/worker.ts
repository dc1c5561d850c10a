/**
 * `deno task worker`: a long-running WorkerPool on `DATABASE_URL` that stops gracefully on
 * SIGINT/SIGTERM (the jobs in hand finish and commit, then it exits).
 *
 * Environment: `DATABASE_URL` (required), `GUE_QUEUE` (default ""), `GUE_WORKERS` (default 4),
 * `GUE_POLL_INTERVAL` ms (default 1000). Enqueue work with `deno run -A examples/enqueue.ts`.
 */
import postgres from "postgres";
import { Client, WorkerPool } from "@gue/gue";
import { postgresjs } from "@gue/gue/adapters/postgresjs";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error(
    "DATABASE_URL is not set. Example: DATABASE_URL=postgres://user@localhost/db deno task worker",
  );
  process.exit(2);
}
const queue = process.env.GUE_QUEUE ?? "";
const workers = Number(process.env.GUE_WORKERS ?? 4);
const pollInterval = Number(process.env.GUE_POLL_INTERVAL ?? 1000);

// Each running job holds a connection: give the pool a few more than the workers.
const sql = postgres(url, { max: workers + 2, onnotice: () => {} });
const client = new Client(postgresjs(sql), { logger: console });
await client.migrate();

const pool = new WorkerPool(
  client,
  {
    PrintName: (job) => {
      console.log(`Hello ${job.json<{ name: string }>().name}!`);
    },
    Sleep: async (job, { signal }) => {
      const { ms } = job.json<{ ms: number }>();
      await new Promise((resolve) => setTimeout(resolve, ms));
      signal.throwIfAborted();
    },
  },
  workers,
  { queue, pollInterval, gracefulShutdown: true, logger: console },
);

const stop = new AbortController();
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.log(`${sig}: finishing the jobs in hand, then stopping`);
    stop.abort();
  });
}
console.log(`gue worker pool: ${workers} workers on queue ${JSON.stringify(queue)}; Ctrl-C stops`);
await pool.run(stop.signal);
await sql.end();
console.log("stopped");
