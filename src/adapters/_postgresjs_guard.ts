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
 * The cure is the patched postgres.js (`scripts/patch_postgres.ts`), which also fixes the
 * connection the crash leaves unusable; this guard only keeps unpatched installs alive.
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

let installed = false;
let dropped = 0;

/**
 * How many crashes the guard has dropped since it was installed.
 *
 * @returns The count.
 */
export function droppedNextWriteCrashes(): number {
  return dropped;
}

/**
 * Installs the guard once per process (later calls do nothing).
 *
 * @param onDrop Told about each dropped crash (for a log line).
 */
export function guardNextWriteCrash(onDrop?: (err: TypeError) => void): void {
  if (installed) return;
  installed = true;
  const listener = (err: unknown) => {
    if (isNextWriteCrash(err)) {
      dropped++;
      try {
        onDrop?.(err as TypeError);
      } catch {
        // A failing log line must not turn a dropped crash into a real one.
      }
      return;
    }
    // Not ours. With other listeners the application decides; alone, behave as the runtime.
    if (process.listenerCount("uncaughtException") > 1) return;
    process.stderr.write(`Uncaught ${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  };
  process.on("uncaughtException", listener);
}
