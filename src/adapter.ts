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
}

/** A pool of connections: runs single statements and opens transactions. */
export interface ConnPool extends Queryable {
  /** The adapter's name, for messages: `"postgresjs"`, `"pg"`, … */
  readonly name: string;
  /** What this adapter supports. */
  readonly capabilities: AdapterCapabilities;
  /** Opens a transaction (READ COMMITTED, read-write) on a connection of its own. */
  begin(): Promise<Tx>;
  /** Closes the pool. Safe to call twice. */
  close(): Promise<void>;
}
