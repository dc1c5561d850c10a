/**
 * `test_adapters.ts [adapter...]`: runs the core test suite once per driver adapter that can run
 * on this runtime, by setting `GUE_TEST_ADAPTER` and invoking the runtime's own test command.
 *
 * ```sh
 * deno task test:adapters          # postgresjs, pg, pglite (+ denoPostgres where JSR resolves)
 * bun run test:adapters            # postgresjs, pg, pglite, bunSql
 * DATABASE_URL=postgres://… deno run -A scripts/test_adapters.ts pg pglite
 * DATABASE_URL=postgres://… bun scripts/test_adapters.ts bunSql
 * ```
 *
 * The tasks wrap it in `with_postgres.ts`, which starts a throwaway server when `DATABASE_URL` is
 * unset. The adapters' own tests (`adapter_conformance_test.ts`, `pglite_adapter_test.ts`) cover
 * every adapter in one run whatever `GUE_TEST_ADAPTER` says, so they are left out here.
 *
 * Exits non-zero when any adapter's run failed, after running them all; the last line counts
 * the adapters: `adapters: N passed, N failed, N skipped`.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import process from "node:process";
import { type AdapterName, adapterNames, adapters } from "../tests/_adapters.ts";

/** Test files that exercise adapters directly rather than the core through one adapter. */
const ADAPTER_TESTS = new Set(["adapter_conformance_test.ts", "pglite_adapter_test.ts"]);

const isBun = "Bun" in globalThis;

function coreTestFiles(): string[] {
  const dir = new URL("../tests/", import.meta.url);
  return readdirSync(dir)
    .filter((f) => f.endsWith("_test.ts") && !ADAPTER_TESTS.has(f))
    .sort()
    .map((f) => `./tests/${f}`);
}

function testCommand(files: string[]): string[] {
  // process.execPath is the running deno or bun binary, whatever PATH says.
  return isBun
    ? [process.execPath, "test", "--timeout", "60000", ...files]
    : [process.execPath, "test", "-A", ...files];
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
  const wanted = argv.length ? argv as AdapterName[] : [...adapterNames];
  const files = coreTestFiles();
  const results: { name: string; outcome: string }[] = [];

  for (const name of wanted) {
    const why = await adapters[name].unavailable();
    if (why) {
      console.log(`skipped: ${name}: ${why}`);
      results.push({ name, outcome: `skipped (${why})` });
      continue;
    }
    const [cmd, ...args] = testCommand(files);
    console.log(`\n=== GUE_TEST_ADAPTER=${name}: ${[cmd, ...args].join(" ")}\n`);
    const run = spawnSync(cmd, args, {
      stdio: "inherit",
      env: { ...process.env, GUE_TEST_ADAPTER: name },
    });
    const outcome = run.status === 0
      ? "passed"
      : `failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`})`;
    results.push({ name, outcome });
  }

  console.log("\n=== core suite per adapter");
  for (const { name, outcome } of results) console.log(`${name.padEnd(14)} ${outcome}`);
  const count = (prefix: string) => results.filter((r) => r.outcome.startsWith(prefix)).length;
  console.log(
    `adapters: ${count("passed")} passed, ${count("failed")} failed, ${count("skipped")} skipped`,
  );
  return count("failed") ? 1 : 0;
}

process.exit(await main(process.argv.slice(2)));
