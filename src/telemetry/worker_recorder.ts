/**
 * What a worker records, at gue's points of a poll and its job: `gue_worker_jobs_worked`,
 * `gue_worker_jobs_duration`, and the `Worker.WorkOne` span with its `Worker.recoverPanic` and
 * `Worker.recoverPanicRecovery` children.
 *
 * A worker holds one {@linkcode WorkerRecorder}. Without tracer and meter it is
 * {@linkcode NOOP_WORKER_RECORDER}, whose polls are one shared object that does nothing, so the
 * worker calls the same methods either way and its hot path has no telemetry branches and
 * allocates nothing for it. With them, instruments are made once per worker and attribute
 * objects are cached per job type, so a job allocates only its poll recorder (and its span).
 *
 * Deliberate differences from gue: every span is ended (gue never ends a `Worker.WorkOne` span
 * after a lock error, or after an empty poll without `spanWorkOneNoJob`); errors also set the
 * span status to error (gue only records them); a handler's own failure is recorded on
 * `Worker.WorkOne`; `gue_worker_jobs_worked` counts a job once even when a `jobDone` hook throws
 * after a handler failure (gue counts it twice).
 *
 * @module
 */
import {
  type Attributes,
  context,
  type Counter,
  type Histogram,
  type Meter,
  type Tracer,
  ValueType,
} from "@opentelemetry/api";
import { counter, OutcomeAttributes, TypeAttributes } from "./attributes.ts";
import {
  METRIC_WORKER_JOBS_DURATION,
  METRIC_WORKER_JOBS_FAILED,
  METRIC_WORKER_JOBS_WORKED,
  SPAN_RECOVER_PANIC,
  SPAN_RECOVER_PANIC_RECOVERY,
  SPAN_WORK_ONE,
} from "./names.ts";
import { SpanScope } from "./span_scope.ts";

/** Where a failure to store a job's outcome is recorded: the poll's span or a panic span. */
export interface FailureRecorder {
  /**
   * Records a failure (see {@linkcode SpanScope.fail}).
   *
   * @param message gue's text; `err`'s message is appended after `: `.
   * @param err The cause.
   */
  fail(message: string, err?: unknown): void;
}

/**
 * Runs `fn` on `self` with `a`, `b` and `c`, inside a span when there is one: spans the code
 * starts nest under it. Arguments are passed rather than closed over, so no closure is made per
 * call.
 */
export type Within = <S, A, B, C, R>(
  fn: (this: S, a: A, b: B, c: C) => R,
  self: S,
  a: A,
  b: B,
  c: C,
) => R;

/** The `Worker.recoverPanic` span of a hook that threw, and its recovery child. */
export interface PanicRecorder extends FailureRecorder {
  /** Runs code (the `jobDone` hooks) with the panic span active. */
  within: Within;
  /** A `jobDone` hook threw again during recovery: opens `Worker.recoverPanicRecovery`. */
  panickedAgain(stacktrace: string): void;
  /** Ends the spans. */
  end(): void;
}

/**
 * Records one poll and the job it locked: the worker calls `lockFailed`, or nothing (an empty
 * poll), or `locked`; then the outcome methods; then `finish` exactly once.
 */
export interface PollRecorder extends FailureRecorder {
  /** Runs code (the lock, the job's work) with `Worker.WorkOne` active once it exists. */
  within: Within;
  /** The poll failed: `gue_worker_jobs_worked` +1 (`""`, false); the span records the error. */
  lockFailed(err: unknown): void;
  /** The poll locked `job`: its span gets the job's attributes; its duration starts now. */
  locked(job: { readonly id: string; readonly queue: string; readonly type: string }): void;
  /** `gue_worker_jobs_worked` +1 for the locked job; only the first call per job counts. */
  worked(success: boolean): void;
  /** The handler threw: count it failed and record what it threw on `Worker.WorkOne`. */
  handlerFailed(err: unknown): void;
  /** The handler was interrupted by shutdown and its job rolled back: counted failed, no error. */
  interrupted(): void;
  /**
   * The job was moved to the failed jobs and that committed: `gue_worker_jobs_failed` +1
   * (`job-type`, `fail-reason`), and an event `job moved to the failed jobs` on `Worker.WorkOne`.
   *
   * @param reason Why (`exhausted`, `discarded`, `cancelled`, `invalid`).
   */
  deadLettered(reason: string): void;
  /**
   * A hook threw (gue: a panic): count the job failed and open `Worker.recoverPanic` with the
   * error; the caller ends it.
   *
   * @param stacktrace What was thrown, with its stack.
   */
  panicked(stacktrace: string): PanicRecorder;
  /** Records the job's duration (when one was locked) and ends the span. Safe to call twice. */
  finish(): void;
}

