/**
 * Concurrent loops that put load on the database until told to stop: the shape shared by the raw
 * limit loops, our worker pools and the enqueue producers, so a scenario measures all of them the
 * same way.
 *
 * @module
 */
import { Meter } from "./meter.ts";

/** Something running that records finished jobs in `meter` until `stop()`. */
export interface Loops {
  /** Counts finished jobs (locked and deleted, or inserted). */
  meter: Meter;
  /** Resolves when every loop has ended by itself, rejects on a loop's error. */
  done: Promise<void>;
  /** Asks every loop to end after its current cycle and waits for them. */
  stop(): Promise<void>;
}

/**
 * Starts `n` copies of `body`, each until it returns or `stop()` is called.
 *
 * @param n How many concurrent loops.
 * @param body One loop; `stopped()` tells it to end, `meter` is where it counts.
 */
export function startLoops(
  n: number,
  body: (stopped: () => boolean, meter: Meter) => Promise<void>,
): Loops {
  const meter = new Meter();
  let stopping = false;
  const done = Promise.all(Array.from({ length: n }, () => body(() => stopping, meter))).then(
    () => {},
  );
  // Handled here so a caller that stops instead of awaiting `done` still sees the error through
  // stop(), and an early rejection never counts as unhandled.
  done.catch(() => {});
  return {
    meter,
    done,
    stop() {
      stopping = true;
      return done;
    },
  };
}
