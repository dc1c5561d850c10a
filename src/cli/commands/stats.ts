/**
 * `gue stats`: the jobs of every queue by state, the age of the oldest waiting job, and on
 * request the rate at which jobs finish.
 *
 * @module
 */
import { jobTableActivity } from "../../sql.ts";
import { type Command, flag, integerOption } from "../command.ts";
import { withConnection } from "../connect.ts";
import { ExitCode } from "../exit_codes.ts";
import { renderTable } from "../table.ts";
import { formatAge } from "../time.ts";

/** One queue's line of `gue stats --json`. */
export interface QueueStats {
  /** The queue (`""` is the default queue). */
  queue: string;
  /** Due now and not running: waiting for a worker. */
  waiting: number;
  /** Due now, including running (the client's `countJobs().ready`). */
  ready: number;
  /** Due later. */
  scheduled: number;
  /** Locked by a worker's open transaction. */
  running: number;
  /** With failures, waiting for a retry. */
  failing: number;
  /** Dead-lettered. */
  failed: number;
  /** When the oldest waiting job was due, or `null` when none waits. */
  oldestWaitingSince: string | null;
  /** How long it has waited, in ms, or `null`. */
  oldestWaitingMs: number | null;
}

/** Rows inserted into and deleted from `gue_jobs` per second over a window, all queues together. */
export interface Throughput {
  /** The window, in seconds. */
  seconds: number;
  /** Jobs enqueued (and failed jobs retried) per second. */
  enqueuedPerSecond: number;
  /** Jobs finished (done, discarded, dead-lettered or deleted) per second. */
  finishedPerSecond: number;
}

/** `gue stats`. */
export const statsCommand: Command = {
  name: "stats",
  summary: "Show every queue's jobs by state and the oldest waiting job's age",
  usage: "stats [options]",
  description: `
Prints one row per queue that has jobs: WAITING (due now, no worker has it yet), RUNNING (a
worker holds it), SCHEDULED (due later), FAILING (has failed before, waiting for a retry; among
the waiting and scheduled), FAILED (dead-lettered), and how long the oldest waiting job has been
due. The default queue is shown as (default).

gue deletes a job once it is done, so the database keeps no history of finished work. With
--sample SECONDS, stats reads the server's table statistics twice, SECONDS apart, and adds the
jobs finished and enqueued per second over that window (all queues together; PostgreSQL
publishes these counters about once a second, so use 5 or more).

Exit codes: 0 done, 1 the database failed.`,
  options: {
    json: { type: "boolean", help: "print JSON ({ queues, throughput }) instead of a table" },
    sample: {
      type: "string",
      value: "SECONDS",
      help: "also measure jobs finished and enqueued per second over SECONDS (1-3600)",
    },
  },
  positionals: { min: 0, max: 0, names: "" },
  async run({ values, io }) {
    const sample = integerOption(values, "sample", "stats", { min: 1, max: 3600 });
    const { queues, throughput } = await withConnection(values, io, "stats", async ({ client }) => {
      const before = sample === undefined ? undefined : await activity(client.pool);
      const started = performance.now();
      const counts = await client.countJobs();
      const now = Date.now();
      const queues: QueueStats[] = await Promise.all(counts.map(async (c) => {
        // The queue's index serves this: oldest due first, skipping running rows.
        const waiting = c.ready - c.running;
        const oldest = waiting > 0
          ? (await client.listJobs({ queue: c.queue, state: "ready", limit: 1 })).jobs[0]
          : undefined;
        return {
          queue: c.queue,
          waiting,
          ready: c.ready,
          scheduled: c.scheduled,
          running: c.running,
          failing: c.failing,
          failed: c.failed,
          oldestWaitingSince: oldest ? oldest.runAt.toISOString() : null,
          oldestWaitingMs: oldest ? Math.max(0, now - oldest.runAt.getTime()) : null,
        };
      }));
      let throughput: Throughput | null = null;
      if (before !== undefined && sample !== undefined) {
        const rest = sample * 1000 - (performance.now() - started);
        if (rest > 0) await new Promise((r) => setTimeout(r, rest));
        const after = await activity(client.pool);
        const seconds = (after.at - before.at) / 1000;
        throughput = {
          seconds: Math.round(seconds * 10) / 10,
          enqueuedPerSecond: round((after.inserted - before.inserted) / seconds),
          finishedPerSecond: round((after.deleted - before.deleted) / seconds),
        };
      }
      return { queues, throughput };
    });
    if (flag(values, "json")) {
      io.out(JSON.stringify({ queues, throughput }));
      return ExitCode.Ok;
    }
    if (queues.length === 0) io.out("no jobs");
    else {
      const n = (x: number) => String(x);
      const lines = renderTable(
        [
          { header: "QUEUE" },
          { header: "WAITING", numeric: true },
          { header: "RUNNING", numeric: true },
          { header: "SCHEDULED", numeric: true },
          { header: "FAILING", numeric: true },
          { header: "FAILED", numeric: true },
          { header: "OLDEST WAITING", numeric: true },
        ],
        queues.map((q) => [
          q.queue || "(default)",
          n(q.waiting),
          n(q.running),
          n(q.scheduled),
          n(q.failing),
          n(q.failed),
          q.oldestWaitingMs === null ? "-" : formatAge(q.oldestWaitingMs),
        ]),
      );
      for (const line of lines) io.out(line);
    }
    if (throughput) {
      io.out(
        `over ${throughput.seconds}s, all queues: ${throughput.finishedPerSecond} jobs/s finished, ` +
          `${throughput.enqueuedPerSecond} jobs/s enqueued`,
      );
    }
    return ExitCode.Ok;
  },
};

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

async function activity(
  db: { query<R>(text: string): Promise<{ rows: R[] }> },
): Promise<{ at: number; inserted: number; deleted: number }> {
  const { rows } = await db.query<{ inserted: unknown; deleted: unknown }>(jobTableActivity);
  const at = performance.now();
  if (rows.length === 0) return { at, inserted: 0, deleted: 0 };
  return { at, inserted: Number(rows[0].inserted), deleted: Number(rows[0].deleted) };
}
