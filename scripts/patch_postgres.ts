/**
 * Applies gue's fix for two postgres.js 3.4.x connection bugs to every installed copy of
 * `postgres` under `node_modules` (the ESM `src/` and the CommonJS `cjs/src/` builds), until the
 * upstream fixes are released (porsager/postgres#1154, #1066, #1208; PRs #1168, #1209 open):
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
 * Idempotent; prints what it did and exits 1 when a copy has neither the bug nor the fix (a
 * version this script does not know). Usage: `deno run -A scripts/patch_postgres.ts [root]`.
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
import { join } from "node:path";
import process from "node:process";

const MARK = "gue patch";

/** [bug, fix] pairs of connection.js text; the ESM and CJS builds share these lines. */
const FIXES: [string, string][] = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)\n",
    "  function nextWrite(fn) {\n" +
    `    if (!socket) { // ${MARK}: the socket closed before this write ran (porsager/postgres#1208)\n` +
    "      chunk = nextWriteTimer = null\n" +
    "      error(Errors.connection('CONNECTION_CLOSED', options))\n" +
    "      query = results = errorResponse = null\n" +
    "      return false\n" +
    "    }\n" +
    "    const x = socket.write(chunk, fn)\n",
  ],
  [
    "    clearImmediate(nextWriteTimer)\n    if (socket) {\n",
    `    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null // ${MARK}: forget the dead socket's write\n    if (socket) {\n`,
  ],
  [
    "    incomings = null\n    clearImmediate(nextWriteTimer)\n",
    `    incomings = null\n    clearImmediate(nextWriteTimer)\n    nextWriteTimer = chunk = null // ${MARK}: forget the dead socket's write\n`,
  ],
  [
    "    if (initial)\n      return reconnect()\n\n" +
    "    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))\n",
    `    if (initial) {\n      query = results = errorResponse = null // ${MARK}: the dead socket's query is over\n` +
    "      return reconnect()\n    }\n\n" +
    // After an error the queue was rejected then, but statements sent since are still in it.
    `    ;(query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket)) // ${MARK}\n` +
    `    query = results = errorResponse = null // ${MARK}: the dead socket's query is over\n` +
    "    result = new Result()\n",
  ],
  [
    "  function execute(q) {\n    if (terminated)\n",
    "  function execute(q) {\n" +
    `    if ((!socket || socket.readyState === 'closed') && !initial) { // ${MARK}: closed; a statement must not wait for the next socket\n` +
    "      queryError(q, Errors.connection('CONNECTION_CLOSED', options))\n" +
    "      return true\n" +
    "    }\n" +
    "    if (terminated)\n",
  ],
];

/** Every `postgres` package dir under `root/node_modules` (Deno's `.deno/` layout and Bun's). */
function packageDirs(root: string): string[] {
  const nm = join(root, "node_modules");
  const found = new Set<string>();
  const add = (dir: string) => {
    if (existsSync(join(dir, "src", "connection.js"))) found.add(realpathSync(dir));
  };
  add(join(nm, "postgres"));
  for (const dir of [join(nm, ".deno"), join(nm, ".bun")]) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith("postgres@")) add(join(dir, entry, "node_modules", "postgres"));
    }
  }
  return [...found];
}

/**
 * Patches one connection.js.
 *
 * @param file Its path.
 * @returns "patched", "already patched", or "unknown" when its text matches neither.
 */
export function patchFile(file: string): "patched" | "already patched" | "unknown" {
  let text = readFileSync(file, "utf8");
  if (text.includes(MARK)) return "already patched";
  for (const [bug] of FIXES) if (!text.includes(bug)) return "unknown";
  for (const [bug, fix] of FIXES) text = text.replace(bug, fix);
  // A new file renamed over the old one: package managers hard-link node_modules files to their
  // global cache, and writing in place would patch every project on the machine.
  writeFileSync(`${file}.gue-patch`, text);
  renameSync(`${file}.gue-patch`, file);
  return "patched";
}

if (import.meta.main) {
  const root = process.argv[2] ?? process.cwd();
  let unknown = 0;
  const dirs = packageDirs(root);
  if (dirs.length === 0) console.log(`patch_postgres: no postgres package under ${root}`);
  for (const dir of dirs) {
    const version = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
    for (const sub of ["src", join("cjs", "src")]) {
      const file = join(dir, sub, "connection.js");
      if (!existsSync(file)) continue;
      const result = patchFile(file);
      if (result === "unknown") unknown++;
      console.log(`patch_postgres: postgres@${version} ${sub}/connection.js: ${result}`);
    }
  }
  process.exit(unknown === 0 ? 0 : 1);
}
