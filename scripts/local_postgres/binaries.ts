/**
 * Finding the PostgreSQL server binaries (`initdb`, `pg_ctl`, `postgres`) on this machine.
 *
 * Distributions keep them in different places, and Debian/Ubuntu keep them off PATH altogether
 * (one dir per major version under /usr/lib/postgresql), so PATH alone would miss the most common
 * install. The search takes PATH first, so a user can choose a version by putting it there.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { accessSync, constants as fsConstants, readdirSync, realpathSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import process from "node:process";

/** Error text when there is nothing to start a server with: it says what to do about it. */
export const NO_BINARIES_MESSAGE =
  "No PostgreSQL server binaries found (initdb, pg_ctl). Install PostgreSQL " +
  "(Debian/Ubuntu: apt-get install postgresql) or set DATABASE_URL to a server you have.";

/** The server binaries of one PostgreSQL install. */
export interface Binaries {
  /** Creates a cluster. */
  initdb: string;
  /** Starts and stops the server. */
  pgCtl: string;
  /** The `postgres` server binary next to them, if present (only used for `--version`). */
  postgres?: string;
}

/**
 * Finds `initdb` and `pg_ctl` in the same dir: PATH first, then the usual install locations
 * (newest `/usr/lib/postgresql/N/bin`, `/usr/local/pgsql/bin`, Homebrew, `/usr/pgsql-N/bin`).
 *
 * @returns The binaries, or `undefined` when PostgreSQL is not installed.
 */
export function findBinaries(): Binaries | undefined {
  const candidates = [
    ...pathDirs(),
    // Debian/Ubuntu keep the server binaries off PATH, one dir per major version.
    ...newestFirst("/usr/lib/postgresql", (name) => name, "bin"),
    "/usr/local/pgsql/bin",
    "/opt/homebrew/bin",
    // Versioned Homebrew formulas (postgresql@16) are keg-only, so not linked into .../bin.
    ...newestFirst("/usr/local/opt", (name) => name.startsWith("postgresql"), "bin"),
    ...newestFirst("/opt/homebrew/opt", (name) => name.startsWith("postgresql"), "bin"),
    // RHEL/Fedora PGDG packages.
    ...newestFirst("/usr", (name) => name.startsWith("pgsql-"), "bin"),
  ];
  for (const dir of candidates) {
    const initdb = join(dir, "initdb");
    if (!isExecutable(initdb)) continue;
    // Prefer the real install dir over a symlink farm (/usr/local/bin -> /usr/lib/postgresql/..),
    // so pg_ctl and postgres come from the same version as initdb.
    const realDir = dirname(realpath(initdb));
    for (const d of [realDir, dir]) {
      if (isExecutable(join(d, "initdb")) && isExecutable(join(d, "pg_ctl"))) {
        const postgres = join(d, "postgres");
        return {
          initdb: join(d, "initdb"),
          pgCtl: join(d, "pg_ctl"),
          postgres: isExecutable(postgres) ? postgres : undefined,
        };
      }
    }
  }
  return undefined;
}

/**
 * The bare version ("15.19") from `postgres --version`, which also prints distro suffixes.
 *
 * @param bin The install to ask.
 * @returns The version, or "unknown".
 */
export function binaryVersion(bin: Binaries): string {
  for (const exe of [bin.postgres, bin.pgCtl]) {
    if (!exe) continue;
    const out = spawnSync(exe, ["--version"], { encoding: "utf8" });
    const m = /\(PostgreSQL\)\s+(\S+)/.exec(out.stdout ?? "");
    if (m) return m[1];
  }
  return "unknown";
}

/**
 * Finds an executable on PATH or, failing that, in `extraDirs` (sbin dirs are often off PATH).
 *
 * @param name The executable's name.
 * @param extraDirs Dirs searched after PATH.
 * @returns Its path, or `undefined`.
 */
export function findExecutable(name: string, extraDirs: string[]): string | undefined {
  return [...pathDirs(), ...extraDirs].map((d) => join(d, name)).find(isExecutable);
}

/**
 * The path with symlinks resolved, or the path itself when it cannot be resolved.
 *
 * @param path Any path.
 * @returns The real path, or `path`.
 */
export function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function pathDirs(): string[] {
  return (process.env.PATH ?? "").split(delimiter).filter((d) => d !== "");
}

/** `parent/<entry>/sub` for entries accepted by `accept`, highest version number first. */
function newestFirst(
  parent: string,
  accept: (name: string) => unknown,
  sub: string,
): string[] {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => accept(n) && /\d/.test(n));
  } catch {
    return [];
  }
  const key = (n: string) => (n.match(/\d+/g) ?? []).map(Number);
  names.sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < Math.max(ka.length, kb.length); i++) {
      const diff = (kb[i] ?? -1) - (ka[i] ?? -1);
      if (diff !== 0) return diff;
    }
    return 0;
  });
  return names.map((n) => join(parent, n, sub));
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, fsConstants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
