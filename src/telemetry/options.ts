/**
 * The meter and tracer options of `Client`, `Worker` and `WorkerPool`: the part of an
 * OpenTelemetry `Meter` and `Tracer` that gue uses, declared here rather than imported so that
 * the package's documented types are its own, and the checks that refuse anything else.
 *
 * @module
 */
import type { Meter, Tracer } from "@opentelemetry/api";

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
