/**
 * Failed polls are visible without configuring anything, and do not flood the log: the default
 * logger writes the first failure at once, then at most one line per interval.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Client,
  type ConnPool,
  errorLogger,
  type LogFields,
  noopLogger,
  Worker,
  WorkerPool,
} from "../mod.ts";
import { PollFailureLog } from "../src/poll_failure_log.ts";
import { createTestDatabase, openTestPool, type TestDatabase, waitFor } from "./_db.ts";

/** Runs `fn` with console.error captured; returns what it printed. */
async function capturingStderr(fn: () => Promise<void>): Promise<string[]> {
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => void lines.push(args.map(String).join(" "));
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines;
}

describe("PollFailureLog", () => {
  function recording() {
    const lines: { level: string; msg: string; fields?: LogFields }[] = [];
    const at = (level: string) => (msg: string, fields?: LogFields) =>
      void lines.push({ level, msg, fields });
    return { lines, logger: { debug: at("debug"), info: at("info"), error: at("error") } };
  }

  test("logs the first failure at once, then one line per interval with the count since", () => {
    let now = 1_000;
    const log = new PollFailureLog(30_000, () => now);
    const { lines, logger } = recording();
    const err = new Error("connection refused");
    log.failed(logger, err);
    assert.deepEqual(lines, [{
      level: "error",
      msg: "Worker failed to lock a job",
      fields: { error: err },
    }]);
    for (let i = 0; i < 9; i++) {
      now += 1_000;
      log.failed(logger, err);
    }
    assert.equal(lines.length, 1, "nine more failures within the interval: no line");
    now = 31_000;
    log.failed(logger, err);
    assert.deepEqual(lines[1], {
      level: "error",
      msg: "Worker failed to lock a job",
      fields: { error: err, "failed-polls": 10 },
    });
    now += 29_999;
    log.failed(logger, err);
    assert.equal(lines.length, 2);
  });

  test("says once when polling recovers, and logs the next failure at once again", () => {
    let now = 0;
    const log = new PollFailureLog(30_000, () => now);
    const { lines, logger } = recording();
    log.succeeded(logger);
    assert.equal(lines.length, 0, "nothing to say without failures");
    log.failed(logger, new Error("a"));
    log.failed(logger, new Error("b"));
    log.failed(logger, new Error("c"));
    log.succeeded(logger);
    log.succeeded(logger);
    assert.deepEqual(lines.slice(1), [{
      level: "info",
      msg: "Worker polling recovered",
      fields: { "failed-polls": 3 },
    }]);
    now += 1;
    log.failed(logger, new Error("d"));
    assert.equal(lines.length, 3);
    assert.equal(lines[2].msg, "Worker failed to lock a job");
    assert.equal(lines[2].fields?.["failed-polls"], undefined, "a new run of failures");
  });
});

describe("the default logger", () => {
  // A database without gue_jobs: every poll fails, as on a fresh install without migrate().
  let db: TestDatabase;
  let pool: ConnPool;
  before(async () => {
    db = await createTestDatabase();
    pool = await openTestPool(db.url, 6);
  });
  after(async () => {
    await pool?.close();
    await db?.drop();
  });

  /** Runs `make()`'s worker or pool until its jobLocked hook has seen `polls` failed polls. */
  async function failPolls(
    polls: number,
    make: (hooks: { jobLocked: [() => void] }) => Worker | WorkerPool,
  ): Promise<void> {
    let failed = 0;
    const runner = make({ jobLocked: [() => void failed++] });
    const stop = new AbortController();
    const running = runner.run(stop.signal);
    try {
      await waitFor(() => failed >= polls, 15_000, `${polls} failed polls`);
    } finally {
      stop.abort();
      await running;
    }
  }

  test("writes one error line for a worker whose polls all fail, not one per poll", async () => {
    const client = new Client(pool);
    const lines = await capturingStderr(() =>
      failPolls(8, (hooks) => new Worker(client, {}, { id: "w-default", pollInterval: 10, hooks }))
    );
    assert.equal(lines.length, 1, `one line for eight failed polls:\n${lines.join("\n")}`);
    assert.match(lines[0], /^gue: Worker failed to lock a job worker-id=w-default error=/);
    assert.match(lines[0], /gue_jobs/);
    assert.match(lines[0], /call client\.migrate\(\)/, "and says how to fix it");
  });

  test("writes one line for a whole WorkerPool", async (tt) => {
    if (!pool.capabilities.concurrentTransactions) {
      console.log(`skipped: ${pool.name} runs one transaction at a time: no pool of 3`);
      return tt.skip("no concurrent transactions");
    }
    const client = new Client(pool);
    const lines = await capturingStderr(() =>
      failPolls(12, (hooks) => new WorkerPool(client, {}, 3, { pollInterval: 10, hooks }))
    );
    assert.equal(lines.length, 1, `one line for the pool:\n${lines.join("\n")}`);
    assert.match(lines[0], /^gue: Worker failed to lock a job worker-pool-id=\S+ worker-id=/);
  });

  test("noopLogger keeps a failing worker silent", async () => {
    const client = new Client(pool, { logger: noopLogger });
    const lines = await capturingStderr(() =>
      failPolls(
        3,
        (hooks) => new Worker(client, {}, { pollInterval: 10, hooks, logger: noopLogger }),
      )
    );
    assert.deepEqual(lines, []);
  });

  test("errorLogger writes errors only, as one key=value line", async () => {
    const lines = await capturingStderr(() => {
      errorLogger.debug("Job finished", { "job-id": "x" });
      errorLogger.info("Worker finished");
      errorLogger.error("Failed", {
        "worker-id": "w1",
        error: new Error('boom "quoted"'),
        n: 3,
        empty: "",
        skipped: undefined,
        obj: { a: 1 },
      });
      return Promise.resolve();
    });
    assert.deepEqual(lines, [
      'gue: Failed worker-id=w1 error="boom \\"quoted\\"" n=3 empty="" obj="{\\"a\\":1}"',
    ]);
  });
});
