import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import postgres from "postgres";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { serverUrl } from "./_db.ts";

// The bench is a Deno program (`deno task bench`); under Bun this test runs it with `deno` from
// PATH when there is one.
const isDeno = "Deno" in globalThis;
const deno = isDeno ? process.execPath : "deno";
const denoMissing = spawnSync(deno, ["--version"]).status !== 0;

test(
  "the bench counts round trips per job: 4 awaited, 2 pipelined, 1 for a draining worker",
  { skip: denoMissing ? "skipped: the bench needs deno on PATH" : false, timeout: 120_000 },
  () => {
    const out = mkdtempSync(join(tmpdir(), "gue_bench_test_"));
    try {
      const bench = new URL("../bench/main.ts", import.meta.url).pathname;
      const run = spawnSync(deno, ["run", "-A", bench, "--scenarios", "roundtrips", "--out", out], {
        env: { ...process.env, DATABASE_URL: serverUrl() },
        encoding: "utf8",
      });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /## Round trips per job/);
      const [file] = readdirSync(out).filter((f) => f.endsWith(".json"));
      const results = JSON.parse(readFileSync(join(out, file), "utf8"));
      const perJob = Object.fromEntries(
        results.roundTrips.map((c: { system: string; roundTripsPerJob: number }) => [
          c.system,
          Math.round(c.roundTripsPerJob * 10) / 10,
        ]),
      );
      // Ours pipelines as the pipelined limit does where the adapter can, and a draining
      // Worker.run() sends each next poll with the commit before it.
      const pool = postgresjs(postgres(serverUrl(), { max: 1 }));
      const pipelines = pool.capabilities.pipelining === true;
      pool.close();
      assert.deepEqual(perJob, {
        ours: pipelines ? 2 : 4,
        "ours-run": pipelines ? 1 : 4,
        limit: 4,
        "limit-pipelined": 2,
      });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
);
