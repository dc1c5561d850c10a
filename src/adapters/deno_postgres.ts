/**
 * Adapter for [deno-postgres](https://github.com/denodrivers/postgres) (`jsr:@db/postgres`
 * 0.19). Deno only.
 *
 * The driver is typed here by the few members gue uses ({@linkcode DenoPostgresPool}), not
 * imported, so gue does not depend on it and this file type-checks everywhere.
 *
 * What deno-postgres returns, and what this adapter changes to meet gue's value contract:
 * - `bytea` is a `Uint8Array`, `timestamptz` a `Date`, `smallint`/`integer` numbers, `NULL`
 *   `null`: kept as they are. Parameters are bound with `queryObject({ text, args })`.
 * - a server error is a `PostgresError` whose SQLSTATE is in `fields.code`; inside a
 *   transaction the driver wraps it in a `TransactionError` (message "The transaction … has been
 *   aborted", the `PostgresError` as `cause`). The adapter rejects with the `PostgresError`
 *   itself, with `code`, `detail`, `constraint`, `schema`, `table` and `column` copied from
 *   `fields` to the error, where gue (like pg and postgres.js) reads them.
 * - after a failed statement the driver has already ended the transaction on the server
 *   (it sends COMMIT, which PostgreSQL answers with ROLLBACK); further statements on it reject,
 *   our `rollback()` only returns the connection and our `commit()` rejects.
 *
 * What it does about deno-postgres 0.19's own problems:
 * - a connection the server ended (`pg_terminate_backend`, a restart) stays "connected" in the
 *   driver and fails every statement with `BrokenPipe`: the adapter makes the pool reconnect
 *   that client before its next use;
 * - the driver's `Pool.connect()` reopens an ended pool: after `close()` every `query()` and
 *   `begin()` rejects;
 * - a failed connect loses its pool slot in the driver: the adapter counts lost slots, makes
 *   callers wait for a slot that exists, and reopens the driver's pool once every slot is lost.
 *
 * It cannot shorten the driver's ~45 ms per parameterised statement over TCP (separate writes,
 * no `TCP_NODELAY`); over a Unix socket a statement takes about 1 ms, so connect through the
 * socket (`{ host_type: "socket", hostname: "/var/run/postgresql" }`) when you can.
 *
 * @example Wrap a deno-postgres pool
 * ```ts ignore
 * import { Pool } from "jsr:@db/postgres@^0.19";
 * import { Client } from "@gue/gue";
 * import { denoPostgres } from "@gue/gue/adapters/deno_postgres";
 *
 * const pool = new Pool(Deno.env.get("DATABASE_URL"), 10, true);
 * const client = new Client(denoPostgres(pool));
 * ```
 *
 * @example Enqueue inside your own transaction
 * ```ts ignore
 * const conn = await pool.connect();
 * try {
 *   const t = conn.createTransaction("order");
 *   await t.begin();
 *   await t.queryObject`insert into orders (id) values (${order.id})`;
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, denoPostgres.tx(t));
 *   await t.commit();
 * } finally {
 *   conn.release();
 * }
 * ```
 *
 * @module
 */
import type { ConnPool, QueryResult, Tx } from "../adapter.ts";
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
import { ForeignTx, type ForeignTxAdapter, unwrapNative } from "./_foreign_tx.ts";

/** What `queryObject` resolves to. */
export interface DenoPostgresResult<R> {
  /** The rows, as objects keyed by column name. */
  rows: R[];
  /** The count of the command tag; absent for commands without one. */
  rowCount?: number;
}

/** A deno-postgres handle that runs statements: a pool client or a transaction. */
export interface DenoPostgresQueryable {
  /**
   * Runs one statement with positional parameters.
   *
   * @param query The SQL text with `$1`, `$2`, … and the values bound to them.
   */
  queryObject<R>(query: { text: string; args?: unknown[] }): Promise<DenoPostgresResult<R>>;
}

/** A transaction made by `client.createTransaction(name)`. */
export interface DenoPostgresTransaction extends DenoPostgresQueryable {
  /** Sends BEGIN. */
  begin(): Promise<void>;
  /** Sends COMMIT. */
  commit(): Promise<void>;
  /** Sends ROLLBACK. */
  rollback(): Promise<void>;
}

/** A connection taken from the pool with `pool.connect()`. */
export interface DenoPostgresPoolClient extends DenoPostgresQueryable {
  /** True while the driver holds an open connection; the pool reconnects a client when false. */
  readonly connected: boolean;
  /** Opens the connection when `connected` is false; the pool calls it on checkout. */
  connect(): Promise<void>;
  /** Makes a transaction on this connection; `begin()` starts it. */
  createTransaction(name: string): DenoPostgresTransaction;
  /** Returns the connection to the pool. */
  release(): void;
  /** Closes the connection. */
  end(): Promise<void>;
}

