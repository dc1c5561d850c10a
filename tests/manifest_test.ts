import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
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
