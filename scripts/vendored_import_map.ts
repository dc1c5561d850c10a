/**
 * `vendored_import_map.ts`: when `../shared/vendor/jsr/` sits beside the repository (on the
 * machines this project is built and tested on, where JSR is unreachable), writes one import map
 * that merges deno.json's `imports` with the vendored map of deno-postgres and the std packages
 * it needs, every target made absolute. `deno test --import-map <that map> …` then resolves
 * `jsr:@db/postgres` to the vendored copy. Deno reads one import map at a time, hence the merge.
 *
 * Where the folder is absent (a user's machine) nothing is written, and `jsr:@db/postgres`
 * resolves from JSR as usual.
 *
 * ```sh
 * deno run -A scripts/vendored_import_map.ts   # prints the merged map's path, or nothing
 * ```
 *
 * @module
 */

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository root, whatever the working directory. */
const root = new URL("../", import.meta.url);

/** Where the vendored packages are, relative to the repository root. */
export const VENDORED_JSR = "../shared/vendor/jsr/";

/** The vendored map's path, or `undefined` when the folder is not there. */
export function vendoredMapPath(): string | undefined {
  const path = fileURLToPath(new URL(`${VENDORED_JSR}import_map.json`, root));
  return existsSync(path) ? path : undefined;
}

/**
 * Writes the merged import map to a new temporary directory.
 *
 * @returns The map's path, or `undefined` when `../shared/vendor/jsr/` is absent.
 */
export function writeVendoredImportMap(): string | undefined {
  const vendored = vendoredMapPath();
  if (!vendored) return undefined;
  const base = pathToFileURL(vendored);
  const own = JSON.parse(readFileSync(new URL("deno.json", root), "utf8")).imports ?? {};
  const theirs = JSON.parse(readFileSync(vendored, "utf8")).imports ?? {};
  const imports: Record<string, string> = {};
  // The project's own entries keep their targets (npm: specifiers, or paths made absolute).
  for (const [key, target] of Object.entries<string>(own)) imports[key] = absolute(target, root);
  for (const [key, target] of Object.entries<string>(theirs)) {
    if (key in imports) throw new Error(`${vendored}: ${key} is also in deno.json "imports"`);
    imports[key] = absolute(target, base);
  }
  const path = join(mkdtempSync(join(tmpdir(), "gue-import-map-")), "import_map.json");
  writeFileSync(path, JSON.stringify({ imports }, null, 2));
  return path;
}

/** A relative target (`./x.ts`, `../x.ts`) resolved against `base`; any other as it is. */
function absolute(target: string, base: URL): string {
  return target.startsWith("./") || target.startsWith("../") ? new URL(target, base).href : target;
}

if (import.meta.main) {
  const path = writeVendoredImportMap();
  if (path) console.log(path);
  else process.stderr.write(`no ${VENDORED_JSR} beside the repository: nothing to merge\n`);
}
