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
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql), { logger: console });
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

/**
 * Drops everything. Pass it as `logger` for silence: the default, {@linkcode errorLogger}, writes
 * errors to standard error.
 *
 * @example Run a worker without any log output
 * ```ts
 * import postgres from "postgres";
 * import { Client, noopLogger, Worker } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * const worker = new Worker(client, {
 *   Ping: () => {},
 * }, { logger: noopLogger });
 * ```
 */
export const noopLogger: Logger = {
  debug() {},
  info() {},
  error() {},
};

/**
 * Writes errors, and only errors, to `console.error`, one line each: `gue: <message>` followed
 * by the fields as `key=value` (an `Error` as its message; text with spaces or quotes in JSON
 * quotes). The default logger of `Client`, `Worker` and `WorkerPool`, so that a worker whose
 * polls fail (no `gue_jobs` table, a server refusing connections) says so without any setup.
 * Pass `console` or {@linkcode jsonLogger} for every level, {@linkcode noopLogger} for silence.
 *
 * @example What a failing poll prints
 * ```ts
 * import { errorLogger } from "@gue/gue";
 *
 * errorLogger.debug("Job finished"); // nothing: only errors are written
 * errorLogger.error("Worker failed to lock a job", { "worker-id": "a1b2c3", error: new Error("boom") });
 * // gue: Worker failed to lock a job worker-id=a1b2c3 error=boom
 * ```
 */
export const errorLogger: Logger = {
  debug() {},
  info() {},
  error(msg, fields) {
    let line: string;
    try {
      line = textLine(msg, fields);
    } catch (err) {
      line = `gue: ${String(msg)} log-error=${JSON.stringify(describe(err))}`;
    }
    try {
      console.error(line);
    } catch {
      // Nowhere better to report a broken console; the queue must go on.
    }
  },
};

// Loggers known to drop debug and info lines, so callers can skip building fields for them.
const errorsOnly = new WeakSet<Logger>([noopLogger, errorLogger]);

/**
 * Whether `logger` writes debug and info lines. False for {@linkcode noopLogger},
 * {@linkcode errorLogger} and {@linkcode withFields} wrappers of them; true for any other
 * logger, which may filter levels itself.
 */
export function logsBelowError(logger: Logger): boolean {
  return !errorsOnly.has(logger);
}

function textValue(value: unknown): string {
  let text: string;
  if (value instanceof Error) text = value.message || value.name;
  else if (typeof value === "string") text = value;
  else if (value instanceof Uint8Array) text = `<${value.length} bytes>`;
  else if (value === null || typeof value !== "object") text = String(value);
  else text = JSON.stringify(value) ?? String(value);
  return text === "" || /[\s"=\\]/.test(text) ? JSON.stringify(text) : text;
}

function textLine(msg: string, fields: LogFields | undefined): string {
  let line = `gue: ${msg}`;
  if (fields !== null && typeof fields === "object") {
    for (const key of Object.keys(fields)) {
      const value = fields[key];
      if (value !== undefined) line += ` ${key}=${textValue(value)}`;
    }
  }
  return line;
}

/** The levels a {@linkcode Logger} has. */
export type LogLevel = "debug" | "info" | "error";

/**
 * Returns a logger that writes one JSON object per line: `time` (ISO 8601), `level`, `msg`, then
 * the fields. An `Error` field is written as its message, with its stack under `<key>-stack`
 * (`error`, `error-stack`); `BigInt`s become strings, cycles `"[Circular]"`, byte arrays their
 * length. Writing never throws, whatever the fields hold.
 *
 * @param write Where each line goes (without a trailing newline). @default `console.log`
 * @returns The logger.
 *
 * @example Log as JSON lines to standard output
 * ```ts
 * import { jsonLogger } from "@gue/gue";
 *
 * const lines: string[] = [];
 * const logger = jsonLogger((line) => lines.push(line));
 * logger.error("Worker failed to lock a job", { "worker-id": "a1b2c3", error: new Error("boom") });
 * const entry = JSON.parse(lines[0]);
 * console.assert(entry.level === "error" && entry.error === "boom" && "error-stack" in entry);
 * ```
 */
export function jsonLogger(write: (line: string) => void = console.log): Logger {
  const log = (level: LogLevel, msg: string, fields?: LogFields) => {
    let line: string;
    try {
      line = jsonLine(level, msg, fields);
    } catch (err) {
      // A getter that throws, a Proxy, …: say so rather than lose the line or break the caller.
      line = JSON.stringify({
        time: new Date().toISOString(),
        level,
        msg: String(msg),
        "log-error": `fields could not be serialised: ${describe(err)}`,
      });
    }
    try {
      write(line);
    } catch {
      // Nowhere better to report a broken sink; the queue must go on.
    }
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
  };
}

function describe(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return "unknown error";
  }
}

function jsonLine(level: LogLevel, msg: string, fields: LogFields | undefined): string {
  const entry: Record<string, unknown> = { time: new Date().toISOString(), level, msg };
  if (fields !== null && typeof fields === "object") {
    for (const key of Object.keys(fields)) {
      if (key === "time" || key === "level" || key === "msg") continue;
      const value = fields[key];
      if (value === undefined) continue;
      if (value instanceof Error) {
        entry[key] = value.message || value.name;
        if (value.stack) entry[`${key}-stack`] = value.stack;
      } else entry[key] = value;
    }
  }
  // The objects on the path from the root to the value being written: a value among them is a
  // cycle. (An object merely seen before is not: the same object may appear twice.)
  const ancestors: unknown[] = [];
  return JSON.stringify(entry, function (this: unknown, _key, value: unknown) {
    if (typeof value === "bigint") return value.toString();
    if (typeof value === "symbol") return String(value);
    if (typeof value === "function") return `[Function ${value.name || "anonymous"}]`;
    if (value instanceof Error) return value.message || value.name;
    if (value instanceof Uint8Array) return `<${value.length} bytes>`;
    if (value !== null && typeof value === "object") {
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) ancestors.pop();
      if (ancestors.includes(value)) return "[Circular]";
      ancestors.push(value);
    }
    return value;
  });
}

/**
 * Returns a logger that adds `fields` to every line written through it (gue's `Logger.With`).
 *
 * @param logger The logger to write to.
 * @param fields Fields added to each line; a line's own fields win.
 * @returns The wrapping logger.
 */
export function withFields(logger: Logger, fields: LogFields): Logger {
  if (logger === noopLogger) return logger;
  const wrapped: Logger = {
    debug: (msg, f) => logger.debug(msg, { ...fields, ...f }),
    info: (msg, f) => logger.info(msg, { ...fields, ...f }),
    error: (msg, f) => logger.error(msg, { ...fields, ...f }),
  };
  if (!logsBelowError(logger)) errorsOnly.add(wrapped);
  return wrapped;
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
