/**
 * Every file in examples/ does what its doc comment says and exits on its own (none calls
 * `process.exit` on success): a pool or timer left open would keep it running past the timeout.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createTestDatabase, waitFor } from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// Far longer than any example needs (the demo, the slowest, takes about 3 s).
const timeoutMs = 60_000;

/** A running example: its output so far, and how it ended. */
interface RunningExample {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; out: string; timedOut: boolean }>;
}

/** Starts an example file with the current runtime; it is killed after `timeoutMs`. */
function startExample(
  file: string,
  env: Record<string, string>,
  args: string[] = [],
): RunningExample {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const argv = isDeno ? ["run", "-A", file, ...args] : [file, ...args];
  const child = spawn(process.execPath, argv, { cwd: root, env: { ...process.env, ...env } });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<{ code: number | null; out: string; timedOut: boolean }>(
    (resolve, reject) => {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out, timedOut });
      });
    },
  );
  return { child, output: () => out, exited };
}

/** Runs an example to its end; fails when it is still running after `timeoutMs`. */
async function runExample(
  file: string,
  env: Record<string, string>,
  args: string[] = [],
): Promise<{ code: number | null; out: string }> {
  const { code, out, timedOut } = await startExample(file, env, args).exited;
  assert.equal(timedOut, false, `${file} still running after ${timeoutMs} ms:\n${out}`);
  return { code, out };
}

describe("examples", { timeout: timeoutMs + 30_000 }, () => {
  test("the demo works every job, the delayed one and the retried one included", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await runExample("examples/demo.ts", { DATABASE_URL: db.url });
      assert.equal(code, 0, out);
      assert.match(out, /Hello, gue!/);
      assert.match(out, /failed: mail server unavailable/);
      assert.match(out, /report sent on try 2/);
      assert.match(out, /Hello, the future/);
      assert.match(out, /all 4 jobs done/);
    } finally {
      await db.drop();
    }
  });

  test("transactional enqueue keeps the committed job and drops the rolled-back one", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await runExample("examples/transactional.ts", { DATABASE_URL: db.url });
      assert.equal(code, 0, out);
      assert.match(out, /receipt jobs: 1 \(expected 1\)/);
    } finally {
      await db.drop();
    }
  });

  test("the OpenTelemetry example prints spans and metrics for the three jobs", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await runExample("examples/otel.ts", { DATABASE_URL: db.url });
      assert.equal(code, 0, out);
      assert.match(out, /worked 3 jobs/);
      assert.match(out, /Worker\.WorkOne/);
      assert.match(out, /gue_worker_jobs_worked/);
    } finally {
      await db.drop();
    }
  });

  test("the worker works what enqueue.ts enqueues and stops on SIGTERM", async () => {
    const db = await createTestDatabase();
    const env = { DATABASE_URL: db.url, GUE_QUEUE: "examples_test", GUE_POLL_INTERVAL: "100" };
    const worker = startExample("examples/worker.ts", env);
    try {
      await waitFor(() => worker.output().includes("Ctrl-C stops"), timeoutMs, "the worker");
      const enqueued = await runExample("examples/enqueue.ts", env, ["alice", "bob"]);
      assert.equal(enqueued.code, 0, enqueued.out);
      assert.equal(enqueued.out.match(/enqueued PrintName /g)?.length, 2, enqueued.out);
      await waitFor(
        () => /Hello alice!/.test(worker.output()) && /Hello bob!/.test(worker.output()),
        timeoutMs,
        "both greetings",
      );
      // process.kill, not child.kill: after child.kill() Deno's node:child_process reports the
      // signal as the cause of exit even when the child exits 0 by itself.
      process.kill(worker.child.pid!, "SIGTERM");
      const { code, out, timedOut } = await worker.exited;
      assert.equal(timedOut, false, `the worker still running after SIGTERM:\n${out}`);
      assert.equal(code, 0, out);
      assert.match(out, /SIGTERM: finishing the jobs in hand[\s\S]*stopped/);
    } finally {
      worker.child.kill("SIGKILL");
      await worker.exited;
      await db.drop();
    }
  });
});
