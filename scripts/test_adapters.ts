/**
 * `test_adapters.ts [adapter...]`: runs the core test suite once per driver adapter that can run
 * on this runtime, by setting `GUE_TEST_ADAPTER` and invoking the runtime's own test command.
 *
 * ```sh
 * deno task test:adapters          # postgresjs, pg, pglite, denoPostgres
 * bun run test:adapters            # postgresjs, pg, pglite, bunSql
 * DATABASE_URL=postgres://… deno run -A scripts/test_adapters.ts pg pglite
 * DATABASE_URL=postgres://… bun scripts/test_adapters.ts bunSql
 * ```
 *
 * The tasks wrap it in `with_postgres.ts`, which starts a throwaway server when `DATABASE_URL` is
 * unset. The adapters' own tests (`adapter_conformance_test.ts`, `pglite_adapter_test.ts`) cover
 * every adapter in one run whatever `GUE_TEST_ADAPTER` says, so they are left out here, with one
 * exception: deno-postgres.
 *
 * deno-postgres comes from JSR, which the machines this project is tested on cannot reach. When
 * `../shared/vendor/jsr/` sits beside the repository, the Deno runs use one import map that
 * merges deno.json's `imports` with the vendored copy (`vendored_import_map.ts`), and the
 * denoPostgres run adds its conformance suite, which the plain `deno task test` (no import map)
 * has to skip. Elsewhere `jsr:@db/postgres` resolves from JSR as usual.
 *
 * `GUE_REQUIRE_ADAPTERS=denoPostgres,…` turns a skip of a named adapter into a failure (CI sets
 * it so the denoPostgres suites cannot quietly stop running).
 *
 * Exits non-zero when any adapter's run failed, after running them all; the last lines count the
 * tests of each adapter and then the adapters: `adapters: N passed, N failed, N skipped`.
 *
 * @module
 */

import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { type AdapterName, adapterNames, adapters } from "../tests/_adapters.ts";
import { VENDORED_JSR, writeVendoredImportMap } from "./vendored_import_map.ts";

/** Test files that exercise adapters directly rather than the core through one adapter. */
const ADAPTER_TESTS = new Set(["adapter_conformance_test.ts", "pglite_adapter_test.ts"]);

/**
 * Test files whose outcome does not depend on the adapter under test: pure functions, the
 * manifest, the launcher, the postgres.js patch, and programs run as subprocesses (examples, the
 * README, the CLI, the dashboard) that open their own postgres.js pool. `deno task test` and
 * `bun run test` run them once; running them again per adapter would only cost CI time.
 */
const ADAPTER_INDEPENDENT_TESTS = new Set([
  "backoff_test.ts",
  "bench_test.ts",
  "cli_test.ts",
  "dashboard_browser_test.ts",
  "dashboard_test.ts",
  "errors_test.ts",
  "examples_test.ts",
  "id_test.ts",
  "local_postgres_test.ts",
  "manifest_test.ts",
  "patch_postgres_cli_test.ts",
  "patch_postgres_test.ts",
  "postgresjs_guard_test.ts",
  "readme_test.ts",
]);

const isBun = "Bun" in globalThis;

function coreTestFiles(): string[] {
  const dir = new URL("../tests/", import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith("_test.ts") && !ADAPTER_TESTS.has(f))
    .filter((f) => !ADAPTER_INDEPENDENT_TESTS.has(f))
    .sort()
    .map((f) => `./tests/${f}`);
}

function testCommand(files: string[], importMap: string | undefined): string[] {
  // process.execPath is the running deno or bun binary, whatever PATH says.
  if (isBun) return [process.execPath, "test", "--timeout", "60000", ...files];
  const map = importMap ? ["--import-map", importMap] : [];
  return [process.execPath, "test", "-A", ...map, ...files];
}

/** Runs a command, echoing its output, and resolves to its exit status and what it printed. */
function runEchoed(
  cmd: string,
  args: string[],
  env: Record<string, string | undefined>,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["inherit", "pipe", "pipe"], env });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
      process.stdout.write(chunk);
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
      process.stderr.write(chunk);
    });
    child.on("error", (err) => resolve({ status: null, output: `${output}\n${err.message}` }));
    child.on("close", (status) => resolve({ status, output }));
  });
}

