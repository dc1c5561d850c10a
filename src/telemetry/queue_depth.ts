/**
 * `gue_jobs_waiting` (ours): an observable gauge of the jobs waiting per queue, read through the
 * client's `countJobs()` at most once per interval however often metrics are collected.
 *
 * @module
 */
import { type Attributes, type Meter, type ObservableResult, ValueType } from "@opentelemetry/api";
import type { QueueCount } from "../client.ts";
import { type Logger, safeLog } from "../logger.ts";
import { MAX_CACHED } from "./attributes.ts";
import { METRIC_JOBS_WAITING } from "./names.ts";

/** Options of the queue-depth gauge (`ClientOptions.queueDepth`). */
export interface QueueDepthOptions {
  /**
   * Reuse a reading for this long, in ms: however often metrics are collected, the table is
   * counted at most once per interval per client.
   * @default {5000}
   */
  interval?: number;
}

/**
 * Registers `gue_jobs_waiting`, an observable gauge of the jobs per queue: `state: "ready"`
 * (due now; this includes jobs being worked right now, whose rows are locked) and
 * `state: "scheduled"` (due later). Read with `count`, cached for `interval`. A queue that
 * empties reports 0 rather than disappearing; a failed read reports nothing and is logged.
 *
 * @param meter Where to register the gauge.
 * @param count Reads the counts (the client's `countJobs`).
 * @param options The cache interval.
 * @param logger Where a failed count is reported.
 */
export function observeQueueDepth(
  meter: Meter,
  count: () => Promise<readonly QueueCount[]>,
  options: QueueDepthOptions,
  logger: Logger,
): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("queueDepth must be true or an object { interval?: number }");
  }
  const interval = options.interval ?? 5000;
  if (typeof interval !== "number" || !(interval >= 0) || !Number.isFinite(interval)) {
    throw new RangeError(`queueDepth.interval must be a number of ms >= 0, got ${interval}`);
  }
  const gauge = meter.createObservableGauge(METRIC_JOBS_WAITING, {
    description: "Number of jobs waiting in a queue: ready to run now, or scheduled for later",
    unit: "1",
    valueType: ValueType.INT,
  });
  const attrs = new Map<string, readonly [Attributes, Attributes]>();
  const attrsOf = (queue: string) => {
    let pair = attrs.get(queue);
    if (pair === undefined) {
      pair = [
        Object.freeze({ "job-queue": queue, state: "ready" }),
        Object.freeze({ "job-queue": queue, state: "scheduled" }),
      ];
      if (attrs.size < MAX_CACHED) attrs.set(queue, pair);
    }
    return pair;
  };
  // The latest reading per queue; a queue seen once stays, at 0 once its jobs are gone.
  const depth = new Map<string, [ready: number, scheduled: number]>();
  let readAt = -Infinity;
  let reading: Promise<void> | undefined;

  const read = async () => {
    try {
      const counts = await count();
      for (const counted of depth.values()) counted[0] = counted[1] = 0;
      for (const { queue, ready, scheduled } of counts) {
        if (!depth.has(queue) && depth.size >= MAX_CACHED) continue;
        depth.set(queue, [ready, scheduled]);
      }
    } catch (err) {
      // Report nothing rather than stale numbers; try again after the interval.
      depth.clear();
      safeLog(logger, "error", "Failed to count waiting jobs", { error: err });
    } finally {
      readAt = performance.now();
    }
  };

  gauge.addCallback(async (result: ObservableResult) => {
    if (performance.now() - readAt >= interval) {
      reading ??= read().finally(() => reading = undefined);
      await reading;
    }
    for (const [queue, [ready, scheduled]] of depth) {
      const [readyAttrs, scheduledAttrs] = attrsOf(queue);
      result.observe(ready, readyAttrs);
      result.observe(scheduled, scheduledAttrs);
    }
  });
}
