/**
 * Running one job's handler and hooks, the same way whether the worker takes one job a
 * transaction or a batch: the handler's signal (the run's, the job's TTL, its cancellation), the
 * bound on how long a handler may go on after that signal aborts, and the hook lists.
 *
 * @module
 */
import type { CancelWatch } from "./cancel_watch.ts";
import type { Job } from "./job.ts";
import type { HookFunc, WorkContext, WorkFunc } from "./worker.ts";

/** A signal that never aborts: the default of `run()` and `workOne()`, and a graceful handler's. */
export const NEVER_ABORTED: AbortSignal = new AbortController().signal;

/**
 * How long a handler may go on after its signal aborted (its jobTTL passed, or the worker is
 * stopping) before the worker stops waiting for it: past the TTL plus this grace the job's
 * writes are rolled back and its failure recorded; on shutdown the job is rolled back untouched.
 * This also bounds how long `run()` takes to stop after its signal aborts (handlers that honour
 * their signal stop at once), unless `gracefulShutdown` is on without a `jobTTL`.
 */
export const HANDLER_GRACE_MS = 2000;

/** What {@linkcode runBounded} gives for a handler that did not stop in time. */
export const ABANDONED: unique symbol = Symbol("abandoned");
/** What {@linkcode bounded} gives for an operation that did not settle in time. */
export const TIMED_OUT: unique symbol = Symbol("timed out");

/**
 * Runs a handler until it settles, or until {@linkcode HANDLER_GRACE_MS} after its signal aborts.
 *
 * @returns `undefined` when it returned, `{ failure }` when it threw, `ABANDONED` when it did
 *   not stop in time (it goes on in the background; its result is ignored).
 */
export function runBounded(
  handler: WorkFunc,
  job: Job,
  ctx: WorkContext,
): Promise<undefined | { failure: unknown } | typeof ABANDONED> {
  const work = (async () => await handler(job, ctx))().then(
    () => undefined,
    (failure) => ({ failure }),
  );
  const signal = ctx.signal;
  if (signal === NEVER_ABORTED) return work;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let start: (() => void) | undefined;
  const abandon = new Promise<typeof ABANDONED>((resolve) => {
    start = () => (timer = setTimeout(() => resolve(ABANDONED), HANDLER_GRACE_MS));
    if (signal.aborted) start();
    else signal.addEventListener("abort", start, { once: true });
  });
  return Promise.race([work, abandon]).finally(() => {
    clearTimeout(timer);
    signal.removeEventListener("abort", start!);
  });
}

/** Waits for `op` at most {@linkcode HANDLER_GRACE_MS}; its failure is the caller's to see. */
export function bounded<T>(op: Promise<T>): Promise<T | typeof TIMED_OUT> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    op,
    new Promise<typeof TIMED_OUT>((
      r,
    ) => (timer = setTimeout(() => r(TIMED_OUT), HANDLER_GRACE_MS))),
  ]).finally(() => clearTimeout(timer));
}

/** Runs hooks one after another, in order; the first that throws stops the list. */
export async function runHooks(
  hooks: HookFunc[],
  job: Job | null,
  err: unknown,
  ctx: WorkContext,
): Promise<void> {
  for (const hook of hooks) await hook(job, err, ctx);
}

/** A handler's signal, and what made it: see {@linkcode armHandler}. */
export interface ArmedHandler {
  /** The signal to give the handler. */
  readonly signal: AbortSignal;
  /** Aborted (with a `JobCancelledError`) when the job is cancelled; absent when not watched. */
  readonly cancel: AbortController | undefined;
  /** Stops the TTL timer and the watches; call once the handler has settled. */
  disarm(): void;
}

/** The armed handler of a job without TTL or cancel watch: nothing to stop. */
function nothing(): void {}

/**
 * Makes a handler's signal: the run's (unless `gracefulShutdown`), plus the job's TTL when one
 * is set, plus its cancellation while the client watches for it. Without TTL and watch the
 * run's signal is passed through. One controller of the job's own follows the three (not
 * `AbortSignal.any`, which costs several microseconds a job and leaves weak references to
 * collect); it aborts with the reason of the first.
 *
 * @param jobId The job, for its cancellation.
 * @param runSignal The worker's run signal.
 * @param gracefulShutdown Whether the handler ignores the run's abort.
 * @param jobTTL The TTL in ms, 0 for none.
 * @param watch The client's cancel watch, if it has one.
 */
export function armHandler(
  jobId: string,
  runSignal: AbortSignal,
  gracefulShutdown: boolean,
  jobTTL: number,
  watch: CancelWatch | undefined,
): ArmedHandler {
  if (jobTTL <= 0 && watch === undefined) {
    return {
      signal: gracefulShutdown ? NEVER_ABORTED : runSignal,
      cancel: undefined,
      disarm: nothing,
    };
  }
  const own = new AbortController();
  let unlink: (() => void) | undefined;
  if (!gracefulShutdown) {
    const follow = () => own.abort(runSignal.reason);
    if (runSignal.aborted) follow();
    else {
      runSignal.addEventListener("abort", follow, { once: true });
      unlink = () => runSignal.removeEventListener("abort", follow);
    }
  }
  let ttlTimer: ReturnType<typeof setTimeout> | undefined;
  if (jobTTL > 0) {
    ttlTimer = setTimeout(
      () => own.abort(new DOMException(`job TTL of ${jobTTL} ms exceeded`, "TimeoutError")),
      jobTTL,
    );
  }
  // Cancellation (client.cancelJob), while the client watches for it: a controller apart, so
  // the worker can tell a cancelled job from one stopped by its TTL or the shutdown.
  let cancel: AbortController | undefined;
  let unwatch: (() => void) | undefined;
  if (watch !== undefined) {
    const cancelled = new AbortController();
    cancelled.signal.addEventListener("abort", () => own.abort(cancelled.signal.reason), {
      once: true,
    });
    unwatch = watch.watch(jobId, cancelled);
    cancel = cancelled;
  }
  return {
    signal: own.signal,
    cancel,
    disarm() {
      clearTimeout(ttlTimer);
      unlink?.();
      unwatch?.();
    },
  };
}
