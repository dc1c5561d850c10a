/**
 * Where idle workers wait, and what wakes them: a notification that jobs of their queue were
 * enqueued, the moment the queue's next scheduled job falls due, or their poll interval.
 *
 * One {@linkcode Wakeup} per client, shared by every worker and pool on it, with one LISTEN
 * connection however many workers there are. A notification of `count` jobs due now wakes at
 * most `count` idle workers of that queue, not all of them: the others would only run empty
 * polls. A worker that finds a job polls again at once, so workers that are busy drain the rest.
 * A notification that arrives while no worker of its queue is idle (they are all polling) is
 * kept, and the next worker to go idle polls once more instead of sleeping, so a job committed
 * during a poll is not left waiting for the poll interval.
 *
 * Scheduled jobs: after an empty poll the worker reports the queue's next `run_at` (the lock
 * query returns it), and one idle worker of the queue is woken at that time. A notification of
 * jobs due earlier moves that time forward.
 *
 * @module
 */
import { type ListenConnection, Listener, type ListenFn } from "./listener.ts";
import { type Logger, safeLog } from "./logger.ts";
import { type Notice, NOTIFY_CHANNEL, parseCancelPayload, parseNoticePayload } from "./notify.ts";

interface Waiter {
  wake(): void;
}

interface QueueState {
  /** Idle workers, longest idle first. */
  idle: Waiter[];
  /** Notified jobs that found no idle worker since a poll of this queue last began. */
  pending: number;
  /** The earliest known `run_at` of a job not yet due, in ms; undefined when none is known. */
  due: number | undefined;
  /** Wakes one idle worker at `due`; armed only while a worker is idle. */
  dueTimer: ReturnType<typeof setTimeout> | undefined;
  dueTimerAt: number;
}

/** Options of {@linkcode Wakeup}. */
export interface WakeupOptions {
  /**
   * How to open a LISTEN connection (the adapter's), or `undefined` to poll only: when the
   * adapter cannot listen or listening is turned off.
   */
  listen?: ListenFn;
  /** Why there is no `listen`, logged once when the first worker starts. */
  pollOnlyReason?: string;
  /** Where to log. */
  logger: Logger;
  /** Receives the job id of each cancellation notification (`cancel|<id>`). */
  onCancel?: (id: string) => void;
  /** Reconnect delays of the LISTEN connection, in ms. @default {100 and 5000} */
  retryMinMs?: number;
  /** @see retryMinMs */
  retryMaxMs?: number;
}

/**
 * The wake-up registry of one client. Workers call {@linkcode Wakeup.attach} when they start,
 * {@linkcode Wakeup.polling} before each poll and {@linkcode Wakeup.wait} after an empty one.
 */
export class Wakeup {
  readonly #queues = new Map<string, QueueState>();
  readonly #options: WakeupOptions;
  #listener: Listener | undefined;
  #attached = 0;
  #loggedPollOnly = false;
  #closing: Promise<void> = Promise.resolve();

  /** @param options How to listen (or why not), logger. */
  constructor(options: WakeupOptions) {
    this.#options = options;
  }

  /** Whether a LISTEN connection is in effect now. */
  get listening(): boolean {
    return this.#listener?.listening ?? false;
  }

