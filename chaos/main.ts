/**
 * `deno task chaos` (or `bun run chaos`): a repeatable fault-injection run of gue workers.
 *
 * It starts its own throwaway PostgreSQL cluster, then for each scenario a fleet of worker
 * processes (a `WorkerPool` on postgres.js each, the handler writing an effect row through
 * `job.tx()`), feeds them a steady stream of jobs and hurts them: SIGKILL, pg_terminate_backend,
 * Postgres restarts (fast, immediate), handlers that hang past jobTTL or throw after writing,
 * SIGTERM mid-job, PgBouncer in transaction and session mode. It prints per scenario: jobs, lost,
 * failed (moved to the failed jobs), duplicated effects, leftover, crashed and hung processes,
 * stuck workers, time to recover, and exits 1 when any target is missed.
 *
 * Usage: `deno task chaos [--short] [--only=name,name]`. `--short` (CI) runs every gated
 * scenario small, in about two minutes; the full run takes ten to fifteen. The workers' logs
 * stay in the printed dir.
 *
 * @module
 */
import { mkdtempSync, readFileSync } from "node:fs";
import process from "node:process";
import { startChaosCluster } from "./cluster.ts";
import { formatTable, missedTargets } from "./report.ts";
import { emptyResult, runScenario, type RunSize, type ScenarioResult } from "./run_scenario.ts";
import { scenarios } from "./scenarios.ts";

const argv = process.argv.slice(2);
const short = argv.includes("--short");
const only = argv.find((a) => a.startsWith("--only="))?.slice("--only=".length).split(",");
const size: RunSize = short
  ? { short, feedMs: 6000, rate: 150, drainMs: 15_000 }
  : { short, feedMs: 40_000, rate: 300, drainMs: 120_000 };

const chosen = scenarios.filter((s) => only ? only.includes(s.name) : (!short || !s.fullOnly));
if (chosen.length === 0) {
  console.error(`no scenario matches; known: ${scenarios.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `Bun ${process.versions.bun}`;
const logDir = mkdtempSync("/tmp/gue-chaos-logs-");
// The table means little without knowing which driver code ran (`gue patch-postgres`).
let driver = "postgres.js unpatched";
try {
  const connection = new URL("../node_modules/postgres/src/connection.js", import.meta.url);
  if (readFileSync(connection, "utf8").includes("gue patch")) driver = "postgres.js patched";
} catch {
  driver = "postgres.js (not found in node_modules)";
}
const cluster = await startChaosCluster(() => {});
console.log(
  `gue chaos (${short ? "short" : "full"}) on ${runtime}, PostgreSQL ${cluster.version}, ` +
    `${driver}; ` +
    `worker logs in ${logDir}`,
);
const results: ScenarioResult[] = [];
try {
  for (const scenario of chosen) {
    console.log(`- ${scenario.name}: ${scenario.what}`);
    try {
      const result = await runScenario(cluster, scenario, size, logDir);
      results.push(result);
      const missed = missedTargets(result);
      console.log(
        result.skipped
          ? `  skipped: ${result.skipped}`
          : `  ${result.jobs} jobs, ${result.lost} lost, ${result.failed} failed, ` +
            `${result.duplicated} dup, ` +
            `${result.leftover} left, ${result.crashed} crashed, ${result.hung} hung` +
            (missed.length && !result.informational ? ` -> MISSED ${missed.join(", ")}` : ""),
      );
    } catch (err) {
      console.log(`  harness error: ${(err as Error).stack ?? err}`);
      results.push({
        ...emptyResult(scenario),
        informational: undefined, // a harness error is never just informational
        notes: [`harness error: ${(err as Error).message}`],
      });
    }
  }
} finally {
  await cluster.stop();
}
console.log("\n" + formatTable(results));
const failed = results.filter((r) => !r.skipped && !r.informational && missedTargets(r).length);
console.log(
  failed.length === 0
    ? "\nchaos: every target met"
    : `\nchaos: targets missed in ${failed.map((r) => r.name).join(", ")}`,
);
process.exit(failed.length === 0 ? 0 : 1);
