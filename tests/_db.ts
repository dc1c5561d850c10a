/**
 * Test support: every test file gets a database of its own on the server in `DATABASE_URL`
 * (`deno task test` starts a throwaway server when it is unset), and the adapter under test is
 * chosen by `GUE_TEST_ADAPTER` (default `postgresjs`), so the whole core suite can run once per
 * adapter.
 */
import postgres from "postgres";
import type { ConnPool } from "../src/adapter.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";

/** The server the tests use. */
export function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "DATABASE_URL is not set: run the tests with `deno task test` (or `bun run test`), " +
        "which start a throwaway PostgreSQL, or point DATABASE_URL at a server you have",
    );
  }
  return url;
}

/** Replaces the database name in a connection URL. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A database made for one test file, dropped by `drop()`. */
export interface TestDatabase {
  /** Its name. */
  name: string;
  /** A URL to it. */
  url: string;
  /** Drops it (terminating any connection still open). */
  drop(): Promise<void>;
}

/** Creates an empty database with a unique name. */
export async function createTestDatabase(prefix = "gue_test"): Promise<TestDatabase> {
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  const name = `${prefix}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(serverUrl(), name),
    async drop() {
      const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}

/** The adapter the core suite runs on (`GUE_TEST_ADAPTER`, default `postgresjs`). */
export function adapterUnderTest(): string {
  return process.env.GUE_TEST_ADAPTER || "postgresjs";
}

/**
 * Opens a pool of the adapter under test on `url`.
 *
 * @param url The database.
 * @param max Connections in the pool.
 */
export function openTestPool(url: string, max = 10): Promise<ConnPool> {
  const name = adapterUnderTest();
  switch (name) {
    case "postgresjs":
      return Promise.resolve(postgresjs(postgres(url, { max, onnotice: () => {} })));
    default:
      throw new Error(`GUE_TEST_ADAPTER=${name}: unknown adapter`);
  }
}
