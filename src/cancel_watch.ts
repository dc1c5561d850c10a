/**
 * Cancelling running jobs: a running job's row is locked by its worker, so `client.cancelJob()`
 * records the request in `gue_job_cancellations` instead, and each client looks there for the
 * jobs its workers are running, with one small query per interval while any runs (none when
 * idle). A request found aborts that job's handler signal with a `JobCancelledError`.
 *
 * When the client listens, `cancelJob()` also sends `cancel|<id>` on the wake-up channel and the
 * watch looks at once ({@linkcode CancelWatch.check}). The poll stays as the fallback: it also
 * finds requests made while the worker's process was down or its listening connection was lost,
 * or by adapters that cannot listen, and costs nothing while no job runs.
 *
 * @module
 */
import type { Queryable } from "./adapter.ts";
import { JobCancelledError } from "./dead_letter.ts";
import { type Logger, safeLog } from "./logger.ts";
import { jobCancellationFind } from "./sql.ts";

/** What a cancellation aborts: an `AbortController`, or anything shaped like one. */
export interface Abortable {
  /** Whether it was aborted. */
  readonly signal: { readonly aborted: boolean };
  /** Aborts it with `reason`. */
  abort(reason?: unknown): void;
}

/** Watches the running jobs of one client for cancellation requests. */
export class CancelWatch {
  readonly #db: Queryable;
  readonly #interval: number;
  readonly #logger: Logger;
  readonly #jobs = new Map<string, Abortable>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #polling = false;
  #again = false;

  /**
   * @param db Where to look.
   * @param interval How often, in ms, while jobs run.
   * @param logger Where a failed look is logged.
   */
  constructor(db: Queryable, interval: number, logger: Logger) {
    this.#db = db;
    this.#interval = interval;
    this.#logger = logger;
  }

  /**
   * Watches a running job until the returned function is called.
   *
   * @param id The job's id.
   * @param controller Aborted with a `JobCancelledError` when the job is cancelled.
   * @returns Stops watching it.
   */
  watch(id: string, controller: Abortable): () => void {
    this.#jobs.set(id, controller);
    this.#arm();
    return () => {
      if (this.#jobs.get(id) === controller) this.#jobs.delete(id);
      // The timer runs out even when this was the last job: it then finds none and stops,
      // without a query. Clearing it here would set and clear a timer a job for jobs that end
      // and start back to back (a batch, one busy worker), tens of µs each on Deno.
    };
  }

  /**
   * A cancellation of `id` was announced: looks at once when this client runs that job (or once
   * more right after a look in flight).
   *
   * @param id The job's id.
   */
  check(id: string): void {
    if (!this.#jobs.has(id)) return;
    this.#again = true;
    if (this.#polling) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#arm();
  }

  #arm(): void {
    if (this.#timer !== undefined || this.#polling || this.#jobs.size === 0) return;
    this.#timer = setTimeout(() => void this.#poll(), this.#again ? 0 : this.#interval);
  }

  async #poll(): Promise<void> {
    this.#timer = undefined;
    if (this.#jobs.size === 0) return; // Idle: no query, and no timer until a job runs.
    this.#again = false;
    this.#polling = true;
    try {
      const ids = [...this.#jobs.keys()];
      const { rows } = await this.#db.query<{ job_id: string }>(jobCancellationFind, [
        JSON.stringify(ids),
      ]);
      for (const { job_id } of rows) {
        const controller = this.#jobs.get(job_id);
        if (controller !== undefined && !controller.signal.aborted) {
          controller.abort(new JobCancelledError(job_id));
        }
      }
    } catch (err) {
      safeLog(this.#logger, "error", "Failed to look for cancelled jobs", { error: err });
    } finally {
      this.#polling = false;
      this.#arm();
    }
  }
}

const watches = new WeakMap<object, CancelWatch>();

/**
 * Used by the client: gives it a watch. Not part of the public API.
 *
 * @param client The client.
 * @param watch Its watch.
 */
export function setCancelWatch(client: object, watch: CancelWatch): void {
  watches.set(client, watch);
}

/**
 * Used by workers: the client's watch, or `undefined` when it does not watch.
 *
 * @param client The client.
 * @returns Its watch.
 */
export function cancelWatchOf(client: object): CancelWatch | undefined {
  return watches.get(client);
}
