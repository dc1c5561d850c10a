/**
 * Backoff: how long a failed job waits before its next try, given its new error count.
 *
 * @module
 */

/**
 * Returns the delay in milliseconds before retry number `retries` (the job's new error count,
 * 1 after the first failure). A negative result discards the job; zero retries at once.
 */
export type Backoff = (retries: number) => number;

/** Settings of {@linkcode exponentialBackoff}. */
export interface ExponentialBackoffOptions {
  /** Delay before growth, in ms. @default {1000} */
  baseDelay?: number;
  /** Factor applied per retry. @default {1.6} */
  multiplier?: number;
  /** Random spread as a fraction: 0.2 gives ±20 %. @default {0.2} */
  jitter?: number;
  /** Cap before jitter, in ms. @default {3_600_000} */
  maxDelay?: number;
}

function checkNumber(value: number, field: string, min: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new RangeError(`${field} must be a finite number >= ${min}, got ${value}`);
  }
  return value;
}

/**
 * Makes gue's exponential backoff (a copy of gRPC's): start from `baseDelay`, multiply once per
 * retry until `maxDelay` is reached, cap there, then spread by ±`jitter`.
 *
 * @param options Base delay, multiplier, jitter and cap.
 * @returns The backoff function.
 *
 * @example Retry after about 2 s, 4 s, 8 s … at most 1 minute
 * ```ts
 * import { exponentialBackoff } from "@gue/gue";
 * const backoff = exponentialBackoff({ baseDelay: 1000, multiplier: 2, maxDelay: 60_000 });
 * const first = backoff(1);
 * console.assert(first >= 1600 && first <= 2400);
 * ```
 */
export function exponentialBackoff(options: ExponentialBackoffOptions = {}): Backoff {
  const baseDelay = checkNumber(options.baseDelay ?? 1000, "baseDelay", 0);
  const multiplier = checkNumber(options.multiplier ?? 1.6, "multiplier", 1);
  const jitter = checkNumber(options.jitter ?? 0.2, "jitter", 0);
  const maxDelay = checkNumber(options.maxDelay ?? 3_600_000, "maxDelay", 0);
  return (retries: number): number => {
    if (retries === 0) return baseDelay;
    let delay = baseDelay;
    for (let r = retries; delay < maxDelay && r > 0; r--) delay *= multiplier;
    delay = Math.min(delay, maxDelay);
    delay *= 1 + jitter * (Math.random() * 2 - 1);
    return Math.max(0, Math.floor(delay));
  };
}

/**
 * gue's default: 1 s base, ×1.6 per retry, ±20 % jitter, capped at 1 h. The first retry comes
 * after 1.28–1.92 s, the 18th and later after about an hour.
 */
export const defaultExponentialBackoff: Backoff = exponentialBackoff();

/**
 * Always waits `ms`; a negative `ms` discards every failed job.
 *
 * @param ms The delay in milliseconds.
 * @returns The backoff function.
 *
 * @example
 * ```ts
 * import { constantBackoff } from "@gue/gue";
 * console.assert(constantBackoff(5000)(7) === 5000);
 * ```
 */
export function constantBackoff(ms: number): Backoff {
  if (typeof ms !== "number" || Number.isNaN(ms)) {
    throw new RangeError(`constantBackoff: ms must be a number, got ${ms}`);
  }
  return () => ms;
}

/** Never retries: a failed job is discarded (deleted) on its first error. */
export const backoffNever: Backoff = (): number => -1;
