/**
 * Test support: every test file gets a database of its own on the server in `DATABASE_URL`
 * (`deno task test` starts a throwaway server when it is unset), and the adapter under test is
 * chosen by `GUE_TEST_ADAPTER` (default `postgresjs`), so the whole core suite can run once per
 * adapter.
 */
import { after, before, beforeEach } from "node:test";
import postgres from "postgres";
import type { ConnPool } from "../src/adapter.ts";
import { Client, type ClientOptions } from "../src/client.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { assertionSql, openAdapterPool } from "./_adapters.ts";

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
      // pg, pglite (which ignores the URL), bunSql, denoPostgres; throws for an unknown name.
      return openAdapterPool(name, url, max);
  }
}

/** What {@linkcode useTestDatabase} gives a test file, filled in by its `before` hook. */
export interface TestContext {
  /** The file's database. */
  db: TestDatabase;
  /** The adapter under test, on that database. */
  pool: ConnPool;
  /** A client on `pool`, with the schema migrated. */
  client: Client;
  /**
   * A separate postgres.js pool for assertions, independent of the adapter under test; under
   * PGlite, a postgres.js-shaped `sql` over `pool` (tagged templates, `unsafe`, `begin`).
   */
  sql: postgres.Sql;
}

/**
 * Registers hooks that give the calling test file (or `describe` block) a fresh database with
 * the schema applied, an empty `gue_jobs` before each test, and clean-up after the last.
 *
 * @param options `max`: connections in the pool under test; `client`: options of the Client.
 */
export function useTestDatabase(
  options: { max?: number; client?: ClientOptions } = {},
): TestContext {
  const ctx = {} as TestContext;
  before(async () => {
    ctx.db = await createTestDatabase();
    ctx.pool = await openTestPool(ctx.db.url, options.max ?? 10);
    ctx.client = new Client(ctx.pool, options.client);
    await ctx.client.migrate();
    // PGlite lives inside the pool, out of reach of a second client: assert through the pool.
    ctx.sql = adapterUnderTest() === "pglite"
      ? assertionSql(ctx.pool) as unknown as postgres.Sql
      : postgres(ctx.db.url, { max: 4, onnotice: () => {} });
  });
  beforeEach(async () => {
    await ctx.sql`TRUNCATE gue_jobs`;
  });
  after(async () => {
    await ctx.sql?.end();
    await ctx.pool?.close();
    await ctx.db?.drop();
  });
  return ctx;
}

/** Resolves when `check()` returns true, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}
