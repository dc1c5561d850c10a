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

const commitFailures = new WeakSet<object>();

/**
 * Marks `err` as the failure of a `commitWith`'s COMMIT rather than of its statement, for the
 * callers that report the two apart (the worker logs a failed DELETE and a failed commit each
 * with gue's text). An adapter's `commitWith` marks its COMMIT's errors with it; an error it
 * leaves unmarked counts as the statement's.
 *
 * @param err The COMMIT's error.
 * @returns `err`, to throw.
 */
export function commitFailure<E>(err: E): E {
  if (typeof err === "object" && err !== null) commitFailures.add(err);
  return err;
}

/**
 * Whether `commitWith` threw `err` for its COMMIT (see {@linkcode commitFailure}); false for its
 * statement's failure, after which the transaction was rolled back.
 *
 * @param err What `commitWith` threw.
 * @returns True for the COMMIT's failure.
 */
export function isCommitFailure(err: unknown): boolean {
  return typeof err === "object" && err !== null && commitFailures.has(err);
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
  return await beginThenRun<R>(pool, text, params);
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
  return await runThenCommit<R>(tx, text, params);
}

/**
 * What {@linkcode beginWith} does for an adapter that does not pipeline: BEGIN, then `text`, each
 * awaited, with the same outcomes. For an adapter that falls back to it itself.
 *
 * @param pool Opens the transaction.
 * @param text The first statement.
 * @param params Its parameters.
 * @returns The open transaction and the statement's result.
 * @throws {BeginError} When no transaction could be opened.
 * @throws The statement's error (the transaction is rolled back).
 */
export async function beginThenRun<R>(
  pool: Pick<ConnPool, "begin">,
  text: string,
  params?: unknown[],
): Promise<{ tx: Tx; result: QueryResult<R> }> {
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
 * What {@linkcode commitWith} does for a transaction that does not pipeline: `text`, then
 * COMMIT, each awaited, with the same outcomes.
 *
 * @param tx An open transaction.
 * @param text The last statement.
 * @param params Its parameters.
 * @returns The statement's result.
 */
export async function runThenCommit<R>(
  tx: Tx,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  let result: QueryResult<R>;
  try {
    result = await tx.query<R>(text, params);
  } catch (err) {
    await tx.rollback().catch(() => {});
    throw err;
  }
  try {
    await tx.commit();
  } catch (err) {
    throw commitFailure(err);
  }
  return result;
}

/** A transaction that can send its last statement with its COMMIT and the next BEGIN. */
interface CommitWithThenBegin {
  commitWithThenBegin<L, F>(
    text: string,
    params: unknown[] | undefined,
    first: string,
    firstParams?: unknown[],
  ): Chained<L, F>;
}

/**
 * What {@linkcode commitWithThenBegin} returns: the ending transaction's outcome and the next
 * transaction's opening, each settled as {@linkcode commitWith}'s and {@linkcode beginWith}'s.
 */
export interface Chained<L, F> {
  /** The last statement's result; rejects as `commitWith` does. */
  last: Promise<QueryResult<L>>;
  /** The next transaction and its first statement's result; rejects as `beginWith` does. */
  next: Promise<{ tx: Tx; result: QueryResult<F> }>;
}

/**
 * A transaction to open right after a commit (see {@linkcode commitWithThenBegin}): what a
 * worker hands to its finished job so that the next poll goes out with the job's COMMIT.
 */
export interface NextBegin {
  /** Opens the transaction where the adapter cannot chain it. */
  readonly pool: ConnPool;
  /** Its first statement. */
  readonly text: string;
  /** That statement's parameters. */
  readonly params: unknown[];
  /** Set when it was sent: what {@linkcode Chained.next} is. */
  sent?: Promise<{ tx: Tx; result: QueryResult<unknown> }>;
  /** Set by the caller once it no longer wants it: it is not sent then. */
  cancelled?: boolean;
}

/**
 * Runs `text` in `tx` and commits, then opens a new transaction and runs `first` in it: on an
 * adapter that chains them, all four go out in one write on `tx`'s connection (one round trip);
 * otherwise {@linkcode commitWith}, then {@linkcode beginWith} once it settled. The new
 * transaction is opened whatever became of `tx`.
 *
 * @param tx An open transaction.
 * @param pool The pool, for an adapter that does not chain.
 * @param text The last statement of `tx`.
 * @param params Its parameters.
 * @param first The first statement of the next transaction.
 * @param firstParams Its parameters.
 * @returns Both outcomes; the caller must handle both promises.
 */
export function commitWithThenBegin<L, F>(
  tx: Tx,
  pool: ConnPool,
  text: string,
  params: unknown[] | undefined,
  first: string,
  firstParams?: unknown[],
): Chained<L, F> {
  if (typeof (tx as Partial<CommitWithThenBegin>).commitWithThenBegin === "function") {
    return (tx as Tx & CommitWithThenBegin).commitWithThenBegin<L, F>(
      text,
      params,
      first,
      firstParams,
    );
  }
  const last = commitWith<L>(tx, text, params);
  const begin = () => beginWith<F>(pool, first, firstParams);
  return { last, next: last.then(begin, begin) };
}
