/**
 * `gue patch-postgres`: applies gue's fix for postgres.js 3.4.x connection bugs to every installed
 * copy of `postgres` under a project's `node_modules` (see `../patch_postgres.ts`).
 *
 * @module
 */
import { relative, resolve } from "node:path";
import { type Command, flag } from "../command.ts";
import { CliError, ExitCode } from "../exit_codes.ts";
import {
  findPostgresCopies,
  isDenoProject,
  patchFile,
  type PatchState,
  patchState,
} from "../patch_postgres.ts";
import { readFileSync, realpathSync } from "node:fs";

const checkWords: Record<PatchState, string> = {
  patched: "already patched",
  unpatched: "NOT patched (run `gue patch-postgres`)",
  unknown: "unknown version (neither the bugs nor the fix)",
};

/** `gue patch-postgres`. */
export const patchPostgresCommand: Command = {
  name: "patch-postgres",
  summary: "Fix postgres.js 3.4 connection bugs in node_modules (no database needed)",
  usage: "patch-postgres [dir] [--check]",
  description: `
Patches every installed copy of the postgres package (postgres.js) under dir's node_modules (dir:
the current directory by default): node_modules/postgres as npm and Bun install it, Deno's
node_modules/.deno/postgres@*/node_modules/postgres, and copies nested in other packages. The fix
keeps a connection that closed from crashing the process or from hanging every later statement
until CONNECT_TIMEOUT (porsager/postgres#1154, #1066, #1208). It is idempotent; run it again after
every install that replaces the postgres package. Prints one line per file: patched, already
patched, or unknown version (a version the fix does not know; left as it is).

Deno keeps npm packages in a global cache shared by every project unless deno.json sets
"nodeModulesDir"; that cache is never patched. In a Deno project without node_modules, set
"nodeModulesDir": "auto" in deno.json, run \`deno install\`, and run this command again.

--check changes nothing: it prints each file's state and fails when one is not patched.

Exit codes: 0 every copy is patched (or there is none), 1 a copy of a version the fix does not
know, a Deno project without node_modules, or (--check) a copy not patched; 2 usage error.`,
  options: {
    check: { type: "boolean", help: "patch nothing; exit 1 when a copy is not patched" },
  },
  positionals: { min: 0, max: 1, names: "[dir]" },
  database: false,
  run({ values, positionals, io }) {
    const root = resolve(positionals[0] ?? ".");
    let base: string;
    try {
      base = realpathSync(root);
    } catch {
      throw new CliError(`no such directory: ${root}`, ExitCode.Failure);
    }
    const check = flag(values, "check");
    const copies = findPostgresCopies(root);
    if (copies.length === 0) {
      if (isDenoProject(root)) {
        throw new CliError(
          `no postgres package under ${root}/node_modules. Deno keeps npm packages in its global ` +
            `cache, which gue does not patch (every project on the machine shares it): set ` +
            `"nodeModulesDir": "auto" in deno.json, run \`deno install\`, then run ` +
            "`gue patch-postgres` again.",
          ExitCode.Failure,
        );
      }
      io.err(`gue patch-postgres: no postgres package under ${root}/node_modules; nothing to do`);
      return Promise.resolve(ExitCode.Ok);
    }
    let bad = 0;
    for (const copy of copies) {
      for (const file of copy.files) {
        const shown = `postgres@${copy.version} ${relative(base, file) || file}`;
        if (check) {
          const state = patchState(readFileSync(file, "utf8"));
          if (state !== "patched") bad++;
          io.out(`${shown}: ${checkWords[state]}`);
        } else {
          const result = patchFile(file);
          if (result === "unknown") bad++;
          io.out(`${shown}: ${result === "unknown" ? checkWords.unknown : result}`);
        }
      }
    }
    if (bad > 0) {
      io.err(
        check
          ? `gue patch-postgres: ${bad} file(s) not patched; run \`gue patch-postgres\``
          : `gue patch-postgres: ${bad} file(s) of a postgres version the fix does not know; ` +
            "they were left as they are (gue's fix targets postgres 3.4.x)",
      );
      return Promise.resolve(ExitCode.Failure);
    }
    return Promise.resolve(ExitCode.Ok);
  },
};
