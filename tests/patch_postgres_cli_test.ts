/**
 * `gue patch-postgres`, run as a subprocess on the runtime running the tests (`deno run -A
 * src/cli/main.ts` under Deno, `bun src/cli/main.ts` under Bun) on temporary projects holding
 * copies of postgres.js 3.4.9's connection.js as released, in Deno's and in npm's/Bun's layout.
 * Needs no database.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import {
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { PATCH_MARK, patchState, POSTGRES_FIXES } from "../src/cli/patch_postgres.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const entry = join(root, "src", "cli", "main.ts");
const command = "Bun" in globalThis ? [entry] : ["run", "-A", entry];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gue …` from `cwd`, with no DATABASE_URL. */
function gue(args: string[], cwd = root): Promise<Run> {
  const env = { ...process.env } as Record<string, string>;
  delete env.DATABASE_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...command, ...args], { cwd, env });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end();
  });
}

/** The installed postgres.js's connection.js builds as released: the fix taken out if it is in. */
function releasedSources(): { esm: string; cjs: string } {
  const pkg = realpathSync(fileURLToPath(new URL("../node_modules/postgres", import.meta.url)));
  const unpatch = (file: string) => {
    let text = readFileSync(join(pkg, file), "utf8");
    for (const [bug, fix] of POSTGRES_FIXES) text = text.replace(fix, () => bug);
    assert.equal(patchState(text), "unpatched", `${file} as released`);
    return text;
  };
  return { esm: unpatch("src/connection.js"), cjs: unpatch("cjs/src/connection.js") };
}

let sources: { esm: string; cjs: string };
let tmp: string;

/** Writes a postgres package (both builds) at `dir`. */
function writePackage(dir: string, esm = sources.esm, cjs = sources.cjs, version = "3.4.9") {
  for (const [file, text] of [["src/connection.js", esm], ["cjs/src/connection.js", cjs]]) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), text);
  }
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "postgres", version }));
}

/** A project in Deno's layout: the package in node_modules/.deno, a symbolic link to it. */
function denoProject(name: string): { project: string; files: string[] } {
  const project = join(tmp, name);
  const pkg = join(project, "node_modules", ".deno", "postgres@3.4.9", "node_modules", "postgres");
  writePackage(pkg);
  symlinkSync(
    join(".deno", "postgres@3.4.9", "node_modules", "postgres"),
    join(project, "node_modules", "postgres"),
  );
  writeFileSync(join(project, "deno.json"), JSON.stringify({ nodeModulesDir: "auto" }));
  return { project, files: [join(pkg, "src/connection.js"), join(pkg, "cjs/src/connection.js")] };
}

/** A project in npm's and Bun's layout, with a second copy nested in another package. */
function npmProject(name: string): { project: string; files: string[] } {
  const project = join(tmp, name);
  const top = join(project, "node_modules", "postgres");
  const nested = join(project, "node_modules", "@acme", "db", "node_modules", "postgres");
  writePackage(top);
  writePackage(nested);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app" }));
  return {
    project,
    files: [top, nested].flatMap((
      p,
    ) => [join(p, "src/connection.js"), join(p, "cjs/src/connection.js")]),
  };
}

const states = (files: string[]) => files.map((f) => patchState(readFileSync(f, "utf8")));

