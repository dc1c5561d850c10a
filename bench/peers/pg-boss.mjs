// pg-boss doing scenarios 1 (drain throughput), 3 (enqueue) and 4 (latency) of the gue bench, on
// Node, in a database of its own. Run by bench/main.ts with `--peers`; see bench/README.md.
//
// Configuration: one PgBoss instance (pool `max` = max(10, W + 4), scheduling and supervision off
// so no maintenance runs inside a window). For throughput, `work()` with `localConcurrency` = W
// and `batchSize` 10 with `burstWhenBatchFull`: with one job per fetch a pg-boss worker sleeps its
// poll interval (0.5 s at least) after every job, so batches are how pg-boss is meant to go fast.
// A batch is completed with one statement after the handler returns. The batched drain (`batch`)
// is the same with `batchSize` K. For latency, a queue with
// `notify: true` and `useListenNotify` on, so a new job wakes the idle worker at once.
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

const { PgBoss } = await load("pg-boss");
const params = readParams();
const version = packageVersion("pg-boss");
const db = adminPool(params.url);
const QUEUE = "bench";
const BATCH = 10;

const maxConcurrency = Math.max(
  ...params.workers,
  ...params.producers,
  ...params.batchProducers,
  ...(params.batchWorkers ?? []),
);
const boss = new PgBoss({
  connectionString: params.url,
  max: Math.max(10, maxConcurrency + 4),
  schedule: false,
  supervise: false,
  useListenNotify: true,
});
boss.on("error", (err) => log(`  pg-boss error: ${err.message}`));

async function fill(n) {
  // Its bulk insert, in chunks of 10,000 (one statement each).
  for (let done = 0; done < n; done += 10_000) {
    const size = Math.min(10_000, n - done);
    await boss.insert(QUEUE, Array.from({ length: size }, () => ({ data: {} })));
  }
}

async function reset() {
  await db.query("TRUNCATE pgboss.job");
  await db.query("VACUUM ANALYZE pgboss.job");
}

async function topUp(target) {
  const { rows } = await db.query(
    "SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state < 'active'",
    [QUEUE],
  );
  await fill(target - rows[0].n);
  // Completed jobs stay in the table (pg-boss keeps them for `deleteAfterSeconds`); removing them
  // keeps the table the size of the backlog, as gue's and graphile-worker's are.
  await db.query("DELETE FROM pgboss.job WHERE name = $1 AND state = 'completed'", [QUEUE]);
  await db.query("VACUUM ANALYZE pgboss.job");
}

async function throughput(
  backlogs = params.backlogs,
  workerCounts = params.workers,
  batchSize = BATCH,
) {
  const cells = [];
  for (const backlog of backlogs) {
    const drain = backlog <= params.drainMax;
    if (!drain) {
      await reset();
      await fill(backlog);
      await db.query("VACUUM ANALYZE pgboss.job");
      await checkpoint(db);
    }
    for (const workers of workerCounts) {
      const jobsPerSec = await repeat(params.reps, async () => {
        if (drain) {
          await reset();
          await fill(backlog);
          await db.query("VACUUM ANALYZE pgboss.job");
        }
        const meter = new Meter();
        await boss.work(
          QUEUE,
          {
            localConcurrency: workers,
            batchSize,
            burstWhenBatchFull: true,
            pollingIntervalSeconds: 0.5,
          },
          (jobs) => meter.mark(jobs.length),
        );
        let rate;
        if (drain) {
          await meter.reached(backlog, 120_000);
          rate = meter.drainRate();
        } else {
          rate = await sampleRate(meter, params.warmupMs, params.windowMs);
        }
        await boss.offWork(QUEUE, { wait: true });
        if (!drain) await topUp(backlog);
        return rate;
      });
      log(
        `  pg-boss batch ${batchSize} backlog ${backlog} W=${workers}: ${
          Math.round(jobsPerSec.median)
        } jobs/s`,
      );
      cells.push({ backlog, workers, mode: drain ? "drain" : "window", jobsPerSec });
    }
  }
  await reset();
  return cells;
}

async function enqueue() {
  const cells = [];
  const measure = (producers, batchSize, call) =>
    repeat(params.reps, async () => {
      await reset();
      return enqueueRate(producers, batchSize, call, params.warmupMs, params.windowMs);
    });
  for (const producers of params.producers) {
    const jobsPerSec = await measure(producers, 1, () => boss.send(QUEUE, {}));
    log(`  pg-boss send P=${producers}: ${Math.round(jobsPerSec.median)} jobs/s`);
    cells.push({ kind: "single", batchSize: 1, producers, jobsPerSec });
  }
  for (const batchSize of params.batchSizes) {
    for (const producers of params.batchProducers) {
      const jobs = Array.from({ length: batchSize }, () => ({ data: {} }));
      const jobsPerSec = await measure(producers, batchSize, () => boss.insert(QUEUE, jobs));
      log(`  pg-boss insert(${batchSize}) P=${producers}: ${Math.round(jobsPerSec.median)} jobs/s`);
      cells.push({ kind: "batch", batchSize, producers, jobsPerSec });
    }
  }
  await reset();
  return cells;
}

async function latency() {
  const probe = latencyProbe();
  await boss.createQueue("probe", { notify: true });
  await boss.work("probe", { localConcurrency: 1, batchSize: 1 }, (jobs) => {
    for (const job of jobs) probe.started(job.data.i);
  });
  // Let the listener connect before the first job, so the first samples are not polls.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const perRep = [];
  for (let rep = 0; rep < params.reps; rep++) {
    perRep.push(await probe.run(params.latencyJobs, (i) => boss.send("probe", { i })));
  }
  await boss.offWork("probe", { wait: true });
  const summary = latencySummary(perRep);
  log(`  pg-boss latency p50 ${summary.p50.median.toFixed(1)} ms`);
  return [{ setting: "LISTEN/NOTIFY (queue notify), 1 idle worker", ...summary }];
}

await boss.start();
await boss.createQueue(QUEUE);
const result = { peer: "pg-boss", version, node: process.version };
const parts = params.parts ?? ["throughput", "enqueue", "latency"];
result.throughput = parts.includes("throughput") ? await throughput() : [];
result.enqueue = parts.includes("enqueue") ? await enqueue() : [];
result.latency = parts.includes("latency") ? await latency() : [];
result.batch = parts.includes("batch")
  ? await throughput([Math.max(...params.backlogs)], params.batchWorkers, params.batchFetch)
  : [];
await boss.stop({ graceful: false, wait: true });
await db.end();
emit(result);
