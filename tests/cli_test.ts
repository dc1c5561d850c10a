/**
 * The `gue` command line, run as a subprocess on the runtime running the tests (`deno run -A
 * src/cli/main.ts` under Deno, `bun src/cli/main.ts` under Bun) against a database of its own.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { Client } from "../src/client.ts";
import { WorkerPool } from "../src/pool.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { noopLogger } from "../src/logger.ts";
import { createTestDatabase, type TestDatabase } from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const isBun = "Bun" in globalThis;
const entry = "src/cli/main.ts";
const command = isBun ? [entry] : ["run", "-A", entry];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gue …` with `env` replacing DATABASE_URL (unset when `undefined`). */
function gue(
  args: string[],
  options: { databaseUrl?: string; stdin?: string } = {},
): Promise<Run> {
  const env: Record<string, string> = { ...process.env } as Record<string, string>;
  delete env.DATABASE_URL;
  if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, ...args], { cwd: root, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? "");
  });
}

/** A port on 127.0.0.1 where nothing listens. */
async function closedPort(): Promise<number> {
  const server = net.createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const commandNames = [
  "migrate",
  "stats",
  "list",
  "show",
  "enqueue",
  "retry",
  "cancel",
  "delete",
  "dashboard",
  "bench",
];

describe("gue without a database", () => {
  test("--help lists every command and the exit codes, and exits 0", async () => {
    const run = await gue(["--help"]);
    assert.equal(run.code, 0, run.stderr);
    for (const name of commandNames) assert.match(run.stdout, new RegExp(`^  ${name} `, "m"));
    assert.match(run.stdout, /Exit codes: 0 done, 1 the operation failed/);
  });

  test("every command has --help, which needs no database and exits 0", async () => {
    for (const name of commandNames) {
      const run = await gue([name, "--help"]);
      assert.equal(run.code, 0, `${name}: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`^Usage: gue ${name}`, "m"));
      assert.match(run.stdout, /--database-url URL/);
    }
  });

  test("no command, an unknown command or an unknown option is a usage error: exit 2", async () => {
    const none = await gue([]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Usage: gue <command>/);
    const unknown = await gue(["frobnicate"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "frobnicate"; commands: migrate, /);
    const option = await gue(["stats", "--bogus"], { databaseUrl: "postgres://x@127.0.0.1/x" });
    assert.equal(option.code, 2);
    assert.match(option.stderr, /Unknown option '--bogus'\n\(see `gue stats --help`\)/);
  });

  test("without DATABASE_URL or --database-url it says how to give one: exit 2", async () => {
    const run = await gue(["stats"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no database: set DATABASE_URL or pass --database-url/);
  });

  test("a URL that is not postgres:// is a usage error and its password is not printed", async () => {
    const run = await gue(["stats", "--database-url", "mysql://me:s3cret@db/app"]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /must start with postgres:\/\/ or postgresql:\/\//);
    assert.doesNotMatch(run.stderr, /s3cret/);
  });

  test("a refused connection names the address and what to check: exit 1", async () => {
    const port = await closedPort();
    const run = await gue(["stats"], { databaseUrl: `postgres://me:s3cret@127.0.0.1:${port}/app` });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      new RegExp(`cannot connect to PostgreSQL at 127\\.0\\.0\\.1:${port}: connection refused`),
    );
    assert.doesNotMatch(run.stderr, /s3cret/);
  });

  test("a server that never answers fails after the connect timeout: exit 1", async () => {
    // Accepts the TCP connection and never speaks: a wrong port, a stuck proxy.
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s)).listen(0, "127.0.0.1");
    await new Promise((r) => server.once("listening", r));
    const { port } = server.address() as net.AddressInfo;
    try {
      const run = await gue(["stats", "--database-url", `postgres://me@127.0.0.1:${port}/app`]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /no answer within 5 s/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    }
  });
});

describe("gue against a database", () => {
  let db: TestDatabase;
  let empty: TestDatabase;
  let sql: postgres.Sql;
  let client: Client;

  before(async () => {
    [db, empty] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    sql = postgres(db.url, { max: 4, onnotice: () => {} });
    client = new Client(postgresjs(sql), { logger: noopLogger });
    await client.migrate();
  });
  after(async () => {
    await sql?.end();
    await Promise.all([db?.drop(), empty?.drop()]);
  });

  test("a database without the gue tables: stats says to run `gue migrate`, exit 1", async () => {
    const run = await gue(["stats"], { databaseUrl: empty.url });
    assert.equal(run.code, 1);
    assert.match(
      run.stderr,
      /the gue tables are missing in database "gue_test_\w+": run `gue migrate` first/,
    );
  });

  test("a database that does not exist is named, with how to create it: exit 1", async () => {
    const url = new URL(db.url);
    url.pathname = "/gue_no_such_database";
    const run = await gue(["stats"], { databaseUrl: url.toString() });
    assert.equal(run.code, 1);
    assert.match(run.stderr, /database "gue_no_such_database" does not exist .*createdb/);
  });

  test("migrate applies every migration once, then reports the schema current", async () => {
    const fresh = await createTestDatabase();
    try {
      const first = await gue(["migrate", "--database-url", fresh.url]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stdout, /^applied 001_gue_jobs\.sql$/m);
      const versions = await sql`SELECT version FROM gue_migrations ORDER BY version`;
      assert.match(
        first.stdout,
        new RegExp(`schema is at version ${versions.at(-1)!.version}\\n$`),
      );
      // DATABASE_URL works as well as --database-url.
      const second = await gue(["migrate"], { databaseUrl: fresh.url });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, /^schema is up to date \(version \d+\)\n$/);
    } finally {
      await fresh.drop();
    }
  });

  test("enqueue stores the type, JSON args, queue, priority and run-at, and prints the id", async () => {
    await sql`TRUNCATE gue_jobs`;
    const before = Date.now();
    const run = await gue(
      [
        "enqueue",
        "SendEmail",
        '{"to":"a@example.com"}',
        "-q",
        "emails",
        "--priority=-100",
        "--run-at",
        "+1h",
      ],
      { databaseUrl: db.url },
    );
    assert.equal(run.code, 0, run.stderr);
    const id = run.stdout.trim();
    assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    const [row] = await sql`SELECT * FROM gue_jobs WHERE job_id = ${id}`;
    assert.equal(row.job_type, "SendEmail");
    assert.equal(row.queue, "emails");
    assert.equal(row.priority, -100);
    assert.deepEqual(JSON.parse(Buffer.from(row.args).toString("utf8")), { to: "a@example.com" });
    const delay = row.run_at.getTime() - before;
    assert.ok(delay > 3_590_000 && delay < 3_700_000, `run_at about an hour away: ${delay} ms`);
  });

  test("enqueue - reads the args from standard input; --json prints the stored job", async () => {
    await sql`TRUNCATE gue_jobs`;
    const run = await gue(
      ["enqueue", "Reindex", "-", "--json", "--run-at", "2030-01-01T09:00:00Z"],
      {
        databaseUrl: db.url,
        stdin: '{"id": 42}\n',
      },
    );
    assert.equal(run.code, 0, run.stderr);
    const job = JSON.parse(run.stdout);
    assert.equal(job.type, "Reindex");
    assert.deepEqual(job.args, { id: 42 });
    assert.equal(job.runAt, "2030-01-01T09:00:00.000Z");
    assert.equal(job.queue, "");
    const rows = await sql`SELECT job_id FROM gue_jobs`;
    assert.deepEqual(rows.map((r) => r.job_id), [job.id]);
  });

  test("enqueue --unique-key enqueues once while the key is held; --max-attempts is stored", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const args = ["enqueue", "Report", "--unique-key", "report-7", "--max-attempts", "3"];
    const first = await gue(args, { databaseUrl: db.url });
    assert.equal(first.code, 0, first.stderr);
    const id = first.stdout.trim();
    const second = await gue([...args, "--json"], { databaseUrl: db.url });
    assert.equal(second.code, 0, second.stderr);
    const held = JSON.parse(second.stdout);
    assert.equal(held.id, id);
    assert.equal(held.inserted, false);
    assert.match(second.stderr, new RegExp(`job ${id} already holds unique key "report-7"`));
    const rows = await sql`SELECT job_id, max_attempts, unique_key FROM gue_jobs`;
    assert.deepEqual([...rows], [{ job_id: id, max_attempts: 3, unique_key: "report-7" }]);
  });

  test("enqueue with bad args, priority or run-at exits 2 and enqueues nothing", async () => {
    await sql`TRUNCATE gue_jobs`;
    const cases: [string[], RegExp][] = [
      [["enqueue", "X", "{bad"], /json-args must be JSON/],
      [
        ["enqueue", "X", "--priority", "40000"],
        /--priority must be an integer from -32768 to 32767, got "40000"/,
      ],
      [["enqueue", "X", "--priority", "1.5"], /--priority must be an integer/],
      [["enqueue", "X", "--max-attempts", "0"], /--max-attempts must be an integer from 1/],
      [
        ["enqueue", "X", "--run-at", "tomorrow"],
        /--run-at must be an ISO 8601 time .* got "tomorrow"/,
      ],
      [["enqueue"], /missing <type>/],
      [["enqueue", "X", "{}", "extra"], /unexpected argument "extra"/],
    ];
    for (const [args, message] of cases) {
      const run = await gue(args, { databaseUrl: db.url });
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
    const [{ n }] = await sql`SELECT count(*)::int AS n FROM gue_jobs`;
    assert.equal(n, 0);
  });

  /** Enqueues a job with one attempt and fails it: it moves to the failed jobs. */
  async function failedJob(queue: string, type = "Flaky"): Promise<string> {
    const job = await client.enqueue({ type, queue, args: { n: 1 }, maxAttempts: 1 });
    const locked = await client.lockJobById(job.id);
    await locked.error(new Error("boom: the mail server said no"));
    return job.id;
  }

  test("stats counts waiting, running, scheduled, failing and failed jobs per queue", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const hourAgo = new Date(Date.now() - 3600_000);
    await client.enqueueBatch([
      { type: "A", queue: "emails", runAt: hourAgo },
      { type: "A", queue: "emails" },
      { type: "A", queue: "emails", runAt: new Date(Date.now() + 3600_000) },
      { type: "B" },
    ]);
    const running = await client.enqueue({ type: "A", queue: "emails", runAt: hourAgo });
    await failedJob("emails");
    const held = await client.lockJobById(running.id); // a worker holding it
    try {
      const json = await gue(["stats", "--json"], { databaseUrl: db.url });
      assert.equal(json.code, 0, json.stderr);
      const { queues, throughput } = JSON.parse(json.stdout);
      assert.equal(throughput, null);
      const [def, emails] = queues;
      assert.deepEqual(
        { ...emails, oldestWaitingSince: undefined, oldestWaitingMs: undefined },
        {
          queue: "emails",
          waiting: 2,
          ready: 3,
          scheduled: 1,
          running: 1,
          failing: 0,
          failed: 1,
          oldestWaitingSince: undefined,
          oldestWaitingMs: undefined,
        },
      );
      // The oldest waiting job is the one due an hour ago, not the running one.
      assert.equal(emails.oldestWaitingSince, hourAgo.toISOString());
      assert.ok(emails.oldestWaitingMs >= 3600_000 && emails.oldestWaitingMs < 3700_000);
      assert.equal(def.queue, "");
      assert.equal(def.waiting, 1);

      const table = await gue(["stats"], { databaseUrl: db.url });
      assert.equal(table.code, 0, table.stderr);
      const lines = table.stdout.trimEnd().split("\n");
      assert.match(
        lines[0],
        /^QUEUE\s+WAITING\s+RUNNING\s+SCHEDULED\s+FAILING\s+FAILED\s+OLDEST WAITING$/,
      );
      assert.match(lines[1], /^\(default\)\s+1\s+0\s+0\s+0\s+0\s+\d+m?s$/);
      assert.match(lines[2], /^emails\s+2\s+1\s+1\s+0\s+1\s+1h0m$/);
    } finally {
      await held.done();
    }
  });

  test("stats --sample measures jobs finished per second from the table statistics", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    let exited = false;
    const run = gue(["stats", "--sample", "3", "--json"], { databaseUrl: db.url }).finally(() => {
      exited = true;
    });
    // Finish jobs one by one, in separate transactions, until stats has taken both samples: a
    // backend publishes its table statistics about once a second.
    let finished = 0;
    while (!exited) {
      const [job] = await client.enqueueBatch([{ type: "T" }]);
      const locked = await client.lockJobById(job.id);
      await locked.delete();
      await locked.done();
      finished++;
    }
    const done = await run;
    assert.equal(done.code, 0, done.stderr);
    const { throughput } = JSON.parse(done.stdout);
    assert.ok(throughput.seconds >= 3, JSON.stringify(throughput));
    assert.ok(throughput.finishedPerSecond > 0, JSON.stringify(throughput));
    assert.ok(
      throughput.finishedPerSecond <= finished,
      `${JSON.stringify(throughput)}, ${finished}`,
    );
  });

  test("list filters by queue, state and type, as a table or JSON, a page at a time", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const jobs = await client.enqueueBatch([
      { type: "A", queue: "q1", args: { i: 1 } },
      { type: "B", queue: "q1", args: { i: 2 } },
      { type: "A", queue: "q1", args: { i: 3 } },
      { type: "A", queue: "q2", runAt: new Date(Date.now() + 3600_000) },
    ]);
    const failed = await failedJob("q1");

    const all = await gue(["list", "--json"], { databaseUrl: db.url });
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(
      JSON.parse(all.stdout).jobs.map((j: { id: string }) => j.id),
      jobs.map((j) => j.id),
    );

    const q1a = await gue(["list", "-q", "q1", "-t", "A", "--json"], { databaseUrl: db.url });
    const page = JSON.parse(q1a.stdout);
    assert.deepEqual(page.jobs.map((j: { args: unknown }) => j.args), [{ i: 1 }, { i: 3 }]);
    assert.equal(page.next, null);

    const scheduled = await gue(["list", "--state", "scheduled", "--json"], {
      databaseUrl: db.url,
    });
    assert.deepEqual(JSON.parse(scheduled.stdout).jobs.map((j: { id: string }) => j.id), [
      jobs[3].id,
    ]);

    const dead = await gue(["list", "--state", "failed"], { databaseUrl: db.url });
    assert.equal(dead.code, 0, dead.stderr);
    const lines = dead.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^ID\s+QUEUE\s+TYPE\s+STATE\s+PRIORITY\s+FAILED AT\s+ERRORS\s+ARGS$/);
    assert.equal(lines.length, 2);
    assert.match(
      lines[1],
      new RegExp(
        `^${failed}\\s+q1\\s+Flaky\\s+failed \\(exhausted\\)\\s+0\\s+\\S+ \\S+Z\\s+1\\s+\\{"n":1\\}$`,
      ),
    );

    // Paging: the cursor goes to stderr and --after takes it.
    const first = await gue(["list", "-q", "q1", "-n", "2"], { databaseUrl: db.url });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout.trimEnd().split("\n").length, 3);
    const cursor = /^next page: --after (\S+)$/m.exec(first.stderr)?.[1];
    assert.ok(cursor, first.stderr);
    const second = await gue(["list", "-q", "q1", "-n", "2", "--after", cursor, "--json"], {
      databaseUrl: db.url,
    });
    assert.deepEqual(JSON.parse(second.stdout), {
      jobs: JSON.parse(second.stdout).jobs,
      next: null,
    });
    assert.deepEqual(JSON.parse(second.stdout).jobs.map((j: { id: string }) => j.id), [jobs[2].id]);

    const empty = await gue(["list", "-q", "nothing-here"], { databaseUrl: db.url });
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, "no jobs\n");

    const bad = await gue(["list", "--state", "done"], { databaseUrl: db.url });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /--state must be one of ready, scheduled, running, failing, failed, got "done"/,
    );
    const badLimit = await gue(["list", "--limit", "0"], { databaseUrl: db.url });
    assert.equal(badLimit.code, 2);
  });

  test("show prints a job with its args and last error; exit 3 for no such job", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const id = await failedJob("emails", "SendEmail");
    const run = await gue(["show", id.toLowerCase()], { databaseUrl: db.url });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`^id: +${id}$`, "m"));
    assert.match(run.stdout, /^state: +failed \(exhausted\)$/m);
    assert.match(run.stdout, /^max attempts: +1$/m);
    assert.match(run.stdout, /^args:\n {2}\{\n {4}"n": 1\n {2}\}$/m);
    assert.match(run.stdout, /^last error:\n {2}.*boom: the mail server said no/m);

    // Options of every command may come before the command's name.
    const json = await gue(["--database-url", db.url, "show", id, "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const job = JSON.parse(json.stdout);
    assert.equal(job.state, "failed");
    assert.deepEqual(job.args, { n: 1 });

    const missing = await gue(["show", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], { databaseUrl: db.url });
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /no job with id 01ARZ3NDEKTSV4RRFFQ69G5FAV/);
    const malformed = await gue(["show", "42"], { databaseUrl: db.url });
    assert.equal(malformed.code, 2);
    assert.match(malformed.stderr, /<id> must be a 26-character job id/);
  });

  test("retry moves a failed job back; a queued job is exit 4, an unknown id exit 3", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const id = await failedJob("emails");
    const run = await gue(["retry", id], { databaseUrl: db.url });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `retried ${id}\n`);
    const job = await client.getJob(id);
    assert.equal(job?.state, "ready");
    assert.equal(job?.errorCount, 0);

    const again = await gue(["retry", id], { databaseUrl: db.url });
    assert.equal(again.code, 4);
    assert.match(again.stderr, /is ready, not failed/);
    const missing = await gue(["retry", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], { databaseUrl: db.url });
    assert.equal(missing.code, 3);
    const both = await gue(["retry", id, "--all-failed"], { databaseUrl: db.url });
    assert.equal(both.code, 2);
  });

  test("retry --all-failed retries every failed job of a queue and type, and only those", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const a1 = await failedJob("q1", "A");
    const a2 = await failedJob("q1", "A");
    const b = await failedJob("q1", "B");
    const other = await failedJob("q2", "A");
    const run = await gue(["retry", "--all-failed", "-q", "q1", "-t", "A", "--run-at", "+1h"], {
      databaseUrl: db.url,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "retried 2 failed jobs\n");
    for (const id of [a1, a2]) assert.equal((await client.getJob(id))?.state, "scheduled");
    for (const id of [b, other]) assert.equal((await client.getJob(id))?.state, "failed");
    const rest = await gue(["retry", "--all-failed"], { databaseUrl: db.url });
    assert.equal(rest.stdout, "retried 2 failed jobs\n");
    const none = await gue(["retry", "--all-failed"], { databaseUrl: db.url });
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "retried 0 failed jobs\n");
  });

  test("delete removes a queued or a failed job; a running one is exit 4", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const queued = await client.enqueue({ type: "A" });
    const failed = await failedJob("q1");
    const running = await client.enqueue({ type: "A", queue: "busy" });
    for (const id of [queued.id, failed]) {
      const run = await gue(["delete", id], { databaseUrl: db.url });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `deleted ${id}\n`);
      assert.equal(await client.getJob(id), null);
    }
    const held = await client.lockJobById(running.id);
    try {
      const run = await gue(["delete", running.id], { databaseUrl: db.url });
      assert.equal(run.code, 4);
      assert.match(run.stderr, /is running: it cannot be deleted/);
    } finally {
      await held.done();
    }
    assert.equal((await client.getJob(running.id))?.state, "ready");
    const again = await gue(["delete", queued.id], { databaseUrl: db.url });
    assert.equal(again.code, 3);
  });

  test("cancel moves a queued job to the failed jobs and asks a running job's worker to stop it", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const job = await client.enqueue({ type: "A" });
    const run = await gue(["cancel", job.id], { databaseUrl: db.url });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `cancelled ${job.id}\n`);
    const info = await client.getJob(job.id);
    assert.equal(info?.state, "failed");
    assert.equal(info?.failReason, "cancelled");

    const again = await gue(["cancel", job.id], { databaseUrl: db.url });
    assert.equal(again.code, 4);
    assert.match(again.stderr, /is failed: it cannot be cancelled/);
    const missing = await gue(["cancel", "01ARZ3NDEKTSV4RRFFQ69G5FAV"], { databaseUrl: db.url });
    assert.equal(missing.code, 3);

    const running = await client.enqueue({ type: "A", queue: "busy" });
    const held = await client.lockJobById(running.id);
    try {
      const requested = await gue(["cancel", running.id], { databaseUrl: db.url });
      assert.equal(requested.code, 0, requested.stderr);
      assert.equal(requested.stdout, `cancellation requested for running job ${running.id}\n`);
    } finally {
      await held.done();
    }
  });

  test("cancel --wait returns once the running job's worker has stopped it", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const workerClient = new Client(postgresjs(sql), {
      logger: noopLogger,
      cancelPollInterval: 100,
    });
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const stop = new AbortController();
    const pool = new WorkerPool(
      workerClient,
      {
        Slow: (_job, ctx) => {
          started();
          // Runs until cancelled.
          return new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason))
          );
        },
      },
      1,
      { queue: "slow", pollInterval: 50, logger: noopLogger },
    );
    const workers = pool.run(stop.signal);
    try {
      const job = await client.enqueue({ type: "Slow", queue: "slow" });
      await running;
      const run = await gue(["cancel", job.id, "--wait", "--timeout", "30"], {
        databaseUrl: db.url,
      });
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, `cancelled ${job.id}\n`);
      const info = await client.getJob(job.id);
      assert.equal(info?.state, "failed");
      assert.equal(info?.failReason, "cancelled");
    } finally {
      stop.abort();
      await workers;
    }
  });

  test("show prints args that are not JSON as text, and binary args as base64", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const [text, binary] = await client.enqueueBatch([
      { type: "T", args: new TextEncoder().encode("plain <b>text</b>") },
      { type: "T", args: new Uint8Array([0xff, 0x00, 0x80]) },
    ]);
    const t = await gue(["show", text.id, "--json"], { databaseUrl: db.url });
    assert.deepEqual(JSON.parse(t.stdout).args, { text: "plain <b>text</b>" });
    const b = await gue(["show", binary.id, "--json"], { databaseUrl: db.url });
    assert.deepEqual(JSON.parse(b.stdout).args, { base64: "/wCA" });
  });

  test("dashboard serves the web dashboard until SIGTERM, then exits 0", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    await client.enqueue({ type: "A", queue: "dash-queue" });
    const env: Record<string, string> = { ...process.env, DATABASE_URL: db.url } as Record<
      string,
      string
    >;
    const child = spawn(process.execPath, [...command, "dashboard", "--port", "0"], {
      cwd: root,
      env,
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          const m = /^(http:\/\/\S+)$/m.exec(out);
          if (m) resolve(m[1]);
        });
        child.on("close", () => reject(new Error(`exited before serving: ${stderr}`)));
      });
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /dash-queue/);
      assert.match(stderr, /serving read-only/);
    } finally {
      // Not child.kill(): Deno's child_process then reports the signal, not the exit code.
      process.kill(child.pid!, "SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /SIGTERM, stopping/);
  });

  test("bench measures enqueue and work in a scratch database it drops", async () => {
    const run = await gue([
      "bench",
      "--jobs",
      "100",
      "--workers",
      "2",
      "--producers",
      "2",
      "--json",
    ], {
      databaseUrl: db.url,
    });
    assert.equal(run.code, 0, run.stderr);
    const figures = JSON.parse(run.stdout) as {
      name: string;
      jobs: number;
      jobsPerSecond: number;
    }[];
    assert.deepEqual(figures.map((f) => f.name), [
      "enqueue, 2 producers",
      "enqueueBatch, 1000 a batch",
      "work, 2 workers",
    ]);
    for (const f of figures) assert.ok(f.jobsPerSecond > 0, JSON.stringify(f));
    const scratch = /scratch database (gue_bench_\w+)/.exec(run.stderr)?.[1];
    assert.ok(scratch, run.stderr);
    const left = await sql`SELECT 1 FROM pg_database WHERE datname = ${scratch}`;
    assert.equal(left.length, 0, "the scratch database is dropped");
  });

  test("bench --in-place works in a queue of its own and leaves no job behind", async () => {
    await sql`TRUNCATE gue_jobs, gue_failed_jobs`;
    const mine = await client.enqueue({ type: "Mine" });
    const run = await gue([
      "bench",
      "--in-place",
      "--jobs",
      "100",
      "--workers",
      "1",
      "--producers",
      "1",
    ], {
      databaseUrl: db.url,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^work, 1 worker\s+99\s+[\d.]+\s+\d+$/m);
    const rows = await sql`SELECT job_id FROM gue_jobs`;
    assert.deepEqual(rows.map((r) => r.job_id), [mine.id]);
  });
});
