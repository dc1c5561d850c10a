/**
 * Running one job's handler and hooks, the same way whether the worker takes one job a
 * transaction or a batch: the handler's signal (the run's, the job's TTL, its cancellation), the
 * bound on how long a handler may go on after that signal aborts, and the hook lists.
 *
 * @module
 */
import type { CancelWatch } from "./cancel_watch.ts";
import { errorText } from "./errors.ts";
import type { Job } from "./job.ts";
import type { PanicRecorder } from "./telemetry/worker_recorder.ts";
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
 * @param handler The handler.
 * @param job Its job.
 * @param ctx Its context; `ctx.signal` is the handler's signal.
 * @param armed Where that signal came from, when {@linkcode armHandler} made it: the grace then
 *   starts when it aborts the signal, without a listener on the signal and a race per job.
 * @returns `undefined` when it returned, `{ failure }` when it threw, `ABANDONED` when it did
 *   not stop in time (it goes on in the background; its result is ignored).
 */
export function runBounded(
  handler: WorkFunc,
  job: Job,
  ctx: WorkContext,
  armed?: ArmedHandler,
): Promise<undefined | { failure: unknown } | typeof ABANDONED> {
  const work = (async () => await handler(job, ctx))().then(
    () => undefined,
    (failure) => ({ failure }),
  );
  const signal = ctx.signal;
  if (signal === NEVER_ABORTED) return work;
  if (armed !== undefined) {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      armed.onAbort(() => (timer = setTimeout(() => resolve(ABANDONED), HANDLER_GRACE_MS)));
      work.then((ended) => {
        clearTimeout(timer);
        resolve(ended);
      });
    });
  }
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

/** How a handler run by {@linkcode runArmed} ended. */
export interface HandlerEnd {
  /** It threw (or rejected). */
  failed: boolean;
  /** What it threw. */
  failure: unknown;
  /** It did not stop within {@linkcode HANDLER_GRACE_MS} of its signal's abort. */
  abandoned: boolean;
}

/**
 * Runs a handler with the signal {@linkcode armHandler} made for it, bounded as
 * {@linkcode runBounded} does, and disarms that signal's timers and watches afterwards.
 *
 * @param handler The handler.
 * @param job Its job.
 * @param ctx The worker's context for the job; the handler gets `armed.signal` instead of its
 *   signal.
 * @param armed The handler's armed signal.
 * @returns How the handler ended.
 */
