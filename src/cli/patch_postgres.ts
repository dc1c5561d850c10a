/**
 * gue's fix for postgres.js 3.4.x connection bugs, applied to installed copies of `postgres`
 * under a project's `node_modules` (the ESM `src/` and the CommonJS `cjs/src/` builds), until the
 * upstream fixes are released (porsager/postgres#1154, #1066, #1208; PRs #1168, #1209 open).
 * `gue patch-postgres` runs it; it uses `node:fs` and `node:path` only, so it works on Deno, Bun
 * and Node.
 *
 * 1. `nextWrite()` runs from a `setImmediate` after `closed()` has set the socket to `null` and
 *    throws `TypeError: Cannot read properties of null (reading 'write')` outside any promise:
 *    the process dies. Fixed: a write with no socket rejects the connection's queries with
 *    `CONNECTION_CLOSED`, as a close does.
 * 2. `terminate()` and `closed()` cancel the pending write's immediate without forgetting it, so
 *    the connection never schedules a write again: its next start-up message is never sent and
 *    every use of it ends in `CONNECT_TIMEOUT`. Fixed: both forget the timer and the buffered
 *    bytes, which belonged to the dead socket.
 * 3. `closed()` keeps the dead socket's in-flight query and error as the connection's current
 *    ones. When the connection is opened again, the next socket's replies go to that old query:
 *    a new query waits forever (it sits behind the old one), or a new `begin()` fails with the
 *    old socket's error ("terminating connection due to administrator command"). Fixed: once
 *    the old query has been rejected, the connection forgets it.
 * 4. A transaction whose connection closed still sends its ROLLBACK/COMMIT on it; the statement
 *    is queued, survives into the connection's next socket and stalls the next user of that
 *    connection. Fixed: a statement for a closed connection is rejected at once.
 *
 * A patched file is written anew and renamed over the old one: package managers hard-link
 * `node_modules` files to their global cache, and writing in place would patch every project on
 * the machine. Deno's global npm cache (a project without a `node_modules` directory) is never
 * patched.
 *
 * @module
 */
import {
  existsSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { isAbsolute, join, relative } from "node:path";

/** The text every fix carries: a file holding it is patched. */
export const PATCH_MARK = "gue patch";

/**
 * The fixes, as `[bug, fix]` pairs of `connection.js` text; the ESM and CJS builds share these
 * lines. A file is unpatched when it holds every `bug` text, patched when it holds
 * {@linkcode PATCH_MARK}.
 */
export const POSTGRES_FIXES: readonly (readonly [bug: string, fix: string])[] = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n",
    "  function nextWrite(fn) {\n" +
    `    if (!socket) { // ${PATCH_MARK}: the socket closed before this write ran (porsager/postgres#1208)\n` +
    "      chunk = nextWriteTimer = null\n" +
    "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
    "      query = results = errorResponse = null\n" +
    "      return false\n" +
    "    }\n" +
    "    const x = socket.write(chunk, fn)\n",
  ],
  [
    "    clearImmediate(nextWriteTimer)\n    if (socket) {\n",
    `    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null // ${PATCH_MARK}: forget the dead socket's write\n    if (socket) {\n`,
  ],
  [
    "    incomings = null\n    clearImmediate(nextWriteTimer)\n",
    `    incomings = null\n    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null // ${PATCH_MARK}: forget the dead socket's write\n`,
  ],
  [
    "    if (initial)\n      return reconnect()\n\n" +
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    `    if (initial) {\n      query = results = errorResponse = null // ${PATCH_MARK}: the dead socket's query is over\n` +
    "      return reconnect()\n    }\n\n" +
    // After an error the queue was rejected then, but statements sent since are still in it.
    `    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket)) // ${PATCH_MARK}\n` +
    `    query = results = errorResponse = null // ${PATCH_MARK}: the dead socket's query is over\n` +
    "    result = new Result()\n",
  ],
  [
    "  function execute(q) {\n    if (terminated)\n",
    "  function execute(q) {\n" +
    `    if ((!socket || socket.readyState === 'closed') && !initial) { // ${PATCH_MARK}: closed; a statement must not wait for the next socket\n` +
    "      queryError(q, Errors.connection('CONNECTION_CLOSED', options))\n" +
    "      return true\n" +
    "    }\n" +
    "    if (terminated)\n",
  ],
];

/**
 * What a `connection.js` holds: the fix (`patched`), every bug the fix replaces (`unpatched`),
 * or neither (`unknown`: a postgres.js version this fix does not know).
 */
export type PatchState = "patched" | "unpatched" | "unknown";

