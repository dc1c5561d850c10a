import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Client, Worker } from "../mod.ts";
import type { ConnPool } from "../src/adapter.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import {
  applyMigrations,
  concurrentIndexName,
  runsInTransaction,
  splitStatements,
} from "../src/migrate.ts";
import { migrations } from "../src/migrations.ts";
import { adapters } from "./_adapters.ts";
import {
  adapterUnderTest,
  createTestDatabase,
  openTestPool,
  type TestDatabase,
  useTestDatabase,
} from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
/** Every migration's version, and those after 001. */
const ALL_VERSIONS = migrations.map((m) => m.version);
const AFTER_001 = ALL_VERSIONS.slice(1);
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
      migrations.map((m) => ({ ...m })),
      files.map((name) => {
        const sql = readFileSync(`${root}/migrations/${name}`, "utf8");
        return {
          version: Number(name.slice(0, 3)),
          name,
          sql,
          transaction: runsInTransaction(sql),
        };
      }),
    );
  });

  test("001, 003 and 005 run in a transaction; 002 and 004 build their index CONCURRENTLY outside one", () => {
    assert.deepEqual(migrations.map((m) => m.transaction), [true, false, true, false, true]);
    assert.deepEqual(splitStatements(migrations[1].sql).map(concurrentIndexName), [
      "idx_gue_jobs_priority",
    ]);
    assert.deepEqual(splitStatements(migrations[3].sql).map(concurrentIndexName), [
      "idx_gue_jobs_unique_key",
    ]);
    assert.equal(
      runsInTransaction("-- gue:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (x);"),
      false,
    );
    assert.equal(runsInTransaction("-- a comment\n-- gue:no-transaction\nSELECT 1;"), true);
    assert.equal(
      concurrentIndexName('CREATE UNIQUE INDEX CONCURRENTLY "My ""i""" ON t (x)'),
      '"My ""i"""',
    );
    assert.equal(concurrentIndexName("CREATE INDEX i ON t (x)"), undefined);
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
      assert.deepEqual(await client.migrate(), ALL_VERSIONS);
      await client.enqueue({ type: "T" });
      const [row] = await sql`SELECT count(*)::int AS n FROM jobs.gue_jobs`;
      assert.equal(row.n, 1);
    } finally {
      await sql.end();
      await db.drop();
    }
  });
});

const serverOnly = adapterUnderTest() === "pglite"
  ? "pglite is in-process: one session, no concurrent writers or migrators"
  : undefined;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or a rejection naming `what` when it has not settled after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A fresh database with migration 001 applied (not 002) and `jobs` jobs in gue_jobs. */
async function databaseWithBacklog(jobs: number): Promise<{ db: TestDatabase; sql: postgres.Sql }> {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  assert.deepEqual(await applyMigrations(postgresjs(sql), migrations.slice(0, 1)), [1]);
  await sql`INSERT INTO gue_jobs
    (job_id, priority, run_at, job_type, args, queue, created_at, updated_at)
    SELECT lpad(g::text, 26, '0'), g % 100, now(), 'Backlog', '\\x7b7d', 'q' || g % 4, now(), now()
    FROM generate_series(1, ${jobs}::int) g`;
  return { db, sql };
}

/** idx_gue_jobs_priority as the catalog describes it, or undefined when it does not exist. */
async function priorityIndex(sql: postgres.Sql) {
  const [row] = await sql<{ oid: string; valid: boolean; unique: boolean; def: string }[]>`
    SELECT indexrelid::int8::text AS oid, indisvalid AS valid, indisunique AS unique,
      pg_get_indexdef(indexrelid) AS def
    FROM pg_index WHERE indexrelid = to_regclass('idx_gue_jobs_priority')`;
  return row && { ...row };
}

const priorityIndexDef =
  "CREATE INDEX idx_gue_jobs_priority ON public.gue_jobs USING btree (queue, priority, run_at)";

