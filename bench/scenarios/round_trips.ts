/**
 * Round trips per job, counted for ours and both limits (see `../round_trips.ts`).
 *
 * @module
 */
import type { BenchConfig } from "../config.ts";
import { createBenchDatabase } from "../db.ts";
import { openClient } from "../ours.ts";
import { progress } from "../progress.ts";
import { measureRoundTrips, type RoundTripCell } from "../round_trips.ts";

/**
 * Runs the round-trip count in a database of its own.
 *
 * @param config The bench parameters.
 */
export async function runRoundTripScenario(config: BenchConfig): Promise<RoundTripCell[]> {
  const db = await createBenchDatabase(config.databaseUrl, "roundtrips");
  const { sql } = await openClient(db.url, 2);
  try {
    const cells = await measureRoundTrips(db.url, sql);
    for (const c of cells) {
      progress(
        `  ${c.system}: ${c.roundTripsPerJob.toFixed(2)} round trips and ` +
          `${c.statementsPerJob.toFixed(2)} statements a job, ` +
          `${c.roundTripsPerEmptyPoll.toFixed(2)} round trips an empty poll`,
      );
    }
    return cells;
  } finally {
    await sql.end();
    await db.drop();
  }
}
