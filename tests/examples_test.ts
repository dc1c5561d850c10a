import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

/** Runs an example file with the current runtime; resolves to its exit code and output. */
function runExample(
  file: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
  const args = isDeno ? ["run", "-A", file] : [file];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, out }));
  });
}

describe("examples", () => {
  test("the demo works every job, the delayed one and the retried one included", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await runExample("examples/demo.ts", { DATABASE_URL: db.url });
      assert.equal(code, 0, out);
      assert.match(out, /Hello, gue!/);
      assert.match(out, /failed: mail server unavailable/);
      assert.match(out, /report sent on try 2/);
      assert.match(out, /Hello, the future/);
      assert.match(out, /all 4 jobs done/);
    } finally {
      await db.drop();
    }
  });

  test("transactional enqueue keeps the committed job and drops the rolled-back one", async () => {
    const db = await createTestDatabase();
    try {
      const { code, out } = await runExample("examples/transactional.ts", { DATABASE_URL: db.url });
      assert.equal(code, 0, out);
      assert.match(out, /receipt jobs: 1 \(expected 1\)/);
    } finally {
      await db.drop();
    }
  });
});
