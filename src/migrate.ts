/**
 * Applies the schema. The migrations are plain SQL files in `migrations/`, embedded into
 * `src/migrations.ts` so the library can apply them when loaded from JSR or npm.
 *
 * How a run goes:
 *
 * 1. With nothing to do (every migration recorded in `gue_migrations`) it reads two catalog rows
 *    and returns: no lock, no transaction, no NOTICE.
 * 2. Otherwise it takes an advisory lock, held by a transaction that does nothing else, so any
 *    number of processes may call it at once: the others wait, then find nothing left to do.
 * 3. Each pending migration runs in a transaction of its own, committed with its record in
 *    `gue_migrations`. A file whose first line is {@linkcode NO_TRANSACTION_MARKER} runs outside
 *    any transaction instead, one statement at a time, and is recorded after its last statement:
 *    that is how `CREATE INDEX CONCURRENTLY` builds an index on a live `gue_jobs` without
 *    blocking its writers (Go gue's workers among them).
 *
 * The lock's waiters poll `pg_try_advisory_xact_lock` in short transactions rather than block
 * in `pg_advisory_xact_lock`: a blocked statement holds a snapshot, `CREATE INDEX CONCURRENTLY`
 * waits for every transaction whose snapshot is older than its own, and the holder waits for the
 * index, so a blocked waiter would stall the build forever. The idle holder itself holds no
 * snapshot and no lock on `gue_jobs`, so the build does not wait for it.
 *
 * @module
 */
import type { ConnPool } from "./adapter.ts";
import {
  migrationIndexDrop,
  migrationIndexState,
  migrationListApplied,
  migrationLockTry,
  migrationRecord,
  migrationTableCreate,
  migrationTableExists,
} from "./sql.ts";

/** One migration: a numbered SQL file. */
export interface Migration {
  /** The number the file name starts with. */
  version: number;
  /** The file name, e.g. `001_gue_jobs.sql`. */
  name: string;
  /** The file's SQL: statements separated by `;` at line ends. */
  sql: string;
  /**
   * False when the file starts with {@linkcode NO_TRANSACTION_MARKER}: its statements then run
   * one by one outside a transaction, so each must be safe to run again after an interruption
   * (`IF NOT EXISTS`).
   */
  transaction: boolean;
}

/**
 * The first line of a migration that must not run inside a transaction, such as one that
 * creates an index `CONCURRENTLY`.
 */
export const NO_TRANSACTION_MARKER = "-- gue:no-transaction";

/**
 * Whether a migration's SQL runs inside a transaction: true unless its first line is
 * {@linkcode NO_TRANSACTION_MARKER}.
 *
 * @param sql The migration file's text.
 * @returns False for a no-transaction migration.
 */
export function runsInTransaction(sql: string): boolean {
  return sql.split("\n", 1)[0].trim() !== NO_TRANSACTION_MARKER;
}

/** Splits a migration into statements; our files keep one `;` per statement, at a line end. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^(\s*--[^\n]*\n)+/g, "").trim())
    .filter((s) => s.length > 0);
}

/** The index a `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name` statement builds. */
export function concurrentIndexName(statement: string): string | undefined {
  const m = statement.match(
    /^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?("(?:[^"]|"")+"|[\w$.]+)/i,
  );
  return m?.[1];
}

/** Calls in flight per pool, so one process's concurrent calls queue here instead of polling. */
const inFlight = new WeakMap<ConnPool, Promise<unknown>>();

/**
 * Applies the migrations not yet recorded in `gue_migrations`, in order. Any number of
 * processes may call it at once: each migration is applied exactly once.
 *
 * Running a no-transaction migration needs two connections from the pool: one holds the lock
 * while another builds; a pool that gives no second one within 10 s fails the call before
 * anything is applied. On an adapter without concurrent transactions (PGlite: one session, one
 * process) there is no one to lock out, and it runs without the lock.
 *
 * @param pool Where to apply them.
 * @param migrations The migrations, in version order.
 * @returns The versions this call applied (empty when the schema was current).
 */
export function applyMigrations(
  pool: ConnPool,
  migrations: readonly Migration[],
): Promise<number[]> {
  const previous = inFlight.get(pool) ?? Promise.resolve();
  const run = previous.catch(() => {}).then(() => migrateOnce(pool, migrations));
  inFlight.set(pool, run);
  const forget = () => {
    if (inFlight.get(pool) === run) inFlight.delete(pool);
  };
  run.then(forget, forget);
  return run;
}

