/**
 * Periodic jobs: a job enqueued at every tick of a 5-field cron expression (parsed by `croner`)
 * or of a plain interval, by any number of processes, each tick exactly once, with no leader.
 *
 * How: `gue_cron` keeps, per periodic job, the last tick enqueued. At a tick every scheduler
 * tries, in one transaction, to move that row forward to the tick (an `UPDATE … WHERE
 * last_tick < tick`) and to enqueue the tick's job: the row lock lets one transaction do it, and
 * the others find the tick taken. A restart goes on from the row.
 *
 * @module
 */
import { Cron as CronPattern } from "croner";
import type { Client, JobInput } from "./client.ts";
import { DatabaseError } from "./errors.ts";
import { type Logger, safeLog } from "./logger.ts";
import { cronClaimTick, cronEnsure } from "./sql.ts";

/** One periodic job. */
export interface CronJob {
  /** Names it across processes: schedulers with the same name share its ticks. */
  name: string;
  /**
   * When: a 5-field cron expression (`"*\/5 * * * *"`: every 5 minutes; minute hour
   * day-of-month month day-of-week), a nickname (`"@hourly"`, `"@daily"`…), or `{ every: ms }`
   * for a plain interval (ticks at multiples of `ms` since the Unix epoch).
   */
  schedule: string | { every: number };
  /** The job to enqueue at each tick. `args` may be a function of the tick's time. */
  job: Omit<JobInput, "args" | "runAt"> & { args?: unknown | ((tick: Date) => unknown) };
  /**
   * When the previous tick's job is still queued or running: `"skip"` this tick (no pile-up),
   * or `"queue"` another job anyway. @default {"skip"}
   */
  overlap?: "skip" | "queue";
  /**
   * Ticks missed while no scheduler ran: `"once"` enqueues one job for the latest of them at
   * start; `"none"` enqueues none and waits for the next tick. @default {"once"}
   */
  missed?: "once" | "none";
  /** The IANA time zone of a cron expression, e.g. `"Europe/Berlin"`. @default {"UTC"} */
  timezone?: string;
}

/** Options of {@linkcode CronScheduler}. */
export interface CronSchedulerOptions {
  /** Where to log. @default the client's logger */
  logger?: Logger;
  /** Called after each tick a scheduler handled: whether this process enqueued its job. */
  onTick?: (name: string, tick: Date, enqueued: boolean) => void;
}

interface Entry {
  readonly spec: CronJob;
  readonly overlap: "skip" | "queue";
  readonly missed: "once" | "none";
  /** The latest tick at or before `ms`. */
  latest(ms: number): number;
  /** The first tick after `ms`. */
  next(ms: number): number;
}

function entryOf(spec: CronJob, i: number): Entry {
  const field = `cron[${i}]`;
  if (spec === null || typeof spec !== "object") throw new TypeError(`${field} must be an object`);
  if (typeof spec.name !== "string" || spec.name === "") {
    throw new TypeError(`${field}.name must be a non-empty string`);
  }
  if (spec.job === null || typeof spec.job !== "object" || !spec.job.type) {
    throw new TypeError(`${field}.job must be a job with a type`);
  }
  const overlap = spec.overlap ?? "skip";
  if (overlap !== "skip" && overlap !== "queue") {
    throw new TypeError(
      `${field}.overlap must be "skip" or "queue", got ${JSON.stringify(overlap)}`,
    );
  }
  const missed = spec.missed ?? "once";
  if (missed !== "once" && missed !== "none") {
    throw new TypeError(`${field}.missed must be "once" or "none", got ${JSON.stringify(missed)}`);
  }
  const schedule = spec.schedule;
  if (typeof schedule === "object" && schedule !== null) {
    const every = schedule.every;
    if (!Number.isInteger(every) || every < 1) {
      throw new RangeError(
        `${field}.schedule.every must be a positive integer of ms, got ${every}`,
      );
    }
    return {
      spec,
      overlap,
      missed,
      latest: (ms) => Math.floor(ms / every) * every,
      next: (ms) => (Math.floor(ms / every) + 1) * every,
    };
  }
  if (
    typeof schedule !== "string" ||
    (!schedule.startsWith("@") && schedule.trim().split(/\s+/).length !== 5)
  ) {
    throw new TypeError(
      `${field}.schedule must be a 5-field cron expression, a nickname such as "@hourly", ` +
        `or { every: ms }, got ${JSON.stringify(schedule)}`,
    );
  }
  let pattern: CronPattern;
  try {
    // An unknown zone fails here (croner would only fail at the first tick).
    new Intl.DateTimeFormat("en-US", { timeZone: spec.timezone ?? "UTC" });
    pattern = new CronPattern(schedule, { timezone: spec.timezone ?? "UTC", paused: true });
  } catch (err) {
    throw new TypeError(`${field}.schedule ${JSON.stringify(schedule)}: ${(err as Error).message}`);
  }
  return {
    spec,
    overlap,
    missed,
    latest: (ms) => {
      // previousRuns gives the runs strictly before its reference: ask from just after `ms`.
      const [run] = pattern.previousRuns(1, new Date(ms + 1));
      return run?.getTime() ?? Number.NEGATIVE_INFINITY;
    },
    next: (ms) => pattern.nextRun(new Date(ms))?.getTime() ?? Number.POSITIVE_INFINITY,
  };
}

