/**
 * OpenTelemetry: gue's metric and span names, units and attributes (spec §5), recorded through
 * `@opentelemetry/api` only; the application brings the SDK and passes a `Meter` and a `Tracer`.
 *
 * Without them nothing is created and nothing is recorded: the worker asks
 * {@linkcode WorkerTelemetry.poll} for a per-poll recorder, gets `undefined`, and every
 * `t?.…` call on the hot path is a skipped property read. With them, instruments are made once
 * per client or worker and attribute objects are cached per job type, so a job allocates only
 * its own recorder (and its span).
 *
 * Deliberate differences from gue: every span is ended (gue never ends a `Worker.WorkOne` span
 * after a lock error, or after an empty poll without `spanWorkOneNoJob`); errors also set the span
 * status to error (gue only records them); a handler's own failure is recorded on
 * `Worker.WorkOne`; `gue_worker_jobs_worked` counts a job once even when a `jobDone` hook throws
 * after a handler failure (gue counts it twice).
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  context,
  type Counter,
  type Histogram,
  type Meter,
  type ObservableResult,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
  ValueType,
} from "@opentelemetry/api";
import type { Queryable } from "./adapter.ts";
import { type Logger, safeLog } from "./logger.ts";
import { jobCountByQueue } from "./sql.ts";

/** What gue passes when it creates an instrument (a subset of OpenTelemetry's `MetricOptions`). */
export interface InstrumentOptions {
  /** The instrument's description. */
  description?: string;
  /** Its unit: `1` or `ms`. */
  unit?: string;
  /** `ValueType.INT` (0) or `ValueType.DOUBLE` (1). */
  valueType?: number;
}

/**
 * The part of an OpenTelemetry `Meter` that gue uses. Any `Meter` from `@opentelemetry/api`
 * fits: pass `meterProvider.getMeter("gue")` (or `metrics.getMeter("gue")` for the global one).
 * Declared here, rather than imported, so that the package's documented types are its own.
 */
export interface MeterLike {
  /** Creates a counter. */
  createCounter(name: string, options?: InstrumentOptions): unknown;
  /** Creates a histogram. */
  createHistogram(name: string, options?: InstrumentOptions): unknown;
  /** Creates an observable gauge. */
  createObservableGauge(name: string, options?: InstrumentOptions): unknown;
}

/** What gue passes when it starts a span (a subset of OpenTelemetry's `SpanOptions`). */
export interface SpanStartOptions {
  /** Attributes set at start. */
  attributes?: Record<string, string>;
  /** The start time, in ms since the epoch, when earlier than now. */
  startTime?: number;
}

/**
 * The part of an OpenTelemetry `Tracer` that gue uses. Any `Tracer` from `@opentelemetry/api`
 * fits: pass `tracerProvider.getTracer("gue")` (or `trace.getTracer("gue")` for the global one).
 */
export interface TracerLike {
  /**
   * Starts a span.
   *
   * @param name The span's name.
   * @param options Attributes and start time.
   * @param context The parent context (an OpenTelemetry `Context`).
   * @returns The span (an OpenTelemetry `Span`).
   */
  startSpan(name: string, options?: SpanStartOptions, context?: object): unknown;
}

/** `gue_client_enqueue`: jobs enqueued, by `job-type` and `success`. */
export const METRIC_CLIENT_ENQUEUE = "gue_client_enqueue";
/** `gue_client_lock_job`: jobs locked, by `job-type` and `success`. */
export const METRIC_CLIENT_LOCK_JOB = "gue_client_lock_job";
/** `gue_worker_jobs_worked`: jobs processed, by `job-type` and `success`. */
export const METRIC_WORKER_JOBS_WORKED = "gue_worker_jobs_worked";
/** `gue_worker_jobs_duration`: ms per locked job, hooks included, by `job-type`. */
export const METRIC_WORKER_JOBS_DURATION = "gue_worker_jobs_duration";
/** `gue_jobs_waiting` (ours): jobs in the table, by `job-queue` and `state`. */
export const METRIC_JOBS_WAITING = "gue_jobs_waiting";
/** The span of one poll and the job it locked. */
export const SPAN_WORK_ONE = "Worker.WorkOne";
/** Child of {@linkcode SPAN_WORK_ONE} when a `jobLocked`/`jobDone` hook throws (gue: a panic). */
export const SPAN_RECOVER_PANIC = "Worker.recoverPanic";
/** Child of {@linkcode SPAN_RECOVER_PANIC} when a `jobDone` hook throws again during recovery. */
export const SPAN_RECOVER_PANIC_RECOVERY = "Worker.recoverPanicRecovery";

