// graphile-worker doing scenarios 1 (drain throughput), 3 (enqueue) and 4 (latency) of the gue
// bench, on Node, in a database of its own. Run by bench/main.ts with `--peers`; see bench/README.md.
//
// Configuration: `run()` with `concurrency` = W, `maxPoolSize` = max(10, W + 2) (its own advice),
// the default 2 s poll (new jobs arrive through LISTEN/NOTIFY, so the poll hardly matters),
// prepared statements on, signal handlers off. Jobs are fetched and completed one at a time, its
// default and the same crash semantics as gue. The batched drain (`batch`) turns its batching on:
// `localQueue.size` = max(K, W + 1) jobs fetched and locked together (its advice is W + 1), and
// `completeJobBatchDelay` 0, completions of one tick in one statement.
import {
  adminPool,
  checkpoint,
  emit,
  enqueueRate,
  latencyProbe,
  latencySummary,
  load,
  log,
  Meter,
  packageVersion,
  readParams,
  repeat,
  sampleRate,
} from "./common.mjs";

const { Logger, makeWorkerUtils, run, runMigrations } = await load("graphile-worker");
const params = readParams();
const logger = new Logger(() => () => {}); // quiet: its info lines would bury the progress output
const version = packageVersion("graphile-worker");
const db = adminPool(params.url);

const JOBS = "graphile_worker._private_jobs";

async function fill(n) {
  if (n <= 0) return;
  // One call of its own bulk function: the same shape as the gue bench's generate_series fill.
  await db.query(
    `SELECT count(*) FROM graphile_worker.add_jobs(array(
       SELECT ROW('noop', '{}'::json, NULL, now() - interval '1 minute', NULL, NULL, NULL, NULL)
                ::graphile_worker.job_spec
       FROM generate_series(1, $1::int)))`,
    [n],
  );
}

async function reset() {
  await db.query(`TRUNCATE ${JOBS}`);
  await db.query(`VACUUM ANALYZE ${JOBS}`);
}

async function topUp(target) {
  const { rows } = await db.query(`SELECT count(*)::int AS n FROM ${JOBS}`);
  await fill(target - rows[0].n);
  await db.query(`VACUUM ANALYZE ${JOBS}`);
}

function startRunner(workers, taskList, batchFetch) {
  return run({
    connectionString: params.url,
    concurrency: workers,
    maxPoolSize: Math.max(10, workers + 2),
    noHandleSignals: true,
    crontab: "",
    logger,
    taskList,
    ...(batchFetch
      ? {
        preset: {
          worker: {
            localQueue: { size: Math.max(batchFetch, workers + 1) },
            completeJobBatchDelay: 0,
          },
        },
      }
      : {}),
  });
}

async function throughput(backlogs = params.backlogs, workerCounts = params.workers, batchFetch) {
  const cells = [];
  for (const backlog of backlogs) {
    const drain = backlog <= params.drainMax;
    if (!drain) {
      await reset();
      await fill(backlog);
      await db.query(`VACUUM ANALYZE ${JOBS}`);
      await checkpoint(db);
    }
    for (const workers of workerCounts) {
      const jobsPerSec = await repeat(params.reps, async () => {
        if (drain) {
          await reset();
          await fill(backlog);
          await db.query(`VACUUM ANALYZE ${JOBS}`);
        }
        const meter = new Meter();
        const runner = await startRunner(workers, { noop: () => meter.mark() }, batchFetch);
        let rate;
        if (drain) {
          await meter.reached(backlog, 120_000);
          rate = meter.drainRate();
        } else {
          rate = await sampleRate(meter, params.warmupMs, params.windowMs);
        }
        await runner.stop();
        if (!drain) await topUp(backlog);
        return rate;
      });
      log(
        `  graphile-worker${batchFetch ? " batched" : ""} backlog ${backlog} W=${workers}: ${
          Math.round(jobsPerSec.median)
        } jobs/s`,
      );
      cells.push({ backlog, workers, mode: drain ? "drain" : "window", jobsPerSec });
    }
  }
  return cells;
}

async function enqueue() {
  const cells = [];
  const maxProducers = Math.max(...params.producers, ...params.batchProducers);
  const utils = await makeWorkerUtils({
    connectionString: params.url,
    maxPoolSize: maxProducers + 2,
    logger,
  });
  try {
    await utils.migrate();
    const measure = (producers, batchSize, call) =>
      repeat(params.reps, async () => {
        await reset();
        return enqueueRate(producers, batchSize, call, params.warmupMs, params.windowMs);
      });
    for (const producers of params.producers) {
      const jobsPerSec = await measure(producers, 1, () => utils.addJob("noop", {}));
      log(`  graphile-worker addJob P=${producers}: ${Math.round(jobsPerSec.median)} jobs/s`);
      cells.push({ kind: "single", batchSize: 1, producers, jobsPerSec });
    }
    for (const batchSize of params.batchSizes) {
      const specs = Array.from({ length: batchSize }, () => ({ identifier: "noop", payload: {} }));
      for (const producers of params.batchProducers) {
        const jobsPerSec = await measure(producers, batchSize, () => utils.addJobs(specs));
        log(
          `  graphile-worker addJobs(${batchSize}) P=${producers}: ${
            Math.round(jobsPerSec.median)
          } jobs/s`,
        );
        cells.push({ kind: "batch", batchSize, producers, jobsPerSec });
      }
    }
  } finally {
    await utils.release();
  }
  await reset();
  return cells;
}

async function latency() {
  const probe = latencyProbe();
  const runner = await startRunner(1, { probe: (payload) => probe.started(payload.i) });
  const utils = await makeWorkerUtils({ connectionString: params.url, logger });
  try {
    const perRep = [];
    for (let rep = 0; rep < params.reps; rep++) {
      perRep.push(await probe.run(params.latencyJobs, (i) => utils.addJob("probe", { i })));
    }
    const summary = latencySummary(perRep);
    log(`  graphile-worker latency p50 ${summary.p50.median.toFixed(1)} ms`);
    return [{ setting: "LISTEN/NOTIFY, 1 idle worker", ...summary }];
  } finally {
    await utils.release();
    await runner.stop();
  }
}

await runMigrations({ connectionString: params.url, logger });
const result = { peer: "graphile-worker", version, node: process.version };
const parts = params.parts ?? ["throughput", "enqueue", "latency"];
result.throughput = parts.includes("throughput") ? await throughput() : [];
result.enqueue = parts.includes("enqueue") ? await enqueue() : [];
result.latency = parts.includes("latency") ? await latency() : [];
result.batch = parts.includes("batch")
  ? await throughput([Math.max(...params.backlogs)], params.batchWorkers, params.batchFetch)
  : [];
await db.end();
emit(result);
