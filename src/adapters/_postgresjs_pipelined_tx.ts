// deno-lint-ignore-file no-explicit-any -- postgres.js handles are generic over the application's
// custom types, and the connection object behind a reserved handle is not in its declarations.
/**
 * The postgres.js adapter's pipelined transaction: a job's BEGIN and lock go out in one write and
 * come back in one round trip, as do its DELETE (or the failure's UPDATE) and COMMIT.
 *
 * `sql.begin()` cannot do that: it awaits its BEGIN before it calls back, and sends the COMMIT
 * only after the callback settles. So this transaction runs on a reserved connection
 * (`sql.reserve()`), where statements issued without awaiting are sent back to back.
 *
 * A reserved connection alone would bring back what `sql.begin()` protects against: postgres.js
 * 3.4 never settles a statement sent on a reserved connection that the server closed
 * (porsager/postgres#1208), so a terminated backend would hang the worker. The transaction
 * therefore watches its connection the way `sql.begin()` does: the BEGIN's `onexecute` hands it
 * the connection, whose `onclose` (postgres.js's own per-connection slot, the one `sql.begin()`
 * uses) tells it when the connection dies. From then on every statement, the ones in flight
 * included, rejects with the connection's error, and the connection, which the pool has taken
 * back, is never used or released again. When a postgres.js version does not hand the
 * connection over, {@linkcode openPipelined} returns `undefined` and the adapter falls back to
 * `sql.begin()`.
 *
 * Internal to the postgres.js adapter.
 *
 * @module
 */
import type { ReservedSql, Sql } from "postgres";
import type { PipelinedTx, QueryResult } from "../adapter.ts";
import { BeginError, commitFailure } from "../pipelining.ts";
import { commitRolledBack } from "./_commit_rolled_back.ts";

/** postgres.js's connection object, as far as this module touches it. */
interface Connection {
  onclose?: ((err: unknown) => void) | null;
  terminate(): void;
}

/** A statement of this transaction, as postgres.js's `unsafe` returns it. */
type Statement = Promise<any> & { execute(): unknown; command?: string };

/** Whether `err` is a statement's own failure, after which its connection is still sound. */
function isStatementError(err: unknown): boolean {
  const e = err as { name?: unknown; severity?: unknown };
  return e?.name === "PostgresError" && e.severity === "ERROR";
}

/** A transaction on a reserved postgres.js connection; see the module's text. */
export class ReservedTx implements PipelinedTx {
  readonly #sql: ReservedSql<any>;
  readonly #prepare: boolean;
  readonly #native: symbol;
  #conn: Connection | undefined;
  #state: "open" | "ending" | "ended" = "open";
  /** The connection's error, once it died. */
  #dead: unknown;
  /** Rejects when the connection dies; never resolves. Raced by every statement. */
  readonly #death: Promise<never>;
  #die!: (err: unknown) => void;
  /** Whether a statement failed in a way that leaves the connection in doubt. */
  #suspect = false;

  /**
   * @param sql The reserved connection.
   * @param prepare Whether statements are prepared (the pool's `prepare` option).
   * @param native The adapter's symbol, under which `unwrapTx` finds `sql`.
   */
  constructor(sql: ReservedSql<any>, prepare: boolean, native: symbol) {
    this.#sql = sql;
    (this as unknown as Record<symbol, unknown>)[native] = sql;
    this.#prepare = prepare;
    this.#native = native;
    this.#death = new Promise<never>((_, reject) => (this.#die = reject));
    this.#death.catch(() => {}); // Seen by the statements that race it, if any.
  }

  /** Whether the BEGIN handed the connection over (see the module's text). */
  get watched(): boolean {
    return this.#conn !== undefined;
  }