describe("gue patch-postgres", () => {
  before(() => {
    sources = releasedSources();
    tmp = mkdtempSync(join(tmpdir(), "gue-patch-cli-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  test("--help describes it without --database-url, and `gue --help` lists it", async () => {
    const help = await gue(["patch-postgres", "--help"]);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: gue patch-postgres \[dir\] \[--check\]/m);
    assert.match(help.stdout, /"nodeModulesDir": "auto"/);
    assert.match(help.stdout, /Exit codes: 0 every copy is patched/);
    assert.doesNotMatch(help.stdout, /--database-url/);
    const top = await gue(["--help"]);
    assert.match(top.stdout, /^ {2}patch-postgres +Fix postgres\.js/m);
  });

  for (const [layout, make] of [["Deno", denoProject], ["npm and Bun", npmProject]] as const) {
    test(`${layout} layout: patches every copy, then says already patched; --check exit codes`, async () => {
      const { project, files } = make(`${layout.replace(/ /g, "-")}`);
      const before = await gue(["patch-postgres", "--check", project]);
      assert.equal(before.code, 1, before.stderr);
      assert.equal(before.stdout.match(/NOT patched/g)?.length, files.length, before.stdout);
      assert.deepEqual(states(files), files.map(() => "unpatched"), "--check changes nothing");

      const first = await gue(["patch-postgres", project]);
      assert.equal(first.code, 0, first.stderr);
      assert.equal(first.stdout.match(/: patched$/gm)?.length, files.length, first.stdout);
      assert.match(
        first.stdout,
        /^postgres@3\.4\.9 node_modules\/.*src\/connection\.js: patched$/m,
      );
      assert.deepEqual(states(files), files.map(() => "patched"));
      for (const file of files) {
        assert.equal(
          readFileSync(file, "utf8").split(PATCH_MARK).length - 1,
          7,
          `${file}: every fix`,
        );
      }

      const again = await gue(["patch-postgres", project]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(again.stdout.match(/: already patched$/gm)?.length, files.length, again.stdout);
      const after = await gue(["patch-postgres", "--check", project]);
      assert.equal(after.code, 0, after.stderr);
      assert.doesNotMatch(after.stdout, /NOT patched/);
    });
  }

  test("a package linked from outside the project is not searched for nested copies", async () => {
    const { project, files } = npmProject("linked");
    const elsewhere = join(tmp, "linked-elsewhere");
    writePackage(join(elsewhere, "node_modules", "postgres"));
    symlinkSync(elsewhere, join(project, "node_modules", "linked-lib"));
    const run = await gue(["patch-postgres", project]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(states(files), files.map(() => "patched"));
    const outside = join(elsewhere, "node_modules", "postgres", "src", "connection.js");
    assert.equal(patchState(readFileSync(outside, "utf8")), "unpatched");
  });

  test("the default directory is the current one", async () => {
    const { project, files } = npmProject("cwd");
    const run = await gue(["patch-postgres"], project);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(states(files), files.map(() => "patched"));
  });

  test("a file hard-linked elsewhere (a package manager's cache) is replaced, not written through", async () => {
    const { project, files } = npmProject("hardlink");
    const cached = join(tmp, "cache-connection.js");
    rmSync(files[0]);
    writeFileSync(cached, sources.esm);
    linkSync(cached, files[0]);
    const run = await gue(["patch-postgres", project]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(patchState(readFileSync(files[0], "utf8")), "patched");
    assert.equal(readFileSync(cached, "utf8"), sources.esm, "the cache's copy is untouched");
  });

  test("a version with neither the bugs nor the fix is left as it is: exit 1", async () => {
    const project = join(tmp, "unknown");
    const other = "// postgres.js from the future\nexport default function Connection() {}\n";
    writePackage(join(project, "node_modules", "postgres"), other, sources.cjs, "4.0.0");
    const run = await gue(["patch-postgres", project]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stdout,
      /^postgres@4\.0\.0 node_modules\/postgres\/src\/connection\.js: unknown version/m,
    );
    assert.match(
      run.stdout,
      /^postgres@4\.0\.0 node_modules\/postgres\/cjs\/src\/connection\.js: patched$/m,
    );
    assert.match(run.stderr, /1 file\(s\) of a postgres version the fix does not know/);
    assert.equal(
      readFileSync(join(project, "node_modules/postgres/src/connection.js"), "utf8"),
      other,
    );
    const check = await gue(["patch-postgres", "--check", project]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /unknown version/);
  });

  test("a Deno project without node_modules is told to set nodeModulesDir: exit 1", async () => {
    const project = join(tmp, "deno-global-cache");
    mkdirSync(project);
    writeFileSync(
      join(project, "deno.json"),
      JSON.stringify({ imports: { postgres: "npm:postgres@^3.4.9" } }),
    );
    const run = await gue(["patch-postgres", project]);
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      /"nodeModulesDir": "auto" in deno\.json, run `deno install`, then run/,
    );
    assert.match(run.stderr, /global cache, which gue does not patch/);
  });

  test("no postgres package and no Deno project: nothing to do, exit 0", async () => {
    const project = join(tmp, "empty");
    mkdirSync(project);
    const run = await gue(["patch-postgres", project]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /no postgres package under .*; nothing to do/);
  });

  test("a missing directory fails, a second argument is a usage error", async () => {
    const missing = await gue(["patch-postgres", join(tmp, "nowhere")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no such directory: /);
    const extra = await gue(["patch-postgres", tmp, tmp]);
    assert.equal(extra.code, 2);
    assert.match(extra.stderr, /unexpected argument/);
  });
});
