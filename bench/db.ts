/**
 * The databases the bench works in.
 *
 * Every scenario gets a database of its own (`gue_bench_<scenario>_<run>`) on the server in
 * `DATABASE_URL`, created at its start and dropped at its end, so nothing the bench does touches
 * the user's data and one scenario's dead tuples never slow the next.
 *
 * @module
 */
import postgres from "postgres";

/** A postgres.js pool; the bench talks to the database through it directly. */
export type Sql = postgres.Sql;

/** The `application_name` of the bench's own connections, so `activity.ts` can tell them apart. */
export const BENCH_APP_NAME = "gue_bench";

/**
 * Opens a postgres.js pool that stays quiet about notices (`VACUUM` and `DROP ... IF EXISTS` send
 * them) and keeps its connections open between measurements.
 */
export function connect(url: string, max = 10): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    idle_timeout: 0,
    connection: { application_name: BENCH_APP_NAME },
  });
}

/** Replaces the database name in a connection URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A database made for one scenario. */
export interface BenchDatabase {
  /** Its name, `gue_bench_<label>_<run>`. */
  name: string;
  /** A URL to it (the server URL with the database replaced). */
  url: string;
  /** Drops it, ending any connection still open. Safe to call twice. */
  drop(): Promise<void>;
}

/** Suffix shared by the databases of one invocation, so a crashed run's leftovers are recognisable. */
const runTag = `${Date.now().toString(36)}_${Deno.pid}`;

/**
 * Creates an empty database for one scenario.
 *
 * @param serverUrl Any URL to the server; its database part is ignored.
 * @param label What the database is for (`lock`, `enqueue`, `graphile`, …).
 * @returns The new database.
 */
export async function createBenchDatabase(
  serverUrl: string,
  label: string,
): Promise<BenchDatabase> {
  const name = `gue_bench_${label}_${runTag}`.toLowerCase().replace(/[^a-z0-9_]/g, "_");
  const admin = connect(serverUrl, 1);
  try {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop() {
      dropped ??= (async () => {
        const admin = connect(serverUrl, 1);
        try {
          await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await admin.end();
        }
      })();
      return dropped;
    },
  };
}

/** The server facts a result is meaningless without. */
export interface ServerInfo {
  /** `SELECT version()`. */
  version: string;
  /** `server_version_num`, e.g. 150020. */
  versionNum: number;
  /** Settings that move queue throughput the most, as the server reports them. */
  settings: Record<string, string>;
}

/** Settings recorded with every result: durability, memory and connection limits. */
const SETTINGS = [
  "shared_buffers",
  "synchronous_commit",
  "fsync",
  "full_page_writes",
  "wal_level",
  "max_connections",
  "work_mem",
  "effective_cache_size",
  "random_page_cost",
  "checkpoint_timeout",
  "max_wal_size",
  "autovacuum",
  "jit",
];

/**
 * Reads the server's version and key settings.
 *
 * @param url A URL to the server.
 */
export async function serverInfo(url: string): Promise<ServerInfo> {
  const sql = connect(url, 1);
  try {
    const [{ version, num }] = await sql<{ version: string; num: string }[]>`
      SELECT version() AS version, current_setting('server_version_num') AS num`;
    const rows = await sql<{ name: string; setting: string }[]>`
      SELECT name, current_setting(name) AS setting FROM pg_settings WHERE name = ANY(${SETTINGS})`;
    const settings: Record<string, string> = {};
    for (const name of SETTINGS) {
      const row = rows.find((r) => r.name === name);
      if (row) settings[name] = row.setting;
    }
    return { version, versionNum: Number(num), settings };
  } finally {
    await sql.end();
  }
}

/**
 * Writes out the dirty pages a large fill left behind, so that work does not land in a measuring
 * window as a checkpoint that slows every commit. Needs superuser or the `pg_checkpoint` role;
 * without either the bench goes on without it.
 *
 * @param sql A pool on the server.
 * @returns Whether the checkpoint ran.
 */
export async function checkpoint(sql: Sql): Promise<boolean> {
  try {
    await sql`CHECKPOINT`;
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "42501") return false; // insufficient_privilege
    throw err;
  }
}

/**
 * Opens `n` connections of a pool now, so connection set-up never lands in a measuring window.
 * postgres.js opens connections lazily, one more each time every open one is busy.
 *
 * @param sql The pool.
 * @param n How many connections to open (at most the pool's `max`).
 */
export async function warmPool(sql: Sql, n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => sql`SELECT pg_sleep(0.02)`));
}
