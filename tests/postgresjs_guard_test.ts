import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import postgres from "postgres";
import { isNextWriteCrash, isOrphanConnectionError } from "../src/adapters/_postgresjs_guard.ts";
import { postgresjs } from "../src/adapters/postgresjs.ts";
import { serverUrl } from "./_db.ts";

const CHILD = fileURLToPath(new URL("./fixtures/postgresjs_guard_child.ts", import.meta.url));

/** Runs the fixture in a child process of this runtime; resolves with its exit code and stdout. */
function child(mode: string): Promise<{ code: number | null; out: string; err: string }> {
  const args = "Deno" in globalThis ? ["run", "-A", CHILD, mode] : [CHILD, mode];
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DATABASE_URL: serverUrl() },
    });
    let out = "";
    let err = "";
    c.stdout!.on("data", (d) => (out += d));
    c.stderr!.on("data", (d) => (err += d));
    c.on("close", (code) => resolve({ code, out, err }));
  });
}

test("recognises postgres.js's write on a closed socket, and nothing else", () => {
  const crash = (() => {
    try {
      (function nextWrite() {
        (null as unknown as { write(): void }).write();
      })();
    } catch (err) {
      return err;
    }
  })();
  assert.ok(isNextWriteCrash(crash), String(crash));
  assert.equal(
    isNextWriteCrash(new TypeError("Cannot read properties of null (reading 'x')")),
    false,
  );
  assert.equal(
    isNextWriteCrash(new Error("Cannot read properties of null (reading 'write')")),
    false,
  );
  assert.equal(isNextWriteCrash(undefined), false);
});

test("recognises a socket's read/write reset that postgres.js passed on untouched, and nothing else", () => {
  const socketError = (stack: string, extra: Record<string, unknown> = {}) => {
    const err = Object.assign(new Error("read ECONNRESET"), {
      code: "ECONNRESET",
      syscall: "read",
      ...extra,
    });
    err.stack = `Error: read ECONNRESET\n${stack}`;
    return err;
  };
  const deno = "    at __node_internal_errnoException (ext:deno_node/internal/errors.ts:1:3113)\n" +
    "    at TCPWrap.onStreamRead [as onread] (ext:deno_node/internal/stream_base_commons.ts:1:3690)";
  const node = "    at TCP.onStreamRead (node:internal/stream_base_commons:216:20)";
  assert.ok(isOrphanConnectionError(socketError(deno)));
  assert.ok(isOrphanConnectionError(socketError(node)));
  assert.ok(isOrphanConnectionError(socketError(node, { code: "EPIPE", syscall: "write" })));
  // The application's own socket: a frame of its code.
  assert.ok(
    !isOrphanConnectionError(socketError(`${node}\n    at handler (file:///app/main.ts:3:9)`)),
  );
  // Not a read or write, another code, or no stack at all.
  assert.ok(!isOrphanConnectionError(socketError(node, { syscall: "connect" })));
  assert.ok(!isOrphanConnectionError(socketError(node, { code: "ETIMEDOUT" })));
  assert.ok(!isOrphanConnectionError(socketError("")));
});

test("the guard drops that crash: the process lives on", async () => {
  const { code, out } = await child("fake");
  assert.equal(code, 0);
  assert.match(out, /dropped/);
  assert.match(out, /alive/);
});

test("postgresjs() installs the guard: the crash is dropped and said on stderr", async () => {
  const { code, out, err } = await child("adapter");
  assert.equal(code, 0, err);
  assert.match(out, /alive/);
  assert.match(err, /gue: dropped 1 error\(s\) of postgres\.js on a closed connection/);
});

test("any other uncaught exception still ends the process with code 1", async () => {
  const { code, out } = await child("other");
  assert.equal(code, 1);
  assert.doesNotMatch(out, /alive/);
});

test("an orphaned postgres.js connection error is dropped; any other unhandled rejection is fatal", async () => {
  const orphan = await child("orphan");
  assert.equal(orphan.code, 0);
  assert.match(orphan.out, /alive/);
  const other = await child("rejection");
  assert.equal(other.code, 1);
  assert.doesNotMatch(other.out, /alive/);
});

test("a reserved postgres.js connection whose backend was terminated does not end the process", async () => {
  const { code, out } = await child("real");
  assert.equal(code, 0, out);
  assert.match(out, /alive/);
});

test("a statement of a job transaction whose backend was terminated rejects, not hangs", async () => {
  const sql = postgres(serverUrl(), { max: 2, onnotice: () => {} });
  const admin = postgres(serverUrl(), { max: 1, onnotice: () => {} });
  try {
    const tx = await postgresjs(sql).begin();
    const { rows: [{ pid }] } = await tx.query<{ pid: number }>("select pg_backend_pid() as pid");
    const sleeping = tx.query("select pg_sleep(60)");
    await new Promise((r) => setTimeout(r, 200));
    await admin`select pg_terminate_backend(${pid})`;
    const outcome = await Promise.race([
      sleeping.then(() => "resolved", () => "rejected"),
      new Promise((r) => setTimeout(() => r("still pending after 20 s"), 20_000)),
    ]);
    assert.equal(outcome, "rejected");
    await assert.rejects(tx.query("select 1"));
    await tx.rollback(); // nothing to do on a dead transaction; must not throw
  } finally {
    await admin.end();
    await sql.end({ timeout: 1 });
  }
});