/** A worker's telemetry: one per worker, asked for a recorder per poll. */
export interface WorkerRecorder {
  /** Begins one poll. */
  poll(): PollRecorder;
}

function direct<S, A, B, C, R>(
  fn: (this: S, a: A, b: B, c: C) => R,
  self: S,
  a: A,
  b: B,
  c: C,
): R {
  return fn.call(self, a, b, c);
}

function nothing(): void {}

/** A panic without telemetry: runs code as it is and records nothing. */
const NOOP_PANIC: PanicRecorder = Object.freeze({
  within: direct,
  panickedAgain: nothing,
  fail: nothing,
  end: nothing,
});

/** A poll without telemetry: one shared object for every poll of every worker. */
const NOOP_POLL: PollRecorder = Object.freeze({
  within: direct,
  lockFailed: nothing,
  locked: nothing,
  worked: nothing,
  fail: nothing,
  handlerFailed: nothing,
  interrupted: nothing,
  deadLettered: nothing,
  panicked: () => NOOP_PANIC,
  finish: nothing,
});

/** The recorder of a worker without tracer and meter: records nothing, allocates nothing. */
export const NOOP_WORKER_RECORDER: WorkerRecorder = Object.freeze({ poll: () => NOOP_POLL });

/** What a worker was given: tracer, meter and whether empty polls get a span. */
export interface WorkerRecorderOptions {
  /** Spans; none: no spans. */
  tracer?: Tracer;
  /** Metrics; none: no metrics. */
  meter?: Meter;
  /** Whether every poll gets a span (gue's `spanWorkOneNoJob`), not only those that lock a job. */
  spanWorkOneNoJob: boolean;
}

/**
 * The recorder for a worker's options: {@linkcode NOOP_WORKER_RECORDER} without tracer and
 * meter, an OpenTelemetry one otherwise.
 */
export function workerRecorder(options: WorkerRecorderOptions): WorkerRecorder {
  if (options.tracer === undefined && options.meter === undefined) return NOOP_WORKER_RECORDER;
  return new OtelWorkerRecorder(options);
}

/** A worker's instruments and tracer, made once per worker. */
class OtelWorkerRecorder implements WorkerRecorder {
  readonly tracer?: Tracer;
  readonly worked?: Counter;
  readonly failed?: Counter;
  readonly duration?: Histogram;
  readonly outcomes = new OutcomeAttributes();
  readonly types = new TypeAttributes();
  readonly spanWorkOneNoJob: boolean;

  constructor(options: WorkerRecorderOptions) {
    this.tracer = options.tracer;
    this.spanWorkOneNoJob = options.spanWorkOneNoJob;
    if (options.meter !== undefined) {
      this.worked = counter(options.meter, METRIC_WORKER_JOBS_WORKED, "Number of jobs processed");
      this.failed = counter(
        options.meter,
        METRIC_WORKER_JOBS_FAILED,
        "Number of jobs moved to the failed jobs",
      );
      this.duration = options.meter.createHistogram(METRIC_WORKER_JOBS_DURATION, {
        description: "Duration of the single locked job to be processed with all the hooks",
        unit: "ms",
        valueType: ValueType.INT,
      });
    }
  }

  poll(): PollRecorder {
    return new OtelPollRecorder(this);
  }
}

function withinScope<S, A, B, C, R>(
  scope: SpanScope | undefined,
  fn: (this: S, a: A, b: B, c: C) => R,
  self: S,
  a: A,
  b: B,
  c: C,
): R {
  // With a context manager registered (the SDK's Node setup, or
  // AsyncLocalStorageContextManager), spans the code starts nest under the scope's span.
  return scope === undefined
    ? fn.call(self, a, b, c)
    : context.with(scope.context, fn, self, a, b, c);
}