  /** Sends BEGIN now; `onexecute` takes the connection and watches it. */
  begin(): Promise<unknown> {
    const statement = this.#sql.unsafe("BEGIN", [], {
      onexecute: (conn: Connection) => {
        this.#conn = conn;
        conn.onclose = (err) => this.#died(err);
        // True: the connection takes the next statement at once (pipelined).
        return true;
      },
    } as any) as unknown as Statement;
    statement.execute();
    return this.#race(statement);
  }

  /** Sends `text` now, without awaiting what was sent before. */
  send<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#state !== "open") return Promise.reject(new Error("transaction already ended"));
    return this.#statement<R>(text, params);
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return this.send<R>(text, params);
  }

  async commit(): Promise<void> {
    if (this.#dead !== undefined) throw this.#dead;
    if (this.#state !== "open") throw new Error("transaction already ended");
    this.#state = "ending";
    const commit = this.#end("COMMIT");
    let tag: string | undefined;
    try {
      tag = await commit;
    } finally {
      this.#release();
    }
    if (tag === "ROLLBACK") throw commitRolledBack();
  }

  commitWith<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#state !== "open") return Promise.reject(new Error("transaction already ended"));
    this.#state = "ending";
    const last = this.#statement<R>(text, params);
    return this.#committed(last, this.#end("COMMIT"), undefined);
  }

  /**
   * Runs `text` and COMMIT, then BEGIN and `first` in a new transaction on the same connection,
   * all four in one write: the next transaction is open when the round trip returns. The new
   * transaction starts fresh whatever became of this one (after a failed `text` the server turns
   * the COMMIT into a ROLLBACK and runs the BEGIN as usual). The connection passes to the new
   * transaction, which releases it; a death of the connection rejects both.
   */
  commitWithThenBegin<L, F>(
    text: string,
    params: unknown[] | undefined,
    first: string,
    firstParams?: unknown[],
  ): { last: Promise<QueryResult<L>>; next: Promise<{ tx: PipelinedTx; result: QueryResult<F> }> } {
    const conn = this.#conn;
    if (this.#dead !== undefined || this.#state !== "open" || conn === undefined) {
      const err = this.#dead ?? new Error("transaction already ended");
      return { last: Promise.reject(err), next: Promise.reject(new BeginError(err)) };
    }
    this.#state = "ending";
    const last = this.#statement<L>(text, params);
    const commit = this.#end("COMMIT");
    const next = new ReservedTx(this.#sql, this.#prepare, this.#native);
    // The connection is known: the new transaction watches it from the start, and a death
    // rejects what this one still waits for as well.
    next.#conn = conn;
    conn.onclose = (err) => {
      this.#died(err);
      next.#died(err);
    };
    const begin = next.#send("BEGIN");
    const nextFirst = next.send<F>(first, firstParams);
    return { last: this.#committed(last, commit, next), next: next.#opened(begin, nextFirst) };
  }

  /**
   * Waits for the last statement and the COMMIT sent after it, then hands the connection back
   * (or over to `next`, which was sent after them).
   */
  async #committed<R>(
    last: Promise<QueryResult<R>>,
    commit: Promise<string | undefined>,
    next: ReservedTx | undefined,
  ): Promise<QueryResult<R>> {
    let result: QueryResult<R>;
    let tag: string | undefined;
    try {
      // Both were sent; wait for both before the connection goes back to the pool.
      const [settledLast, settledCommit] = await Promise.allSettled([last, commit]);
      if (settledLast.status === "rejected") throw settledLast.reason;
      if (settledCommit.status === "rejected") throw commitFailure(settledCommit.reason);
      result = settledLast.value;
      tag = settledCommit.value;
    } finally {
      if (next === undefined) this.#release();
      else {
        this.#state = "ended";
        // A connection in doubt is closed when the transaction that has it now ends.
        if (this.#suspect) next.#suspect = true;
      }
    }
    // The server turns the COMMIT of a failed transaction into a ROLLBACK, without an error.
    if (tag === "ROLLBACK") throw commitFailure(commitRolledBack());
    return result;
  }

  /**
   * Settles a transaction whose BEGIN and first statement were sent: its BEGIN's failure is a
   * {@linkcode BeginError} (the connection is given up), its statement's rolls it back.
   */
  async #opened<R>(
    begin: Promise<unknown>,
    first: Promise<QueryResult<R>>,
  ): Promise<{ tx: ReservedTx; result: QueryResult<R> }> {
    try {
      await begin;
    } catch (err) {
      first.catch(() => {});
      this.abandon();
      throw new BeginError(err);
    }
    try {
      return { tx: this, result: await first };
    } catch (err) {
      await this.rollback();
      throw err;
    }
  }

  async rollback(): Promise<void> {
    if (this.#state !== "open" || this.#dead !== undefined) return;
    this.#state = "ending";
    try {
      // A failure here means the connection is gone: the server rolled back already.
      await this.#end("ROLLBACK").catch(() => {});
    } finally {
      this.#release();
    }
  }

  /**
   * Gives the transaction up before it began (its BEGIN failed): the connection goes back to
   * the pool, or is closed when in doubt.
   */
  abandon(): void {
    this.#state = "ending";
    this.#suspect = true;
    this.#release();
  }

  #statement<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    const statement = this.#sql.unsafe(text, (params ?? []) as any[], {
      prepare: this.#prepare,
    }) as unknown as Statement;
    statement.execute();
    return this.#race(statement).then(
      (rows: any) => ({ rows: rows as R[], rowCount: rows.count ?? rows.length }),
    );
  }

  /** Sends COMMIT or ROLLBACK; resolves to the server's command tag. */
  #end(text: "COMMIT" | "ROLLBACK"): Promise<string | undefined> {
    return this.#send(text).then((result: any) => result?.command);
  }

  /** Sends a statement without parameters, unprepared. */
  #send(text: string): Promise<unknown> {
    const statement = this.#sql.unsafe(text) as unknown as Statement;
    statement.execute();
    return this.#race(statement);
  }

  #race<T>(statement: Promise<T>): Promise<T> {
    return Promise.race([statement, this.#death]).catch((err) => {
      if (!isStatementError(err)) this.#suspect = true;
      throw err;
    });
  }

  #died(err: unknown): void {
    if (this.#dead !== undefined) return;
    this.#dead = err ?? new Error("connection closed");
    this.#die(this.#dead);
  }

  /**
   * Hands the connection back, once: released when sound; closed when a statement failed for a
   * reason other than its own (the pool reopens it); left alone when it died (the pool has
   * taken it back already and may be opening it for someone else).
   */
  #release(): void {
    if (this.#state === "ended") return;
    this.#state = "ended";
    const conn = this.#conn;
    if (this.#dead !== undefined) return;
    if (conn?.onclose) conn.onclose = null;
    if (this.#suspect && conn !== undefined) {
      // Its close reaches the pool, which reopens the connection when needed.
      conn.terminate();
      return;
    }
    this.#sql.release();
  }
}