/** The test counts from the runtime's own summary. */
function countsOf(output: string): string {
  // deno-lint-ignore no-control-regex
  const text = output.replace(/\x1b\[[0-9;]*m/g, "");
  // Deno: "ok | 12 passed (35 steps) | 0 failed | 1 ignored": a describe() is a test, its
  // tests are steps. Shown as Deno prints it.
  const denoLine = text.split("\n").findLast((l) => /^(ok|FAILED) \| /.test(l));
  if (denoLine) return denoLine.replace(/\s*\((?:\d+m)?[\d.]+m?s\)\s*$/, "").trim();
  // Bun: " 35 pass", " 1 skip", " 0 fail" on lines of their own.
  const bun = (word: string) =>
    Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(text)?.[1] ?? 0);
  if (/^\s*\d+ pass$/m.test(text)) {
    return `${bun("pass")} passed, ${bun("fail")} failed, ${bun("skip")} skipped`;
  }
  if (/Type checking failed/.test(text)) return "type check failed, no test ran";
  return "no summary found";
}

async function main(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => !adapterNames.includes(a as AdapterName));
  if (unknown.length) {
    console.error(`unknown adapter ${unknown.join(", ")}; one of ${adapterNames.join(", ")}`);
    return 2;
  }
  if (!process.env.DATABASE_URL) {
    console.error(
      "DATABASE_URL is not set: use `deno task test:adapters` / `bun run test:adapters`, which " +
        "start a throwaway PostgreSQL, or point DATABASE_URL at a server you have",
    );
    return 2;
  }
  const required = (process.env.GUE_REQUIRE_ADAPTERS ?? "").split(",").map((s) => s.trim())
    .filter(Boolean);
  const wanted = argv.length ? argv as AdapterName[] : [...adapterNames];
  const files = coreTestFiles();
  // Bun reads no import map, and deno-postgres does not run on Bun anyway.
  const importMap = isBun ? undefined : writeVendoredImportMap();
  if (importMap) console.log(`jsr:@db/postgres from ${VENDORED_JSR} (import map ${importMap})`);
  const results: { name: string; outcome: string; counts?: string }[] = [];

  for (const name of wanted) {
    // This process runs without the import map, so it cannot import the vendored driver
    // itself; the test run below does, and fails loudly if it cannot.
    const vendored = name === "denoPostgres" && importMap !== undefined;
    const why = vendored ? undefined : await adapters[name].unavailable();
    if (why) {
      const outcome = required.includes(name)
        ? `failed (skipped, but GUE_REQUIRE_ADAPTERS names it: ${why})`
        : `skipped (${why})`;
      console.log(`skipped: ${name}: ${why}`);
      results.push({ name, outcome });
      continue;
    }
    const runFiles = vendored ? [...files, "./tests/adapter_conformance_test.ts"] : files;
    const [cmd, ...args] = testCommand(runFiles, importMap);
    console.log(`\n=== GUE_TEST_ADAPTER=${name}: ${[cmd, ...args].join(" ")}\n`);
    const run = await runEchoed(cmd, args, {
      ...process.env,
      GUE_TEST_ADAPTER: name,
      // The conformance suite, when it is in this run, checks only this adapter.
      GUE_CONFORMANCE_ADAPTERS: name,
    });
    const outcome = run.status === 0 ? "passed" : `failed (exit ${run.status})`;
    results.push({ name, outcome, counts: countsOf(run.output) });
  }

  console.log("\n=== core suite per adapter");
  for (const { name, outcome, counts } of results) {
    console.log(`${name.padEnd(14)} ${outcome}${counts ? `: ${counts}` : ""}`);
  }
  const count = (prefix: string) => results.filter((r) => r.outcome.startsWith(prefix)).length;
  console.log(
    `adapters: ${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped`,
  );
  return count("failed") ? 1 : 0;
}

process.exit(await main(process.argv.slice(2)));
