/**
 * The conformance suite every driver adapter passes: what the core relies on from a
 * {@linkcode ConnPool}, checked against a real PostgreSQL (or a real in-process PGlite).
 *
 * {@linkcode adapterConformance} registers the suite for one adapter. Each test is registered
 * even when it cannot run, with `{ skip }` and a `skipped: …` line, so both `deno test` and
 * `bun test` count and show what did not run and why.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { ConnPool, Tx } from "../src/adapter.ts";
import { beginWith, commitWith } from "../src/pipelining.ts";
import { unwrapTx as unwrapBunSql } from "../src/adapters/bun_sql.ts";
import { unwrapTx as unwrapDenoPostgres } from "../src/adapters/deno_postgres.ts";
import { unwrapTx as unwrapPg } from "../src/adapters/pg.ts";
import { unwrapTx as unwrapPglite } from "../src/adapters/pglite.ts";
import { unwrapTx as unwrapPostgresjs } from "../src/adapters/postgresjs.ts";
import { createTestDatabase, type TestDatabase } from "./_db.ts";
import type { AdapterName, AdapterSetup, OpenedAdapter } from "./_adapters.ts";

/** Every adapter's `unwrapTx`, to check that none of them claims another adapter's transaction. */
const unwrappers: Record<AdapterName, (tx: Tx) => unknown> = {
  postgresjs: unwrapPostgresjs,
  pg: unwrapPg,
  pglite: unwrapPglite,
  bunSql: unwrapBunSql,
  denoPostgres: unwrapDenoPostgres,
};

/** Connections in the pool under test: enough for two open transactions and a pool query. */
const MAX = 4;

interface Ctx {
  setup: AdapterSetup;
  adapter: OpenedAdapter;
  pool: ConnPool;
  url: string;
}

interface Case {
  name: string;
  /** Needs two transactions open at once. */
  concurrent?: boolean;
  /** Needs a PostgreSQL server (backends to terminate). */
  server?: boolean;
  /** Adapters that fail this case for a known reason, registered as skipped with it. */
  knownFailures?: Partial<Record<AdapterName, string>>;
  fn: (ctx: Ctx) => void | Promise<void>;
}

let ids = 0;
/** A fresh primary key, so tests sharing a table never collide. */
const nextId = () => ++ids;

const bytesOf = (value: unknown): number[] => {
  assert.ok(
    value instanceof Uint8Array,
    `expected a Uint8Array, got ${Object.prototype.toString.call(value)}`,
  );
  return [...value];
};

