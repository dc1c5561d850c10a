/**
 * Adapter for [node-postgres](https://node-postgres.com) (`npm:pg` 8.x). Works on Deno, Bun and
 * Node.
 *
 * node-postgres already returns what gue's value contract asks for: `bytea` as a `Buffer` (a
 * `Uint8Array`), `timestamptz` as a `Date`, `smallint`/`integer` as numbers, `NULL` as `null`;
 * `Date` parameters are sent with their UTC offset, so the instant survives any process time
 * zone. Server errors are pg's `DatabaseError`, whose `code` is the SQLSTATE.
 *
 * @example Wrap a node-postgres pool
 * ```ts
 * import pg from "pg";
 * import { Client } from "@gue/gue";
 * import { pg as pgAdapter } from "@gue/gue/adapters/pg";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
 * pool.on("error", (err) => console.error("idle connection failed", err));
 * const client = new Client(pgAdapter(pool));
 * ```
 *
 * @example Enqueue inside your own transaction
 * ```ts
 * import pg from "pg";
 * import { Client } from "@gue/gue";
 * import { pg as pgAdapter } from "@gue/gue/adapters/pg";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const client = new Client(pgAdapter(pool));
 * const order = { id: 42 };
 *
 * const conn = await pool.connect();
 * try {
 *   await conn.query("BEGIN");
 *   await conn.query("INSERT INTO orders (id) VALUES ($1)", [order.id]);
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, pgAdapter.tx(conn));
 *   await conn.query("COMMIT");
 * } catch (err) {
 *   await conn.query("ROLLBACK");
 *   throw err;
 * } finally {
 *   conn.release();
 * }
 * await pool.end();
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
import { listenPg, type PgListenPool } from "./_listen_pg.ts";
// Re-exported so this entry point documents the types its functions take and return.
export type {
  AdapterCapabilities,
  ConnPool,
  ListenConnection,
  PipelinedTx,
  Queryable,
  QueryResult,
  Tx,
} from "../adapter.ts";
import { commitRolledBack } from "./_commit_rolled_back.ts";
import { ForeignTx, type ForeignTxAdapter, unwrapNative } from "./_foreign_tx.ts";

// node-postgres is typed here by the few members gue uses, not imported: gue then depends on
// neither `pg` nor `@types/pg`, so a postgres.js user installs neither, and this entry point's
// documentation has no types it cannot show. node-postgres' own classes satisfy these shapes.

/** What a node-postgres statement resolves to: the members gue reads. */
export interface PgQueryResult {
  /** The rows, as objects keyed by column name. */
  rows: unknown[];
  /** Rows returned or affected; `null` for commands without a count (BEGIN, SET). */
  rowCount: number | null;
  /** The command tag's verb: `"SELECT"`, `"COMMIT"`, or `"ROLLBACK"` for a failed COMMIT. */
  command: string;
}

/** A node-postgres connection that runs statements: a `Client`, or a pool's `PoolClient`. */
export interface PgClient {
  /**
   * Runs one statement with positional parameters.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params Values bound to the placeholders.
   */
  query(text: string, params?: unknown[]): Promise<PgQueryResult>;
}

/** A connection checked out of a pool with `pool.connect()`. */
export interface PgPoolClient extends PgClient {
  /** Listens for the connection's failure (its backend died, the network broke). */
  on(event: "error", listener: (err: Error) => void): unknown;
  /** Stops listening. */
  off(event: "error", listener: (err: Error) => void): unknown;
  /** Returns the connection to the pool; given an error, destroys it instead. */
  release(err?: Error | boolean): void;
}

/** The members of a node-postgres `Pool` (`new pg.Pool(config)`) this adapter uses. */
export interface PgPool {
  /**
   * Runs one statement on any free connection.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params Values bound to the placeholders.
   */
  query(text: string, params?: unknown[]): Promise<PgQueryResult>;
  /** Checks a connection out of the pool, waiting for one to be free. */
  connect(): Promise<PgPoolClient>;
  /** Closes every connection of the pool. */
  end(): Promise<void>;
}

/** A node-postgres handle that runs statements on one connection. */
type PgConn = PgClient;

const native = Symbol("gue.pg.native");

interface PgTx extends Tx {
  readonly [native]: PgConn;
}

async function run<R>(
  db: PgPool | PgConn,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  const result = await db.query(text, params ?? []);
  // rowCount is null for statements without a count (BEGIN, SET); fall back to the rows seen.
  return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
}

/** What `pg.tx(conn)` wraps: a transaction the application began and ends itself. */
const foreign: ForeignTxAdapter<PgConn> = {
  name: "pg",
  native,
  owner: "application",
  run,
};