/**
 * Enqueues periodic jobs. Run one in every process that should share the work (or just one):
 * each tick's job is enqueued once, by whichever scheduler claims the tick first.
 *
 * @example
 * ```ts
 * import postgres from "postgres";
 * import { Client, CronScheduler } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!);
 * const client = new Client(postgresjs(sql));
 * const cron = new CronScheduler(client, [
 *   { name: "nightly-report", schedule: "0 3 * * *", timezone: "Europe/Berlin",
 *     job: { type: "Report", queue: "reports" } },
 *   { name: "heartbeat", schedule: { every: 60_000 }, job: { type: "Ping" } },
 * ]);
 * const stop = new AbortController();
 * const running = cron.run(stop.signal);
 * // …
 * stop.abort();
 * await running;
 * await sql.end();
 * ```
 */
export class CronScheduler {
  readonly #client: Client;
  readonly #entries: Entry[];
  readonly #logger: Logger;
  readonly #onTick: CronSchedulerOptions["onTick"];
  #running = false;

  /**
   * Makes a scheduler; it enqueues nothing until `run()` is called.
   *
   * @param client The client to enqueue with.
   * @param jobs The periodic jobs.
   * @param options Logger, tick callback.
   * @throws {TypeError | RangeError} For a bad schedule or option, naming it.
   */
  constructor(client: Client, jobs: readonly CronJob[], options: CronSchedulerOptions = {}) {
    if (!Array.isArray(jobs)) throw new TypeError("CronScheduler: jobs must be an array");
    this.#entries = jobs.map(entryOf);
    const names = new Set<string>();
    for (const e of this.#entries) {
      if (names.has(e.spec.name)) {
        throw new TypeError(`CronScheduler: two jobs are named ${JSON.stringify(e.spec.name)}`);
      }
      names.add(e.spec.name);
    }
    this.#client = client;
    this.#logger = options.logger ?? client.logger;
    this.#onTick = options.onTick;
  }

  /**
   * Enqueues each job at its ticks until `signal` aborts. At start it records the jobs it does
   * not know yet (their first tick is the next one) and handles ticks missed while no scheduler
   * ran (`missed`).
   *
   * @param signal Stops it.
   * @throws {Error} When this scheduler is already running.
   */
  async run(signal: AbortSignal = new AbortController().signal): Promise<void> {
    if (this.#running) throw new Error("CronScheduler is already running");
    this.#running = true;
    try {
      const startedAt = Date.now();
      await Promise.all(this.#entries.map((e) => this.#loop(e, startedAt, signal)));
    } finally {
      this.#running = false;
    }
  }

  async #loop(entry: Entry, startedAt: number, signal: AbortSignal): Promise<void> {
    const name = entry.spec.name;
    const first = entry.latest(startedAt);
    try {
      await this.#client.pool.query(cronEnsure, [
        name,
        new Date(Number.isFinite(first) ? first : startedAt),
      ]);
    } catch (err) {
      safeLog(this.#logger, "error", "Cron: could not record the job", { cron: name, error: err });
    }
    // At start: a tick missed while everything was down (an older tick than startedAt, not yet
    // claimed) is claimed now; with missed "none" without a job.
    let tick = first;
    let catchUp = true;
    while (!signal.aborted) {
      if (Number.isFinite(tick)) {
        try {
          const enqueued = await this.#claim(entry, tick, catchUp && entry.missed === "none");
          this.#onTick?.(name, new Date(tick), enqueued);
        } catch (err) {
          safeLog(this.#logger, "error", "Cron: tick failed", { cron: name, error: err });
        }
      }
      catchUp = false;
      const next = entry.next(Math.max(Date.now(), Number.isFinite(tick) ? tick : 0));
      if (!Number.isFinite(next)) return;
      await sleepUntil(next, signal);
      tick = entry.latest(Date.now());
    }
  }

  /** Claims `tick` and enqueues its job in one transaction; false when taken or skipped. */
  async #claim(entry: Entry, tick: number, skip: boolean): Promise<boolean> {
    const { name, job } = entry.spec;
    const at = new Date(tick);
    const tx = await this.#client.pool.begin();
    try {
      const { rows } = await tx.query(cronClaimTick, [name, at, new Date()]);
      if (rows.length !== 1 || skip) {
        await tx.commit();
        return false;
      }
      const args = typeof job.args === "function"
        ? (job.args as (t: Date) => unknown)(at)
        : job.args;
      const stored = await this.#client.enqueueTx({
        ...job,
        args,
        ...(entry.overlap === "skip" ? { uniqueKey: `gue-cron:${name}` } : {}),
      }, tx);
      await tx.commit();
      return stored.inserted;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw err instanceof DatabaseError ? err : new DatabaseError("cron", err);
    }
  }
}

function sleepUntil(at: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    // Timers may fire a little early: never wake before the tick.
    const timer = setTimeout(done, Math.max(0, at - Date.now()) + 1);
    signal.addEventListener("abort", done, { once: true });
  });
}
