/**
 * Stopping every throwaway server when the process exits or is interrupted.
 *
 * One set of process hooks serves all servers, so that a signal stops all of them before exiting
 * instead of the first handler exiting while the others still have work to do. Signal listeners
 * replace the runtime's default "die on Ctrl-C", so they are only installed while a server that
 * asked for them is running, and removed afterwards.
 *
 * @module
 */

import process from "node:process";

/** Something to stop: asynchronously on a signal, synchronously in the `exit` event. */
export interface Stoppable {
  /** Stops it; may be called more than once. */
  stop(): Promise<void>;
  /** Stops it without awaiting anything: async work never completes in the `exit` event. */
  stopSync(): void;
}

/** The signals handled, with their numbers for the 128 + n exit code. */
export const SIGNALS = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const;
/** One of {@linkcode SIGNALS}. */
export type HandledSignal = keyof typeof SIGNALS;

const live = new Map<Stoppable, { handleSignals: boolean }>();
let exiting = false;

function onExit(): void {
  for (const server of [...live.keys()]) {
    try {
      server.stopSync();
    } catch {
      // Keep going: the other servers still need stopping.
    }
  }
}

function onSignal(signal: HandledSignal): void {
  const code = 128 + SIGNALS[signal];
  // A second Ctrl-C while stopping: give up waiting; the exit hook still stops the servers.
  if (exiting) process.exit(code);
  exiting = true;
  Promise.allSettled([...live.keys()].map((s) => s.stop())).finally(() => process.exit(code));
}

const signalListeners = Object.fromEntries(
  Object.keys(SIGNALS).map((s) => [s, () => onSignal(s as HandledSignal)]),
) as Record<HandledSignal, () => void>;
let signalsInstalled = false;

/**
 * Stops `server` on process exit (synchronously) and, with `handleSignals`, on SIGINT, SIGTERM
 * and SIGHUP (then exits with 128 + the signal's number).
 *
 * @param server What to stop.
 * @param handleSignals Whether to install the signal listeners while `server` is registered.
 * @returns A function that unregisters `server` (call it once it is stopped); safe to call twice.
 */
export function stopOnExit(server: Stoppable, handleSignals: boolean): () => void {
  if (live.size === 0) process.on("exit", onExit);
  live.set(server, { handleSignals });
  syncSignalListeners();
  return () => {
    if (!live.delete(server)) return;
    if (live.size === 0) process.off("exit", onExit);
    syncSignalListeners();
  };
}

function syncSignalListeners(): void {
  const want = [...live.values()].some((v) => v.handleSignals);
  if (want === signalsInstalled) return;
  for (const [signal, listener] of Object.entries(signalListeners)) {
    try {
      if (want) process.on(signal, listener);
      else process.off(signal, listener);
    } catch {
      // Some platforms (Windows) do not support every signal.
    }
  }
  signalsInstalled = want;
}
