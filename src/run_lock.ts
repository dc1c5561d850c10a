/**
 * A guard that lets one run of something go at a time (gue's `RunLock`).
 *
 * @module
 */

/** The state {@linkcode runLock} keeps: whether a run is in progress. */
export interface RunState {
  /** True while a run is in progress. */
  running: boolean;
}

/**
 * Runs `fn` unless a run guarded by the same `state` is in progress, in which case it rejects
 * with `worker[id=<id>] is already running` (gue's text, also for pools).
 *
 * @param state The guard, one per runnable thing.
 * @param id The id named in the error.
 * @param fn The run.
 * @returns What `fn` returns.
 *
 * @example
 * ```ts
 * import { runLock } from "@gue/gue";
 * const state = { running: false };
 * const first = runLock(state, "w1", () => new Promise((r) => setTimeout(r, 10)));
 * await runLock(state, "w1", async () => {}).catch((e) => console.assert(/already running/.test(e.message)));
 * await first;
 * ```
 */
export async function runLock<T>(state: RunState, id: string, fn: () => Promise<T>): Promise<T> {
  if (state.running) throw new Error(`worker[id=${id}] is already running`);
  state.running = true;
  try {
    return await fn();
  } finally {
    state.running = false;
  }
}
