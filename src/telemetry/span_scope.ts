/**
 * A span with gue's way of recording errors: an exception event with gue's text, and a status of
 * error set by the first failure (gue only records the exception; the status is ours).
 *
 * @module
 */
import {
  type Attributes,
  type Context,
  type Span,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  if (typeof err === "string") return err;
  try {
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}

/** A span, the context that makes it active, and gue's way of recording failures on it. */
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