/** The members of a deno-postgres `Pool` (`new Pool(url, size, lazy)`) this adapter uses. */
export interface DenoPostgresPool {
  /** How many connections the pool holds (0 until it has initialised). */
  readonly size: number;
  /** Takes a connection from the pool, waiting for one to be free. */
  connect(): Promise<DenoPostgresPoolClient>;
  /** Closes the pool's idle connections; the next `connect()` opens the pool again. */
  end(): Promise<void>;
}

const native = Symbol("gue.denoPostgres.native");

interface DenoPostgresTx extends Tx {
  readonly [native]: DenoPostgresTransaction;
}

interface PostgresErrorLike extends Error {
  fields: Record<string, unknown>;
}

function isPostgresError(err: unknown): err is PostgresErrorLike {
  return err instanceof Error && typeof (err as Partial<PostgresErrorLike>).fields === "object" &&
    typeof (err as PostgresErrorLike).fields?.code === "string";
}

/**
 * True when `err` (from the driver) means the connection itself is gone: anything that is not a
 * server error (`BrokenPipe`, `ConnectionReset`, the driver's `ConnectionError`), or a server
 * error that ends the session (severity FATAL or PANIC, as after `pg_terminate_backend`).
 */
function connectionLost(err: unknown): boolean {
  const pgErr = isPostgresError(err)
    ? err
    : err instanceof Error && isPostgresError(err.cause)
    ? err.cause
    : undefined;
  if (!pgErr) return true;
  const severity = pgErr.fields.severity;
  return severity === "FATAL" || severity === "PANIC";
}

/**
 * Makes the pool open a new connection for `client` the next time it hands it out.
 *
 * deno-postgres 0.19 never replaces a `PoolClient`: its pool keeps the same client objects and
 * reconnects one only when its `connected` reads false. After the server ended a connection
 * (`pg_terminate_backend`, a restart) `connected` stays true and every statement and `end()`
 * throws `BrokenPipe` (denodrivers/postgres#436), so a client given back as it is would fail
 * every later checkout. Shadowing `connected` with false until the pool's `connect()` has run
 * makes the driver's own reconnect (which first closes the dead socket) open a fresh session.
 */
function reconnectOnNextUse(client: DenoPostgresPoolClient): void {
  const own = client as unknown as Record<string, unknown>;
  const connect = client.connect;
  Object.defineProperty(own, "connected", { configurable: true, get: () => false });
  Object.defineProperty(own, "connect", {
    configurable: true,
    writable: true,
    value: async function reconnect(): Promise<void> {
      try {
        await connect.call(client);
      } finally {
        delete own.connected;
        delete own.connect;
      }
    },
  });
}

/** The server's error, unwrapped from a TransactionError, with its fields where gue reads them. */
function normalise(err: unknown): unknown {
  const pgErr = isPostgresError(err)
    ? err
    : err instanceof Error && isPostgresError(err.cause)
    ? err.cause
    : undefined;
  if (!pgErr) return err;
  const target = pgErr as PostgresErrorLike & Record<string, unknown>;
  for (const key of ["code", "detail", "hint", "constraint", "schema", "table", "column"]) {
    if (target[key] === undefined && pgErr.fields[key] !== undefined) {
      target[key] = pgErr.fields[key];
    }
  }
  return pgErr;
}

async function run<R>(
  db: DenoPostgresQueryable,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  let result: DenoPostgresResult<R>;
  try {
    result = await db.queryObject<R>({ text, args: params ?? [] });
  } catch (err) {
    throw normalise(err);
  }
  return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
}

/** What `denoPostgres.tx(tx)` wraps: a transaction the application began and ends itself. */
const foreign: ForeignTxAdapter<DenoPostgresTransaction> = {
  name: "denoPostgres",
  native,
  owner: "application",
  run,
};

let txNames = 0;

/** Gives a client back: to the pool, or closed when the pool is; `lost` when its connection died. */
type GiveBack = (client: DenoPostgresPoolClient, lost: boolean) => Promise<void>;

/** Our transaction: a pool client running a driver transaction, released when it ends. */
class ClientTx implements DenoPostgresTx {
  readonly [native]: DenoPostgresTransaction;
  readonly #client: DenoPostgresPoolClient;
  readonly #giveBack: GiveBack;
  #ended = false;
  /** A statement failed: the driver already ended the transaction on the server. */
  #aborted?: unknown;
  /** The connection died while we held it: it must not go back into the pool as it is. */
  #lost = false;

