/**
 * Applies the schema. The migrations are plain SQL files in `migrations/`, embedded into
 * `src/migrations.ts` so the library can apply them when loaded from JSR or npm.
 *
 * How a run goes:
 *
 * 1. With nothing to do (every migration recorded in `gue_migrations`) it reads two catalog rows
 *    and returns: no lock, no transaction, no NOTICE.
 * 2. Otherwise, under an advisory lock held by one transaction, it applies the pending
 *    migrations in order, each recorded in `gue_migrations` in that same transaction, so any
 *    number of processes may call it at once: the others wait, then find nothing left to do.
 * 3. A file whose first line is {@linkcode NO_TRANSACTION_MARKER} stops that: the transaction
 *    commits, and its statements run one at a time outside any transaction, with no lock held;
 *    then the run goes on from step 2. That is how `CREATE INDEX CONCURRENTLY` builds an index on
 *    a live `gue_jobs` without blocking its writers (Go gue's workers among them).
 *
 * Callers that reach the same no-transaction migration meet at its index: one that is valid is
 * kept, one being built by another caller is waited for, one left invalid by an interrupted build
 * is dropped and built again; the migration is recorded once, by whichever caller inserts the row.
 * So it needs no second connection (a pool of one works) and no lock held across a build.
 *
 * Waiting is polling, in short statements: a session blocked inside a statement holds a snapshot,
 * and `CREATE INDEX CONCURRENTLY` waits for every snapshot older than its own to go, so a caller
 * blocked in `pg_advisory_xact_lock` while another builds would stall that build.
 *
 * @module
 */
import type { ConnPool, Queryable, Tx } from "./adapter.ts";
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
 * processes may call it at once: each migration is applied and reported exactly once.
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
  const recorded = await readApplied(pool);
  if (recorded && migrations.every((m) => recorded.has(m.version))) return [];

  const done: number[] = [];
  for (;;) {
    const next = await applyUnderLock(pool, migrations, done);
    if (next === undefined) return done;
    if (await applyOutsideTransaction(pool, next)) done.push(next.version);
  }
}

/**
 * Under the lock, in one transaction: applies the pending migrations up to the first that must
 * run outside a transaction, which it returns (undefined when none is left).
 */
async function applyUnderLock(
  pool: ConnPool,
  migrations: readonly Migration[],
  done: number[],
): Promise<Migration | undefined> {
  const tx = await takeLock(pool);
  try {
    let applied = await readApplied(tx);
    if (!applied) {
      await tx.query(migrationTableCreate);
      applied = new Set();
    }
    const applying: number[] = [];
    let next: Migration | undefined;
    for (const m of migrations) {
      if (applied.has(m.version)) continue;
      if (!m.transaction) {
        next = m;
        break;
      }
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query(migrationRecord, [m.version, m.name]);
      applying.push(m.version);
    }
    await tx.commit();
    done.push(...applying);
    return next;
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
}

/** The recorded versions, or `null` when `gue_migrations` does not exist yet. */
async function readApplied(db: Queryable): Promise<Set<number> | null> {
  const { rows: [table] } = await db.query<{ present: boolean }>(migrationTableExists);
  if (!table.present) return null;
  const { rows } = await db.query<{ version: number }>(migrationListApplied);
  return new Set(rows.map((r) => r.version));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits for `delay`, then returns the next, longer delay (20 ms doubling up to 500 ms). */
async function backOff(delay: number): Promise<number> {
  await sleep(delay);
  return Math.min(delay * 2, 500);
}

/**
 * Opens a transaction holding the migration lock. Waits by polling, each try in a transaction
 * of its own that ends at once, so no waiter holds a snapshot for long (see the module doc).
 */
async function takeLock(pool: ConnPool): Promise<Tx> {
  for (let delay = 20;; delay = await backOff(delay)) {
    const tx = await pool.begin();
    try {
      const { rows: [row] } = await tx.query<{ locked: boolean }>(migrationLockTry);
      if (row.locked) return tx;
    } catch (err) {
      await tx.rollback().catch(() => {});
      throw err;
    }
    await tx.rollback();
  }
}

/**
 * Runs each statement on the pool, outside any transaction and with no lock held, then records
 * the migration.
 *
 * @returns Whether this call recorded it (another caller may have finished it at the same time).
 */
async function applyOutsideTransaction(pool: ConnPool, m: Migration): Promise<boolean> {
  for (const statement of splitStatements(m.sql)) {
    const index = concurrentIndexName(statement);
    if (index === undefined) await pool.query(statement);
    else await buildIndex(pool, index, statement);
  }
  const { rowCount } = await pool.query(migrationRecord, [m.version, m.name]);
  return rowCount === 1;
}

/**
 * Runs a `CREATE INDEX CONCURRENTLY` statement until its index is valid. Another caller may be
 * building the same index, or may have been interrupted while building it; an earlier call of
 * ours may have built it and stopped before recording its migration.
 */
async function buildIndex(pool: ConnPool, index: string, statement: string): Promise<void> {
  for (let delay = 20;; delay = await backOff(delay)) {
    const { rows: [state] } = await pool.query<IndexState>(migrationIndexState, [index]);
    if (state?.valid) return;
    if (state?.building) continue; // another caller's build: wait for its end
    try {
      // Left invalid by an interrupted build: IF NOT EXISTS would keep it as it is.
      if (state) await pool.query(migrationIndexDrop(state.name));
      await pool.query(statement);
    } catch (err) {
      // Two callers that started the same build together: the server cancels one (a deadlock,
      // or "tuple concurrently updated" when both touch the index's catalog row); look again.
      if (!isBuildCollision(err)) throw err;
    }
  }
}

interface IndexState {
  name: string;
  valid: boolean;
  building: boolean;
}

const DEADLOCK_DETECTED = "40P01";

/** Whether a failed index build lost a race with another caller's build of the same index. */
function isBuildCollision(err: unknown): boolean {
  const { code, message } = (err ?? {}) as { code?: unknown; message?: unknown };
  return code === DEADLOCK_DETECTED ||
    (typeof message === "string" && message.includes("tuple concurrently updated"));
}
