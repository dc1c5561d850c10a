/**
 * Bounds on the database calls of a worker's poll and commit paths. A driver can leave a call
 * unsettled for good (postgres.js 3.4 on a connection that died, porsager/postgres#1208; a
 * half-open TCP connection on any driver): without a bound such a call hangs its worker, and
 * `run()` never resolves however its signal is aborted.
 *
 * Each call is given up after a generous time limit ({@linkcode DRIVER_CALL_TIMEOUT_MS}), and
 * once the stop signal has aborted, at {@linkcode STOP_BOUND_MS} after the abort at the latest
 * (a call that starts later fails at once). A call given up goes on in the background; what it
 * yields late can be handed back (a poll's locked job is rolled back).
 *
 * @module
 */

/**
 * How long a poll, commit or failure record may take before the worker gives up on it (and
 * counts a failed poll, or records the failure apart).
 */
export const DRIVER_CALL_TIMEOUT_MS = 30_000;

/**
 * How long after its stop signal aborts a worker still waits for database calls: `run()`
 * resolves within this bound of the abort, hooks aside, unless `gracefulShutdown` lets a handler
 * finish first. Twice the 2 s a handler is given to honour its signal, so a handler that returns
 * at the last moment still has 2 s to commit.
 */
export const STOP_BOUND_MS = 4000;

/** The error of a call given up on; `name` is `"TimeoutError"`. */
export class DriverCallTimeout extends Error {
  /**
   * @param what The call, for the message.
   * @param ms How long it was waited for.
   * @param stopping Whether it was cut short by the stop signal.
   */
  constructor(what: string, ms: number, stopping: boolean) {
    super(
      stopping
        ? `${what} did not answer within ${STOP_BOUND_MS} ms of the worker's stop; given up`
        : `${what} did not answer within ${ms} ms; given up (the connection may be dead)`,
    );
    this.name = "TimeoutError";
  }
}

/** When each signal seen here aborted (Infinity: not yet). */
const abortedAt = new WeakMap<AbortSignal, number>();

/** When `signal` aborted; watches it from its first sight (a worker's first poll). */
function abortTimeOf(signal: AbortSignal): number {
  let at = abortedAt.get(signal);
  if (at === undefined) {
    at = signal.aborted ? Date.now() : Infinity;
    abortedAt.set(signal, at);
    if (!signal.aborted) {
      signal.addEventListener("abort", () => abortedAt.set(signal, Date.now()), { once: true });
    }
  }
  return at;
}

/** A call being waited for. */
interface Pending {
  readonly start: number;
  readonly limitMs: number;
  readonly what: string;
  readonly signal: AbortSignal;
  giveUp(err: DriverCallTimeout): void;
}

/**
 * How often the watchdog looks at the calls in flight. The bounds are seconds long: a tenth of a
 * second late is nothing, and one shared timer costs a busy worker nothing per call, where a
 * timer and an abort listener per call cost more than the rest of the call's own JavaScript.
 */
const WATCHDOG_TICK_MS = 100;

const pending = new Set<Pending>();
let watchdog: ReturnType<typeof setInterval> | undefined;

/** When `call` is given up: its time limit, or the stop bound once its signal aborted. */
function deadlineOf(call: Pending): number {
  return Math.min(call.start + call.limitMs, abortTimeOf(call.signal) + STOP_BOUND_MS);
}

/** Gives up every call past its deadline; stops itself when no call is left. */
function watch(): void {
  const now = Date.now();
  for (const call of pending) {
    if (now < deadlineOf(call)) continue;
    pending.delete(call);
    const stopping = now < call.start + call.limitMs;
    call.giveUp(new DriverCallTimeout(call.what, call.limitMs, stopping));
  }
  if (pending.size === 0) {
    clearInterval(watchdog);
    watchdog = undefined;
  }
}

/**
 * Waits for a driver call at most `limitMs`, and at most until {@linkcode STOP_BOUND_MS} after
 * `signal` aborts (give or take {@linkcode WATCHDOG_TICK_MS}).
 *
 * @param op The call.
 * @param what Names it in the timeout's message.
 * @param signal The worker's stop signal (a signal that never aborts: the time limit only).
 * @param late Given what the call yields when it settles after it was given up.
 * @param limitMs The time limit.
 * @returns What the call yields.
 * @throws {DriverCallTimeout} When it was given up; otherwise what the call throws.
 */
export function boundedCall<T>(
  op: Promise<T>,
  what: string,
  signal: AbortSignal,
  late?: (value: T) => void,
  limitMs: number = DRIVER_CALL_TIMEOUT_MS,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let givenUp = false;
    const call: Pending = {
      start: Date.now(),
      limitMs,
      what,
      signal,
      giveUp: (err) => {
        givenUp = true;
        reject(err);
      },
    };
    pending.add(call);
    watchdog ??= setInterval(watch, WATCHDOG_TICK_MS);
    // Already past the stop bound (a call after the stop): given up at once.
    if (deadlineOf(call) <= call.start) queueMicrotask(watch);
    op.then(
      (value) => {
        pending.delete(call);
        if (givenUp) late?.(value);
        else resolve(value);
      },
      (err) => {
        pending.delete(call);
        reject(err);
      },
    );
  });
}