  constructor(client: DenoPostgresPoolClient, tx: DenoPostgresTransaction, giveBack: GiveBack) {
    this.#client = client;
    this[native] = tx;
    this.#giveBack = giveBack;
  }

  async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#ended) throw new Error("transaction already ended");
    if (this.#aborted) {
      throw Object.assign(
        new Error(
          "current transaction is aborted, commands ignored until end of transaction block",
          {
            cause: this.#aborted,
          },
        ),
        { code: "25P02" },
      );
    }
    try {
      return await run<R>(this[native], text, params);
    } catch (err) {
      if (isPostgresError(err)) this.#aborted = err;
      if (connectionLost(err)) this.#lost = true;
      throw err;
    }
  }

  async commit(): Promise<void> {
    if (this.#ended) throw new Error("transaction already ended");
    this.#ended = true;
    try {
      if (this.#aborted) {
        throw new Error("transaction was rolled back: a statement in it failed", {
          cause: this.#aborted,
        });
      }
      await this[native].commit();
    } catch (err) {
      if (!this.#aborted && connectionLost(err)) this.#lost = true;
      throw normalise(err);
    } finally {
      await this.#giveBack(this.#client, this.#lost);
    }
  }

  async rollback(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    try {
      if (!this.#aborted) await this[native].rollback();
    } catch {
      // The connection is gone (terminated backend): the server rolled back already.
      this.#lost = true;
    } finally {
      await this.#giveBack(this.#client, this.#lost);
    }
  }
}

/**
 * The adapter's pool. Besides refusing work after `close()`, it keeps count of the driver's pool
 * slots, because deno-postgres 0.19 loses one for good whenever a connect fails (it takes the
 * client off its stack before connecting and never puts it back): a pool opened while the server
 * refused connections would otherwise shrink to nothing and then wait forever.
 *
 * So no more callers than the driver has slots left ever enter its `connect()` (the rest wait
 * here, where a lost slot cannot strand them), failed connects are counted, and once every slot
 * is lost the driver's pool is ended and opened afresh with all of them (its `connect()`
 * re-creates an ended pool). Only then: the driver's `end()` connects each idle connection before
 * closing it, which with none left idle costs nothing, and with the server down would fail. Until
 * every slot is lost, the pool works with the slots it has left.
 */
class DenoPostgresConnPool implements ConnPool {
  readonly name = "denoPostgres";
  // No LISTEN: deno-postgres cannot receive notifications (denodrivers/postgres#39).
  readonly capabilities = { concurrentTransactions: true, listen: false };
  readonly #pool: DenoPostgresPool;
  #closed?: Promise<void>;
  /** The driver's pool size, once it has initialised. */
  #size?: number;
  /** Slots taken: connects in flight and clients checked out. */
  #inUse = 0;
  /** Slots the driver lost to failed connects since it was last opened. */
  #lost = 0;
  /** Callers waiting for a slot. */
  #waiting: Array<() => void> = [];
  /** Set while the driver's pool is reopened, until the first connect after it settles. */
  #reopening?: Promise<void>;
  /** We ended the driver's pool to reopen it and no connect() has opened it yet. */
  #driverEnded = false;

  constructor(pool: DenoPostgresPool) {
    this.#pool = pool;
  }

  async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    const client = await this.#connect();
    let lost = false;
    try {
      return await run<R>(client, text, params);
    } catch (err) {
      lost = connectionLost(err);
      throw err;
    } finally {
      await this.#giveBack(client, lost);
    }
  }

  async begin(): Promise<Tx> {
    const client = await this.#connect();
    // Names only label the driver's messages; one connection runs one transaction at a time.
    const tx = client.createTransaction(`gue_${++txNames}`);
    try {
      await tx.begin();
    } catch (err) {
      await this.#giveBack(client, connectionLost(err));
      throw normalise(err);
    }
    return new ClientTx(client, tx, this.#giveBack);
  }

  async #connect(): Promise<DenoPostgresPoolClient> {
    await this.#takeSlot();
    let settled!: () => void;
    if (this.#driverEnded) {
      // The first connect() after a reopen re-creates the driver's pool; a second one in
      // the meantime would create it twice, so the others wait for this one (#takeSlot).
      this.#driverEnded = false;
      this.#reopening = new Promise<void>((resolve) => settled = resolve);
    }
    let client: DenoPostgresPoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      this.#inUse--;
      this.#lost++;
      this.#wake();
      throw normalise(err);
    } finally {
      if (settled) {
        this.#reopening = undefined;
        settled();
      }
    }
    this.#size ||= this.#pool.size || undefined;
    if (this.#closed) {
      await this.#giveBack(client, false);
      throw closedError();
    }
    return client;
  }

  /** Waits until a slot of the driver's pool is free and takes it. */
  async #takeSlot(): Promise<void> {
    for (;;) {
      // The driver's connect() reopens an ended pool, so a closed pool must refuse work itself.
      if (this.#closed) throw closedError();
      if (this.#reopening) {
        await this.#reopening;
        continue;
      }
      this.#size ||= this.#pool.size || undefined;
      if (this.#size !== undefined && this.#lost >= this.#size) {
        await this.#reopen();
        continue;
      }
      // Before the driver has initialised its size is unknown; its own queue serves meanwhile.
      if (this.#size === undefined || this.#inUse + this.#lost < this.#size) {
        this.#inUse++;
        return;
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    }
  }

  /** Ends the driver's pool, which has lost every slot, so that it reopens whole. */
  async #reopen(): Promise<void> {
    let done!: () => void;
    this.#reopening = new Promise<void>((resolve) => done = resolve);
    try {
      await this.#pool.end();
      this.#driverEnded = true;
    } catch {
      // The pool never initialised (made with lazy = false, and its first connects failed):
      // there is nothing to reopen, and its connect() keeps reporting the error.
    } finally {
      this.#lost = 0;
      this.#reopening = undefined;
      done();
    }
  }

  /** Lets the next waiting caller look for a slot again. */
  #wake(): void {
    this.#waiting.shift()?.();
  }

  readonly #giveBack: GiveBack = async (client, lost) => {
    this.#inUse--;
    this.#wake();
    if (this.#closed) {
      // The driver's end() closed only the idle connections, and its release() would now push
      // onto a pool that no longer exists: close this one here.
      await client.end().catch(() => {});
      return;
    }
    if (lost) reconnectOnNextUse(client);
    client.release();
  };

  close(): Promise<void> {
    this.#closed ??= (async () => {
      for (const wake of this.#waiting.splice(0)) wake();
      await this.#reopening;
      // deno-postgres throws on a second end(); ours is idempotent.
      if (!this.#driverEnded) await this.#pool.end();
    })();
    return this.#closed;
  }
}

