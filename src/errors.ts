/**
 * Errors callers catch, and the job outcomes a handler can throw: discard the job, or run it again
 * at a chosen time. The worker recognises an outcome anywhere in the thrown error's `cause` chain,
 * so wrapping one (`new Error("...", { cause: discardJob("...") })`) keeps its effect.
 *
 * @module
 */

/** Thrown by `enqueue*` for a job without a `type` (gue's `ErrMissingType`). */
export class MissingTypeError extends TypeError {
  /**
   * Names where the type is missing.
   *
   * @param field Where the type is missing, e.g. `jobs[3].type`.
   */
  constructor(field = "type") {
    super(`job type must be specified (${field} is empty)`);
    this.name = "MissingTypeError";
  }
}

/** Thrown by `lockJobById` when no job has that id, or another transaction holds its lock. */
export class JobNotFoundError extends Error {
  /** The id looked for. */
  readonly id: string;
  /**
   * Names the job that could not be locked.
   *
   * @param id The id looked for.
   */
  constructor(id: string) {
    super(`could not lock job ${id}: no such job, or another transaction holds it`);
    this.name = "JobNotFoundError";
    this.id = id;
  }
}

/**
 * What a worker records for a job whose type has no handler (retried with the client's backoff,
 * as gue does), so a deploy that adds the handler later still gets to run it.
 */
export class UnknownJobTypeError extends Error {
  /** The job type without a handler. */
  readonly type: string;
  /**
   * Names the worker and the type without a handler.
   *
   * @param workerId The worker that took the job.
   * @param type The job type.
   */
  constructor(workerId: string, type: string) {
    super(`worker[id=${workerId}] unknown job type: ${JSON.stringify(type)}`);
    this.name = "UnknownJobTypeError";
    this.type = type;
  }
}

/** Formats milliseconds the way Go's `time.Duration.String()` does: `10s`, `1m30s`, `1h0m0s`, `500ms`. */
export function goDuration(ms: number): string {
  if (ms === 0) return "0s";
  const sign = ms < 0 ? "-" : "";
  const abs = Math.abs(ms);
  if (abs < 1000) return `${sign}${trim(abs)}ms`;
  const h = Math.floor(abs / 3_600_000);
  const m = Math.floor((abs % 3_600_000) / 60_000);
  const s = trim((abs % 60_000) / 1000);
  if (h > 0) return `${sign}${h}h${m}m${s}s`;
  if (m > 0) return `${sign}${m}m${s}s`;
  return `${sign}${s}s`;
}

function trim(n: number): string {
  return String(Number(n.toFixed(6)));
}

/** Formats a date the way Go's `time.Time.String()` does, in UTC: `2025-01-01 12:00:00 +0000 UTC`. */
export function goTime(date: Date): string {
  const iso = date.toISOString(); // 2025-01-01T12:00:00.000Z
  const ms = iso.slice(20, 23).replace(/0+$/, "");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms ? "." + ms : ""} +0000 UTC`;
}

/** The outcome "run this job again at a given time" (see {@linkcode rescheduleJobAt}, {@linkcode rescheduleJobIn}). */
export class RescheduleJobError extends Error {
  readonly #at?: Date;
  readonly #delay?: number;

  /**
   * Made by {@linkcode rescheduleJobAt} and {@linkcode rescheduleJobIn}.
   *
   * @param message The text stored in `last_error`.
   * @param when An absolute time, or a delay in ms counted from when the worker records it.
   */
  constructor(message: string, when: { at: Date } | { delay: number }) {
    super(message);
    this.name = "RescheduleJobError";
    if ("at" in when) this.#at = when.at;
    else this.#delay = when.delay;
  }

  /** The time to run the job again, as of `now`. */
  runAt(now: Date): Date {
    return this.#at ?? new Date(now.getTime() + (this.#delay ?? 0));
  }
}

/** The outcome "delete this job, do not retry" (see {@linkcode discardJob}). */
export class DiscardJobError extends Error {
  /**
   * Made by {@linkcode discardJob}.
   *
   * @param message The reason, for logs.
   */
  constructor(message: string) {
    super(message);
    this.name = "DiscardJobError";
  }
}

/**
 * Returns an error that, thrown from a handler, deletes the job without retrying it
 * (gue's `ErrDiscardJob`).
 *
 * @param reason Why, for logs.
 * @returns The error to throw.
 *
 * @example Give up after five tries
 * ```ts
 * import { discardJob, type Job } from "@gue/gue";
 *
 * const workMap = {
 *   Import: (job: Job) => {
 *     if (job.errorCount >= 5) throw discardJob("too many errors");
 *   },
 * };
 * ```
 */
export function discardJob(reason: string): DiscardJobError {
  return new DiscardJobError(`discarding job because ${JSON.stringify(String(reason))}`);
}

/**
 * Returns an error that, thrown from a handler, runs the job again at `at` (gue's
 * `ErrRescheduleJobAt`). The job's error count still goes up by one and the text is stored in
 * `last_error`.
 *
 * @param at When to run the job again.
 * @param reason Why, stored in `last_error`.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { rescheduleJobAt } from "@gue/gue";
 *
 * const workMap = {
 *   NewYear: () => {
 *     throw rescheduleJobAt(new Date("2030-01-01T00:00:00Z"), "wait for the new year");
 *   },
 * };
 * ```
 */
