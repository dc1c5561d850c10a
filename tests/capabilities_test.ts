/**
 * The core reads what its adapter can do when it is constructed, and refuses what would only
 * fail later (a pool of workers on PGlite would wait on each other's transactions and time out).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Client, type ConnPool, Worker, WorkerPool } from "../mod.ts";
import { hasCapability, requireCapability } from "../src/capabilities.ts";
import { adapters } from "./_adapters.ts";

function fakePool(capabilities: Record<string, boolean> | undefined): ConnPool {
  return {
    name: "fake",
    capabilities,
    query: () => Promise.reject(new Error("not used")),
    begin: () => Promise.reject(new Error("not used")),
    close: () => Promise.resolve(),
  } as unknown as ConnPool;
}

describe("requireCapability", () => {
  test("passes when the adapter declares the capability", () => {
    const pool = fakePool({ concurrentTransactions: true });
    assert.equal(hasCapability(pool, "concurrentTransactions"), true);
    requireCapability(pool, "concurrentTransactions", "X", "do Y");
  });

  test("refuses with who needs it, what the adapter lacks and what to do", () => {
    const pool = fakePool({ concurrentTransactions: false });
    assert.throws(
      () => requireCapability(pool, "concurrentTransactions", "a pool of 4 workers", "use one"),
      (e: Error) =>
        e instanceof TypeError &&
        e.message ===
          "a pool of 4 workers needs transactions open at the same time " +
            "(capabilities.concurrentTransactions), which the fake adapter does not have: " +
            "it runs one transaction at a time; use one",
    );
  });

  test("an adapter that states nothing about a capability does not have it", () => {
    assert.equal(hasCapability(fakePool(undefined), "concurrentTransactions"), false);
    assert.equal(hasCapability(fakePool({}), "concurrentTransactions"), false);
  });
});

describe("on PGlite (one transaction at a time)", () => {
  test("a WorkerPool of more than one worker is refused at construction, saying what to do", async () => {
    const opened = await adapters.pglite.open("", 1);
    try {
      assert.equal(opened.pool.capabilities.concurrentTransactions, false);
      const client = new Client(opened.pool);
      assert.throws(
        () => new WorkerPool(client, {}, 4),
        (e: Error) =>
          e instanceof TypeError &&
          e.message.startsWith("WorkerPool: a pool of 4 workers needs transactions open at") &&
          e.message.includes("the pglite adapter does not have") &&
          e.message.includes("use a WorkerPool of size 1 or one Worker, or a server-backed"),
      );
      // One worker at a time is what PGlite can do, and is accepted.
      assert.equal(new WorkerPool(client, {}, 1).workers.length, 1);
      assert.ok(new Worker(client, {}));
    } finally {
      await opened.pool.close();
    }
  });
});

describe("on a server-backed adapter", () => {
  test("a WorkerPool of several workers is accepted", () => {
    const client = new Client(fakePool({ concurrentTransactions: true }));
    assert.equal(new WorkerPool(client, {}, 4).workers.length, 4);
  });
});
