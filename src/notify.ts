/**
 * Telling workers that jobs were enqueued: the payload of the notifications on the `gue_jobs`
 * channel, and the coalescing that keeps a burst of enqueues to a bounded number of NOTIFYs.
 *
 * One channel for every queue, not one per queue: a channel name is an identifier of at most 63
 * bytes, while a queue name is any text, so per-queue channels would need hashed names and a
 * LISTEN per queue on every listening connection. The payload names the queue instead, and a
 * listener drops what its workers do not work. Few queues per database is the common case, and
 * the coalescing below bounds what an idle listener receives.
 *
 * A NOTIFY takes a database-wide lock at commit and holds it while the commit's WAL is flushed,
 * so commits that notify run one at a time, and every notification costs the listening backends
 * and processes some work. Enqueues on the pool therefore carry a NOTIFY in their INSERT only
 * while no other notifying statement of the same client is in flight and the last one was sent
 * at least {@linkcode NOTIFY_GAP_MS} ago; the others' notices wait and ride on the next enqueue
 * that may notify, or, when none comes within {@linkcode NOTIFY_FLUSH_MS}, go out in one
 * standalone NOTIFY.
 * Enqueues inside the application's transaction always carry their own, so the notification is
 * delivered only if that transaction commits. Jobs due now that the client's own idle workers
 * take ({@linkcode splitForIdle}) are handed to them once the INSERT commits, with no NOTIFY.
 *
 * @module
 */
import type { Queryable } from "./adapter.ts";
import { type Logger, safeLog } from "./logger.ts";
import { NOTIFY_CHANNEL } from "./sql.ts";

export { NOTIFY_CHANNEL };

/** Postgres refuses payloads of 8000 bytes or more; ours stay well below. */
const MAX_PAYLOAD_BYTES = 7_900;

const encoder = new TextEncoder();

/** What one notification says: `count` jobs of `queue`, due at `runAt` (0: now). */
export interface Notice {
  /**
   * The queue, or `undefined` for "any queue" (a queue name too long for a payload): every
   * queue with idle workers gets one woken.
   */
  queue: string | undefined;
  /** How many jobs, as a hint of how many idle workers to wake. At least 1. */
  count: number;
  /** When the jobs are due, in ms since the epoch; 0 when they are due now. */
  runAt: number;
}

/**
 * The payload of a {@linkcode Notice}: `count|runAt|queue`. The queue comes last because it may
 * contain `|`. Identical payloads in one transaction are delivered once (Postgres drops the
 * duplicates), which is what repeated `enqueueTx` calls for one queue want.
 *
 * @param notice What to say.
 * @returns The payload text.
 */
export function noticePayload(notice: Notice): string {
  const head = `${notice.count}|${notice.runAt}|`;
  if (notice.queue === undefined) return head.slice(0, -1);
  const payload = head + notice.queue;
  // Every character takes at most 3 bytes in UTF-8: only long names need the exact count.
  if (
    payload.length * 3 > MAX_PAYLOAD_BYTES && encoder.encode(payload).length > MAX_PAYLOAD_BYTES
  ) {
    return head.slice(0, -1);
  }
  return payload;
}

/**
 * Reads a payload. Anything that is not `count|runAt|queue` (for example a plain
 * `NOTIFY gue_jobs, 'emails'` from SQL) is taken as the name of a queue with one job due now;
 * `count|runAt` without a queue means any queue.
 *
 * @param payload The notification's payload.
 * @returns What it says.
 */
export function parseNoticePayload(payload: string): Notice {
  const first = payload.indexOf("|");
  const second = first < 0 ? -1 : payload.indexOf("|", first + 1);
  const count = Number(payload.slice(0, first));
  const runAt = Number(payload.slice(first + 1, second < 0 ? undefined : second));
  if (
    first <= 0 || !Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(runAt) ||
    runAt < 0 || first + 1 === (second < 0 ? payload.length : second)
  ) {
    return { queue: payload, count: 1, runAt: 0 };
  }
  return { queue: second < 0 ? undefined : payload.slice(second + 1), count, runAt };
}

/** The prefix of a cancellation notification's payload: `cancel|<job id>`. */
export const CANCEL_PAYLOAD_PREFIX = "cancel|";

/**
 * Reads a cancellation notification, sent by `client.cancelJob()` on the same channel with the
 * request it announces: `cancel|<job id>`. Job payloads start with a count or are a queue name,
 * so only a plain `NOTIFY gue_jobs, 'cancel|…'` (a queue named so) could be mistaken for one.
 *
 * @param payload The notification's payload.
 * @returns The job's id, or `undefined` when the payload is not a cancellation.
 */
export function parseCancelPayload(payload: string): string | undefined {
  if (!payload.startsWith(CANCEL_PAYLOAD_PREFIX)) return undefined;
  const id = payload.slice(CANCEL_PAYLOAD_PREFIX.length);
  return id === "" ? undefined : id;
}

