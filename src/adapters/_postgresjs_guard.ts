/**
 * A process-level guard against one known postgres.js 3.4 crash: `nextWrite()` runs from a
 * `setImmediate` after the connection's socket has closed and throws
 * `TypeError: Cannot read properties of null (reading 'write')` (Bun: `null is not an object
 * (evaluating 'socket.write')`) outside any promise, which ends the process
 * (porsager/postgres#1066, #1154, #1208). The write belonged to a connection that is gone; its
 * queries have been or will be rejected with `CONNECTION_CLOSED`, so dropping the error loses
 * nothing. Any other uncaught exception is left alone: when the guard is the only listener it
 * ends the process as the runtime would have (the error's stack on stderr, exit code 1).
 *
 * It also drops postgres.js's orphaned connection errors: a statement of a connection that died
 * (`CONNECTION_CLOSED`, a terminated backend's 57P01, a reset socket) that nobody was waiting
 * for any more is rejected with no handler, which Deno and Node treat as fatal.
 *
 * The cure is the patched postgres.js (`gue patch-postgres`), which also fixes the
 * connection the crash leaves unusable; this guard only keeps unpatched installs alive.
 *
 * The `postgresjs()` adapter installs it once per process. An application with listeners of its
 * own keeps control: the guard then leaves every error but the two above to them (they see the
 * dropped ones too, and should ignore what {@linkcode isNextWriteCrash} and
 * {@linkcode isOrphanConnectionError} recognise rather than exit).
 *
 * @module
 */
import process from "node:process";

/** Whether `err` is postgres.js's write on a closed socket, recognised by message and frame. */
export function isNextWriteCrash(err: unknown): boolean {
  if (!(err instanceof TypeError)) return false;
  const stack = String(err.stack ?? "");
  return (
    /\(reading 'write'\)|evaluating '[\w.]*\.write'/.test(err.message) &&
    /\bnextWrite\b/.test(stack)
  );
}

/** Connection-level failures: what a dead connection rejects its leftover statements with. */
const CONNECTION_CODES = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_DESTROYED",
  "CONNECTION_ENDED",
  "ECONNRESET",
  "EPIPE",
  "57P01", // terminating connection due to administrator command
  "57P02", // crash shutdown
  "57P03", // cannot connect now
]);

/** A stack frame of the runtime itself (Deno's `ext:`, Node's and Bun's `node:` internals). */
const RUNTIME_FRAME = /^\s*at .*(\(|\s)(ext:|node:|internal\/)/;

/**
 * Whether `reason` is a postgres.js connection error that no statement's caller awaited: one
 * raised in postgres.js's connection.js, or a socket's own read/write failure (ECONNRESET,
 * EPIPE) that postgres.js passed on untouched, as it does to a pending `reserve()`, whose stack
 * holds only the runtime's frames.
 */
export function isOrphanConnectionError(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  const code = String((reason as { code?: unknown }).code ?? "");
  if (!CONNECTION_CODES.has(code)) return false;
  const stack = String(reason.stack ?? "");
  if (/postgres[\/](cjs[\/])?src[\/]connection\.js/.test(stack)) return true;
  const syscall = (reason as { syscall?: unknown }).syscall;
  if (syscall !== "read" && syscall !== "write") return false;
  const frames = stack.split("\n").filter((line) => /^\s*at /.test(line));
  return frames.length > 0 && frames.every((line) => RUNTIME_FRAME.test(line));
}

let installed = false;
let dropped = 0;

/**
 * How many errors (write crashes and orphaned connection errors) the guard has dropped since it
 * was installed.
 *
 * @returns The count.
 */
export function droppedNextWriteCrashes(): number {
  return dropped;
}

/**
 * Installs the guard once per process (later calls do nothing).
 *
 * @param onDrop Told about each dropped error (for a log line).
 */
export function guardNextWriteCrash(onDrop?: (err: Error) => void): void {
  if (installed) return;
  installed = true;
  const drop = (err: Error) => {
    dropped++;
    try {
      onDrop?.(err);
    } catch {
      // A failing log line must not turn a dropped crash into a real one.
    }
  };
  const listener = (err: unknown) => {
    if (isNextWriteCrash(err)) return drop(err as TypeError);
    // Not ours. With other listeners the application decides; alone, behave as the runtime.
    if (process.listenerCount("uncaughtException") > 1) return;
    process.stderr.write(`Uncaught ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", listener);
  process.on("unhandledRejection", (reason: unknown) => {
    if (isOrphanConnectionError(reason)) return drop(reason as Error);
    if (process.listenerCount("unhandledRejection") > 1) return;
    process.stderr.write(`Uncaught (in promise) ${(reason as Error)?.stack ?? String(reason)}\n`);
    process.exit(1);
  });
}

/** When a dropped error was last logged; {@linkcode warnDropped} logs at most once per 30 s. */
let lastWarning = -Infinity;
let droppedSinceWarning = 0;

/**
 * The adapter's `onDrop`: one line on stderr for the first dropped error, then at most one per
 * 30 s with the number dropped since, so a storm of terminated connections stays readable.
 *
 * @param err The dropped error.
 */
export function warnDropped(err: Error): void {
  droppedSinceWarning++;
  const now = Date.now();
  if (now - lastWarning < 30_000) return;
  lastWarning = now;
  const code = (err as { code?: unknown }).code;
  console.error(
    `gue: dropped ${droppedSinceWarning} error(s) of postgres.js on a closed connection ` +
      `(last: ${err.name}: ${err.message}${code ? ` [${code}]` : ""}), which would have ended ` +
      "the process (porsager/postgres#1208); `gue patch-postgres` fixes the driver",
  );
  droppedSinceWarning = 0;
}
