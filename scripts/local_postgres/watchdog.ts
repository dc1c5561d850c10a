/**
 * A detached watchdog that tears the cluster down after this process has died, however it died.
 *
 * Exit hooks do not run when Deno dies of an uncaught error, nor on SIGKILL; a server left behind
 * then keeps its port and temp dir forever. So a detached shell polls our pid once a second and
 * runs the teardown once we are gone. A normal stop kills the watchdog first.
 *
 * @module
 */

import { spawn } from "node:child_process";
import process from "node:process";

/**
 * Starts a detached `/bin/sh` that waits for this process to end, then runs `teardown`.
 *
 * Best effort: if the shell cannot be started, the exit and signal hooks still cover the normal
 * cases.
 *
 * @param teardown A shell script, e.g. a `pg_ctl stop` and an `rm -rf` of the cluster's dir.
 * @returns A function that kills the watchdog (call it before a normal teardown); safe to call
 *   more than once.
 */
export function startWatchdog(teardown: string): () => void {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done\n${teardown}`;
  let pid: number | undefined;
  try {
    const child = spawn("/bin/sh", ["-c", script], {
      cwd: "/",
      // Own session: a Ctrl-C to our process group must not kill the watchdog early.
      detached: true,
      stdio: "ignore",
    });
    child.on("error", () => {}); // Best effort, as above.
    child.unref();
    pid = child.pid;
  } catch {
    // Best effort, as above.
  }
  return () => {
    if (pid === undefined) return;
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    pid = undefined;
  };
}
