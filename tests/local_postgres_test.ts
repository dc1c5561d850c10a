/**
 * The throwaway PostgreSQL behind `deno task test`, `bun run test` and the examples: it serves
 * queries, and it is gone (server stopped, temp dir removed) after `stop()`, after a Ctrl-C, and
 * even after the process that started it was killed outright.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createConnection } from "node:net";
import { dirname } from "node:path";
import { describe, test } from "node:test";
import postgres from "postgres";
import { startLocalPostgres } from "../scripts/local_postgres.ts";
import { findBinaries } from "../scripts/local_postgres/binaries.ts";
import { startFixture, waitForExit } from "./fixtures/child.ts";

// Each test starts a server of its own (a second or two of initdb): run them once, not again for
// every adapter `test:adapters` repeats the core suite with, and only where PostgreSQL is installed.
const skip = (process.env.GUE_TEST_ADAPTER || "postgresjs") !== "postgresjs"
  ? "the launcher does not depend on the adapter under test; it runs with postgresjs"
  : !findBinaries()
  ? "no PostgreSQL server binaries (initdb, pg_ctl) on this machine"
  : false;
if (skip) console.log(`skipped: ${skip}`);

// initdb and the server start take a few seconds on a busy machine; Bun's default is 5 s.
const LIMIT = { timeout: 60_000, skip };

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves once `check()` holds, polling every 50 ms; rejects after `timeoutMs`. */
async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether the cluster is gone: its dir removed and nothing listening on its port. */
async function gone(dir: string, port: number): Promise<boolean> {
  return !existsSync(dir) && !(await listening(port));
}

describe("startLocalPostgres()", () => {
  test("serves queries, and stop() shuts the server down and removes its dir", LIMIT, async () => {
    const pg = await startLocalPostgres({ handleSignals: false });
    const { port } = new URL(pg.url);
    let dir = "";
    try {
      const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
      try {
        const [row] = await sql<{ data_directory: string; server_version: string }[]>`
          SELECT current_setting('data_directory') AS data_directory,
                 current_setting('server_version') AS server_version`;
        dir = dirname(row.data_directory);
        assert.equal(row.server_version.split(" ")[0], pg.version);
      } finally {
        await sql.end();
      }
      assert.ok(existsSync(dir), `the cluster lives in ${dir}`);
    } finally {
      const first = pg.stop();
      assert.equal(pg.stop(), first, "stop() twice returns the first call's promise");
      await first;
    }
    assert.equal(existsSync(dir), false, `${dir} was removed`);
    assert.equal(await listening(Number(port)), false, `nothing listens on port ${port}`);
  });

  for (const how of ["SIGINT", "SIGKILL"] as const) {
    const what = how === "SIGINT"
      ? "a process interrupted by SIGINT stops its server and removes its dir, exiting with 130"
      : "a process killed by SIGKILL (no exit hooks) still has its server stopped and dir removed";
    test(what, LIMIT, async () => {
      const fixture = startFixture("local_postgres_child.ts", {});
      let dir: string;
      let port: number;
      try {
        const [, readyDir, readyPort] = (await fixture.line("ready ", 45_000)).split(" ");
        [dir, port] = [readyDir, Number(readyPort)];
        assert.ok(existsSync(dir) && await listening(port), "the server runs before the signal");
        fixture.child.kill(how);
        const exit = await waitForExit(fixture, 30_000);
        assert.ok(exit, `it exited: stderr: ${fixture.stderr()}`);
        if (how === "SIGINT") {
          assert.match(fixture.stdout(), /\nexit 130\n$/, `stderr: ${fixture.stderr()}`);
        } else {
          assert.doesNotMatch(fixture.stdout(), /\nexit /, "SIGKILL runs no exit hook");
        }
      } finally {
        fixture.child.kill("SIGKILL"); // A no-op once it has exited.
      }
      if (how === "SIGINT") {
        // The signal handler cleans up before the process exits; the watchdog must not be needed.
        assert.ok(await gone(dir, port), `${dir} removed and port ${port} closed on exit`);
      } else {
        // Nothing in the process ran: the detached watchdog notices within a second or so.
        await waitFor(() => gone(dir, port), 20_000, `${dir} removed and port ${port} closed`);
      }
    });
  }
});
