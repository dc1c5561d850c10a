/**
 * A job's transaction in as few round trips as the adapter allows.
 *
 * A worker's cycle is BEGIN, the lock, the handler, then DELETE (or the failure's UPDATE) and
 * COMMIT. Awaited one by one that is four round trips, and on a busy queue the worker spends
 * most of its time waiting for them. An adapter whose driver can pipeline (send a statement
 * without waiting for the answer to the one before) sends the lock with the BEGIN and the last
 * statement with the COMMIT: two round trips. It says so with `capabilities.pipelining` and
 * implements `ConnPool.beginWith` and `Tx.commitWith`; these helpers call them, or do the same
 * in separate calls for an adapter without them, with the same outcome either way.
 *
 * @module
 */
import type { ConnPool, QueryResult, Tx } from "./adapter.ts";

/**
 * Thrown by `beginWith` when no transaction could be opened (no connection, BEGIN refused), as
 * opposed to a failure of the first statement: the core counts the two apart. The original
 * error is its `cause`; it never reaches the application.
 */
export class BeginError extends Error {
  /**
   * @param cause What the driver threw.
   */
  constructor(cause: unknown) {
    super(`could not open a transaction: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
    this.name = "BeginError";
  }
}

/** A pool that can send a transaction's first statement with its BEGIN. */
interface BeginWith {
  beginWith<R>(text: string, params?: unknown[]): Promise<{ tx: Tx; result: QueryResult<R> }>;
}

/** A transaction that can send its last statement with its COMMIT. */
interface CommitWith {
  commitWith<R>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

function canBeginWith(pool: ConnPool): pool is ConnPool & BeginWith {
  return typeof (pool as Partial<BeginWith>).beginWith === "function";
}

/**
 * Whether `tx` sends its last statement with its COMMIT.
 *
 * @param tx A transaction.
 * @returns True when `tx.commitWith` exists.
 */
export function canCommitWith(tx: Tx): tx is Tx & CommitWith {
  return typeof (tx as Partial<CommitWith>).commitWith === "function";
}

/**
 * Opens a transaction and runs `text` in it: one round trip on an adapter that pipelines, two
 * otherwise. When `text` fails, the transaction is rolled back and the error thrown, so the
 * caller holds no transaction; when no transaction could be opened, a {@linkcode BeginError}.
 *
 * @param pool The pool.
 * @param text The first statement.
 * @param params Its parameters.
 * @returns The open transaction and the statement's result.
 * @throws {BeginError} When no transaction could be opened.
 * @throws The statement's error.
 */
export async function beginWith<R>(
  pool: ConnPool,
  text: string,
  params?: unknown[],
): Promise<{ tx: Tx; result: QueryResult<R> }> {
  if (canBeginWith(pool)) return await pool.beginWith<R>(text, params);
  let tx: Tx;
  try {
    tx = await pool.begin();
  } catch (err) {
    throw new BeginError(err);
  }
  try {
    return { tx, result: await tx.query<R>(text, params) };
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
}

/**
 * Runs `text` in `tx` and commits: one round trip on an adapter that pipelines, two otherwise.
 * The transaction is over when this settles, whatever happened: when `text` fails it is rolled
 * back and `text`'s error thrown; when the commit fails, the commit's error is thrown.
 *
 * @param tx An open transaction.
 * @param text The last statement.
 * @param params Its parameters.
 * @returns The statement's result.
 */
export async function commitWith<R>(
  tx: Tx,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  if (canCommitWith(tx)) return await tx.commitWith<R>(text, params);
  let result: QueryResult<R>;
  try {
    result = await tx.query<R>(text, params);
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
  await tx.commit();
  return result;
}