export function rescheduleJobAt(at: Date, reason: string): RescheduleJobError {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) {
    throw new TypeError(`rescheduleJobAt: at must be a valid Date, got ${String(at)}`);
  }
  return new RescheduleJobError(
    `rescheduling job at ${JSON.stringify(goTime(at))} because ${JSON.stringify(String(reason))}`,
    { at },
  );
}

/**
 * Returns an error that, thrown from a handler, runs the job again `ms` milliseconds after the
 * worker records the failure (gue's `ErrRescheduleJobIn`). A negative delay makes the job
 * runnable at once; it is not discarded.
 *
 * @param ms The delay in milliseconds.
 * @param reason Why, stored in `last_error`.
 * @returns The error to throw.
 *
 * @example
 * ```ts
 * import { rescheduleJobIn } from "@gue/gue";
 *
 * const workMap = {
 *   CallApi: () => {
 *     throw rescheduleJobIn(10_000, "rate limited"); // last_error: rescheduling job in "10s" because "rate limited"
 *   },
 * };
 * ```
 */
export function rescheduleJobIn(ms: number, reason: string): RescheduleJobError {
  if (typeof ms !== "number" || !Number.isFinite(ms)) {
    throw new TypeError(`rescheduleJobIn: ms must be a finite number, got ${ms}`);
  }
  return new RescheduleJobError(
    `rescheduling job in ${JSON.stringify(goDuration(ms))} because ${
      JSON.stringify(String(reason))
    }`,
    { delay: ms },
  );
}

/**
 * Finds a job outcome in `err` or its `cause` chain (depth-limited against cycles).
 *
 * @param err What a handler threw.
 * @returns The reschedule or discard outcome, or `undefined` for an ordinary error.
 */