/** Our transaction: a client checked out of the pool with BEGIN sent, released when it ends. */
class PoolClientTx implements PgTx {
  readonly [native]: PgPoolClient;
  #ended = false;
  /** The connection failed while we held it: it must be destroyed, never reused. */
  #broken?: Error;
  readonly #onError = (err: Error) => {
    // A checked-out client with no 'error' listener crashes the process when its backend dies
    // (pg re-emits socket errors as an unhandled 'error' event). We keep the error and destroy
    // the client when the transaction ends instead.
    this.#broken = err;
  };

  constructor(client: PgPoolClient) {
    this[native] = client;
    client.on("error", this.#onError);
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#ended) return Promise.reject(new Error("transaction already ended"));
    return run<R>(this[native], text, params);
  }

  async commit(): Promise<void> {
    if (this.#ended) throw new Error("transaction already ended");
    this.#ended = true;
    try {
      const result = await this[native].query("COMMIT");
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK, and no error.
      if (result.command === "ROLLBACK") throw commitRolledBack();
    } catch (err) {
      // A COMMIT that failed on a deferred constraint leaves a healthy connection, but we cannot
      // always tell that from a broken socket; a new connection is cheap, a poisoned one is not.
      this.#broken ??= err as Error;
      throw err;
    } finally {
      this.#release();
    }
  }

  async rollback(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this[native].query("ROLLBACK");
    } catch (err) {
      // The connection is gone (terminated backend, network): the server rolled back already.
      this.#broken ??= err as Error;
    } finally {
      this.#release();
    }
  }

  #release(): void {
    const client = this[native];
    client.off("error", this.#onError);
    // release(err) destroys the client instead of returning it to the pool.
    client.release(this.#broken);
  }
}

class PgConnPool implements ConnPool {
  readonly name = "pg";
  readonly capabilities: AdapterCapabilities;
  readonly #pool: PgPool;
  #closed?: Promise<void>;

  constructor(pool: PgPool) {
    this.#pool = pool;
    // LISTEN needs a client made like the pool's own (pg.Pool keeps its class in `Client`).
    const canListen = typeof (pool as unknown as PgListenPool).Client === "function";
    this.capabilities = { concurrentTransactions: true, listen: canListen };
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#pool, text, params);
  }

  async begin(): Promise<Tx> {
    const client = await this.#pool.connect();
    const tx = new PoolClientTx(client);
    try {
      await client.query("BEGIN");
    } catch (err) {
      await tx.rollback();
      throw err;
    }
    return tx;
  }

  /** Opens a LISTEN connection of its own; see {@linkcode ConnPool.listen}. */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onEnd: (err: unknown) => void,
  ): Promise<ListenConnection> {
    return listenPg(this.#pool as unknown as PgListenPool, channel, onNotify, onEnd);
  }

  close(): Promise<void> {
    // pg rejects a second end() ("Called end on pool more than once"); ours is idempotent.
    this.#closed ??= this.#pool.end();
    return this.#closed;
  }
}

/**
 * Wraps a node-postgres pool for gue.
 *
 * The pool must have more connections (`max`, default 10) than the workers that use it: each
 * job holds one connection for as long as its handler runs.
 *
 * @param pool A pool made by `new pg.Pool(config)`.
 * @returns The pool gue's `Client` takes.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { Client } from "@gue/gue";
 * import { pg as pgAdapter } from "@gue/gue/adapters/pg";
 *
 * const client = new Client(pgAdapter(new pg.Pool({ connectionString: process.env.DATABASE_URL })));
 * ```
 */
export function pg(pool: PgPool): ConnPool {
  return new PgConnPool(pool);
}

/**
 * Wraps the application's own node-postgres transaction: a `PoolClient` (or `Client`) on which
 * the application has sent `BEGIN`, so `enqueueTx` runs inside it.
 *
 * @param conn The connection holding the open transaction.
 * @returns A {@linkcode Tx} for `enqueueTx`; its `commit`/`rollback` reject, since the
 * application ends its own transaction.
 *
 * @example
 * ```ts
 * import pg from "pg";
 * import { Client } from "@gue/gue";
 * import { pg as pgAdapter } from "@gue/gue/adapters/pg";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const client = new Client(pgAdapter(pool));
 * const conn = await pool.connect();
 * await conn.query("BEGIN");
 * await client.enqueueTx({ type: "SendReceipt", args: { id: 7 } }, pgAdapter.tx(conn));
 * await conn.query("COMMIT");
 * conn.release();
 * await pool.end();
 * ```
 */
pg.tx = function tx(conn: PgClient): Tx {
  return new ForeignTx(foreign, conn);
};

/**
 * Returns the node-postgres connection behind a transaction this adapter made (for example
 * `job.tx()`), so application code can run its own statements in the job's transaction.
 *
 * @param tx A transaction from gue, made by this adapter.
 * @returns The `PoolClient` (or the `Client` given to `pg.tx`).
 * @throws {TypeError} For a transaction of another adapter.
 *
 * @example Write in the job's transaction
 * ```ts
 * import pg from "pg";
 * import { Client, Worker } from "@gue/gue";
 * import { pg as pgAdapter, unwrapTx } from "@gue/gue/adapters/pg";
 *
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const worker = new Worker(new Client(pgAdapter(pool)), {
 *   Audit: async (job) => {
 *     const conn = unwrapTx(job.tx());
 *     await conn.query("INSERT INTO audit (job) VALUES ($1)", [job.id]);
 *   },
 * });
 * await worker.workOne();
 * await pool.end();
 * ```
 */
export function unwrapTx(tx: Tx): PgPoolClient | PgClient {
  return unwrapNative<PgConn>(native, "pg", tx);
}
