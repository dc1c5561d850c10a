/**
 * The one interface between gue and a PostgreSQL driver.
 *
 * The core never imports a driver: it talks to a {@linkcode ConnPool} and the {@linkcode Tx}
 * values it opens. Each adapter in `src/adapters/` wraps one driver's pool in this shape, and
 * every adapter passes the same conformance suite (`tests/adapter_conformance.ts`).
 *
 * Value contract, both ways: `text` ⇄ `string`, `smallint`/`integer` ⇄ `number`,
 * `bytea` ⇄ `Uint8Array` (a `Buffer` is one), `timestamptz` ⇄ `Date`, `NULL` ⇄ `null`.
 * Parameters are positional (`$1`, `$2`, …) and bound, never interpolated.
 *
 * @module
 */

/** What a query resolves to: the rows as objects keyed by column name, and the affected count. */
export interface QueryResult<R> {
  /** The rows returned, each an object keyed by column name. Empty for statements without rows. */
  rows: R[];
  /** Rows returned (SELECT) or affected (INSERT, UPDATE, DELETE). */
  rowCount: number;
}

/** Something that runs a parameterised SQL statement: a pool or a transaction. */
export interface Queryable {
  /**
   * Runs one statement with positional parameters.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params Values bound to the placeholders, in order.
   * @returns The rows and the row count. Rejects with the server's error (its SQLSTATE in `code`).
   */
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/** An open transaction on one connection. `commit` and `rollback` end it and free the connection. */
export interface Tx extends Queryable {
  /** Commits and releases the connection. */
  commit(): Promise<void>;
  /** Rolls back and releases the connection. Safe to call after the transaction failed. */
  rollback(): Promise<void>;
}

/** What an adapter can and cannot do, stated up front so the core never guesses. */
export interface AdapterCapabilities {
  /**
   * False when the database runs one transaction at a time (PGlite): a query on the pool
   * while a job's transaction is open would wait for that transaction, so the adapter
   * refuses it with an error that says to use `job.tx()` instead.
   */
  concurrentTransactions: boolean;
  /**
   * True when the adapter implements {@linkcode ConnPool.listen}: idle workers are then woken by
   * LISTEN/NOTIFY as soon as jobs are enqueued. Absent or false: workers only poll, and the
   * client logs that once.
   */
  listen?: boolean;
  /**
   * True when the adapter sends a transaction's first statement together with its BEGIN
   * ({@linkcode ConnPool.beginWith}) and its last together with its COMMIT
   * ({@linkcode PipelinedTx.commitWith}): a job then costs two round trips instead of four.
   * Without it the core makes the same calls one by one. @default {false}
   */
  pipelining?: boolean;
}

/** A transaction that can send its last statement together with its COMMIT. */
export interface PipelinedTx extends Tx {
  /**
   * Runs `text`, then COMMIT, in one round trip. The transaction is over when this settles:
   * when `text` fails the server turns the COMMIT into a ROLLBACK and `text`'s error is thrown;
   * when the COMMIT itself fails its error is thrown (gue's adapters mark it with
   * `commitFailure` of `src/pipelining.ts`, so the worker reports a failed commit as such; an
   * unmarked error counts as the statement's).
   *
   * @param text The last statement.
   * @param params Its parameters.
   * @returns The statement's result.
   */
  commitWith<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<QueryResult<R>>;
  /**
   * Optional: {@linkcode PipelinedTx.commitWith} of `text`, and a new transaction on the same
   * connection that runs `first` (as {@linkcode ConnPool.beginWith} would), all sent in one
   * write, so a worker that keeps finding jobs spends one round trip per job. The new
   * transaction starts fresh whatever becomes of this one. Without it the core calls
   * `commitWith`, then `beginWith`.
   *
   * @param text The last statement of this transaction.
   * @param params Its parameters.
   * @param first The first statement of the next transaction.
   * @param firstParams Its parameters.
   * @returns `last`, settled as `commitWith`'s promise; `next`, settled as `beginWith`'s (it
   *   rejects with `BeginError` of `src/pipelining.ts` when no transaction could be opened).
   */
  commitWithThenBegin?<L = Record<string, unknown>, F = Record<string, unknown>>(
    text: string,
    params: unknown[] | undefined,
    first: string,
    firstParams?: unknown[],
  ): {
    last: Promise<QueryResult<L>>;
    next: Promise<{ tx: PipelinedTx; result: QueryResult<F> }>;
  };
}

/** A dedicated connection listening on one channel, as {@linkcode ConnPool.listen} opens it. */
export interface ListenConnection {
  /** Stops listening and closes the connection. Safe to call twice. */
  close(): Promise<void>;
}

/** A pool of connections: runs single statements and opens transactions. */
export interface ConnPool extends Queryable {
  /** The adapter's name, for messages: `"postgresjs"`, `"pg"`, … */
  readonly name: string;
  /** What this adapter supports. */
  readonly capabilities: AdapterCapabilities;
  /** Opens a transaction (READ COMMITTED, read-write) on a connection of its own. */
  begin(): Promise<Tx>;
  /**
   * Opens a transaction and runs `text` in it, in one round trip (adapters with
   * `capabilities.pipelining` only). When `text` fails the transaction is rolled back and its
   * error thrown; when no transaction could be opened, a `BeginError` whose `cause` is the
   * driver's error.
   *
   * @param text The first statement.
   * @param params Its parameters.
   * @returns The open transaction, which has `commitWith`, and the statement's result.
   */
  beginWith?<R = Record<string, unknown>>(
    text: string,
    params?: unknown[],
  ): Promise<{ tx: PipelinedTx; result: QueryResult<R> }>;
  /** Closes the pool. Safe to call twice. */
  close(): Promise<void>;
  /**
   * Opens a connection of its own (not one of the pool's) and runs `LISTEN channel` on it; only
   * when `capabilities.listen` is true. Resolves once the LISTEN is in effect, rejects when it
   * cannot be. `onNotify` gets each payload on the channel. `onEnd` is called at most once, when
   * the connection is lost later, never after `close()`; gue then opens a new one. An adapter
   * whose driver reconnects by itself may never call it.
   *
   * @param channel The channel.
   * @param onNotify Gets each notification's payload.
   * @param onEnd Called once if the connection is lost.
   * @returns The connection, to close.
   */
  listen?(
    channel: string,
    onNotify: (payload: string) => void,
    onEnd: (err: unknown) => void,
  ): Promise<ListenConnection>;
}
