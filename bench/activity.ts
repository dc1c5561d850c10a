/**
 * Watches the server for work that is not the bench's while the bench runs.
 *
 * A queue benchmark is at the mercy of everything else on the server: another application's
 * queries, or a test suite creating and dropping databases (each DROP DATABASE forces a
 * checkpoint that stalls every commit for a moment). Once a second this samples
 * `pg_stat_activity` for active sessions outside the bench's own databases and connections, so
 * the report can say whether the figures were measured on a quiet server.
 *
 * @module
 */
import { BENCH_APP_NAME, connect } from "./db.ts";

/** What the watcher saw. */
export interface ActivitySummary {
  /** Samples taken (about one a second). */
  samples: number;
  /** Samples that saw at least one foreign active session. */
  busySamples: number;
  /** Most foreign active sessions seen at once. */
  maxActive: number;
  /** Databases those sessions were in. */
  databases: string[];
}

/**
 * Starts sampling; `stop()` ends it and returns the summary.
 *
 * @param url Any URL to the server.
 */
export function watchActivity(url: string): { stop(): Promise<ActivitySummary> } {
  const sql = connect(url, 1);
  const summary: ActivitySummary = { samples: 0, busySamples: 0, maxActive: 0, databases: [] };
  const databases = new Set<string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [row] = await sql<{ active: number; dbs: string[] | null }[]>`
          SELECT count(*)::int AS active, array_agg(DISTINCT coalesce(datname, '?')) AS dbs
          FROM pg_stat_activity
          WHERE backend_type = 'client backend' AND state = 'active'
            AND pid <> pg_backend_pid()
            AND application_name <> ${BENCH_APP_NAME}
            AND coalesce(datname, '') NOT LIKE 'gue\\_bench\\_%'`;
        summary.samples++;
        if (row.active > 0) {
          summary.busySamples++;
          summary.maxActive = Math.max(summary.maxActive, row.active);
          for (const db of row.dbs ?? []) databases.add(db);
        }
      } catch {
        // A failed sample is no reason to stop the bench.
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await sql.end();
      summary.databases = [...databases].sort();
      return summary;
    },
  };
}
