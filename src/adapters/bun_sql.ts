/**
 * Adapter for Bun's built-in PostgreSQL client, [`Bun.SQL`](https://bun.com/docs/api/sql).
 * Bun only.
 *
 * The driver is typed here by the few members gue uses ({@linkcode BunSqlPool}), not imported, so
 * this file type-checks under Deno and on Bun without `bun-types`.
 *
 * What Bun.SQL returns, and what this adapter changes to meet gue's value contract:
 * - `bytea` is a `Buffer` (a `Uint8Array`), `timestamptz` a `Date`, `smallint`/`integer` numbers,
 *   `NULL` `null`: kept as they are.
 * - the affected count is the result's `count`: it becomes `rowCount`.
 * - a server error is a `PostgresError` whose `code` is Bun's own `"ERR_POSTGRES_SERVER_ERROR"`
 *   and whose `errno` is the SQLSTATE. gue (like pg and postgres.js) reads the SQLSTATE from
 *   `code`, so the adapter copies `errno` into `code` and keeps Bun's code in `bunCode`.
 *
 * @example Wrap a Bun.SQL pool
 * ```ts ignore
 * import { SQL } from "bun";
 * import { Client } from "@gue/gue";
 * import { bunSql } from "@gue/gue/adapters/bun_sql";
 *
 * const sql = new SQL(process.env.DATABASE_URL!, { max: 10 });
 * const client = new Client(bunSql(sql));
 * ```
 *
 * @example Enqueue inside your own `sql.begin(...)`
 * ```ts ignore
 * import { SQL } from "bun";
 * import { Client } from "@gue/gue";
 * import { bunSql } from "@gue/gue/adapters/bun_sql";
 *
 * const sql = new SQL(process.env.DATABASE_URL!);
 * const client = new Client(bunSql(sql));
 * const order = { id: 42, total: 9.99 };
 * // The order and its receipt job are committed together, or neither is.
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ${sql(order)}`;
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, bunSql.tx(tx));
 * });
 * await sql.close();
 * ```
 *
 * @module
 */
import type {
  AdapterCapabilities,
  ConnPool,
  ListenConnection,
  QueryResult,
  Tx,
} from "../adapter.ts";
import { type BunSqlListenPool, listenBunSql } from "./_listen_bun_sql.ts";
// Re-exported so this entry point documents the types its functions take and return.
export type {
  AdapterCapabilities,
  ConnPool,
  ListenConnection,
  Queryable,
  QueryResult,
  Tx,
} from "../adapter.ts";
import { commitRolledBack } from "./_commit_rolled_back.ts";
import { ForeignTx, type ForeignTxAdapter, unwrapNative } from "./_foreign_tx.ts";

/** What a Bun.SQL statement resolves to: an array of row objects with the command's count. */
export interface BunSqlResult extends ArrayLike<unknown> {
  /** Rows returned or affected; `null` for commands without a count. */
  readonly count?: number | null;
  /** The command tag's verb: `"SELECT"`, `"COMMIT"`, or `"ROLLBACK"` for a failed COMMIT. */
  readonly command?: string;
}

/** A Bun.SQL handle that runs statements: the pool, a reserved connection or a transaction. */
export interface BunSqlQueryable {
  /**
   * Runs one statement with positional parameters.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params Values bound to the placeholders.
   */
  // deno-lint-ignore no-explicit-any
  unsafe(text: string, params?: any[]): PromiseLike<BunSqlResult>;
}

/** A connection reserved from the pool with `sql.reserve()`. */
export interface BunSqlReserved extends BunSqlQueryable {
  /** Returns the connection to the pool. */
  release(): void;
}

/** The members of a `Bun.SQL` pool (`new Bun.SQL(url)`) that this adapter uses. */
export interface BunSqlPool extends BunSqlQueryable {
  /** Takes one connection out of the pool for our exclusive use. */
  reserve(): PromiseLike<BunSqlReserved>;
  /** Closes every connection of the pool. */
  close(): PromiseLike<unknown>;
}

const native = Symbol("gue.bunSql.native");

interface BunSqlTx extends Tx {
  readonly [native]: BunSqlQueryable;
}

const sqlstate = /^[0-9A-Z]{5}$/;

/** Gives a server error its SQLSTATE in `code`, where gue and every other adapter put it. */
function normalise(err: unknown): unknown {
  if (err instanceof Error) {
    const e = err as Error & { code?: unknown; errno?: unknown; bunCode?: unknown };
    if (typeof e.errno === "string" && sqlstate.test(e.errno) && e.code !== e.errno) {
      e.bunCode = e.code;
      e.code = e.errno;
    }
  }
  return err;
}

async function run<R>(
  sql: BunSqlQueryable,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  let result: BunSqlResult;
  try {
    result = await sql.unsafe(text, params ?? []);
  } catch (err) {
    throw normalise(err);
  }
  // The result is the array of rows itself, with extra properties (count, command) we drop.
  return { rows: Array.from(result) as R[], rowCount: result.count ?? result.length };
}

/** What `bunSql.tx(sql)` wraps: a transaction that `sql.begin()` (or the application) ends. */
const foreign: ForeignTxAdapter<BunSqlQueryable> = {
  name: "bunSql",
  native,
  owner: { callback: "sql.begin()" },
  run,
};

