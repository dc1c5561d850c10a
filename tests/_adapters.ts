/**
 * Test support: how to open each driver adapter on this runtime, with the driver's own handles
 * next to it, so the conformance suite can also use the driver natively (open the application's
 * own transaction, run a statement on an unwrapped handle) and `openTestPool` can run the core
 * suite on any adapter.
 *
 * Drivers are imported lazily: a runtime only loads the drivers it tests, and `Bun.SQL` or
 * `jsr:@db/postgres` are looked up only where they can exist.
 */
import type { ConnPool, Tx } from "../src/adapter.ts";
import { VENDORED_JSR, vendoredMapPath } from "../scripts/vendored_import_map.ts";

/** The adapters, by the names `GUE_TEST_ADAPTER` takes. */
export const adapterNames = ["postgresjs", "pg", "pglite", "bunSql", "denoPostgres"] as const;

/** One of {@linkcode adapterNames}. */
export type AdapterName = typeof adapterNames[number];

/** An adapter opened on a database, with what the conformance suite needs from its driver. */
export interface OpenedAdapter {
  /** The adapter's pool. */
  pool: ConnPool;
  /**
   * Runs `fn` inside a transaction opened with the driver's own API (as an application would),
   * committing when `fn` resolves and rolling back when it throws.
   */
  withNativeTx<T>(fn: (native: unknown) => Promise<T>): Promise<T>;
  /** The adapter's `.tx(native)`. */
  wrap(native: unknown): Tx;
  /** The adapter module's `unwrapTx`. */
  unwrap(tx: Tx | null | undefined): unknown;
  /** Runs a statement on a native handle with the driver's own API; resolves to its rows. */
  nativeQuery(native: unknown, text: string): Promise<Record<string, unknown>[]>;
}

/** How to open one adapter. */
export interface AdapterSetup {
  /** The adapter's name (`ConnPool.name`). */
  name: AdapterName;
  /** False for PGlite: it runs in-process and ignores the URL. */
  needsServer: boolean;
  /** What `capabilities.concurrentTransactions` must say. */
  concurrentTransactions: boolean;
  /** Why the adapter cannot run on this runtime, or `undefined` when it can. */
  unavailable(): Promise<string | undefined>;
  /** Opens the adapter on the database at `url` with at most `max` connections. */
  open(url: string, max: number): Promise<OpenedAdapter>;
}

// deno-lint-ignore no-explicit-any
type Any = any;

// deno-lint-ignore no-explicit-any
const bun: any = (globalThis as any).Bun;
// deno-lint-ignore no-explicit-any
const deno: any = (globalThis as any).Deno;

// Kept in a variable so no tool resolves it ahead of time: JSR may be unreachable (it is here),
// and only the deno-postgres run needs it. GUE_DENO_POSTGRES may name another copy of it.
const denoPostgresSpecifier = (typeof process !== "undefined" && process.env.GUE_DENO_POSTGRES) ||
  "jsr:@db/postgres@^0.19";

let denoPostgresModule: Promise<Any> | undefined;
function importDenoPostgres(): Promise<Any> {
  denoPostgresModule ??= import(denoPostgresSpecifier);
  return denoPostgresModule;
}

const postgresjsSetup: AdapterSetup = {
  name: "postgresjs",
  needsServer: true,
  concurrentTransactions: true,
  unavailable: () => Promise.resolve(undefined),
  async open(url, max) {
    const { default: postgres } = await import("postgres");
    const { postgresjs, unwrapTx } = await import("../src/adapters/postgresjs.ts");
    const sql = postgres(url, { max, onnotice: () => {} });
    return {
      pool: postgresjs(sql),
      withNativeTx: (fn) => sql.begin((tx) => fn(tx)) as Promise<Any>,
      wrap: (native) => postgresjs.tx(native as Any),
      unwrap: unwrapTx,
      nativeQuery: async (native, text) => [...await (native as Any).unsafe(text)],
    };
  },
};

const pgSetup: AdapterSetup = {
  name: "pg",
  needsServer: true,
  concurrentTransactions: true,
  unavailable: () => Promise.resolve(undefined),
  async open(url, max) {
    const { default: pgDriver } = await import("pg");
    const { pg, unwrapTx } = await import("../src/adapters/pg.ts");
    const pool = new pgDriver.Pool({ connectionString: url, max });
    // An idle connection that dies (a test terminates backends) must not crash the run.
    pool.on("error", () => {});
    return {
      pool: pg(pool),
      async withNativeTx(fn) {
        const conn = await pool.connect();
        try {
          await conn.query("BEGIN");
          const result = await fn(conn);
          await conn.query("COMMIT");
          return result;
        } catch (err) {
          await conn.query("ROLLBACK");
          throw err;
        } finally {
          conn.release();
        }
      },
      wrap: (native) => pg.tx(native as Any),
      unwrap: unwrapTx,
      nativeQuery: async (native, text) => (await (native as Any).query(text)).rows,
    };
  },
};

const pgliteSetup: AdapterSetup = {
  name: "pglite",
  needsServer: false,
  concurrentTransactions: false,
  unavailable: () => Promise.resolve(undefined),
  async open() {
    const { PGlite } = await import("@electric-sql/pglite");
    const { pglite, unwrapTx } = await import("../src/adapters/pglite.ts");
    const db = new PGlite();
    return {
      pool: pglite(db),
      withNativeTx: (fn) => db.transaction((tx) => fn(tx)),
      wrap: (native) => pglite.tx(native as Any),
      unwrap: unwrapTx,
      nativeQuery: async (native, text) => (await (native as Any).query(text)).rows,
    };
  },
};