export function findOutcome(err: unknown): RescheduleJobError | DiscardJobError | undefined {
  let e: unknown = err;
  for (let depth = 0; depth < 32 && e !== null && typeof e === "object"; depth++) {
    if (e instanceof RescheduleJobError || e instanceof DiscardJobError) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * The text stored in `last_error` for what a handler threw: the message, then the stack frames
 * when there are any (outcomes store their message only, as gue does).
 */
export function errorText(err: unknown): string {
  if (
    err instanceof RescheduleJobError || err instanceof DiscardJobError ||
    err instanceof UnknownJobTypeError
  ) return err.message;
  if (err instanceof Error) {
    const head = err.message || err.name;
    const stack = err.stack ?? "";
    // V8 starts the stack with "Name: message"; JavaScriptCore gives frames only.
    const frames = stack.startsWith(String(err)) ? stack.slice(String(err).length) : stack;
    const trimmed = frames.replace(/^\n+/, "");
    return trimmed ? `${head}\n${trimmed}` : head;
  }
  if (typeof err === "string") return err;
  try {
    return `non-Error thrown: ${typeof err === "object" ? JSON.stringify(err) : String(err)}`;
  } catch {
    return `non-Error thrown: ${String(err)}`;
  }
}

/**
 * The server's fields a {@linkcode DatabaseError} keeps, by the names pg and PGlite use. Each is
 * read from the driver's error under that name, under postgres.js' name (`schema_name`,
 * `data type_name`, …), or from deno-postgres' `fields`.
 */
const SERVER_FIELDS = [
  ["severity", "severity"],
  ["detail", "detail"],
  ["hint", "hint"],
  ["position", "position"],
  ["internalPosition", "internal_position"],
  ["internalQuery", "internal_query"],
  ["where", "where"],
  ["schema", "schema_name"],
  ["table", "table_name"],
  ["column", "column_name"],
  ["dataType", "data type_name"],
  ["constraint", "constraint_name"],
  ["file", "file"],
  ["line", "line"],
  ["routine", "routine"],
] as const;

/**
 * A statement the library ran failed. Every method that runs SQL rejects with it — the `Client`'s
 * and a job's `delete()`, `error()` and `done()` alike — whichever adapter is in use. The
 * driver's error is the `cause`; the server's SQLSTATE and every field the driver gives are
 * copied here, so `err.code === "23505"` tells a duplicate id without unwrapping, and the stack
 * shows the library call that failed (driver errors are raised from socket callbacks).
 *
 * @example Tell a duplicate id apart
 * ```ts
 * import postgres from "postgres";
 * import { Client, DatabaseError } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * const id = "report-2026-12";
 *
 * try {
 *   await client.enqueueWithId({ type: "Report" }, id);
 * } catch (err) {
 *   if (err instanceof DatabaseError && err.code === "23505") console.log("already enqueued");
 *   else throw err;
 * }
 * await sql.end();
 * ```
 */
export class DatabaseError extends Error {
  /** SQLSTATE (e.g. `"23505"`), or the driver's own code for connection errors, when known. */
  readonly code?: string;
  /** `ERROR`, `FATAL` or `PANIC` (postgres.js and Bun give the untranslated word). */
  readonly severity?: string;
  /** The server's DETAIL, when it sent one. */
  readonly detail?: string;
  /** The server's HINT. */
  readonly hint?: string;
  /** Where in the statement the error is, a 1-based character index (as text). */
  readonly position?: string;
  /** {@linkcode DatabaseError.position} in an internally generated statement. */
  readonly internalPosition?: string;
  /** The internally generated statement that failed (e.g. inside a PL/pgSQL function). */
  readonly internalQuery?: string;
  /** The call stack on the server (PL/pgSQL functions, triggers). */
  readonly where?: string;
  /** The schema of the object involved. */
  readonly schema?: string;
  /** The table involved. */
  readonly table?: string;
  /** The column involved. */
  readonly column?: string;
  /** The data type involved. */
  readonly dataType?: string;
  /** The constraint involved, when the server named one. */
  readonly constraint?: string;
  /** The server source file that raised it. */
  readonly file?: string;
  /** The line in that file (as text). */
  readonly line?: string;
  /** The server routine that raised it. */
  readonly routine?: string;

  /**
   * Wraps a driver's error, keeping its SQLSTATE and the server's fields.
   *
   * @param operation What the library was doing, e.g. `enqueue` or `job.done`.
   * @param cause The driver's error.
   */
  constructor(operation: string, cause: unknown) {
    const c = (cause !== null && typeof cause === "object" ? cause : {}) as Record<
      string,
      unknown
    >;
    const nested = (c.fields !== null && typeof c.fields === "object" ? c.fields : {}) as Record<
      string,
      unknown
    >;
    const message = cause instanceof Error ? cause.message : String(cause);
    const code = typeof c.code === "string" ? c.code : nested.code;
    // The commonest first-run mistake: say how to fix it, not only what failed.
    const hint = code === "42P01" && message.includes("gue_jobs")
      ? " (call client.migrate() once to create it)"
      : "";
    super(`${operation}: ${message}${hint}`, { cause });
    this.name = "DatabaseError";
    const self = this as unknown as Record<string, unknown>;
    if (typeof code === "string") self.code = code;
    // The server sends every field as text. Only strings are taken: JavaScriptCore (Bun) gives
    // every Error numeric `line` and `column` of its own, which are not the server's.
    for (const [name, alias] of SERVER_FIELDS) {
      const value = [c[name], c[alias], nested[name]].find((v) => typeof v === "string");
      if (value !== undefined) self[name] = value;
    }
  }
}