class OtelPanicRecorder implements PanicRecorder {
  readonly #span: SpanScope | undefined;
  #again: SpanScope | undefined;

  constructor(span: SpanScope | undefined) {
    this.#span = span;
  }

  within<S, A, B, C, R>(fn: (this: S, a: A, b: B, c: C) => R, self: S, a: A, b: B, c: C): R {
    return withinScope(this.#span, fn, self, a, b, c);
  }

  panickedAgain(stacktrace: string): void {
    this.#again = this.#span?.child(SPAN_RECOVER_PANIC_RECOVERY);
    this.#again?.fail("hook job done panicked in job panic recovery", undefined, stacktrace);
  }

  fail(message: string, err?: unknown): void {
    (this.#again ?? this.#span)?.fail(message, err);
  }

  end(): void {
    this.#again?.end();
    this.#span?.end();
  }
}

class OtelPollRecorder implements PollRecorder {
  readonly #t: OtelWorkerRecorder;
  readonly #pollStart: number;
  #scope: SpanScope | undefined;
  #type = "";
  #started = 0;
  #counted = false;
  #locked = false;
  #finished = false;

  constructor(recorder: OtelWorkerRecorder) {
    this.#t = recorder;
    this.#pollStart = Date.now();
    // With spanWorkOneNoJob every poll gets a span, started now so the lock query runs in it.
    // Otherwise the span starts once the poll has locked a job (or failed), backdated to the
    // poll's start: an empty poll must not start a span it would then have to end or leak.
    if (recorder.tracer !== undefined && recorder.spanWorkOneNoJob) {
      this.#scope = new SpanScope(recorder.tracer, SPAN_WORK_ONE, context.active());
    }
  }

  within<S, A, B, C, R>(fn: (this: S, a: A, b: B, c: C) => R, self: S, a: A, b: B, c: C): R {
    return withinScope(this.#scope, fn, self, a, b, c);
  }

  #startSpan(attributes?: Attributes): SpanScope | undefined {
    const tracer = this.#t.tracer;
    if (this.#scope === undefined && tracer !== undefined) {
      this.#scope = new SpanScope(
        tracer,
        SPAN_WORK_ONE,
        context.active(),
        attributes,
        this.#pollStart,
      );
    } else if (attributes !== undefined) this.#scope?.span.setAttributes(attributes);
    return this.#scope;
  }

  lockFailed(err: unknown): void {
    this.#t.worked?.add(1, this.#t.outcomes.get("", false));
    this.#startSpan()?.fail("worker failed to lock a job", err);
  }

  locked(job: { readonly id: string; readonly queue: string; readonly type: string }): void {
    this.#locked = true;
    this.#type = job.type;
    this.#started = performance.now();
    if (this.#t.tracer !== undefined) {
      this.#startSpan({ "job-id": job.id, "job-queue": job.queue, "job-type": job.type });
    }
  }

  worked(success: boolean): void {
    if (this.#counted) return;
    this.#counted = true;
    this.#t.worked?.add(1, this.#t.outcomes.get(this.#type, success));
  }

  fail(message: string, err?: unknown): void {
    this.#scope?.fail(message, err);
  }

  handlerFailed(err: unknown): void {
    this.worked(false);
    this.#scope?.thrown(err);
  }

  interrupted(): void {
    this.worked(false);
    this.#scope?.span.addEvent("job interrupted by shutdown, rolled back");
  }

  deadLettered(reason: string): void {
    this.#t.failed?.add(1, { "job-type": this.#type, "fail-reason": reason });
    this.#scope?.span.addEvent("job moved to the failed jobs", { "fail-reason": reason });
  }

  panicked(stacktrace: string): PanicRecorder {
    this.worked(false);
    const scope = this.#scope;
    if (scope === undefined) return new OtelPanicRecorder(undefined);
    scope.setError("job panicked");
    const child = scope.child(SPAN_RECOVER_PANIC);
    child.fail("job panicked", undefined, stacktrace);
    return new OtelPanicRecorder(child);
  }

  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#locked) {
      // Whole milliseconds, truncated, as gue's `time.Since(…).Milliseconds()`.
      this.#t.duration?.record(
        Math.trunc(performance.now() - this.#started),
        this.#t.types.get(this.#type),
      );
    }
    this.#scope?.end();
  }
}