function closedError(): Error {
  return new Error("denoPostgres: the pool is closed; no statement runs after close()");
}

/**
 * Wraps a deno-postgres pool for gue.
 *
 * The pool must have more connections (its `size`) than the workers that use it: each job holds
 * one connection for as long as its handler runs.
 *
 * @param pool A pool made by `new Pool(url, size, lazy)` from `jsr:@db/postgres`.
 * @returns The pool gue's `Client` takes.
 *
 * @example
 * ```ts ignore
 * import { Pool } from "jsr:@db/postgres@^0.19";
 * import { denoPostgres } from "@gue/gue/adapters/deno_postgres";
 *
 * const client = new Client(denoPostgres(new Pool(Deno.env.get("DATABASE_URL"), 10, true)));
 * ```
 */
export function denoPostgres(pool: DenoPostgresPool): ConnPool {
  return new DenoPostgresConnPool(pool);
}

/**
 * Wraps the application's own deno-postgres transaction (made by
 * `client.createTransaction(name)` and begun) so `enqueueTx` runs inside it.
 *
 * @param tx The native transaction.
 * @returns A {@linkcode Tx} for `enqueueTx`; committing it is left to the application.
 *
 * @example
 * ```ts ignore
 * const t = conn.createTransaction("order");
 * await t.begin();
 * await client.enqueueTx({ type: "SendReceipt", args: { id } }, denoPostgres.tx(t));
 * await t.commit();
 * ```
 */
denoPostgres.tx = function tx(tx: DenoPostgresTransaction): Tx {
  return new ForeignTx(foreign, tx);
};

/**
 * Returns the deno-postgres transaction behind a transaction this adapter made (for example
 * `job.tx()`), so application code can use tagged templates on it.
 *
 * @param tx A transaction from gue, made by this adapter.
 * @returns The native `Transaction`.
 * @throws {TypeError} For a transaction of another adapter.
 *
 * @example Write in the job's transaction
 * ```ts ignore
 * import { unwrapTx } from "@gue/gue/adapters/deno_postgres";
 *
 * const t = unwrapTx(job.tx());
 * await t.queryObject({ text: "insert into audit (job) values ($1)", args: [job.id] });
 * ```
 */
export function unwrapTx(tx: Tx): DenoPostgresTransaction {
  return unwrapNative<DenoPostgresTransaction>(native, "denoPostgres", tx);
}
