/**
 * Scenario 5: graphile-worker and pg-boss, side by side with ours.
 *
 * Each peer runs on Node (its home runtime) from `bench/peers/`, as a child process, against a
 * database of its own on the same server, right after our scenarios with the same parameters.
 * It prints its figures as JSON (see `bench/peers/common.mjs`). The peers' packages are installed
 * from `bench/peers/package-lock.json` the first time.
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { createBenchDatabase } from "../db.ts";
import { progress } from "../progress.ts";
import type { PeerResult } from "../results.ts";

/** The peers, by script name in `bench/peers/`. */
export const PEERS = ["graphile-worker", "pg-boss"];

const PEERS_DIR = new URL("../peers/", import.meta.url);

async function run(
  cmd: string,
  args: string[],
  cwd?: URL,
): Promise<{ ok: boolean; out: string; err: string }> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { ok: out.success, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
}

/** `node --version`, or null when Node is not on PATH. */
export async function nodeVersion(): Promise<string | null> {
  try {
    const r = await run("node", ["--version"]);
    return r.ok ? r.out.trim() : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/** Installs the peers' packages unless `bench/peers/node_modules` is there already. */
export async function ensurePeersInstalled(): Promise<void> {
  try {
    await Deno.stat(new URL("node_modules/", PEERS_DIR));
    return;
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  progress("installing the peers (npm ci in bench/peers) …");
  const r = await run("npm", ["ci"], PEERS_DIR);
  if (!r.ok) throw new Error(`npm ci in bench/peers failed:\n${r.out}\n${r.err}`);
}

/** The parameters a peer script reads (bench/peers/common.mjs `readParams`). */
function peerParams(config: BenchConfig, url: string) {
  return {
    url,
    workers: config.workers,
    backlogs: config.backlogs,
    drainMax: config.drainMax,
    reps: config.reps,
    warmupMs: config.warmupMs,
    windowMs: config.windowMs,
    producers: config.producers,
    batchProducers: config.batchProducers,
    batchSizes: config.batchSizes,
    latencyJobs: config.latencyJobs,
    batchWorkers: config.batchWorkers,
    batchFetch: config.batchFetch,
    parts: peerParts(config),
  };
}

/** The peers' parts that match our scenarios of this run. */
function peerParts(config: BenchConfig): string[] {
  const byScenario: Record<string, string> = {
    lock: "throughput",
    enqueue: "enqueue",
    latency: "latency",
    batch: "batch",
  };
  return config.scenarios.map((s) => byScenario[s]).filter((p) => p !== undefined);
}

/**
 * Runs one peer in a fresh database and returns its figures; a failure is recorded in `error`
 * instead of ending the bench, so the other figures of the invocation survive.
 */
async function runPeer(config: BenchConfig, peer: string): Promise<PeerResult> {
  const db = await createBenchDatabase(config.databaseUrl, peer.replace("-", ""));
  try {
    progress(`peer ${peer} …`);
    const child = new Deno.Command("node", {
      args: [
        new URL(`${peer}.mjs`, PEERS_DIR).pathname,
        JSON.stringify(peerParams(config, db.url)),
      ],
      stdout: "piped",
      stderr: "inherit", // its progress lines go straight to the terminal
    }).spawn();
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout).trim();
    if (!out.success) throw new Error(`exit code ${out.code}`);
    return JSON.parse(text.split("\n").at(-1)!) as PeerResult;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    progress(`peer ${peer} failed: ${message}`);
    return { peer, throughput: [], enqueue: [], latency: [], error: message };
  } finally {
    await db.drop();
  }
}

/**
 * Runs scenario 5: every peer, one after the other.
 *
 * @param config The bench parameters (the same ours ran with).
 */
export async function runPeersScenario(config: BenchConfig): Promise<PeerResult[]> {
  await ensurePeersInstalled();
  const results: PeerResult[] = [];
  for (const peer of PEERS) results.push(await runPeer(config, peer));
  return results;
}