export async function runArmed(
  handler: WorkFunc,
  job: Job,
  ctx: WorkContext,
  armed: ArmedHandler,
): Promise<HandlerEnd> {
  try {
    const ended = await runBounded(handler, job, { ...ctx, signal: armed.signal }, armed);
    if (ended === ABANDONED) return { failed: false, failure: undefined, abandoned: true };
    if (ended !== undefined) return { failed: true, failure: ended.failure, abandoned: false };
    return { failed: false, failure: undefined, abandoned: false };
  } finally {
    armed.disarm();
  }
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

/** {@linkcode runHooks} with the hooks as `this`, for a span's `within` (three arguments). */
function runHooksOn(this: HookFunc[], job: Job, err: unknown, ctx: WorkContext): Promise<void> {
  return runHooks(this, job, err, ctx);
}

/**
 * A `jobLocked` or `jobDone` hook threw ("panicked", as gue says): logs it, runs the `jobDone`
 * hooks with the panic inside the `Worker.recoverPanic` span, and says what the job fails with,
 * in gue's words, also when a `jobDone` hook throws again. Both workers recover so.
 *
 * @param job The job.
 * @param panic What the hook threw.
 * @param ctx The hooks' context.
 * @param panicRec The panic's span (`rec.panicked(…)`); the caller ends it.
 * @param hooks The worker's `jobDone` hooks.
 * @param log Logs a line about the job.
 * @returns The error to record for the job, and whether a `jobDone` hook threw again.
 */
export async function recoverPanic(
  job: Job,
  panic: unknown,
  ctx: WorkContext,
  panicRec: PanicRecorder,
  hooks: HookFunc[],
  log: (job: Job, level: "error", msg: string, fields: { stacktrace: string }) => void,
): Promise<{ error: Error; again: boolean }> {
  log(job, "error", "Job panicked", { stacktrace: errorText(panic) });
  const error = new Error(`job panicked:\n${errorText(panic)}`, { cause: panic });
  try {
    await panicRec.within(runHooksOn, hooks, job, error, ctx);
    return { error, again: false };
  } catch (hookErr) {
    panicRec.panickedAgain(errorText(hookErr));
    log(job, "error", "Job panicked during the panic recovery", {
      stacktrace: errorText(hookErr),
    });
    return {
      error: new Error(
        `hook job done panicked in job panic recovery (job panicked):\n${errorText(hookErr)}`,
        { cause: hookErr },
      ),
      again: true,
    };
  }
}

/** A handler's signal, and what made it: see {@linkcode armHandler}. */
export interface ArmedHandler {
  /** The signal to give the handler. */
  readonly signal: AbortSignal;
  /**
   * Set (`aborted`, with a `JobCancelledError` as `reason`) when the job is cancelled; absent
   * when the client does not watch for cancellations.
   */
  readonly cancel:
    | { readonly signal: { readonly aborted: boolean; readonly reason: unknown } }
    | undefined;
  /**
   * Calls `fn` once when the signal aborts (at once if it has); one at a time, until `disarm()`.
   *
   * @param fn What to call.
   */
  onAbort(fn: () => void): void;
  /** Stops the TTL timer and the watches; call once the handler has settled. */
  disarm(): void;
}

/** A job's cancellation: what the cancel watch aborts, passed on to the handler's signal. */
class Cancellation {
  readonly signal = { aborted: false, reason: undefined as unknown };
  readonly #armed: Armed;

  constructor(armed: Armed) {
    this.#armed = armed;
  }

  abort(reason?: unknown): void {
    if (this.signal.aborted) return;
    this.signal.aborted = true;
    this.signal.reason = reason;
    this.#armed.abort(reason);
  }
}

/** See {@linkcode armHandler}. */
class Armed implements ArmedHandler {
  readonly #own: AbortController | undefined;
  readonly signal: AbortSignal;
  cancel: Cancellation | undefined;
  #onAbort: (() => void) | undefined;
  #runSignal: AbortSignal | undefined;
  #ttlTimer: ReturnType<typeof setTimeout> | undefined;
  #unwatch: (() => void) | undefined;

  constructor(own: AbortController | undefined, signal: AbortSignal) {
    this.#own = own;
    this.signal = signal;
  }

  /** Follows the run's signal (aborting the job's own with its reason). */
  follow(runSignal: AbortSignal): void {
    if (runSignal === NEVER_ABORTED) return;
    if (runSignal.aborted) return this.abort(runSignal.reason);
    this.#runSignal = runSignal;
    runSignal.addEventListener("abort", this);
  }

  /** The run's signal aborted (`follow` listens with the object itself: no closure a job). */
  handleEvent(): void {
    this.abort(this.#runSignal!.reason);
  }

  ttl(jobTTL: number): void {
    this.#ttlTimer = setTimeout(
      () => this.abort(new DOMException(`job TTL of ${jobTTL} ms exceeded`, "TimeoutError")),
      jobTTL,
    );
  }

  watch(jobId: string, watch: CancelWatch): void {
    this.cancel = new Cancellation(this);
    this.#unwatch = watch.watch(jobId, this.cancel);
  }

  abort(reason: unknown): void {
    if (this.signal.aborted && this.#own !== undefined) return;
    this.#own?.abort(reason);
    const fn = this.#onAbort;
    this.#onAbort = undefined;
    fn?.();
  }

  onAbort(fn: () => void): void {
    if (this.signal.aborted) return fn();
    this.#onAbort = fn;
    // Passed through: listen to the run's signal only for a caller that asks.
    if (this.#own === undefined && this.#runSignal === undefined) this.follow(this.signal);
  }

  disarm(): void {
    this.#onAbort = undefined;
    clearTimeout(this.#ttlTimer);
    this.#runSignal?.removeEventListener("abort", this);
    this.#unwatch?.();
  }
}

/**
 * Makes a handler's signal: the run's (unless `gracefulShutdown`), plus the job's TTL when one
 * is set, plus its cancellation while the client watches for it. Without TTL and watch the
 * run's signal is passed through. Otherwise one controller of the job's own follows the three
 * (not `AbortSignal.any`, which costs several microseconds a job and leaves weak references to
 * collect) and aborts with the reason of the first.
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
    // The run's signal itself (or none): no controller a job.
    return new Armed(undefined, gracefulShutdown ? NEVER_ABORTED : runSignal);
  }
  const own = new AbortController();
  const armed = new Armed(own, own.signal);
  if (!gracefulShutdown) armed.follow(runSignal);
  if (jobTTL > 0) armed.ttl(jobTTL);
  // A cancellation apart, so the worker can tell a cancelled job from one stopped by its TTL or
  // the shutdown.
  if (watch !== undefined) armed.watch(jobId, watch);
  return armed;
}
