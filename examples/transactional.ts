/**
 * Transactional enqueue: the job exists only if the application's own transaction commits.
 * `deno run -A examples/transactional.ts` (uses DATABASE_URL, or a throwaway server).
 */
import postgres from "postgres";
import { Client } from "@gue/gue";
import { postgresjs } from "@gue/gue/adapters/postgresjs";
import { exampleDatabase } from "./_database.ts";

const database = await exampleDatabase(console.log);
const sql = postgres(database.url, { max: 3, onnotice: () => {} });
const client = new Client(postgresjs(sql));
try {
  await client.migrate();
  await sql`CREATE TABLE IF NOT EXISTS example_orders (id int PRIMARY KEY, total numeric)`;
  await sql`TRUNCATE example_orders`;
  await sql`DELETE FROM gue_jobs WHERE queue = 'receipts'`;

  // Committed: the order and its receipt job both exist.
  await sql.begin(async (tx) => {
    await tx`INSERT INTO example_orders VALUES (1, 9.99)`;
    await client.enqueueTx(
      { type: "SendReceipt", queue: "receipts", args: { order: 1 } },
      postgresjs.tx(tx),
    );
  });

  // Rolled back: neither exists.
  await sql.begin(async (tx) => {
    await client.enqueueTx(
      { type: "SendReceipt", queue: "receipts", args: { order: 2 } },
      postgresjs.tx(tx),
    );
    await tx`INSERT INTO example_orders VALUES (1, 5.00)`; // duplicate key: the transaction fails
  }).catch((err) => console.log(`order 2 failed (${err.message}); its job rolled back with it`));

  const [{ n }] = await sql`SELECT count(*)::int AS n FROM gue_jobs WHERE queue = 'receipts'`;
  console.log(`receipt jobs: ${n} (expected 1)`);
  if (n !== 1) process.exitCode = 1;
  await sql`DROP TABLE example_orders`;
} finally {
  await sql.end();
  await database.release();
}