/**
 * Tells whether a `connection.js` text is patched, unpatched or unknown.
 *
 * @param text The file's text.
 * @returns Its {@linkcode PatchState}.
 */
export function patchState(text: string): PatchState {
  if (text.includes(PATCH_MARK)) return "patched";
  return POSTGRES_FIXES.every(([bug]) => text.includes(bug)) ? "unpatched" : "unknown";
}

/**
 * Patches one `connection.js`, unless it is patched already or unknown.
 *
 * @param file Its path.
 * @returns `"patched"` (it was changed), `"already patched"`, or `"unknown"` when its text holds
 * neither the bugs nor the fix (the file is left as it is).
 */
export function patchFile(file: string): "patched" | "already patched" | "unknown" {
  let text = readFileSync(file, "utf8");
  const state = patchState(text);
  if (state === "patched") return "already patched";
  if (state === "unknown") return "unknown";
  for (const [bug, fix] of POSTGRES_FIXES) text = text.replace(bug, () => fix);
  writeFileSync(`${file}.gue-patch`, text);
  renameSync(`${file}.gue-patch`, file);
  return "patched";
}

/** One installed copy of the `postgres` package. */
export interface PostgresCopy {
  /** The package's directory, symbolic links resolved. */
  dir: string;
  /** Its `package.json` version. */
  version: string;
  /** Its `connection.js` files that exist: `src/connection.js`, `cjs/src/connection.js`. */
  files: string[];
}

/** Whether `path` is `dir` or under it (both with symbolic links resolved). */
function isInside(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Package stores whose entries are `name@version/node_modules/name` (Deno, Bun, pnpm). */
const STORES = [".deno", ".bun", ".pnpm"];

/**
 * Finds every installed copy of `postgres` under `root/node_modules`: `node_modules/postgres`
 * (npm, Bun, a symbolic link in Deno's layout), the stores of Deno
 * (`node_modules/.deno/postgres@3.4.9/node_modules/postgres`), Bun and pnpm, and copies nested
 * in other packages' `node_modules` inside `root` (a package linked from elsewhere is not
 * searched). Each copy is listed once.
 *
 * @param root The project directory.
 * @returns The copies, or an empty array when there is none (or no `node_modules`).
 */
export function findPostgresCopies(root: string): PostgresCopy[] {
  const copies = new Map<string, PostgresCopy>();
  const seen = new Set<string>();
  const addPackage = (dir: string) => {
    let real: string;
    let pkg: { name?: unknown; version?: unknown };
    try {
      real = realpathSync(dir);
      pkg = JSON.parse(readFileSync(join(real, "package.json"), "utf8"));
    } catch {
      return;
    }
    if (pkg.name !== "postgres" || copies.has(real)) return;
    const files = [join(real, "src", "connection.js"), join(real, "cjs", "src", "connection.js")]
      .filter((f) => existsSync(f));
    if (files.length > 0) copies.set(real, { dir: real, version: String(pkg.version), files });
  };
  const entries = (dir: string): string[] => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  };
  const walk = (nodeModules: string, depth: number) => {
    let real: string;
    try {
      real = realpathSync(nodeModules);
    } catch {
      return;
    }
    // A linked package elsewhere (npm link, a workspace outside root) is not root's to patch.
    if (seen.has(real) || (depth > 0 && !isInside(real, rootReal))) return;
    seen.add(real);
    addPackage(join(real, "postgres"));
    for (const store of STORES) {
      for (const entry of entries(join(real, store))) {
        if (entry.startsWith("postgres@")) {
          addPackage(join(real, store, entry, "node_modules", "postgres"));
        }
      }
    }
    if (depth >= 8) return;
    for (const entry of entries(real)) {
      if (entry.startsWith(".")) continue;
      const names = entry.startsWith("@")
        ? entries(join(real, entry)).map((n) => join(entry, n))
        : [entry];
      for (const name of names) {
        const nested = join(real, name, "node_modules");
        if (existsSync(nested)) walk(nested, depth + 1);
      }
    }
  };
  let rootReal: string;
  try {
    rootReal = realpathSync(root);
  } catch {
    return [];
  }
  walk(join(root, "node_modules"), 0);
  return [...copies.values()];
}

/**
 * Whether `root` is a Deno project (a `deno.json` or `deno.jsonc`), which keeps npm packages in
 * Deno's global cache unless `"nodeModulesDir"` is set.
 *
 * @param root The project directory.
 */
export function isDenoProject(root: string): boolean {
  return existsSync(join(root, "deno.json")) || existsSync(join(root, "deno.jsonc"));
}
