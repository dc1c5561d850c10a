/**
 * Adapter for [PGlite](https://pglite.dev) (`npm:@electric-sql/pglite` 0.5.x): PostgreSQL
 * compiled to WASM, running inside your process with no server. Works on Deno, Bun and Node.
 *
 * **What it is for:** unit tests of job handlers and of code that enqueues jobs, in CI or on a
 * laptop without a PostgreSQL server. gue's SQL, migrations and `FOR UPDATE` locking run
 * unchanged on it, and each test can own a fresh in-memory database that starts in about two
 * seconds.
 *
 * **What it is not for:** production, or anything that needs several workers at once. PGlite is
 * one PostgreSQL backend with one session, so it runs one transaction at a time. A worker holds
 * its job's transaction open while the handler runs; during that time nothing else can run on
 * the database. This adapter therefore states `capabilities.concurrentTransactions = false` and
 * serialises all access itself:
 *
 * - `begin()` and pool queries wait in one first-come, first-served queue until the open
 *   transaction ends, so several callers (a worker and the test enqueueing jobs, or a pool of
 *   workers) take turns instead of corrupting each other's transaction.
 * - A wait is bounded by `waitTimeout` (default 2000 ms). The common way to wait forever is a
 *   job handler that uses the pool (`client.enqueue(...)`, a query on the pool) while its own
 *   job's transaction is open: the pool waits for that transaction, which waits for the handler.
 *   The wait then fails with an `Error` (`code` `"55P03"`, lock_not_available) whose message says
 *   to use `job.tx()` (and `enqueueTx`) inside handlers. JavaScript cannot tell which caller a
 *   query comes from, so a timeout is the only detection that does not guess; it also catches
 *   a handler that opens a second transaction (`client.lockJob()` inside a job).
 * - Tests that need two transactions at once (a job locked by one worker and skipped by
 *   another) cannot run on PGlite; the core's tests skip them by reading the capability.
 * - With a `WorkerPool` of more than one worker, workers take turns: each poll waits for the
 *   running job to finish, and fails after `waitTimeout` if it takes longer (the worker logs it
 *   and polls again). Use one worker.
 * - `close()` rolls back a transaction still open (say, of a handler in a test that failed
 *   mid-job) instead of waiting for it, since PGlite cannot close while one is open.
 * - Code that uses the PGlite instance directly, bypassing this adapter, is queued by PGlite's
 *   own lock without a timeout. Inside your own `db.transaction(...)` callback, use
 *   `pglite.tx(tx)` for `enqueueTx`: `client.enqueue()` there would wait forever.
 *
 * @example A handler unit test with no server
 * ```ts
 * import assert from "node:assert/strict";
 * import { PGlite } from "@electric-sql/pglite";
 * import { Client, Worker } from "@gue/gue";
 * import { pglite } from "@gue/gue/adapters/pglite";
 *
 * const db = new PGlite();
 * const client = new Client(pglite(db));
 * await client.migrate();
 * await client.enqueue({ type: "SendReceipt", args: { id: 1 } });
 * const worker = new Worker(client, {
 *   SendReceipt: (job) => console.log("receipt for order", job.json<{ id: number }>().id),
 * });
 * assert.equal(await worker.workOne(), true);
 * await db.close();
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
import { listenPglite, type PgliteListenDb } from "./_listen_pglite.ts";
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

// PGlite is typed here by the few members gue uses, not imported: gue then does not depend on
// `@electric-sql/pglite` (a 27 MB install), so only its users install it, and this entry
// point's documentation has no types it cannot show. PGlite's own classes satisfy these shapes.

/** What a PGlite statement resolves to: the members gue reads. */
export interface PgliteResults<R> {
  /** The rows, as objects keyed by column name. */
  rows: R[];
  /** The count of the statement's command tag (PGlite 0.3 and later). */
  rowCount?: number;
  /** Rows affected, cumulative over a multi-statement query; read only when `rowCount` is absent. */
  affectedRows?: number;
}

/** A handle of PGlite that runs statements: the database or a transaction. */
export interface PgliteQueryable {
  /**
   * Runs one statement with positional parameters.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params Values bound to the placeholders.
   */
  query<R>(text: string, params?: unknown[]): Promise<PgliteResults<R>>;
}

/** The transaction PGlite passes to a `db.transaction(async (tx) => …)` callback. */
export interface PgliteTransaction extends PgliteQueryable {
  /** Rolls the transaction back; the callback's promise then resolves without committing. */
  rollback(): Promise<void>;
}

/** The members of a PGlite instance (`new PGlite()`, or a `PGliteWorker`) this adapter uses. */
export interface PgliteDb extends PgliteQueryable {
  /**
   * Runs `callback` in a transaction: commits when it resolves, rolls back when it throws.
   *
   * @param callback Receives the transaction.
   */
  transaction<T>(callback: (tx: PgliteTransaction) => Promise<T>): Promise<T>;
  /** Closes the database. */
  close(): Promise<void>;
  /** True once the database is closed. */
  readonly closed: boolean;
  /** Resolves when the database has started. */
  readonly waitReady: Promise<void>;
}

