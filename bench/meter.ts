/**
 * Counting finished work and turning counts into rates.
 *
 * Two ways to measure throughput, as River's bench does: drain a backlog that was filled up front
 * and time it from the first job to the last (so start-up of the workers is not counted), or let
 * the system run and count what finishes inside a fixed window that opens after a warm-up (so a
 * 200,000-job backlog need not be drained for every figure).
 *
 * @module
 */

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts finished units of work (jobs) and remembers when the first and the last finished. */
export class Meter {
  /** Units finished so far. */
  count = 0;
  /** `performance.now()` of the first `mark()`. */
  first = 0;
  /** `performance.now()` of the latest `mark()`. */
  last = 0;
  #waiters: { n: number; resolve: () => void }[] = [];

  /** Records `n` finished units. */
  mark(n = 1): void {
    const now = performance.now();
    if (this.count === 0) this.first = now;
    this.count += n;
    this.last = now;
    if (this.#waiters.length) {
      this.#waiters = this.#waiters.filter((w) => {
        if (this.count < w.n) return true;
        w.resolve();
        return false;
      });
    }
  }

  /**
   * Resolves once `n` units have finished; rejects after `timeoutMs`, so a stuck system fails the
   * bench instead of hanging it.
   */
  reached(n: number, timeoutMs: number): Promise<void> {
    if (this.count >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`timed out after ${timeoutMs} ms: ${this.count} of ${n} jobs finished`));
      }, timeoutMs);
      // A waiter nobody awaits any more (its race was won elsewhere) must not keep the bench alive.
      Deno.unrefTimer(timer);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#waiters.push({ n, resolve: done });
    });
  }

  /**
   * The rate of a drain, in units per second: units after the first, over the time from the first
   * to the last. Start-up before the first job and shutdown after the last are not counted.
   */
  drainRate(): number {
    if (this.count < 2 || this.last <= this.first) return 0;
    return ((this.count - 1) / (this.last - this.first)) * 1000;
  }
}

/**
 * Waits `warmupMs`, then counts what the meter records during `windowMs`.
 *
 * @returns Units per second inside the window.
 */
export async function sampleRate(
  meter: Meter,
  warmupMs: number,
  windowMs: number,
): Promise<number> {
  await sleep(warmupMs);
  const c0 = meter.count;
  const t0 = performance.now();
  await sleep(windowMs);
  const c1 = meter.count;
  const t1 = performance.now();
  return ((c1 - c0) / (t1 - t0)) * 1000;
}