  /**
   * A worker starts: the first one opens the LISTEN connection (or logs, once, why workers only
   * poll).
   *
   * @returns Call it when the worker stops; the last one closes the connection.
   */
  attach(): () => Promise<void> {
    this.#attached++;
    const listen = this.#options.listen;
    if (listen === undefined) {
      if (!this.#loggedPollOnly) {
        this.#loggedPollOnly = true;
        safeLog(this.#options.logger, "info", "Workers poll only: not listening for new jobs", {
          reason: this.#options.pollOnlyReason ?? "listening is off",
        });
      }
    } else if (this.#listener === undefined) {
      this.#listener = new Listener(listen, NOTIFY_CHANNEL, (p) => this.#onPayload(p), {
        logger: this.#options.logger,
        retryMinMs: this.#options.retryMinMs,
        retryMaxMs: this.#options.retryMaxMs,
        // Notifications sent while the connection was down are lost: have each queue poll once.
        onState: (listening) => listening && this.#wakeEveryQueue(),
      });
      this.#listener.start();
    }
    let detached = false;
    return () => {
      if (detached) return this.#closing;
      detached = true;
      if (--this.#attached === 0) {
        const listener = this.#listener;
        this.#listener = undefined;
        this.#closing = listener?.close() ?? Promise.resolve();
      }
      return this.#closing;
    };
  }

  /**
   * A worker of `queue` starts a poll: notifications received so far are served by it.
   *
   * @param queue The worker's queue.
   */
  polling(queue: string): void {
    this.#state(queue).pending = 0;
  }

  /**
   * Waits after an empty poll: until a notification wakes this worker, the queue's next job
   * falls due, `pollInterval` passes, or `signal` aborts.
   *
   * @param queue The worker's queue.
   * @param pollInterval The longest wait, in ms.
   * @param nextRunAt The queue's earliest `run_at` after now, as the poll saw it, or `null`.
   * @param signal Ends the wait at once.
   */
  wait(
    queue: string,
    pollInterval: number,
    nextRunAt: Date | null,
    signal: AbortSignal,
  ): Promise<void> {
    const state = this.#state(queue);
    if (nextRunAt !== null) this.#learnDue(state, nextRunAt.getTime());
    if (signal.aborted) return Promise.resolve();
    if (state.pending > 0) {
      state.pending--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const waiter: Waiter = {
        wake: () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", waiter.wake);
          const i = state.idle.indexOf(waiter);
          if (i >= 0) state.idle.splice(i, 1);
          if (state.idle.length === 0) this.#disarm(state);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, pollInterval);
      signal.addEventListener("abort", waiter.wake, { once: true });
      state.idle.push(waiter);
      this.#arm(state);
    });
  }

  /**
   * Wakes idle workers for jobs enqueued: up to `count` of `queue` for jobs due now, or, for
   * later jobs, one at `runAt`. A `queue` of `undefined` means every queue.
   *
   * @param notice What was enqueued.
   */
  notify(notice: Notice): void {
    if (notice.queue === undefined) {
      for (const state of this.#queues.values()) this.#notifyQueue(state, { ...notice, count: 1 });
      return;
    }
    // Only queues that workers of this client poll: others' notifications are not ours to keep.
    const state = this.#queues.get(notice.queue);
    if (state !== undefined) this.#notifyQueue(state, notice);
  }

  /**
   * Wakes up to `count` idle workers of `queue` now, for jobs this process just committed: the
   * client's own enqueues hand their jobs to its idle workers without a round trip through the
   * server's NOTIFY.
   *
   * @param queue The jobs' queue.
   * @param count How many jobs.
   * @returns How many workers were woken (0 when none of `queue` is idle).
   */
  wakeIdle(queue: string, count: number): number {
    const state = this.#queues.get(queue);
    return state === undefined ? 0 : this.#wake(state, count);
  }

  /** Idle workers of `queue` now. */
  idleWorkers(queue: string): number {
    return this.#queues.get(queue)?.idle.length ?? 0;
  }

  #onPayload(payload: string): void {
    const cancelled = parseCancelPayload(payload);
    if (cancelled === undefined) this.notify(parseNoticePayload(payload));
    else this.#options.onCancel?.(cancelled);
  }

  #notifyQueue(state: QueueState, notice: Notice): void {
    if (notice.runAt > Date.now()) {
      this.#learnDue(state, notice.runAt);
      return;
    }
    state.pending += notice.count - this.#wake(state, notice.count);
  }

  /** Wakes up to `count` idle workers of the queue, longest idle first; returns how many. */
  #wake(state: QueueState, count: number): number {
    let woken = 0;
    for (; woken < count && state.idle.length > 0; woken++) state.idle[0].wake();
    return woken;
  }

  #wakeEveryQueue(): void {
    for (const state of this.#queues.values()) this.#notifyQueue(state, NOW_ONE);
  }

  #learnDue(state: QueueState, at: number): void {
    if (state.due !== undefined && state.due <= at) return;
    state.due = at;
    this.#arm(state);
  }

  /** Arms the due timer when a worker is idle and a due time is known. */
  #arm(state: QueueState): void {
    if (state.due === undefined || state.idle.length === 0) return;
    if (state.dueTimer !== undefined) {
      if (state.dueTimerAt <= state.due) return;
      clearTimeout(state.dueTimer);
    }
    state.dueTimerAt = state.due;
    this.#armAt(state, state.due);
  }

  /**
   * Wakes one idle worker once the client's clock reads `at`, not later: the lock compares
   * run_at with that clock in ms, and a job enqueued with a `runAt` has a run_at in whole ms. A
   * timer that fires early (timers run on another clock) waits the rest instead of polling for
   * nothing. A run_at with µs (written by SQL) reads back truncated: the poll at `at` misses it
   * and reports the same time, and then the timer waits the 1 ms it needs (never 0: that would
   * poll again in the same ms).
   */
  #armAt(state: QueueState, at: number): void {
    state.dueTimer = setTimeout(() => {
      if (Date.now() < at) return this.#armAt(state, at);
      state.dueTimer = undefined;
      state.due = undefined;
      this.#notifyQueue(state, NOW_ONE);
    }, Math.max(1, at - Date.now()));
  }

  #disarm(state: QueueState): void {
    clearTimeout(state.dueTimer);
    state.dueTimer = undefined;
  }

  #state(queue: string): QueueState {
    let state = this.#queues.get(queue);
    if (state === undefined) {
      state = { idle: [], pending: 0, due: undefined, dueTimer: undefined, dueTimerAt: 0 };
      this.#queues.set(queue, state);
    }
    return state;
  }
}

const NOW_ONE: Notice = { queue: "", count: 1, runAt: 0 };

export type { ListenConnection, ListenFn };
