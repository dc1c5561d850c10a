/**
 * The examples a user copies first — the README's "Use it" program, the module doc's example in
 * mod.ts and the first example of each "Beyond gue" part — run to completion and exit on their own,
 * on the runtime running the tests.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "./_db.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";
// Far longer than the examples need (about 3 s): a hang is the failure this catches.
const timeoutMs = 60_000;

/** The first ```ts block after `heading` in the README. */
async function readmeBlock(heading: string): Promise<string> {
  const text = await readFile(join(root, "README.md"), "utf8");
  const at = text.indexOf(`\n${heading}\n`);
  assert.notEqual(at, -1, `README.md has no "${heading}" section`);
  const block = /```ts\n([\s\S]*?)\n```/.exec(text.slice(at));
  assert.ok(block, `no ts block under "${heading}"`);
  return block[1];
}

/** The module doc's first ```ts example in mod.ts, without the comment's ` * ` margins. */
async function moduleDocExample(): Promise<string> {
  const text = await readFile(join(root, "mod.ts"), "utf8");
  const doc = text.slice(0, text.indexOf("*/"));
  const block = /```ts\n([\s\S]*?)\n \* ```/.exec(doc);
  assert.ok(block, "mod.ts's module doc has no ts example");
  return block[1].split("\n").map((line) => line.replace(/^ \* ?/, "")).join("\n");
}

/**
 * Runs `code` as a file of its own outside the checkout, the way a user's program would:
 * `deno run -A` with this checkout's deno.json (so "@gue/gue" and "postgres" resolve as they do
 * for a user who added them), or `bun` with each bare import replaced by what it resolves to here.
 */
async function runProgram(
  code: string,
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; timedOut: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), "gue-readme-"));
  try {
    const file = join(dir, "program.ts");
    const source = isDeno ? code : code.replace(
      /from "([^".][^"]*)"/g,
      (_, specifier: string) => `from ${JSON.stringify(import.meta.resolve(specifier))}`,
    );
    await writeFile(file, source);
    const args = isDeno
      ? ["run", "-A", "--check", "--config", join(root, "deno.json"), file]
      : [file];
    return await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: dir, env: { ...process.env, ...env } });
      let out = "";
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, timeoutMs);
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (out += d));
      child.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, out, timedOut });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("the first examples a user copies", { timeout: timeoutMs + 30_000 }, () => {
  test('README\'s "Use it" program greets both jobs, the delayed one included, and exits', async () => {
    const db = await createTestDatabase();
    try {
      const result = await runProgram(await readmeBlock("## Use it"), { DATABASE_URL: db.url });
      assert.equal(result.timedOut, false, `still running after ${timeoutMs} ms:\n${result.out}`);
      assert.equal(result.code, 0, result.out);
      assert.match(result.out, /Hello gue!\n[\s\S]*Hello later!/);
    } finally {
      await db.drop();
    }
  });

  test("mod.ts's module example works its job and exits", async () => {
    const db = await createTestDatabase();
    try {
      const result = await runProgram(await moduleDocExample(), { DATABASE_URL: db.url });
      assert.equal(result.timedOut, false, `still running after ${timeoutMs} ms:\n${result.out}`);
      assert.equal(result.code, 0, result.out);
      assert.match(result.out, /Hello gue!/);
    } finally {
      await db.drop();
    }
  });
});

/** The first ```ts block of each "Beyond gue" part is a program, and what it must print. */
const beyondGue: [heading: string, prints: RegExp][] = [
  ["### Attempts and failed jobs (dead letters)", /exhausted 1 card declined[\s\S]*retried: true/],
  ["### Unique jobs", /^true false true$/m],
  ["### Cancellation", /queued: cancelled[\s\S]*running: requested[\s\S]*state: failed/],
  ["### Periodic jobs (cron)", /(^ping [^\n]*\n[\s\S]*){2}/m],
  ["### Typed jobs", /^to a@example\.com: Hi$/m],
  ["### Seeing the queue", /^emails 3 1 0 0 0$[\s\S]*^scheduled$[\s\S]*^drained$/m],
  ["### Batch mode", /^made 500 failed$/m],
];

describe('README\'s "Beyond gue" examples', { timeout: timeoutMs + 30_000 }, () => {
  for (const [heading, prints] of beyondGue) {
    test(`"${heading.slice(4)}" runs, prints what it says and exits`, async () => {
      const db = await createTestDatabase();
      try {
        const result = await runProgram(await readmeBlock(heading), { DATABASE_URL: db.url });
        assert.equal(result.timedOut, false, `still running after ${timeoutMs} ms:\n${result.out}`);
        assert.equal(result.code, 0, result.out);
        assert.match(result.out, prints);
      } finally {
        await db.drop();
      }
    });
  }
});
