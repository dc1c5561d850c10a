/**
 * Dead letters: the errors that move a job to `gue_failed_jobs` at once instead of retrying it,
 * and what the client does with a discarded job.
 *
 * @module
 */
import type { FailReason } from "./inspect.ts";

/**
 * What happens to a discarded job (a `discardJob()` outcome, or a backoff that gives up):
 * `"deadLetter"` moves it to `gue_failed_jobs` with reason `"discarded"`; `"delete"` deletes it,
 * as gue does.
 */
export type OnDiscard = "deadLetter" | "delete";

/** Which of a job's failures end it: read by `job.error()`. */
export interface FailurePolicy {
  /** What to do with a discarded job. */
  readonly onDiscard: OnDiscard;
}

/** The default policy: discarded jobs are kept as failed jobs. */
export const DEFAULT_FAILURE_POLICY: FailurePolicy = Object.freeze({ onDiscard: "deadLetter" });

/**
 * An error that dead-letters its job at once, whatever attempts are left, with its `reason`.
 * The worker recognises it also in a `cause` chain.
 */
export class DeadLetterError extends Error {
  /** Why the job is dead-lettered. */
  readonly reason: FailReason;

  /**
   * Makes an error that dead-letters its job with `reason`.
   *
   * @param reason Why the job is dead-lettered.
   * @param message Stored as the job's last error.
   * @param options `cause`.
   */
  constructor(reason: FailReason, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DeadLetterError";
    this.reason = reason;
  }
}

/**
 * A job was cancelled with `client.cancelJob()` while it ran: its handler's `ctx.signal` aborts
 * with this error as its reason, and the job ends as failed with reason `"cancelled"`, whatever
 * the handler then throws or returns.
 */
export class JobCancelledError extends DeadLetterError {
  /**
   * Makes the abort reason of a cancelled job's handler.
   *
   * @param id The cancelled job's id.
   */
  constructor(id: string) {
    super("cancelled", `job ${id} was cancelled`);
    this.name = "JobCancelledError";
  }
}

/**
 * A job's args failed its job type's validation: the job ends as failed with reason
 * `"invalid"` and the validation's message, instead of being retried.
 */
export class InvalidJobArgsError extends DeadLetterError {
  /** The validator's issues, as it gave them. */
  readonly issues: readonly unknown[];

  /**
   * Makes the error of a job whose args failed validation.
   *
   * @param type The job type.
   * @param message What was wrong.
   * @param issues The validator's issues.
   */
  constructor(type: string, message: string, issues: readonly unknown[] = []) {
    super("invalid", `invalid args for job type ${JSON.stringify(type)}: ${message}`);
    this.name = "InvalidJobArgsError";
    this.issues = issues;
  }
}

/**
 * The {@linkcode DeadLetterError} in `err` or its `cause` chain, if any.
 *
 * @param err What a handler threw.
 * @returns The error that dead-letters the job, or `undefined`.
 */
export function findDeadLetter(err: unknown): DeadLetterError | undefined {
  for (let e = err, depth = 0; e !== null && e !== undefined && depth < 32; depth++) {
    if (e instanceof DeadLetterError) return e;
    if (typeof e !== "object") return undefined;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Checks a `maxAttempts` value: a positive integer, or `null`/`undefined` for none.
 *
 * @param value The value.
 * @param field Its name, for the error.
 * @returns The value, `undefined` kept as `undefined`.
 */
export function checkMaxAttempts(
  value: number | null | undefined,
  field: string,
): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (!Number.isInteger(value) || value < 1 || value > 2_147_483_647) {
    throw new RangeError(`${field} must be a positive integer or null, got ${value}`);
  }
  return value;
}
