/**
 * Rate-limited logging of failed polls. A worker whose every poll fails (no `gue_jobs` table, a
 * server refusing connections) would otherwise write one line per poll — or, with gue's silent
 * default, nothing at all. It writes the first failure at once, then at most one line per
 * interval saying how many polls failed since the previous line, and one line when a poll
 * succeeds again.
 *
 * @module
 */
import { type Logger, safeLog } from "./logger.ts";

/** At most one "failed to lock" line per this many ms while polls keep failing. */
export const POLL_FAILURE_LOG_INTERVAL = 30_000;

/** Logs failed polls: the first at once, then at most one line per interval, then a recovery. */
export class PollFailureLog {
  readonly #interval: number;
  readonly #now: () => number;
  #failing = false;
  #total = 0;
  #sinceLine = 0;
  #lineAt = 0;

  /**
   * @param interval The least time between two lines, in ms.
   * @param now The clock, in ms (tests pin it).
   */
  constructor(interval = POLL_FAILURE_LOG_INTERVAL, now: () => number = () => performance.now()) {
    this.#interval = interval;
    this.#now = now;
  }

  /**
   * A poll failed with `err`. The first failure of a run of them is logged at once with gue's
   * message and `error`; later ones once the interval has passed, with `failed-polls`: the polls
   * that failed since the previous line, this one included.
   */
  failed(logger: Logger, err: unknown): void {
    this.#total++;
    this.#sinceLine++;
    const now = this.#now();
    if (this.#failing && now - this.#lineAt < this.#interval) return;
    const fields = this.#failing ? { error: err, "failed-polls": this.#sinceLine } : { error: err };
    this.#failing = true;
    this.#lineAt = now;
    this.#sinceLine = 0;
    safeLog(logger, "error", "Worker failed to lock a job", fields);
  }

  /**
   * A poll succeeded (found a job or none). After failures, logs (info) that polling recovered,
   * with `failed-polls`: how many failed in all.
   */
  succeeded(logger: Logger): void {
    if (!this.#failing) return;
    safeLog(logger, "info", "Worker polling recovered", { "failed-polls": this.#total });
    this.#failing = false;
    this.#total = 0;
    this.#sinceLine = 0;
  }
}