/** Options of {@linkcode pglite}. */
export interface PgliteOptions {
  /**
   * How long (ms) `begin()` or a pool query waits for the open transaction before it fails with
   * an error that points to `job.tx()`. `Infinity` waits forever.
   *
   * @default {2000}
   */
  waitTimeout?: number;
}

const native = Symbol("gue.pglite.native");

interface PgliteTx extends Tx {
  readonly [native]: PgliteTransaction;
}

async function run<R>(
  db: PgliteQueryable,
  text: string,
  params?: unknown[],
): Promise<QueryResult<R>> {
  const result = await db.query<R>(text, params ?? []);
  // rowCount is the statement's own command-tag count; affectedRows is cumulative and is 0 for
  // SELECT, so it only serves as a fallback for older PGlite versions.
  return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? 0 };
}

/** What `pglite.tx(tx)` wraps: a transaction that `db.transaction()` ends. */
const foreign: ForeignTxAdapter<PgliteTransaction> = {
  name: "pglite",
  native,
  owner: { callback: "db.transaction()" },
  run,
};

/** A first-come, first-served lock whose waiters give up after a timeout. */
class Turns {
  #held = false;
  #queue: Array<() => void> = [];

  /** Resolves with the function that ends the turn; rejects with `onTimeout()` after `ms`. */
  take(ms: number, onTimeout: () => Error): Promise<() => void> {
    const release = () => this.#next();
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grant = () => {
        clearTimeout(timer);
        resolve(release);
      };
      this.#queue.push(grant);
      if (Number.isFinite(ms)) {
        timer = setTimeout(() => {
          const i = this.#queue.indexOf(grant);
          if (i >= 0) this.#queue.splice(i, 1);
          reject(onTimeout());
        }, ms);
      }
    });
  }

  #next(): void {
    const grant = this.#queue.shift();
    // The turn passes straight to the next waiter, so no one can cut in between.
    if (grant) grant();
    else this.#held = false;
  }
}

/**
 * Our transaction: a PGlite `transaction()` callback kept open until `commit()` or `rollback()`.
 *
 * Going through `db.transaction()` rather than sending BEGIN ourselves takes PGlite's own lock,
 * so code that uses the PGlite instance directly waits for our transaction instead of running
 * inside it (PGlite has one session: a plain `db.query()` would join our open transaction).
 */
class CallbackTx implements PgliteTx {
  readonly [native]: PgliteTransaction;
  readonly #end: (how: "commit" | "rollback") => void;
  readonly #done: Promise<void>;
  #ended = false;

  constructor(
    tx: PgliteTransaction,
    end: (how: "commit" | "rollback") => void,
    done: Promise<void>,
  ) {
    this[native] = tx;
    this.#end = end;
    this.#done = done;
  }

  /** True until `commit()` or `rollback()` is called. */
  get open(): boolean {
    return !this.#ended;
  }

  query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    if (this.#ended) return Promise.reject(new Error("transaction already ended"));
    return run<R>(this[native], text, params);
  }

  async commit(): Promise<void> {
    if (this.#ended) throw new Error("transaction already ended");
    this.#ended = true;
    this.#end("commit");
    // Rejects when PGlite's COMMIT answered ROLLBACK (the transaction had failed).
    await this.#done;
  }

  async rollback(): Promise<void> {
    if (this.#ended) return;
    this.#ended = true;
    this.#end("rollback");
    try {
      await this.#done;
    } catch {
      // Rolled back either way: a failed ROLLBACK leaves nothing to undo.
    }
  }
}

class PgliteConnPool implements ConnPool {
  readonly name = "pglite";
  readonly capabilities: AdapterCapabilities;
  readonly #db: PgliteDb;
  readonly #waitTimeout: number;
  readonly #turns = new Turns();
  /** Our transaction in progress, if any: close() must end it, or PGlite's close waits forever. */
  #current?: CallbackTx;
  #closed?: Promise<void>;

  constructor(db: PgliteDb, options: PgliteOptions) {
    const waitTimeout = options.waitTimeout ?? 2000;
    if (!(waitTimeout > 0)) {
      throw new RangeError(`pglite(): waitTimeout must be a positive number, got ${waitTimeout}`);
    }
    this.#db = db;
    const canListen = typeof (db as Partial<PgliteListenDb>).listen === "function";
    this.capabilities = { concurrentTransactions: false, listen: canListen };
    this.#waitTimeout = waitTimeout;
  }

  async #take(): Promise<() => void> {
    if (this.#closed) throw new Error("pglite: the pool is closed");
    // PGlite needs about two seconds to start; that is not a wait for a transaction, so it
    // must not count against waitTimeout.
    await this.#db.waitReady;
    const release = await this.#turns.take(this.#waitTimeout, () => {
      const err = new Error(
        `pglite: waited ${this.#waitTimeout} ms for the open transaction to end. PGlite runs one ` +
          `transaction at a time, so inside a job handler a query on the pool (client.enqueue(), ` +
          `client.lockJob(), pool.query()) waits for that job's own transaction and never runs: ` +
          `use job.tx() (and enqueueTx) there instead. If another caller legitimately holds a ` +
          `transaction this long, raise pglite(db, { waitTimeout }).`,
      );
      return Object.assign(err, { code: "55P03" });
    });
    if (this.#closed) {
      // close() ended the transaction we waited for: pass the turn on and refuse.
      release();
      throw new Error("pglite: the pool is closed");
    }
    return release;
  }