/** The part of a job a notice needs. */
export interface NoticeJob {
  /** The job's queue. */
  queue: string;
  /** When it is due. */
  runAt: Date;
}

/**
 * Groups jobs into notices: per queue, one for the jobs due by `now` (runAt 0) and one for the
 * later ones (runAt the earliest of them).
 *
 * @param jobs The jobs of one statement or batch.
 * @param now The enqueue's clock, in ms.
 * @returns One or two notices per queue.
 */
export function noticesFor(jobs: readonly NoticeJob[], now: number): Notice[] {
  const byKey = new Map<string, Notice>();
  for (const job of jobs) addNotice(byKey, job.queue, job.runAt.getTime(), now, 1);
  return [...byKey.values()];
}

/**
 * Splits the notices of jobs just enqueued into those this process's idle workers take (jobs
 * due now, at most as many per queue as it has idle workers) and those to NOTIFY: the jobs
 * beyond them, and jobs due later, which idle workers elsewhere must learn about too.
 *
 * @param notices The enqueue's notices ({@linkcode noticesFor}).
 * @param idle How many workers of a queue are idle in this process.
 * @returns `[handOff, notify]`.
 */
export function splitForIdle(
  notices: readonly Notice[],
  idle: (queue: string) => number,
): [Notice[], Notice[]] {
  const handOff: Notice[] = [];
  const notify: Notice[] = [];
  for (const n of notices) {
    const local = n.runAt === 0 && n.queue !== undefined ? Math.min(n.count, idle(n.queue)) : 0;
    if (local > 0) handOff.push({ ...n, count: local });
    if (local < n.count) notify.push({ ...n, count: n.count - local });
  }
  return [handOff, notify];
}

function addNotice(
  into: Map<string, Notice>,
  queue: string | undefined,
  runAt: number,
  now: number,
  count: number,
): void {
  const due = runAt <= now;
  const key = `${due ? "d" : "l"}${queue === undefined ? "*" : "q" + queue}`;
  const seen = into.get(key);
  if (seen === undefined) into.set(key, { queue, count, runAt: due ? 0 : runAt });
  else {
    seen.count += count;
    if (!due && runAt < seen.runAt) seen.runAt = runAt;
  }
}

/**
 * The shortest time between two notifying statements of one client's pool, in ms. Enqueues in
 * between let their notices ride on the next enqueue statement after the gap (or, when none
 * comes, on one standalone NOTIFY, {@linkcode NOTIFY_FLUSH_MS} after the last notification), so a
 * stream of enqueues from one producer costs at most one notification per gap, not one per job.
 * The first enqueue after a quiet moment notifies at once.
 */
export const NOTIFY_GAP_MS = 2;

/**
 * How long after the last notifying statement the notices that no enqueue carried go out on
 * their own, in one standalone NOTIFY, in ms: the most a job's wake-up waits. Longer than the gap
 * so that a producer's next enqueue carries them first and the timer is cleared, not fired: a
 * timer that fires costs about 0.1 ms of CPU in Deno (300 took 28 ms here). With the timer at the
 * end of the gap, a single producer spent 10–16 µs more CPU per enqueue than one that notified on
 * every enqueue; with this one, the same.
 */
export const NOTIFY_FLUSH_MS = 10;

/**
 * Sends the notices of one client's enqueues on its pool with at most one notifying statement in
 * flight, and at most one per {@linkcode NOTIFY_GAP_MS}. {@linkcode NotifyCoalescer.claim} says
 * whether an enqueue statement carries notices (its own and those that waited); when it may not,
 * they wait for the next claim that may, and {@linkcode NotifyCoalescer.release} ends a claim.
 * Notices still waiting when no enqueue came along by the end of the gap go out in one
 * standalone statement.
 */
export class NotifyCoalescer {
  readonly #on: Queryable;
  readonly #statement: (payloads: number) => string;
  readonly #logger: Logger;
  /** A notifying statement (an enqueue or a standalone NOTIFY) is in flight. */
  #inFlight = false;
  /** `performance.now()` when the last notifying statement was sent. */
  #lastSent = -Infinity;
  #pending = new Map<string, Notice>();
  /** Enqueues in flight whose notices wait: the next enqueue of their producers may carry them. */
  #waiting = 0;
  /** The waiting notices the enqueue in flight carries: back to `#pending` if it fails. */
  #borrowed: Map<string, Notice> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDone: (() => void) | undefined;
  #idle: Promise<void> = Promise.resolve();
  readonly #gapMs: number;
  readonly #flushMs: number;

  /**
   * @param on Where standalone notifications are sent (the client's pool).
   * @param statement The standalone NOTIFY statement for a number of payloads (`$1`…`$n`).
   * @param logger Where a failed standalone NOTIFY is logged.
   * @param gapMs The shortest time between two notifying statements; for tests.
   * @param flushMs When waiting notices go out on their own, after the last notifying
   * statement; at least `gapMs`. For tests.
   */
  constructor(
    on: Queryable,
    statement: (payloads: number) => string,
    logger: Logger,
    gapMs: number = NOTIFY_GAP_MS,
    flushMs: number = NOTIFY_FLUSH_MS,
  ) {
    this.#on = on;
    this.#statement = statement;
    this.#logger = logger;
    this.#gapMs = gapMs;
    this.#flushMs = Math.max(gapMs, flushMs);
  }

