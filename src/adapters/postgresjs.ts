// deno-lint-ignore-file no-explicit-any -- postgres.js handles are generic over the application's
// custom types; the adapter accepts any of them.
/**
 * Adapter for [postgres.js](https://github.com/porsager/postgres) (`npm:postgres` 3.x), the
 * default and fastest driver. Works on Deno, Bun and Node.
 *
 * @example Wrap a postgres.js pool
 * ```ts ignore
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(Deno.env.get("DATABASE_URL")!, { max: 10 });
 * const client = new Client(postgresjs(sql));
 * ```
 *
 * @example Enqueue inside your own `sql.begin(...)`
 * ```ts ignore
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ${sql(order)}`;
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, postgresjs.tx(tx));
 * });
 * ```
 *
 * @module
 */
import type { ReservedSql, Sql, TransactionSql } from "postgres";
import type { ConnPool, QueryResult, Tx } from "../adapter.ts";

/** A postgres.js handle that can run statements: a pool, a reserved connection or a transaction. */
type AnySql = Sql<any> | ReservedSql<any> | TransactionSql<any>;

const native = Symbol("gue.postgresjs.native");

interface PostgresjsTx extends Tx {
  readonly [native]: AnySql;
}

async function run<R>(sql: AnySql, text: string, params?: unknown[]): Promise<QueryResult<R>> {
  const result = await sql.unsafe(text, (params ?? []) as any[]);
  return { rows: result as unknown as R[], rowCount: result.count ?? result.length };
}

/** Our transaction: a reserved connection with BEGIN sent, released when it ends. */
class ReservedTx implements PostgresjsTx {
  readonly [native]: ReservedSql;
  #ended = false;

  constructor(reserved: ReservedSql) {
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
      await this[native].unsafe("COMMIT");
    } finally {
      this[native].release();
    }
  }

  async rollback(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      await this[native].unsafe("ROLLBACK");
    } catch {
      // The connection may be gone (terminated backend): the server rolled back already.
    } finally {
      this[native].release();
    }
  }
}

/** The application's own transaction, wrapped: it commits when the application's callback returns. */
class ForeignTx implements PostgresjsTx {
  readonly [native]: AnySql;

  constructor(sql: AnySql) {
    this[native] = sql;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this[native], text, params);
  }

  commit(): Promise<void> {
    return Promise.reject(
      new TypeError("postgresjs.tx(): this transaction belongs to sql.begin(); it commits there"),
    );
  }

  rollback(): Promise<void> {
    return Promise.reject(
      new TypeError("postgresjs.tx(): this transaction belongs to sql.begin(); throw to roll back"),
    );
  }
}

class PostgresjsPool implements ConnPool {
  readonly name = "postgresjs";
  readonly capabilities = { concurrentTransactions: true };
  readonly #sql: Sql;
  #closed?: Promise<void>;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#sql, text, params);
  }

  async begin(): Promise<Tx> {
    const reserved = await this.#sql.reserve();
    try {
      await reserved.unsafe("BEGIN");
    } catch (err) {
      reserved.release();
      throw err;
    }
    return new ReservedTx(reserved);
  }

  close(): Promise<void> {
    this.#closed ??= this.#sql.end();
    return this.#closed;
  }
}

/**
 * Wraps a postgres.js pool for gue.
 *
 * The pool must have more connections (`max`, default 10) than the workers that use it: each
 * job holds one connection for as long as its handler runs.
 *
 * @param sql A pool made by `postgres(url, options)`.
 * @returns The pool gue's {@linkcode Client} takes.
 */
export function postgresjs(sql: Sql): ConnPool {
  return new PostgresjsPool(sql);
}

/**
 * Wraps the application's own postgres.js transaction (the `tx` of `sql.begin(async (tx) => …)`,
 * or a reserved connection) so `enqueueTx` runs inside it.
 *
 * @param sql The native transaction or connection.
 * @returns A {@linkcode Tx} for `enqueueTx`; committing it is left to its owner.
 */
postgresjs.tx = function tx(sql: AnySql): Tx {
  return new ForeignTx(sql);
};

/**
 * Returns the postgres.js handle behind a transaction this adapter made (for example `job.tx()`),
 * so application code can use tagged templates on it.
 *
 * @param tx A transaction from gue.
 * @returns The native handle, or `undefined` for a transaction of another adapter.
 *
 * @example
 * ```ts ignore
 * const tx = unwrapTx(job.tx()!)!;
 * await tx`insert into audit ${sql({ job: job.id })}`;
 * ```
 */
export function unwrapTx(
  tx: Tx | null | undefined,
): ReservedSql<any> | TransactionSql<any> | undefined {
  if (tx && native in tx) return (tx as PostgresjsTx)[native] as ReservedSql;
  return undefined;
}