/**
 * How long one `sql.reserve()` is waited for before it is given up and asked again. postgres.js
 * 3.4 can drop a reserve for good: when a connection closes while the reserve waits in the
 * pool's queue, the pool reconnects that connection for it, and once the new connection has
 * fetched its types, the reserve is forgotten and the connection goes back to the idle ones.
 * A new reserve finds it there at once; the forgotten one never settles.
 */
export const RESERVE_RETRY_MS = 500;

/**
 * `sql.reserve()`, asked again every {@linkcode RESERVE_RETRY_MS} until one is granted (see
 * there). A reserve that was given up and is granted later is released at once, so no
 * connection is kept. While the pool is busy (every connection in use) the reserves wait in
 * its queue in order, the older ones first, and each one granted late passes its connection on.
 *
 * @param sql The pool.
 * @returns A reserved connection.
 */
export async function reserveConnection(sql: Sql<any>): Promise<ReservedSql<any>> {
  for (;;) {
    const reserve = sql.reserve();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const retry = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), RESERVE_RETRY_MS);
    });
    try {
      const reserved = await Promise.race([reserve, retry]);
      if (reserved !== undefined) return reserved;
    } finally {
      clearTimeout(timer);
    }
    // Given up: if it is granted after all, hand the connection straight back.
    reserve.then((late) => late.release(), () => {});
  }
}

/**
 * Opens a pipelined transaction and runs `text` in it: BEGIN and `text` in one round trip.
 *
 * @param sql The pool.
 * @param prepare Whether statements are prepared (the pool's `prepare` option).
 * @param native The adapter's symbol, under which `unwrapTx` finds the connection.
 * @param text The first statement.
 * @param params Its parameters.
 * @returns The transaction and the result; `undefined` when this postgres.js does not hand the
 *   connection over (nothing is left open then; use `sql.begin()`).
 * @throws {BeginError} When no transaction could be opened.
 * @throws The statement's error (the transaction is rolled back).
 */
export async function openPipelined<R>(
  sql: Sql<any>,
  prepare: boolean,
  native: symbol,
  text: string,
  params?: unknown[],
): Promise<{ tx: ReservedTx; result: QueryResult<R> } | undefined> {
  let reserved: ReservedSql<any>;
  try {
    reserved = await reserveConnection(sql);
  } catch (err) {
    throw new BeginError(err);
  }
  const tx = new ReservedTx(reserved, prepare, native);
  const begin = tx.begin();
  const first = tx.send<R>(text, params);
  try {
    await begin;
  } catch (err) {
    first.catch(() => {});
    tx.abandon();
    throw new BeginError(err);
  }
  if (!tx.watched) {
    // This postgres.js did not hand the connection over: without it a dead connection could
    // hang the transaction. Give it up and let the caller use sql.begin().
    await first.catch(() => {});
    await tx.rollback();
    return undefined;
  }
  let result: QueryResult<R>;
  try {
    result = await first;
  } catch (err) {
    await tx.rollback();
    throw err;
  }
  return { tx, result };
}
