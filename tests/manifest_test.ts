import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const read = (file: string) => JSON.parse(readFileSync(`${root}/${file}`, "utf8"));
const deno = read("deno.json");
const pkg = read("package.json");

test("deno.json and package.json name the same package, version and entry points", () => {
  assert.equal(pkg.name, deno.name);
  assert.equal(pkg.version, deno.version);
  assert.deepEqual(pkg.exports, deno.exports);
  for (const path of Object.values<string>(deno.exports)) {
    assert.ok(existsSync(`${root}/${path}`), `${path} exists`);
  }
});

test("every npm import Deno maps is a dependency Bun installs, at the same version range", () => {
  const bunDeps: Record<string, string> = { ...pkg.dependencies, ...pkg.devDependencies };
  for (const [name, target] of Object.entries<string>(deno.imports)) {
    const m = /^npm:(@?[^@]+)@(.+)$/.exec(target);
    assert.ok(m, `${name} maps to an npm: specifier with a version (${target})`);
    assert.equal(m[1], name, `${name} maps to the package of the same name`);
    assert.equal(bunDeps[name], m[2], `package.json has ${name}@${m[2]}`);
  }
});

test("the library imports only its dependencies: drivers a user brings are optional peers", () => {
  // A bare import in mod.ts or src/ (a value or a type) is a package every user must install.
  const imported = new Set<string>();
  const files = ["mod.ts", ...listTs("src")];
  for (const file of files) {
    const text = readFileSync(`${root}/${file}`, "utf8");
    // Statements start a line; a doc example's " * import" does not, and `;` ends a statement.
    const statements = /^(?:import|export)\b[^"';]*?\bfrom\s+["']([^"'.][^"']*)["']/gm;
    for (const m of text.matchAll(statements)) {
      const name = m[1].startsWith("@")
        ? m[1].split("/").slice(0, 2).join("/")
        : m[1].split("/")[0];
      if (!name.startsWith("node:")) imported.add(name);
    }
  }
  assert.deepEqual([...imported].sort(), Object.keys(pkg.dependencies).sort());
  for (const [name, range] of Object.entries<string>(pkg.peerDependencies ?? {})) {
    assert.equal(pkg.peerDependenciesMeta?.[name]?.optional, true, `peer ${name} is optional`);
    assert.equal(pkg.devDependencies[name], range, `peer ${name} is a dev dependency for tests`);
    assert.equal(pkg.dependencies[name], undefined, `peer ${name} is not installed for everyone`);
  }
});

function listTs(dir: string): string[] {
  return readdirSync(`${root}/${dir}`, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => `${dir}/${f}`);
}
