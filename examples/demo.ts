/**
 * `deno task demo`: enqueues a few jobs — one delayed, one that fails once and is retried — runs
 * a WorkerPool of two, prints what happens, and exits when every job is done (exit code 1 if
 * they are not done within 30 s).
 */
import postgres from "postgres";
import { Client, constantBackoff, type Job, WorkerPool } from "@gue/gue";
import { postgresjs } from "@gue/gue/adapters/postgresjs";
import { exampleDatabase } from "./_database.ts";

const started = Date.now();
const say = (line: string) => {
  const t = ((Date.now() - started) / 1000).toFixed(2).padStart(6);
  console.log(`[${t}s] ${line}`);
};

const database = await exampleDatabase(say);
const sql = postgres(database.url, { max: 5, onnotice: () => {} });
// A short constant backoff so the demo shows a retry within seconds (the default is 1.6 s, ×1.6).
const client = new Client(postgresjs(sql), { backoff: constantBackoff(1000) });
try {
  const applied = await client.migrate();
  say(applied.length ? `migrated: applied ${applied.join(", ")}` : "schema is current");

  const queue = "gue_demo";
  const flakyTries = new Map<string, number>();
  const label = (job: Job) => `${job.type}#${job.id.slice(-6)}`;

  const pool = new WorkerPool(
    client,
    {
      PrintName: (job, ctx) => {
        say(
          `worker ${ctx.workerIndex}: Hello, ${job.json<{ name: string }>().name}! (${label(job)})`,
        );
      },
      SendReport: async (job, ctx) => {
        const tries = (flakyTries.get(job.id) ?? 0) + 1;
        flakyTries.set(job.id, tries);
        if (tries === 1) throw new Error("mail server unavailable");
        await new Promise((r) => setTimeout(r, 50));
        say(`worker ${ctx.workerIndex}: report sent on try ${tries} (${label(job)})`);
      },
    },
    2,
    {
      queue,
      pollInterval: 200,
      hooks: {
        jobDone: [(job, err) => {
          if (err) say(`  ${label(job!)} failed: ${(err as Error).message} — retried with backoff`);
        }],
      },
    },
  );

  const jobs = await client.enqueueBatch([
    { type: "PrintName", queue, args: { name: "gue" } },
    { type: "PrintName", queue, args: { name: "Deno and Bun" }, priority: -10 },
    { type: "SendReport", queue, args: { to: "ops@example.com" } },
    {
      type: "PrintName",
      queue,
      args: { name: "the future (2 s later)" },
      runAt: new Date(Date.now() + 2000),
    },
  ]);
  say(`enqueued ${jobs.length} jobs: ${jobs.map((j) => `${j.type}#${j.id.slice(-6)}`).join(", ")}`);

  const stop = new AbortController();
  const running = pool.run(stop.signal);
  const deadline = Date.now() + 30_000;
  let left = jobs.length;
  while (left > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    const [row] = await sql`SELECT count(*)::int AS n FROM gue_jobs WHERE queue = ${queue}`;
    left = row.n;
  }
  stop.abort();
  await running;
  if (left === 0) say(`all ${jobs.length} jobs done; the pool stopped`);
  else {
    say(`${left} jobs not done within 30 s`);
    process.exitCode = 1;
  }
} finally {
  await sql.end();
  await database.release();
}