// Job types from the database are unbounded in principle; past this many, attributes are built
// per call instead of cached, so a flood of odd types cannot grow memory.
const MAX_CACHED = 1000;

/** `{ job-type, success }` objects, made once per type and reused for every recording. */
class OutcomeAttributes {
  readonly #cache = new Map<string, readonly [Attributes, Attributes]>();

  get(type: string, success: boolean): Attributes {
    let pair = this.#cache.get(type);
    if (pair === undefined) {
      pair = [
        Object.freeze({ "job-type": type, success: false }),
        Object.freeze({ "job-type": type, success: true }),
      ];
      if (this.#cache.size < MAX_CACHED) this.#cache.set(type, pair);
    }
    return pair[success ? 1 : 0];
  }
}

/** `{ job-type }` objects, made once per type. */
class TypeAttributes {
  readonly #cache = new Map<string, Attributes>();

  get(type: string): Attributes {
    let attrs = this.#cache.get(type);
    if (attrs === undefined) {
      attrs = Object.freeze({ "job-type": type });
      if (this.#cache.size < MAX_CACHED) this.#cache.set(type, attrs);
    }
    return attrs;
  }
}

function counter(meter: Meter, name: string, description: string): Counter {
  return meter.createCounter(name, { description, unit: "1", valueType: ValueType.INT });
}

/** Checks that an option is a `Meter` (or absent), and types it as one. */
export function checkMeter(meter: MeterLike | undefined, owner: string): Meter | undefined {
  if (meter === undefined) return undefined;
  if (
    meter === null || typeof meter !== "object" ||
    typeof (meter as Meter).createCounter !== "function"
  ) {
    throw new TypeError(
      `${owner}: meter must be an OpenTelemetry Meter, e.g. meterProvider.getMeter("gue")`,
    );
  }
  return meter as unknown as Meter;
}

/** Checks that an option is a `Tracer` (or absent), and types it as one. */
export function checkTracer(tracer: TracerLike | undefined, owner: string): Tracer | undefined {
  if (tracer === undefined) return undefined;
  if (
    tracer === null || typeof tracer !== "object" ||
    typeof (tracer as Tracer).startSpan !== "function"
  ) {
    throw new TypeError(
      `${owner}: tracer must be an OpenTelemetry Tracer, e.g. tracerProvider.getTracer("gue")`,
    );
  }
  return tracer as unknown as Tracer;
}

/** The client's instruments: `gue_client_enqueue` and `gue_client_lock_job`. */
export class ClientTelemetry {
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

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === "string") return err;
  try {
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** A span with gue's way of recording errors, plus a status: error, set by the first failure. */
export class SpanScope {
  /** The span. */
  readonly span: Span;
  /** A context with this span active: children and user spans started in it nest under it. */
  readonly context: Context;
  readonly #tracer: Tracer;
  #failed = false;

  /**
   * @param tracer The tracer.
   * @param name The span's name.
   * @param parent The parent context.
   * @param attributes Attributes set at start.
   * @param startTime When it began, when earlier than now.
   */
  constructor(
    tracer: Tracer,
    name: string,
    parent: Context,
    attributes?: Attributes,
    startTime?: number,
  ) {
    this.#tracer = tracer;
    this.span = tracer.startSpan(name, { attributes, startTime }, parent);
    this.context = trace.setSpan(parent, this.span);
  }

  /**
   * Records an exception and sets the status to error (the first failure's message stays).
   *
   * @param message gue's text, e.g. `failed to delete finished job: <cause>`; without `err`, the
   *   whole message.
   * @param err The cause: its message is appended after `: ` and its stack is kept.
   * @param stacktrace A `stacktrace` attribute (gue's panic spans).
   */
  fail(message: string, err?: unknown, stacktrace?: string): void {
    const text = err === undefined ? message : `${message}: ${errorMessage(err)}`;
    const name = err instanceof Error ? err.name : "Error";
    const stack = stacktrace ?? (err instanceof Error ? err.stack : undefined);
    this.span.recordException({ name, message: text, stack });
    if (stacktrace !== undefined) this.span.setAttribute("stacktrace", stacktrace);
    this.setError(text);
  }

  /** Records what a handler threw as it is (name, message, stack) and sets the status to error. */
  thrown(err: unknown): void {
    if (err instanceof Error) this.span.recordException(err);
    else this.span.recordException({ name: "Error", message: errorMessage(err) });
    this.setError(errorMessage(err));
  }

  /** Sets the status to error, unless an earlier failure already did. */
  setError(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.span.setStatus({ code: SpanStatusCode.ERROR, message });
  }

  /** Starts a child span. */
  child(name: string): SpanScope {
    return new SpanScope(this.#tracer, name, this.context);
  }

  /** Ends the span. */
  end(): void {
    this.span.end();
  }
}

/**
 * Runs `fn` with `scope`'s span active, or simply runs it without a scope. With a context
 * manager registered (the SDK's Node setup, or `AsyncLocalStorageContextManager`), spans the
 * handler starts nest under `Worker.WorkOne`.
 */
export function inScope<T>(scope: SpanScope | undefined, fn: () => T): T {
  return scope === undefined ? fn() : context.with(scope.context, fn);
}

/** What a worker was given: tracer, meter and whether empty polls get a span. */
export interface WorkerTelemetryOptions {
  /** Spans; none: no spans. */
  tracer?: Tracer;
  /** Metrics; none: no metrics. */
  meter?: Meter;
  /** Whether every poll gets a span (gue's `spanWorkOneNoJob`), not only those that lock a job. */
  spanWorkOneNoJob: boolean;
}

/** A worker's instruments and tracer, made once per worker. */
export class WorkerTelemetry {
  readonly tracer?: Tracer;
  readonly worked?: Counter;
  readonly duration?: Histogram;
  readonly outcomes = new OutcomeAttributes();
  readonly types = new TypeAttributes();
  readonly spanWorkOneNoJob: boolean;
  readonly #enabled: boolean;

  /** @param options Tracer, meter, spanWorkOneNoJob. */
  constructor(options: WorkerTelemetryOptions) {
    this.tracer = options.tracer;
    this.spanWorkOneNoJob = options.spanWorkOneNoJob;
    if (options.meter !== undefined) {
      this.worked = counter(options.meter, METRIC_WORKER_JOBS_WORKED, "Number of jobs processed");
      this.duration = options.meter.createHistogram(METRIC_WORKER_JOBS_DURATION, {
        description: "Duration of the single locked job to be processed with all the hooks",
        unit: "ms",
        valueType: ValueType.INT,
      });
    }
    this.#enabled = this.tracer !== undefined || this.worked !== undefined;
  }

  /**
   * Begins one poll.
   *
   * @returns Its recorder, or `undefined` when there is neither tracer nor meter.
   */
  poll(): PollTelemetry | undefined {
    return this.#enabled ? new PollTelemetry(this) : undefined;
  }
}

/**
 * Records one poll and the job it locked, at gue's points (spec §4.4/§4.5): the worker calls
 * `lockFailed` or `noJob` or `locked`, then the outcome methods, then `finish` exactly once.
 */
export class PollTelemetry {
  readonly #t: WorkerTelemetry;
  readonly #pollStart: number;
  #scope: SpanScope | undefined;
  #type = "";
  #started = 0;
  #counted = false;
  #locked = false;
  #finished = false;

  /** @param telemetry The worker's instruments. */
  constructor(telemetry: WorkerTelemetry) {
    this.#t = telemetry;
    this.#pollStart = Date.now();
    // With spanWorkOneNoJob every poll gets a span, started now so the lock query runs in it.
    // Otherwise the span starts once the poll has locked a job (or failed), backdated to the
    // poll's start: an empty poll must not start a span it would then have to end or leak.
    if (telemetry.tracer !== undefined && telemetry.spanWorkOneNoJob) {
      this.#scope = new SpanScope(telemetry.tracer, SPAN_WORK_ONE, context.active());
    }
  }

  /** The `Worker.WorkOne` span, once there is one. */
  get scope(): SpanScope | undefined {
    return this.#scope;
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

  /** The poll failed: `gue_worker_jobs_worked` +1 (`""`, false); the span records the error. */
  lockFailed(err: unknown): void {
    this.#t.worked?.add(1, this.#t.outcomes.get("", false));
    this.#startSpan()?.fail("worker failed to lock a job", err);
  }

  /** The poll locked `job`: its span gets the job's attributes; its duration starts now. */
  locked(job: { readonly id: string; readonly queue: string; readonly type: string }): void {
    this.#locked = true;
    this.#type = job.type;
    this.#started = performance.now();
    if (this.#t.tracer !== undefined) {
      this.#startSpan({ "job-id": job.id, "job-queue": job.queue, "job-type": job.type });
    }
  }

  /** `gue_worker_jobs_worked` +1 for the locked job; only the first call per job counts. */
  worked(success: boolean): void {
    if (this.#counted) return;
    this.#counted = true;
    this.#t.worked?.add(1, this.#t.outcomes.get(this.#type, success));
  }

  /** Records a failure on `Worker.WorkOne` (see {@linkcode SpanScope.fail}). */
  fail(message: string, err?: unknown): void {
    this.#scope?.fail(message, err);
  }

  /** The handler threw: count it failed and record what it threw on `Worker.WorkOne`. */
  handlerFailed(err: unknown): void {
    this.worked(false);
    this.#scope?.thrown(err);
  }

  /** The handler was interrupted by shutdown and its job rolled back: counted failed, no error. */
  interrupted(): void {
    this.worked(false);
    this.#scope?.span.addEvent("job interrupted by shutdown, rolled back");
  }

  /**
   * A hook threw (gue: a panic): count the job failed, and open the `Worker.recoverPanic` child
   * span with the error; the caller ends it.
   *
   * @param stacktrace What was thrown, with its stack.
   * @returns The child span, when tracing.
   */
  panicked(stacktrace: string): SpanScope | undefined {
    this.worked(false);
    const scope = this.#scope;
    if (scope === undefined) return undefined;
    scope.setError("job panicked");
    const child = scope.child(SPAN_RECOVER_PANIC);
    child.fail("job panicked", undefined, stacktrace);
    return child;
  }

  /**
   * Records the job's duration (`gue_worker_jobs_duration`, when a job was locked) and ends the
   * span. Safe to call twice.
   */
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

/** Options of the queue-depth gauge (`ClientOptions.queueDepth`). */
export interface QueueDepthOptions {
  /**
   * Reuse a reading for this long, in ms: however often metrics are collected, the table is
   * counted at most once per interval per client.
   * @default {5000}
   */
  interval?: number;
}

/**
 * Registers `gue_jobs_waiting`, an observable gauge of the jobs in `gue_jobs` per queue:
 * `state: "ready"` (due now; this includes jobs being worked right now, whose rows are locked)
 * and `state: "scheduled"` (due later). One `GROUP BY queue` query, cached for `interval`. A
 * queue that empties reports 0 rather than disappearing.
 *
 * @param meter Where to register the gauge.
 * @param pool Where to count.
 * @param options The cache interval.
 * @param logger Where a failed count is reported.
 */
export function observeQueueDepth(
  meter: Meter,
  pool: Queryable,
  options: QueueDepthOptions,
  logger: Logger,
): void {
  if (options === null || typeof options !== "object") {
    throw new TypeError("queueDepth must be true or an object { interval?: number }");
  }
  const interval = options.interval ?? 5000;
  if (typeof interval !== "number" || !(interval >= 0) || !Number.isFinite(interval)) {
    throw new RangeError(`queueDepth.interval must be a number of ms >= 0, got ${interval}`);
  }
  const gauge = meter.createObservableGauge(METRIC_JOBS_WAITING, {
    description: "Number of jobs waiting in a queue: ready to run now, or scheduled for later",
    unit: "1",
    valueType: ValueType.INT,
  });
  const attrs = new Map<string, readonly [Attributes, Attributes]>();
  const attrsOf = (queue: string) => {
    let pair = attrs.get(queue);
    if (pair === undefined) {
      pair = [
        Object.freeze({ "job-queue": queue, state: "ready" }),
        Object.freeze({ "job-queue": queue, state: "scheduled" }),
      ];
      if (attrs.size < MAX_CACHED) attrs.set(queue, pair);
    }
    return pair;
  };
  // The latest reading per queue; a queue seen once stays, at 0 once its jobs are gone.
  const depth = new Map<string, [ready: number, scheduled: number]>();
  let readAt = -Infinity;
  let reading: Promise<void> | undefined;

  const read = async () => {
    try {
      // The client's clock decides "due", as it does when workers lock (spec §9.2).
      const { rows } = await pool.query<{ queue: string; ready: unknown; scheduled: unknown }>(
        jobCountByQueue,
        [new Date()],
      );
      for (const counts of depth.values()) counts[0] = counts[1] = 0;
      for (const row of rows) {
        if (!depth.has(row.queue) && depth.size >= MAX_CACHED) continue;
        depth.set(row.queue, [Number(row.ready), Number(row.scheduled)]);
      }
    } catch (err) {
      // Report nothing rather than stale numbers; try again after the interval.
      depth.clear();
      safeLog(logger, "error", "Failed to count waiting jobs", { error: err });
    } finally {
      readAt = performance.now();
    }
  };

  gauge.addCallback(async (result: ObservableResult) => {
    if (performance.now() - readAt >= interval) {
      reading ??= read().finally(() => reading = undefined);
      await reading;
    }
    for (const [queue, [ready, scheduled]] of depth) {
      const [readyAttrs, scheduledAttrs] = attrsOf(queue);
      result.observe(ready, readyAttrs);
      result.observe(scheduled, scheduledAttrs);
    }
  });
}