describe("migrate()", () => {
  test("a migrate() with nothing to do sends no NOTICE", async () => {
    const db = await createTestDatabase();
    const notices: postgres.Notice[] = [];
    const sql = postgres(db.url, { max: 3, onnotice: (n) => notices.push(n) });
    try {
      const client = new Client(postgresjs(sql));
      assert.deepEqual(await client.migrate(), ALL_VERSIONS);
      notices.length = 0;
      assert.deepEqual(await client.migrate(), []);
      assert.deepEqual(await client.migrate(), []);
      assert.equal(notices.length, 0, `notices: ${JSON.stringify(notices)}`);
      // The recorder does hear notices: this is the statement every migrate() used to run.
      await sql`CREATE TABLE IF NOT EXISTS gue_migrations (version int)`;
      assert.deepEqual(notices.map((n) => n.code), ["42P07"]);
    } finally {
      await sql.end();
      await db.drop();
    }
  });

  test(
    "migrate() builds 002's index on a 200k-job gue_jobs without blocking its writers",
    { skip: serverOnly },
    async () => {
      const { db, sql } = await databaseWithBacklog(200_000);
      const writers = postgres(db.url, { max: 2, onnotice: () => {} });
      const monitor = postgres(db.url, { max: 1, onnotice: () => {} });
      const pool = await openTestPool(db.url, 4);
      let stop = false;
      let writes = 0;
      const write = async (kind: "insert" | "update") => {
        for (let i = 0; !stop; i++) {
          if (kind === "insert") {
            await writers`INSERT INTO gue_jobs
              (job_id, priority, run_at, job_type, args, queue, created_at, updated_at)
              VALUES (${`w${i}`}, 0, now(), 'Live', '\\x7b7d', 'live', now(), now())`;
          } else {
            await writers`UPDATE gue_jobs SET updated_at = now()
              WHERE job_id = lpad(${1 + i % 200_000}::text, 26, '0')`;
          }
          writes++;
        }
      };
      // What the old in-transaction CREATE INDEX did: hold a ShareLock (or stronger) on gue_jobs
      // for the whole build, so every writer queued behind it with an ungranted lock.
      const samples: { building: number; strongLocks: number; waiting: number; writes: number }[] =
        [];
      const watch = async () => {
        while (!stop) {
          const [row] = await monitor<{ building: number; strongLocks: number; waiting: number }[]>`
            SELECT
              (SELECT count(*)::int FROM pg_stat_progress_create_index
                WHERE relid = 'gue_jobs'::regclass) AS building,
              (SELECT count(*)::int FROM pg_locks l
                WHERE l.locktype = 'relation' AND l.relation = 'gue_jobs'::regclass
                  AND l.database = d.oid AND l.granted
                  AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock',
                    'AccessExclusiveLock')) AS "strongLocks",
              (SELECT count(*)::int FROM pg_locks l
                WHERE l.locktype = 'relation' AND l.relation = 'gue_jobs'::regclass
                  AND l.database = d.oid AND NOT l.granted) AS waiting
            FROM pg_database d WHERE d.datname = current_database()`;
          samples.push({ ...row, writes });
          await sleep(5);
        }
      };
      const running = [write("insert"), write("update"), watch()];
      try {
        while (writes < 20) await sleep(10);
        assert.deepEqual(await new Client(pool).migrate(), AFTER_001);
        stop = true;
        await Promise.all(running);
        const during = samples.filter((s) => s.building > 0);
        console.log(
          `build observed in ${during.length} of ${samples.length} samples; writes during it: ` +
            `${during.length ? during.at(-1)!.writes - during[0].writes : 0} (total ${writes})`,
        );
        assert.ok(during.length >= 2, `the monitor saw the build (${during.length} samples)`);
        assert.deepEqual(
          during.filter((s) => s.strongLocks > 0 || s.waiting > 0),
          [],
          "no lock that blocks writers was held on gue_jobs, and no writer waited, during the build",
        );
        assert.ok(
          during.at(-1)!.writes > during[0].writes,
          "writers completed statements while the index was being built",
        );
        assert.deepEqual(await priorityIndex(sql), {
          oid: (await priorityIndex(sql))!.oid,
          valid: true,
          unique: false,
          def: priorityIndexDef,
        });
      } finally {
        stop = true;
        await Promise.allSettled(running);
        await pool.close();
        await writers.end();
        await monitor.end();
        await sql.end();
        await db.drop();
      }
    },
  );

  test(
    "an index left invalid by an interrupted concurrent build is dropped and built again",
    { skip: serverOnly },
    async () => {
      const { db, sql } = await databaseWithBacklog(1_000);
      const pool = await openTestPool(db.url, 4);
      try {
        // Two jobs with the same (queue, priority, run_at): a UNIQUE concurrent build under the
        // index's name fails on them after creating the index, and leaves it behind invalid.
        await sql`UPDATE gue_jobs SET queue = 'dup', priority = 0, run_at = '2020-01-01'
          WHERE job_id IN (lpad('1', 26, '0'), lpad('2', 26, '0'))`;
        await assert.rejects(
          sql.unsafe(
            "CREATE UNIQUE INDEX CONCURRENTLY idx_gue_jobs_priority ON gue_jobs (queue, priority, run_at)",
          ),
          { code: "23505" },
        );
        const left = await priorityIndex(sql);
        assert.equal(left?.valid, false);
        assert.equal(left?.unique, true);

        assert.deepEqual(await new Client(pool).migrate(), AFTER_001);
        const rebuilt = await priorityIndex(sql);
        assert.deepEqual(rebuilt, {
          oid: rebuilt!.oid,
          valid: true,
          unique: false,
          def: priorityIndexDef,
        });
        assert.notEqual(rebuilt!.oid, left!.oid);
      } finally {
        await pool.close();
        await sql.end();
        await db.drop();
      }
    },
  );

  test(
    "a valid index built by a call that stopped before recording 002 is kept, not rebuilt",
    { skip: serverOnly },
    async () => {
      const { db, sql } = await databaseWithBacklog(1_000);
      const pool = await openTestPool(db.url, 4);
      try {
        await sql`CREATE INDEX idx_gue_jobs_priority ON gue_jobs (queue, priority, run_at)`;
        const built = await priorityIndex(sql);
        assert.deepEqual(await new Client(pool).migrate(), AFTER_001);
        assert.deepEqual(await priorityIndex(sql), built);
        const recorded = await sql`SELECT version FROM gue_migrations ORDER BY version`;
        assert.deepEqual(recorded.map((r) => r.version), ALL_VERSIONS);
      } finally {
        await pool.close();
        await sql.end();
        await db.drop();
      }
    },
  );

  test(
    "concurrent migrate() calls from many processes apply and report each migration once",
    { skip: serverOnly },
    async () => {
      // Separate pools stand for separate processes. First on an empty database, then on one
      // whose 002 builds on a 100k-job table while the other callers wait for the lock: a caller
      // blocked inside a statement would stall the concurrent build for good.
      const fresh = await createTestDatabase();
      const { db, sql } = await databaseWithBacklog(100_000);
      const pools: ConnPool[] = [];
      try {
        for (const [target, expected] of [[fresh, ALL_VERSIONS], [db, AFTER_001]] as const) {
          const callers: ConnPool[] = [];
          for (let i = 0; i < 6; i++) callers.push(await openTestPool(target.url, 3));
          pools.push(...callers);
          const results = await within(
            60_000,
            "six concurrent migrate() calls (a waiter holding a snapshot stalls the build)",
            Promise.all(callers.map((p) => new Client(p).migrate())),
          );
          // Each version reported by exactly one caller (not always the same one).
          assert.deepEqual(results.flat().sort(), expected, JSON.stringify(results));
          const check = postgres(target.url, { max: 1, onnotice: () => {} });
          try {
            const recorded = await check`SELECT version FROM gue_migrations ORDER BY version`;
            assert.deepEqual(recorded.map((r) => r.version), ALL_VERSIONS);
            assert.equal((await priorityIndex(check))?.valid, true);
          } finally {
            await check.end();
          }
        }
      } finally {
        // Dropped first (WITH FORCE): a stalled call's connections are cut, not waited for.
        await db.drop();
        await fresh.drop();
        for (const p of pools) await p.close().catch(() => {});
        await sql.end();
      }
    },
  );

  test("a pool of one connection migrates: no lock is held while the index builds", async () => {
    const db = await createTestDatabase();
    const pool = await openTestPool(db.url, 1);
    try {
      assert.deepEqual(
        await within(30_000, "migrate() on a pool of one", new Client(pool).migrate()),
        ALL_VERSIONS,
      );
      const { rows } = await pool.query<{ valid: boolean }>(
        "SELECT indisvalid AS valid FROM pg_index WHERE indexrelid = to_regclass('idx_gue_jobs_priority')",
      );
      assert.deepEqual(rows.map((r) => r.valid), [true]);
    } finally {
      await db.drop();
      await pool.close().catch(() => {});
    }
  });

  test("PGlite (one session) migrates, once, with the index built and valid", async () => {
    const pglite = await adapters.pglite.open("", 1);
    try {
      const clients = [1, 2, 3].map(() => new Client(pglite.pool));
      const results = await Promise.all(clients.map((c) => c.migrate()));
      assert.deepEqual(results.flat().sort(), ALL_VERSIONS);
      assert.deepEqual(await clients[0].migrate(), []);
      const { rows } = await pglite.pool.query<{ valid: boolean; def: string }>(
        `SELECT indisvalid AS valid, pg_get_indexdef(indexrelid) AS def
         FROM pg_index WHERE indexrelid = to_regclass('idx_gue_jobs_priority')`,
      );
      assert.deepEqual(rows, [{ valid: true, def: priorityIndexDef }]);
    } finally {
      await pglite.pool.close();
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

describe("interoperability with Go gue: the columns and tables gue does not know", () => {
  test("a row Go gue inserts has no max_attempts and no unique_key: retried forever, no key", async () => {
    const now = new Date();
    await t.sql.unsafe(
      `INSERT INTO gue_jobs
(job_id, queue, priority, run_at, job_type, args, created_at, updated_at)
VALUES
($1, $2, $3, $4, $5, $6, $7, $8)`,
      ["01HZZZZZZZZZZZZZZZZZZZZZZY", "go", 0, now, "T", Buffer.from("{}"), now, now],
    );
    const [row] = await t.sql`SELECT max_attempts, unique_key FROM gue_jobs`;
    assert.deepEqual({ ...row }, { max_attempts: null, unique_key: null });
    const info = await t.client.getJob("01HZZZZZZZZZZZZZZZZZZZZZZY");
    assert.equal(info?.maxAttempts, null);
    assert.equal(info?.uniqueKey, null);
    assert.equal(info?.state, "ready");
  });

  test("Go gue's lock SELECT, UPDATE and DELETE work on rows that use the new columns", async () => {
    // A row written with every new column set, as this library writes it.
    const now = new Date();
    await t.sql`INSERT INTO gue_jobs
      (job_id, queue, priority, run_at, job_type, args, created_at, updated_at, max_attempts,
       unique_key)
      VALUES ('01HZZZZZZZZZZZZZZZZZZZZZZX', 'go', 0, ${now}, 'T', '\\x7b7d', ${now}, ${now}, 3,
       'k1')`;
    await t.sql.begin(async (tx) => {
      // gue v5's lock, error update and delete texts.
      const locked = await tx.unsafe(
        `SELECT job_id, queue, priority, run_at, job_type, args, error_count, last_error, created_at
FROM gue_jobs
WHERE queue = $1 AND run_at <= $2
ORDER BY priority ASC
LIMIT 1 FOR UPDATE SKIP LOCKED`,
        ["go", new Date()],
      );
      assert.equal(locked.length, 1);
      await tx.unsafe(
        "UPDATE gue_jobs SET error_count = $1, run_at = $2, last_error = $3, updated_at = $4 WHERE job_id = $5",
        [1, new Date(), "boom", new Date(), "01HZZZZZZZZZZZZZZZZZZZZZZX"],
      );
    });
    const [row] = await t.sql`SELECT error_count, max_attempts, unique_key FROM gue_jobs`;
    assert.deepEqual({ ...row }, { error_count: 1, max_attempts: 3, unique_key: "k1" });
    await t.sql.unsafe("DELETE FROM gue_jobs WHERE job_id = $1", ["01HZZZZZZZZZZZZZZZZZZZZZZX"]);
    assert.equal(await t.client.getJob("01HZZZZZZZZZZZZZZZZZZZZZZX"), null);
  });
});
