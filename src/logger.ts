/**
 * Logging. gue logs through a small interface; `console` and a `@std/log` `Logger` fit it as
 * they are, so no logging library is imported. Messages and field keys are gue's.
 *
 * @module
 */

/** Structured fields of a log line, with gue's keys (`job-id`, `job-type`, `worker-id`, `error`, …). */
export type LogFields = Record<string, unknown>;

/**
 * Where gue writes its logs. `console` satisfies it, and so does a `@std/log` `Logger`.
 *
 * @example
 * ```ts ignore
 * const client = new Client(pool, { logger: console });
 * ```
 */
export interface Logger {
  /** Routine detail: an enqueued job, a finished job. */
  debug(msg: string, fields?: LogFields): unknown;
  /** Notable events: a discarded job, a worker stopping. */
  info(msg: string, fields?: LogFields): unknown;
  /** Failures: lock errors, handler errors, commit errors. */
  error(msg: string, fields?: LogFields): unknown;
}

/** Drops everything: the default logger. */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  error() {},
};

/**
 * Returns a logger that adds `fields` to every line written through it (gue's `Logger.With`).
 *
 * @param logger The logger to write to.
 * @param fields Fields added to each line; a line's own fields win.
 * @returns The wrapping logger.
 */
export function withFields(logger: Logger, fields: LogFields): Logger {
  if (logger === noopLogger) return logger;
  return {
    debug: (msg, f) => logger.debug(msg, { ...fields, ...f }),
    info: (msg, f) => logger.info(msg, { ...fields, ...f }),
    error: (msg, f) => logger.error(msg, { ...fields, ...f }),
  };
}

/** Calls a logger without letting a broken logger break the queue. */
export function safeLog(
  logger: Logger,
  level: "debug" | "info" | "error",
  msg: string,
  fields?: LogFields,
): void {
  try {
    logger[level](msg, fields);
  } catch {
    // A logger that throws must not lose a job; there is nowhere better to report it.
  }
}
