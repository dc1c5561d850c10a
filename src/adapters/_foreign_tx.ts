/**
 * The application's own transaction as a gue {@linkcode Tx}: what every adapter's `.tx(native)`
 * returns for `enqueueTx`, and the lookup behind every adapter's `unwrapTx`. Internal to the
 * adapters; not exported by the package.
 *
 * Each adapter keeps the driver's handle on its transactions under a symbol of its own, so one
 * adapter's `unwrapTx` never claims another adapter's transaction.
 *
 * @module
 */
import type { QueryResult, Tx } from "../adapter.ts";

/**
 * Who ends a transaction the application wraps with `adapter.tx(native)`:
 * - `{ callback: "sql.begin()" }`: a driver callback, which commits when it returns and rolls
 *   back when it throws;
 * - `"application"`: the application, which sends COMMIT or ROLLBACK itself.
 */
export type ForeignTxOwner = { readonly callback: string } | "application";

/** What {@linkcode ForeignTx} needs to know about the adapter that made it. */
export interface ForeignTxAdapter<N> {
  /** The adapter's name as the application calls it: `"pg"` for `pg.tx()`. */
  readonly name: string;
  /** The symbol under which the adapter's transactions hold their native handle. */
  readonly native: symbol;
  /** Who commits or rolls back the wrapped transaction, for the errors of `commit`/`rollback`. */
  readonly owner: ForeignTxOwner;
  /** Runs one statement on a native handle: the adapter's own `run`. */
  run<R>(handle: N, text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * The application's own transaction, wrapped: statements run in it, and its owner ends it, so
 * `commit()` and `rollback()` reject with a `TypeError` that says who does.
 */
export class ForeignTx<N> implements Tx {
  readonly #adapter: ForeignTxAdapter<N>;
  readonly #handle: N;

  /**
   * Wraps the application's native transaction.
   *
   * @param adapter The adapter that wraps it: its name, symbol, `run` and the transaction's owner.
   * @param handle The driver's transaction or connection.
   */
  constructor(adapter: ForeignTxAdapter<N>, handle: N) {
    this.#adapter = adapter;
    this.#handle = handle;
    // Where the adapter's unwrapTx looks for it, as on the adapter's own transactions.
    (this as unknown as Record<symbol, N>)[adapter.native] = handle;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.#adapter.run<R>(this.#handle, text, params);
  }

  commit(): Promise<void> {
    return Promise.reject(this.#refusal("commit"));
  }

  rollback(): Promise<void> {
    return Promise.reject(this.#refusal("rollback"));
  }

  #refusal(attempt: "commit" | "rollback"): TypeError {
    const { name, owner } = this.#adapter;
    const [whose, how] = owner === "application"
      ? ["the application", attempt === "commit" ? "it sends COMMIT itself" : "it sends ROLLBACK"]
      : [owner.callback, attempt === "commit" ? "it commits there" : "throw to roll back"];
    return new TypeError(`${name}.tx(): this transaction belongs to ${whose}; ${how}`);
  }
}

/**
 * The native handle that a transaction holds under `native`: the body of each adapter's
 * `unwrapTx`.
 *
 * @param native The adapter's symbol.
 * @param adapter The adapter's name, for the error: `"postgresjs"`.
 * @param tx A transaction of that adapter: `job.tx()`, or one its `.tx(native)` wrapped.
 * @returns The handle.
 * @throws {TypeError} When `tx` is not a transaction of that adapter (another adapter's, or not
 *   a transaction at all).
 */
export function unwrapNative<N>(native: symbol, adapter: string, tx: Tx): N {
  if (tx !== null && typeof tx === "object" && native in tx) {
    return (tx as unknown as Record<symbol, N>)[native];
  }
  const what = tx === null || typeof tx !== "object"
    ? String(tx)
    : "a transaction of another adapter";
  throw new TypeError(
    `unwrapTx of the ${adapter} adapter: tx must be a transaction of the ${adapter} adapter ` +
      `(job.tx() of a client on ${adapter}, or ${adapter}.tx(native)), got ${what}`,
  );
}
