/**
 * Runs one scenario from a fresh database to its row in the table: start the workers, feed a
 * steady stream of jobs, inject the faults at even points of the stream (a supervisor restarts
 * any process that exits), let the queue drain, stop the workers with SIGTERM, then count.
 *
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { Client } from "../mod.ts";
import { pg as pgAdapter } from "../src/adapters/pg.ts";
import type { ChaosCluster } from "./cluster.ts";
import { Fleet, STOP_BOUND_MS } from "./fleet.ts";
import { type JobOutcome, jobOutcome, type Recovery, recovery } from "./measure.ts";
import { findPgBouncer, type PgBouncer, startPgBouncer } from "./pgbouncer.ts";
import type { Scenario } from "./scenarios.ts";
import { EFFECT_TABLE } from "./schema.ts";

/** How big a run is. */
export interface RunSize {
  /** Short (CI) or full. */
  short: boolean;
  /** How long jobs are fed, in ms. */
  feedMs: number;
  /** Jobs enqueued per second while feeding. */
  rate: number;
  /** How long the queue may take to drain after the feed, in ms. */
  drainMs: number;
}

/** A scenario's row in the table. */
export interface ScenarioResult extends JobOutcome, Recovery {
  /** The scenario's name. */
  name: string;
  /** Faults injected. */
  faults: number;
  /** Processes that exited on their own (or failed to stop cleanly after SIGTERM). */
  crashed: number;
  /** Processes that did not exit within the stop bound after SIGTERM. */
  hung: number;
  /** Enqueues that failed (during a restart, say); those jobs are not counted. */
  enqueueFailures: number;
  /** Log lines of interest, by kind. */
  notes: string[];
  /** Why it was skipped, when it was. */
  skipped?: string;
  /** Not gated. */
  informational?: boolean;
  /** Wall time of the scenario, in ms. */
  wallMs: number;
}

const APP = "gue-chaos-worker";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A scenario's row with nothing counted yet: the base of every row, also of one that never ran.
 *
 * @param scenario The scenario.
 * @returns Its name and informational flag, every count zero.
 */
export function emptyResult(scenario: Scenario): ScenarioResult {
  return {
    name: scenario.name,
    faults: 0,
    jobs: 0,
    lost: 0,
    failed: 0,
    duplicated: 0,
    leftover: 0,
    done: 0,
    crashed: 0,
    hung: 0,
    worstMs: null,
    stuck: 0,
    enqueueFailures: 0,
    notes: [],
    informational: scenario.informational,
    wallMs: 0,
  };
}

/**
 * Runs one scenario.
 *
 * @param cluster The cluster.
 * @param scenario The scenario.
 * @param size Short or full, and the stream's size.
 * @param logDir Where the workers' log goes (`<logDir>/<name>.log`).
 * @returns Its row.
 */
