/**
 * Jobs enqueued and finished per second over the last minutes, from the server's table
 * statistics (`jobTableActivity`). gue deletes a finished job, so no table remembers past work;
 * instead the dashboard samples the running totals while someone is looking (each refresh of
 * the queues page takes at most one sample a second) and charts the differences. No timer runs in
 * the background, so the handler needs no closing; the chart starts when the page is opened.
 *
 * @module
 */
import type { Queryable } from "../adapter.ts";
import { jobTableActivity } from "../sql.ts";

/** One point of the chart: rates over the `window` before `at`. */
export interface ThroughputPoint {
  /** When, in ms since the epoch. */
  readonly at: number;
  /** Rows inserted into `gue_jobs` per second: jobs enqueued (and failed jobs retried). */
  readonly enqueued: number;
  /** Rows deleted per second: jobs finished, discarded, moved to the failed jobs or deleted. */
  readonly finished: number;
}

interface Sample {
  at: number;
  inserted: number;
  deleted: number;
}

/** Samples and keeps the totals; one per dashboard. */
export class Throughput {
  readonly #db: Queryable;
  readonly #minInterval: number;
  readonly #window: number;
  readonly #keep: number;
  readonly #samples: Sample[] = [];
  #pending: Promise<void> | undefined;
  /** Why the last sample failed (the statistics view may be unavailable), or null. */
  error: string | null = null;

  /**
   * @param db Where `gue_jobs` lives.
   * @param options `minInterval` between samples, the smoothing `window`, how long to `keep`
   * samples (all ms).
   */
  constructor(
    db: Queryable,
    options: { minInterval?: number; window?: number; keep?: number } = {},
  ) {
    this.#db = db;
    this.#minInterval = options.minInterval ?? 1000;
    this.#window = options.window ?? 10_000;
    this.#keep = options.keep ?? 5 * 60_000;
  }

  /**
   * Takes a sample unless one was taken less than `minInterval` ago or one is in flight.
   *
   * @param now The clock, in ms.
   */
  sample(now: number = Date.now()): Promise<void> {
    const last = this.#samples.at(-1);
    if (this.#pending !== undefined) return this.#pending;
    if (last !== undefined && now - last.at < this.#minInterval) return Promise.resolve();
    this.#pending = this.#read(now).finally(() => this.#pending = undefined);
    return this.#pending;
  }

  async #read(now: number): Promise<void> {
    try {
      const { rows } = await this.#db.query<{ inserted: unknown; deleted: unknown }>(
        jobTableActivity,
      );
      if (rows.length === 0) throw new Error("no statistics for gue_jobs");
      this.error = null;
      this.#samples.push({
        at: now,
        inserted: Number(rows[0].inserted),
        deleted: Number(rows[0].deleted),
      });
      while (this.#samples.length > 2 && now - this.#samples[0].at > this.#keep) {
        this.#samples.shift();
      }
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  /**
   * The chart's points: for each sample, the rates since the last sample at least `window`
   * earlier (or the first), which smooths the server's once-a-second publishing.
   *
   * @returns Points, oldest first; empty before two samples.
   */
  points(): ThroughputPoint[] {
    const s = this.#samples;
    const out: ThroughputPoint[] = [];
    let j = 0;
    for (let i = 1; i < s.length; i++) {
      while (j + 1 < i && s[j + 1].at <= s[i].at - this.#window) j++;
      const seconds = (s[i].at - s[j].at) / 1000;
      if (seconds <= 0) continue;
      // A statistics reset makes the totals go down: show nothing rather than a negative rate.
      out.push({
        at: s[i].at,
        enqueued: Math.max(0, s[i].inserted - s[j].inserted) / seconds,
        finished: Math.max(0, s[i].deleted - s[j].deleted) / seconds,
      });
    }
    return out;
  }
}
