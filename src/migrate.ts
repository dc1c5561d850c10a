/**
 * Applies the schema. The migrations are plain SQL files in `migrations/`, embedded into
 * `src/migrations.ts` so the library can apply them when loaded from JSR or npm.
 *
 * @module
 */
import type { ConnPool } from "./adapter.ts";
import {
  migrationListApplied,
  migrationLock,
  migrationRecord,
  migrationTableCreate,
} from "./sql.ts";

/** One migration: a numbered SQL file. */
export interface Migration {
  /** The number the file name starts with. */
  version: number;
  /** The file name, e.g. `001_gue_jobs.sql`. */
  name: string;
  /** The file's SQL: statements separated by `;` at line ends. */
  sql: string;
}

/** Splits a migration into statements; our files keep one `;` per statement, at a line end. */
export function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.replace(/^(\s*--[^\n]*\n)+/g, "").trim())
    .filter((s) => s.length > 0);
}

/**
 * Applies the migrations not yet recorded in `gue_migrations`, in order, in one transaction held
 * under an advisory lock: any number of processes may call it at once, each waits for the first
 * and then finds nothing left to do.
 *
 * @param pool Where to apply them.
 * @param migrations The migrations, in version order.
 * @returns The versions this call applied (empty when the schema was current).
 */
export async function applyMigrations(
  pool: ConnPool,
  migrations: readonly Migration[],
): Promise<number[]> {
  const tx = await pool.begin();
  try {
    await tx.query(migrationLock);
    await tx.query(migrationTableCreate);
    const { rows } = await tx.query<{ version: number }>(migrationListApplied);
    const done = new Set(rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      for (const statement of splitStatements(m.sql)) await tx.query(statement);
      await tx.query(migrationRecord, [m.version, m.name]);
      applied.push(m.version);
    }
    await tx.commit();
    return applied;
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
}
