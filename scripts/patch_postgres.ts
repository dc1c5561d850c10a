/**
 * Applies gue's fix for postgres.js 3.4.x connection bugs to every installed copy of `postgres`
 * under `node_modules`: the same as `gue patch-postgres [root]` (src/cli/commands/patch_postgres.ts,
 * the fix itself in src/cli/patch_postgres.ts), kept for CI and chaos/, which call this path.
 * Usage: `deno run -A scripts/patch_postgres.ts [root] [--check]`.
 *
 * @module
 */
import process from "node:process";
import { main } from "../src/cli/main.ts";

export { patchFile } from "../src/cli/patch_postgres.ts";

if (import.meta.main) {
  process.exitCode = await main(["patch-postgres", ...process.argv.slice(2)]);
}
