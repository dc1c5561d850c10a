/**
 * Running the server as an unprivileged user when we are root.
 *
 * initdb, pg_ctl and postgres refuse to run as root, and containers and CI often run as root, so
 * there the binaries run as `postgres` (what packages create) or `nobody`, switched to with
 * `runuser` or `su`, and the cluster's temp dir must be one that user can reach.
 *
 * @module
 */

import { readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { sep } from "node:path";
import process from "node:process";
import { findExecutable, realpath } from "./binaries.ts";
import { type Command, shellQuote } from "./commands.ts";

/** The user the server runs as, and how to switch to it. */
export interface ServerUser {
  /** Its login name. */
  name: string;
  /** Its uid, to chown the cluster's dir. */
  uid: number;
  /** Its primary gid, to chown the cluster's dir. */
  gid: number;
  /** How to switch to the user: runuser (util-linux) or, where that is missing, su. */
  via: { runuser: string } | { su: string };
}

/**
 * The user to run the server as: `undefined` when we are not root (the server runs as us),
 * else `postgres` if it exists, else `nobody`.
 *
 * @returns The user, or `undefined` when no switch is needed.
 * @throws {Error} As root, when there is no such user or no way to switch to it.
 */
export function serverUser(): ServerUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = "";
  try {
    passwd = readFileSync("/etc/passwd", "utf8");
  } catch {
    // Without /etc/passwd we cannot find a user; fall through to the error below.
  }
  const users = new Map<string, { uid: number; gid: number }>();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid) users.set(name, { uid: Number(uid), gid: Number(gid) });
  }
  const name = users.has("postgres") ? "postgres" : "nobody";
  const ids = users.get(name);
  if (!ids) {
    throw new Error(
      "PostgreSQL refuses to run as root and there is no 'postgres' or 'nobody' user to run it " +
        "as. Run as a normal user or set DATABASE_URL to a server you have.",
    );
  }
  const runuser = findExecutable("runuser", ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]);
  const su = findExecutable("su", ["/usr/bin", "/bin", "/usr/sbin", "/sbin"]);
  if (!runuser && !su) {
    throw new Error(
      "PostgreSQL refuses to run as root, and neither runuser nor su is available to switch to " +
        `the '${name}' user. Run as a normal user or set DATABASE_URL to a server you have.`,
    );
  }
  return { name, ...ids, via: runuser ? { runuser } : { su: su! } };
}

/**
 * The command that runs `exe args` as the server user (the command itself when there is none).
 *
 * @param user The server user from {@linkcode serverUser}.
 * @param exe The executable.
 * @param args Its arguments.
 * @returns The command to spawn.
 */
export function asServerUser(user: ServerUser | undefined, exe: string, args: string[]): Command {
  if (!user) return [exe, args];
  if ("runuser" in user.via) return [user.via.runuser, ["-u", user.name, "--", exe, ...args]];
  // su needs a shell since the user's login shell may be nologin (nobody).
  return [
    user.via.su,
    ["-s", "/bin/sh", user.name, "-c", [exe, ...args].map(shellQuote).join(" ")],
  ];
}

/**
 * Where to create the cluster's temp dir. As root the server user must be able to traverse every
 * parent of it; /tmp always allows that, a root-only TMPDIR (e.g. under /root) does not.
 *
 * @param user The server user from {@linkcode serverUser}.
 * @returns The parent dir for the cluster's temp dir.
 */
export function tempParent(user: ServerUser | undefined): string {
  const base = tmpdir();
  if (!user) return base;
  const parts = realpath(base).split(sep).filter((p) => p);
  for (let i = 0; i <= parts.length; i++) {
    const dir = sep + parts.slice(0, i).join(sep);
    try {
      if ((statSync(dir).mode & 0o001) === 0) return "/tmp";
    } catch {
      return "/tmp";
    }
  }
  return base;
}
