/**
 * Enqueues jobs for `deno task worker`:
 * `deno run -A examples/enqueue.ts [name ...]` enqueues one PrintName job per name.
 * Environment: `DATABASE_URL` (required), `GUE_QUEUE` (default "").
 */
import postgres from "postgres";
import { Client } from "@gue/gue";
import { postgresjs } from "@gue/gue/adapters/postgresjs";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set");
  process.exit(2);
}
const names = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const sql = postgres(url, { max: 2, onnotice: () => {} });
const client = new Client(postgresjs(sql));
await client.migrate();
const jobs = await client.enqueueBatch(
  (names.length ? names : ["gue"]).map((name) => ({
    type: "PrintName",
    queue: process.env.GUE_QUEUE ?? "",
    args: { name },
  })),
);
for (const job of jobs) console.log(`enqueued ${job.type} ${job.id}`);
await sql.end();
