/**
 * The client's metrics: `gue_client_enqueue` and `gue_client_lock_job`, with gue's names,
 * units and attributes.
 *
 * @module
 */
import type { Counter, Meter } from "@opentelemetry/api";
import { counter, OutcomeAttributes } from "./attributes.ts";
import { METRIC_CLIENT_ENQUEUE, METRIC_CLIENT_LOCK_JOB } from "./names.ts";

/** The client's instruments; without a meter every method does nothing. */
export class ClientMetrics {
  readonly #enqueue?: Counter;
  readonly #lockJob?: Counter;
  readonly #attrs = new OutcomeAttributes();

  /** @param meter Where to create the instruments; none: record nothing. */
  constructor(meter: Meter | undefined) {
    if (meter === undefined) return;
    this.#enqueue = counter(meter, METRIC_CLIENT_ENQUEUE, "Number of jobs being enqueued");
    this.#lockJob = counter(
      meter,
      METRIC_CLIENT_LOCK_JOB,
      "Number of jobs being locked (consumed)",
    );
  }

  /** +1 per job after an INSERT attempt (gue: not for validation errors, which come before). */
  enqueued(jobs: readonly { readonly type: string }[], success: boolean): void {
    const enqueue = this.#enqueue;
    if (enqueue === undefined) return;
    for (const job of jobs) enqueue.add(1, this.#attrs.get(job.type, success));
  }

  /** +1 with the job's type for a locked job (gue: not for empty polls or query errors). */
  locked(type: string): void {
    this.#lockJob?.add(1, this.#attrs.get(type, true));
  }

  /** +1 with type `""`, success false, when no transaction could be opened to lock a job. */
  beginFailed(): void {
    this.#lockJob?.add(1, this.#attrs.get("", false));
  }
}
