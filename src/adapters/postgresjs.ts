// deno-lint-ignore-file no-explicit-any -- postgres.js handles are generic over the application's
// custom types; the adapter accepts any of them.
/**
 * Adapter for [postgres.js](https://github.com/porsager/postgres) (`npm:postgres` 3.x), the
 * default and fastest driver. Works on Deno, Bun and Node.
 *
 * @example Wrap a postgres.js pool
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(process.env.DATABASE_URL!, { max: 10 });
 * const client = new Client(postgresjs(sql));
 * await client.migrate();
 * // … enqueue jobs, run workers; once the workers have stopped, close the pool:
 * await sql.end();
 * ```
 *
 * @example Enqueue inside your own `sql.begin(...)`
 * ```ts
 * import postgres from "postgres";
 * import { Client } from "@gue/gue";
 * import { postgresjs } from "@gue/gue/adapters/postgresjs";
 *
 * const sql = postgres(process.env.DATABASE_URL!);
 * const client = new Client(postgresjs(sql));
 * const order = { id: 42, total: 9.99 };
 * // The order and its receipt job are committed together, or neither is.
 * await sql.begin(async (tx) => {
 *   await tx`insert into orders ${sql(order)}`;
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, postgresjs.tx(tx));
 * });
 * await sql.end();
 * ```
 *
 * @module
 */
import type { ReservedSql, Sql, TransactionSql } from "postgres";
import type { ConnPool, ListenConnection, PipelinedTx, QueryResult, Tx } from "../adapter.ts";
import { listenPostgresjs } from "./_listen_postgresjs.ts";
import { openPipelined } from "./_postgresjs_pipelined_tx.ts";
import { BeginError, beginThenRun, runThenCommit } from "../pipelining.ts";
import { guardNextWriteCrash, warnDropped } from "./_postgresjs_guard.ts";
// Re-exported so this entry point documents the types its functions take and return.
export type {
  AdapterCapabilities,
  ConnPool,
  ListenConnection,
  Queryable,
  QueryResult,
  Tx,
} from "../adapter.ts";
import { ForeignTx, type ForeignTxAdapter, unwrapNative } from "./_foreign_tx.ts";

/** A postgres.js handle that can run statements: a pool, a reserved connection or a transaction. */
type AnySql = Sql<any> | ReservedSql<any> | TransactionSql<any>;

const native = Symbol("gue.postgresjs.native");

interface PostgresjsTx extends Tx {
  readonly [native]: AnySql;
}

async function run<R>(sql: AnySql, text: string, params?: unknown[]): Promise<QueryResult<R>> {
  // Named prepared statements save a round trip per statement (the lock SELECT, DELETE and
  // INSERT repeat with the same text); the pool's own `prepare: false` (PgBouncer in transaction
  // mode) turns them off here too.
  const result = await sql.unsafe(text, (params ?? []) as any[], {
    prepare: (sql as { options?: { prepare?: boolean } }).options?.prepare ?? true,
  });
  return { rows: result as unknown as R[], rowCount: result.count ?? result.length };
}

/** What `postgresjs.tx(sql)` wraps: a transaction that `sql.begin()` (or the application) ends. */
const foreign: ForeignTxAdapter<AnySql> = {
  name: "postgresjs",
  native,
  owner: { callback: "sql.begin()" },
  run,
};

const ROLLBACK = Symbol("gue.postgresjs.rollback");

/**
 * Our transaction: an `sql.begin()` whose callback stays open until `commit()` or `rollback()`.
 * Not `sql.reserve()` + BEGIN: postgres.js 3.4 never settles queries on a reserved connection the
 * server closed (porsager/postgres#1208), while `sql.begin()` rejects as soon as its connection
 * dies, so a terminated backend fails the job's transaction instead of hanging the worker.
 */
class BeginTx implements PostgresjsTx {
  readonly [native]: TransactionSql;
  #state: "open" | "ending" | "ended" = "open";
  #dead: unknown;
  readonly #finish: (outcome: "commit" | typeof ROLLBACK) => void;
  readonly #done: Promise<unknown>;
  /** Rejects when the transaction ends other than by commit; never resolves. */
  readonly #death: Promise<never>;

