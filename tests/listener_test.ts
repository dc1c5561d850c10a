import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import { Listener, type ListenFn } from "../src/listener.ts";
import { noopLogger } from "../src/logger.ts";
import { listenPostgresjs } from "../src/adapters/_listen_postgresjs.ts";
import { listenPg } from "../src/adapters/_listen_pg.ts";
import { listenBunSql } from "../src/adapters/_listen_bun_sql.ts";
import { listenPglite } from "../src/adapters/_listen_pglite.ts";
import { createTestDatabase, type TestDatabase, waitFor } from "./_db.ts";

// deno-lint-ignore no-explicit-any
const bun: any = (globalThis as any).Bun;

/** A driver's LISTEN, opened on a database; `close` ends the driver's pool. */
interface Driver {
  name: string;
  /** Whether its connection shows in pg_stat_activity and can be terminated. */
  server: boolean;
  /** Whether the driver reconnects by itself (Bun.SQL), so the listener never sees the end. */
  selfHealing: boolean;
  skip?: string;
  open(
    url: string,
  ): Promise<{ listen: ListenFn; notify(payload: string): Promise<void>; close(): Promise<void> }>;
}

const CHANNEL = "gue_listener_test";

const drivers: Driver[] = [
  {
    name: "postgresjs",
    server: true,
    selfHealing: false,
    open(url) {
      const sql = postgres(url, { max: 2, onnotice: () => {} });
      return Promise.resolve({
        listen: (ch, onNotify, onEnd) => listenPostgresjs(sql, ch, onNotify, onEnd),
        notify: async (p) => void await sql`SELECT pg_notify(${CHANNEL}, ${p})`,
        close: () => sql.end({ timeout: 1 }),
      });
    },
  },
  {
    name: "pg",
    server: true,
    selfHealing: false,
    async open(url) {
      const { default: pg } = await import("pg");
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      pool.on("error", () => {});
      return {
        // deno-lint-ignore no-explicit-any
        listen: (ch, onNotify, onEnd) => listenPg(pool as any, ch, onNotify, onEnd),
        notify: async (p) => void await pool.query("SELECT pg_notify($1, $2)", [CHANNEL, p]),
        close: () => pool.end(),
      };
    },
  },
  {
    name: "bunSql",
    server: true,
    selfHealing: true,
    skip: bun?.SQL ? undefined : "skipped: Bun.SQL exists only on Bun",
    open(url) {
      const sql = new bun.SQL(url, { max: 2 });
      return Promise.resolve({
        listen: (ch: string, onNotify: (p: string) => void) => listenBunSql(sql, ch, onNotify),
        notify: async (p: string) =>
          void await sql.unsafe("SELECT pg_notify($1, $2)", [CHANNEL, p]),
        close: () => sql.close(),
      });
    },
  },
  {
    name: "pglite",
    server: false,
    selfHealing: false,
    async open() {
      const { PGlite } = await import("@electric-sql/pglite");
      const db = new PGlite();
      return {
        listen: (ch, onNotify) => listenPglite(db, ch, onNotify),
        notify: async (p) => void await db.query("SELECT pg_notify($1, $2)", [CHANNEL, p]),
        close: () => db.close(),
      };
    },
  },
];

let db: TestDatabase;
let admin: postgres.Sql;
before(async () => {
  db = await createTestDatabase();
  admin = postgres(db.url, { max: 1, onnotice: () => {} });
});
after(async () => {
  await admin?.end();
  await db?.drop();
});

/** The backends of the test database that are listening (their last statement was LISTEN). */
async function listeningBackends(): Promise<number[]> {
  const rows = await admin`SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND query ILIKE 'listen%' AND pid <> pg_backend_pid()`;
  return rows.map((r) => r.pid);
}

for (const driver of drivers) {
  describe(`LISTEN through ${driver.name}`, { skip: driver.skip }, () => {
    test("delivers payloads on the channel until closed", async () => {
      const d = await driver.open(db.url);
      const got: string[] = [];
      try {
        const conn = await d.listen(CHANNEL, (p) => got.push(p), () => {});
        await d.notify("one");
        await d.notify("two");
        await waitFor(() => got.length === 2, 5_000, "two notifications");
        assert.deepEqual(got, ["one", "two"]);
        await conn.close();
        await conn.close();
        await d.notify("three");
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(got, ["one", "two"], "nothing after close()");
      } finally {
        await d.close();
      }
    });

    test(
      "Listener listens again after pg_terminate_backend and reports both changes",
      {
        skip: driver.server ? undefined : "skipped: PGlite runs in-process, no connection to kill",
      },
      async () => {
        const d = await driver.open(db.url);
        const got: string[] = [];
        const states: boolean[] = [];
        const listener = new Listener(d.listen, CHANNEL, (p) => got.push(p), {
          logger: noopLogger,
          onState: (s) => states.push(s),
          retryMinMs: 20,
        });
        try {
          listener.start();
          await waitFor(() => listener.listening, 5_000, "listening");
          const [pid] = await listeningBackends();
          assert.ok(pid, "the LISTEN connection is a backend of the test database");
          await admin`SELECT pg_terminate_backend(${pid})`;
          if (!driver.selfHealing) {
            await waitFor(() => states.length >= 3, 5_000, "lost, then listening again");
            assert.deepEqual(states.slice(0, 3), [true, false, true]);
          }
          // Send until one arrives: a self-healing driver reconnects in its own time.
          await waitFor(
            async () => {
              await d.notify("after");
              await new Promise((r) => setTimeout(r, 50));
              return got.includes("after");
            },
            10_000,
            "a notification after the reconnect",
          );
          const now = await listeningBackends();
          assert.equal(now.length, 1);
          assert.notEqual(now[0], pid, "a new backend");
        } finally {
          await listener.close();
          await listener.close();
          await d.close();
        }
        assert.equal(listener.listening, false);
      },
    );
  });
}

describe("Listener", () => {
  test("retries with a growing delay while LISTEN fails, and logs once per outage", async () => {
    const errors: string[] = [];
    let attempts = 0;
    const listen: ListenFn = () => {
      attempts++;
      return attempts < 4
        ? Promise.reject(new Error("connection refused"))
        : Promise.resolve({ close: () => Promise.resolve() });
    };
    const listener = new Listener(listen, CHANNEL, () => {}, {
      logger: { ...noopLogger, error: (msg) => errors.push(msg) },
      retryMinMs: 10,
    });
    listener.start();
    await waitFor(() => listener.listening, 5_000, "listening");
    assert.equal(attempts, 4);
    assert.deepEqual(errors, ["Could not LISTEN; workers poll until it succeeds"]);
    await listener.close();
  });

  test("close() during a retry delay leaves no timer and no connection", async () => {
    let attempts = 0;
    const listener = new Listener(
      () => {
        attempts++;
        return Promise.reject(new Error("down"));
      },
      CHANNEL,
      () => {},
      { logger: noopLogger, retryMinMs: 60_000 },
    );
    listener.start();
    await waitFor(() => attempts === 1, 5_000, "the first attempt");
    await listener.close();
    assert.equal(listener.listening, false);
  });
});