/** Our transaction: a reserved connection with BEGIN sent, released when it ends. */
class ReservedTx implements BunSqlTx {
  readonly [native]: BunSqlReserved;
  #ended = false;

  constructor(reserved: BunSqlReserved) {
    this[native] = reserved;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#ended) return Promise.reject(new Error("transaction already ended"));
    return run<R>(this[native], text, params);
  }

  async commit(): Promise<void> {
    if (this.#ended) throw new Error("transaction already ended");
    this.#ended = true;
    try {
      const result = await this[native].unsafe("COMMIT");
      if (result.command === "ROLLBACK") throw commitRolledBack();
    } catch (err) {
      throw normalise(err);
    } finally {
      this[native].release();
    }
  }

  async rollback(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await run(this[native], "ROLLBACK");
    } catch {
      // The connection may be gone (terminated backend): the server rolled back already.
    } finally {
      this[native].release();
    }
  }
}

class BunSqlConnPool implements ConnPool {
  readonly name = "bunSql";
  readonly capabilities: AdapterCapabilities;
  readonly #sql: BunSqlPool;
  #closed?: Promise<void>;

  constructor(sql: BunSqlPool) {
    this.#sql = sql;
    const canListen = typeof (sql as Partial<BunSqlListenPool>).listen === "function";
    this.capabilities = { concurrentTransactions: true, listen: canListen };
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#sql, text, params);
  }

  async begin(): Promise<Tx> {
    // Bun.SQL refuses BEGIN on the pool itself (ERR_POSTGRES_UNSAFE_TRANSACTION): the next
    // statement could land on another connection. A reserved connection is ours until release().
    const reserved = await this.#sql.reserve();
    try {
      await run(reserved, "BEGIN");
    } catch (err) {
      reserved.release();
      throw err;
    }
    return new ReservedTx(reserved);
  }

  /** Opens a LISTEN connection of its own; see {@linkcode ConnPool.listen}. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<ListenConnection> {
    // Bun.SQL reconnects its listening connection by itself and never reports the loss.
    return listenBunSql(this.#sql as unknown as BunSqlListenPool, channel, onNotify);
  }

  close(): Promise<void> {
    this.#closed ??= Promise.resolve(this.#sql.close()).then(() => {});
    return this.#closed;
  }
}

/**
 * Wraps a `Bun.SQL` pool for gue.
 *
 * The pool must have more connections (`max`, default 10) than the workers that use it: each
 * job holds one connection for as long as its handler runs.
 *
 * @param sql A pool made by `new Bun.SQL(url, options)` (or `new SQL(...)` from `"bun"`).
 * @returns The pool gue's `Client` takes.
 *
 * @example
 * ```ts ignore
 * import { SQL } from "bun";
 * import { bunSql } from "@gue/gue/adapters/bun_sql";
 *
 * const sql = new SQL(process.env.DATABASE_URL!);
 * const client = new Client(bunSql(sql));
 * await client.migrate();
 * // … enqueue jobs, run workers; once the workers have stopped, close the pool:
 * await sql.close();
 * ```
 */
export function bunSql(sql: BunSqlPool): ConnPool {
  return new BunSqlConnPool(sql);
}

/**
 * Wraps the application's own Bun.SQL transaction (the `tx` of `sql.begin(async (tx) => …)`, or
 * a reserved connection on which it sent `BEGIN`) so `enqueueTx` runs inside it.
 *
 * @param sql The native transaction or connection.
 * @returns A {@linkcode Tx} for `enqueueTx`; committing it is left to its owner.
 *
 * @example
 * ```ts ignore
 * import { SQL } from "bun";
 * import { Client } from "@gue/gue";
 * import { bunSql } from "@gue/gue/adapters/bun_sql";
 *
 * const sql = new SQL(process.env.DATABASE_URL!);
 * const client = new Client(bunSql(sql));
 * await sql.begin(async (tx) => {
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: 42 } }, bunSql.tx(tx));
 * });
 * ```
 */
bunSql.tx = function tx(sql: BunSqlQueryable): Tx {
  return new ForeignTx(foreign, sql);
};

/**
 * Returns the Bun.SQL handle behind a transaction this adapter made (for example `job.tx()`), so
 * application code can use tagged templates on it.
 *
 * @param tx A transaction from gue, made by this adapter.
 * @returns The native handle: a reserved connection inside `BEGIN`, or what was given to
 * `bunSql.tx`.
 * @throws {TypeError} For a transaction of another adapter.
 *
 * @example Write in the job's transaction
 * ```ts
 * import type { WorkMap } from "@gue/gue";
 * import { unwrapTx } from "@gue/gue/adapters/bun_sql";
 *
 * const workMap: WorkMap = {
 *   Audit: async (job) => {
 *     // Committed with the job's outcome.
 *     await unwrapTx(job.tx()).unsafe("insert into audit (job_id) values ($1)", [job.id]);
 *   },
 * };
 * ```
 */
export function unwrapTx(tx: Tx): BunSqlQueryable {
  return unwrapNative<BunSqlQueryable>(native, "bunSql", tx);
}