/** `promise`, or a rejection naming `what` once `ms` have passed: a hang fails, and fails fast. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function count(pool: ConnPool, where: string, params: unknown[]): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM conf_items WHERE ${where}`,
    params,
  );
  return rows[0].n;
}

const cases: Case[] = [
  {
    name: "states its name and capabilities",
    fn({ setup, pool }) {
      assert.equal(pool.name, setup.name);
      assert.equal(pool.capabilities.concurrentTransactions, setup.concurrentTransactions);
    },
  },
  {
    name: "text round-trips, including empty, non-ASCII and NUL-free control characters",
    async fn({ pool }) {
      for (const text of ["", "hello", "héllo wörld ✓ 🚀", "tab\tnew\nline", 'it\'s "quoted"']) {
        const { rows } = await pool.query<{ t: string }>("SELECT $1::text AS t", [text]);
        assert.equal(rows[0].t, text);
      }
    },
  },
  {
    name: "smallint and integer read back as numbers, at their limits",
    async fn({ pool }) {
      const { rows } = await pool.query<Record<string, unknown>>(
        "SELECT $1::smallint AS s1, $2::smallint AS s2, $3::integer AS i1, $4::integer AS i2",
        [-32768, 32767, -2147483648, 2147483647],
      );
      assert.deepEqual(rows[0], { s1: -32768, s2: 32767, i1: -2147483648, i2: 2147483647 });
    },
  },
  {
    name: "bytea round-trips invalid UTF-8 ([0xff, 0xfe, 0x00])",
    async fn({ pool }) {
      const id = nextId();
      const bytes = new Uint8Array([0xff, 0xfe, 0x00]);
      await pool.query("INSERT INTO conf_items (id, data) VALUES ($1, $2)", [id, bytes]);
      const { rows } = await pool.query<{ data: unknown; len: number }>(
        "SELECT data, length(data) AS len FROM conf_items WHERE id = $1",
        [id],
      );
      assert.deepEqual(bytesOf(rows[0].data), [0xff, 0xfe, 0x00]);
      assert.equal(rows[0].len, 3, "the server stored three bytes, not an encoding of them");
    },
  },
  {
    name: "bytea round-trips an empty value, distinct from NULL",
    async fn({ pool }) {
      const { rows } = await pool.query<{ b: unknown; isnull: boolean }>(
        "SELECT $1::bytea AS b, $1::bytea IS NULL AS isnull",
        [new Uint8Array(0)],
      );
      assert.deepEqual(bytesOf(rows[0].b), []);
      assert.equal(rows[0].isnull, false);
    },
  },
  {
    name: "bytea round-trips all 256 byte values, given as a Uint8Array or a Buffer-like view",
    async fn({ pool }) {
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      // A view into a larger buffer: drivers must send the view, not the whole buffer.
      const backing = new Uint8Array(300);
      backing.set(all, 20);
      const view = backing.subarray(20, 276);
      for (const value of [all, view]) {
        const { rows } = await pool.query<{ b: unknown }>("SELECT $1::bytea AS b", [value]);
        assert.deepEqual(bytesOf(rows[0].b), [...all]);
      }
    },
  },
  {
    name: "timestamptz written as text with microseconds reads back as a Date of that instant",
    async fn({ pool }) {
      const { rows } = await pool.query<{ at: unknown }>(
        "SELECT '2024-02-29 23:59:59.123456+00'::timestamptz AS at",
      );
      assert.ok(rows[0].at instanceof Date, "timestamptz is a Date");
      // A Date holds milliseconds: the microseconds are dropped, never rounded up.
      assert.equal(rows[0].at.toISOString(), "2024-02-29T23:59:59.123Z");
    },
  },
  {
    name: "timestamptz reads back the same instant whatever the session TimeZone",
    async fn({ pool }) {
      const tx = await pool.begin();
      try {
        await tx.query("SET LOCAL TimeZone = 'Asia/Kathmandu'"); // +05:45, a non-hour offset
        const { rows } = await tx.query<{ at: Date }>(
          "SELECT '2024-06-01 12:00:00.5+00'::timestamptz AS at",
        );
        assert.equal(rows[0].at.toISOString(), "2024-06-01T12:00:00.500Z");
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "a Date parameter keeps its instant, whatever offset it was written with",
    async fn({ pool }) {
      for (
        const text of [
          "2024-01-01T00:00:00.123+05:30",
          "2023-12-31T23:59:59.999-08:00",
          "1999-12-31T23:59:59.001Z",
          "2038-01-19T03:14:08.000+14:00",
        ]
      ) {
        const date = new Date(text);
        const id = nextId();
        await pool.query("INSERT INTO conf_items (id, at) VALUES ($1, $2)", [id, date]);
        const { rows } = await pool.query<{ at: Date; same: boolean }>(
          "SELECT at, at = $2::timestamptz AS same FROM conf_items WHERE id = $1",
          [id, text],
        );
        assert.equal(rows[0].same, true, `the server stored ${text}`);
        assert.equal(rows[0].at.getTime(), date.getTime(), `read back ${text}`);
      }
    },
  },
  {
    name: "NULL binds and reads back as null for text, smallint, integer, bytea and timestamptz",
    async fn({ pool }) {
      const { rows } = await pool.query<Record<string, unknown>>(
        "SELECT $1::text AS t, $2::smallint AS s, $3::integer AS i, $4::bytea AS b, " +
          "$5::timestamptz AS at",
        [null, null, null, null, null],
      );
      assert.deepEqual(rows[0], { t: null, s: null, i: null, b: null, at: null });
    },
  },
  {
    name: "rowCount counts rows returned by SELECT and rows affected by INSERT, UPDATE, DELETE",
    async fn({ pool }) {
      const [a, b, c] = [nextId(), nextId(), nextId()];
      const ins = await pool.query(
        "INSERT INTO conf_items (id, name) VALUES ($1, 'rc'), ($2, 'rc'), ($3, 'rc')",
        [a, b, c],
      );
      assert.equal(ins.rowCount, 3, "INSERT");
      assert.deepEqual([...ins.rows], [], "INSERT without RETURNING has no rows");
      const sel = await pool.query("SELECT id FROM conf_items WHERE name = 'rc' ORDER BY id");
      assert.equal(sel.rowCount, 3, "SELECT");
      assert.deepEqual([...sel.rows], [{ id: a }, { id: b }, { id: c }]);
      const none = await pool.query("SELECT id FROM conf_items WHERE name = 'nothing'");
      assert.equal(none.rowCount, 0, "SELECT of nothing");
      const upd = await pool.query(
        "UPDATE conf_items SET name = 'rc2' WHERE id = ANY($1::int[]) AND name = 'rc'",
        [[a, b]],
      );
      assert.equal(upd.rowCount, 2, "UPDATE");
      const missed = await pool.query("UPDATE conf_items SET name = 'x' WHERE id = -1");
      assert.equal(missed.rowCount, 0, "UPDATE of nothing");
      const ret = await pool.query<{ id: number }>(
        "DELETE FROM conf_items WHERE id = $1 RETURNING id",
        [c],
      );
      assert.equal(ret.rowCount, 1, "DELETE … RETURNING");
      assert.deepEqual([...ret.rows], [{ id: c }]);
      const del = await pool.query("DELETE FROM conf_items WHERE name = 'rc2'");
      assert.equal(del.rowCount, 2, "DELETE");
    },
  },
  {
    name: "concurrent pool queries each get their own result",
    async fn({ pool }) {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pool.query<{ i: number }>("SELECT $1::int AS i", [i])),
      );
      assert.deepEqual(results.map((r) => r.rows[0].i), Array.from({ length: 20 }, (_, i) => i));
    },
  },
  {
    name: "begin() opens a READ COMMITTED, read-write transaction",
    async fn({ pool }) {
      const tx = await pool.begin();
      try {
        const iso = await tx.query<{ transaction_isolation: string }>("SHOW transaction_isolation");
        assert.equal(iso.rows[0].transaction_isolation, "read committed");
        const ro = await tx.query<{ transaction_read_only: string }>("SHOW transaction_read_only");
        assert.equal(ro.rows[0].transaction_read_only, "off");
        // Autocommit would give each statement its own transaction id.
        const first = await tx.query<{ id: string }>("SELECT txid_current()::text AS id");
        const second = await tx.query<{ id: string }>("SELECT txid_current()::text AS id");
        assert.equal(first.rows[0].id, second.rows[0].id, "statements share one transaction");
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "commit() makes the transaction's writes visible; rollback() discards them",
    async fn({ pool }) {
      const [kept, dropped] = [nextId(), nextId()];
      const tx1 = await pool.begin();
      const ins = await tx1.query("INSERT INTO conf_items (id) VALUES ($1)", [kept]);
      assert.equal(ins.rowCount, 1);
      await tx1.commit();
      assert.equal(await count(pool, "id = $1", [kept]), 1);

      const tx2 = await pool.begin();
      await tx2.query("INSERT INTO conf_items (id) VALUES ($1)", [dropped]);
      const seen = await tx2.query("SELECT 1 FROM conf_items WHERE id = $1", [dropped]);
      assert.equal(seen.rowCount, 1, "the transaction sees its own write");
      await tx2.rollback();
      assert.equal(await count(pool, "id = $1", [dropped]), 0);
    },
  },
  {
    name: "uncommitted writes are invisible to the pool until commit",
    concurrent: true,
    async fn({ pool }) {
      const id = nextId();
      const tx = await pool.begin();
      try {
        await tx.query("INSERT INTO conf_items (id) VALUES ($1)", [id]);
        assert.equal(await count(pool, "id = $1", [id]), 0);
        await tx.commit();
        assert.equal(await count(pool, "id = $1", [id]), 1);
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "a failed statement aborts the transaction: later statements fail, rollback() succeeds",
    async fn({ pool }) {
      const id = nextId();
      const tx = await pool.begin();
      await tx.query("INSERT INTO conf_items (id) VALUES ($1)", [id]);
      await assert.rejects(tx.query("SELECT 1 / 0"), { code: "22012" });
      await assert.rejects(tx.query("SELECT 1"), { code: "25P02" });
      await tx.rollback();
      assert.equal(await count(pool, "id = $1", [id]), 0, "the write before the error is gone");
      // The connection went back to the pool in a clean state: more transactions than
      // connections all work.
      for (let i = 0; i < MAX + 1; i++) {
        const t = await pool.begin();
        await t.query("SELECT 1");
        await t.commit();
      }
    },
  },
  {
    name: "commit() after a failed statement rejects and commits nothing",
    async fn({ pool }) {
      const id = nextId();
      const tx = await pool.begin();
      await tx.query("INSERT INTO conf_items (id) VALUES ($1)", [id]);
      await assert.rejects(tx.query("SELECT 1 / 0"));
      // PostgreSQL answers COMMIT of a failed transaction with ROLLBACK and no error; the
      // adapter must reject, so a caller never takes a rolled-back transaction for committed.
      await assert.rejects(tx.commit(), "commit() rejects: the transaction was rolled back");
      assert.equal(await count(pool, "id = $1", [id]), 0);
    },
  },
  {
    name: "a transaction ends once: query() after the end rejects, a second rollback() is a no-op",
    async fn({ pool }) {
      const tx = await pool.begin();
      await tx.commit();
      await assert.rejects(tx.query("SELECT 1"));
      await tx.rollback();
      await assert.rejects(tx.commit());
      const tx2 = await pool.begin();
      await tx2.rollback();
      await tx2.rollback();
    },
  },
  {
    name: "FOR UPDATE SKIP LOCKED skips a row locked by another open transaction",
    concurrent: true,
    async fn({ pool }) {
      const [a, b] = [nextId(), nextId()];
      await pool.query("INSERT INTO conf_items (id, name) VALUES ($1, 'lock'), ($2, 'lock')", [
        a,
        b,
      ]);
      const tx1 = await pool.begin();
      const tx2 = await pool.begin();
      try {
        const lock = "SELECT id FROM conf_items WHERE name = 'lock' ORDER BY id LIMIT 1 " +
          "FOR UPDATE SKIP LOCKED";
        const first = await tx1.query<{ id: number }>(lock);
        const second = await tx2.query<{ id: number }>(lock);
        assert.deepEqual([...first.rows], [{ id: a }]);
        assert.deepEqual([...second.rows], [{ id: b }], "the second skipped the first's row");
        const third = await pool.query(lock.replace("LIMIT 1", ""));
        assert.equal(third.rowCount, 0, "both rows are locked");
      } finally {
        await tx1.rollback();
        await tx2.rollback();
      }
      const free = await pool.query("SELECT id FROM conf_items WHERE name = 'lock' FOR UPDATE");
      assert.equal(free.rowCount, 2, "rollback released the locks");
    },
  },
  {
    name: "a transaction whose connection died rolls back, and the pool recovers",
    concurrent: true,
    server: true,
    async fn({ pool }) {
      const id = nextId();
      const tx = await pool.begin();
      await tx.query("INSERT INTO conf_items (id) VALUES ($1)", [id]);
      const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0].pid;
      await pool.query("SELECT pg_terminate_backend($1)", [pid]);
      // pg_terminate_backend only signals: wait until the backend is gone.
      for (let i = 0; i < 100; i++) {
        const alive = await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
        if (alive.rowCount === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await assert.rejects(tx.query("SELECT 1"));
      await tx.rollback();
      assert.equal(await count(pool, "id = $1", [id]), 0);
      // If the dead connection went back to the pool, one of these would land on it.
      for (let i = 0; i < MAX + 1; i++) {
        await pool.query("SELECT 1");
        const t = await pool.begin();
        await t.query("SELECT 1");
        await t.commit();
      }
    },
  },
  {
    name: "after a connection died, the pool still holds as many transactions at once as before",
    concurrent: true,
    server: true,
    knownFailures: {
      postgresjs: "with postgres.js, a reserve after a terminated backend times out " +
        "(CONNECT_TIMEOUT after 30 s): the pool loses the connection; not yet diagnosed",
    },
    async fn({ pool }) {
      const tx = await pool.begin();
      const { rows } = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      const pid = rows[0].pid;
      await pool.query("SELECT pg_terminate_backend($1)", [pid]);
      for (let i = 0; i < 100; i++) {
        const alive = await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
        if (alive.rowCount === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await assert.rejects(tx.query("SELECT 1"));
      await tx.rollback();
      // A dead connection kept out of the pool for good (rather than replaced) would leave the
      // last of these waiting forever.
      const all = await Promise.all(Array.from({ length: MAX }, () => pool.begin()));
      for (const t of all) await t.query("SELECT 1");
      for (const t of all) await t.commit();
    },
  },
  {
    name: "beginWith() and commitWith(): the first and last statements commit with the transaction",
    async fn({ pool }) {
      if (pool.capabilities.pipelining) {
        assert.equal(typeof pool.beginWith, "function", "a pipelining adapter has beginWith()");
      }
      const [a, b] = [nextId(), nextId()];
      const { tx, result } = await beginWith<{ id: number }>(
        pool,
        "INSERT INTO conf_items (id, name) VALUES ($1, 'pipelined') RETURNING id",
        [a],
      );
      assert.deepEqual([...result.rows], [{ id: a }]);
      if (pool.capabilities.pipelining) {
        assert.equal(typeof (tx as { commitWith?: unknown }).commitWith, "function");
      }
      await tx.query("UPDATE conf_items SET name = 'middle' WHERE id = $1", [a]);
      const last = await commitWith(
        tx,
        "INSERT INTO conf_items (id, name) VALUES ($1, 'pipelined')",
        [b],
      );
      assert.equal(last.rowCount, 1);
      assert.equal(await count(pool, "id = $1 AND name = 'middle'", [a]), 1);
      assert.equal(await count(pool, "id = $1", [b]), 1);
      await assert.rejects(tx.query("SELECT 1"), "the transaction is over");
    },
  },
  {
    name: "beginWith(): a failing first statement throws its error and keeps no connection",
    async fn({ pool }) {
      for (let i = 0; i < MAX + 1; i++) {
        await assert.rejects(
          within(10_000, beginWith(pool, "SELECT 1/0"), "a failing beginWith()"),
          (err: { code?: string }) => {
            assert.equal(err.code, "22012", "the statement's own error");
            return true;
          },
        );
      }
      // Had each failed call kept its connection, the last of them would have found none.
      const t = await within(10_000, pool.begin(), "a transaction afterwards");
      await t.query("SELECT 1");
      await t.commit();
    },
  },
  {
    name: "commitWith(): a failing last statement throws its error and rolls everything back",
    async fn({ pool }) {
      const a = nextId();
      const { tx } = await beginWith(pool, "INSERT INTO conf_items (id) VALUES ($1)", [a]);
      await assert.rejects(
        within(10_000, commitWith(tx, "INSERT INTO conf_items (id) VALUES (NULL)"), "commitWith"),
        (err: { code?: string }) => {
          assert.equal(err.code, "23502", "the statement's error, not the commit's");
          return true;
        },
      );
      assert.equal(await count(pool, "id = $1", [a]), 0, "the first statement rolled back");
      await tx.rollback(); // harmless: the transaction is over
      await assert.rejects(tx.query("SELECT 1"), "the transaction is over");
      const t = await within(10_000, pool.begin(), "a transaction afterwards");
      await t.query("SELECT 1");
      await t.commit();
    },
  },
  {
    name: "commitWith() on a transaction whose connection died rejects, and the pool recovers",
    concurrent: true,
    server: true,
    async fn({ pool }) {
      const a = nextId();
      const { tx, result } = await beginWith<{ pid: number }>(
        pool,
        "SELECT pg_backend_pid() AS pid",
      );
      await tx.query("INSERT INTO conf_items (id) VALUES ($1)", [a]);
      const pid = result.rows[0].pid;
      await pool.query("SELECT pg_terminate_backend($1)", [pid]);
      // pg_terminate_backend only signals: wait until the backend is gone.
      for (let i = 0; i < 100; i++) {
        const alive = await pool.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [pid]);
        if (alive.rowCount === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await assert.rejects(
        within(
          15_000,
          commitWith(tx, "INSERT INTO conf_items (id) VALUES ($1)", [nextId()]),
          "commitWith() on a dead connection",
        ),
        (err: Error) => !/still waiting/.test(err.message),
      );
      await within(10_000, tx.rollback(), "rollback() after that");
      assert.equal(await count(pool, "id = $1", [a]), 0);
      // If the dead connection went back to the pool, one of these would land on it.
      for (let i = 0; i < MAX + 1; i++) {
        const { tx: t } = await within(10_000, beginWith(pool, "SELECT 1"), "beginWith()");
        await within(10_000, commitWith(t, "SELECT 1"), "commitWith()");
      }
    },
  },
  {
    name: "a pool that met a database refusing connections works once the database accepts them",
    server: true,
    async fn({ setup, pool }) {
      const db = await createTestDatabase("gue_conf_refuse");
      const size = 2;
      const opened = await setup.open(db.url, size);
      try {
        await pool.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS false`);
        // More failed connects than the pool has connections: none of them may cost it one.
        for (let i = 0; i < 2 * size + 1; i++) {
          await assert.rejects(within(10_000, opened.pool.query("SELECT 1"), "a refused query"));
        }
        await pool.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
        const { rows } = await within(
          10_000,
          opened.pool.query<{ one: number }>("SELECT 1 AS one"),
          "a query after the database accepts connections again",
        );
        assert.equal(rows[0].one, 1);
        const tx = await within(10_000, opened.pool.begin(), "a transaction after that");
        await tx.query("SELECT 1");
        await tx.commit();
      } finally {
        await pool.query(`ALTER DATABASE ${db.name} WITH ALLOW_CONNECTIONS true`);
        await opened.pool.close();
        await db.drop();
      }
    },
  },
  {
    name: "adapter.tx(native) runs statements in the application's transaction, which it ends",
    async fn({ adapter, pool }) {
      const [kept, dropped] = [nextId(), nextId()];
      await adapter.withNativeTx(async (native) => {
        const tx = adapter.wrap(native);
        const ins = await tx.query("INSERT INTO conf_items (id, name) VALUES ($1, $2)", [
          kept,
          "native",
        ]);
        assert.equal(ins.rowCount, 1);
        const { rows } = await tx.query<{ name: string }>(
          "SELECT name FROM conf_items WHERE id = $1",
          [kept],
        );
        assert.deepEqual([...rows], [{ name: "native" }]);
        await assert.rejects(tx.commit(), TypeError);
        await assert.rejects(tx.rollback(), TypeError);
        assert.equal(adapter.unwrap(tx), native, "unwrapTx gives the native transaction back");
      });
      assert.equal(await count(pool, "id = $1", [kept]), 1, "committed by its owner");

      await assert.rejects(
        adapter.withNativeTx(async (native) => {
          await adapter.wrap(native).query("INSERT INTO conf_items (id) VALUES ($1)", [dropped]);
          throw new Error("the application rolls back");
        }),
        /the application rolls back/,
      );
      assert.equal(await count(pool, "id = $1", [dropped]), 0, "rolled back with its owner");
    },
  },
  {
    name: "unwrapTx returns the native handle of our transaction, usable with the driver's API",
    async fn({ adapter, pool }) {
      const id = nextId();
      const tx = await pool.begin();
      try {
        const native = adapter.unwrap(tx);
        assert.ok(native, "a native handle");
        await adapter.nativeQuery(native, `INSERT INTO conf_items (id) VALUES (${id})`);
        const seen = await tx.query("SELECT 1 FROM conf_items WHERE id = $1", [id]);
        assert.equal(seen.rowCount, 1, "the native handle runs inside our transaction");
      } finally {
        await tx.rollback();
      }
      assert.equal(await count(pool, "id = $1", [id]), 0, "and rolls back with it");
    },
  },
  {
    name: "unwrapTx throws a TypeError naming the adapter for another adapter's transaction",
    async fn({ setup, adapter, pool }) {
      const tx = await pool.begin();
      try {
        for (const [name, unwrap] of Object.entries(unwrappers)) {
          if (name === setup.name) continue;
          assert.throws(
            () => unwrap(tx),
            (e: Error) => e instanceof TypeError && e.message.includes(`the ${name} adapter`),
            `${name}'s unwrapTx claimed a ${setup.name} tx`,
          );
        }
        assert.throws(() => adapter.unwrap(null), TypeError);
        assert.throws(() => adapter.unwrap(undefined), TypeError);
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "a missing table rejects with SQLSTATE 42P01 in code, on the pool and in a transaction",
    async fn({ pool }) {
      const isMissing = (err: unknown) => {
        assert.ok(err instanceof Error, "an Error");
        assert.equal((err as { code?: unknown }).code, "42P01");
        assert.match(err.message, /conf_no_such_table/);
        return true;
      };
      await assert.rejects(pool.query("SELECT * FROM conf_no_such_table"), isMissing);
      const tx = await pool.begin();
      try {
        await assert.rejects(tx.query("SELECT * FROM conf_no_such_table"), isMissing);
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "a duplicate key rejects with SQLSTATE 23505 in code",
    async fn({ pool }) {
      const id = nextId();
      await pool.query("INSERT INTO conf_items (id) VALUES ($1)", [id]);
      await assert.rejects(
        pool.query("INSERT INTO conf_items (id) VALUES ($1)", [id]),
        (err: unknown) => err instanceof Error && (err as { code?: unknown }).code === "23505",
      );
      const tx = await pool.begin();
      try {
        await assert.rejects(
          tx.query("INSERT INTO conf_items (id) VALUES ($1)", [id]),
          (err: unknown) => err instanceof Error && (err as { code?: unknown }).code === "23505",
        );
      } finally {
        await tx.rollback();
      }
    },
  },
  {
    name: "close() resolves, is safe to call twice, and the pool refuses work afterwards",
    async fn({ setup, url }) {
      const opened = await setup.open(url, 2);
      await opened.pool.query("SELECT 1");
      await opened.pool.close();
      await opened.pool.close();
      await assert.rejects(opened.pool.query("SELECT 1"));
      await assert.rejects(opened.pool.begin());
      await assert.rejects(within(10_000, beginWith(opened.pool, "SELECT 1"), "beginWith()"));
    },
  },
  {
    name: "close() with a transaction open: the transaction still ends, then the pool refuses work",
    async fn({ setup, url }) {
      const opened = await setup.open(url, 2);
      const tx = await opened.pool.begin();
      await tx.query("SELECT 1");
      const closing = opened.pool.close();
      await tx.rollback();
      await closing;
      await assert.rejects(opened.pool.query("SELECT 1"));
      await assert.rejects(opened.pool.begin());
    },
  },
];

/**
 * Registers the conformance suite for one adapter.
 *
 * @param setup How to open the adapter.
 * @param unavailable Why it cannot run on this runtime (every test is then skipped), or
 *   `undefined`.
 */