  constructor(
    sql: TransactionSql,
    finish: (outcome: "commit" | typeof ROLLBACK) => void,
    done: Promise<unknown>,
  ) {
    this[native] = sql;
    this.#finish = finish;
    this.#done = done;
    this.#death = done.then(
      () => new Promise<never>(() => {}),
      (err) => Promise.reject(err === ROLLBACK ? new Error("transaction already ended") : err),
    );
    this.#death.catch(() => {}); // Seen by the queries that race it, if any.
  }

  /** Called once postgres.js has ended the transaction; an error other than ours means it died. */
  ended(err?: unknown): void {
    this.#state = "ended";
    if (err !== undefined && err !== ROLLBACK) this.#dead = err;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#dead !== undefined) return Promise.reject(this.#dead);
    if (this.#state !== "open") return Promise.reject(new Error("transaction already ended"));
    // postgres.js 3.4 can leave a statement of a dead connection unsettled for good
    // (porsager/postgres#1208), while `sql.begin()` rejects when the connection closes: the
    // statement fails with the transaction's death instead of hanging its caller.
    return Promise.race([run<R>(this[native], text, params), this.#death]);
  }

  async commit(): Promise<void> {
    if (this.#dead !== undefined) throw this.#dead;
    if (this.#state !== "open") throw new Error("transaction already ended");
    this.#state = "ending";
    this.#finish("commit");
    await this.#done;
  }

  async rollback(): Promise<void> {
    if (this.#state !== "open" || this.#dead !== undefined) return;
    this.#state = "ending";
    this.#finish(ROLLBACK);
    // A failure here means the connection is gone: the server rolled back already.
    await this.#done.catch(() => {});
  }
}

class PostgresjsPool implements ConnPool {
  readonly name = "postgresjs";
  readonly capabilities = { concurrentTransactions: true, listen: true, pipelining: true };
  readonly #sql: Sql;
  #closed?: Promise<void>;
  /** False once this postgres.js turned out unable to watch a reserved connection. */
  #pipelines = true;

  constructor(sql: Sql) {
    this.#sql = sql;
  }

  /**
   * A job's transaction, BEGIN and lock in one round trip, and its last statement with its
   * COMMIT (see `_postgresjs_pipelined_tx.ts`); `begin()` stays a plain `sql.begin()`.
   */
  async beginWith<R>(
    text: string,
    params?: unknown[],
  ): Promise<{ tx: PipelinedTx; result: QueryResult<R> }> {
    // postgres.js's reserve() ignores an ended pool: it would open a connection again.
    if (this.#closed) throw new BeginError(new Error("the pool is closed (close() was called)"));
    if (this.#pipelines) {
      const prepare = (this.#sql as { options?: { prepare?: boolean } }).options?.prepare ?? true;
      const opened = await openPipelined<R>(this.#sql, prepare, native, text, params);
      if (opened !== undefined) return opened;
      this.#pipelines = false;
    }
    const { tx, result } = await beginThenRun<R>(this, text, params);
    const commitWith = <T>(last: string, lastParams?: unknown[]) =>
      runThenCommit<T>(tx, last, lastParams);
    return { tx: Object.assign(tx, { commitWith }), result };
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    return run<R>(this.#sql, text, params);
  }

  begin(): Promise<Tx> {
    return new Promise<Tx>((resolveTx, rejectTx) => {
      let tx: BeginTx | undefined;
      const done: Promise<unknown> = this.#sql.begin((sql) =>
        new Promise<void>((resolve, reject) => {
          tx = new BeginTx(
            sql,
            (outcome) => outcome === "commit" ? resolve() : reject(outcome),
            done,
          );
          resolveTx(tx);
        })
      );
      done.then(() => tx?.ended(), (err) => (tx ? tx.ended(err) : rejectTx(err)));
    });
  }

  /** Opens a LISTEN connection of its own; see {@linkcode ConnPool.listen}. */
  listen(
    channel: string,
    onNotify: (payload: string) => void,
    onEnd: (err: unknown) => void,
  ): Promise<ListenConnection> {
    return listenPostgresjs(this.#sql, channel, onNotify, onEnd);
  }

  close(): Promise<void> {
    // Bounded: after a backend was terminated, postgres.js 3.4 can wait forever for a connection
    // that will never answer (porsager/postgres#1199); past 5 s the connections are destroyed.
    this.#closed ??= this.#sql.end({ timeout: 5 });
    return this.#closed;
  }
}

/**
 * Wraps a postgres.js pool for gue.
 *
 * The pool must have more connections (`max`, default 10) than the workers that use it: each
 * job holds one connection for as long as its handler runs.
 *
 * The first call installs a process-wide `uncaughtException`/`unhandledRejection` guard that
 * drops the errors postgres.js 3.4 throws outside any promise when a connection dies
 * (porsager/postgres#1208), logging them on stderr at most once per 30 s, and leaves every
 * other error as the runtime (or the application's own listeners) would.
 *
 * @param sql A pool made by `postgres(url, options)`.
 * @returns The pool gue's {@linkcode Client} takes.
 */
export function postgresjs(sql: Sql): ConnPool {
  // postgres.js 3.4 can throw outside any promise when a connection dies (porsager/postgres#1208);
  // see _postgresjs_guard.ts. Once per process; an application's own listeners keep the say.
  guardNextWriteCrash(warnDropped);
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
  return new ForeignTx(foreign, sql);
};

/**
 * Returns the postgres.js handle behind a transaction this adapter made (for example `job.tx()`),
 * so application code can use tagged templates on it.
 *
 * @param tx A transaction from gue, made by this adapter.
 * @returns The native handle: a reserved connection inside `BEGIN`, or what was given to
 * `postgresjs.tx`.
 * @throws {TypeError} For a transaction of another adapter.
 *
 * @example Write in the job's transaction with tagged templates
 * ```ts
 * import type { WorkMap } from "@gue/gue";
 * import { unwrapTx } from "@gue/gue/adapters/postgresjs";
 *
 * const workMap: WorkMap = {
 *   Audit: async (job) => {
 *     const sql = unwrapTx(job.tx());
 *     // Committed with the job's outcome.
 *     await sql`insert into audit ${sql({ job_id: job.id, msg: job.json<{ msg: string }>().msg })}`;
 *   },
 * };
 * ```
 */
export function unwrapTx(tx: Tx): ReservedSql<any> | TransactionSql<any> {
  return unwrapNative<ReservedSql<any> | TransactionSql<any>>(native, "postgresjs", tx);
}
