import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Client, Worker } from "../mod.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { splitStatements } from "../src/migrate.ts";
import { migrations } from "../src/migrations.ts";
import { adapterUnderTest, createTestDatabase, useTestDatabase } from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const t = useTestDatabase();

/** pg_dump's schema, without what varies between runs and versions (comments, SETs, \restrict). */
function normaliseDump(text: string): string {
  return text
    .split("\n")
    .filter((l) =>
      l.trim() !== "" && !l.startsWith("--") && !l.startsWith("SET ") && !l.startsWith("\\")
    )
    .filter((l) => !l.startsWith("SELECT pg_catalog.set_config"))
    .join("\n") + "\n";
}

describe("migrations", () => {
  test("src/migrations.ts embeds migrations/*.sql as they are (run scripts/build_migrations.ts)", () => {
    const files = readdirSync(`${root}/migrations`).filter((f) => f.endsWith(".sql")).sort();
    assert.deepEqual(
      migrations.map((m) => ({ version: m.version, name: m.name, sql: m.sql })),
      files.map((name) => ({
        version: Number(name.slice(0, 3)),
        name,
        sql: readFileSync(`${root}/migrations/${name}`, "utf8"),
      })),
    );
  });

  test("the schema after all migrations matches tests/schema.sql (gue_jobs is gue v5's contract)", (tt) => {
    if (adapterUnderTest() === "pglite") {
      console.log("skipped: pglite is in-process; pg_dump reads a server");
      return tt.skip("pglite");
    }
    const dump = spawnSync(
      "pg_dump",
      ["--schema-only", "--no-owner", "--no-privileges", t.db.url],
      {
        encoding: "utf8",
      },
    );
    if (dump.error || dump.status !== 0) {
      const why = dump.error ? "pg_dump not on PATH" : `pg_dump failed: ${dump.stderr.trim()}`;
      console.log(`skipped: ${why}`);
      return tt.skip(why);
    }
    const expected = normaliseDump(readFileSync(`${root}/tests/schema.sql`, "utf8"));
    assert.equal(
      normaliseDump(dump.stdout),
      expected,
      "the schema changed: if on purpose, update tests/schema.sql (never change gue_jobs itself)",
    );
  });

  test("statements split at line-ending semicolons, comments dropped", () => {
    assert.deepEqual(
      splitStatements("-- c\nCREATE TABLE a (x int);\n\nCREATE INDEX i ON a (x);\n"),
      [
        "CREATE TABLE a (x int)",
        "CREATE INDEX i ON a (x)",
      ],
    );
  });

  test("tables go where search_path says, like gue's unqualified names", async () => {
    const db = await createTestDatabase();
    const setup = postgres(db.url, { max: 1, onnotice: () => {} });
    await setup`CREATE SCHEMA jobs`;
    await setup.end();
    const sql = postgres(db.url, {
      max: 3,
      onnotice: () => {},
      connection: { search_path: "jobs" },
    });
    try {
      const client = new Client(postgresjs(sql));
      assert.deepEqual(await client.migrate(), [1, 2]);
      await client.enqueue({ type: "T" });
      const [row] = await sql`SELECT count(*)::int AS n FROM jobs.gue_jobs`;
      assert.equal(row.n, 1);
    } finally {
      await sql.end();
      await db.drop();
    }
  });
});

describe("interoperability with Go gue", () => {
  test("a job inserted the way Go gue inserts it is worked here", async () => {
    // gue v5's INSERT, with its parameter types: ULID text, JSON args as bytes, UTC times.
    const now = new Date();
    await t.sql.unsafe(
      `INSERT INTO gue_jobs
(job_id, queue, priority, run_at, job_type, args, created_at, updated_at)
VALUES
($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        "01HZZZZZZZZZZZZZZZZZZZZZZZ",
        "go",
        0,
        now,
        "PrintName",
        Buffer.from('{"name":"gopher"}'),
        now,
        now,
      ],
    );
    let name = "";
    const worker = new Worker(t.client, {
      PrintName: (job) => void (name = job.json<{ name: string }>().name),
    }, { queue: "go" });
    assert.equal(await worker.workOne(), true);
    assert.equal(name, "gopher");
  });
});
