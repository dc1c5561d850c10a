import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { patchFile } from "../src/cli/patch_postgres.ts";

/** The installed postgres.js's connection.js files (ESM and CommonJS builds). */
function installed(): string[] {
  const pkg = realpathSync(fileURLToPath(new URL("../node_modules/postgres", import.meta.url)));
  return [join(pkg, "src", "connection.js"), join(pkg, "cjs", "src", "connection.js")];
}

test("the postgres.js fix applies to the installed version, once", () => {
  const dir = mkdtempSync(join(tmpdir(), "gue-patch-"));
  try {
    for (const [i, file] of installed().entries()) {
      const copy = join(dir, `connection${i}.js`);
      copyFileSync(file, copy);
      const first = patchFile(copy);
      assert.ok(first === "patched" || first === "already patched", `${file}: ${first}`);
      assert.equal(patchFile(copy), "already patched");
      const text = readFileSync(copy, "utf8");
      assert.equal(text.match(/gue patch/g)?.length, 7, "every fix is in");
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