const bunSqlSetup: AdapterSetup = {
  name: "bunSql",
  needsServer: true,
  concurrentTransactions: true,
  unavailable: () => Promise.resolve(bun?.SQL ? undefined : "Bun only"),
  async open(url, max) {
    const { bunSql, unwrapTx } = await import("../src/adapters/bun_sql.ts");
    const sql = new bun.SQL(url, { max });
    return {
      pool: bunSql(sql),
      withNativeTx: (fn) => sql.begin((tx: unknown) => fn(tx)),
      wrap: (native) => bunSql.tx(native as Any),
      unwrap: unwrapTx,
      nativeQuery: async (native, text) => [...await (native as Any).unsafe(text)],
    };
  },
};

const denoPostgresSetup: AdapterSetup = {
  name: "denoPostgres",
  needsServer: true,
  concurrentTransactions: true,
  async unavailable() {
    if (!deno) return "Deno only";
    try {
      await importDenoPostgres();
      return undefined;
    } catch {
      // Deno reads one import map at a time: a run without the merged map (the plain
      // `deno task test`) cannot reach the vendored copy.
      return vendoredMapPath()
        ? `jsr:@db/postgres not resolvable without the merged import map; ` +
          `\`deno task test:adapters\` runs denoPostgres against ${VENDORED_JSR}`
        : "jsr:@db/postgres not resolvable (JSR unreachable, and no vendored copy beside the repo)";
    }
  },
  async open(url, max) {
    const { Pool } = await importDenoPostgres();
    const { denoPostgres, unwrapTx } = await import("../src/adapters/deno_postgres.ts");
    const pool = new Pool(url, max, true);
    let names = 0;
    return {
      pool: denoPostgres(pool),
      async withNativeTx(fn) {
        const conn = await pool.connect();
        try {
          const t = conn.createTransaction(`app_${++names}`);
          await t.begin();
          try {
            const result = await fn(t);
            await t.commit();
            return result;
          } catch (err) {
            await t.rollback().catch(() => {});
            throw err;
          }
        } finally {
          conn.release();
        }
      },
      wrap: (native) => denoPostgres.tx(native as Any),
      unwrap: unwrapTx,
      nativeQuery: async (native, text) => (await (native as Any).queryObject({ text })).rows,
    };
  },
};

/** Every adapter, by name. */
export const adapters: Record<AdapterName, AdapterSetup> = {
  postgresjs: postgresjsSetup,
  pg: pgSetup,
  pglite: pgliteSetup,
  bunSql: bunSqlSetup,
  denoPostgres: denoPostgresSetup,
};

/**
 * Opens the named adapter's pool, or throws when the name is unknown or the adapter cannot run
 * on this runtime.
 */
export async function openAdapterPool(name: string, url: string, max: number): Promise<ConnPool> {
  const setup = adapters[name as AdapterName];
  if (!setup) {
    throw new Error(
      `GUE_TEST_ADAPTER=${name}: unknown adapter (one of ${adapterNames.join(", ")})`,
    );
  }
  const why = await setup.unavailable();
  if (why) throw new Error(`GUE_TEST_ADAPTER=${name}: cannot run here: ${why}`);
  return (await setup.open(url, max)).pool;
}

/** The part of a postgres.js `sql` the core tests use for their own assertions. */
export interface AssertionSql {
  /** Runs a tagged-template statement; resolves to the rows, with `count` like postgres.js. */
  // deno-lint-ignore no-explicit-any
  <R = any[]>(strings: TemplateStringsArray, ...values: unknown[]): Promise<R>;
  /** Runs a statement given as text. */
  // deno-lint-ignore no-explicit-any
  unsafe<R = any[]>(text: string, params?: unknown[]): Promise<R>;
  /** Runs `fn` in a transaction; commits when it resolves, rolls back when it throws. */
  begin<T>(fn: (sql: AssertionSql) => Promise<T>): Promise<T>;
  /** Does nothing: the pool belongs to the test, which closes it. */
  end(): Promise<void>;
}

/**
 * A postgres.js-shaped `sql` over a {@linkcode ConnPool}, for the core tests' assertions when the
 * database exists only inside the pool: PGlite runs in-process, so no second client (postgres.js
 * on `DATABASE_URL`) can see it. Tagged templates become `$n` parameters; postgres.js helpers
 * (`sql(object)`, `sql.array`) are not supported and fail loudly.
 *
 * Statements go through the pool, so on PGlite they take their turn with the worker's
 * transactions instead of reading around them.
 */
export function assertionSql(pool: ConnPool | Tx): AssertionSql {
  const run = async (text: string, params: unknown[]) => {
    const { rows, rowCount } = await pool.query(text, params);
    return Object.assign([...rows], { count: rowCount });
  };
  const sql = ((strings: TemplateStringsArray, ...values: unknown[]) => {
    if (!Array.isArray(strings) || !("raw" in strings)) {
      return Promise.reject(new TypeError("assertionSql: postgres.js helpers are not supported"));
    }
    const text = strings.reduce((acc, part, i) => `${acc}$${i}${part}`);
    return run(text, values);
  }) as AssertionSql;
  sql.unsafe = ((text: string, params: unknown[] = []) => run(text, params)) as AssertionSql[
    "unsafe"
  ];
  sql.begin = async (fn) => {
    if (!("begin" in pool)) throw new TypeError("assertionSql: nested begin() is not supported");
    const tx = await pool.begin();
    try {
      const result = await fn(assertionSql(tx));
      await tx.commit();
      return result;
    } catch (err) {
      await tx.rollback();
      throw err;
    }
  };
  sql.end = () => Promise.resolve();
  return sql;
}