async function migrateOnce(pool: ConnPool, migrations: readonly Migration[]): Promise<number[]> {
  // A recorded migration is complete (a no-transaction one is recorded after its last
  // statement), so reading the records without the lock is enough to know there is nothing to do.
  const applied = await readApplied(pool);
  if (applied && migrations.every((m) => applied.has(m.version))) return [];
  if (!pool.capabilities.concurrentTransactions) return await applyPending(pool, migrations);

  const lock = await takeLock(pool);
  try {
    if (migrations.some((m) => !m.transaction && !applied?.has(m.version))) {
      await secondConnection(pool);
    }
    const done = await applyPending(pool, migrations);
    await lock.commit();
    return done;
  } catch (err) {
    await lock.rollback().catch(() => {});
    throw err;
  }
}

/** The recorded versions, or `null` when `gue_migrations` does not exist yet. */
async function readApplied(pool: ConnPool): Promise<Set<number> | null> {
  const { rows: [table] } = await pool.query<{ present: boolean }>(migrationTableExists);
  if (!table.present) return null;
  const { rows } = await pool.query<{ version: number }>(migrationListApplied);
  return new Set(rows.map((r) => r.version));
}

/**
 * Opens a transaction holding the migration lock. Waits by polling, each try in a transaction
 * of its own that ends at once, so no waiter holds a snapshot for long (see the module doc).
 */
async function takeLock(pool: ConnPool) {
  for (let delay = 20;; delay = Math.min(delay * 2, 500)) {
    const tx = await pool.begin();
    try {
      const { rows: [row] } = await tx.query<{ locked: boolean }>(migrationLockTry);
      if (row.locked) return tx;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw err;
    }
    await tx.rollback();
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** How long {@linkcode secondConnection} waits for the pool. */
const SECOND_CONNECTION_TIMEOUT_MS = 10_000;

/**
 * Fails with a clear error, rather than waiting forever, when the pool cannot run a statement
 * while the lock's transaction holds one connection: a pool of one connection.
 */
async function secondConnection(pool: ConnPool): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `the ${pool.name} pool gave no second connection within ` +
            `${SECOND_CONNECTION_TIMEOUT_MS} ms while one held the migration lock; a migration ` +
            "that runs outside a transaction (CREATE INDEX CONCURRENTLY) needs a pool of at " +
            "least 2 connections",
        ),
      );
    }, SECOND_CONNECTION_TIMEOUT_MS);
  });
  try {
    await Promise.race([pool.query("SELECT 1"), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Applies what is not recorded yet; the caller holds the lock (or is alone, on PGlite). */
async function applyPending(pool: ConnPool, migrations: readonly Migration[]): Promise<number[]> {
  let applied = await readApplied(pool);
  if (!applied) {
    await pool.query(migrationTableCreate);
    applied = new Set();
  }
  const done: number[] = [];
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    if (m.transaction) await applyInTransaction(pool, m);
    else await applyOutsideTransaction(pool, m);
    done.push(m.version);
  }
  return done;
}

async function applyInTransaction(pool: ConnPool, m: Migration): Promise<void> {
  const tx = await pool.begin();
  try {
    for (const statement of splitStatements(m.sql)) await tx.query(statement);
    await tx.query(migrationRecord, [m.version, m.name]);
    await tx.commit();
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
}

/**
 * Runs each statement on the pool, outside any transaction, then records the migration. Its
 * statements may already have run, in a call interrupted before the record: an index they build
 * that is valid is kept, one left invalid by an interrupted concurrent build is dropped (without
 * blocking writes either) and built again.
 */
async function applyOutsideTransaction(pool: ConnPool, m: Migration): Promise<void> {
  for (const statement of splitStatements(m.sql)) {
    const index = concurrentIndexName(statement);
    if (index !== undefined) {
      const { rows: [state] } = await pool.query<{ name: string; valid: boolean }>(
        migrationIndexState,
        [index],
      );
      if (state?.valid) continue;
      if (state) await pool.query(migrationIndexDrop(state.name));
    }
    await pool.query(statement);
  }
  await pool.query(migrationRecord, [m.version, m.name]);
}