export function adapterConformance(setup: AdapterSetup, unavailable?: string): void {
  describe(`adapter ${setup.name}`, () => {
    const ctx = { setup } as Ctx;
    let db: TestDatabase | undefined;

    if (unavailable) {
      console.log(`skipped: ${unavailable} (adapter ${setup.name}: ${cases.length} tests)`);
    } else {
      before(async () => {
        if (setup.needsServer) db = await createTestDatabase("gue_conformance");
        ctx.url = db?.url ?? "";
        ctx.adapter = await setup.open(ctx.url, MAX);
        ctx.pool = ctx.adapter.pool;
        await ctx.pool.query(
          "CREATE TABLE conf_items (id integer PRIMARY KEY, name text, data bytea, at timestamptz)",
        );
      });
      after(async () => {
        await ctx.pool?.close();
        await db?.drop();
      });
    }

    for (const c of cases) {
      let skip = unavailable;
      if (!skip && c.concurrent && !setup.concurrentTransactions) {
        skip = `${setup.name} runs one transaction at a time`;
      } else if (!skip && c.server && !setup.needsServer) {
        skip = `${setup.name} has no server backends`;
      } else if (!skip && c.knownFailures?.[setup.name]) {
        skip = `known failure: ${c.knownFailures[setup.name]}`;
      }
      if (skip && !unavailable) console.log(`skipped: ${setup.name}: ${c.name}: ${skip}`);
      if (skip) test(c.name, { skip }, () => {});
      else test(c.name, () => c.fn(ctx));
    }
  });
}