  /**
   * Claims the right to notify for one enqueue statement.
   *
   * @param notices The statement's notices.
   * @returns The notices the statement must carry (its own and those that waited; then call
   * `release(true, …)` once it settled), or an empty array when its notices wait (then call
   * `release(false)` once it settled).
   */
  claim(notices: Notice[]): Notice[] {
    if (notices.length === 0) return notices;
    const now = performance.now();
    if (this.#inFlight || now - this.#lastSent < this.#gapMs) {
      const clock = Date.now();
      for (const n of notices) addNotice(this.#pending, n.queue, n.runAt || clock, clock, n.count);
      // No timer while this enqueue is in flight: its release arms one if the notices still wait.
      this.#waiting++;
      return [];
    }
    this.#inFlight = true;
    this.#lastSent = now;
    this.#cancelTimer();
    if (this.#pending.size === 0) return notices;
    const borrowed = this.#pending;
    this.#pending = new Map();
    this.#borrowed = borrowed;
    const clock = Date.now();
    const all = new Map<string, Notice>();
    for (const n of notices) addNotice(all, n.queue, n.runAt || clock, clock, n.count);
    for (const n of borrowed.values()) addNotice(all, n.queue, n.runAt || clock, clock, n.count);
    return [...all.values()];
  }

  /**
   * Queues notices to go out with the next notifying statement (an enqueue's claim, or a
   * standalone NOTIFY at the end of the gap): for jobs already committed whose wake-up could
   * not be handed to the client's own idle workers after all.
   *
   * @param notices What to tell.
   */
  defer(notices: Notice[]): void {
    const clock = Date.now();
    for (const n of notices) addNotice(this.#pending, n.queue, n.runAt || clock, clock, n.count);
    this.#schedule();
  }

  /**
   * Ends a claim.
   *
   * @param carried Whether the statement carried the notices `claim` returned.
   * @param delivered Whether its notifications went out (it committed, and inserted a row): when
   * not, the notices it carried for others wait again.
   */
  release(carried: boolean, delivered = true): void {
    if (!carried) {
      if (this.#waiting > 0) this.#waiting--;
      if (this.#pending.size > 0) this.#schedule();
      return;
    }
    this.#inFlight = false;
    const borrowed = this.#borrowed;
    this.#borrowed = undefined;
    if (!delivered && borrowed !== undefined) {
      for (const n of borrowed.values()) {
        addNotice(this.#pending, n.queue, n.runAt || Date.now(), Date.now(), n.count);
      }
    }
    if (this.#pending.size > 0) this.#schedule();
  }

  /** Resolves when no notice waits and no standalone NOTIFY is in flight; for tests. */
  async settled(): Promise<void> {
    let idle: Promise<void>;
    do {
      idle = this.#idle;
      await idle;
    } while (idle !== this.#idle);
  }

  /**
   * Sends what waits in one standalone statement `flushMs` after the last notifying statement,
   * unless an enqueue claims it first. Armed only while neither a notifying statement nor an
   * enqueue whose notices wait is in flight: their `release` arms it. When the last of them
   * settles after that moment, the timer has no delay and runs after the continuations of its
   * caller, so a producer that enqueues again carries the notices instead of a NOTIFY
   * transaction of their own.
   */
  #schedule(): void {
    if (this.#timer !== undefined || this.#inFlight || this.#waiting > 0) return;
    const delay = Math.max(0, this.#lastSent + this.#flushMs - performance.now());
    this.#idle = new Promise<void>((resolve) => {
      this.#timerDone = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#timerDone = undefined;
        if (this.#waiting > 0) resolve();
        else this.#flush().then(resolve);
      }, delay);
    });
  }

  #cancelTimer(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerDone?.();
    this.#timerDone = undefined;
  }

  async #flush(): Promise<void> {
    if (this.#inFlight || this.#pending.size === 0) return;
    this.#inFlight = true;
    this.#lastSent = performance.now();
    const payloads = [...this.#pending.values()].map(noticePayload);
    this.#pending = new Map();
    try {
      await this.#on.query(this.#statement(payloads.length), payloads);
    } catch (err) {
      // The jobs are committed: polling finds them. Only their wake-up is lost. Info, not error:
      // the enqueues it announces resolved before it was sent, so an application that closes
      // its pool right after them ends here without anything being wrong.
      safeLog(
        this.#logger,
        "info",
        "Could not notify workers of enqueued jobs; they poll for them",
        {
          error: err,
        },
      );
    } finally {
      this.#inFlight = false;
    }
    if (this.#pending.size > 0) this.#schedule();
  }
}
