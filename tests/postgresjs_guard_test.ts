import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { isNextWriteCrash } from "../src/adapters/_postgresjs_guard.ts";
import { serverUrl } from "./_db.ts";

const CHILD = fileURLToPath(new URL("./fixtures/postgresjs_guard_child.ts", import.meta.url));

/** Runs the fixture in a child process of this runtime; resolves with its exit code and stdout. */
function child(mode: string): Promise<{ code: number | null; out: string }> {
  const args = "Deno" in globalThis ? ["run", "-A", CHILD, mode] : [CHILD, mode];
  return new Promise((resolve) => {
    const c = spawn(process.execPath, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, DATABASE_URL: serverUrl() },
    });
    let out = "";
    c.stdout!.on("data", (d) => (out += d));
    c.stderr!.on("data", () => {});
    c.on("close", (code) => resolve({ code, out }));
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

test("the guard drops that crash: the process lives on", async () => {
  const { code, out } = await child("fake");
  assert.equal(code, 0);
  assert.match(out, /dropped/);
  assert.match(out, /alive/);
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
