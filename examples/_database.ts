/**
 * Where the examples get their database: `DATABASE_URL`, or else a throwaway local PostgreSQL
 * started for the run and removed on exit.
 */
import { startLocalPostgres } from "../scripts/local_postgres.ts";

/** A database URL and how to let go of it. */
export interface ExampleDatabase {
  /** The connection URL. */
  url: string;
  /** Stops the throwaway server, if one was started. */
  release(): Promise<void>;
}

/** Uses `DATABASE_URL` when set, otherwise starts a throwaway server. */
export async function exampleDatabase(say: (line: string) => void): Promise<ExampleDatabase> {
  const url = process.env.DATABASE_URL;
  if (url) {
    say(`using DATABASE_URL (${new URL(url).host})`);
    return { url, release: () => Promise.resolve() };
  }
  say("DATABASE_URL is not set: starting a throwaway PostgreSQL (removed on exit)");
  const pg = await startLocalPostgres();
  say(`PostgreSQL ${pg.version} running at ${new URL(pg.url).host}`);
  return { url: pg.url, release: () => pg.stop() };
}