export async function runScenario(
  cluster: ChaosCluster,
  scenario: Scenario,
  size: RunSize,
  logDir: string,
): Promise<ScenarioResult> {
  const started = Date.now();
  const empty = emptyResult(scenario);
  const bouncerBinary = scenario.pgbouncer ? findPgBouncer() : undefined;
  if (scenario.pgbouncer && !bouncerBinary) {
    return { ...empty, skipped: "pgbouncer is not installed (apt-get install -y pgbouncer)" };
  }

  const database = `chaos_${scenario.name.replaceAll("-", "_")}`;
  await cluster.admin(`drop database if exists ${database} with (force)`);
  await cluster.admin(`create database ${database}`);
  // The throwaway cluster runs with synchronous_commit off for speed, which lets an immediate
  // restart lose the last commits; here a commit must mean durable, or "lost" means nothing.
  await cluster.admin(`alter database ${database} set synchronous_commit = on`);
  const db = new pg.Pool({ connectionString: cluster.urlOf(database), max: 4 });
  db.on("error", () => {}); // Idle connections die in restarts; the pool replaces them.
  const client = new Client(pgAdapter(db));
  await client.migrate();
  await db.query(EFFECT_TABLE);

  let bouncer: PgBouncer | undefined;
  if (scenario.pgbouncer) {
    const [{ data_directory }] = await cluster.admin<{ data_directory: string }>(
      "show data_directory",
    );
    bouncer = await startPgBouncer(
      bouncerBinary!,
      cluster.port,
      scenario.pgbouncer,
      data_directory,
    );
  }
  const logFile = join(logDir, `${scenario.name}.log`);
  const fleet = new Fleet({
    url: bouncer ? bouncer.urlOf(database) : cluster.urlOf(database),
    poolSize: scenario.poolSize,
    jobTTL: scenario.jobTTL ?? 0,
    prepare: scenario.prepare ?? true,
    applicationName: APP,
  }, logFile);

  try {
    await fleet.startMany(scenario.processes);

    // The supervisor: a process that exits (killed, crashed, stopped) is replaced, as systemd or
    // an orchestrator would, so the run goes on at full strength.
    let supervising = true;
    const supervisor = (async () => {
      while (supervising) {
        if (fleet.live().length < scenario.processes) await fleet.start();
        else await sleep(100);
      }
    })();

    // The feed: `rate` jobs a second in batches every 50 ms, for feedMs.
    const enqueued: string[] = [];
    let enqueueFailures = 0;
    let n = 0;
    const feedStart = Date.now();
    const feed = (async () => {
      const perBatch = Math.max(1, Math.round(size.rate / 20));
      const end = Date.now() + size.feedMs;
      while (Date.now() < end) {
        const next = Date.now() + 50;
        const jobs = Array.from({ length: perBatch }, () => ({
          type: "chaos",
          args: scenario.args(n++),
        }));
        try {
          for (const job of await client.enqueueBatch(jobs)) enqueued.push(job.id);
        } catch {
          enqueueFailures++;
        }
        await sleep(Math.max(0, next - Date.now()));
      }
    })();

    // Idle workers are woken only for as many jobs as were enqueued, so a light stream keeps
    // some of them idle, and an idle worker looks just like a stuck one. After each fault a
    // probe of two slow jobs per worker slot gives every live worker a job at once: a slot that
    // then commits nothing is stuck, and its first commit after the fault times its recovery
    // (an effect's time is its job's lock). Retried until it commits, as a restart refuses it.
    const probe = async () => {
      const slots = scenario.processes * scenario.poolSize;
      const jobs = Array.from({ length: 2 * slots }, () => ({ type: "chaos", args: { ms: 250 } }));
      for (let tries = 0; tries < 100; tries++) {
        try {
          for (const job of await client.enqueueBatch(jobs)) enqueued.push(job.id);
          return;
        } catch {
          await sleep(100);
        }
      }
    };

    // The faults, at even points of the first 70% of the stream, so every worker has jobs
    // to show its recovery with after the last one.
    const count = size.short ? scenario.faults[0] : scenario.faults[1];
    const faultEnds: number[] = [];
    if (scenario.fault && count > 0) {
      const window = size.feedMs * 0.7;
      for (let i = 0; i < count; i++) {
        await sleep(Math.max(0, feedStart + window * (i + 1) / (count + 1) - Date.now()));
        faultEnds.push(
          await scenario.fault({ cluster, fleet, applicationName: APP }),
        );
        await probe();
      }
    } else {
      // No injected fault: check that every worker still commits in the second half.
      await sleep(size.feedMs / 2);
      faultEnds.push(Date.now());
      await probe();
    }
    await feed;

    // Drain: until no job is left (failing jobs retry after 200 ms) or the time is up.
    const drainEnd = Date.now() + size.drainMs;
    while (Date.now() < drainEnd) {
      const { rows: [{ count }] } = await db.query<{ count: string }>(
        "select count(*) from gue_jobs",
      ).catch(() => ({ rows: [{ count: "-1" }] }));
      if (count === "0") break;
      await sleep(250);
    }
    supervising = false;
    await supervisor;

    const slots = fleet.live().flatMap((p) =>
      Array.from({ length: scenario.poolSize }, (_, index) => ({
        pid: p.pid,
        index,
        startedAt: p.startedAt,
      }))
    );
    const rec = await recovery(db, faultEnds, slots);
    await fleet.stopAll();
    const outcome = await jobOutcome(db, enqueued);
    return {
      ...empty,
      ...outcome,
      ...rec,
      worstMs: scenario.fault ? rec.worstMs : null,
      faults: scenario.fault ? faultEnds.length : 0,
      crashed: fleet.crashed().length,
      hung: fleet.hung().length,
      enqueueFailures,
      notes: notes(fleet, logFile),
      wallMs: Date.now() - started,
    };
  } finally {
    await fleet.stopAll();
    await bouncer?.stop();
    await db.end().catch(() => {});
    await cluster.admin(`drop database if exists ${database} with (force)`).catch(() => {});
  }
}

/** Short notes from the workers' log: crash reports and counts of telling messages. */
function notes(fleet: Fleet, logFile: string): string[] {
  const out: string[] = [];
  for (const p of fleet.crashed()) {
    const report = p.rawTail.find((l) => /error|exception/i.test(l)) ?? p.rawTail.at(-1) ?? "";
    out.push(`pid ${p.pid} exit ${p.exit?.code ?? p.exit?.signal}: ${report.trim().slice(0, 160)}`);
  }
  for (const p of fleet.hung()) {
    out.push(`pid ${p.pid} still running ${STOP_BOUND_MS} ms after SIGTERM`);
  }
  let log = "";
  try {
    log = readFileSync(logFile, "utf8");
  } catch {
    return out;
  }
  const count = (re: RegExp) => log.split("\n").filter((l) => re.test(l)).length;
  const kinds: [string, RegExp][] = [
    ["CONNECT_TIMEOUT", /CONNECT_TIMEOUT/],
    ["null socket write", /reading 'write'|evaluating 'socket\.write'/],
    ["prepared statement does not exist", /prepared statement .* does not exist/],
    ["prepare: false hint", /prepare: false/],
    ["handler failures logged", /"level":"error".*(handler|Job failed|job failed)/i],
  ];
  for (const [name, re] of kinds) {
    const n = count(re);
    if (n > 0) out.push(`${name}: ${n} log lines`);
  }
  return out;
}
