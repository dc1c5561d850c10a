/**
 * `deno task bench`: how fast gue locks, enqueues and starts jobs on your PostgreSQL, against the
 * limit of the same SQL without the library and, with `--peers`, against graphile-worker and
 * pg-boss. See bench/README.md for what each scenario measures and how to read it.
 *
 * Prints one markdown table per scenario on stdout (progress goes to stderr) and writes
 * `bench/results/<timestamp>.json` (every figure, the machine, the server, the parameters) and
 * `bench/results/<timestamp>.svg` (jobs/s against workers).
 *
 * @module
 */
import { watchActivity } from "./activity.ts";
import { type BenchConfig, parseConfig } from "./config.ts";
import { serverInfo } from "./db.ts";
import { pgbenchVersion } from "./pgbench.ts";
import { progress } from "./progress.ts";
import { renderReport } from "./report.ts";
import type { BenchResults } from "./results.ts";
import { runEnqueueScenario } from "./scenarios/enqueue.ts";
import { runLatencyScenario } from "./scenarios/latency.ts";
import { runWakeupCostScenario } from "./scenarios/wakeup_cost.ts";
import { runLockScenario } from "./scenarios/lock.ts";
import { runBatchScenario } from "./scenarios/batch.ts";
import { runMemoryScenario } from "./scenarios/memory.ts";
import { runRoundTripScenario } from "./scenarios/round_trips.ts";
import { nodeVersion, runPeersScenario } from "./scenarios/peers.ts";
import { throughputSvg } from "./svg.ts";

/** The URL without its password, fit to be written into a results file. */
function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}

async function cpuModel(): Promise<string> {
  try {
    const info = await Deno.readTextFile("/proc/cpuinfo");
    return info.match(/^model name\s*:\s*(.+)$/m)?.[1].trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

/** The version of an npm package as installed for Deno, or "unknown". */
async function npmVersion(name: string): Promise<string> {
  try {
    const file = new URL(`../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(await Deno.readTextFile(file)).version;
  } catch {
    return "unknown";
  }
}

async function bunVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command("bun", { args: ["--version"], stdout: "piped" }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

async function run(config: BenchConfig, args: string[]): Promise<BenchResults> {
  const started = new Date();
  const t0 = performance.now();
  const server = await serverInfo(config.databaseUrl);
  const pgbench = config.pgbench ? await pgbenchVersion() : null;
  const node = await nodeVersion();
  if (config.peers && !node) {
    throw new Error("--peers needs Node.js on PATH (the peers run on Node)");
  }
  const runtimes: Record<string, string> = {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    postgresjs: await npmVersion("postgres"),
  };
  if (node) runtimes.node = node;
  const bun = await bunVersion();
  if (bun) runtimes.bun = bun;
  if (pgbench) runtimes.pgbench = pgbench;
  progress(
    `gue bench on ${redact(config.databaseUrl)}: ${server.version.split(",")[0]}; ` +
      `${config.reps} repetitions, W ${config.workers.join(",")}, backlogs ${
        config.backlogs.join(",")
      }`,
  );
  if (config.pgbench && !pgbench) {
    progress("pgbench is not on PATH: its figure of scenario 2 is skipped");
  }
  const activity = watchActivity(config.databaseUrl);

  const results: BenchResults = {
    startedAt: started.toISOString(),
    finishedAt: "",
    wallSeconds: 0,
    args,
    machine: {
      cores: navigator.hardwareConcurrency,
      cpuModel: await cpuModel(),
      memoryBytes: Deno.systemMemoryInfo().total,
      os: Deno.build.os,
      osRelease: Deno.osRelease(),
    },
    postgres: server,
    otherActivity: { samples: 0, busySamples: 0, maxActive: 0, databases: [] },
    runtimes,
    parameters: { ...config, databaseUrl: redact(config.databaseUrl) },
    lock: [],
    enqueue: [],
    latency: [],
    roundTrips: [],
    memory: [],
    batch: [],
    peers: [],
  };
  try {
    await runScenarios(config, results);
  } finally {
    results.otherActivity = await activity.stop();
  }
  results.finishedAt = new Date().toISOString();
  results.wallSeconds = (performance.now() - t0) / 1000;
  return results;
}

async function runScenarios(config: BenchConfig, results: BenchResults): Promise<void> {
  const withPgbench = results.runtimes.pgbench !== undefined;
  if (config.scenarios.includes("lock")) {
    progress("scenarios 1 and 2: lock throughput, and the limit …");
    results.lock = await runLockScenario(config, withPgbench);
  }
  if (config.scenarios.includes("enqueue")) {
    progress("scenario 3: enqueue …");
    results.enqueue = await runEnqueueScenario(config);
  }
  if (config.scenarios.includes("latency")) {
    progress("scenario 4: latency …");
    results.latency = await runLatencyScenario(config);
  }
  if (config.scenarios.includes("latency") || config.scenarios.includes("wakeup")) {
    progress("wake-up cost: enqueue with it on and off, idle workers' statements …");
    results.wakeupCost = await runWakeupCostScenario(config);
  }
  if (config.scenarios.includes("roundtrips")) {
    progress("round trips per job …");
    results.roundTrips = await runRoundTripScenario(config);
  }
  if (config.scenarios.includes("memory")) {
    progress(`memory: ${config.memoryWorkers} workers draining ${config.memoryJobs} jobs …`);
    results.memory = await runMemoryScenario(config);
  }
  if (config.scenarios.includes("batch")) {
    progress("batched drain …");
    results.batch = await runBatchScenario(config);
  }
  if (config.peers) {
    progress("scenario 5: peers …");
    results.peers = await runPeersScenario(config);
    for (const p of results.peers) if (p.version) results.runtimes[p.peer] = p.version;
  }
}

if (import.meta.main) {
  const args = Deno.args;
  const config = parseConfig(args);
  if (config) {
    const results = await run(config, args);
    console.log(renderReport(results));
    await Deno.mkdir(config.outDir, { recursive: true });
    const stamp = results.startedAt.replace(/[:.]/g, "-");
    const json = `${config.outDir}/${stamp}.json`;
    const svg = `${config.outDir}/${stamp}.svg`;
    await Deno.writeTextFile(json, JSON.stringify(results, null, 2) + "\n");
    if (results.lock.length) await Deno.writeTextFile(svg, throughputSvg(results));
    progress(`wrote ${json}${results.lock.length ? ` and ${svg}` : ""}`);
  }
}