  async query<R>(text: string, params?: unknown[]): Promise<QueryResult<R>> {
    const release = await this.#take();
    try {
      return await run<R>(this.#db, text, params);
    } finally {
      release();
    }
  }

  async begin(): Promise<Tx> {
    const release = await this.#take();
    let end!: (how: "commit" | "rollback") => void;
    const ended = new Promise<"commit" | "rollback">((resolve) => end = resolve);
    let opened!: (tx: PgliteTransaction) => void;
    const open = new Promise<PgliteTransaction>((resolve) => opened = resolve);
    const done = this.#db.transaction(async (tx) => {
      opened(tx);
      if (await ended === "rollback") await tx.rollback();
    });
    // The turn ends when PGlite has sent COMMIT or ROLLBACK, whatever the outcome.
    done.then(release, release);
    // BEGIN itself can fail (a closed database): then the callback never runs.
    const tx = await Promise.race([open, done.then(() => undefined)]);
    if (!tx) throw new Error("pglite: the transaction ended before it began");
    this.#current = new CallbackTx(tx, end, done);
    return this.#current;
  }

  /** Opens a LISTEN connection of its own; see {@linkcode ConnPool.listen}. */
  listen(channel: string, onNotify: (payload: string) => void): Promise<ListenConnection> {
    // In-process: there is no connection to lose.
    return listenPglite(this.#db as unknown as PgliteListenDb, channel, onNotify);
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      // PGlite's close() waits for the open transaction, which may belong to a handler that
      // never returns (a test that failed mid-job). A closed pool's transactions are over, as
      // when a server connection closes: roll ours back so the database can close.
      if (this.#current?.open) await this.#current.rollback();
      if (!this.#db.closed) await this.#db.close();
    })();
    return this.#closed;
  }
}

/**
 * Wraps a PGlite database for gue. Read the module documentation first: PGlite runs one
 * transaction at a time, which suits handler unit tests and not production.
 *
 * @param db A PGlite instance (`new PGlite()` for an in-memory database).
 * @param options How long a caller waits for the open transaction.
 * @returns The pool gue's `Client` takes; `capabilities.concurrentTransactions` is `false`.
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { Client } from "@gue/gue";
 * import { pglite } from "@gue/gue/adapters/pglite";
 *
 * const client = new Client(pglite(new PGlite(), { waitTimeout: 5000 }));
 * ```
 */
export function pglite(db: PgliteDb, options: PgliteOptions = {}): ConnPool {
  return new PgliteConnPool(db, options);
}

/**
 * Wraps the application's own PGlite transaction (the `tx` of `db.transaction(async (tx) => …)`)
 * so `enqueueTx` runs inside it.
 *
 * @param tx The native transaction.
 * @returns A {@linkcode Tx} for `enqueueTx`; committing it is left to `db.transaction()`.
 *
 * @example
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { Client } from "@gue/gue";
 * import { pglite } from "@gue/gue/adapters/pglite";
 *
 * const db = new PGlite();
 * const client = new Client(pglite(db));
 * await client.migrate();
 * await db.exec("create table orders (id int primary key)");
 * const order = { id: 1 };
 *
 * await db.transaction(async (tx) => {
 *   await tx.query("insert into orders (id) values ($1)", [order.id]);
 *   await client.enqueueTx({ type: "SendReceipt", args: { id: order.id } }, pglite.tx(tx));
 * });
 * await db.close();
 * ```
 */
pglite.tx = function tx(tx: PgliteTransaction): Tx {
  return new ForeignTx(foreign, tx);
};

/**
 * Returns the PGlite transaction behind a transaction this adapter made (for example
 * `job.tx()`), so application code can run its own statements in the job's transaction.
 *
 * @param tx A transaction from gue, made by this adapter.
 * @returns The native `Transaction`.
 * @throws {TypeError} For a transaction of another adapter.
 *
 * @example Write in the job's transaction
 * ```ts
 * import { PGlite } from "@electric-sql/pglite";
 * import { Client, Worker } from "@gue/gue";
 * import { pglite, unwrapTx } from "@gue/gue/adapters/pglite";
 *
 * const db = new PGlite();
 * const worker = new Worker(new Client(pglite(db)), {
 *   Audit: async (job) => {
 *     const tx = unwrapTx(job.tx());
 *     await tx.query("insert into audit (job) values ($1)", [job.id]);
 *   },
 * });
 * await worker.workOne();
 * await db.close();
 * ```
 */
export function unwrapTx(tx: Tx): PgliteTransaction {
  return unwrapNative<PgliteTransaction>(native, "pglite", tx);
}
