/**
 * The limit again, driver-independent: the same cycle run by pgbench, PostgreSQL's own C client,
 * with prepared statements. Where this is far above the postgres.js limit, the driver (or the
 * JavaScript runtime) is the bottleneck, not the SQL.
 *
 * @module
 */
import { BENCH_QUEUE } from "./backlog.ts";
import { pgbenchScript, type PollStrategy } from "./cycle_sql.ts";

/** `pgbench --version`, or `null` when pgbench is not on PATH. */
export async function pgbenchVersion(): Promise<string | null> {
  try {
    const out = await new Deno.Command("pgbench", { args: ["--version"], stdout: "piped" })
      .output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null;
    throw err;
  }
}

/**
 * Runs the cycle with `clients` connections, `perClient` transactions each, and returns pgbench's
 * transactions per second (connection set-up excluded). Every transaction must find a job: keep
 * `clients * perClient` at or below the backlog.
 *
 * @param url The database, as a URL (pgbench hands it to libpq as is).
 * @param strategy Which lock statement.
 * @param clients Concurrent connections.
 * @param perClient Transactions per connection.
 */
export async function runPgbench(
  url: string,
  strategy: PollStrategy,
  clients: number,
  perClient: number,
): Promise<number> {
  const script = await Deno.makeTempFile({ prefix: "gue_bench_", suffix: ".sql" });
  try {
    await Deno.writeTextFile(script, pgbenchScript(strategy, BENCH_QUEUE));
    const threads = Math.min(clients, navigator.hardwareConcurrency || 1);
    const out = await new Deno.Command("pgbench", {
      args: [
        "-n", // no vacuum of pgbench's own tables: there are none
        "-M",
        "prepared",
        "-c",
        String(clients),
        "-j",
        String(threads),
        "-t",
        String(perClient),
        "-f",
        script,
        url,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const tps = stdout.match(/tps = ([\d.]+)/);
    if (!out.success || !tps) {
      throw new Error(
        `pgbench failed (exit ${out.code}):\n${stdout}\n${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return Number(tps[1]);
  } finally {
    await Deno.remove(script).catch(() => {});
  }
}
